# %% [markdown] id="intro"
# # 02 — Non-parametric meta-learning: Prototypical and Matching Networks
#
# In the black-box approach of notebook 01 a sequence model reads the whole training
# set $\mathcal{D}^{tr}$ of a task and its hidden state stands in for task-specific
# parameters $\phi_i$. This notebook takes the opposite route: adapting to a new task
# fits **no** parameters at all. The network still has parameters $\theta$ — they are
# meta-learned across many tasks — but for each task the "model" is just the support
# set itself, and a query is classified by comparing it with the labelled examples:
# parametric at the meta level, non-parametric per task.
#
# The plan follows the lecture:
#
# 1. **The high-level idea.** In a 5-way 1-shot task, give a query the label of the
#    most similar support image. Pixel values make a poor measure of similarity, so
#    we compare images in the feature space of an extractor network $f_\theta$
#    instead — and *learn* that space.
# 2. **The objective.** Train $\theta$ end to end so that the comparison gives the
#    right labels on the test sets of many tasks,
#    $$\min_\theta \; -\sum_{i=1}^{n} \sum_{j} \log p_\theta\!\left(y^{ts}_j \mid x^{ts}_j, \mathcal{D}^{tr}_i\right).$$
# 3. **Two ways to define** $p_\theta(y \mid x, \mathcal{D}^{tr})$: Prototypical
#    Networks (Snell et al., 2017) compare a query with one mean embedding per class;
#    Matching Networks (Vinyals et al., 2016) let the query attend over every support
#    example.

# %% id="setup"
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from cs182meta import settings
from cs182meta.data import load, load_meta_splits
from cs182meta.episodes import EpisodeSampler
from cs182meta.evaluate import evaluate_episodes, progress
from cs182meta.models import Conv4
from cs182meta.plotting import plot_accuracy_vs_shots, plot_learning_curves, smooth
from cs182meta.profiles import by_profile, notebook_setup

PROFILE, DEVICE = notebook_setup(seed=0)

# %% [markdown] id="parameters-text"
# Every knob of the notebook. The `grading` profile (autograder, CI) trains for a
# handful of steps and evaluates on a few episodes of a subset of the evaluation
# classes; `quick` (the CPU default) trains for about five minutes in all (each
# method prints its seconds per step) and evaluates on 600 episodes; `full` is for a GPU and the papers' scale. Choose with
# `CS182META_PROFILE`.

# %% [parameters]
DATASET = settings.dataset()  # $CS182META_DATASET: "glyphs" (default, made offline) or "omniglot"
N_WAY = 5  # classes per test task
SHOTS = (1, 5, 10)  # K at test time
EVAL_QUERY = 10  # queries per class at test time (a class has 20 drawings, K <= 10)
EVAL_EPISODES = by_profile(grading=20, quick=600, full=1000)
EVAL_CLASSES = by_profile(grading=40, quick=None, full=None)  # None: all of them

# Meta-training episodes: Snell et al. train with more ways than they test with.
TRAIN_WAY = by_profile(grading=5, quick=20, full=60)
TRAIN_SHOT = 1
TRAIN_QUERY = 5
TRAIN_ROTATIONS = by_profile(grading=False, quick=True, full=True)  # each character's 4 rotations: 4 classes
PROTO_STEPS = by_profile(grading=4, quick=1_200, full=20_000)  # one episode per step
MATCHING_STEPS = by_profile(grading=4, quick=1_200, full=20_000)
LR = by_profile(grading=3e-3, quick=3e-3, full=1e-3)  # Adam; a cosine takes it to 0 over the run
MATCHING_SCALE = 30.0  # softmax(scale * cosine); Vinyals et al. use 1

# %% [markdown] id="data-text"
# ## Data
#
# Meta-training draws tasks from the *background* alphabets; every number reported
# below comes from tasks built from the *evaluation* alphabets, whose characters the
# networks never see during training.
#
# With `TRAIN_ROTATIONS`, each background character also appears rotated by 90, 180
# and 270 degrees, and each rotation counts as a **new class** — the standard
# augmentation for Omniglot (Santoro et al., 2016; Vinyals et al., 2016): four times
# as many training classes, at no cost. (A rotated character is not the same class:
# a "6" turned upside down is a "9".) The evaluation alphabets are left as they are.

# %% id="data"
background, evaluation = load_meta_splits(DATASET, eval_classes=EVAL_CLASSES)  # a spread-out subset when grading
if TRAIN_ROTATIONS:
    background = background.with_rotations()  # (4 * classes, 20, 1, 28, 28)
print("meta-training:", background)
print("evaluation:   ", evaluation)


# %% [markdown] id="ex1-text"
# ## Exercise 1 — nearest neighbour in an embedding space
#
# The high-level idea: compare the query with each training image and copy the label
# of the closest one. *Where* we measure "closest" is the whole question, so write the
# nearest-neighbour rule for any embedding function `embed` (images `[B, 1, H, W]` →
# features `[B, D]`): embed both sets, then use the Euclidean distance between
# features.
#
# * `support_x`: `[N*K, 1, H, W]`, `support_y`: `[N*K]` labels in `0..N-1` (any order)
# * `query_x`: `[M, 1, H, W]`
# * return: `[M]` predicted labels (`int64`)
#
# With `embed = nn.Flatten()` this is nearest neighbour in pixel space (notebook 00).

# %% [solution] id="embedding_nearest_neighbour"
def embedding_nearest_neighbour(embed, support_x, support_y, query_x):
    """Label of the support example whose embedding is nearest (Euclidean) to each query's."""
    ### BEGIN SOLUTION
    support_z = embed(support_x)  # (N*K, D)
    query_z = embed(query_x)  # (M, D)
    distances = torch.cdist(query_z, support_z)  # (M, N*K)
    return support_y[distances.argmin(dim=1)]
    ### END SOLUTION


# %% [tests] id="embedding_nearest_neighbour_tests" points=2
import torch
from torch import nn

from cs182meta.student import student

generator = torch.Generator().manual_seed(0)
support_x = torch.rand(6, 1, 4, 4, generator=generator)
support_y = torch.tensor([2, 0, 1, 1, 0, 2])  # shuffled, K = 2
# An embedding that keeps only the mean brightness of an image: [B, 1, 4, 4] -> [B, 1].
brightness = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
# Queries whose pixels are random but whose brightness matches support images 4, 2, 0, 2.
query_x = torch.rand(4, 1, 4, 4, generator=generator)
targets = support_x[[4, 2, 0, 2]].mean(dim=(1, 2, 3))
query_x = query_x - query_x.mean(dim=(1, 2, 3), keepdim=True) + targets[:, None, None, None]
predicted = student.embedding_nearest_neighbour(brightness, support_x, support_y, query_x)
assert torch.is_tensor(predicted), f"expected a tensor of labels, got {type(predicted).__name__}"
assert predicted.shape == (4,), f"expected shape (4,) (one label per query), got {tuple(predicted.shape)}"
assert predicted.dtype == torch.int64, f"labels must be int64, got {predicted.dtype}"
assert predicted.tolist() == [0, 1, 2, 1], (
    f"distances must be measured between embeddings: expected [0, 1, 2, 1], got {predicted.tolist()}"
)
### BEGIN HIDDEN TESTS
torch.manual_seed(1)
embed = nn.Sequential(nn.Flatten(), nn.Linear(64, 5))
support_x = torch.rand(12, 1, 8, 8, generator=generator)
support_y = torch.randperm(12, generator=generator) % 4
query_x = torch.rand(7, 1, 8, 8, generator=generator)
got = student.embedding_nearest_neighbour(embed, support_x, support_y, query_x)
with torch.no_grad():
    s, q = embed(support_x), embed(query_x)
    expected = torch.stack([support_y[((s - z) ** 2).sum(dim=1).argmin()] for z in q])
assert torch.is_tensor(got) and torch.equal(got, expected), (
    f"with a linear embedding of 8x8 images: expected {expected.tolist()}, "
    f"got {got.tolist() if torch.is_tensor(got) else got}"
)
### END HIDDEN TESTS

# %% [markdown] id="pixels-text"
# ### Pixels versus features
#
# To evaluate many episodes cheaply we embed every evaluation image **once** (with the
# network in evaluation mode an image's embedding does not depend on which episode it
# is in) and draw episodes directly from that table of features: `EpisodeSampler`
# accepts any tensor `[classes, examples, ...]`, and with the same seed it draws the
# same classes and examples whatever the table holds. So every method below is scored
# on exactly the same tasks.
#
# First, the motivating picture: nearest neighbour in pixel space, and in the 64-d
# feature space of a Conv-4 network that has not been trained at all.

# %% id="pixels"
@torch.no_grad()
def embed_dataset(model, dataset, batch_size=100):
    """Every image of `dataset` through `model` (in eval mode): [classes, examples, D]."""
    model.eval()
    images = dataset.images.flatten(0, 1)  # (classes * examples, 1, H, W), uint8
    features = [
        model(images[i : i + batch_size].to(DEVICE, torch.float32) / 255).cpu()
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(features).view(len(dataset), dataset.examples_per_class, -1)


def accuracy_on(table, predict, k_shot):
    """Query accuracy (%, 95% interval) of `predict` on N_WAY-way K-shot episodes of `table`."""
    sampler = EpisodeSampler(
        table, N_WAY, k_shot, EVAL_QUERY, num_episodes=EVAL_EPISODES, seed=1000 + k_shot
    )
    return evaluate_episodes(predict, sampler).as_percent()


def nearest_neighbour_on_table(episode):
    """One-hot 'logits' of nearest neighbour on an episode of features."""
    predicted = embedding_nearest_neighbour(
        nn.Identity(), episode.support_x, episode.support_y, episode.query_x
    )
    return F.one_hot(predicted, episode.n_way).float()


torch.manual_seed(0)
tables = {
    "pixels": embed_dataset(nn.Flatten(), evaluation),
    "untrained Conv-4": embed_dataset(Conv4().to(DEVICE), evaluation),
}
for name, table in tables.items():
    print(f"nearest neighbour, {N_WAY}-way 1-shot, {name:18s} {accuracy_on(table, nearest_neighbour_on_table, 1)} %")


# %% [markdown] id="ex2-text"
# Even random convolutional features beat raw pixels: convolution and pooling make
# the comparison tolerant to small shifts of the strokes. But nothing in random
# weights says *which* differences between two drawings matter, and two drawings of
# one character still often land farther apart than drawings of two different ones.
# The fix is to **learn** $f_\theta$ so that drawings of the same character land
# close together — and to learn it from the same kind of nearest-neighbour
# decisions we will make at test time.
#
# ## Prototypical Networks
#
# A hard nearest neighbour has no useful gradient, so we need a soft version that
# outputs a probability. Prototypical Networks summarise each class $n$ of the support
# set by its **prototype**, the mean embedding of its examples,
#
# $$c_n = \frac{1}{|S_n|} \sum_{(x_i, y_i) \in \mathcal{D}^{tr},\; y_i = n} f_\theta(x_i),$$
#
# and turn (negative, squared Euclidean) distances to the prototypes into class
# probabilities with a softmax:
#
# $$p_\theta(y = n \mid x, \mathcal{D}^{tr}) = \frac{\exp\left(-\lVert f_\theta(x) - c_n \rVert^2\right)}{\sum_{n'} \exp\left(-\lVert f_\theta(x) - c_{n'} \rVert^2\right)}.$$
#
# Nothing here is fitted per task: a new task costs one forward pass.
#
# The lecture's "k-means for tasks": each prototype is the **cluster centre** of one
# class in embedding space — the mean that k-means would compute for that cluster, with
# the clusters given by the support labels instead of found by iterating — and a query
# joins the nearest centre. Training $f_\theta$ shapes the space so that these
# centres separate the classes.
#
# ## Exercise 2 — prototypes
#
# `prototypes(support_embeddings, support_y, n_way)`: `[N*K, D]` and `[N*K]` →
# `[N, D]`, row $n$ the mean embedding of the support examples labelled $n$. Do not
# assume the support set is sorted by class, and keep it differentiable (no
# `.detach()`, no NumPy): training sends gradients through the prototypes.

# %% [solution] id="prototypes"
def prototypes(support_embeddings, support_y, n_way):
    """Mean support embedding of each class: [N*K, D], [N*K] -> [N, D]."""
    ### BEGIN SOLUTION
    return torch.stack([support_embeddings[support_y == n].mean(dim=0) for n in range(n_way)])
    ### END SOLUTION


# %% [tests] id="prototypes_tests" points=3
import torch

from cs182meta.student import student

support = torch.tensor([[0.0, 0.0], [4.0, 2.0], [2.0, 2.0], [6.0, 0.0], [1.0, 1.0], [0.0, 4.0]])
labels = torch.tensor([1, 2, 0, 2, 1, 0])  # not sorted by class
centres = student.prototypes(support, labels, 3)
assert torch.is_tensor(centres), f"expected a tensor, got {type(centres).__name__}"
assert centres.shape == (3, 2), f"expected [n_way, D] = (3, 2), got {tuple(centres.shape)}"
wide = student.prototypes(torch.zeros(6, 5), labels, 3)  # 6 embeddings of 5 features
assert wide.shape == (3, 5), f"expected [n_way, D] = (3, 5), got {tuple(wide.shape)}"
expected = torch.tensor([[1.0, 3.0], [0.5, 0.5], [5.0, 1.0]])
assert torch.allclose(centres, expected), (
    f"row n must be the mean of the embeddings labelled n: expected {expected.tolist()}, "
    f"got {centres.tolist()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(2)
for n_way, k_shot, dim in [(4, 5, 8), (5, 1, 3), (3, 7, 16)]:
    embeddings = torch.randn(n_way * k_shot, dim, generator=generator)
    labels = torch.randperm(n_way * k_shot, generator=generator) % n_way
    got = student.prototypes(embeddings, labels, n_way)
    expected = torch.stack(
        [sum(embeddings[i] for i in range(len(labels)) if labels[i] == n) / k_shot for n in range(n_way)]
    )
    assert got.shape == (n_way, dim), f"expected {(n_way, dim)}, got {tuple(got.shape)}"
    assert torch.allclose(got, expected, atol=1e-5), (
        f"{n_way}-way {k_shot}-shot, {dim} features: prototypes differ from the class means"
    )
# Gradients: with one feature, prototype n is a number; its gradient with respect to the
# embeddings is 1/K on the K examples labelled n and 0 on the others.
n_way, k_shot = 3, 4
embeddings = torch.randn(n_way * k_shot, 1, generator=generator)
labels = torch.randperm(n_way * k_shot, generator=generator) % n_way
for n in range(n_way):
    _, (grad,) = student.grad(student.prototypes, (embeddings, labels, n_way), wrt=(0,), index=n)
    expected = (labels == n).to(embeddings.dtype)[:, None] / k_shot
    assert grad is not None, "gradients must flow from the prototypes back to the embeddings"
    assert torch.allclose(grad, expected, atol=1e-6), (
        f"the gradient of prototype {n} with respect to the embeddings must be 1/K on the examples "
        f"labelled {n} and 0 elsewhere: expected {expected.flatten().tolist()}, got {grad.flatten().tolist()}"
    )
### END HIDDEN TESTS

# %% [markdown] id="ex3a-text"
# ## Exercise 3 — ProtoNet logits, loss and prediction
#
# **(a)** `protonet_logits(query_embeddings, prototypes)`: `[M, D]`, `[N, D]` →
# `[M, N]`, entry $(j, n) = -\lVert z_j - c_n \rVert^2$, the **negative squared**
# Euclidean distance. (The softmax of these logits is $p_\theta$ above; the cross-entropy
# does the softmax for us.)

# %% [solution] id="protonet_logits"
def protonet_logits(query_embeddings, prototypes):
    """Negative squared Euclidean distances: [M, D], [N, D] -> [M, N]."""
    ### BEGIN SOLUTION
    differences = query_embeddings[:, None, :] - prototypes[None, :, :]  # (M, N, D)
    return -(differences**2).sum(dim=-1)  # (M, N)
    ### END SOLUTION


# %% [tests] id="protonet_logits_tests" points=2
import torch

from cs182meta.student import student

queries = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
centres = torch.tensor([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
logits = student.protonet_logits(queries, centres)
assert torch.is_tensor(logits), f"expected a tensor, got {type(logits).__name__}"
assert logits.shape == (2, 3), f"expected [M, N] = (2, 3), got {tuple(logits.shape)}"
assert logits.argmax(dim=1).tolist() == [0, 2], (
    f"each query's largest logit must be its nearest prototype's (0 and 2), got "
    f"{logits.argmax(dim=1).tolist()}"
)
expected = torch.tensor([[0.0, -25.0, -1.0], [-2.0, -13.0, -1.0]])
assert torch.allclose(logits, expected), (
    f"expected minus the squared distances {expected.tolist()}, got {logits.tolist()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(3)
queries = torch.randn(9, 6, generator=generator)
centres = torch.randn(4, 6, generator=generator)
logits = student.protonet_logits(queries, centres)
expected = torch.stack([torch.stack([-((q - c) ** 2).sum() for c in centres]) for q in queries])
assert logits.shape == (9, 4), f"9 queries, 4 prototypes: expected (9, 4), got {tuple(logits.shape)}"
assert torch.allclose(logits, expected, atol=1e-4), "logits differ from -||z - c||^2"
# Gradients: with one prototype c, the logit of query j is -||z_j - c||^2, whose gradient is
# -2 (z_j - c) with respect to z_j (0 for the other queries) and 2 (z_j - c) with respect to c.
centre = torch.randn(1, 6, generator=generator)
for j in (0, 5):
    _, (grad_queries, grad_centre) = student.grad(
        student.protonet_logits, (queries, centre), wrt=(0, 1), index=j
    )
    expected_queries = torch.zeros_like(queries)
    expected_queries[j] = -2 * (queries[j] - centre[0])
    assert grad_queries is not None and torch.allclose(grad_queries, expected_queries, atol=1e-4), (
        "gradients must flow through the logits: the gradient of -||z_j - c||^2 with respect to "
        "the queries differs from -2 (z_j - c) on row j and 0 elsewhere"
    )
    assert grad_centre is not None and torch.allclose(grad_centre, -expected_queries[j:j + 1], atol=1e-4), (
        "gradients must flow through the logits: the gradient of -||z_j - c||^2 with respect to "
        "the prototype differs from 2 (z_j - c)"
    )
### END HIDDEN TESTS

# %% [markdown] id="ex3b-text"
# **(b)** `protonet_loss(model, episode)`: the meta-training objective for one task.
# Embed the episode with the provided `embed_episode` (one forward pass over support
# and query images), build the prototypes from the **support** set only, and return
# the cross-entropy of the query logits against the query labels, together with the
# query accuracy (a Python float). Labels are the episode's own `0..N-1`
# (`episode.support_y`, `episode.query_y`); `episode.classes` holds the dataset's
# class ids and plays no part in the loss.

# %% id="embed-episode"
def embed_episode(model, episode):
    """Support and query embeddings from one forward pass: ([N*K, D], [M, D])."""
    n_support = episode.support_x.shape[0]
    z = model(torch.cat([episode.support_x, episode.query_x]))  # (N*K + M, D)
    return z[:n_support], z[n_support:]


# %% [solution] id="protonet_loss"
def protonet_loss(model, episode):
    """(query cross-entropy with gradients to the model, query accuracy as a float)."""
    ### BEGIN SOLUTION
    support_z, query_z = embed_episode(model, episode)  # (N*K, D), (M, D)
    centres = prototypes(support_z, episode.support_y, episode.n_way)  # (N, D)
    logits = protonet_logits(query_z, centres)  # (M, N)
    loss = F.cross_entropy(logits, episode.query_y)
    accuracy = (logits.argmax(dim=1) == episode.query_y).float().mean().item()
    ### END SOLUTION
    return loss, accuracy


# %% [tests] id="protonet_loss_tests" points=3
import math

import torch
from torch import nn

from cs182meta.episodes import Episode
from cs182meta.student import student


def own_loss(support_z, query_z, episode):
    """(query cross-entropy, accuracy) computed from *your* prototypes and protonet_logits
    on these embeddings, or None when they fail on them."""
    try:
        centres = student.prototypes(support_z, episode.support_y, episode.n_way)
        logits = student.protonet_logits(query_z, centres)
        loss = nn.functional.cross_entropy(logits, episode.query_y).item()
        return loss, (logits.argmax(dim=1) == episode.query_y).float().mean().item()
    except Exception:  # noqa: BLE001 — your earlier functions fail here: no second answer
        return None


# "Images" of 1x1x2 pixels and an identity embedding, so the numbers are easy to follow.
points = lambda rows: torch.tensor(rows).view(-1, 1, 1, 2)  # noqa: E731
episode = Episode(
    support_x=points([[2.0, 0.0], [0.0, 0.0]]),
    support_y=torch.tensor([1, 0]),
    query_x=points([[0.0, 0.0], [2.0, 0.0], [1.5, 0.0]]),
    query_y=torch.tensor([0, 1, 1]),
    classes=torch.tensor([7, 3]),  # the dataset's class ids: not labels
)
own = own_loss(episode.support_x.flatten(1), episode.query_x.flatten(1), episode)
loss, accuracy = student.protonet_loss(nn.Flatten(), episode)
# prototypes c_0 = (0, 0), c_1 = (2, 0); the queries' logits are [0, -4], [-4, 0], [-2.25, -0.25]
expected = (2 * math.log(1 + math.exp(-4)) + math.log(1 + math.exp(-2))) / 3
assert torch.is_tensor(loss) and loss.dim() == 0, "the loss must be a scalar tensor"
assert abs(loss.item() - expected) < 1e-5 or (own is not None and abs(loss.item() - own[0]) < 1e-5), (
    f"expected the query cross-entropy {expected:.5f}"
    + (f" (or {own[0]:.5f} from your own prototypes and protonet_logits)"
       if own is not None and abs(own[0] - expected) > 1e-5 else "")
    + f", got {loss.item():.5f} (prototypes from the support set only, labels 0..N-1)"
)
assert abs(float(accuracy) - 1.0) < 1e-6 or (own is not None and abs(float(accuracy) - own[1]) < 1e-6), (
    f"every query is nearest its own prototype; got accuracy {accuracy}"
)
### BEGIN HIDDEN TESTS
def _reference_prototypes(support_embeddings, support_y, n_way):
    one_hot = torch.nn.functional.one_hot(support_y, n_way).to(support_embeddings.dtype)
    return (one_hot.T @ support_embeddings) / one_hot.sum(dim=0)[:, None]


def _reference_protonet_logits(query_embeddings, centres):
    return -(torch.cdist(query_embeddings.double(), centres.double()) ** 2).to(centres.dtype)


torch.manual_seed(4)
model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8))
generator = torch.Generator().manual_seed(4)
episode = Episode(
    support_x=torch.rand(6, 1, 4, 4, generator=generator),
    support_y=torch.tensor([2, 0, 1, 1, 2, 0]),
    query_x=torch.rand(9, 1, 4, 4, generator=generator),
    query_y=torch.tensor([0, 1, 2, 2, 1, 0, 0, 1, 2]),
    classes=torch.tensor([40, 12, 31]),
)
s, q = model(episode.support_x), model(episode.query_x)
reference_logits = _reference_protonet_logits(q, _reference_prototypes(s, episode.support_y, 3))
reference = torch.nn.functional.cross_entropy(reference_logits, episode.query_y)
reference_grads = torch.autograd.grad(reference, list(model.parameters()))
reference_accuracy = (reference_logits.argmax(1) == episode.query_y).float().mean().item()
own = own_loss(s.detach(), q.detach(), episode)
(loss, accuracy), (grads,) = student.grad(student.protonet_loss, (model, episode), wrt=(0,), index=0)
assert abs(loss.item() - reference.item()) < 1e-4 or (own is not None and abs(loss.item() - own[0]) < 1e-4), (
    f"a 3-way 2-shot task with a linear embedding: expected loss {reference.item():.5f}, "
    f"got {loss.item():.5f}"
)
assert abs(float(accuracy) - reference_accuracy) < 1e-6 or (
    own is not None and abs(float(accuracy) - own[1]) < 1e-6
), f"a 3-way 2-shot task with a linear embedding: expected accuracy {reference_accuracy}, got {accuracy}"
assert grads is not None and all(g is not None for g in grads), (
    "the loss must send gradients to every parameter of the model"
)
if not all(torch.allclose(g, r, atol=1e-5) for g, r in zip(grads, reference_grads)):
    # Your own earlier functions may give other numbers: then the gradient must at least be
    # the derivative of your own loss (central differences along two random directions).
    for _ in range(2):
        direction = [torch.randn(p.shape, generator=generator) for p in model.parameters()]
        norm = torch.sqrt(sum((d**2).sum() for d in direction))
        values = []
        for sign in (1, -1):
            moved = nn.Sequential(nn.Flatten(), nn.Linear(16, 8))
            with torch.no_grad():
                for p, m, d in zip(model.parameters(), moved.parameters(), direction):
                    m.copy_(p + sign * 1e-2 * d / norm)
            values.append(student.protonet_loss(moved, episode)[0].item())
        slope = (values[0] - values[1]) / 2e-2
        along = sum((g * d).sum() for g, d in zip(grads, direction)).item() / norm.item()
        assert abs(along - slope) <= 1e-3 + 2e-2 * abs(slope), (
            "the gradients the loss sends to the model's parameters differ from those of the "
            "query cross-entropy of the prototypes and logits"
        )
### END HIDDEN TESTS

# %% [markdown] id="ex3c-text"
# **(c)** `protonet_predict(model, episode)`: the query logits `[M, N]` of a trained
# network on a new task. Run the model in **evaluation mode**: in training mode
# BatchNorm normalises with the statistics of the batch it is given, so one query's
# prediction would depend on which other queries happen to share its episode (and
# running averages would drift). Whether you leave the model in evaluation mode or
# restore the mode it had is up to you: the training loop sets its own.

# %% [solution] id="protonet_predict"
@torch.no_grad()
def protonet_predict(model, episode):
    """Query logits [M, N] for one episode, with the model in evaluation mode."""
    ### BEGIN SOLUTION
    model.eval()
    support_z, query_z = embed_episode(model, episode)
    return protonet_logits(query_z, prototypes(support_z, episode.support_y, episode.n_way))
    ### END SOLUTION


# %% [tests] id="protonet_predict_tests" points=2
import copy

import torch

from cs182meta.data import load
from cs182meta.episodes import EpisodeSampler
from cs182meta.models import Conv4
from cs182meta.student import student


def own_logits(model, episode):
    """Query logits from *your* prototypes and protonet_logits on the embeddings of `model`
    in evaluation mode, or None when they fail on them."""
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        support_z, query_z = model(episode.support_x), model(episode.query_x)
    try:
        centres = student.prototypes(support_z, episode.support_y, episode.n_way)
        logits = student.protonet_logits(query_z, centres)
    except Exception:  # noqa: BLE001 — your earlier functions fail here: no second answer
        return None
    expected_shape = (len(episode.query_y), episode.n_way)
    return logits if torch.is_tensor(logits) and logits.shape == expected_shape else None


torch.manual_seed(5)
model = Conv4()
episode = EpisodeSampler(load(split="evaluation"), n_way=5, k_shot=1, q_query=4, seed=5)[0]
model.train()  # as the training loop leaves it
logits = student.protonet_predict(model, episode)
assert torch.is_tensor(logits), f"expected a tensor of logits, got {type(logits).__name__}"
assert logits.shape == (20, 5), f"expected [N*Q, N] = (20, 5), got {tuple(logits.shape)}"
first_five = episode._replace(query_x=episode.query_x[:5], query_y=episode.query_y[:5])
alone = student.protonet_predict(model, first_five)
assert torch.allclose(alone, logits[:5], rtol=1e-4, atol=1e-3), (
    "a query's logits must not depend on the other queries in its episode (BatchNorm in eval mode)"
)
### BEGIN HIDDEN TESTS
def _reference_prototypes(support_embeddings, support_y, n_way):
    one_hot = torch.nn.functional.one_hot(support_y, n_way).to(support_embeddings.dtype)
    return (one_hot.T @ support_embeddings) / one_hot.sum(dim=0)[:, None]


def _reference_protonet_logits(query_embeddings, centres):
    return -(torch.cdist(query_embeddings.double(), centres.double()) ** 2).to(centres.dtype)


torch.manual_seed(6)
model = Conv4()
model.train()
episode = EpisodeSampler(load(split="evaluation"), n_way=3, k_shot=2, q_query=3, seed=6)[0]
own = own_logits(model, episode)
got = student.protonet_predict(model, episode)
model.eval()
with torch.no_grad():
    s, q = model(episode.support_x), model(episode.query_x)
    expected = _reference_protonet_logits(q, _reference_prototypes(s, episode.support_y, 3))
assert torch.is_tensor(got) and got.shape == expected.shape and (
    torch.allclose(got, expected, rtol=1e-4, atol=1e-3)
    or (own is not None and torch.allclose(got, own, rtol=1e-4, atol=1e-3))
), "logits differ from -||f(x) - c_n||^2 computed with the model in evaluation mode"
### END HIDDEN TESTS

# %% [markdown] id="training-text"
# ## Meta-training
#
# Each step draws one task from the background alphabets, computes the query loss
# $-\sum_j \log p_\theta(y^{ts}_j \mid x^{ts}_j, \mathcal{D}^{tr})$ and takes an Adam
# step on $\theta$: ordinary supervised learning in which every example is a task.
# Following Snell et al., training tasks have more ways (`TRAIN_WAY`) than test tasks:
# telling 20 characters apart is harder than telling 5 apart, and learning the harder
# problem gives a better embedding. The learning rate falls from `LR` to zero along
# a cosine over the run, so the schedule stretches with the number of steps.
# The network is converted to the *channels-last* layout (its weights, and so its
# activations, are stored with the channels innermost, `[..., H, W, C]`): the same
# function, but a training step on a CPU runs about 1.3 times faster, max-pooling most.

# %% id="train-protonet"
def meta_train(name, episode_loss, model, steps, seed):
    """Adam on `episode_loss(model, episode)` over `steps` training tasks; prints the time.

    Returns the per-step curves {"loss": [...], "accuracy": [...]} (query set of each task).
    """
    start = time.perf_counter()
    sampler = EpisodeSampler(
        background, TRAIN_WAY, TRAIN_SHOT, TRAIN_QUERY, num_episodes=steps, seed=seed
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    curves = {"loss": [], "accuracy": []}
    for episode in progress(sampler.loader(device=DEVICE), desc="meta-training"):
        model.train()  # BatchNorm uses the statistics of this task's images
        loss, accuracy = episode_loss(model, episode.to(DEVICE))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        curves["loss"].append(loss.item())
        curves["accuracy"].append(float(accuracy))
    seconds = time.perf_counter() - start
    print(f"{name}: {steps} steps of {TRAIN_WAY}-way {TRAIN_SHOT}-shot in {seconds:.0f} s "
          f"({seconds / steps:.2f} s per step)")
    return curves


torch.manual_seed(0)
protonet = Conv4().to(DEVICE, memory_format=torch.channels_last)  # NHWC: same network, faster
proto_curves = meta_train("ProtoNet", protonet_loss, protonet, PROTO_STEPS, seed=1)

# %% [markdown] id="revisit-text"
# ### The motivating picture, revisited
#
# Back to plain nearest neighbour, now in the space the ProtoNet has learned. In a
# 1-shot task each prototype *is* its class's single support embedding, so this is
# exactly the ProtoNet's own decision rule.

# %% id="revisit"
tables["trained ProtoNet Conv-4"] = embed_dataset(protonet, evaluation)
for name, table in tables.items():
    print(f"nearest neighbour, {N_WAY}-way 1-shot, {name:24s} {accuracy_on(table, nearest_neighbour_on_table, 1)} %")


# %% [markdown] id="pca-text"
# ### What the embedding does
#
# One 5-way 5-shot task from the evaluation alphabets, projected to two dimensions
# with PCA: the query images (dots, coloured by their true class) and the class
# prototypes (stars), in pixel space and in the learned space. A query is classified
# by its nearest star.

# %% id="pca"
def pca_2d(points):
    """Project [P, D] onto its first two principal components: [P, 2]."""
    centred = points - points.mean(dim=0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    return centred @ v[:2].T


episode = EpisodeSampler(evaluation, N_WAY, 5, EVAL_QUERY, seed=7)[0].to(DEVICE)
with torch.no_grad():
    protonet.eval()
    spaces = {"pixel space": (episode.support_x.flatten(1), episode.query_x.flatten(1)),
              "learned space (ProtoNet)": embed_episode(protonet, episode)}
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
for ax, (title, (support_z, query_z)) in zip(axes, spaces.items()):
    centres = prototypes(support_z, episode.support_y, N_WAY)
    xy = pca_2d(torch.cat([query_z, centres]).cpu())
    queries, stars = xy[: len(query_z)], xy[len(query_z) :]
    for n in range(N_WAY):
        colour = f"C{n}"
        mine = episode.query_y.cpu() == n
        ax.scatter(queries[mine, 0], queries[mine, 1], s=18, color=colour, alpha=0.7)
        ax.scatter(stars[n, 0], stars[n, 1], s=260, marker="*", color=colour,
                   edgecolor="black", label=f"prototype y={n}")
    ax.set(title=title, xticks=[], yticks=[])
axes[1].legend(fontsize=8, loc="best")
fig.tight_layout()
plt.show()


# %% [markdown] id="ex4-text"
# ## Matching Networks
#
# Matching Networks predict with an attention-weighted vote over **every** support
# example instead of one prototype per class. The attention of a query $\hat{x}$ on
# support example $x_i$ is a softmax, over the support set, of cosine similarities of
# embeddings,
#
# $$a(\hat{x}, x_i) = \frac{\exp\big(\cos(f(\hat{x}), g(x_i))\big)}{\sum_{i'} \exp\big(\cos(f(\hat{x}), g(x_{i'}))\big)},
# \qquad
# P(y \mid \hat{x}, \mathcal{D}^{tr}) = \sum_{i} a(\hat{x}, x_i)\, \mathbf{y}_i ,$$
#
# where $\mathbf{y}_i$ is the one-hot label of $x_i$, so the prediction is a
# probability vector over the $N$ classes. Like the ProtoNet it is trained on the
# query loss, here $-\log P(y^{ts} \mid x^{ts}, \mathcal{D}^{tr})$.
#
# In the paper $f$ and $g$ are the same Conv-4 plus optional "full-context
# embeddings" (LSTMs that let each embedding depend on the whole support set); we use
# the plain Conv-4 for both. Because a cosine lies in $[-1, 1]$, the softmax cannot get
# sharp; we multiply the cosines by `scale` (the parameter `MATCHING_SCALE`) before the
# softmax, a common change that speeds up training (`scale=1` is the paper's rule). On
# real Omniglot, after the same training, a scale of 30 gave 92.7 % at 5-way 1-shot,
# 10 gave 88.9 % and 50 gave 92.9 %.
#
# ## Exercise 4 — Matching Networks
#
# **(a)** `matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0)`:
# `[M, D]`, `[N*K, D]`, `[N*K]` → `[M, N]`, the probabilities $P(y = n \mid \hat{x}_j,
# \mathcal{D}^{tr})$; each row sums to 1.

# %% [solution] id="matching_probabilities"
def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0):
    """Attention-weighted vote of the support labels: [M, D], [N*K, D], [N*K] -> [M, N]."""
    ### BEGIN SOLUTION
    cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T
    attention = torch.softmax(scale * cosine, dim=1)  # (M, N*K), rows sum to 1
    return attention @ F.one_hot(support_y, n_way).to(attention.dtype)  # (M, N)
    ### END SOLUTION


# %% [tests] id="matching_probabilities_tests" points=3
import math

import torch

from cs182meta.student import student

query = torch.tensor([[1.0, 0.0], [0.0, 5.0]])
support = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]])  # cosines with query 0: 1, 0, -1
labels = torch.tensor([0, 1, 1])
probabilities = student.matching_probabilities(query, support, labels, 2)
assert torch.is_tensor(probabilities), f"expected a tensor, got {type(probabilities).__name__}"
assert probabilities.shape == (2, 2), f"expected [M, N] = (2, 2), got {tuple(probabilities.shape)}"
assert torch.allclose(probabilities.sum(dim=1), torch.ones(2)), (
    f"each query's probabilities must sum to 1, got sums {probabilities.sum(dim=1).tolist()}"
)
e = math.e
expected_0 = torch.tensor([e, 1 + 1 / e]) / (e + 1 + 1 / e)
assert torch.allclose(probabilities[0], expected_0, atol=1e-5), (
    f"query 0: expected {expected_0.tolist()} (softmax of cosine similarities over the "
    f"support set), got {probabilities[0].tolist()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(7)
for n_way, k_shot, m, scale in [(4, 3, 5, 5.0), (5, 1, 7, 1.0), (3, 2, 6, 10.0)]:
    q = torch.randn(m, 8, generator=generator)
    s = torch.randn(n_way * k_shot, 8, generator=generator) * torch.rand(n_way * k_shot, 1, generator=generator) * 4
    y = torch.randperm(n_way * k_shot, generator=generator) % n_way
    got = student.matching_probabilities(q, s, y, n_way, scale=scale)
    cos = torch.stack([torch.stack([torch.dot(a, b) / (a.norm() * b.norm()) for b in s]) for a in q])
    weights = torch.exp(scale * cos)
    weights = weights / weights.sum(dim=1, keepdim=True)
    expected = torch.stack([weights[:, y == n].sum(dim=1) for n in range(n_way)], dim=1)
    assert got.shape == (m, n_way), f"expected {(m, n_way)}, got {tuple(got.shape)}"
    assert torch.allclose(got, expected, atol=1e-5), (
        f"probabilities differ from the per-class sums of softmax(scale * cosine) over the support set (scale={scale})"
    )
### END HIDDEN TESTS

# %% [markdown] id="ex4b-text"
# **(b)** `matching_nll(probabilities, query_y)`: the mean over queries of
# $-\log P(y^{ts}_j \mid \hat{x}_j, \mathcal{D}^{tr})$, the probability given to each
# query's true class. (Clamp the probability at a tiny value such as `1e-12` before
# the log, so that a zero cannot produce `inf`.)

# %% [solution] id="matching_nll"
def matching_nll(probabilities, query_y):
    """Mean over queries of -log P(true class): [M, N], [M] -> scalar."""
    ### BEGIN SOLUTION
    true_class = probabilities.gather(1, query_y[:, None]).squeeze(1)  # (M,)
    return -true_class.clamp_min(1e-12).log().mean()
    ### END SOLUTION


# %% [tests] id="matching_nll_tests" points=1
import math

import torch

from cs182meta.student import student

probabilities = torch.tensor([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
loss = student.matching_nll(probabilities, torch.tensor([0, 1, 0]))
expected = -(math.log(0.7) + math.log(0.8) + math.log(0.5)) / 3
assert torch.is_tensor(loss) and loss.dim() == 0, "the loss must be a scalar tensor"
assert abs(loss.item() - expected) < 1e-5, f"expected {expected:.5f}, got {loss.item():.5f}"
# A query whose true class got probability 0: the clamp keeps the loss finite (and large).
certain_and_wrong = student.matching_nll(torch.tensor([[1.0, 0.0], [0.5, 0.5]]), torch.tensor([1, 0]))
assert math.isfinite(certain_and_wrong.item()) and certain_and_wrong.item() > 5, (
    f"with P(true class) = 0 for one query the loss must stay finite and large (clamp the probability at "
    f"a tiny value such as 1e-12 before the log), got {certain_and_wrong.item()}"
)
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(8)
probabilities = torch.softmax(torch.randn(10, 4, generator=generator), dim=1).requires_grad_()
y = torch.randint(0, 4, (10,), generator=generator)
loss, (grad,) = student.grad(student.matching_nll, (probabilities, y), wrt=(0,))
reference = torch.nn.functional.nll_loss(probabilities.log(), y)
(reference_grad,) = torch.autograd.grad(reference, probabilities)
assert abs(loss.item() - reference.item()) < 1e-5, f"expected {reference.item():.5f}, got {loss.item():.5f}"
assert grad is not None and torch.allclose(grad, reference_grad, atol=1e-5), (
    "the loss must be differentiable: its gradient with respect to the probabilities differs "
    "from that of the mean of -log P(true class), -1 / (M P(true class)) on each true class"
)
### END HIDDEN TESTS

# %% [markdown] id="train-matching-text"
# The loss and the prediction of a Matching Network, built from your two functions,
# and its meta-training: the same loop, the same kind of tasks, a fresh Conv-4.

# %% id="train-matching"
def matching_loss(model, episode):
    """(query loss of the Matching Network, query accuracy) for one task."""
    support_z, query_z = embed_episode(model, episode)
    probabilities = matching_probabilities(
        query_z, support_z, episode.support_y, episode.n_way, scale=MATCHING_SCALE
    )
    accuracy = (probabilities.argmax(dim=1) == episode.query_y).float().mean().item()
    return matching_nll(probabilities, episode.query_y), accuracy


@torch.no_grad()
def matching_predict(model, episode):
    """Class probabilities [M, N] of the queries (argmax = prediction)."""
    model.eval()
    support_z, query_z = embed_episode(model, episode)
    return matching_probabilities(
        query_z, support_z, episode.support_y, episode.n_way, scale=MATCHING_SCALE
    )


torch.manual_seed(0)
matching_net = Conv4().to(DEVICE, memory_format=torch.channels_last)
matching_curves = meta_train("Matching Networks", matching_loss, matching_net, MATCHING_STEPS, seed=2)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
plot_learning_curves(
    {"ProtoNet": smooth(proto_curves["accuracy"]), "Matching Networks": smooth(matching_curves["accuracy"])},
    ylabel="query accuracy (training tasks)", chance=1 / TRAIN_WAY,
    title=f"{TRAIN_WAY}-way {TRAIN_SHOT}-shot training tasks", ax=axes[0],
)
plot_learning_curves(
    {"ProtoNet": smooth(proto_curves["loss"]), "Matching Networks": smooth(matching_curves["loss"])},
    ylabel="query loss (training tasks)", title="meta-training loss", ax=axes[1],
)
fig.tight_layout()
plt.show()

# %% [markdown] id="shots-text"
# ## How many shots?
#
# All three methods on the same evaluation tasks ($N$ = 5, `EVAL_QUERY` queries per
# class) for 1, 5 and 10 shots, with 95% intervals over the episodes. Each network
# embeds the evaluation images once; the episodes are then drawn from those tables.

# %% id="shots"
identity = nn.Identity()
methods = {
    "pixel nearest neighbour": (tables["pixels"], nearest_neighbour_on_table),
    "ProtoNet": (tables["trained ProtoNet Conv-4"], lambda ep: protonet_predict(identity, ep)),
    "Matching Networks": (embed_dataset(matching_net, evaluation), lambda ep: matching_predict(identity, ep)),
}
results = {name: [] for name in methods}
for k in SHOTS:
    for name, (table, predict) in methods.items():
        results[name].append(accuracy_on(table, predict, k))
        print(f"{N_WAY}-way {k:2d}-shot  {name:24s} {results[name][-1]} %")

plot_accuracy_vs_shots(results, SHOTS, N_WAY)
plt.show()

# %% [markdown] id="written-q1"
# ## Written questions (graded by hand)
#
# **Q1.** Under what conditions do a Prototypical Network and a Matching Network make
# exactly the same predictions? Think about the number of shots and the choice of
# similarity. How do they differ when $K > 1$?

# %% [written] id="protonet_vs_matching" points=2
# With one shot each prototype is the single support embedding of its class, and a
# Matching Network's attention puts one weight on each class, so both compute a
# softmax over classes of a similarity between the query and that class's one
# example. They coincide when that similarity is the same: a ProtoNet that used
# (scaled) cosine similarity, or a Matching Network whose attention used the negative
# squared Euclidean distance (with the same embedding for query and support, i.e. no
# full-context embeddings). With K > 1 they differ: the ProtoNet compares the query with
# the mean of a class's embeddings, the Matching Network adds up soft votes of all
# K examples (a kernel-density / soft nearest-neighbour classifier), so one unusual
# support example can pull a query toward its class in a Matching Network but only
# shifts the mean a little in a ProtoNet.

# %% [markdown] id="written-q2"
# **Q2.** The squared Euclidean distance is a *Bregman divergence*. What does that
# mean, and what does it buy Prototypical Networks (why is the class mean the right
# prototype, and what kind of classifier results)?

# %% [written] id="bregman" points=2
# A Bregman divergence is $d_\varphi(z, z') = \varphi(z) - \varphi(z') -
# (z - z')^\top \nabla\varphi(z')$ for a strictly convex $\varphi$: the gap between
# $\varphi$ and its tangent plane at $z'$. With $\varphi(z) = \lVert z \rVert^2$ this
# is exactly $\lVert z - z' \rVert^2$. For every Bregman divergence the point that
# minimises the total divergence to a set of points is their arithmetic mean, so the
# class mean is the optimal single representative of the support embeddings (the
# cluster centre of k-means), and the ProtoNet is equivalent to a mixture density
# estimate with one exponential-family component (here a spherical Gaussian) per
# class. It also makes the classifier linear in the embedding:
# $-\lVert z - c_n \rVert^2 = 2 c_n^\top z - \lVert c_n \rVert^2 - \lVert z \rVert^2$,
# and the last term is the same for every class, so the ProtoNet is a linear
# softmax layer with weights $2 c_n$ and biases $-\lVert c_n \rVert^2$ computed from
# the support set. Cosine similarity is not a Bregman divergence, and empirically it
# trains worse in ProtoNets.

# %% [markdown] id="written-q3"
# **Q3.** In what sense are these methods "non-parametric", given that the Conv-4 has
# over 100,000 parameters? What does a new task cost at test time, and what can such a
# method *not* do when the new tasks differ from the training tasks?

# %% [written] id="what_nonparametric" points=2
# The parameters θ of the embedding are meta-learned across tasks and fixed at test
# time. What is non-parametric is the adaptation to a task: nothing is fitted for it,
# no gradient step and no task-specific weights; the "model" of the task is the
# labelled support set itself (or its prototypes), used as in nearest-neighbour or
# kernel methods, and it grows with the data. A new task costs one forward pass over
# its support and query images, with no optimisation. The price is that the feature
# space cannot change per task: if the new tasks need distinctions the training tasks
# never rewarded (a different domain), more shots only add more points in a space that
# does not separate them, whereas an optimisation-based method such as MAML can still
# move its features with gradient steps.

# %% [markdown] id="hand-in-text"
# ## Handing in
#
# Submit this notebook to the autograded assignment. The written answers are graded
# from a PDF, one question per page: in a terminal in this folder run
# `python -m cs182meta export 02_nonparametric.ipynb --name "your name or SID"` and upload
# `02_nonparametric-written.pdf` to the written-answers assignment. It needs Chromium (see
# the README); a blank answer shows as "No answer given."
