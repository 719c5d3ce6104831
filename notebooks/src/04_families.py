# %% [markdown] id="intro"
# # 04 — Which family, when? The three families measured under one protocol
#
# Notebooks 01–03 built one learner $f(\mathcal{D}^{tr}, x) \to y$ from each family of
# the lecture, each with its own recipe, budget and evaluation. The lecture also says
# what each family *trades*:
#
# * **black-box** learners (an LSTM or a memory-augmented network reads
#   $\mathcal{D}^{tr}$ as a sequence) are as expressive as the sequence model, but hard
#   to optimise, and what they must read grows with $N \cdot K$;
# * **non-parametric** learners (Matching Networks, Prototypical Networks) fit nothing
#   per task: simple and fast, but a task is solved only by comparing a query with the
#   support examples in one fixed feature space;
# * **optimisation-based** learners (MAML) adapt by gradient descent, so they are
#   model-agnostic and keep improving with more data or more steps at test time, at the
#   price of second derivatives in meta-training.
#
# This notebook checks those claims, on equal terms. It first adds two ideas the
# lecture names that the earlier notebooks only mentioned:
#
# 1. the **Siamese network** (Koch et al., 2015): learn to tell whether two images
#    show the same character, then classify a query by its most similar support image
#    — the verification model that nearest-neighbour meta-learning grew from;
# 2. Matching Networks' **full-context embeddings** (Vinyals et al., 2016): the
#    support embeddings $g$ read the whole support set, and the query embedding $f$
#    attends to it for a few steps.
#
# Then it trains one learner per family under **one protocol** — the same backbone, the
# same seeded training tasks, the same budget, the same evaluation tasks — and measures
# the trade-offs: more shots than in training, more ways, a shifted test set, and cost.
#
# **Reference code of notebooks 02 and 03.** To compare the families, this notebook
# ships working versions of earlier exercises (prototypes, Matching Networks' attention,
# MAML's inner loop) in a read-only cell, so it is handed out only after 02 and 03 are
# due.

# %% id="setup"
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from cs182meta import settings
from cs182meta.costs import parameter_count, saved_for_backward
from cs182meta.data import load_meta_splits
from cs182meta.episodes import EpisodeSampler
from cs182meta.evaluate import evaluate_episodes, progress
from cs182meta.models import Conv4
from cs182meta.plotting import plot_accuracy_vs_shots
from cs182meta.profiles import by_profile, notebook_setup

PROFILE, DEVICE = notebook_setup(seed=0)
if DEVICE.type == "cpu" and PROFILE == "grading":
    # The grading run's networks are tiny: one thread is as fast as two, and on a busy
    # machine two threads that wait for each other make every step many times slower.
    torch.set_num_threads(1)

# %% [markdown] id="parameters-text"
# Every knob of the notebook. The `grading` profile (autograder, CI) trains each
# learner on a handful of tasks and evaluates on a few; `quick` (the CPU default) gives
# each of the seven learners the same budget of tasks and seconds (30 s each on two CPU
# cores), evaluates the main table on 1,000 tasks and each trade-off on 250 (the whole
# notebook: under 10 minutes); `full` is for a GPU. Choose with `CS182META_PROFILE`.

# %% [parameters]
DATASET = settings.dataset()  # $CS182META_DATASET: "glyphs" (default, made offline) or "omniglot"
TRAIN_ROTATIONS = DATASET == "omniglot"  # meta-train on each character's 4 rotations, each a class
N_WAY, K_SHOT, TRAIN_QUERY = 5, 1, 5  # every learner meta-trains on 5-way 1-shot tasks, 5 queries per class
HIDDEN = by_profile(grading=8, quick=32, full=64)  # Conv-4 filters per block: the one backbone of every learner
LSTM_HIDDEN = by_profile(grading=16, quick=128, full=256)  # the black-box learner's LSTM
TRAIN_TASKS = by_profile(grading=4, quick=3_000, full=60_000)  # budget per learner, in tasks (6 images per class each)
TRAIN_SECONDS = by_profile(grading=30, quick=30, full=3_600)  # and in seconds: training stops at the first reached
LR = 1e-3  # Adam, every learner
CLIP = 1.0  # gradient-norm clipping, every learner
MAML_ALPHA = 0.4  # MAML's inner step size (training and test)
MAML_TRAIN_STEPS = 1  # inner steps in meta-training
MAML_TEST_STEPS = by_profile(grading=(1, 2), quick=(1, 5), full=(1, 5, 20))  # inner steps at test time (first: training's)
MAML_SMALL_ALPHA = 0.1  # a smaller inner step size, tried at test time with more steps
FCE_STEPS = 3  # K: processing steps of the attention LSTM f
MATCHING_SCALE = 10.0  # softmax(scale * cosine), as in notebook 02
EVAL_TASKS = by_profile(grading=12, quick=1_000, full=1_000)  # test tasks of the main table, the same for every learner
TRADEOFF_TASKS = by_profile(grading=8, quick=250, full=1_000)  # test tasks of each trade-off setting
EVAL_QUERY = 5  # queries per class at test time (a class has 20 drawings: K + 5 <= 20)
TEST_SHOTS = by_profile(grading=(1, 5), quick=(1, 5, 10, 15), full=(1, 5, 10, 15))
WIDE_WAY = 20  # more ways at test time than in training
SHEAR, SCALE = 0.4, 0.75  # the shifted test set: each glyph sheared and shrunk
EVAL_CLASSES = by_profile(grading=40, quick=None, full=None)  # None: all evaluation classes
TRAIN_SEED, EVAL_SEED = 1, 1000


# %% [markdown] id="data-text"
# ## Data
#
# Meta-training tasks come from the *background* alphabets and every number below from
# tasks of the *evaluation* alphabets, as in 01–03. On real Omniglot each background
# character also appears rotated by 90, 180 and 270 degrees, each rotation a class of
# its own. (The standard background split has 964 characters; with only the two small
# background splits at hand the kit trains on small1's 136 and evaluates on small2's
# 106, a stand-in on which every accuracy is lower.)
#
# A third set tests **out of distribution**: the evaluation characters again, each
# drawing sheared sideways and shrunk (`SHEAR`, `SCALE`). The characters are as new as
# before; what changed is how every image is drawn, which no training task showed.

# %% id="data"
def shifted(dataset, shear=SHEAR, scale=SCALE):
    """The same classes with every image sheared by `shear` and scaled by `scale` (uint8)."""
    images = dataset.images.flatten(0, 1).float() / 255  # (C * E, 1, H, W)
    theta = torch.tensor([[1 / scale, shear / scale, 0.0], [0.0, 1 / scale, 0.0]]).expand(len(images), 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    moved = F.grid_sample(images, grid, align_corners=False)
    shifted_set = dataset.subset(range(len(dataset)), name=f"{dataset.name} (sheared, scaled)")
    shifted_set.images = (moved * 255).round().to(torch.uint8).view_as(dataset.images)
    return shifted_set


background, evaluation = load_meta_splits(DATASET, eval_classes=EVAL_CLASSES)  # a spread-out subset when grading
if TRAIN_ROTATIONS:
    background = background.with_rotations()  # (4 * classes, 20, 1, 28, 28)
shifted_evaluation = shifted(evaluation)
print("meta-training:", background)
print("evaluation:   ", evaluation)
print("shifted:      ", shifted_evaluation)

fig, axes = plt.subplots(2, 8, figsize=(8, 2.2))
for column in range(8):
    for row, images in enumerate((evaluation.images, shifted_evaluation.images)):
        axes[row, column].imshow(images[column, 0, 0], cmap="gray")
        axes[row, column].axis("off")
fig.suptitle("evaluation characters (top) and the shifted test set (bottom)", fontsize=9)
plt.show()


# %% [markdown] id="protocol-text"
# ## One protocol
#
# Every learner below is an `nn.Module` with two methods: `loss(episode)` → (query loss,
# query accuracy) for meta-training, and `predict(episode)` → query logits `[M, N]`. They
# all share:
#
# * **one backbone**, `backbone()`: the Conv-4 of 02 and 03 with `HIDDEN` filters per
#   block. Its normalisation is per image (`norm="layer"`): BatchNorm would let the
#   images of a batch change each other's features, which makes an evaluation
#   *transductive* (03's accuracies were, 02's were not) and differ between training
#   and test mode. Here each query is judged on its own, in training and at test time;
#   exercise 3 checks it.
# * **the same training tasks**: 5-way 1-shot tasks drawn from the background alphabets
#   with seed `TRAIN_SEED`, one task per Adam step, gradient norms clipped at `CLIP`;
# * **the same budget**: at most `TRAIN_TASKS` tasks (the same images, in the same
#   order) and at most `TRAIN_SECONDS` seconds, whichever ends first — the table says
#   which;
# * **the same test tasks**: `EVAL_TASKS` tasks from the evaluation alphabets, drawn
#   with seed `EVAL_SEED` (one set per setting of N and K), reported as mean accuracy
#   with a 95% interval over the tasks.

# %% id="backbone"
def backbone(num_classes=None):
    """The Conv-4 of every learner: HIDDEN filters, per-image normalisation. [B, 1, 28, 28] ->
    [B, HIDDEN] features (or [B, num_classes] logits)."""
    return Conv4(hidden_channels=HIDDEN, num_classes=num_classes, norm="layer")


def embed_episode(model, episode):
    """Support and query embeddings from one forward pass: ([N*K, D], [M, D])."""
    n_support = episode.support_x.shape[0]
    z = model(torch.cat([episode.support_x, episode.query_x]))  # (N*K + M, D)
    return z[:n_support], z[n_support:]


def query_accuracy(logits, episode):
    """Fraction of the episode's queries whose largest logit is their label."""
    return (logits.argmax(dim=1) == episode.query_y).float().mean().item()


# %% [markdown] id="siamese-text"
# ## Siamese networks
#
# Before meta-learning, Koch et al. (2015) trained a network to answer a simpler
# question: **are these two images of the same character?** Two copies of one network
# (the "twins", sharing weights) embed the two images, $h_1 = f_\theta(x_1)$ and
# $h_2 = f_\theta(x_2)$, and a learned weighting of the component-wise distance gives
# the probability that they match,
#
# $$p(\text{same} \mid x_1, x_2) = \sigma\Big(\sum_j \alpha_j \, \lvert h_{1,j} - h_{2,j} \rvert + b\Big),$$
#
# trained with binary cross-entropy on pairs labelled same (1) or different (0). For a
# one-shot task they then give a query the label of the support image it is **most
# likely to match**. Nothing in that training mentions tasks or classes of a task: the
# network learns verification and is used for classification.
#
# ## Exercise 1 — the Siamese network
#
# **(a)** `siamese_logits(z1, z2, head)`: embeddings `[P, D]` of the two images of `P`
# pairs, and `head = nn.Linear(D, 1)` (weights $\alpha$, bias $b$) → the `[P]` logits
# $\sum_j \alpha_j \lvert z_{1,j} - z_{2,j} \rvert + b$ (the argument of $\sigma$;
# the loss applies the sigmoid itself).

# %% [solution] id="siamese_logits"
def siamese_logits(z1, z2, head):
    """Koch's weighted L1 head: [P, D], [P, D] -> [P] logits of 'same'."""
    ### BEGIN SOLUTION
    return head((z1 - z2).abs()).squeeze(-1)
    ### END SOLUTION


# %% [tests] id="siamese_logits_tests" points=2
import torch
from torch import nn

from cs182meta.student import student

head = nn.Linear(3, 1)
with torch.no_grad():
    head.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
    head.bias.fill_(0.25)
z1 = torch.tensor([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
z2 = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 5.0]])
logits = student.siamese_logits(z1, z2, head)
assert torch.is_tensor(logits), f"expected a tensor, got {type(logits).__name__}"
assert logits.shape == (2,), f"expected one logit per pair, shape (2,), got {tuple(logits.shape)}"
assert (logits < 0).any(), (
    f"expected logits (the argument of the sigmoid, here negative), got {logits.tolist()}: the loss "
    "applies the sigmoid itself"
)
# |z1 - z2| = [1, 1, 1] and [0, 2, 2]: 1 - 2 + 0.5 + 0.25 and 0 - 4 + 1 + 0.25
expected = torch.tensor([-0.25, -2.75])
assert torch.allclose(logits, expected, atol=1e-6), (
    f"expected alpha . |z1 - z2| + b = {expected.tolist()}, got {logits.tolist()}"
)
swapped = student.siamese_logits(z2, z1, head)
assert torch.allclose(swapped, logits, atol=1e-6), (
    f"the twins are interchangeable: swapping the two images must give the same logits, got "
    f"{swapped.tolist()} and {logits.tolist()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(11)
torch.manual_seed(11)
head = nn.Linear(6, 1)
z1, z2 = torch.randn(9, 6, generator=generator), torch.randn(9, 6, generator=generator)
got = student.siamese_logits(z1, z2, head)
with torch.no_grad():
    reference = torch.stack([(head.weight[0] * (a - b).abs()).sum() + head.bias[0] for a, b in zip(z1, z2)])
assert got.shape == (9,) and torch.allclose(got, reference, atol=1e-5), (
    "9 pairs of 6 features: the logits differ from alpha . |z1 - z2| + b"
)
# Gradients: d logit_p / d z1_p = alpha * sign(z1_p - z2_p), and 0 for the other pairs;
# d logit_p / d alpha = |z1_p - z2_p|.
for p in (0, 4):
    _, (grad_z1, grad_head) = student.grad(student.siamese_logits, (z1, z2, head), wrt=(0, 2), index=p)
    expected_z1 = torch.zeros_like(z1)
    expected_z1[p] = head.weight[0].detach() * torch.sign(z1[p] - z2[p])
    assert grad_z1 is not None and torch.allclose(grad_z1, expected_z1, atol=1e-5), (
        "gradients must flow to the embeddings: d logit / d z1 must be alpha * sign(z1 - z2) on "
        "the pair's row and 0 elsewhere"
    )
    assert grad_head is not None and grad_head[0] is not None and torch.allclose(
        grad_head[0], (z1[p] - z2[p]).abs()[None], atol=1e-5
    ), "the gradient of a logit with respect to the weights alpha must be |z1 - z2|"
### END HIDDEN TESTS

# %% [markdown] id="ex1b-text"
# **(b)** `siamese_class_scores(pair_logits, support_y, n_way)`: `pair_logits[j, i]`
# is the logit that query $j$ and support image $i$ show the same character (`[M, N*K]`);
# return `[M, N]`, the score of class $n$ for query $j$ = the **largest** pair logit of
# $j$ with a support image labelled $n$ — the most similar support image decides, as in
# Koch et al. (with one shot, each class has one image). Do not assume the support set
# is sorted by class.

# %% [solution] id="siamese_class_scores"
def siamese_class_scores(pair_logits, support_y, n_way):
    """Score of each class = its best-matching support image: [M, N*K], [N*K] -> [M, N]."""
    ### BEGIN SOLUTION
    return torch.stack([pair_logits[:, support_y == n].max(dim=1).values for n in range(n_way)], dim=1)
    ### END SOLUTION


# %% [tests] id="siamese_class_scores_tests" points=2
import torch

from cs182meta.student import student

one_shot = student.siamese_class_scores(torch.tensor([[0.5, -1.0, 2.0]]), torch.tensor([2, 0, 1]), 3)
assert torch.is_tensor(one_shot), f"expected a tensor, got {type(one_shot).__name__}"
assert one_shot.shape == (1, 3), f"expected [M, N] = (1, 3), got {tuple(one_shot.shape)}"
assert torch.allclose(one_shot, torch.tensor([[-1.0, 2.0, 0.5]])), (
    "with one support image per class (labels 2, 0, 1), class n's score is the pair logit of the "
    f"image labelled n: expected [[-1.0, 2.0, 0.5]], got {one_shot.tolist()}"
)
pair_logits = torch.tensor([[0.5, -1.0, 2.0, 0.0], [-3.0, 1.0, -2.0, 4.0]])
support_y = torch.tensor([1, 0, 1, 0])  # two support images per class, not sorted
scores = student.siamese_class_scores(pair_logits, support_y, 2)
assert scores.shape == (2, 2), f"expected [M, N] = (2, 2), got {tuple(scores.shape)}"
expected = torch.tensor([[0.0, 2.0], [4.0, -2.0]])
assert torch.allclose(scores, expected), (
    f"class n scores the largest pair logit among its support images: expected {expected.tolist()}, "
    f"got {scores.tolist()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(12)
for n_way, k_shot, m in [(5, 1, 7), (3, 4, 6), (4, 3, 2)]:
    pair_logits = torch.randn(m, n_way * k_shot, generator=generator)
    support_y = torch.randperm(n_way * k_shot, generator=generator) % n_way
    got = student.siamese_class_scores(pair_logits, support_y, n_way)
    reference = torch.tensor([[max(pair_logits[j, i].item() for i in range(n_way * k_shot) if support_y[i] == n)
                               for n in range(n_way)] for j in range(m)])
    assert got.shape == (m, n_way), f"expected {(m, n_way)}, got {tuple(got.shape)}"
    assert torch.allclose(got, reference, atol=1e-6), (
        f"{n_way}-way {k_shot}-shot, {m} queries: the class scores differ from the largest pair "
        "logit among each class's support images"
    )
### END HIDDEN TESTS

# %% [markdown] id="siamese-learner-text"
# The Siamese learner: the twins are the backbone, the head is `nn.Linear(D, 1)`. It
# meets its training data through the same tasks as every other learner, but trains on
# **pairs**: each query against each support image, labelled same or different, with
# the binary cross-entropy weighted so that the same-pairs and the different-pairs
# count equally (Koch et al. sample them half and half).

# %% id="siamese-learner"
class Siamese(nn.Module):
    """Koch et al.'s verification network, used for one-shot classification."""

    def __init__(self):
        super().__init__()
        self.twin = backbone()
        self.head = nn.Linear(self.twin.feature_dim, 1)

    def pair_logits(self, episode):
        """Logit of 'same character' for every (query, support image) pair: [M, N*K]."""
        support_z, query_z = embed_episode(self.twin, episode)  # (N*K, D), (M, D)
        m, s = len(query_z), len(support_z)
        z1 = query_z[:, None].expand(m, s, -1).reshape(m * s, -1)  # (M*N*K, D)
        z2 = support_z[None].expand(m, s, -1).reshape(m * s, -1)
        return siamese_logits(z1, z2, self.head).view(m, s)

    def predict(self, episode):
        return siamese_class_scores(self.pair_logits(episode), episode.support_y, episode.n_way)

    def loss(self, episode):
        logits = self.pair_logits(episode)  # (M, N*K)
        same = (episode.query_y[:, None] == episode.support_y[None]).to(logits.dtype)
        weight = same / same.sum() + (1 - same) / (1 - same).sum()  # each kind of pair weighs 1/2
        loss = F.binary_cross_entropy_with_logits(logits, same, weight=weight, reduction="sum") / 2
        scores = siamese_class_scores(logits.detach(), episode.support_y, episode.n_way)
        return loss, query_accuracy(scores, episode)


# %% [markdown] id="fce-text"
# ## Full-context embeddings
#
# In notebook 02 a Matching Network embedded every support image on its own. Vinyals et
# al. (2016) let the embeddings depend on the whole task, with two different functions:
#
# * $g$ embeds the support set as a **sequence**: a bidirectional LSTM reads the
#   support embeddings $g'(x_1), \dots, g'(x_{NK})$ (the backbone's features), and
#   $$g(x_i, S) = \vec{h}_i + \overleftarrow{h}_i + g'(x_i),$$
#   the forward and backward hidden states at position $i$ plus a skip connection.
# * $f$ embeds a query by **attending to $g(S)$ for $K$ steps** (`FCE_STEPS`) with an
#   LSTM cell, starting from $h_0 = f'(\hat{x})$ (the query's backbone features) and
#   $c_0 = 0$:
#   $$a_k = \operatorname{softmax}_i\big(h_{k-1}^\top g(x_i, S)\big), \qquad r_k = \sum_i a_{k,i}\, g(x_i, S),$$
#   $$\hat{h}_k, c_k = \operatorname{LSTMCell}\big(f'(\hat{x}),\; (h_{k-1} + r_k,\; c_{k-1})\big), \qquad h_k = \hat{h}_k + f'(\hat{x}),$$
#   and $f(\hat{x}, S) = h_K$. (The paper concatenates $h$ and $r$; adding them, as
#   common implementations do, keeps the cell's size at $D$.)
#
# Each query reads the support set, never the other queries: the prediction stays
# non-transductive.
#
# ## Exercise 2 — full-context embeddings
#
# **(a)** `fce_support(support_z, lstm)`: `[N*K, D]` → `[N*K, D]`, $g(S)$ above, where
# `lstm = nn.LSTM(D, D, batch_first=True, bidirectional=True)` reads the support set as
# **one** sequence in the order given. Its output at position $i$ is `[2D]`: the forward
# state $\vec{h}_i$ in the first `D` entries, the backward $\overleftarrow{h}_i$ in the
# last `D`.

# %% [solution] id="fce_support"
def fce_support(support_z, lstm):
    """g(x_i, S) = forward + backward LSTM state at i + g'(x_i): [N*K, D] -> [N*K, D]."""
    ### BEGIN SOLUTION
    states, _ = lstm(support_z[None])  # (1, N*K, 2D)
    forward, backward = states[0].chunk(2, dim=-1)  # (N*K, D) each
    return forward + backward + support_z
    ### END SOLUTION


# %% [tests] id="fce_support_tests" points=2
import torch
from torch import nn

from cs182meta.student import student

torch.manual_seed(21)
lstm = nn.LSTM(4, 4, batch_first=True, bidirectional=True)
support_z = torch.randn(6, 4, generator=torch.Generator().manual_seed(21))
g = student.fce_support(support_z, lstm)
assert torch.is_tensor(g), f"expected a tensor, got {type(g).__name__}"
assert g.shape == (6, 4), f"expected [N*K, D] = (6, 4), got {tuple(g.shape)}"
first_moved = support_z.clone()
first_moved[0] += 3.0  # change only the first support example
assert not torch.allclose(student.fce_support(first_moved, lstm)[5], g[5], atol=1e-4), (
    "g(x_6, S) did not change when the first support example changed: the LSTM must read the "
    "support set as one sequence (the forward direction carries the first example to the last)"
)
last_moved = support_z.clone()
last_moved[5] += 3.0  # change only the last support example
assert not torch.allclose(student.fce_support(last_moved, lstm)[0], g[0], atol=1e-4), (
    "g(x_1, S) did not change when the last support example changed: add the backward "
    "direction's states (the last D entries of the output), which carry the last example to the first"
)
zero = nn.LSTM(4, 4, batch_first=True, bidirectional=True)
for parameter in zero.parameters():
    nn.init.zeros_(parameter)
g_zero = student.fce_support(support_z, zero)
assert torch.allclose(g_zero, support_z, atol=1e-6), (
    "with an LSTM whose weights are all zero, every hidden state is 0 and g(x_i, S) must be "
    "g'(x_i) itself (the skip connection)"
)
### BEGIN HIDDEN TESTS
def _reference_fce_support(z, lstm):
    d = lstm.hidden_size
    outputs = []
    for direction, order in ((0, range(len(z))), (1, reversed(range(len(z))))):
        suffix = "_reverse" if direction else ""
        w_ih, w_hh = getattr(lstm, f"weight_ih_l0{suffix}"), getattr(lstm, f"weight_hh_l0{suffix}")
        b = getattr(lstm, f"bias_ih_l0{suffix}") + getattr(lstm, f"bias_hh_l0{suffix}")
        h, c, states = torch.zeros(d), torch.zeros(d), {}
        for i in order:
            gates = w_ih @ z[i] + w_hh @ h + b
            i_gate, f_gate, g_gate, o_gate = gates.chunk(4)
            c = torch.sigmoid(f_gate) * c + torch.sigmoid(i_gate) * torch.tanh(g_gate)
            h = torch.sigmoid(o_gate) * torch.tanh(c)
            states[i] = h
        outputs.append(torch.stack([states[i] for i in range(len(z))]))
    return outputs[0] + outputs[1] + z


torch.manual_seed(22)
lstm = nn.LSTM(5, 5, batch_first=True, bidirectional=True)
support_z = torch.randn(8, 5, generator=torch.Generator().manual_seed(22))
got = student.fce_support(support_z, lstm)
with torch.no_grad():
    reference = _reference_fce_support(support_z, lstm)
assert got.shape == (8, 5) and torch.allclose(got, reference, atol=1e-5), (
    "8 support examples of 5 features: g(S) differs from forward state + backward state + the "
    "example's own embedding, with the LSTM reading the support set in the order given"
)
_, (grad,) = student.grad(student.fce_support, (support_z, lstm), wrt=(0,), index=(2, 1))
probe = support_z.clone().requires_grad_()
(reference_grad,) = torch.autograd.grad(_reference_fce_support(probe, lstm)[2, 1], probe)
assert grad is not None and torch.allclose(grad, reference_grad, atol=1e-5), (
    "the gradient of g(x_3, S) with respect to the support embeddings differs from the reference: "
    "keep g differentiable (no .detach()), with the skip connection"
)
### END HIDDEN TESTS

# %% [markdown] id="ex2b-text"
# **(b)** `fce_query(query_z, support_g, cell, steps)`: the query embeddings $f'(\hat{x})$
# `[M, D]`, $g(S)$ `[N*K, D]`, `cell = nn.LSTMCell(D, D)` and $K$ = `steps` → $h_K$
# `[M, D]`, computed for all queries at once (a batch of `M` rows; each row attends on
# its own). With `steps=0` the result is $h_0 = f'(\hat{x})$.

# %% [solution] id="fce_query"
def fce_query(query_z, support_g, cell, steps):
    """The attention LSTM f: K steps of reading g(S) from h_0 = f'(x): [M, D], [N*K, D] -> [M, D]."""
    ### BEGIN SOLUTION
    h, c = query_z, torch.zeros_like(query_z)
    for _ in range(steps):
        attention = torch.softmax(h @ support_g.T, dim=1)  # (M, N*K)
        readout = attention @ support_g  # (M, D)
        h_hat, c = cell(query_z, (h + readout, c))
        h = h_hat + query_z
    return h
    ### END SOLUTION


# %% [tests] id="fce_query_tests" points=3
import torch
from torch import nn

from cs182meta.student import student

generator = torch.Generator().manual_seed(23)
torch.manual_seed(23)
cell = nn.LSTMCell(4, 4)
query_z, support_g = torch.randn(3, 4, generator=generator), torch.randn(5, 4, generator=generator)
h = student.fce_query(query_z, support_g, cell, 2)
assert torch.is_tensor(h), f"expected a tensor, got {type(h).__name__}"
assert h.shape == (3, 4), f"expected [M, D] = (3, 4), got {tuple(h.shape)}"
h0 = student.fce_query(query_z, support_g, cell, 0)
assert torch.allclose(h0, query_z), "with steps=0, f must return h_0 = f'(x), the query embeddings"
alone = student.fce_query(query_z[1:2], support_g, cell, 2)
assert torch.allclose(alone, h[1:2], atol=1e-5), (
    "a query's embedding changed when the other queries were left out: each query attends to "
    "the support set on its own"
)
with torch.no_grad():
    h_hat, _ = cell(query_z, (query_z, torch.zeros(3, 4)))  # g(S) = 0: the readout r_1 is 0
h1_blank = student.fce_query(query_z, torch.zeros(5, 4), cell, 1)
assert torch.allclose(h1_blank, h_hat + query_z, atol=1e-5), (
    "with g(S) = 0 the readout is 0, and one step must give h_1 = LSTMCell(f'(x), (h_0, 0))[0] + f'(x) "
    "(the cell's output plus the skip connection f'(x))"
)
# One step by hand: h_0 = f'(x); a_1 = softmax(h_0 g^T); r_1 = a_1 g; (h^, c) = cell(f'(x), (h_0 + r_1, 0)).
with torch.no_grad():
    r1 = torch.softmax(query_z @ support_g.T, dim=1) @ support_g
    h_hat, _ = cell(query_z, (query_z + r1, torch.zeros(3, 4)))
    expected = h_hat + query_z
h1 = student.fce_query(query_z, support_g, cell, 1)
assert torch.allclose(h1, expected, atol=1e-5), (
    "after one step expected h_1 = LSTMCell(f'(x), (h_0 + r_1, 0))[0] + f'(x) with r_1 the "
    f"attention readout of g(S): expected {expected.tolist()}, got {h1.tolist()}"
)
### BEGIN HIDDEN TESTS
def _reference_fce_query(query_z, support_g, cell, steps):
    rows = []
    for x in query_z:
        h, c = x, torch.zeros_like(x)
        for _ in range(steps):
            weights = torch.exp(torch.stack([h @ g for g in support_g]))
            weights = weights / weights.sum()
            r = sum(w * g for w, g in zip(weights, support_g))
            h_hat, c = cell(x[None], ((h + r)[None], c[None]))
            h, c = h_hat[0] + x, c[0]
        rows.append(h)
    return torch.stack(rows)


torch.manual_seed(24)
cell = nn.LSTMCell(6, 6)
query_z = torch.randn(4, 6, generator=generator)
support_g = torch.randn(7, 6, generator=generator)
for steps in (3, 5):
    got = student.fce_query(query_z, support_g, cell, steps)
    with torch.no_grad():
        reference = _reference_fce_query(query_z, support_g, cell, steps)
    assert got.shape == (4, 6) and torch.allclose(got, reference, atol=1e-5), (
        f"{steps} steps, 4 queries, 7 support examples: h_K differs from the attention LSTM of the text"
    )
_, (grad_g,) = student.grad(student.fce_query, (query_z, support_g, cell, 3), wrt=(1,), index=(1, 2))
probe = support_g.clone().requires_grad_()
(reference_grad,) = torch.autograd.grad(_reference_fce_query(query_z, probe, cell, 3)[1, 2], probe)
assert grad_g is not None and torch.allclose(grad_g, reference_grad, atol=1e-5), (
    "the gradient of f with respect to g(S) differs from the reference: the readouts must stay in "
    "the graph (no .detach())"
)
### END HIDDEN TESTS

# %% [markdown] id="families-text"
# ## The learners
#
# One learner per family, each a short module over the same backbone. The code of the
# earlier notebooks' exercises that they need — `prototypes` and `protonet_logits` (02),
# `matching_probabilities` (02), `inner_adapt` (03) — is here in working form.
#
# * `BlackBox` (01): an LSTM reads the support set as a sequence of (embedding, one-hot
#   label) items; then each query is one more item, with its label zeroed, read from
#   the state the support set left (each query on its own, so no query sees another).
#   A linear layer maps the LSTM's output to the $N$ logits. It starts from notebook 01's
#   `label_gated_init` (without it, this LSTM stayed at chance, 19.7 %, for the whole
#   quick budget on glyphs: the plateau of notebook 01).
# * `ProtoNet` (02): minus the squared distance to each class's mean embedding.
# * `Matching(fce=False)` (02) and `Matching(fce=True)` (exercise 2): attention over the
#   support set, with or without full-context embeddings.
# * `MAML(first_order=False)` (03): the backbone with a 5-way linear head, adapted to a
#   task by `MAML_TRAIN_STEPS` gradient steps of size `MAML_ALPHA` on its support set
#   (second-order meta-gradient); `MAML(first_order=True)` drops the second-order terms.
# * `Siamese` (exercise 1), above.

# %% id="families" reveals=["02_nonparametric", "03_maml"]
def prototypes(support_embeddings, support_y, n_way):
    """Mean support embedding of each class: [N*K, D], [N*K] -> [N, D] (notebook 02)."""
    return torch.stack([support_embeddings[support_y == n].mean(dim=0) for n in range(n_way)])


def protonet_logits(query_embeddings, prototypes):
    """Negative squared Euclidean distances: [M, D], [N, D] -> [M, N] (notebook 02)."""
    differences = query_embeddings[:, None, :] - prototypes[None, :, :]  # (M, N, D)
    return -(differences**2).sum(dim=-1)  # (M, N)


def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0):
    """Attention-weighted vote of the support labels: [M, D], [N*K, D], [N*K] -> [M, N] (notebook 02)."""
    cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T
    attention = torch.softmax(scale * cosine, dim=1)  # (M, N*K), rows sum to 1
    return attention @ F.one_hot(support_y, n_way).to(attention.dtype)  # (M, N)


def inner_adapt(model, params, x, y, steps, alpha, create_graph, loss_fn=F.mse_loss):
    """`steps` gradient steps on one task's support set, from phi^0 = params (notebook 03)."""
    phi = dict(params)
    for _ in range(steps):
        loss = loss_fn(functional_call(model, phi, (x,)), y)
        grads = torch.autograd.grad(loss, list(phi.values()), create_graph=create_graph)
        phi = {
            name: p - (alpha[name] if isinstance(alpha, dict) else alpha) * g
            for (name, p), g in zip(phi.items(), grads)
        }
    return phi


def cross_entropy_loss(logits, episode):
    """(query cross-entropy, query accuracy) of query logits [M, N]."""
    return F.cross_entropy(logits, episode.query_y), query_accuracy(logits, episode)


def fixed_ways(learner, episode):
    """Refuse a task whose N differs from the N of the learner's output layer."""
    if episode.n_way != learner.n_way:
        raise ValueError(f"{type(learner).__name__} has {learner.n_way} output units: it cannot "
                         f"answer a {episode.n_way}-way task without a new output layer")


def label_gated_init(lstm, n_way, gate=10.0):
    """Notebook 01's start: each group of hidden_size // n_way units opens its input gate
    only on a support item with "its" label; queries (label zeroed) and the other labels
    keep it shut. Only the input-gate rows of the label inputs and biases change."""
    hidden, features = lstm.hidden_size, lstm.input_size - n_way
    group = hidden // n_way
    with torch.no_grad():
        input_gate = lstm.weight_ih_l0[:hidden]  # (hidden, D+N); nn.LSTM's gate order is i, f, g, o
        input_gate[:, features:] = 0.0
        for k in range(n_way):
            input_gate[k * group : (k + 1) * group, features + k] = 2 * gate
        lstm.bias_ih_l0[:hidden] = -gate
        lstm.bias_hh_l0[:hidden] = 0.0


class BlackBox(nn.Module):
    """f(D_tr, x) as a sequence model: an LSTM over (embedding, one-hot label) items."""

    def __init__(self, n_way=N_WAY):
        super().__init__()
        self.n_way = n_way
        self.embed = backbone()
        self.lstm = nn.LSTM(self.embed.feature_dim + n_way, LSTM_HIDDEN, batch_first=True)
        self.out = nn.Linear(LSTM_HIDDEN, n_way)
        label_gated_init(self.lstm, n_way)

    def predict(self, episode):
        fixed_ways(self, episode)
        support_z, query_z = embed_episode(self.embed, episode)  # (N*K, D), (M, D)
        labels = F.one_hot(episode.support_y, self.n_way).to(support_z.dtype)
        _, (h, c) = self.lstm(torch.cat([support_z, labels], dim=1)[None])  # reads D_tr: (1, N*K, D+N)
        m = len(query_z)
        zeroed = torch.zeros(m, self.n_way, dtype=query_z.dtype, device=query_z.device)
        state = (h.expand(-1, m, -1).contiguous(), c.expand(-1, m, -1).contiguous())
        out, _ = self.lstm(torch.cat([query_z, zeroed], dim=1)[:, None], state)  # each query alone: (M, 1, H)
        return self.out(out[:, 0])  # (M, N)

    def loss(self, episode):
        return cross_entropy_loss(self.predict(episode), episode)


class ProtoNet(nn.Module):
    """Prototypical Networks: minus the squared distance to each class's mean embedding."""

    def __init__(self):
        super().__init__()
        self.embed = backbone()

    def predict(self, episode):
        support_z, query_z = embed_episode(self.embed, episode)
        return protonet_logits(query_z, prototypes(support_z, episode.support_y, episode.n_way))

    def loss(self, episode):
        return cross_entropy_loss(self.predict(episode), episode)


class Matching(nn.Module):
    """Matching Networks, with full-context embeddings (fce=True) or without."""

    def __init__(self, fce=False):
        super().__init__()
        self.embed = backbone()
        dim = self.embed.feature_dim
        self.fce = fce
        if fce:
            self.g_lstm = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)
            self.f_cell = nn.LSTMCell(dim, dim)

    def predict(self, episode):
        """Log-probabilities [M, N] (their argmax is the prediction)."""
        support_z, query_z = embed_episode(self.embed, episode)
        if self.fce:
            support_z = fce_support(support_z, self.g_lstm)
            query_z = fce_query(query_z, support_z, self.f_cell, FCE_STEPS)
        probabilities = matching_probabilities(
            query_z, support_z, episode.support_y, episode.n_way, scale=MATCHING_SCALE
        )
        return probabilities.clamp_min(1e-12).log()

    def loss(self, episode):
        log_p = self.predict(episode)
        return F.nll_loss(log_p, episode.query_y), query_accuracy(log_p, episode)


class MAML(nn.Module):
    """MAML on the backbone with an N-way head; first_order=True drops the second-order terms."""

    def __init__(self, first_order=False, n_way=N_WAY):
        super().__init__()
        self.n_way = n_way
        self.first_order = first_order
        self.net = backbone(num_classes=n_way)

    def adapt(self, episode, steps, create_graph, alpha=MAML_ALPHA):
        """phi: `steps` inner steps of size `alpha` on the episode's support set."""
        params = dict(self.net.named_parameters())
        return inner_adapt(self.net, params, episode.support_x, episode.support_y, steps,
                           alpha, create_graph=create_graph, loss_fn=F.cross_entropy)

    def predict(self, episode, steps=MAML_TRAIN_STEPS, alpha=MAML_ALPHA):
        fixed_ways(self, episode)
        with torch.enable_grad():  # the inner loop needs gradients, even during evaluation
            phi = self.adapt(episode, steps, create_graph=False, alpha=alpha)
        return functional_call(self.net, {name: p.detach() for name, p in phi.items()}, (episode.query_x,))

    def loss(self, episode):
        fixed_ways(self, episode)
        phi = self.adapt(episode, MAML_TRAIN_STEPS, create_graph=not self.first_order)
        return cross_entropy_loss(functional_call(self.net, phi, (episode.query_x,)), episode)


# %% [markdown] id="harness-text"
# ## Exercise 3 — is the evaluation transductive?
#
# A learner is evaluated **non-transductively** when each query's prediction depends on
# the support set and on that query only. BatchNorm with batch statistics (as in 03)
# breaks this: the queries of a task are normalised together, so one query's logits
# move when the others change — the evaluation then uses information a real one-at-a-time
# test would not have, and accuracies are not comparable with non-transductive ones.
#
# Write `transductive_gap(predict, episode)`: the **largest absolute difference**
# between the query logits `predict(episode)` `[M, N]` and the logits of each query $j$
# predicted in an episode that holds the same support set and **only that query**
# (`episode._replace(query_x=..., query_y=...)` makes one; keep the `[1, ...]`
# shape). Return a Python float: `0.0` (up to rounding) for a non-transductive learner.

# %% [solution] id="transductive_gap"
def transductive_gap(predict, episode):
    """max |logits of all queries together - logits of each query alone|, as a float."""
    ### BEGIN SOLUTION
    together = predict(episode)  # (M, N)
    alone = torch.cat([
        predict(episode._replace(query_x=episode.query_x[j : j + 1], query_y=episode.query_y[j : j + 1]))
        for j in range(len(episode.query_x))
    ])  # (M, N)
    return (together - alone).abs().max().item()
    ### END SOLUTION


# %% [tests] id="transductive_gap_tests" points=2
import torch

from cs182meta.episodes import Episode
from cs182meta.probes import StandInLearner
from cs182meta.student import student

generator = torch.Generator().manual_seed(31)
episode = Episode(
    support_x=torch.rand(3, 1, 2, 2, generator=generator),
    support_y=torch.tensor([0, 1, 2]),
    query_x=torch.rand(4, 1, 2, 2, generator=generator),
    query_y=torch.tensor([0, 1, 2, 0]),
    classes=torch.tensor([5, 6, 7]),
)
# StandInLearner("alone") scores each query from its own pixels and the support set;
# "centred" subtracts the mean of the logits over the episode's queries.
alone, centred = StandInLearner("alone"), StandInLearner("centred")
gap = student.transductive_gap(alone, episode)
assert isinstance(gap, float), f"expected a Python float, got {type(gap).__name__}"
assert abs(gap) < 1e-6, f"each query is predicted on its own here: expected a gap of 0, got {gap}"
gap = student.transductive_gap(StandInLearner("raised"), episode)
assert abs(gap - 1.0) < 1e-5, (
    "every logit is 1 higher when the other queries are present, though no predicted class changes: "
    f"expected a gap of 1.0 (a difference of logits, not of predicted classes), got {gap}"
)
gap = student.transductive_gap(StandInLearner("lowered"), episode)
assert abs(gap - 1.0) < 1e-5, (
    f"every logit is 1 lower when the other queries are present: expected a gap of 1.0 (an absolute "
    f"difference), got {gap}"
)
each = [episode._replace(query_x=episode.query_x[j : j + 1], query_y=episode.query_y[j : j + 1]) for j in range(4)]
expected = (centred(episode) - torch.cat([centred(one) for one in each])).abs().max().item()
gap = student.transductive_gap(centred, episode)
assert abs(gap - expected) < 1e-5, (
    f"centring the logits over the queries makes the predictions transductive: expected the largest "
    f"|together - alone| = {expected:.5f}, got {gap}"
)
### BEGIN HIDDEN TESTS
gap = student.transductive_gap(StandInLearner("first_entry"), episode)
assert abs(gap - 2.5) < 1e-5, (
    "one logit of one query is 2.5 lower when the other queries are present: expected a gap of "
    f"2.5 (the largest absolute difference of logits), got {gap}"
)
### END HIDDEN TESTS

# %% [markdown] id="gaps-text"
# The gap of every learner (untrained: the protocol is a property of the architecture),
# on one evaluation task, next to 03's Conv-4 with batch-statistics BatchNorm:

# %% id="gaps"
torch.manual_seed(0)
LEARNERS = {
    "black box (LSTM)": BlackBox,
    "ProtoNet": ProtoNet,
    "Matching": lambda: Matching(fce=False),
    "Matching + FCE": lambda: Matching(fce=True),
    "Siamese": Siamese,
    "MAML": lambda: MAML(first_order=False),
    "first-order MAML": lambda: MAML(first_order=True),
}
probe_episode = EpisodeSampler(evaluation, N_WAY, K_SHOT, EVAL_QUERY, seed=EVAL_SEED)[0].to(DEVICE)
batch_norm_net = Conv4(hidden_channels=HIDDEN, num_classes=N_WAY, batch_stats_bn=True).to(DEVICE)
with torch.no_grad():
    for name, make in LEARNERS.items():
        print(f"{name:18s} gap {transductive_gap(make().to(DEVICE).eval().predict, probe_episode):.2e}")
    print(f"{'03 (batch-stats BN)':18s} gap {transductive_gap(lambda ep: batch_norm_net(ep.query_x), probe_episode):.2e}")


# %% [markdown] id="train-text"
# ## Meta-training, one budget for all
#
# `meta_train` gives each learner the same tasks in the same order and stops at
# `TRAIN_TASKS` tasks or `TRAIN_SECONDS` seconds, whichever comes first. (A learner cut
# by seconds sees fewer tasks on a slower machine: the seconds are the budget a student
# with a laptop has. The table shows both.)

# %% id="train"
def meta_train(learner, seed=TRAIN_SEED):
    """Adam on learner.loss over the seeded training tasks, within the budget; returns a record."""
    learner.to(DEVICE).train()
    sampler = EpisodeSampler(background, N_WAY, K_SHOT, TRAIN_QUERY, num_episodes=TRAIN_TASKS, seed=seed)
    optimizer = torch.optim.Adam(learner.parameters(), lr=LR)
    accuracies, start = [], time.perf_counter()
    for episode in progress(sampler, desc=type(learner).__name__, total=TRAIN_TASKS):
        loss, accuracy = learner.loss(episode.to(DEVICE))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(learner.parameters(), CLIP)
        optimizer.step()
        accuracies.append(accuracy)
        if time.perf_counter() - start > TRAIN_SECONDS:
            break
    learner.eval()
    tasks = len(accuracies)
    return {"tasks": tasks, "images": tasks * N_WAY * (K_SHOT + TRAIN_QUERY),
            "seconds": time.perf_counter() - start, "accuracies": accuracies}


def accuracy(learner, dataset, n_way=N_WAY, k_shot=K_SHOT, tasks=TRADEOFF_TASKS, **options):
    """Mean query accuracy (%, 95% interval) on `tasks` tasks of `dataset`: the same tasks for
    every learner, given n_way and k_shot. Also returns milliseconds per task."""
    sampler = EpisodeSampler(dataset, n_way, k_shot, EVAL_QUERY, num_episodes=tasks,
                             seed=EVAL_SEED + 100 * n_way + k_shot)
    learner.eval()
    start = time.perf_counter()
    result = evaluate_episodes(lambda episode: learner.predict(episode, **options), sampler, DEVICE)
    return result.as_percent(), 1000 * (time.perf_counter() - start) / tasks


def training_memory(learner):
    """MB autograd keeps for the backward pass of one training task (5-way 1-shot)."""
    episode = EpisodeSampler(background, N_WAY, K_SHOT, TRAIN_QUERY, seed=TRAIN_SEED)[0].to(DEVICE)
    learner.train()
    saved = saved_for_backward(lambda: learner.loss(episode)[0])
    learner.eval()
    return saved / 2**20


learners, records = {}, {}
for name, make in LEARNERS.items():
    torch.manual_seed(0)
    learners[name] = make()
    records[name] = meta_train(learners[name])
    record = records[name]
    print(f"{name:18s} {record['tasks']:6d} tasks ({record['images']:7d} images) in {record['seconds']:5.1f} s")

# %% [markdown] id="table-text"
# ## The table: accuracy at the trained N and K, and cost
#
# Every learner on the same `EVAL_TASKS` 5-way 1-shot tasks from the evaluation
# alphabets; the cost columns: training seconds and tasks used of the budget,
# milliseconds per test task, meta-learned parameters, and the memory autograd keeps
# for one training task's backward pass.

# %% id="table"
results = {}
print(f"{'learner':18s} {'5-way 1-shot (%)':>22s} {'train s':>8s} {'tasks':>6s} {'ms/task':>8s} "
      f"{'params':>8s} {'backward MB':>11s}")
for name, learner in learners.items():
    interval, ms = accuracy(learner, evaluation, tasks=EVAL_TASKS)
    results[name] = {"accuracy": interval, "ms": ms, "params": parameter_count(learner),
                     "memory": training_memory(learner)}
    record, row = records[name], results[name]
    print(f"{name:18s} {str(interval):>22s} {record['seconds']:8.1f} {record['tasks']:6d} {ms:8.1f} "
          f"{row['params']:8d} {row['memory']:11.2f}")

# %% [markdown] id="table-note"
# What the quick profile measured (1,000 tasks; glyphs / the Omniglot stand-in): ProtoNet
# 95.6 / 89.7 %, Matching Networks 92.0 / 82.4 % (with FCE 94.5 / 86.7 %), Siamese 87.8 /
# 76.0 %, MAML 73.2 / 63.2 %, first-order MAML 35.1 / 34.2 %, the black box 46.4 / 48.1 %.
# At an equal budget in *seconds* the learners did not see equal numbers of tasks:
# second-order MAML completed less than half as many steps as ProtoNet (1,068 against
# 2,622 on glyphs), because each step differentiates through the inner step. The black
# box is the "hard to optimise" of the lecture, even with 01's start; first-order MAML's
# gap is 03's lesson (one large inner step, α = 0.4, whose dropped second-order terms are
# not small).

# %% [markdown] id="shots-text"
# ## More shots at test time than in training
#
# Every learner was trained on 1-shot tasks. Given $K$ = 5, 10 or 15 examples per class
# at test time, which of them turn the extra data into accuracy? (A class has 20
# drawings; with 5 queries per class, $K = 15$ is the most there is room for.) Each
# setting is measured on `TRADEOFF_TASKS` tasks, the same for every learner, so its
# intervals are wider than the table's. MAML is run with its training number of inner
# steps; the next cell gives it more.

# %% id="shots"
by_shots = {name: [] for name in learners}
for k in TEST_SHOTS:
    for name, learner in learners.items():
        by_shots[name].append(accuracy(learner, evaluation, k_shot=k)[0])  # K = 1 again: the same tasks as below
    print(f"K={k:2d} " + " | ".join(f"{name} {by_shots[name][-1].mean:5.1f}" for name in learners))
plot_accuracy_vs_shots(by_shots, TEST_SHOTS, N_WAY, title="trained at K = 1, tested at K")
plt.show()

# %% [markdown] id="steps-text"
# **More inner steps at test time.** An optimisation-based learner can also spend more
# computation on a task: more gradient steps on the support set. Finn & Levine (2018)
# call a meta-learner *consistent* when, given enough data and steps, it keeps improving
# on a new task whatever it learned in meta-training — a gradient step is still a
# learning algorithm. MAML with `MAML_TEST_STEPS` inner steps, of the training size
# `MAML_ALPHA` and of a smaller one, `MAML_SMALL_ALPHA`, at 1 shot and at the largest $K$,
# on the tasks of the cell above:

# %% id="steps"
by_steps = {}
for k in (TEST_SHOTS[0], TEST_SHOTS[-1]):
    for alpha in (MAML_ALPHA, MAML_SMALL_ALPHA):
        by_steps[k, alpha] = [
            by_shots["MAML"][TEST_SHOTS.index(k)] if (s, alpha) == (MAML_TRAIN_STEPS, MAML_ALPHA)
            else accuracy(learners["MAML"], evaluation, k_shot=k, steps=s, alpha=alpha)[0]
            for s in MAML_TEST_STEPS]
        print(f"MAML K={k:2d} alpha={alpha}: " + "  ".join(
            f"{s} steps {r}" for s, r in zip(MAML_TEST_STEPS, by_steps[k, alpha])))

# %% [markdown] id="steps-note"
# **Measured:** more steps of the *training* size hurt, more steps of a *smaller* size help
# (glyphs / Omniglot stand-in, 1 shot: 74 / 65 % after the one meta-trained step; 38 / 23 %
# after 5 steps of α = 0.4; 84 / 76 % after 5 steps of α = 0.1). MAML was meta-trained
# for exactly one step of α = 0.4: its initialisation is the point from which that one
# step lands well, and further steps of the same size overshoot — the loss on the support
# set itself goes from 1.63 to 0.26 after the first step and back up to 2.04 after the
# third (glyphs, 100 tasks, `benchmarks/maml_test_steps.py`). With α = 0.1 it falls at
# every step. That is consistency (Finn & Levine, 2018): the adaptation is still gradient
# descent, so with enough data and steps *of a suitable size* it keeps fitting the new
# task — an asymptotic promise, not a promise that the meta-trained step size stays right
# for more steps.

# %% [markdown] id="ways-text"
# ## More ways at test time
#
# Trained on 5-way tasks, tested on `WIDE_WAY`-way 1-shot tasks (chance: 5%). A learner
# whose output layer has 5 units cannot answer them without a new output layer; the
# comparison-based ones need nothing new.

# %% id="ways"
by_ways = {}
for name, learner in learners.items():
    outputs = getattr(learner, "n_way", None)  # an output layer of a fixed size, or None
    if outputs is not None and outputs != WIDE_WAY:
        by_ways[name] = None
        print(f"{name:18s} {WIDE_WAY}-way 1-shot: -- ({outputs} output units: no answer for "
              f"{WIDE_WAY} classes without a new output layer)")
        continue
    by_ways[name] = accuracy(learner, evaluation, n_way=WIDE_WAY)[0]
    print(f"{name:18s} {WIDE_WAY}-way 1-shot {by_ways[name]} %")

# %% [markdown] id="shift-text"
# ## Out of distribution
#
# The 5-way 1-shot and 5-shot tasks of the shots cell, on unseen characters drawn as in
# training (held-out alphabets), and the same tasks on the shifted set (the same
# characters, the same drawings, sheared and shrunk). The drop says how much each learner
# relied on images looking like the training images.

# %% id="shift"
by_shift = {}
for name, learner in learners.items():
    by_shift[name] = {k: (by_shots[name][TEST_SHOTS.index(k)], accuracy(learner, shifted_evaluation, k_shot=k)[0])
                      for k in (1, 5)}
    print(f"{name:18s} " + " | ".join(f"{k}-shot {held_out.mean:5.1f} -> {moved.mean:5.1f}"
                                      for k, (held_out, moved) in by_shift[name].items()))

# %% [markdown] id="shift-note"
# **Measured:** every learner lost accuracy on the shifted set, and MAML lost *more* than
# ProtoNet (1-shot drops, glyphs / Omniglot stand-in: ProtoNet 2.7 / 6.2 points, MAML
# 8.4 / 10.2, Siamese 7.8 / 7.7). The lecture's claim that optimisation-based learners
# extrapolate better needs their adaptation to *change the features* for the new kind of
# image; one step of α = 0.4 on one or five examples per class changes them little, so at
# this budget the better-trained embedding (ProtoNet's) decides. (The black box drops
# little because it starts low.)

# %% [markdown] id="written-q1"
# ## Written questions (graded by hand)
#
# Answer each from the numbers your notebook printed (say which dataset and profile).
#
# **Q1.** Compare the Siamese network with ProtoNet in the table. Both compare a query
# with support images in a learned feature space and saw the same training images;
# what differs is the objective. Explain the difference you measured with the lecture's
# principle that meta-training should match how the learner is tested.

# %% [written] id="siamese_vs_protonet" points=2
# ProtoNet is trained on exactly the decision it makes at test time: pick one of N
# classes for a query given a labelled support set, with the cross-entropy of that N-way
# choice. The Siamese network is trained on another question, whether one pair shows the
# same character, each pair judged on its own with a binary loss; the one-shot
# classifier (the most similar support image) is bolted on afterwards. With the same
# images and seconds it is clearly behind (quick profile, 5-way 1-shot: 87.8 % against
# 95.6 % on glyphs, 76.0 % against 89.7 % on the Omniglot stand-in), and further behind
# at 20-way (66 against 87 %, 48 against 74 %). The verification loss spends capacity on
# calibrated absolute same/different scores for every pair, while the N-way decision
# only needs the right ranking of the N candidates, which the episodic loss trains
# directly. So verification training does transfer to one-shot classification (far
# above chance), but less well than training on the classification tasks themselves:
# the lecture's "train the way you test" (match meta-training to the test tasks).

# %% [markdown] id="written-q2"
# **Q2.** All learners were trained at $K = 1$. Which of them gained the most from
# $K = 5, 10, 15$ at test time, which the least, and why? What did more inner steps do
# for MAML, and what does "consistency" (Finn & Levine, 2018) promise here?

# %% [written] id="more_shots" points=3
# The non-parametric learners use the extra shots best: a prototype is a mean, and more
# examples make each mean a better estimate of the class centre, so ProtoNet climbs from
# 96 % at K = 1 to 99 % at K = 15 on glyphs (90 to 97 % on the Omniglot stand-in);
# Matching Networks, with or without FCE, and the Siamese network gain too (each extra
# support image is one more point to compare with). MAML also gains (74 to 83 %, 65 to
# 75 %): its inner step fits all N*K support images, so more data gives a better
# adapted model. The black box gains nothing and loses some (46 to 40 % on glyphs; 48 %
# at best and 45 % at K = 15 on Omniglot): its "learning algorithm" is whatever its
# recurrent weights do with sequences of the length it was trained on (5 items); a
# sequence of 75 items is out of distribution for it and nothing makes it use the extra
# items well. More inner steps helped MAML only at a smaller step size: 5 steps of the
# training size α = 0.4 fell to 38 % (23 % on Omniglot) because the initialisation was
# meta-trained for exactly one step of that size and further steps overshoot (the
# support loss rises again), while 5 steps of α = 0.1 reached 84 % (76 %) at K = 1 and
# 94 % (90 %) at K = 15. That is consistency (Finn & Levine 2018): unlike the black box,
# an optimisation-based learner keeps a learning algorithm at test time, so with enough
# data and steps of a suitable size gradient descent keeps fitting the new task whatever
# was meta-learned; it does not promise that the meta-trained step size suits more steps.

# %% [markdown] id="written-q3"
# **Q3.** Which learners could answer the 20-way tasks, which could not, and why? Use the
# cost columns of the table: what does each family pay for its adaptation (time per
# test task, memory in training), and how would that grow with $N \cdot K$?

# %% [written] id="ways_and_cost" points=3
# The comparison-based learners (ProtoNet, Matching with and without FCE, Siamese)
# answered 20-way tasks unchanged, since they score each support class however many
# there are; accuracy drops with four times as many classes to confuse (ProtoNet 87 %,
# FCE 83 %, Matching 77 %, Siamese 66 % on glyphs; 74, 67, 61 and 48 % on the Omniglot
# stand-in; chance 5 %). The black box and MAML could not: both end in an output layer of
# 5 units, so a 20-way task needs a new output layer (for MAML a 20-way head started at
# zero and adapted; for the LSTM, retraining). Cost: the non-parametric learners are
# cheapest at test time (one forward pass, about 5 ms per task); MAML takes 7-12 ms per
# task with one inner step and more with more steps. In training, second-order MAML
# keeps the most memory for backward (12.6 MB against 10.6 for ProtoNet and 10.7 for
# first-order MAML at one inner step; it grows with every inner step), and each of its
# steps is more than twice as slow, so in equal seconds it saw less than half as many
# tasks (1,068 against 2,622 on glyphs). The black box has four times the parameters
# (114k against 28k, its LSTM). All grow with N*K: the black box reads N*K items one
# after another, MAML processes all N*K support images at every inner step, ProtoNet and
# Matching embed them once (Matching's attention is M x N*K).

# %% [markdown] id="written-q4"
# **Q4.** On the shifted test set, which learners lost the most accuracy and which the
# least? Does the measurement support the claim that optimisation-based learners cope
# better with tasks unlike the training tasks? If it does not, say why at this budget.

# %% [written] id="out_of_distribution" points=2
# Every learner lost accuracy on the sheared and shrunk glyphs, because its features
# were meta-learned on upright, full-size strokes. Among the learners that had learned
# something, MAML and the Siamese network lost the most (1 shot: MAML 8.4 points on
# glyphs and 10.2 on the Omniglot stand-in, Siamese 7.8 and 7.7), ProtoNet among the
# least (2.7 and 6.2); at 5 shots MAML lost 6.5 and 10.9 points, ProtoNet 1.0 and 3.0.
# So the measurement does not support the claim that optimisation-based learners cope
# better with tasks unlike the training tasks, at this budget. The claim rests on
# adaptation changing the features for the new kind of image; one gradient step of
# α = 0.4 on one or five examples per class changes them little (and more steps of that
# size overshoot, as the steps cell showed), so the quality of the meta-learned embedding
# decides, and ProtoNet's is the best trained. The advantage would need larger shifts,
# more support data and more, well-sized inner steps. (The black box drops little only
# because it starts near 47 %.)

# %% [markdown] id="hand-in-text"
# ## Handing in
#
# Submit this notebook to the autograded assignment. The written answers are graded
# from a PDF, one question per page: in a terminal in this folder run
# `python -m cs182meta export 04_families.ipynb --name "your name or SID"` and upload
# `04_families-written.pdf` to the written-answers assignment. It needs Chromium (see
# the README); a blank answer shows as "No answer given."
