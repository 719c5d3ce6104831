"""Correct alternatives and conceptual mistakes for notebook 01_blackbox (see
autograder/corpus.py and notebooks/AUTHORING.md, "Corpora")."""

from autograder.corpus import Alternative, Mistake

_MAKE_SEQUENCE_LOOP = '''
def make_sequence(episode, generator=None):
    n_way = episode.n_way
    batch, n_support = episode.support_x.shape[:2]
    rounds = n_support // n_way
    inputs, targets = [], []
    for b in range(batch):
        task_inputs, task_targets = [], []
        for j in range(2 * rounds + 1):
            is_query, r = j % 2 == 0, j // 2
            for c in torch.randperm(n_way, generator=generator).tolist():
                if is_query:
                    image, label = episode.query_x[b, c * (rounds + 1) + r], torch.zeros(n_way)
                else:
                    image = episode.support_x[b, c * rounds + r]
                    label = torch.nn.functional.one_hot(torch.tensor(c), n_way).float()
                task_inputs.append(torch.cat([image.flatten().float(), label]))
                task_targets.append(c)
        inputs.append(torch.stack(task_inputs))
        targets.append(torch.tensor(task_targets))
    return torch.stack(inputs), torch.stack(targets)
'''

_SELF_SEEDED = _MAKE_SEQUENCE_LOOP.replace(
    "    inputs, targets = [], []\n", "    torch.manual_seed(0)\n    inputs, targets = [], []\n"
).replace("torch.randperm(n_way, generator=generator)", "torch.randperm(n_way)")

_MANN_MEMORY = '''
def write_memory(memory, write_weights, previous_least_used, value):
    cleared = {old} * (1 - previous_least_used[:, :, None])
    return cleared + write_weights[:, :, None] * {value}[:, None, :]
'''

CORRECT = [
    Alternative(cell="make_sequence", why="loops over tasks, rounds and a randperm per round",
                code=_MAKE_SEQUENCE_LOOP),
    Alternative(
        cell="make_sequence",
        why="one randperm per round shared by the tasks of the batch, built with index_select",
        code='''
def make_sequence(episode, generator=None):
    n_way = episode.n_way
    batch, n_support = episode.support_x.shape[:2]
    rounds = n_support // n_way
    support = episode.support_x.flatten(2).reshape(batch, n_way, rounds, -1)
    query = episode.query_x.flatten(2).reshape(batch, n_way, rounds + 1, -1)
    eye = torch.eye(n_way)
    pieces, labels = [], []
    for j in range(2 * rounds + 1):
        order = torch.randperm(n_way, generator=generator)
        source = query[:, :, j // 2] if j % 2 == 0 else support[:, :, j // 2]  # (B, N, P)
        images = source.index_select(1, order)
        label_part = torch.zeros(batch, n_way, n_way) if j % 2 == 0 else eye[order].expand(batch, -1, -1)
        pieces.append(torch.cat([images, label_part], dim=-1))
        labels.append(order.expand(batch, -1))
    return torch.cat(pieces, dim=1), torch.cat(labels, dim=1)
''',
    ),
    Alternative(
        cell="lstm_learner",
        why="passes a None state through explicitly and names the pieces differently",
        code='''
class LSTMLearner(nn.Module):
    def __init__(self, n_way, input_size=28 * 28, hidden_size=128):
        super().__init__()
        self.lstm1 = nn.LSTM(input_size=input_size + n_way, hidden_size=hidden_size, num_layers=1,
                             batch_first=True)
        self.lstm2 = nn.LSTM(input_size=hidden_size, hidden_size=n_way, batch_first=True)

    def forward(self, inputs, state=None):
        if state is None:
            first, (hidden, first_state) = None, self.lstm1(inputs)
            logits, second_state = self.lstm2(hidden)
        else:
            hidden, first_state = self.lstm1(inputs, state[0])
            logits, second_state = self.lstm2(hidden, state[1])
        return logits, (first_state, second_state)
''',
    ),
    Alternative(
        cell="lstm_learner",
        why="reads the sequence one step at a time (slow but the same)",
        code='''
class LSTMLearner(nn.Module):
    def __init__(self, n_way, input_size=28 * 28, hidden_size=128):
        super().__init__()
        self.lstm1 = nn.LSTM(input_size + n_way, hidden_size, batch_first=True)
        self.lstm2 = nn.LSTM(hidden_size, n_way, batch_first=True)

    def forward(self, inputs, state=None):
        state1, state2 = state if state is not None else (None, None)
        outputs = []
        for t in range(inputs.shape[1]):
            h, state1 = self.lstm1(inputs[:, t:t + 1], state1)
            out, state2 = self.lstm2(h, state2)
            outputs.append(out)
        return torch.cat(outputs, dim=1), (state1, state2)
''',
    ),
    Alternative(
        cell="query_loss",
        why="boolean mask broadcast over the batch and a manual log-softmax mean",
        code='''
def query_loss(logits, targets, is_query):
    log_probs = torch.log_softmax(logits, dim=-1)  # (B, T, N)
    picked = log_probs.gather(-1, targets[..., None]).squeeze(-1)  # (B, T)
    mask = is_query[None, :].expand_as(picked)
    return -picked[mask].mean()
''',
    ),
    Alternative(
        cell="query_loss",
        why="cross-entropy with reduction='none' weighted by the mask",
        code='''
def query_loss(logits, targets, is_query):
    per_item = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (B, T)
    weights = is_query.to(per_item.dtype).expand_as(per_item)
    return (per_item * weights).sum() / weights.sum()
''',
    ),
    Alternative(
        cell="instance_accuracy",
        why="float64 result from a loop over the query rounds",
        code='''
def instance_accuracy(logits, targets, n_way):
    batch, steps = targets.shape
    rounds = (steps // n_way - 1) // 2
    correct = (logits.argmax(-1) == targets).double()
    columns = [correct[:, 2 * r * n_way:(2 * r + 1) * n_way].mean(dim=1) for r in range(rounds + 1)]
    return torch.stack(columns, dim=1)
''',
    ),
    Alternative(
        cell="instance_accuracy",
        why="reshape to rounds and count the hits (float32 division)",
        code='''
def instance_accuracy(logits, targets, n_way):
    hits = (logits.argmax(dim=2) == targets).reshape(targets.shape[0], -1, n_way)
    return hits[:, ::2].sum(dim=2) / n_way
''',
    ),
    Alternative(
        cell="cosine_read_weights",
        why="F.cosine_similarity with an eps for empty rows",
        code='''
def cosine_read_weights(memory, key, strength):
    cosine = F.cosine_similarity(memory, key[:, None, :].expand_as(memory), dim=-1, eps=1e-8)
    return F.softmax(strength * cosine, dim=1)
''',
    ),
    Alternative(
        cell="cosine_read_weights",
        why="explicit norms clamped away from zero, einsum",
        code='''
def cosine_read_weights(memory, key, strength):
    dots = torch.einsum("bsw,bw->bs", memory, key)
    norms = memory.norm(dim=-1).clamp_min(1e-12) * key.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    scores = strength * dots / norms
    return torch.exp(scores - scores.max(dim=1, keepdim=True).values) / torch.exp(
        scores - scores.max(dim=1, keepdim=True).values).sum(dim=1, keepdim=True)
''',
    ),
    Alternative(
        cell="lrua_write_weights",
        why="torch.lerp between the least-used slot and the read weights",
        code='''
def lrua_write_weights(gate, read_weights, previous_least_used):
    return torch.lerp(previous_least_used, read_weights, torch.sigmoid(gate))
''',
    ),
    Alternative(
        cell="lrua_write_weights",
        why="the sigmoid written out",
        code='''
def lrua_write_weights(gate, read_weights, previous_least_used):
    s = 1 / (1 + torch.exp(-gate))
    return previous_least_used + s * (read_weights - previous_least_used)
''',
    ),
    Alternative(
        cell="update_usage",
        why="scatter a one into zeros at the argmin",
        code='''
def update_usage(usage, read_weights, write_weights, decay):
    new_usage = usage * decay + (read_weights + write_weights)
    least_used = torch.zeros_like(new_usage).scatter(1, new_usage.argmin(1, keepdim=True), 1.0)
    return new_usage, least_used
''',
    ),
    Alternative(
        cell="update_usage",
        why="compares with the row minimum (ties broken towards the first slot)",
        code='''
def update_usage(usage, read_weights, write_weights, decay):
    new_usage = decay * usage + read_weights + write_weights
    is_min = new_usage == new_usage.min(dim=-1, keepdim=True).values
    first = is_min & (is_min.cumsum(dim=-1) == 1)
    return new_usage, first.float()
''',
    ),
    Alternative(
        cell="write_memory",
        why="masked_fill on the least-used row, then an outer product",
        code='''
def write_memory(memory, write_weights, previous_least_used, value):
    cleared = memory.masked_fill(previous_least_used[:, :, None].bool(), 0.0)
    return cleared + torch.einsum("bs,bw->bsw", write_weights, value)
''',
    ),
    Alternative(cell="write_memory", why="the reference written with a multiplication mask",
                code=_MANN_MEMORY.format(old="memory", value="value")),
    Alternative(
        cell="query_loss",
        why="the mean over tasks of each task's mean query loss (equal counts per task)",
        code='''
def query_loss(logits, targets, is_query):
    per_task = [F.cross_entropy(logits[b][is_query], targets[b][is_query]) for b in range(logits.shape[0])]
    return torch.stack(per_task).mean()
''',
    ),
    Alternative(
        cell="instance_accuracy",
        why="float16 fractions from a boolean mean per query round",
        code='''
def instance_accuracy(logits, targets, n_way):
    right = logits.argmax(-1).eq(targets).half()
    return torch.stack([right[:, t:t + n_way].mean(dim=1) for t in range(0, targets.shape[1], 2 * n_way)], dim=1)
''',
    ),
    Alternative(
        cell="cosine_read_weights",
        why="a loop over the tasks of the batch",
        code='''
def cosine_read_weights(memory, key, strength):
    rows = []
    for b in range(memory.shape[0]):
        cos = F.cosine_similarity(memory[b], key[b][None], dim=1)
        rows.append(torch.softmax(strength[b] * cos, dim=0))
    return torch.stack(rows)
''',
    ),
    Alternative(
        cell="update_usage",
        why="torch.min's indices and one_hot in the usage's dtype",
        code='''
def update_usage(usage, read_weights, write_weights, decay):
    new_usage = torch.add(decay * usage, read_weights + write_weights)
    slot = torch.min(new_usage, dim=1).indices
    return new_usage, F.one_hot(slot, num_classes=new_usage.shape[1]).type_as(new_usage)
''',
    ),
    Alternative(
        cell="write_memory",
        why="torch.where on the least-used row",
        code='''
def write_memory(memory, write_weights, previous_least_used, value):
    keep = previous_least_used[:, :, None] == 0
    return torch.where(keep, memory, torch.zeros_like(memory)) + write_weights.unsqueeze(2) * value.unsqueeze(1)
''',
    ),
]

WRONG = [
    Mistake(cell="make_sequence", why="seeds the global RNG inside (every call gives the same orders)",
            code=_SELF_SEEDED, fails=("make_sequence_tests",)),
    Mistake(
        cell="make_sequence",
        why="a fixed internal generator instead of the one passed in",
        code=_MAKE_SEQUENCE_LOOP.replace(
            "    inputs, targets = [], []\n",
            "    generator = torch.Generator().manual_seed(1234)\n    inputs, targets = [], []\n"),
        fails=("make_sequence_tests",),
    ),
    Mistake(
        cell="make_sequence",
        why="seeds the global RNG from the generator's seed and draws from it",
        code=_SELF_SEEDED.replace("torch.manual_seed(0)", "torch.manual_seed(generator.initial_seed())"),
        fails=("make_sequence_tests",),
    ),
    Mistake(
        cell="make_sequence",
        why="one shuffled order reused by every round",
        code=_MAKE_SEQUENCE_LOOP.replace(
            "        for j in range(2 * rounds + 1):\n",
            "        order = torch.randperm(n_way, generator=generator).tolist()\n"
            "        for j in range(2 * rounds + 1):\n").replace(
            "for c in torch.randperm(n_way, generator=generator).tolist():", "for c in order:"),
        fails=("make_sequence_tests",),
    ),
    Mistake(
        cell="make_sequence",
        why="query labels left in the input",
        code=_MAKE_SEQUENCE_LOOP.replace(
            "image, label = episode.query_x[b, c * (rounds + 1) + r], torch.zeros(n_way)",
            "image = episode.query_x[b, c * (rounds + 1) + r]\n"
            "                    label = torch.nn.functional.one_hot(torch.tensor(c), n_way).float()"),
        fails=("make_sequence_tests",),
    ),
    Mistake(
        cell="lstm_learner",
        why="the first LSTM reads the image only (input_size, not input_size + N)",
        code='''
class LSTMLearner(nn.Module):
    def __init__(self, n_way, input_size=28 * 28, hidden_size=128):
        super().__init__()
        self.lstm1 = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.lstm2 = nn.LSTM(hidden_size, n_way, batch_first=True)

    def forward(self, inputs, state=None):
        state1, state2 = (None, None) if state is None else state
        hidden, state1 = self.lstm1(inputs[..., :self.lstm1.input_size], state1)
        logits, state2 = self.lstm2(hidden, state2)
        return logits, (state1, state2)
''',
        fails=("lstm_learner_tests",),
    ),
    Mistake(
        cell="lstm_learner",
        why="ignores the state passed in (every piece starts afresh)",
        code='''
class LSTMLearner(nn.Module):
    def __init__(self, n_way, input_size=28 * 28, hidden_size=128):
        super().__init__()
        self.lstm1 = nn.LSTM(input_size + n_way, hidden_size, batch_first=True)
        self.lstm2 = nn.LSTM(hidden_size, n_way, batch_first=True)

    def forward(self, inputs, state=None):
        hidden, state1 = self.lstm1(inputs)
        logits, state2 = self.lstm2(hidden)
        return logits, (state1, state2)
''',
        fails=("lstm_learner_tests",),
    ),
    Mistake(
        cell="lstm_learner",
        why="sequence-first LSTMs fed batch-first input (tasks mixed along time)",
        code='''
class LSTMLearner(nn.Module):
    def __init__(self, n_way, input_size=28 * 28, hidden_size=128):
        super().__init__()
        self.lstm1 = nn.LSTM(input_size + n_way, hidden_size)
        self.lstm2 = nn.LSTM(hidden_size, n_way)

    def forward(self, inputs, state=None):
        state1, state2 = (None, None) if state is None else state
        hidden, state1 = self.lstm1(inputs, state1)
        logits, state2 = self.lstm2(hidden, state2)
        return logits, (state1, state2)
''',
        fails=("lstm_learner_tests",),
    ),
    Mistake(
        cell="query_loss",
        why="averages over every position, support positions included",
        code='''
def query_loss(logits, targets, is_query):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())
''',
        fails=("query_loss_tests",),
    ),
    Mistake(
        cell="query_loss",
        why="sums over the queries instead of averaging",
        code='''
def query_loss(logits, targets, is_query):
    return F.cross_entropy(logits[:, is_query].flatten(0, 1), targets[:, is_query].flatten(), reduction="sum")
''',
        fails=("query_loss_tests",),
    ),
    Mistake(
        cell="query_loss",
        why="softmax probabilities fed to cross_entropy (softmax applied twice)",
        code='''
def query_loss(logits, targets, is_query):
    probs = torch.softmax(logits[:, is_query], dim=-1)
    return F.cross_entropy(probs.flatten(0, 1), targets[:, is_query].flatten())
''',
        fails=("query_loss_tests",),
    ),
    Mistake(
        cell="query_loss",
        why="the loss on the support positions (mask inverted)",
        code='''
def query_loss(logits, targets, is_query):
    return F.cross_entropy(logits[:, ~is_query].flatten(0, 1), targets[:, ~is_query].flatten())
''',
        fails=("query_loss_tests",),
    ),
    Mistake(
        cell="instance_accuracy",
        why="the accuracy of the support rounds",
        code='''
def instance_accuracy(logits, targets, n_way):
    correct = (logits.argmax(dim=-1) == targets).float()
    return correct.view(correct.shape[0], -1, n_way)[:, 1::2].mean(dim=-1)
''',
        fails=("instance_accuracy_tests",),
    ),
    Mistake(
        cell="instance_accuracy",
        why="averages over the tasks too (one row for the batch)",
        code='''
def instance_accuracy(logits, targets, n_way):
    correct = (logits.argmax(dim=-1) == targets).float()
    return correct.view(correct.shape[0], -1, n_way)[:, 0::2].mean(dim=(0, 2))[None]
''',
        fails=("instance_accuracy_tests",),
    ),
    Mistake(
        cell="instance_accuracy",
        why="groups positions by slot instead of by round (view with the axes swapped)",
        code='''
def instance_accuracy(logits, targets, n_way):
    correct = (logits.argmax(dim=-1) == targets).float()
    by_round = correct.view(correct.shape[0], n_way, -1).transpose(1, 2)
    return by_round[:, 0::2].mean(dim=-1)
''',
        fails=("instance_accuracy_tests",),
    ),
    Mistake(
        cell="cosine_read_weights",
        why="normalises the key but not the memory rows",
        code='''
def cosine_read_weights(memory, key, strength):
    scores = (memory @ F.normalize(key, dim=-1)[:, :, None]).squeeze(-1)
    return torch.softmax(strength * scores, dim=-1)
''',
        fails=("cosine_read_weights_tests",),
    ),
    Mistake(
        cell="cosine_read_weights",
        why="softmax over the batch instead of the slots",
        code='''
def cosine_read_weights(memory, key, strength):
    cosine = F.cosine_similarity(memory, key[:, None, :], dim=-1)
    return torch.softmax(strength * cosine, dim=0)
''',
        fails=("cosine_read_weights_tests", "mann_tests"),
    ),
    Mistake(
        cell="cosine_read_weights",
        why="forgets the strength",
        code='''
def cosine_read_weights(memory, key, strength):
    cosine = F.cosine_similarity(memory, key[:, None, :], dim=-1)
    return torch.softmax(cosine, dim=-1)
''',
        fails=("cosine_read_weights_tests",),
    ),
    Mistake(
        cell="lrua_write_weights",
        why="the gate's share on the wrong side (sigmoid weights the least-used slot)",
        code='''
def lrua_write_weights(gate, read_weights, previous_least_used):
    share = torch.sigmoid(gate)
    return share * previous_least_used + (1 - share) * read_weights
''',
        fails=("lrua_write_weights_tests",),
    ),
    Mistake(
        cell="lrua_write_weights",
        why="uses the gate logit as a share without the sigmoid",
        code='''
def lrua_write_weights(gate, read_weights, previous_least_used):
    return gate * read_weights + (1 - gate) * previous_least_used
''',
        fails=("lrua_write_weights_tests",),
    ),
    Mistake(
        cell="lrua_write_weights",
        why="adds the two weightings without the (1 - share) factor",
        code='''
def lrua_write_weights(gate, read_weights, previous_least_used):
    return torch.sigmoid(gate) * read_weights + previous_least_used
''',
        fails=("lrua_write_weights_tests",),
    ),
    Mistake(
        cell="update_usage",
        why="the most used slot as least used (argmax)",
        code='''
def update_usage(usage, read_weights, write_weights, decay):
    new_usage = decay * usage + read_weights + write_weights
    return new_usage, F.one_hot(new_usage.argmax(dim=-1), usage.shape[-1]).float()
''',
        fails=("update_usage_tests",),
    ),
    Mistake(
        cell="update_usage",
        why="the least-used slot of the old usage, before this step's reads and writes",
        code='''
def update_usage(usage, read_weights, write_weights, decay):
    new_usage = decay * usage + read_weights + write_weights
    return new_usage, F.one_hot(usage.argmin(dim=-1), usage.shape[-1]).float()
''',
        fails=("update_usage_tests",),
    ),
    Mistake(
        cell="update_usage",
        why="decays this step's reads and writes too",
        code='''
def update_usage(usage, read_weights, write_weights, decay):
    new_usage = decay * (usage + read_weights + write_weights)
    return new_usage, F.one_hot(new_usage.argmin(dim=-1), usage.shape[-1]).float()
''',
        fails=("update_usage_tests",),
    ),
    Mistake(cell="write_memory", why="detaches the old memory (no gradient to earlier writes)",
            code=_MANN_MEMORY.format(old="memory.detach()", value="value"),
            fails=("write_memory_tests", "mann_tests")),
    Mistake(cell="write_memory", why="detaches the written key",
            code=_MANN_MEMORY.format(old="memory", value="value.detach()"),
            fails=("write_memory_tests", "mann_tests")),
    Mistake(
        cell="write_memory",
        why="writes first, then clears the least-used row (the new key is erased)",
        code='''
def write_memory(memory, write_weights, previous_least_used, value):
    written = memory + write_weights[:, :, None] * value[:, None, :]
    return written * (1 - previous_least_used[:, :, None])
''',
        fails=("write_memory_tests",),
    ),
    Mistake(
        cell="write_memory",
        why="modifies the memory in place",
        code='''
def write_memory(memory, write_weights, previous_least_used, value):
    memory *= 1 - previous_least_used[:, :, None]
    memory += write_weights[:, :, None] * value[:, None, :]
    return memory
''',
        fails=("write_memory_tests", "mann_tests"),
    ),
]
