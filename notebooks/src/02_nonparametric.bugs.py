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
    ),
    PlantedBug(
        cell="prototypes",
        find=".mean(dim=0)",
        replace=".mean(dim=1)",
        loses=("prototypes_tests",),
        why="averages each class's embeddings over the feature axis instead of the examples",
    ),
    PlantedBug(
        cell="prototypes",
        find="torch.stack([support_embeddings[support_y == n].mean(dim=0) for n in range(n_way)])",
        replace="support_embeddings.reshape(n_way, -1, support_embeddings.shape[-1]).mean(dim=1)",
        loses=("prototypes_tests",),
        why="assumes the support set is sorted by class",
    ),
    PlantedBug(
        cell="protonet_logits",
        find="(differences**2).sum(dim=-1)",
        replace="(differences**2).sum(dim=-1).sqrt()",
        loses=("protonet_logits_tests",),
        why="uses the distance, not the squared distance",
    ),
    PlantedBug(
        cell="protonet_logits",
        find="return -(differences",
        replace="return (differences",
        loses=("protonet_logits_tests",),
        why="uses positive distances as logits, so the farthest prototype wins",
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
    ),
    PlantedBug(
        cell="protonet_loss",
        find="(support_z, episode.support_y,",
        replace="(support_z, episode.classes[episode.support_y],",
        loses=("protonet_loss_tests",),
        why="labels the support set with the dataset's class ids instead of 0..N-1",
    ),
    PlantedBug(
        cell="protonet_predict",
        find="    model.eval()\n",
        replace="",
        loses=("protonet_predict_tests",),
        why="leaves BatchNorm in training mode at evaluation",
    ),
    PlantedBug(
        cell="matching_probabilities",
        find="F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T",
        replace="query_embeddings @ support_embeddings.T",
        loses=("matching_probabilities_tests",),
        why="uses dot products instead of cosines (no normalisation)",
    ),
    PlantedBug(
        cell="matching_probabilities",
        find="torch.softmax(scale * cosine, dim=1)",
        replace="torch.softmax(scale * cosine, dim=0)",
        loses=("matching_probabilities_tests",),
        why="normalises the attention over the queries instead of the support set",
    ),
    PlantedBug(
        cell="matching_nll",
        find=".clamp_min(1e-12).log()",
        replace=".clamp_min(1e-12)",
        loses=("matching_nll_tests",),
        why="forgets the log: minimises -P(true class) instead of -log P",
    ),
]
