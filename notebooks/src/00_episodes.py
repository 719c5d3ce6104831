# %% [markdown] id="intro"
# # 00 — Tasks, episodes, and learning from a handful of examples
#
# Ordinary supervised learning fits one function $f(x) \rightarrow y$ to one large
# dataset. Meta-learning changes what a single training example is: it is a whole
# **task** $\mathcal{T}_i$ — a small training set $\mathcal{D}^{tr}_i$ and a test set
# $\mathcal{D}^{ts}_i$ — and the thing we learn is a function of a dataset,
#
# $$f(\mathcal{D}^{tr}, x) \rightarrow y .$$
#
# If a network has seen many tasks (telling cats from dogs, zebras from horses, ...),
# it should pick up a new one (telling hot dogs from burgers) from just a few
# pictures, because the tasks share structure even when their labels don't.
#
# This notebook sets up the vocabulary used in all the others: what a task and an
# episode are, and what happens if we treat each new task on its own ("generic
# learning"). The next three notebooks implement the three families of
# meta-learning from the lecture: black-box, non-parametric and optimization-based.

# %% id="setup"
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from cs182meta import settings
from cs182meta.data import load
from cs182meta.episodes import EpisodeSampler
from cs182meta.evaluate import evaluate_episodes
from cs182meta.plotting import plot_accuracy_vs_shots, show_episode
from cs182meta.profiles import by_profile, notebook_setup

PROFILE, DEVICE = notebook_setup(seed=0)

# %% [markdown] id="parameters-text"
# The cell below holds every knob of this notebook. Under the autograder the
# `grading` profile keeps each run short; `quick` (the CPU default) and `full` run
# more episodes. Set `CS182META_PROFILE` to choose one.

# %% [parameters]
DATASET = settings.dataset()  # $CS182META_DATASET: "glyphs" (default, made offline) or "omniglot"
N_WAY = 5  # classes per task
SHOTS = (1, 5, 10)  # K: examples per class in D_tr
Q_QUERY = 5  # examples per class in D_ts
EVAL_EPISODES = by_profile(grading=8, quick=100, full=600)
BASELINE_STEPS = 100  # gradient steps of the generic learner on one task

# %% [markdown] id="episodes-text"
# ## Tasks and episodes
#
# We need many tasks. The kit's default data set is a family of generated
# handwritten alphabets that looks and behaves like Omniglot (set
# `CS182META_DATASET=omniglot` to use the real thing): each *character* is a class
# with 20 drawings of it. A task is built by sampling:
#
# 1. $N$ characters (the *ways*), relabelled $0, \dots, N-1$ — a label only means
#    something inside its own task;
# 2. $K$ drawings of each for $\mathcal{D}^{tr}$ (the *support* set, $N \cdot K$
#    images) and $Q$ other drawings of each for $\mathcal{D}^{ts}$ (the *query* set).
#
# One such sample is an **episode**. Meta-training draws episodes from the
# *background* alphabets; we judge a method on episodes from *evaluation* alphabets
# that it has never seen, so success means learning new characters, not
# remembering old ones.

# %% id="show-episode"
evaluation = load(DATASET, split="evaluation")
print(evaluation)
episodes = EpisodeSampler(evaluation, n_way=N_WAY, k_shot=1, q_query=Q_QUERY, seed=0)
episode = episodes[0]
show_episode(episode, class_names=evaluation.class_names)
plt.show()

# %% id="episode-shapes" tags=["nbval-check-output"]
for field, value in episode._asdict().items():
    print(f"{field:10s} {str(tuple(value.shape)):18s} {value.dtype}")


# %% [markdown] id="ex1-text"
# ## Exercise 1 — a learner with nothing to learn: nearest neighbour in pixels
#
# The simplest $f(\mathcal{D}^{tr}, x)$ compares the query image $x$ with every
# support image and copies the label of the closest one. Implement it with the
# Euclidean distance between flattened images.
#
# * `support_x`: `[N*K, 1, H, W]`, `support_y`: `[N*K]` labels in `0..N-1`
# * `query_x`: `[M, 1, H, W]`
# * return: `[M]` predicted labels (`int64`)
#
# Don't assume the support set is sorted by class.

# %% [solution] id="nearest_neighbour"
def nearest_neighbour_predict(support_x, support_y, query_x):
    """Label of the nearest support image (Euclidean, in pixel space) per query."""
    ### BEGIN SOLUTION
    distances = torch.cdist(query_x.flatten(1), support_x.flatten(1))  # (M, N*K)
    nearest = distances.argmin(dim=1)  # (M,)
    return support_y[nearest]
    ### END SOLUTION


# %% [tests] id="nearest_neighbour_tests" points=3
import torch

from cs182meta.student import student

generator = torch.Generator().manual_seed(0)
support_x = torch.rand(10, 1, 28, 28, generator=generator)
support_y = torch.tensor([3, 1, 4, 0, 2, 2, 0, 4, 1, 3])  # shuffled, K = 2
order = torch.tensor([7, 2, 9, 0, 5])
query_x = support_x[order] + 0.01 * torch.rand(5, 1, 28, 28, generator=generator)
predicted = student.nearest_neighbour_predict(support_x, support_y, query_x)
assert torch.is_tensor(predicted), f"expected a tensor of labels, got {type(predicted).__name__}"
assert predicted.shape == (5,), f"expected shape (5,), got {tuple(predicted.shape)}"
assert predicted.dtype == torch.int64, f"labels must be int64, got {predicted.dtype}"
assert set(predicted.tolist()) <= set(support_y.tolist()), (
    f"every prediction must be one of the support labels {sorted(set(support_y.tolist()))}; "
    f"got {predicted.tolist()}"
)
assert predicted.tolist() == support_y[order].tolist(), (
    "a query that is almost a copy of a support image must get that image's label"
)
### BEGIN HIDDEN TESTS
support_x = torch.rand(12, 1, 28, 28, generator=generator)
support_y = torch.randperm(12, generator=generator) % 4
query_x = torch.rand(9, 1, 28, 28, generator=generator)
expected = torch.stack(
    [support_y[((support_x - q) ** 2).sum(dim=(1, 2, 3)).argmin()] for q in query_x]
)
got = student.nearest_neighbour_predict(support_x, support_y, query_x)
assert torch.is_tensor(got) and torch.equal(got, expected), (
    "on random 4-way images, a prediction is not the label of the support image closest in pixels"
)
### END HIDDEN TESTS

# %% [markdown] id="ex2-text"
# ## Exercise 2 — generic learning: a fresh network per task
#
# The "generic learning" view from the lecture: for a single task, find
# $\theta^\star = \arg\min_\theta \mathcal{L}(\theta, \mathcal{D}^{tr})$ — train a
# network on the support set alone, starting from scratch, then apply it to the
# query set. Nothing carries over from one task to the next.
#
# Complete `fit_generic_learner`: `steps` steps of Adam (learning rate `lr`) on the
# cross-entropy of the network's logits on the whole support set. The network is
# made for you.

# %% id="small-network"
def make_small_network(n_way, image_pixels=28 * 28):
    """A small MLP: [B, 1, 28, 28] -> [B, n_way] logits."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(image_pixels, 64), nn.ReLU(), nn.Linear(64, n_way)
    )


# %% [solution] id="generic_learner"
def fit_generic_learner(support_x, support_y, n_way, steps=BASELINE_STEPS, lr=1e-2, seed=0):
    """Train a fresh network on D_tr only; return it in eval mode."""
    torch.manual_seed(seed)
    model = make_small_network(n_way)
    ### BEGIN SOLUTION
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(model(support_x), support_y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    ### END SOLUTION
    return model.eval()


# %% [tests] id="generic_learner_tests" points=3
import torch
from torch import nn

from cs182meta.data import load
from cs182meta.episodes import EpisodeSampler
from cs182meta.student import student

task = EpisodeSampler(load(split="evaluation"), n_way=5, k_shot=5, q_query=2, seed=1)[0]
model = student.fit_generic_learner(task.support_x, task.support_y, n_way=5, steps=100)
assert student.is_instance(model, "torch.nn.Module"), (
    f"expected an nn.Module, got {getattr(model, 'type_name', type(model).__name__)}"
)
logits = model(task.support_x)
assert logits.shape == (25, 5), f"expected logits [25, 5], got {tuple(logits.shape)}"
train_accuracy = (logits.argmax(1) == task.support_y).float().mean().item()
assert train_accuracy == 1.0, (
    f"100 Adam steps should fit 25 support images perfectly; got {train_accuracy:.2f}"
)
### BEGIN HIDDEN TESTS
untrained = student.fit_generic_learner(task.support_x, task.support_y, n_way=5, steps=0)
trained = student.fit_generic_learner(task.support_x, task.support_y, n_way=5, steps=20)
again = student.fit_generic_learner(task.support_x, task.support_y, n_way=5, steps=20)
for a, b in zip(list(trained.parameters()), list(again.parameters())):
    assert torch.equal(a, b), "the same seed must give the same network"
loss_before = nn.functional.cross_entropy(untrained(task.support_x), task.support_y)
loss_after = nn.functional.cross_entropy(trained(task.support_x), task.support_y)
assert loss_after < 0.5 * loss_before, (
    f"training must lower the support loss: {loss_before.item():.3f} before, "
    f"{loss_after.item():.3f} after 20 steps"
)
# Three steps, a large learning rate: exactly what three Adam steps on the support
# cross-entropy give (gradients of earlier steps must not pile up; lr must be used).
got = student.fit_generic_learner(task.support_x, task.support_y, n_way=5, steps=3, lr=0.05, seed=3)
torch.manual_seed(3)  # the provided small network, made again here from the same seed
reference = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 64), nn.ReLU(), nn.Linear(64, 5))
optimizer = torch.optim.Adam(reference.parameters(), lr=0.05)
for _ in range(3):
    optimizer.zero_grad()
    nn.functional.cross_entropy(reference(task.support_x), task.support_y).backward()
    optimizer.step()
got_parameters = list(got.parameters())
assert len(got_parameters) == len(list(reference.parameters())), (
    "the network returned is not the provided small network"
)
for a, b in zip(got_parameters, reference.parameters()):
    assert torch.allclose(a, b, atol=1e-5), (
        "after steps=3, lr=0.05 the network differs from 3 Adam steps at that learning rate on the "
        "support cross-entropy: clear the gradients before each backward pass, and use lr"
    )
### END HIDDEN TESTS

# %% [markdown] id="compare-text"
# ## How many shots does each approach need?
#
# Both learners read only $\mathcal{D}^{tr}$ of a new task. Below we measure their
# query accuracy on episodes from the unseen evaluation alphabets, for 1, 5 and 10
# shots (chance is $1/N$ = 20 %).

# %% id="compare"
def nearest_neighbour_logits(ep):
    predicted = nearest_neighbour_predict(ep.support_x, ep.support_y, ep.query_x)
    return F.one_hot(predicted, N_WAY).float()


def generic_learner_logits(ep):
    with torch.enable_grad():
        model = fit_generic_learner(ep.support_x, ep.support_y, N_WAY)
    return model(ep.query_x)


results = {"pixel nearest neighbour": [], "generic learner (fresh MLP)": []}
for k in SHOTS:
    sampler = EpisodeSampler(
        evaluation, N_WAY, k, Q_QUERY, num_episodes=EVAL_EPISODES, seed=100 + k
    )
    for name, predict in zip(results, (nearest_neighbour_logits, generic_learner_logits)):
        accuracy = evaluate_episodes(predict, sampler).as_percent()
        results[name].append(accuracy)
        print(f"{k:2d}-shot  {name:28s} {accuracy} %")

plot_accuracy_vs_shots(results, SHOTS, N_WAY)
plt.show()

# %% [markdown] id="outlook-text"
# ## From generic learning to generic meta-learning
#
# Neither learner gets better with experience: the hundredth task is solved exactly
# like the first. The lecture's second view fixes that. Let a network with
# parameters $\theta$ turn a training set into task-specific parameters,
# $\phi_i = f_\theta(\mathcal{D}^{tr}_i)$, and choose $\theta$ so that those
# $\phi_i$ do well on the matching test sets, summed over many tasks:
#
# $$\theta^\star = \arg\min_\theta \sum_{i=1}^{n} \mathcal{L}(\phi_i, \mathcal{D}^{ts}_i).$$
#
# Training is then ordinary supervised learning in which every example is an
# episode. What $f_\theta$ looks like is what separates the three families:
#
# * **black-box** (notebook 01): a sequence model reads $\mathcal{D}^{tr}$ and its
#   hidden state plays the part of $\phi_i$;
# * **non-parametric** (notebook 02): $\phi_i$ is the support set itself, compared
#   with queries in a *learned* feature space — nearest neighbour, but not in pixels;
# * **optimization-based** (notebook 03): $\phi_i$ is $\theta$ after a few gradient
#   steps on $\mathcal{D}^{tr}_i$ — the generic learner above, but starting from a
#   $\theta$ meta-learned so that those few steps suffice.

# %% [markdown] id="written-prompt"
# ## Written question (graded by hand)
#
# In a few sentences: why does nearest neighbour on raw pixels do so poorly here,
# even with 10 shots? What would a meta-learned method learn from the background
# alphabets that the pixel learner and the fresh MLP cannot?

# %% [written] id="why_pixels_fail" points=2
# Pixel distance compares images position by position, so two drawings of the same
# character that are shifted, slanted or drawn with a different stroke width are
# far apart, while different characters with ink in similar places are close. More
# shots help only slowly because each new drawing is again compared pixel by pixel.
# The fresh MLP has the same problem and, with 5-50 images, overfits. A
# meta-learned method uses the many background tasks to learn what stays the same
# across drawers (a feature space, an initialization, or an update rule) so that a
# new character can be recognised from one or a few examples.

# %% [markdown] id="hand-in-text"
# ## Handing in
#
# Submit this notebook to the autograded assignment. The written answers are graded
# from a PDF, one question per page: in a terminal in this folder run
# `python -m cs182meta export 00_episodes.ipynb --name "your name or SID"` and upload
# `00_episodes-written.pdf` to the written-answers assignment. It needs Chromium (see
# the README); a blank answer shows as "No answer given."
