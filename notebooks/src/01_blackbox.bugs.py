"""Planted bugs of notebook 01_blackbox: each must lose exactly the points of its
``loses`` cells and nothing else (see notebooks/AUTHORING.md)."""

from autograder.authoring import PlantedBug

BUGS = [
    PlantedBug(
        cell="make_sequence",
        find="    one_hot[:, 0::2] = 0.0  # the labels of the queries are what we predict: zero them\n",
        replace="",
        loses=("make_sequence_tests",),
        why="leaves the query labels in the input",
        hint=(
            "Check whether anything in the input at a query position can tell the network that "
            "query's label."
        ),
    ),
    PlantedBug(
        cell="make_sequence",
        find="torch.rand(batch, 2 * rounds + 1, n_way, generator=generator).argsort(dim=-1)",
        replace="torch.arange(n_way).expand(batch, 2 * rounds + 1, n_way)",
        loses=("make_sequence_tests",),
        why="keeps the class-major order, so an item's position in its round is its label",
        hint=(
            "Check whether each round is really shuffled, or whether an item's position in its "
            "round still tells its class."
        ),
    ),
    PlantedBug(
        cell="make_sequence",
        find="torch.rand(batch, 2 * rounds + 1, n_way, generator=generator).argsort(dim=-1)",
        replace="torch.rand(batch, 1, n_way, generator=generator).argsort(dim=-1).expand(-1, 2 * rounds + 1, -1)",
        loses=("make_sequence_tests",),
        why="one order for all rounds: a query's label is at its position in the round before",
        hint=(
            "Check whether the order of a round says anything about the order of the round "
            "before it."
        ),
    ),
    PlantedBug(
        cell="make_sequence",
        find="one_hot.scatter_(-1, targets[..., None], 1.0)",
        replace="one_hot.scatter_(2, targets[..., None], 1.0)",
        loses=("make_sequence_tests",),
        why="puts the one-hot on the wrong axis (item axis instead of the label axis)",
        hint=(
            "Check how the label part of a support item is laid out: print it for one item and "
            "see whether it marks that item's class."
        ),
    ),
    PlantedBug(
        cell="make_sequence",
        find="order = torch.rand(batch, 2 * rounds + 1, n_way, generator=generator).argsort(dim=-1)",
        replace=(
            "order = torch.rand(batch, 1, n_way, generator=generator).argsort(dim=-1)\n"
            "    order = torch.cat([order.roll(r, dims=-1) for r in range(2 * rounds + 1)], dim=1)"
        ),
        loses=("make_sequence_tests",),
        why=(
            "shifts one shuffled order by a slot every round: each round looks random, but the "
            "labels of a query round can be read off the support round before it"
        ),
        hint=(
            "Check whether the order of each round is independent of the earlier rounds, and not "
            "merely different from them."
        ),
    ),
    PlantedBug(
        cell="lstm_learner",
        find="self.lstm1(inputs, state1)",
        replace="self.lstm1(inputs.flip(1), state1)",
        loses=("lstm_learner_tests",),
        why="reads the sequence backwards",
        hint=(
            "Check whether the network reads a task's items in the order they come, so that the "
            "output at step t depends only on items up to t."
        ),
    ),
    PlantedBug(
        cell="lstm_learner",
        find="nn.LSTM(input_size + n_way, hidden_size, batch_first=True)",
        replace="nn.LSTM(input_size + n_way, hidden_size)",
        loses=("lstm_learner_tests",),
        why="the first layer reads the batch axis as time (tasks leak into each other)",
        hint=(
            "Check whether each LSTM layer knows which axis of its input is time and which one "
            "holds the separate tasks."
        ),
    ),
    PlantedBug(
        cell="lstm_learner",
        find="self.lstm2(hidden, state2)",
        replace="self.lstm2(hidden)",
        loses=("lstm_learner_tests",),
        why="resets the second layer's state when a task is read in pieces",
        hint=(
            "Check whether reading a task in pieces resumes every layer where it stopped, or "
            "whether some layer starts over."
        ),
    ),
    PlantedBug(
        cell="query_loss",
        find="F.cross_entropy(query_logits.flatten(0, 1), query_targets.flatten())",
        replace="F.cross_entropy(logits.flatten(0, 1), targets.flatten())",
        loses=("query_loss_tests",),
        why="averages the loss over the support positions too",
        hint=(
            "Check how many positions of the sequence end up in your average, and compare them "
            "with the positions the exercise says are scored."
        ),
    ),
    PlantedBug(
        cell="instance_accuracy",
        find="by_round[:, 0::2]",
        replace="by_round[:, 1::2]",
        loses=("instance_accuracy_tests",),
        why="scores the support rounds instead of the query rounds",
        hint=(
            "Check whether the rounds you score are the query rounds, given where the query "
            "rounds sit in the sequence."
        ),
    ),
    PlantedBug(
        cell="cosine_read_weights",
        find="unit_key = F.normalize(key, dim=-1)",
        replace="unit_key = key",
        loses=("cosine_read_weights_tests",),
        why="reads with dot products: the key is not normalised",
        hint=(
            "Check whether your similarity is a true cosine, so that the read weights stay the "
            "same when the key gets longer or shorter."
        ),
    ),
    PlantedBug(
        cell="cosine_read_weights",
        find="rows = F.normalize(memory, dim=-1)",
        replace="rows = memory",
        loses=("cosine_read_weights_tests",),
        why="the memory rows are not normalised",
        hint=(
            "Check whether your similarity is a true cosine, unaffected by how long each memory "
            "row is (an empty row included)."
        ),
    ),
    PlantedBug(
        cell="cosine_read_weights",
        find="return torch.softmax(strength * cosine, dim=-1)",
        replace="return torch.softmax(strength * cosine, dim=-1).detach()",
        loses=("mann_tests",),
        why=(
            "detaches the read weights: the values are right, but no gradient reaches the key "
            "or the read strength, so the MANN's controller cannot learn where to read"
        ),
        hint=(
            "Check whether anything in your read weights stops autograd from reaching the "
            "controller's key and read strength."
        ),
    ),
    PlantedBug(
        cell="lrua_write_weights",
        find="share = torch.sigmoid(gate)",
        replace="share = gate",
        loses=("lrua_write_weights_tests",),
        why="uses the gate logit without the sigmoid",
        hint=(
            "Check whether the two shares you interpolate with stay between 0 and 1 for any gate "
            "logit, as the formula's shares do."
        ),
    ),
    PlantedBug(
        cell="update_usage",
        find="new_usage = decay * usage + read_weights",
        replace="new_usage = usage + read_weights",
        loses=("update_usage_tests",),
        why="usage never decays",
        hint=(
            "Check whether a slot that is no longer read or written becomes less used over time, "
            "as the usage formula intends."
        ),
    ),
    PlantedBug(
        cell="update_usage",
        find="new_usage.argmin(dim=-1)",
        replace="new_usage.argmax(dim=-1)",
        loses=("update_usage_tests",),
        why="picks the most-used slot",
        hint=(
            "Check whether the slot you mark in the one-hot is the least used one, by comparing "
            "it with the new usage values by hand."
        ),
    ),
    PlantedBug(
        cell="write_memory",
        find="cleared = memory * (1 - previous_least_used[:, :, None])",
        replace="cleared = memory",
        loses=("write_memory_tests",),
        why="does not clear the least-used slot before writing",
        hint=(
            "Check how the old content of the previous least-used slot is treated when you "
            "write, and compare with the order of steps the exercise gives."
        ),
    ),
]

# Reviewed mutants that behave exactly like the solution for every input the exercise
# allows (autograder/mutation.py): `before -> after` of the changed lines, and why.
EQUIVALENT_MUTANTS = {
    'support = episode.support_x.flatten(2).view(batch, n_way, rounds, -1) -> support = episode.support_x.view(batch, n_way, rounds, -1)':
        'view(batch, N, R, -1) already flattens each image: the same tensor',
    'support = episode.support_x.flatten(2).view(batch, n_way, rounds, -1) -> support = episode.support_x.flatten(3).view(batch, n_way, rounds, -1)':
        'flattening H, W first and then C with view gives the same contiguous layout',
    'query = episode.query_x.flatten(2).view(batch, n_way, rounds + 1, -1) -> query = episode.query_x.view(batch, n_way, rounds + 1, -1)':
        'view(batch, N, R, -1) already flattens each image: the same tensor',
    'query = episode.query_x.flatten(2).view(batch, n_way, rounds + 1, -1) -> query = episode.query_x.flatten(3).view(batch, n_way, rounds + 1, -1)':
        'flattening H, W first and then C with view gives the same contiguous layout',
    'images[:, 0::2] = query.transpose(1, 2) -> images[:, 0::2] = query.transpose(2, 1)':
        'transpose(2, 1) is transpose(1, 2)',
    'images[:, 1::2] = support.transpose(1, 2) -> images[:, 1::2] = support.transpose(2, 1)':
        'transpose(2, 1) is transpose(1, 2)',
    'order = torch.rand(batch, 2 * rounds + 1, n_way, generator=generator).argsort(dim=-1) -> order = torch.rand(batch, 2 * rounds + 1, n_way, generator=generator).argsort()':
        "argsort's default axis is the last one",
    'order = torch.rand(batch, 2 * rounds + 1, n_way, generator=generator).argsort(dim=-1) -> order = torch.rand(batch, 2 * rounds + 1, n_way, generator=generator).argsort(dim=2)':
        'the tensor is 3-D [B, 2R+1, N]: axis 2 is axis -1',
    'correct = (logits.argmax(dim=-1) == targets).float() -> correct = (logits.argmax(dim=2) == targets).float()':
        'logits are 3-D [B, T, N]: axis 2 is axis -1',
    'return by_round[:, 0::2].mean(dim=-1) -> return by_round[:, 0::2].mean(dim=2)':
        'by_round is 3-D [B, rounds, N]: axis 2 is axis -1',
    'rows = F.normalize(memory, dim=-1) -> rows = F.normalize(memory, dim=2)':
        'memory is 3-D [B, S, W]: axis 2 is axis -1',
    'unit_key = F.normalize(key, dim=-1) -> unit_key = F.normalize(key, )':
        "key is 2-D [B, W]: axis 1 (F.normalize's default) is axis -1",
    'unit_key = F.normalize(key, dim=-1) -> unit_key = F.normalize(key)':
        "key is 2-D [B, W]: axis 1 (F.normalize's default) is axis -1",
    'unit_key = F.normalize(key, dim=-1) -> unit_key = F.normalize(key, dim=1)':
        "key is 2-D [B, W]: axis 1 (F.normalize's default) is axis -1",
    'unit_key = F.normalize(key, dim=-1) -> unit_key = F.normalize(key, dim=+1)':
        "key is 2-D [B, W]: axis 1 (F.normalize's default) is axis -1",
    'return torch.softmax(strength * cosine, dim=-1) -> return torch.softmax(strength * cosine, dim=1)':
        'cosine is 2-D [B, S]: axis 1 is axis -1',
    'return torch.softmax(strength * cosine, dim=-1) -> return torch.softmax(strength * cosine, dim=+1)':
        'cosine is 2-D [B, S]: axis 1 is axis -1',
    'least_used = F.one_hot(new_usage.argmin(dim=-1), usage.shape[-1]).to(usage.dtype) -> least_used = F.one_hot(new_usage.argmin(dim=-1), usage.shape[-1]).to(None)':
        'an int64 one-hot instead of a float one: every use multiplies it with float tensors, the same numbers',
    'least_used = F.one_hot(new_usage.argmin(dim=-1), usage.shape[-1]).to(usage.dtype) -> least_used = F.one_hot(new_usage.argmin(dim=-1), usage.shape[-1])':
        'an int64 one-hot instead of a float one: every use multiplies it with float tensors, the same numbers',
    'least_used = F.one_hot(new_usage.argmin(dim=-1), usage.shape[-1]).to(usage.dtype) -> least_used = F.one_hot(new_usage.argmin(dim=1), usage.shape[-1]).to(usage.dtype)':
        'usage is 2-D [B, S]: axis 1 is axis -1',
    'least_used = F.one_hot(new_usage.argmin(dim=-1), usage.shape[-1]).to(usage.dtype) -> least_used = F.one_hot(new_usage.argmin(dim=+1), usage.shape[-1]).to(usage.dtype)':
        'usage is 2-D [B, S]: axis 1 is axis -1',
    'least_used = F.one_hot(new_usage.argmin(dim=-1), usage.shape[-1]).to(usage.dtype) -> least_used = F.one_hot(new_usage.argmin(dim=-1), usage.shape[+1]).to(usage.dtype)':
        'usage is 2-D [B, S]: shape[+1] is shape[-1]',
}
