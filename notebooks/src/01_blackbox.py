# %% [markdown] id="intro"
# # 01 — Black-box meta-learning: a task as a sequence, LSTMs and memory
#
# Meta-learning asks for a function of a whole training set,
# $f(\mathcal{D}^{tr}, x) \rightarrow y$. The most direct way to get one is to treat
# that as ordinary supervised learning — if only we can feed a training set to a
# neural network. A training set is a list, and we already know networks that read
# lists: **sequence models**. So:
#
# 1. flatten the task into one sequence: each image $x$ (its pixels, flattened) is
#    concatenated with its label $y$ as a one-hot vector; the test points (queries)
#    come with an all-zero label, because their labels are what we must predict;
# 2. let a recurrent network read the sequence; its output at a query position is
#    the prediction for that query;
# 3. train it on many tasks with the query loss.
#
# In the lecture's notation this is *generic meta-learning*: the network
# $f_\theta$ reads $\mathcal{D}^{tr}_i$ and its hidden state $h_i$ plays the part
# of the task-specific parameters, $\phi_i = f_\theta(\mathcal{D}^{tr}_i)$, used by
# a head $p_{\phi_i}(y \mid x)$; and $\theta$ is chosen so that those $\phi_i$ do
# well on the test sets,
#
# $$\theta^\star = \arg\min_\theta \sum_{i=1}^{n} \mathcal{L}(\phi_i, \mathcal{D}^{ts}_i).$$
#
# Nothing is fitted per task at test time: learning a new task *is* one forward
# pass. The catch is that the training set of a task grows as $N \cdot K$, and a
# plain LSTM must squeeze all of it into a fixed-size state. Memory-augmented
# networks (MANN, Santoro et al., 2016) add an external memory that the network
# learns to write to and read from; we build both and compare them.

# %% id="setup"
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from cs182meta import settings
from cs182meta.data import load_meta_splits
from cs182meta.episodes import EpisodeSampler
from cs182meta.evaluate import mean_ci95, progress
from cs182meta.plotting import plot_learning_curves, smooth
from cs182meta.profiles import by_profile, notebook_setup

# Small recurrent networks run one tiny operation after another: one CPU thread is
# faster than several that must synchronise after every step (and far faster on a
# busy machine).
if not torch.cuda.is_available():
    torch.set_num_threads(1)
PROFILE, DEVICE = notebook_setup(seed=0)

# %% [markdown] id="parameters-text"
# Every knob of the notebook. The `grading` profile (autograder, CI) trains for a
# few steps only; `quick` (the CPU default) trains each learner for about two minutes
# (each prints its seconds per step); `full` is for a GPU and the paper's scale. Choose
# with `CS182META_PROFILE`.

# %% [parameters]
DATASET = settings.dataset()  # $CS182META_DATASET: "glyphs" (default, made offline) or "omniglot"
TRAIN_ROTATIONS = DATASET == "omniglot"  # meta-train on each character's 4 rotations, each a class
N_WAY = 5  # classes per task
ROUNDS = by_profile(grading=2, quick=2, full=9)  # R: labelled drawings per class in a sequence
BATCH = by_profile(grading=4, quick=16, full=32)  # tasks per training step
LSTM_HIDDEN = by_profile(grading=32, quick=128, full=200)  # first LSTM layer
LSTM_STEPS = by_profile(grading=8, quick=2_500, full=50_000)
CONTROLLER_HIDDEN = by_profile(grading=32, quick=128, full=200)  # MANN's LSTM controller
MEMORY_SLOTS, MEMORY_WIDTH = 128, 40  # Santoro et al.: 128 x 40
USAGE_DECAY = 0.95  # gamma: how fast old usage fades
MANN_STEPS = by_profile(grading=8, quick=800, full=50_000)
LR = 1e-3  # Adam
CLIP = 1.0  # gradient-norm clipping
EVAL_EPISODES = by_profile(grading=16, quick=500, full=2_000)
EVAL_CLASSES = by_profile(grading=40, quick=None, full=None)  # None: all of them

# %% [markdown] id="data-text"
# ## Data
#
# Meta-training tasks come from the *background* alphabets; every number reported
# below comes from tasks built from the *evaluation* alphabets, whose characters the
# networks never see during training.
#
# On real Omniglot (`CS182META_DATASET=omniglot`) each background character also
# appears rotated by 90, 180 and 270 degrees, each rotation a **new class**
# (`TRAIN_ROTATIONS`, the standard Omniglot augmentation, as in notebook 02): four
# times as many training classes. The evaluation alphabets are left as they are. The
# standard background split has 964 characters (30 alphabets); with only the two
# small background splits at hand (`images_background_small1/2`), the kit uses
# small1's 136 characters for training and small2's own three alphabets (106
# characters) for evaluation, a stand-in on which every accuracy is lower.

# %% id="data"
background, evaluation = load_meta_splits(DATASET, eval_classes=EVAL_CLASSES)  # a spread-out subset when grading
if TRAIN_ROTATIONS:
    background = background.with_rotations()  # (4 * classes, 20, 1, 28, 28)
print("meta-training:", background)
print("evaluation:   ", evaluation)


# %% [markdown] id="sequence-text"
# ## A task as one sequence
#
# Santoro et al. report accuracy **by instance**: how often the network is right the
# 1st, 2nd, 3rd, ... time it meets a drawing of a class within one task. After the
# 1st instance it has seen no label of that class (it can only guess); by the 2nd
# it has seen one — a one-shot problem; and so on. To measure that with the
# lecture's input format (labels given for $\mathcal{D}^{tr}$, zeroed for
# queries) we put **query rounds** between the labelled rounds. A sequence of one
# task is made of $2R + 1$ rounds of $N$ items each:
#
# | round | 0 | 1 | 2 | 3 | ... | $2R$ |
# | --- | --- | --- | --- | --- | --- | --- |
# | items | queries | support shot 0 | queries | support shot 1 | ... | queries |
# | label part | zeros | one-hot | zeros | one-hot | ... | zeros |
#
# Every round holds exactly one drawing of each of the $N$ classes. Query round $r$
# (sequence round $2r$) comes after $r$ labelled drawings of every class, so its
# accuracy is the accuracy at the $(r+1)$-th instance, i.e. $N$-way $r$-shot
# accuracy: query round 1 is the 5-way **1-shot** task. Query round 0 comes before
# any label: every learner must be at chance there, which makes it a handy leak
# detector.
#
# Two details matter:
#
# * **Query labels are zeroed.** If the label of a query were in its input, the
#   network would learn to copy it, and would have nothing to go on at test time.
# * **The order inside each round is random**, drawn independently for every round
#   of every task. The sampler returns episodes *class-major* (all drawings of the
#   first class, then the second, ...); kept in that order, the position of an item
#   in its round would be its label, and even a random order reused in every round
#   would let a network copy the label found at the same position one round
#   earlier.
#
# With $N = 5$ and $R = 2$ a sequence has $5 \cdot 5 = 25$ items, each a vector of
# $784 + 5$ numbers. An episode for it has $K = R$ support drawings and $Q = R + 1$
# query drawings per class.

# %% [markdown] id="ex1-text"
# ## Exercise 1 — `make_sequence`
#
# `make_sequence(episode, generator=None)` takes a **batch** of $B$ episodes
# (from `EpisodeSampler.loader(batch_size=B)`; class-major, see
# `cs182meta.episodes`):
#
# * `episode.support_x`: `[B, N*R, C, H, W]`; drawing `c * R + k` is shot $k$ of class $c$
# * `episode.query_x`: `[B, N*(R+1), C, H, W]`; drawing `c * (R+1) + r` is query $r$ of class $c$
# * `episode.n_way` is $N$; $R$ = `support_x.shape[1] // N`
#
# and returns `(inputs, targets)`:
#
# * `inputs`: `float32 [B, T, C*H*W + N]` with $T = (2R+1) N$: at position
#   `t`, the flattened image, then its one-hot label (support rounds) or $N$ zeros
#   (query rounds);
# * `targets`: `int64 [B, T]`, the true label at every position (queries included —
#   the loss picks the query positions).
#
# Sequence round $2r$ holds query $r$ of every class, round $2r + 1$ holds shot $r$
# of every class, each round in a random order drawn from `generator`
# (`torch.rand(..., generator=generator)` or `torch.randperm(..., generator=generator)`),
# independently for every round: neither an item's position nor the order of earlier
# rounds may say anything about its label. (The tasks of a batch may share their
# orders or draw their own; either is fine.) Draw every order from `generator` and
# from nothing else: no seeding inside (`torch.manual_seed` here would reset the
# training run's random numbers and give every call the same orders) and no other
# random source, so that the same generator state gives the same sequences and
# different ones give different orders. Build it with tensor operations (no loop
# over tasks is needed, but one is allowed).

# %% [solution] id="make_sequence"
def make_sequence(episode, generator=None):
    """A batch of episodes as sequences: (inputs [B, T, P + N], targets [B, T]).

    T = (2R + 1) * N. Round 2r: query r of every class, label part zero; round
    2r + 1: shot r of every class with its one-hot label; each round shuffled.
    """
    n_way = episode.n_way
    batch, n_support = episode.support_x.shape[:2]
    rounds = n_support // n_way
    ### BEGIN SOLUTION
    support = episode.support_x.flatten(2).view(batch, n_way, rounds, -1)  # (B, N, R, P)
    query = episode.query_x.flatten(2).view(batch, n_way, rounds + 1, -1)  # (B, N, R+1, P)
    pixels = support.shape[-1]
    images = support.new_zeros(batch, 2 * rounds + 1, n_way, pixels)  # (B, 2R+1, N, P)
    images[:, 0::2] = query.transpose(1, 2)  # query rounds
    images[:, 1::2] = support.transpose(1, 2)  # support rounds
    order = torch.rand(batch, 2 * rounds + 1, n_way, generator=generator).argsort(dim=-1)  # (B, 2R+1, N)
    images = images.gather(2, order[..., None].expand_as(images))  # item i of a round is class order[i]
    targets = order  # (B, 2R+1, N): the class of each item is its label
    one_hot = images.new_zeros(batch, 2 * rounds + 1, n_way, n_way)  # (B, 2R+1, N, N)
    one_hot.scatter_(-1, targets[..., None], 1.0)
    one_hot[:, 0::2] = 0.0  # the labels of the queries are what we predict: zero them
    inputs = torch.cat([images, one_hot], dim=-1).flatten(1, 2)  # (B, T, P+N)
    return inputs, targets.flatten(1)  # (B, T, P+N), (B, T)
    ### END SOLUTION


# %% [tests] id="make_sequence_tests" points=4
import torch

from cs182meta.episodes import Episode
from cs182meta.student import student


def fake_episode(batch, n_way, rounds):
    """Episodes of 1x2x2 'images' that say what they are: [[task, class], [kind, index]]."""
    def image(b, c, kind, i):  # kind 0: support, 1: query
        return torch.tensor([[[b, c], [kind, i]]], dtype=torch.float32)
    support = [[image(b, c, 0, k) for c in range(n_way) for k in range(rounds)] for b in range(batch)]
    query = [[image(b, c, 1, r) for c in range(n_way) for r in range(rounds + 1)] for b in range(batch)]
    labels = torch.arange(n_way)
    return Episode(
        support_x=torch.stack([torch.stack(s) for s in support]),  # (B, N*R, 1, 2, 2)
        support_y=labels.repeat_interleave(rounds).expand(batch, -1),
        query_x=torch.stack([torch.stack(q) for q in query]),  # (B, N*(R+1), 1, 2, 2)
        query_y=labels.repeat_interleave(rounds + 1).expand(batch, -1),
        classes=torch.arange(10, 10 + n_way).expand(batch, -1),
    )


def check_sequence(episode, inputs, targets):
    batch, n_way = episode.support_x.shape[0], episode.n_way
    rounds = episode.support_x.shape[1] // n_way
    steps = (2 * rounds + 1) * n_way
    assert torch.is_tensor(inputs) and torch.is_tensor(targets), (
        f"expected (inputs, targets) as two tensors, got {type(inputs).__name__} and {type(targets).__name__}"
    )
    assert inputs.shape == (batch, steps, 4 + n_way), (
        f"expected inputs [B, (2R+1)N, pixels + N] = {(batch, steps, 4 + n_way)}, got {tuple(inputs.shape)}"
    )
    assert targets.shape == (batch, steps), f"expected targets [B, T] = {(batch, steps)}, got {tuple(targets.shape)}"
    assert inputs.dtype == torch.float32 and targets.dtype == torch.int64, (
        f"expected float32 inputs and int64 targets, got {inputs.dtype} and {targets.dtype}"
    )
    for b in range(batch):
        for t in range(steps):
            j, c = t // n_way, int(targets[b, t])
            kind, index = (1, j // 2) if j % 2 == 0 else (0, j // 2)
            expected_image = [b, c, kind, index]
            assert inputs[b, t, :4].tolist() == expected_image, (
                f"task {b}, position {t} (round {j}): expected the image [task, class, kind, index] = "
                f"{expected_image} (kind 1: query, 0: support), got {inputs[b, t, :4].tolist()}"
            )
            label_part = inputs[b, t, 4:]
            if j % 2 == 0:
                assert label_part.abs().sum() == 0, (
                    f"task {b}, position {t} is a query (round {j}): its label part must be zeros, got {label_part.tolist()}"
                )
            else:
                expected = torch.nn.functional.one_hot(torch.tensor(c), n_way).float()
                assert torch.equal(label_part, expected), (
                    f"task {b}, position {t} is a support item of class {c}: expected the one-hot "
                    f"{expected.tolist()}, got {label_part.tolist()}"
                )
    per_round = targets.view(batch, 2 * rounds + 1, n_way)
    assert torch.equal(per_round.sort(dim=-1).values, torch.arange(n_way).expand_as(per_round)), (
        "every round must hold each class exactly once"
    )
    return per_round


episode = fake_episode(batch=6, n_way=4, rounds=2)
inputs, targets = student.make_sequence(episode, torch.Generator().manual_seed(0))
per_round = check_sequence(episode, inputs, targets)
rounds_in_class_order = (per_round == torch.arange(4)).all(dim=-1).float().mean().item()
assert rounds_in_class_order < 0.5, (
    f"{100 * rounds_in_class_order:.0f}% of the rounds list the classes in order 0..N-1: shuffle every "
    "round, or the position of an item gives its label away"
)
same_as_before = (per_round[:, 1:] == per_round[:, :-1]).all(dim=-1).float().mean().item()
assert same_as_before < 0.5, (
    f"{100 * same_as_before:.0f}% of the rounds repeat the order of the round before: draw a new order "
    "for every round, or a query can copy the label found at its position one round earlier"
)
# The orders come from the generator, and only from it: another seed gives other
# orders, and the global random numbers (the training run's) are left alone.
_, other_targets = student.make_sequence(episode, torch.Generator().manual_seed(1))
assert not torch.equal(other_targets, targets), (
    "generators seeded 0 and 1 gave the same orders: draw the orders from `generator` "
    "(no seed or generator of your own inside make_sequence)"
)
touched = student.build("cs182meta.probes.touches_global_rng", student.make_sequence, episode,
                        torch.Generator().manual_seed(2))
assert not touched, (
    "make_sequence changed the global random number generator (torch.manual_seed, or a draw "
    "without generator=...): draw only from the `generator` it is given"
)
### BEGIN HIDDEN TESTS
episode = fake_episode(batch=3, n_way=3, rounds=3)
inputs, targets = student.make_sequence(episode, torch.Generator().manual_seed(1))
check_sequence(episode, inputs, targets)
again, again_targets = student.make_sequence(episode, torch.Generator().manual_seed(1))
assert torch.equal(inputs, again) and torch.equal(targets, again_targets), (
    "the same generator seed must give the same sequences"
)
# The order must look random: in a long task, class 0 sits in each slot about equally
# often, and a round's order is unrelated to the orders of the rounds before it.
episode = fake_episode(batch=2, n_way=4, rounds=100)
inputs, targets = student.make_sequence(episode, torch.Generator().manual_seed(2))
per_round = check_sequence(episode, inputs, targets)  # (B, 2R+1, N): the class in each slot
slot_of_class_0 = (per_round == 0).float().mean(dim=(0, 1))  # (N,)
assert (slot_of_class_0 - 0.25).abs().max() < 0.12, (
    f"class 0 should land in each of the 4 slots of a round about 25% of the time, got {slot_of_class_0.tolist()}"
)
slot_of = per_round.argsort(dim=-1)  # (B, 2R+1, N): the slot of each class
for lag in (1, 2):
    # Where the item in each slot of a round moves to `lag` rounds later, and which class
    # takes the place of each class: both must vary like independent shuffles.
    moves = slot_of[:, lag:].gather(-1, per_round[:, :-lag])
    takes = per_round[:, lag:].gather(-1, slot_of[:, :-lag])
    for relation in (moves, takes):
        _, counts = relation.reshape(-1, 4).unique(dim=0, return_counts=True)
        most_common = counts.max().item() / counts.sum().item()
        assert most_common < 0.2, (
            f"{100 * most_common:.0f}% of the rounds are one fixed rearrangement of the round "
            f"{lag} before: the labels of a round can be read off earlier rounds; draw each "
            "round's order independently"
        )
### END HIDDEN TESTS

# %% [markdown] id="show-sequence-text"
# Positions of the queries in a sequence (the same for every task), and one
# sequence drawn as a picture: one row per round, items left to right in the order
# the network reads them, labels above (a `?` for a query).

# %% id="show-sequence"
def query_positions(n_way, rounds):
    """Boolean mask [T]: True at the query positions (rounds 0, 2, ..., 2R)."""
    round_of = torch.arange((2 * rounds + 1) * n_way) // n_way  # (T,)
    return round_of % 2 == 0


def show_sequence(inputs, targets, n_way, rounds, image_shape=(28, 28)):
    """Draw one task's sequence (inputs [T, P + N], targets [T]) as 2R + 1 rows of N images."""
    fig, axes = plt.subplots(2 * rounds + 1, n_way, figsize=(1.2 * n_way, 1.3 * (2 * rounds + 1)))
    for t, ax in enumerate(axes.flat):
        ax.imshow(inputs[t, : -n_way].view(image_shape).cpu(), cmap="gray_r", vmin=0, vmax=1)
        label = inputs[t, -n_way:]
        shown = f"y={int(label.argmax())}" if label.sum() > 0 else f"? ({int(targets[t])})"
        ax.set_title(shown, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for j in range(2 * rounds + 1):
        axes[j, 0].set_ylabel(f"query r={j // 2}" if j % 2 == 0 else f"shot {j // 2}", fontsize=8)
    fig.suptitle("one task as a sequence (read row by row; ? = zeroed label, true label in brackets)", fontsize=9)
    fig.tight_layout()
    return fig


example = next(iter(EpisodeSampler(evaluation, N_WAY, ROUNDS, ROUNDS + 1, seed=0).loader(batch_size=1)))
example_inputs, example_targets = make_sequence(example, torch.Generator().manual_seed(0))
print("inputs", tuple(example_inputs.shape), "targets", tuple(example_targets.shape))
print("query positions:", query_positions(N_WAY, ROUNDS).nonzero().flatten().tolist())
show_sequence(example_inputs[0], example_targets[0], N_WAY, ROUNDS)
plt.show()


# %% [markdown] id="ex2-text"
# ## Exercise 2 — the LSTM learner
#
# As in the Stanford CS 330 homework that the lecture mentions: two LSTM layers read
# the sequence; the first has `hidden_size` units, the second has exactly $N$ units,
# and its output at each step is read as the $N$ logits of the prediction for that
# step's image. (An LSTM's output lies in $(-1, 1)$, so these logits cannot become
# very confident; that is part of the recipe.)
#
# Write `LSTMLearner(n_way, input_size=784, hidden_size=128)` with two `nn.LSTM`
# layers named `lstm1` and `lstm2` that take batch-first input `[B, T, features]`.
# `forward(inputs, state=None)` returns `(logits [B, T, N], state)`: `state` is the
# pair of the two layers' `(h, c)` after the last step, and passing it back in
# continues the same task, so that a task can be read in pieces (say, its support
# set now and a query later) with exactly the result of reading it at once. The
# network must read the items in order, and each task on its own.
#
# Each step of the sequence is one item: the flattened image *and* the (possibly
# zeroed) one-hot label, so the first LSTM's input size is `input_size + n_way`
# ($784 + N$), not `input_size`.

# %% [solution] id="lstm_learner"
class LSTMLearner(nn.Module):
    """Two LSTM layers; the second has N units and emits the N logits of every step."""

    def __init__(self, n_way, input_size=28 * 28, hidden_size=128):
        super().__init__()
        ### BEGIN SOLUTION
        self.lstm1 = nn.LSTM(input_size + n_way, hidden_size, batch_first=True)
        self.lstm2 = nn.LSTM(hidden_size, n_way, batch_first=True)
        ### END SOLUTION

    def forward(self, inputs, state=None):
        """inputs [B, T, input_size + N] -> (logits [B, T, N], (state1, state2))."""
        ### BEGIN SOLUTION
        state1, state2 = (None, None) if state is None else state
        hidden, state1 = self.lstm1(inputs, state1)  # (B, T, hidden_size)
        logits, state2 = self.lstm2(hidden, state2)  # (B, T, N)
        return logits, (state1, state2)
        ### END SOLUTION


# %% [tests] id="lstm_learner_tests" points=3
import torch

from cs182meta.student import Handle, StudentCodeError, student


def attribute(handle, name):
    """`handle.name` on the notebook's side, or None where it has no such attribute."""
    try:
        return getattr(handle, name)
    except StudentCodeError:
        return None


def kind(value):
    """The class name of a value that came back (a handle's: the notebook's object's class)."""
    return value.type_name.rpartition(".")[2] if isinstance(value, Handle) else type(value).__name__


student.build("torch.manual_seed", 0)  # the network's initial weights are drawn on the notebook's side
model = student.LSTMLearner(n_way=3, input_size=12, hidden_size=8)
for name, size_in, size_out in (("lstm1", 15, 8), ("lstm2", 8, 3)):
    layer = attribute(model, name)
    assert student.is_instance(layer, "torch.nn.LSTM"), f"model.{name} must be an nn.LSTM, got {kind(layer)}"
    assert (layer.input_size, layer.hidden_size) == (size_in, size_out), (
        f"model.{name}: expected input_size {size_in} and hidden_size {size_out}, "
        f"got {layer.input_size} and {layer.hidden_size}"
    )
x = torch.randn(2, 7, 15, generator=torch.Generator().manual_seed(0))
logits, state = model(x)
assert torch.is_tensor(logits) and logits.shape == (2, 7, 3), (
    f"expected logits [B, T, N] = (2, 7, 3), got {tuple(logits.shape) if torch.is_tensor(logits) else kind(logits)}"
)
later = x.clone()
later[:, 4:] += 1.0
changed, _ = model(later)
assert torch.allclose(changed[:, :4], logits[:, :4], atol=1e-6), (
    "the output at step t must depend only on items 0..t: changing items 4..6 changed earlier outputs "
    "(is the sequence read in the right order, along the time axis?)"
)
assert not torch.allclose(changed[:, 4:], logits[:, 4:]), "changing items 4..6 must change their outputs"
other = x.clone()
other[0] = torch.randn(7, 15, generator=torch.Generator().manual_seed(1))
changed, _ = model(other)
assert torch.allclose(changed[1], logits[1], atol=1e-6), (
    "changing task 0 changed the outputs of task 1: each task must be read on its own "
    "(batch-first input [B, T, features])"
)
first, state = model(x[:, :3])
rest, _ = model(x[:, 3:], state)
assert torch.allclose(torch.cat([first, rest], dim=1), logits, atol=1e-5), (
    "reading a task in two pieces, passing the state on, must give the outputs of reading it at once"
)
### BEGIN HIDDEN TESTS
def reference_lstm(weights, inputs):
    """One LSTM layer, step by step, from its weights (gate order i, f, g, o)."""
    weight_ih, weight_hh, bias_ih, bias_hh = weights
    batch, steps, _ = inputs.shape
    h = inputs.new_zeros(batch, weight_hh.shape[1])
    c = inputs.new_zeros(batch, weight_hh.shape[1])
    outputs = []
    for t in range(steps):
        gates = inputs[:, t] @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def layer_weights(weights, name):
    """The four tensors of a one-layer nn.LSTM called `name`, from the model's state dict."""
    keys = [f"{name}.{part}_l0" for part in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    missing = [key for key in keys if key not in weights]
    assert not missing, f"model.{name} must be one nn.LSTM layer with biases; its state dict lacks {missing}"
    return [weights[key] for key in keys]


student.build("torch.manual_seed", 1)
model = student.LSTMLearner(n_way=4, input_size=10, hidden_size=6)
x = torch.randn(3, 9, 14, generator=torch.Generator().manual_seed(2))
weights = model.state_dict()
logits, _ = model(x)
expected = reference_lstm(layer_weights(weights, "lstm2"), reference_lstm(layer_weights(weights, "lstm1"), x))
assert torch.allclose(logits, expected, atol=1e-5), "logits differ from two LSTM layers read in order"
first, state = model(x[:, :2])
middle, state = model(x[:, 2:6], state)
last, _ = model(x[:, 6:], state)
assert torch.allclose(torch.cat([first, middle, last], dim=1), expected, atol=1e-5), (
    "reading in three pieces must match reading at once"
)
### END HIDDEN TESTS

# %% [markdown] id="ex3-text"
# ## Exercise 3 — the query loss
#
# The network is scored on the **query** positions only, $\mathcal{L}(\phi_i,
# \mathcal{D}^{ts}_i)$: at a support position the label is in the input, and
# rewarding the network for repeating it would teach it nothing about learning.
#
# `query_loss(logits, targets, is_query)`: `logits [B, T, N]`, `targets [B, T]`,
# `is_query` a boolean mask `[T]` → the mean cross-entropy over all $B \times$
# (number of query positions) query predictions (a scalar tensor).

# %% [solution] id="query_loss"
def query_loss(logits, targets, is_query):
    """Mean cross-entropy over the query positions: [B, T, N], [B, T], [T] -> scalar."""
    ### BEGIN SOLUTION
    query_logits = logits[:, is_query]  # (B, T_query, N)
    query_targets = targets[:, is_query]  # (B, T_query)
    return F.cross_entropy(query_logits.flatten(0, 1), query_targets.flatten())
    ### END SOLUTION


# %% [tests] id="query_loss_tests" points=2
import math

import torch

from cs182meta.student import student

is_query = torch.tensor([True, True, False, False, True, False])
logits = torch.zeros(2, 6, 3)
logits[:, ~is_query] = torch.tensor([-20.0, 20.0, 0.0])  # confidently wrong at support positions
targets = torch.zeros(2, 6, dtype=torch.long)
loss = student.query_loss(logits, targets, is_query)
assert torch.is_tensor(loss) and loss.dim() == 0, (
    f"the loss must be a scalar tensor, got {tuple(loss.shape) if torch.is_tensor(loss) else type(loss).__name__}"
)
assert abs(loss.item() - math.log(3)) < 1e-5, (
    f"uniform logits at every query give log(3) = {math.log(3):.5f}; got {loss.item():.5f} "
    "(support positions must not count)"
)
# The gradient with respect to the logits, asked of the notebook (it backpropagates there).
_, (gradient,) = student.grad(student.query_loss, (logits, targets, is_query), wrt=(0,))
assert gradient is not None, "no gradient reaches the logits: the loss must be computed from them with autograd"
assert torch.equal(gradient[:, ~is_query], torch.zeros(2, 3, 3)), (
    f"no gradient may reach the support positions, got {gradient[:, ~is_query].abs().max().item():.3g} there"
)
# At a query: (softmax of its logits - one-hot of its label) / number of query predictions.
expected = (torch.full((3,), 1 / 3) - torch.tensor([1.0, 0.0, 0.0])) / (2 * 3)
assert torch.allclose(gradient[:, is_query], expected.expand(2, 3, 3), atol=1e-6), (
    f"at every query position (2 tasks x 3 queries, uniform logits, label 0) the gradient of the mean "
    f"cross-entropy is {[round(v, 5) for v in expected.tolist()]}, got {gradient[:, is_query].reshape(-1, 3).tolist()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(3)
logits = torch.randn(3, 10, 4, generator=generator)
targets = torch.randint(0, 4, (3, 10), generator=generator)
is_query = torch.rand(10, generator=generator) < 0.5
is_query[0] = True
leaf = logits.clone().requires_grad_()
terms = [
    -torch.log_softmax(leaf[b, t], dim=0)[targets[b, t]]
    for b in range(3) for t in range(10) if is_query[t]
]
expected = torch.stack(terms).mean()
expected.backward()
got, (gradient,) = student.grad(student.query_loss, (logits, targets, is_query), wrt=(0,))
assert abs(got.item() - expected.item()) < 1e-5, f"expected {expected.item():.5f}, got {got.item():.5f}"
assert gradient is not None and torch.allclose(gradient, leaf.grad, atol=1e-6), (
    "the gradient with respect to the logits differs from that of the mean cross-entropy over the query "
    "predictions of all tasks"
)
### END HIDDEN TESTS

# %% [markdown] id="ex4-text"
# ## Exercise 4 — accuracy by instance
#
# `instance_accuracy(logits, targets, n_way)`: `[B, T, N]`, `[B, T]` → `[B, R + 1]`,
# entry $(b, r)$ the fraction of the $N$ queries of **query round** $r$ (sequence
# round $2r$) of task $b$ that are classified correctly — the accuracy at the
# $(r+1)$-th instance, i.e. with $r$ shots. $R$ follows from $T = (2R+1)N$. Any
# floating-point dtype will do.

# %% [solution] id="instance_accuracy"
def instance_accuracy(logits, targets, n_way):
    """Per task, accuracy of each query round: [B, T, N], [B, T] -> [B, R+1]."""
    ### BEGIN SOLUTION
    correct = (logits.argmax(dim=-1) == targets).float()  # (B, T)
    by_round = correct.view(correct.shape[0], -1, n_way)  # (B, 2R+1, N)
    return by_round[:, 0::2].mean(dim=-1)  # (B, R+1)
    ### END SOLUTION


# %% [tests] id="instance_accuracy_tests" points=2
import torch

from cs182meta.student import student

# N = 2, R = 1: rounds are [query, query], [shot, shot], [query, query].
targets = torch.tensor([[0, 1, 1, 0, 1, 0]])
predicted = torch.tensor([[1, 1, 0, 1, 1, 0]])  # right: 1 of round 0, none of round 1, both of round 2
logits = torch.nn.functional.one_hot(predicted, 2).float()
accuracy = student.instance_accuracy(logits, targets, 2)
assert torch.is_tensor(accuracy) and accuracy.is_floating_point(), (
    f"expected a floating-point tensor of fractions, got {getattr(accuracy, 'dtype', type(accuracy).__name__)}"
)
assert accuracy.shape == (1, 2), f"expected [B, R+1] = (1, 2), got {tuple(accuracy.shape)}"
assert torch.allclose(accuracy.double(), torch.tensor([[0.5, 1.0]], dtype=torch.float64)), (
    f"expected [[0.5, 1.0]] (query rounds only: round 0 half right, round 2 all right), got {accuracy.tolist()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(4)
n_way, rounds, batch = 3, 3, 5
steps = (2 * rounds + 1) * n_way
logits = torch.randn(batch, steps, n_way, generator=generator)
targets = torch.randint(0, n_way, (batch, steps), generator=generator)
expected = torch.zeros(batch, rounds + 1)
for b in range(batch):
    for r in range(rounds + 1):
        positions = range(2 * r * n_way, (2 * r + 1) * n_way)
        expected[b, r] = sum(int(logits[b, t].argmax() == targets[b, t]) for t in positions) / n_way
got = student.instance_accuracy(logits, targets, n_way)
assert got.shape == expected.shape, f"expected {tuple(expected.shape)}, got {tuple(got.shape)}"
# Fractions of N = 3 queries: 1e-3 tells them apart in any floating dtype (float16 included).
assert torch.allclose(got.double(), expected.double(), atol=1e-3), f"expected {expected.tolist()}, got {got.tolist()}"
### END HIDDEN TESTS

# %% [markdown] id="training-text"
# ## Meta-training and evaluation
#
# The same loop trains both learners: each step draws `BATCH` tasks from the
# background alphabets with the package's `EpisodeSampler` (its `loader` stacks them
# into a batch), turns them into sequences, and takes an Adam step on the query
# loss, with the gradient norm clipped (recurrent networks occasionally produce
# huge gradients). The evaluation reads `EVAL_EPISODES` tasks from the evaluation
# alphabets and reports, for every query round, the mean accuracy over tasks with
# its 95% interval (`mean_ci95`).
#
# **One change to the LSTM's starting point.** With PyTorch's default
# initialisation a plain LSTM sits at chance for a very long time (thousands of
# tasks on this kind of problem; Santoro et al. trained for 100,000 episodes): the
# first layer's input gates let every item — support or query, any label — into
# every memory cell, so the cells hold a blur of the whole sequence and the query
# loss gives no useful signal. `label_gated_init` starts each first-layer unit as
# the memory of *one* label: its input gate opens only on a support item carrying
# that label and stays shut on queries. Nothing is compared or matched by hand —
# the network still has to learn what to store and how to recognise a query's
# class, and it starts at chance — but it leaves the plateau after a few hundred
# steps instead of many thousands. (Try `label_gated_init = lambda *args: None`
# and watch the curve stay flat.)

# %% id="train-lstm"
def meta_train(model, steps, seed):
    """Adam on the query loss over `steps` batches of BATCH training tasks.

    Returns the per-step curves {"loss": [...], "accuracy": [B, R+1] per step}.
    """
    model.to(DEVICE).train()
    sampler = EpisodeSampler(
        background, N_WAY, ROUNDS, ROUNDS + 1, num_episodes=steps * BATCH, seed=seed
    )
    generator = torch.Generator().manual_seed(seed)
    is_query = query_positions(N_WAY, ROUNDS).to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    curves = {"loss": [], "accuracy": []}
    for episodes in progress(sampler.loader(batch_size=BATCH, device=DEVICE), desc="meta-training", total=steps):
        inputs, targets = make_sequence(episodes, generator)
        inputs, targets = inputs.to(DEVICE), targets.to(DEVICE)  # (B, T, P+N), (B, T)
        logits, _ = model(inputs)  # (B, T, N)
        loss = query_loss(logits, targets, is_query)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        curves["loss"].append(loss.item())
        curves["accuracy"].append(instance_accuracy(logits.detach(), targets, N_WAY).mean(dim=0).cpu())
    return curves


@torch.no_grad()
def evaluate_by_instance(model, seed=1000, batch_size=50):
    """Accuracy (%) at every query round over EVAL_EPISODES evaluation tasks: one Interval per round."""
    model.eval()
    sampler = EpisodeSampler(
        evaluation, N_WAY, ROUNDS, ROUNDS + 1, num_episodes=EVAL_EPISODES, seed=seed
    )
    generator = torch.Generator().manual_seed(seed)
    per_task = []
    for episodes in progress(sampler.loader(batch_size=batch_size, device=DEVICE), desc="evaluating"):
        inputs, targets = make_sequence(episodes, generator)
        logits, _ = model(inputs.to(DEVICE))
        per_task.append(instance_accuracy(logits.cpu(), targets, N_WAY))  # (b, R+1)
    per_task = torch.cat(per_task)  # (EVAL_EPISODES, R+1)
    return [mean_ci95(per_task[:, r].tolist()).as_percent() for r in range(ROUNDS + 1)]


def label_gated_init(model, n_way, gate=10.0):
    """Open each first-layer unit's input gate (sigmoid(+gate)) only on a support item
    with "its" label, and shut it (sigmoid(-gate)) on queries and on the other labels.

    The hidden_size // n_way units of group k belong to label k; any left over start
    shut. Only the input-gate rows of lstm1 change; all the rest is PyTorch's default.
    """
    layer = getattr(model, "lstm1", None)
    if not isinstance(layer, nn.LSTM):
        return  # not the architecture of exercise 2: leave it as it is
    hidden, pixels = layer.hidden_size, layer.input_size - n_way
    group = hidden // n_way
    with torch.no_grad():
        input_gate = layer.weight_ih_l0[:hidden]  # (hidden, P+N); nn.LSTM's gate order is i, f, g, o
        input_gate[:, pixels:] = 0.0
        for k in range(n_way):
            input_gate[k * group : (k + 1) * group, pixels + k] = 2 * gate
        layer.bias_ih_l0[:hidden] = -gate
        layer.bias_hh_l0[:hidden] = 0.0


torch.manual_seed(0)
lstm = LSTMLearner(N_WAY, hidden_size=LSTM_HIDDEN)
label_gated_init(lstm, N_WAY)
start = time.perf_counter()
lstm_curves = meta_train(lstm, LSTM_STEPS, seed=1)
lstm_seconds = time.perf_counter() - start
print(f"LSTM: {LSTM_STEPS} steps of {BATCH} tasks in {lstm_seconds:.0f} s ({lstm_seconds / LSTM_STEPS:.3f} s per step)")


# %% [markdown] id="mann-text"
# ## Memory-augmented neural networks
#
# The LSTM stores everything it has seen of a task in its hidden and cell state —
# a few hundred numbers that must serve for $N \cdot K$ examples. A MANN gives its
# LSTM *controller* an external memory $M_t$ of `MEMORY_SLOTS` rows (slots) of
# `MEMORY_WIDTH` numbers, and two heads: one that writes to it and one that reads
# from it. Each step $t$:
#
# 1. **Controller.** An LSTM cell reads the item (image ‖ label part, first projected
#    to a smaller vector) together with the previous read vector $r_{t-1}$, and
#    emits a key $k_t$, a write-gate logit $\alpha_t$ and a read sharpness
#    $\beta_t > 0$.
# 2. **Read (content addressing).** The read weights are a softmax over the slots of
#    the cosine similarity between the key and each row:
#    $w^r_t(i) \propto \exp\big(\beta_t \cos(k_t, M_{t-1}(i))\big)$ and
#    $r_t = \sum_i w^r_t(i)\, M_{t-1}(i)$. Santoro et al. use $\beta = 1$; like the
#    Neural Turing Machine we let the controller choose a sharpness, because a
#    softmax over 128 cosines in $[-1, 1]$ cannot single out one slot.
# 3. **Write (least-recently-used access, LRUA).** The key itself is written, as in
#    Santoro et al. It goes either to the slot that was last read (to update a
#    memory about the same class) or to the least-used slot (to store something
#    new); a learned gate chooses:
#    $w^w_t = \sigma(\alpha_t)\, w^r + (1 - \sigma(\alpha_t))\, w^{lu}_{t-1}$, with
#    $w^r$ the last read weights. Before writing, the least-used slot is
#    **cleared**, so a new item does not mix with the stale content it replaces;
#    then $M_t(i) = M_{t-1}(i) + w^w_t(i)\, k_t$.
# 4. **Usage.** $w^u_t = \gamma\, w^u_{t-1} + w^r_t + w^w_t$: slots that are read or
#    written become "used", and usage fades with the decay $\gamma$ so that old,
#    unread slots become free again. The least-used slot $w^{lu}_t$ is the one-hot
#    of the slot with the smallest usage (with one read head).
# 5. **Output.** The logits come from the controller's output and the read vector.
#
# A support item's key is computed from its image *and* its label, so the label
# enters memory with it; a later query of the same class, whose key is close in
# cosine (the images are alike), reads it back. Four small functions make up one step; the module that uses them is
# provided below. Shapes: `B` tasks, `S` slots, `W` numbers per slot.
#
# ## Exercise 5 — content addressing
#
# `cosine_read_weights(memory, key, strength)`: `memory [B, S, W]`, `key [B, W]`,
# `strength [B, 1]` → `[B, S]`: the softmax over slots of
# `strength * cos(key, memory[b, i])`. Normalise **both** the key and the rows
# (an all-zero row, an empty slot, has similarity 0 — no `nan`).

# %% [solution] id="cosine_read_weights"
def cosine_read_weights(memory, key, strength):
    """Softmax over slots of strength * cosine(key, row): [B, S, W], [B, W], [B, 1] -> [B, S]."""
    ### BEGIN SOLUTION
    rows = F.normalize(memory, dim=-1)  # (B, S, W), zero rows stay zero
    unit_key = F.normalize(key, dim=-1)  # (B, W)
    cosine = (rows @ unit_key[:, :, None]).squeeze(-1)  # (B, S)
    return torch.softmax(strength * cosine, dim=-1)  # (B, S)
    ### END SOLUTION


# %% [tests] id="cosine_read_weights_tests" points=2
import math

import torch

from cs182meta.student import student

memory = torch.tensor([[[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]]])  # one task, 3 slots (the last empty)
key = torch.tensor([[5.0, 0.0]])  # cosines with the slots: 1, 0, 0
weights = student.cosine_read_weights(memory, key, torch.tensor([[1.0]]))
assert weights.shape == (1, 3), f"expected [B, S] = (1, 3), got {tuple(weights.shape)}"
assert torch.allclose(student.cosine_read_weights(memory, 0.2 * key, torch.tensor([[1.0]])), weights,
                      atol=1e-5), "the weights must not depend on the length of the key"
longer_row = memory * torch.tensor([[[4.0], [1.0], [1.0]]])  # slot 0 four times as long
assert torch.allclose(student.cosine_read_weights(longer_row, key, torch.tensor([[1.0]])), weights,
                      atol=1e-5), "the weights must not depend on the length of a memory row"
e = math.e
expected = torch.tensor([[e, 1.0, 1.0]]) / (e + 2)
assert torch.allclose(weights, expected, atol=1e-5), (
    f"expected softmax of the cosines [1, 0, 0] = {expected.tolist()}, got {weights.tolist()} "
    "(normalise the key and the rows)"
)
sharp = student.cosine_read_weights(memory, key, torch.tensor([[3.0]]))
expected = torch.tensor([[e**3, 1.0, 1.0]]) / (e**3 + 2)
assert torch.allclose(sharp, expected, atol=1e-5), f"strength 3: expected {expected.tolist()}, got {sharp.tolist()}"
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(5)
memory = torch.randn(4, 6, 5, generator=generator) * torch.rand(4, 6, 1, generator=generator) * 5
key = torch.randn(4, 5, generator=generator) * 7
strength = torch.rand(4, 1, generator=generator) * 4 + 0.5
got = student.cosine_read_weights(memory, key, strength)
expected = torch.zeros(4, 6)
for b in range(4):
    cos = torch.stack([torch.dot(row, key[b]) / (row.norm() * key[b].norm()) for row in memory[b]])
    expected[b] = torch.exp(strength[b] * cos) / torch.exp(strength[b] * cos).sum()
assert torch.allclose(got, expected, atol=1e-5), "weights differ from the softmax of strength * cosine"
assert torch.allclose(student.cosine_read_weights(memory, key * 0.01, strength), got, atol=1e-5), (
    "the weights must not depend on the length of the key"
)
### END HIDDEN TESTS

# %% [markdown] id="ex6-text"
# ## Exercise 6 — LRUA write weights
#
# `lrua_write_weights(gate, read_weights, previous_least_used)`:
# `gate [B, 1]` (the logit $\alpha_t$), `[B, S]`, `[B, S]` → `[B, S]`,
# $\sigma(\alpha_t)\, w^r + (1 - \sigma(\alpha_t))\, w^{lu}_{t-1}$.

# %% [solution] id="lrua_write_weights"
def lrua_write_weights(gate, read_weights, previous_least_used):
    """Interpolate last read weights and least-used slot: [B, 1], [B, S], [B, S] -> [B, S]."""
    ### BEGIN SOLUTION
    share = torch.sigmoid(gate)  # (B, 1) in (0, 1)
    return share * read_weights + (1 - share) * previous_least_used  # (B, S)
    ### END SOLUTION


# %% [tests] id="lrua_write_weights_tests" points=2
import math

import torch

from cs182meta.student import student

read = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
least_used = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
weights = student.lrua_write_weights(torch.tensor([[0.0], [0.0]]), read, least_used)
assert weights.shape == (2, 3), f"expected [B, S] = (2, 3), got {tuple(weights.shape)}"
assert torch.allclose(weights, 0.5 * read + 0.5 * least_used), (
    f"a gate logit of 0 must give half of each: expected {(0.5 * read + 0.5 * least_used).tolist()}, "
    f"got {weights.tolist()}"
)
share = 1 / (1 + math.exp(-2.0))
weights = student.lrua_write_weights(torch.tensor([[2.0], [2.0]]), read, least_used)
expected = share * read + (1 - share) * least_used
assert torch.allclose(weights, expected, atol=1e-6), (
    f"gate logit 2: expected sigmoid(2) = {share:.3f} of the read weights, got {weights.tolist()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(6)
gate = torch.randn(5, 1, generator=generator) * 3
read = torch.softmax(torch.randn(5, 7, generator=generator), dim=-1)
least_used = torch.nn.functional.one_hot(torch.randint(0, 7, (5,), generator=generator), 7).float()
got = student.lrua_write_weights(gate, read, least_used)
expected = torch.stack(
    [read[b] / (1 + math.exp(-gate[b].item())) + least_used[b] * (1 - 1 / (1 + math.exp(-gate[b].item()))) for b in range(5)]
)
assert torch.allclose(got, expected, atol=1e-6), "write weights differ from the LRUA interpolation"
assert torch.allclose(got.sum(dim=-1), torch.ones(5), atol=1e-6), "write weights must sum to 1 per task"
### END HIDDEN TESTS

# %% [markdown] id="ex7-text"
# ## Exercise 7 — usage
#
# `update_usage(usage, read_weights, write_weights, decay)`: `[B, S]` ×3 and a
# float $\gamma$ → `(new_usage [B, S], least_used [B, S])` with
# $w^u_t = \gamma\, w^u_{t-1} + w^r_t + w^w_t$ and `least_used` the one-hot (float)
# of the slot with the smallest new usage.

# %% [solution] id="update_usage"
def update_usage(usage, read_weights, write_weights, decay):
    """(decayed usage + this step's reads and writes [B, S], one-hot least-used slot [B, S])."""
    ### BEGIN SOLUTION
    new_usage = decay * usage + read_weights + write_weights  # (B, S)
    least_used = F.one_hot(new_usage.argmin(dim=-1), usage.shape[-1]).to(usage.dtype)  # (B, S)
    return new_usage, least_used
    ### END SOLUTION


# %% [tests] id="update_usage_tests" points=2
import torch

from cs182meta.student import student

usage = torch.tensor([[2.0, 0.5, 1.0]])
read = torch.tensor([[0.0, 0.2, 0.8]])
write = torch.tensor([[0.0, 0.0, 1.0]])
new_usage, least_used = student.update_usage(usage, read, write, decay=0.5)
assert new_usage.shape == (1, 3) and least_used.shape == (1, 3), (
    f"expected two [B, S] = (1, 3) tensors, got {tuple(new_usage.shape)} and {tuple(least_used.shape)}"
)
assert torch.allclose(new_usage, torch.tensor([[1.0, 0.45, 2.3]])), (
    f"expected 0.5 * usage + reads + writes = [[1.0, 0.45, 2.3]], got {new_usage.tolist()}"
)
assert torch.equal(least_used, torch.tensor([[0.0, 1.0, 0.0]])), (
    f"the least-used slot is slot 1: expected [[0, 1, 0]], got {least_used.tolist()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(7)
usage = torch.rand(4, 9, generator=generator) * 3
read = torch.softmax(torch.randn(4, 9, generator=generator), dim=-1)
write = torch.softmax(torch.randn(4, 9, generator=generator), dim=-1)
got_usage, got_least = student.update_usage(usage, read, write, decay=0.9)
expected = 0.9 * usage + read + write
assert torch.allclose(got_usage, expected, atol=1e-6), "usage differs from gamma * usage + reads + writes"
for b in range(4):
    smallest = min(range(9), key=lambda i: expected[b, i].item())
    assert got_least[b].tolist() == [float(i == smallest) for i in range(9)], f"task {b}: wrong least-used slot"
# With no reads and writes, usage must fade, and an old slot become the least used.
fading, _ = student.update_usage(torch.ones(1, 2), torch.zeros(1, 2), torch.zeros(1, 2), decay=0.5)
assert torch.allclose(fading, torch.full((1, 2), 0.5)), "usage must decay by gamma every step"
### END HIDDEN TESTS

# %% [markdown] id="ex8-text"
# ## Exercise 8 — writing
#
# `write_memory(memory, write_weights, previous_least_used, value)`: `[B, S, W]`,
# `[B, S]`, `[B, S]` (one-hot), `[B, W]` → the new memory `[B, S, W]`: first clear
# (set to zero) the row of the previous least-used slot, then add
# $w^w_t(i)\, a_t$ to every row $i$ (the MANN writes its key: $a_t = k_t$). Return a new tensor; do not modify `memory`
# in place (autograd needs the old one).

# %% [solution] id="write_memory"
def write_memory(memory, write_weights, previous_least_used, value):
    """Clear the least-used row, then add w_w(i) * value to each row: -> [B, S, W]."""
    ### BEGIN SOLUTION
    cleared = memory * (1 - previous_least_used[:, :, None])  # (B, S, W)
    return cleared + write_weights[:, :, None] * value[:, None, :]  # (B, S, W)
    ### END SOLUTION


# %% [tests] id="write_memory_tests" points=2
import torch

from cs182meta.student import StudentCodeError, student

memory = torch.tensor([[[1.0, 1.0], [2.0, 0.0], [0.0, 3.0]]])  # one task, 3 slots of width 2
least_used = torch.tensor([[0.0, 1.0, 0.0]])
write = torch.tensor([[0.25, 0.75, 0.0]])
value = torch.tensor([[4.0, -4.0]])
new = student.write_memory(memory, write, least_used, value)
assert new.shape == (1, 3, 2), f"expected [B, S, W] = (1, 3, 2), got {tuple(new.shape)}"
expected = torch.tensor([[[2.0, 0.0], [3.0, -3.0], [0.0, 3.0]]])
assert torch.allclose(new, expected), (
    f"expected {expected.tolist()} (slot 1 cleared, then 0.25 and 0.75 of the value added to slots 0 and 1), "
    f"got {new.tolist()}"
)
# The MANN backpropagates through every write: a memory of one slot holding one number (5),
# cleared, then written with weight 0.5 and value 3, and the gradients of the result.
# (Autograd refuses an in-place change of a memory that it must differentiate.)
try:
    written, (to_memory, to_write, to_value) = student.grad(
        student.write_memory,
        (torch.tensor([[[5.0]]]), torch.tensor([[0.5]]), torch.tensor([[1.0]]), torch.tensor([[3.0]])),
        wrt=(0, 1, 3),
    )
except StudentCodeError as error:
    assert "in-place" not in error.message, (
        f"write_memory must not modify its input memory in place (autograd needs the old one): {error.message}"
    )
    raise
assert torch.allclose(written, torch.tensor([[[1.5]]])), f"expected [[[1.5]]] (0 + 0.5 * 3), got {written.tolist()}"
got = [0.0 if to_memory is None else to_memory.item()] + [
    None if g is None else g.item() for g in (to_write, to_value)
]
assert got == [0.0, 3.0, 0.5], (
    "the result 0.5 * 3 must have the gradients 0 (the old, cleared memory), 3 (the write weight) and "
    f"0.5 (the value), got {got} (None: no gradient reaches it)"
)
# The same slot not cleared: 5 + 0.5 * 3, whose gradient reaches the old memory too.
kept, (to_memory, to_write, to_value) = student.grad(
    student.write_memory,
    (torch.tensor([[[5.0]]]), torch.tensor([[0.5]]), torch.tensor([[0.0]]), torch.tensor([[3.0]])),
    wrt=(0, 1, 3),
)
assert torch.allclose(kept, torch.tensor([[[6.5]]])), f"expected [[[6.5]]] (5 + 0.5 * 3), got {kept.tolist()}"
got = [None if g is None else g.item() for g in (to_memory, to_write, to_value)]
assert got == [1.0, 3.0, 0.5], (
    "the result 5 + 0.5 * 3 must have the gradients 1 (the old memory, kept), 3 (the write weight) and "
    f"0.5 (the value), got {got} (None: no gradient reaches it; no .detach() of the memory)"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(8)
memory = torch.randn(3, 5, 4, generator=generator)
least_used = torch.nn.functional.one_hot(torch.tensor([4, 0, 2]), 5).float()
write = torch.softmax(torch.randn(3, 5, generator=generator), dim=-1)
value = torch.randn(3, 4, generator=generator)
got = student.write_memory(memory, write, least_used, value)
expected = memory.clone()
for b in range(3):
    for i in range(5):
        if least_used[b, i] == 1:
            expected[b, i] = 0
        expected[b, i] = expected[b, i] + write[b, i] * value[b]
assert torch.allclose(got, expected, atol=1e-6), "memory differs from: clear the least-used row, then add w_w * a"
### END HIDDEN TESTS

# %% [markdown] id="mann-module-text"
# ### The MANN, assembled
#
# Provided: the controller and heads, and one step of memory per item using your
# four functions. At $t = 0$ memory and usage are zero and slot 0 counts as least
# used. `forward` returns the logits and, for the pictures, the read weights of
# every step. A few liberties, for a network that learns in minutes on a CPU: the
# item is projected to `CONTROLLER_HIDDEN` numbers before the LSTM cell (all steps
# at once, one matrix product); the heads see that projection beside the
# controller's state; the read sharpness starts high; and each step **reads before
# it writes** (Santoro et al. write first), so the last read weights are this
# step's and a query never finds its own, label-less key in memory.

# %% id="train-mann"
class MANN(nn.Module):
    """Santoro et al. (2016): an LSTM controller, an external memory, one read head, LRUA writes."""

    def __init__(self, n_way, input_size=28 * 28, hidden_size=128, slots=128, width=40, decay=0.95):
        super().__init__()
        self.n_way, self.slots, self.width, self.decay = n_way, slots, width, decay
        self.encoder = nn.Linear(input_size + n_way, hidden_size)
        self.controller = nn.LSTMCell(hidden_size + width, hidden_size)
        self.heads = nn.Linear(2 * hidden_size, width + 2)  # key, gate, strength
        with torch.no_grad():
            self.heads.bias[-1] = 10.0  # start with sharp reads (strength = softplus(10) = 10)
        self.classifier = nn.Linear(hidden_size + width, n_way)

    def forward(self, inputs):
        """inputs [B, T, P + N] -> (logits [B, T, N], read weights [B, T, S])."""
        batch, steps, _ = inputs.shape
        features = torch.tanh(self.encoder(inputs))  # (B, T, H)
        h = c = inputs.new_zeros(batch, self.controller.hidden_size)  # (B, H)
        memory = inputs.new_zeros(batch, self.slots, self.width)  # (B, S, W)
        read = inputs.new_zeros(batch, self.width)  # (B, W)
        usage = inputs.new_zeros(batch, self.slots)  # (B, S)
        least_used = F.one_hot(torch.zeros(batch, dtype=torch.long, device=inputs.device), self.slots).to(inputs.dtype)
        outputs, reads, all_read_weights = [], [], []
        for t in range(steps):
            h, c = self.controller(torch.cat([features[:, t], read], dim=-1), (h, c))
            heads = self.heads(torch.cat([h, features[:, t]], dim=-1))  # (B, W + 2)
            key = torch.tanh(heads[:, : self.width])  # (B, W)
            gate, strength = heads[:, -2:-1], F.softplus(heads[:, -1:])  # (B, 1), (B, 1)
            read_weights = cosine_read_weights(memory, key, strength)  # (B, S)
            read = (read_weights[:, None, :] @ memory).squeeze(1)  # (B, W)
            write_weights = lrua_write_weights(gate, read_weights, least_used)  # (B, S)
            memory = write_memory(memory, write_weights, least_used, key)  # (B, S, W)
            usage, least_used = update_usage(usage, read_weights, write_weights, self.decay)
            outputs.append(h)
            reads.append(read)
            all_read_weights.append(read_weights)
        logits = self.classifier(torch.cat([torch.stack(outputs, 1), torch.stack(reads, 1)], dim=-1))
        return logits, torch.stack(all_read_weights, dim=1)  # (B, T, N), (B, T, S)


torch.manual_seed(0)
mann = MANN(N_WAY, hidden_size=CONTROLLER_HIDDEN, slots=MEMORY_SLOTS, width=MEMORY_WIDTH, decay=USAGE_DECAY)
start = time.perf_counter()
mann_curves = meta_train(mann, MANN_STEPS, seed=1)
mann_seconds = time.perf_counter() - start
print(f"MANN: {MANN_STEPS} steps of {BATCH} tasks in {mann_seconds:.0f} s ({mann_seconds / MANN_STEPS:.3f} s per step)")

# %% [tests] id="mann_tests" points=2
import torch

from cs182meta.student import student

# The MANN above, assembled from your four memory functions, on small random tasks.
student.build("torch.manual_seed", 0)  # its initial weights are drawn on the notebook's side
net = student.MANN(n_way=3, input_size=6, hidden_size=8, slots=5, width=4)
inputs = torch.randn(2, 7, 6 + 3, generator=torch.Generator().manual_seed(0))  # (B=2 tasks, T=7 items, P + N)
logits, read_weights = net(inputs)
assert logits.shape == (2, 7, 3) and read_weights.shape == (2, 7, 5), (
    f"expected logits (2, 7, 3) and read weights (2, 7, 5), got {tuple(logits.shape)} and {tuple(read_weights.shape)}"
)
assert torch.isfinite(logits).all(), "the MANN's logits must be finite"
assert torch.allclose(read_weights.sum(dim=-1), torch.ones(2, 7), atol=1e-5), (
    "the read weights must sum to 1 over the slots at every step"
)
alone, _ = net(inputs[1:])
assert torch.allclose(alone, logits[1:], atol=1e-5), (
    "a task's logits must not depend on the other tasks of its batch: each task has its own memory"
)
again, _ = net(inputs)
assert torch.allclose(again, logits, atol=1e-6), (
    "memory must start empty for every task: reading the same tasks twice must give the same logits"
)
# The heads emit key (rows :4), write gate (row -2) and read strength (row -1); they
# reach the logits only through your memory functions, which must stay differentiable:
# the derivative that backpropagation finds must be the one the logits show. In float64,
# a random linear function of all the logits is appended to the MANN's classifier (one
# number out), and its derivative along each part of the heads is measured twice: by
# backpropagation and by central finite differences.
net.double()
inputs = inputs.double()
to_one_number = torch.nn.Linear(2 * 7 * 3, 1, bias=False).double()
with torch.no_grad():
    to_one_number.weight.copy_(torch.randn(1, 2 * 7 * 3, generator=torch.Generator().manual_seed(1)))
classifier = student.build("torch.nn.Sequential", net.classifier, student.build("torch.nn.Flatten", 0, -1),
                           student.send(to_one_number))
net.add_module("classifier", classifier)
call = student.send(torch.func.functional_call)  # call(net, {name: weight}, (inputs,)): net with those weights
names = [name for name, _ in net.named_parameters()]
_, (gradients,) = student.grad(call, (net, {}, (inputs,)), wrt=(0,), index=0)
gradient = gradients[names.index("heads.weight")]  # (W + 2, 2 * hidden)
assert gradient is not None and torch.isfinite(gradient).all(), "the heads got no finite gradient"
heads = net.heads.weight
generator = torch.Generator().manual_seed(2)
for rows, what in ((slice(0, 4), "key"), (slice(-2, -1), "write gate"), (slice(-1, None), "read strength")):
    step = torch.zeros_like(heads)
    step[rows] = torch.randn(step[rows].shape, generator=generator, dtype=torch.float64)
    above, _ = call(net, {"heads.weight": heads + 1e-6 * step}, (inputs,))
    below, _ = call(net, {"heads.weight": heads - 1e-6 * step}, (inputs,))
    measured = (above - below).item() / 2e-6
    backpropagated = (gradient * step).sum().item()
    assert abs(backpropagated - measured) <= 1e-4 * abs(measured) + 1e-8, (
        f"along the {what}, backpropagation gives the derivative {backpropagated:.6g}, but the logits change "
        f"at the rate {measured:.6g}: keep the memory functions differentiable "
        "(no .detach(), no argmax or one-hot in place of soft weights)"
    )

# %% [markdown] id="curves-text"
# ## Results
#
# Learning curves on the training tasks (moving averages): the accuracy of the
# one-shot queries (query round 1) of each learner, and chance.

# %% id="curves"
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
one_shot = {name: smooth([a[1].item() for a in curves["accuracy"]])
            for name, curves in (("LSTM", lstm_curves), ("MANN", mann_curves))}
plot_learning_curves(one_shot, ylabel="1-shot query accuracy (training tasks)", chance=1 / N_WAY,
                     title=f"{N_WAY}-way, query round 1", ax=axes[0])
plot_learning_curves({"LSTM": smooth(lstm_curves["loss"]), "MANN": smooth(mann_curves["loss"])},
                     ylabel="query loss (training tasks)", title="meta-training loss", ax=axes[1])
fig.tight_layout()
plt.show()

# %% [markdown] id="by-instance-text"
# Accuracy by instance on tasks from the evaluation alphabets, with 95% intervals:
# the $(r+1)$-th instance is the query round after $r$ labelled drawings of every
# class, so the 2nd instance is $N$-way 1-shot accuracy.
#
# The 1st instance must be at chance for both learners: no label has been seen yet,
# so a score above 20% there would mean labels leak into the sequence. From the 2nd
# instance on, both learners have to recognise a class from one drawing. The LSTM
# keeps what it saw in its cell state; the MANN's content-addressed memory gives it a
# shortcut — a query's key is already close to the key stored for a drawing of its
# own class — and with more labelled drawings (3rd instance) both improve.
#
# Read the comparison as one of *recipes at this budget*, not of architectures in
# general: both learners are hand-started. The LSTM begins with `label_gated_init`
# (with PyTorch's default start it stayed at chance for the whole quick profile), and
# the MANN with a high read sharpness and read-before-write. Other starts, learning
# rates or a longer budget can change the order; Santoro et al. (2016) report the
# MANN ahead of the LSTM on Omniglot, with far longer training.

# %% id="by-instance"
results = {"LSTM": evaluate_by_instance(lstm), "MANN": evaluate_by_instance(mann)}
ordinal = lambda i: {1: "1st", 2: "2nd", 3: "3rd"}.get(i, f"{i}th")  # noqa: E731
print(f"{N_WAY}-way accuracy by instance (%), {EVAL_EPISODES} evaluation tasks, 95% intervals")
print(f"{'':6s}" + "".join(f"{ordinal(r + 1):>18s}" for r in range(ROUNDS + 1)))
for name, row in results.items():
    print(f"{name:6s}" + "".join(f"{f'{a.mean:.1f} ± {a.ci95:.1f}':>18s}" for a in row))
for name, row in results.items():
    print(f"{name}: {N_WAY}-way 1-shot query accuracy {row[1]} %")

fig, ax = plt.subplots(figsize=(5.5, 3.8))
for name, row in results.items():
    ax.errorbar(range(1, ROUNDS + 2), [a.mean for a in row], yerr=[a.ci95 for a in row],
                marker="o", capsize=3, label=name)
ax.axhline(100 / N_WAY, color="gray", linestyle="--", label="chance")
ax.set(xlabel="instance (1 + number of labelled drawings seen)", ylabel="query accuracy (%)",
       xticks=list(range(1, ROUNDS + 2)), title=f"{N_WAY}-way, accuracy by instance")
ax.legend()
plt.show()

# %% [markdown] id="memory-text"
# ### Inside the memory
#
# The MANN's read weights over one evaluation task: one row per step (the item it
# has just read), one column per slot (only the slots that were ever written
# appear). Queries are marked on the left. A query that reads the slot written by a
# drawing of its own class can recover that drawing's label.

# %% id="memory"
with torch.no_grad():
    mann.eval()
    task_inputs, task_targets = make_sequence(example, torch.Generator().manual_seed(0))
    _, read_weights = mann(task_inputs.to(DEVICE))
weights = read_weights[0].cpu()  # (T, S)
used = weights.max(dim=0).values > 0.05
shown = weights[:, used] if used.sum() > 1 else weights[:, :16]
is_query = query_positions(N_WAY, ROUNDS)
fig, ax = plt.subplots(figsize=(6, 6))
ax.imshow(shown, aspect="auto", cmap="viridis", interpolation="nearest")
ax.set_yticks(range(len(is_query)))
ax.set_yticklabels([f"{'query' if q else 'shot '} y={int(y)}" for q, y in zip(is_query, task_targets[0])], fontsize=6)
ax.set(xlabel="memory slot (slots that were read)", title="MANN read weights over one task")
plt.show()

# %% [markdown] id="written-q1"
# ## Written questions (graded by hand)
#
# **Q1.** Why must the labels of the query items be zeroed in the input sequence?
# What would the network learn if they leaked — in the input, or through the order
# of the items — and how would that show up in the accuracy on training tasks, on
# new tasks, and at the 1st instance?

# %% [written] id="why_zero_query_labels" points=2
# The query labels are the targets: the loss asks the network to output them. If
# they were in the input the easiest solution is to copy the label part of the
# current item to the output, which gives (near) perfect training accuracy without
# using the support set at all, and nothing is learned about matching a new drawing
# to the labelled ones. The same happens with a leak through the order: if the
# items of a round are sorted by class, or every round repeats one order, the
# position of a query tells its label (or where to copy it from), and the network
# learns to count positions. At test time, on correctly built sequences (labels
# zeroed, random order), the copied signal is gone and accuracy drops to about
# chance. A leak is also easy to spot: accuracy above chance at the 1st instance,
# where no label of that class has been seen, is impossible without one.

# %% [markdown] id="written-q2"
# **Q2.** Santoro et al. feed the label of the *previous* item with the current one:
# the input at step $t$ is $(x_t, y_{t-1})$. How does that differ from our format
# (labels of support items with their own image, queries zeroed)? What does it
# change for the loss and for what counts as a query?

# %% [written] id="time_offset_labels" points=2
# With the offset, every item is first a query and then a training example: at step
# t the network sees x_t without its label and must predict y_t; the label arrives
# one step later with x_{t+1}, so it must keep x_t (or what it computed from it) until
# then and bind it to y_t. There is no separate support set: the loss is applied at
# every step, and the sequence yields one prediction per presentation, the 1st
# instance of a class being a guess and the later ones few-shot predictions — which
# is what gives Santoro's accuracy-by-instance table. In our format a labelled item
# arrives with its own label (no delay, nothing to hold), predictions are only
# scored at separate query items that never get their label, and the loss must be
# masked to the query positions. Both prevent copying the current label; the offset
# just means the label needed for scoring is never in the same input as the image.

# %% [markdown] id="written-q3"
# **Q3.** Why is the length of the sequence a problem for a black-box learner, and
# what does the external memory buy? Think about how the sequence grows with $N$
# and $K$, what an LSTM must do with everything it has read, and how a MANN stores
# and finds one example.

# %% [written] id="why_memory" points=2
# The sequence of a task has N*K support items (plus queries), so it grows with both
# the number of classes and of shots. An LSTM must compress all of it into a fixed
# hidden and cell state, overwriting as it goes; information from early items has to
# survive many steps (vanishing gradients, interference), and a bigger task does not
# get more capacity, so accuracy drops as N*K grows and training gets slower and less
# stable on long sequences. A MANN keeps each example in its own memory slot, written
# once (to the least-used slot, cleared first) and retrieved by content: a query looks
# up the slot whose key is most similar in cosine, independent of how long ago it was
# written. Memory capacity (slots) is decoupled from the number of network parameters,
# reading and writing are learned but simple, and it behaves like a learned
# nearest-neighbour lookup, which is why its 2nd-instance accuracy rises quickly. The
# cost is a sequential, step-by-step computation (slow on GPUs), and the memory size
# still bounds how many examples a task can store.

# %% [markdown] id="hand-in-text"
# ## Handing in
#
# Submit this notebook to the autograded assignment. The written answers are graded
# from a PDF, one question per page: in a terminal in this folder run
# `python -m cs182meta export 01_blackbox.ipynb --name "your name or SID"` and upload
# `01_blackbox-written.pdf` to the written-answers assignment. It needs Chromium (see
# the README); a blank answer shows as "No answer given."
