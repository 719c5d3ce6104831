"""Planted bugs of notebook 04_families: each must lose exactly the points of its
``loses`` cells and nothing else (see notebooks/AUTHORING.md)."""

from autograder.authoring import PlantedBug

BUGS = [
    PlantedBug(
        cell="siamese_logits",
        find="head((z1 - z2).abs())",
        replace="head(z1 - z2)",
        loses=("siamese_logits_tests",),
        why="weighs the signed difference of the twins' features, not its absolute value",
        hint="Check whether your distance treats the two images of a pair alike, component by component.",
    ),
    PlantedBug(
        cell="siamese_logits",
        find="return head((z1 - z2).abs()).squeeze(-1)",
        replace="return torch.sigmoid(head((z1 - z2).abs())).squeeze(-1)",
        loses=("siamese_logits_tests",),
        why="returns probabilities, not logits: the loss applies the sigmoid a second time",
        hint="Check whether you return the argument of the sigmoid or its value.",
    ),
    PlantedBug(
        cell="siamese_class_scores",
        find=".max(dim=1).values",
        replace=".mean(dim=1)",
        loses=("siamese_class_scores_tests",),
        why="scores a class by the mean pair logit of its support images, not the best one",
        hint="Check which of a class's support images decides its score when there are several.",
    ),
    PlantedBug(
        cell="siamese_class_scores",
        find="pair_logits[:, support_y == n]",
        replace="pair_logits.view(len(pair_logits), n_way, -1)[:, n]",
        loses=("siamese_class_scores_tests",),
        why="assumes the support set is sorted by class",
        hint="Check how you find the support images of class n when the support set is not sorted by class.",
    ),
    PlantedBug(
        cell="fce_support",
        find="return forward + backward + support_z",
        replace="return forward + backward",
        loses=("fce_support_tests",),
        why="drops the skip connection g'(x_i)",
        hint="Check whether g(x_i, S) still contains the example's own embedding.",
    ),
    PlantedBug(
        cell="fce_support",
        find="forward, backward = states[0].chunk(2, dim=-1)",
        replace="forward, backward = states[0][:, : support_z.shape[1]], 0",
        loses=("fce_support_tests",),
        why="keeps only the forward direction of the bidirectional LSTM",
        hint="Check whether both directions of the LSTM reach g(x_i, S).",
    ),
    PlantedBug(
        cell="fce_support",
        find="states, _ = lstm(support_z[None])",
        replace="states = lstm(support_z[:, None])[0].transpose(0, 1)",
        loses=("fce_support_tests",),
        why="runs the LSTM over each support example alone (N*K sequences of length 1)",
        hint="Check whether the LSTM reads the support set as one sequence.",
    ),
    PlantedBug(
        cell="fce_query",
        find="h = h_hat + query_z",
        replace="h = h_hat",
        loses=("fce_query_tests",),
        why="drops the skip connection f'(x) after each step",
        hint="Check what is added to the LSTM cell's output at the end of each step.",
    ),
    PlantedBug(
        cell="fce_query",
        find="(h + readout, c)",
        replace="(h, c)",
        loses=("fce_query_tests",),
        why="never feeds the attention readout r_k to the LSTM cell",
        hint="Check where the attention readout of g(S) enters the LSTM cell.",
    ),
    PlantedBug(
        cell="fce_query",
        find="torch.softmax(h @ support_g.T, dim=1)",
        replace="torch.softmax(h @ support_g.T, dim=0)",
        loses=("fce_query_tests",),
        why="normalises the attention over the queries instead of the support set",
        hint="Check over which set the attention weights of one query sum to 1.",
    ),
    PlantedBug(
        cell="fce_query",
        find="torch.softmax(h @ support_g.T, dim=1)",
        replace="torch.softmax(query_z @ support_g.T, dim=1)",
        loses=("fce_query_tests",),
        why="attends with the query's backbone features at every step instead of the state h_{k-1}",
        hint="Check which vector attends to g(S) at step k.",
    ),
    PlantedBug(
        cell="transductive_gap",
        find="(together - alone).abs().max().item()",
        replace="(together.argmax(dim=1) != alone.argmax(dim=1)).float().max().item()",
        loses=("transductive_gap_tests",),
        why="compares the predicted classes, not the logits",
        hint="Check whether your gap sees a change of the logits that leaves every prediction as it was.",
    ),
    PlantedBug(
        cell="transductive_gap",
        find="(together - alone).abs().max().item()",
        replace="(together - alone).abs().mean().item()",
        loses=("transductive_gap_tests",),
        why="averages the differences instead of taking the largest",
        hint="Check whether your gap is the largest difference or a typical one.",
    ),
    PlantedBug(
        cell="transductive_gap",
        find="(together - alone).abs().max().item()",
        replace="(together - alone).max().item()",
        loses=("transductive_gap_tests",),
        why="takes the largest signed difference: a logit that moves down is missed",
        hint="Check whether your gap sees a logit that moves down as well as one that moves up.",
    ),
]

# Mutants that behave exactly like the solution for every input the exercises allow.
EQUIVALENT_MUTANTS = {
    'return head((z1 - z2).abs()).squeeze(-1) -> return head((z1 - z2).abs()).squeeze(+1)':
        "the head's output is 2-D [P, 1]: axis +1 is axis -1",
    'return torch.stack([pair_logits[:, support_y == n].max(dim=1).values for n in range(n_way)], dim=1) -> return torch.stack([pair_logits[:, support_y == n].max(dim=1).values for n in range(n_way)], dim=-1)':
        'each stacked score is 1-D [M]: stacking on axis -1 of the result is stacking on axis 1',
    'return torch.stack([pair_logits[:, support_y == n].max(dim=1).values for n in range(n_way)], dim=1) -> return torch.stack([pair_logits[:, support_y == n].max(dim=-1).values for n in range(n_way)], dim=1)':
        "a class's pair logits are 2-D [M, K]: axis -1 is axis 1",
    'forward, backward = states[0].chunk(2, dim=-1) -> forward, backward = states[0].chunk(2, dim=1)':
        "the LSTM's states are 2-D [N*K, 2D]: axis 1 is axis -1",
    'forward, backward = states[0].chunk(2, dim=-1) -> forward, backward = states[0].chunk(2, dim=+1)':
        "the LSTM's states are 2-D [N*K, 2D]: axis +1 is axis -1",
    'attention = torch.softmax(h @ support_g.T, dim=1) -> attention = torch.softmax(h @ support_g.T, dim=-1)':
        'the scores are 2-D [M, N*K]: axis -1 is axis 1',
}
