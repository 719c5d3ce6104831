"""Correct alternatives and conceptual mistakes for notebook 00_episodes (see
autograder/corpus.py and notebooks/AUTHORING.md, "Corpora")."""

from autograder.corpus import Alternative, Mistake

CORRECT = [
    Alternative(
        cell="nearest_neighbour",
        why="squared distances by broadcasting, argmin, then the labels",
        code='''
def nearest_neighbour_predict(support_x, support_y, query_x):
    diff = query_x.flatten(1)[:, None, :] - support_x.flatten(1)[None, :, :]  # (M, N*K, P)
    return support_y[(diff ** 2).sum(-1).argmin(dim=1)]
''',
    ),
    Alternative(
        cell="nearest_neighbour",
        why="a loop over the queries with torch.norm",
        code='''
def nearest_neighbour_predict(support_x, support_y, query_x):
    labels = []
    for q in query_x:
        distances = torch.stack([torch.norm(q - s) for s in support_x])
        labels.append(support_y[int(distances.argmin())])
    return torch.stack(labels)
''',
    ),
    Alternative(
        cell="nearest_neighbour",
        why="the expanded form |q|^2 - 2 q.s + |s|^2 in float64",
        code='''
def nearest_neighbour_predict(support_x, support_y, query_x):
    q, s = query_x.flatten(1).double(), support_x.flatten(1).double()
    squared = (q ** 2).sum(1, keepdim=True) - 2 * q @ s.T + (s ** 2).sum(1)
    return support_y[squared.argmin(dim=1)].long()
''',
    ),
    Alternative(
        cell="generic_learner",
        why="SGD-style loop written with set_to_none and an explicit closure",
        code='''
def fit_generic_learner(support_x, support_y, n_way, steps=BASELINE_STEPS, lr=1e-2, seed=0):
    torch.manual_seed(seed)
    model = make_small_network(n_way)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def closure():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(support_x), support_y)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)
    return model.eval()
''',
    ),
    Alternative(
        cell="generic_learner",
        why="log_softmax and nll_loss, gradients cleared after the step",
        code='''
def fit_generic_learner(support_x, support_y, n_way, steps=BASELINE_STEPS, lr=1e-2, seed=0):
    torch.manual_seed(seed)
    model = make_small_network(n_way)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for step in range(steps):
        log_probs = torch.log_softmax(model(support_x), dim=1)
        torch.nn.functional.nll_loss(log_probs, support_y).backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()
''',
    ),
    Alternative(
        cell="nearest_neighbour",
        why="topk of the negated distances",
        code='''
def nearest_neighbour_predict(support_x, support_y, query_x):
    distances = torch.cdist(query_x.reshape(len(query_x), -1), support_x.reshape(len(support_x), -1))
    return support_y[(-distances).topk(1, dim=1).indices.squeeze(1)]
''',
    ),
    Alternative(
        cell="generic_learner",
        why="an nn.CrossEntropyLoss module and an explicit parameter list",
        code='''
def fit_generic_learner(support_x, support_y, n_way, steps=BASELINE_STEPS, lr=1e-2, seed=0):
    torch.manual_seed(seed)
    model = make_small_network(n_way)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(list(model.parameters()), lr=lr)
    step = 0
    while step < steps:
        optimizer.zero_grad()
        criterion(model(support_x), support_y).backward()
        optimizer.step()
        step += 1
    model.eval()
    return model
''',
    ),
]

WRONG = [
    Mistake(
        cell="nearest_neighbour",
        why="the farthest support image (argmax of the distances)",
        code='''
def nearest_neighbour_predict(support_x, support_y, query_x):
    distances = torch.cdist(query_x.flatten(1), support_x.flatten(1))
    return support_y[distances.argmax(dim=1)]
''',
        fails=("nearest_neighbour_tests",),
    ),
    Mistake(
        cell="nearest_neighbour",
        why="returns the index of the nearest support image, not its label",
        code='''
def nearest_neighbour_predict(support_x, support_y, query_x):
    distances = torch.cdist(query_x.flatten(1), support_x.flatten(1))
    return distances.argmin(dim=1)
''',
        fails=("nearest_neighbour_tests",),
    ),
    Mistake(
        cell="nearest_neighbour",
        why="assumes the support set is sorted by class (index // K as the label)",
        code='''
def nearest_neighbour_predict(support_x, support_y, query_x):
    k = len(support_y) // (int(support_y.max()) + 1)
    distances = torch.cdist(query_x.flatten(1), support_x.flatten(1))
    return distances.argmin(dim=1) // k
''',
        fails=("nearest_neighbour_tests",),
    ),
    Mistake(
        cell="nearest_neighbour",
        why="the highest dot product (similarity without the norms) instead of the distance",
        code='''
def nearest_neighbour_predict(support_x, support_y, query_x):
    scores = query_x.flatten(1) @ support_x.flatten(1).T
    return support_y[scores.argmax(dim=1)]
''',
        fails=("nearest_neighbour_tests",),
    ),
    Mistake(
        cell="generic_learner",
        why="never clears the gradients, so they pile up over the steps",
        code='''
def fit_generic_learner(support_x, support_y, n_way, steps=BASELINE_STEPS, lr=1e-2, seed=0):
    torch.manual_seed(seed)
    model = make_small_network(n_way)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        torch.nn.functional.cross_entropy(model(support_x), support_y).backward()
        optimizer.step()
    return model.eval()
''',
        fails=("generic_learner_tests",),
    ),
    Mistake(
        cell="generic_learner",
        why="ignores lr (Adam's default 1e-3)",
        code='''
def fit_generic_learner(support_x, support_y, n_way, steps=BASELINE_STEPS, lr=1e-2, seed=0):
    torch.manual_seed(seed)
    model = make_small_network(n_way)
    optimizer = torch.optim.Adam(model.parameters())
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(support_x), support_y).backward()
        optimizer.step()
    return model.eval()
''',
        fails=("generic_learner_tests",),
    ),
    Mistake(
        cell="generic_learner",
        why="trains a network made before seeding (ignores seed)",
        code='''
def fit_generic_learner(support_x, support_y, n_way, steps=BASELINE_STEPS, lr=1e-2, seed=0):
    model = make_small_network(n_way)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(support_x), support_y).backward()
        optimizer.step()
    return model.eval()
''',
        fails=("generic_learner_tests",),
    ),
    Mistake(
        cell="generic_learner",
        why="one step on each support image in turn instead of the whole support set",
        code='''
def fit_generic_learner(support_x, support_y, n_way, steps=BASELINE_STEPS, lr=1e-2, seed=0):
    torch.manual_seed(seed)
    model = make_small_network(n_way)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        i = step % len(support_y)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(support_x[i:i + 1]), support_y[i:i + 1]).backward()
        optimizer.step()
    return model.eval()
''',
        fails=("generic_learner_tests",),
    ),
]
