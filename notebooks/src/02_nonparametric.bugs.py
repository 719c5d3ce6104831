"""Planted bugs of notebook 02_nonparametric: each must lose exactly the points of its
``loses`` cells and nothing else (see notebooks/AUTHORING.md)."""

from autograder.authoring import PlantedBug

BUGS = [
    PlantedBug(
        cell="embedding_nearest_neighbour",
        find="distances.argmin(dim=1)",
        replace="distances.argmin(dim=0)",
        loses=("embedding_nearest_neighbour_tests",),
        why="takes the minimum over the queries instead of over the support set",
        hint=(
            "Check how the axes of your distance matrix line up with queries and support "
            "examples, and which one your nearest-neighbour search runs along."
        ),
    ),
    PlantedBug(
        cell="prototypes",
        find=".mean(dim=0)",
        replace=".mean(dim=1)",
        # The prototypes then have the wrong shape and the student's own protonet_loss and
        # protonet_predict, which call them, crash: those cannot be judged right either.
        loses=("prototypes_tests", "protonet_loss_tests", "protonet_predict_tests"),
        why="averages each class's embeddings over the feature axis instead of the examples",
        hint=(
            "Check how your average runs over a class's embeddings: a prototype should be a "
            "point in the same space as the embeddings it summarises."
        ),
    ),
    PlantedBug(
        cell="prototypes",
        find="torch.stack([support_embeddings[support_y == n].mean(dim=0) for n in range(n_way)])",
        replace="support_embeddings.reshape(n_way, -1, support_embeddings.shape[-1]).mean(dim=1)",
        loses=("prototypes_tests",),
        why="assumes the support set is sorted by class",
        hint=(
            "Check whether your prototypes still come out right when the support set is not "
            "sorted by class."
        ),
    ),
    PlantedBug(
        cell="protonet_logits",
        find="(differences**2).sum(dim=-1)",
        replace="(differences**2).sum(dim=-1).sqrt()",
        loses=("protonet_logits_tests",),
        why="uses the distance, not the squared distance",
        hint=(
            "Check whether the logits use the distance measure the lecture defines for "
            "Prototypical Networks."
        ),
    ),
    PlantedBug(
        cell="protonet_logits",
        find="return -(differences",
        replace="return (differences",
        loses=("protonet_logits_tests",),
        why="uses positive distances as logits, so the farthest prototype wins",
        hint=(
            "Check whether a query's largest logit goes to its nearest prototype, so that the "
            "softmax of the logits favours it."
        ),
    ),
    PlantedBug(
        cell="protonet_loss",
        find="prototypes(support_z, episode.support_y, episode.n_way)",
        replace=(
            "prototypes(torch.cat([support_z, query_z]), "
            "torch.cat([episode.support_y, episode.query_y]), episode.n_way)"
        ),
        loses=("protonet_loss_tests",),
        why="lets the query images (and their labels) leak into the prototypes",
        hint=(
            "Check whether any information about the query labels can reach the prototypes that "
            "your loss compares the queries with."
        ),
    ),
    PlantedBug(
        cell="protonet_loss",
        find="(support_z, episode.support_y,",
        replace="(support_z, episode.classes[episode.support_y],",
        loses=("protonet_loss_tests",),
        why="labels the support set with the dataset's class ids instead of 0..N-1",
        hint=(
            "Check whether the labels you group the support set by are the per-task labels the "
            "exercise describes."
        ),
    ),
    PlantedBug(
        cell="protonet_predict",
        find="    model.eval()\n",
        replace="",
        loses=("protonet_predict_tests",),
        why="leaves BatchNorm in training mode at evaluation",
        hint=(
            "Check whether a query's logits could depend on which other queries share its "
            "episode, given how BatchNorm behaves."
        ),
    ),
    PlantedBug(
        cell="matching_probabilities",
        find="F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T",
        replace="query_embeddings @ support_embeddings.T",
        loses=("matching_probabilities_tests",),
        why="uses dot products instead of cosines (no normalisation)",
        hint=(
            "Check whether your attention uses the similarity measure the lecture defines for "
            "Matching Networks."
        ),
    ),
    PlantedBug(
        cell="matching_probabilities",
        find="torch.softmax(scale * cosine, dim=1)",
        replace="torch.softmax(scale * cosine, dim=0)",
        loses=("matching_probabilities_tests",),
        why="normalises the attention over the queries instead of the support set",
        hint=(
            "Check how the axes of your similarity matrix line up with queries and support "
            "examples, and which one the attention is normalised along."
        ),
    ),
    PlantedBug(
        cell="matching_nll",
        find=".clamp_min(1e-12).log()",
        replace=".clamp_min(1e-12)",
        loses=("matching_nll_tests",),
        why="forgets the log: minimises -P(true class) instead of -log P",
        hint=(
            "Check whether your loss is the quantity in the exercise's formula or a different "
            "function of the true class's probability."
        ),
    ),
]

# Reviewed mutants that behave exactly like the solution for every input the exercise
# allows (autograder/mutation.py): `before -> after` of the changed lines, and why.
EQUIVALENT_MUTANTS = {
    'return support_y[distances.argmin(dim=1)] -> return support_y[distances.argmin(dim=-1)]':
        'distances is 2-D [M, N*K]: axis -1 is axis 1',
    'return -(differences**2).sum(dim=-1) -> return -(differences**2).sum(dim=2)':
        'differences is 3-D [M, N, D]: axis 2 is axis -1',
    'accuracy = (logits.argmax(dim=1) == episode.query_y).float().mean().item() -> accuracy = (logits.argmax(dim=-1) == episode.query_y).float().mean().item()':
        'logits is 2-D [M, N]: axis -1 is axis 1',
    'accuracy = (logits.argmax(dim=1) == episode.query_y).float().mean().item() -> accuracy = (logits.argmax(dim=1) == episode.query_y).float().mean()':
        'a 0-d tensor instead of a float: every caller converts it with float(), and it carries no graph',
    'cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T -> cosine = F.normalize(query_embeddings, ) @ F.normalize(support_embeddings, dim=-1).T':
        "embeddings are 2-D [M, D]: F.normalize's default dim=1 is the last axis",
    'cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T -> cosine = F.normalize(query_embeddings) @ F.normalize(support_embeddings, dim=-1).T':
        "embeddings are 2-D [M, D]: F.normalize's default dim=1 is the last axis",
    'cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T -> cosine = F.normalize(query_embeddings, dim=1) @ F.normalize(support_embeddings, dim=-1).T':
        'embeddings are 2-D [M, D]: axis 1 is axis -1',
    'cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T -> cosine = F.normalize(query_embeddings, dim=+1) @ F.normalize(support_embeddings, dim=-1).T':
        'embeddings are 2-D [M, D]: axis +1 is axis -1',
    'cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T -> cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, ).T':
        "embeddings are 2-D [N*K, D]: F.normalize's default dim=1 is the last axis",
    'cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T -> cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings).T':
        "embeddings are 2-D [N*K, D]: F.normalize's default dim=1 is the last axis",
    'cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T -> cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=1).T':
        'embeddings are 2-D [N*K, D]: axis 1 is axis -1',
    'cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T -> cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=+1).T':
        'embeddings are 2-D [N*K, D]: axis +1 is axis -1',
    'attention = torch.softmax(scale * cosine, dim=1) -> attention = torch.softmax(scale * cosine, dim=-1)':
        'cosine is 2-D [M, N*K]: axis -1 is axis 1',
    'return attention @ F.one_hot(support_y, n_way).to(attention.dtype) -> return attention @ F.one_hot(support_y, ).to(attention.dtype)':
        'a support set holds every one of the N labels, so one_hot infers num_classes = N',
    'true_class = probabilities.gather(1, query_y[:, None]).squeeze(1) -> true_class = probabilities.gather(1, query_y[:, None])':
        '[M, 1] instead of [M]: the mean of its logs that follows is the same number',
}
