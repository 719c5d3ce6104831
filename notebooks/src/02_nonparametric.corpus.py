"""Correct alternatives and conceptual mistakes for notebook 02_nonparametric (see
autograder/corpus.py and notebooks/AUTHORING.md, "Corpora")."""

from autograder.corpus import Alternative, Mistake

_LOSS = '''
def protonet_loss(model, episode):
    support_z, query_z = embed_episode(model, episode)
    centres = prototypes({support}, episode.support_y, episode.n_way)
    logits = protonet_logits({query}, centres)
    loss = F.cross_entropy(logits, episode.query_y)
    return loss, (logits.argmax(dim=1) == episode.query_y).float().mean().item()
'''

CORRECT = [
    Alternative(
        cell="embedding_nearest_neighbour",
        why="one forward pass over both sets, squared distances by broadcasting",
        code='''
def embedding_nearest_neighbour(embed, support_x, support_y, query_x):
    z = embed(torch.cat([support_x, query_x]))
    support_z, query_z = z[:len(support_x)], z[len(support_x):]
    squared = ((query_z[:, None] - support_z[None]) ** 2).sum(-1)
    return support_y[squared.argmin(1)]
''',
    ),
    Alternative(
        cell="embedding_nearest_neighbour",
        why="a loop over the queries, under no_grad",
        code='''
@torch.no_grad()
def embedding_nearest_neighbour(embed, support_x, support_y, query_x):
    support_z = embed(support_x)
    labels = [support_y[torch.linalg.vector_norm(support_z - z, dim=1).argmin()] for z in embed(query_x)]
    return torch.stack(labels)
''',
    ),
    Alternative(
        cell="prototypes",
        why="a one-hot matrix product divided by the class counts",
        code='''
def prototypes(support_embeddings, support_y, n_way):
    one_hot = F.one_hot(support_y, n_way).to(support_embeddings.dtype)  # (N*K, N)
    return one_hot.T @ support_embeddings / one_hot.sum(0)[:, None]
''',
    ),
    Alternative(
        cell="prototypes",
        why="index_add_ into a zero tensor, then a division",
        code='''
def prototypes(support_embeddings, support_y, n_way):
    sums = support_embeddings.new_zeros(n_way, support_embeddings.shape[1]).index_add(0, support_y, support_embeddings)
    counts = torch.bincount(support_y, minlength=n_way).to(support_embeddings.dtype)
    return sums / counts[:, None]
''',
    ),
    Alternative(
        cell="protonet_logits",
        why="torch.cdist squared",
        code='''
def protonet_logits(query_embeddings, prototypes):
    return -torch.cdist(query_embeddings, prototypes) ** 2
''',
    ),
    Alternative(
        cell="protonet_logits",
        why="the expanded form -(|z|^2 - 2 z.c + |c|^2)",
        code='''
def protonet_logits(query_embeddings, prototypes):
    z2 = (query_embeddings ** 2).sum(1, keepdim=True)
    c2 = (prototypes ** 2).sum(1)
    return -(z2 - 2 * query_embeddings @ prototypes.T + c2)
''',
    ),
    Alternative(
        cell="protonet_loss",
        why="log_softmax and nll_loss, accuracy from the probabilities",
        code='''
def protonet_loss(model, episode):
    support_z, query_z = embed_episode(model, episode)
    logits = protonet_logits(query_z, prototypes(support_z, episode.support_y, episode.n_way))
    log_p = torch.log_softmax(logits, dim=1)
    loss = F.nll_loss(log_p, episode.query_y)
    accuracy = float((log_p.exp().argmax(1) == episode.query_y).sum()) / len(episode.query_y)
    return loss, accuracy
''',
    ),
    Alternative(
        cell="protonet_loss",
        why="embeds support and query with two calls of the model",
        code='''
def protonet_loss(model, episode):
    centres = prototypes(model(episode.support_x), episode.support_y, episode.n_way)
    logits = protonet_logits(model(episode.query_x), centres)
    loss = F.cross_entropy(logits, episode.query_y)
    return loss, (logits.argmax(1) == episode.query_y).double().mean().item()
''',
    ),
    Alternative(
        cell="protonet_loss",
        why="inline one-hot prototypes and expanded squared distances, split with torch.split",
        code='''
def protonet_loss(model, episode):
    n_support = len(episode.support_y)
    support_z, query_z = torch.split(model(torch.cat([episode.support_x, episode.query_x])),
                                     [n_support, len(episode.query_y)])
    onehot = F.one_hot(episode.support_y, episode.n_way).to(support_z.dtype)  # (N*K, N)
    centres = (onehot.T @ support_z) / onehot.sum(dim=0)[:, None]  # (N, D)
    squared = (query_z**2).sum(1, keepdim=True) - 2 * query_z @ centres.T + (centres**2).sum(1)
    logits = -squared  # (M, N)
    loss = F.cross_entropy(logits, episode.query_y)
    accuracy = torch.eq(logits.argmax(dim=1), episode.query_y).float().mean().item()
    return loss, accuracy
''',
    ),
    Alternative(
        cell="protonet_predict",
        why="restores the model's mode afterwards",
        code='''
@torch.no_grad()
def protonet_predict(model, episode):
    was_training = model.training
    model.eval()
    try:
        support_z, query_z = embed_episode(model, episode)
        return protonet_logits(query_z, prototypes(support_z, episode.support_y, episode.n_way))
    finally:
        model.train(was_training)
''',
    ),
    Alternative(
        cell="protonet_predict",
        why="inference_mode and cdist",
        code='''
def protonet_predict(model, episode):
    model.eval()
    with torch.inference_mode():
        support_z, query_z = model(episode.support_x), model(episode.query_x)
        return -torch.cdist(query_z, prototypes(support_z, episode.support_y, episode.n_way)) ** 2
''',
    ),
    Alternative(
        cell="matching_probabilities",
        why="F.cosine_similarity by broadcasting, scatter of the attention into classes",
        code='''
def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0):
    cos = F.cosine_similarity(query_embeddings[:, None, :], support_embeddings[None, :, :], dim=-1)
    attention = F.softmax(scale * cos, dim=-1)
    out = attention.new_zeros(len(query_embeddings), n_way)
    return out.index_add(1, support_y, attention)
''',
    ),
    Alternative(
        cell="matching_probabilities",
        why="a loop over the classes summing the attention",
        code='''
def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0):
    q = query_embeddings / query_embeddings.norm(dim=1, keepdim=True)
    s = support_embeddings / support_embeddings.norm(dim=1, keepdim=True)
    attention = torch.softmax(scale * q @ s.T, dim=1)
    return torch.stack([attention[:, support_y == n].sum(1) for n in range(n_way)], dim=1)
''',
    ),
    Alternative(
        cell="matching_probabilities",
        why="einsum of unit vectors, a class mask from comparing labels with arange",
        code='''
def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0):
    q = query_embeddings / torch.linalg.vector_norm(query_embeddings, dim=-1, keepdim=True)
    s = support_embeddings / torch.linalg.vector_norm(support_embeddings, dim=-1, keepdim=True)
    attention = torch.einsum("md,kd->mk", q, s).mul(scale).softmax(dim=-1)  # (M, N*K)
    mask = support_y[:, None] == torch.arange(n_way, device=support_y.device)  # (N*K, N)
    return torch.einsum("mk,kn->mn", attention, mask.to(attention.dtype))
''',
    ),
    Alternative(
        cell="matching_nll",
        why="fancy indexing and torch.clamp",
        code='''
def matching_nll(probabilities, query_y):
    picked = probabilities[torch.arange(len(query_y)), query_y]
    return -torch.log(torch.clamp(picked, min=1e-12)).mean()
''',
    ),
    Alternative(
        cell="matching_nll",
        why="F.nll_loss on the clamped log-probabilities",
        code='''
def matching_nll(probabilities, query_y):
    return F.nll_loss(probabilities.clamp(min=1e-12).log(), query_y)
''',
    ),
    Alternative(
        cell="embedding_nearest_neighbour",
        why="min over the support axis of the distances",
        code='''
def embedding_nearest_neighbour(embed, support_x, support_y, query_x):
    return support_y[torch.cdist(embed(query_x), embed(support_x)).min(dim=1).indices]
''',
    ),
    Alternative(
        cell="prototypes",
        why="a loop with masked sums and counts",
        code='''
def prototypes(support_embeddings, support_y, n_way):
    rows = []
    for n in range(n_way):
        mask = (support_y == n).to(support_embeddings.dtype)[:, None]
        rows.append((support_embeddings * mask).sum(0) / mask.sum())
    return torch.stack(rows)
''',
    ),
    Alternative(
        cell="protonet_logits",
        why="einsum over the differences",
        code='''
def protonet_logits(query_embeddings, prototypes):
    d = query_embeddings.unsqueeze(1) - prototypes.unsqueeze(0)
    return -torch.einsum("mnd,mnd->mn", d, d)
''',
    ),
    Alternative(
        cell="protonet_predict",
        why="model.train(False) and separate passes",
        code='''
def protonet_predict(model, episode):
    model.train(False)
    with torch.no_grad():
        centres = prototypes(model(episode.support_x), episode.support_y, episode.n_way)
        return protonet_logits(model(episode.query_x), centres)
''',
    ),
    Alternative(
        cell="matching_nll",
        why="a one-hot mask times the clamped log-probabilities",
        code='''
def matching_nll(probabilities, query_y):
    log_p = probabilities.clamp_min(1e-12).log()
    return -(log_p * F.one_hot(query_y, probabilities.shape[1])).sum(dim=1).mean()
''',
    ),
]

WRONG = [
    Mistake(
        cell="embedding_nearest_neighbour",
        why="compares the query with the raw support images (embeds only the queries)",
        code='''
def embedding_nearest_neighbour(embed, support_x, support_y, query_x):
    query_z = embed(query_x)
    support_z = support_x.flatten(1)[:, :query_z.shape[1]]
    return support_y[torch.cdist(query_z, support_z).argmin(dim=1)]
''',
        fails=("embedding_nearest_neighbour_tests",),
    ),
    Mistake(
        cell="embedding_nearest_neighbour",
        why="cosine similarity instead of the Euclidean distance",
        code='''
def embedding_nearest_neighbour(embed, support_x, support_y, query_x):
    similarity = F.normalize(embed(query_x), dim=1) @ F.normalize(embed(support_x), dim=1).T
    return support_y[similarity.argmax(dim=1)]
''',
        fails=("embedding_nearest_neighbour_tests",),
    ),
    Mistake(
        cell="embedding_nearest_neighbour",
        why="returns support positions instead of labels",
        code='''
def embedding_nearest_neighbour(embed, support_x, support_y, query_x):
    return torch.cdist(embed(query_x), embed(support_x)).argmin(dim=1)
''',
        fails=("embedding_nearest_neighbour_tests",),
    ),
    Mistake(
        cell="prototypes",
        why="detaches the embeddings (no gradient through the prototypes)",
        code='''
def prototypes(support_embeddings, support_y, n_way):
    z = support_embeddings.detach()
    return torch.stack([z[support_y == n].mean(dim=0) for n in range(n_way)])
''',
        fails=("prototypes_tests", "protonet_loss_tests"),
    ),
    Mistake(
        cell="prototypes",
        why="sums instead of averaging",
        code='''
def prototypes(support_embeddings, support_y, n_way):
    return torch.stack([support_embeddings[support_y == n].sum(dim=0) for n in range(n_way)])
''',
        fails=("prototypes_tests",),
    ),
    Mistake(
        cell="prototypes",
        why="the class of each example taken from its position (n-th block of K)",
        code='''
def prototypes(support_embeddings, support_y, n_way):
    k = len(support_y) // n_way
    return torch.stack([support_embeddings[n * k:(n + 1) * k].mean(dim=0) for n in range(n_way)])
''',
        fails=("prototypes_tests",),
    ),
    Mistake(
        cell="prototypes",
        why="goes through NumPy (no gradient)",
        code='''
def prototypes(support_embeddings, support_y, n_way):
    import numpy as np

    z, y = support_embeddings.detach().numpy(), support_y.numpy()
    return torch.tensor(np.stack([z[y == n].mean(axis=0) for n in range(n_way)]))
''',
        fails=("prototypes_tests", "protonet_loss_tests"),
    ),
    Mistake(
        cell="protonet_logits",
        why="the Euclidean distance without the square",
        code='''
def protonet_logits(query_embeddings, prototypes):
    return -torch.cdist(query_embeddings, prototypes)
''',
        fails=("protonet_logits_tests",),
    ),
    Mistake(
        cell="protonet_logits",
        why="dot products instead of distances",
        code='''
def protonet_logits(query_embeddings, prototypes):
    return query_embeddings @ prototypes.T
''',
        fails=("protonet_logits_tests",),
    ),
    Mistake(
        cell="protonet_logits",
        why="the mean over features instead of the sum",
        code='''
def protonet_logits(query_embeddings, prototypes):
    return -((query_embeddings[:, None] - prototypes[None]) ** 2).mean(dim=-1)
''',
        fails=("protonet_logits_tests",),
    ),
    Mistake(cell="protonet_loss", why="prototypes from detached support embeddings",
            code=_LOSS.format(support="support_z.detach()", query="query_z"),
            fails=("protonet_loss_tests",)),
    Mistake(cell="protonet_loss", why="detached query embeddings",
            code=_LOSS.format(support="support_z", query="query_z.detach()"),
            fails=("protonet_loss_tests",)),
    Mistake(
        cell="protonet_loss",
        why="labels from episode.classes (the dataset's ids) instead of 0..N-1",
        code='''
def protonet_loss(model, episode):
    support_z, query_z = embed_episode(model, episode)
    order = episode.classes.argsort()
    centres = prototypes(support_z, episode.support_y, episode.n_way)[order]
    logits = protonet_logits(query_z, centres)
    loss = F.cross_entropy(logits, episode.query_y)
    return loss, (logits.argmax(dim=1) == episode.query_y).float().mean().item()
''',
        fails=("protonet_loss_tests",),
    ),
    Mistake(
        cell="protonet_loss",
        why="returns the accuracy as a tensor tied to the graph and the loss summed",
        code='''
def protonet_loss(model, episode):
    support_z, query_z = embed_episode(model, episode)
    logits = protonet_logits(query_z, prototypes(support_z, episode.support_y, episode.n_way))
    loss = F.cross_entropy(logits, episode.query_y, reduction="sum")
    return loss, (logits.argmax(dim=1) == episode.query_y).float().mean().item()
''',
        fails=("protonet_loss_tests",),
    ),
    Mistake(
        cell="protonet_predict",
        why="leaves the model in training mode (BatchNorm uses the episode's statistics)",
        code='''
@torch.no_grad()
def protonet_predict(model, episode):
    support_z, query_z = embed_episode(model, episode)
    return protonet_logits(query_z, prototypes(support_z, episode.support_y, episode.n_way))
''',
        fails=("protonet_predict_tests",),
    ),
    Mistake(
        cell="protonet_predict",
        why="returns the predicted labels instead of the logits",
        code='''
@torch.no_grad()
def protonet_predict(model, episode):
    model.eval()
    support_z, query_z = embed_episode(model, episode)
    return protonet_logits(query_z, prototypes(support_z, episode.support_y, episode.n_way)).argmax(dim=1)
''',
        fails=("protonet_predict_tests",),
    ),
    Mistake(
        cell="protonet_predict",
        why="uses the query set's labels to build the prototypes",
        code='''
@torch.no_grad()
def protonet_predict(model, episode):
    model.eval()
    support_z, query_z = embed_episode(model, episode)
    centres = prototypes(torch.cat([support_z, query_z]), torch.cat([episode.support_y, episode.query_y]),
                         episode.n_way)
    return protonet_logits(query_z, centres)
''',
        fails=("protonet_predict_tests",),
    ),
    Mistake(
        cell="matching_probabilities",
        why="forgets the scale",
        code='''
def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0):
    cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T
    return torch.softmax(cosine, dim=1) @ F.one_hot(support_y, n_way).float()
''',
        fails=("matching_probabilities_tests",),
    ),
    Mistake(
        cell="matching_probabilities",
        why="dot products without normalising",
        code='''
def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0):
    attention = torch.softmax(scale * query_embeddings @ support_embeddings.T, dim=1)
    return attention @ F.one_hot(support_y, n_way).float()
''',
        fails=("matching_probabilities_tests",),
    ),
    Mistake(
        cell="matching_probabilities",
        why="softmax over the queries instead of the support set",
        code='''
def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0):
    cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T
    attention = torch.softmax(scale * cosine, dim=0)
    return attention @ F.one_hot(support_y, n_way).float()
''',
        fails=("matching_probabilities_tests",),
    ),
    Mistake(
        cell="matching_probabilities",
        why="averages the attention per class (divides by K) instead of summing",
        code='''
def matching_probabilities(query_embeddings, support_embeddings, support_y, n_way, scale=1.0):
    cosine = F.normalize(query_embeddings, dim=-1) @ F.normalize(support_embeddings, dim=-1).T
    attention = torch.softmax(scale * cosine, dim=1)
    one_hot = F.one_hot(support_y, n_way).float()
    return attention @ (one_hot / one_hot.sum(0))
''',
        fails=("matching_probabilities_tests",),
    ),
    Mistake(
        cell="matching_nll",
        why="cross_entropy on the probabilities (a second softmax)",
        code='''
def matching_nll(probabilities, query_y):
    return F.cross_entropy(probabilities, query_y)
''',
        fails=("matching_nll_tests",),
    ),
    Mistake(
        cell="matching_nll",
        why="no clamp: a zero probability gives inf",
        code='''
def matching_nll(probabilities, query_y):
    return -probabilities.gather(1, query_y[:, None]).log().mean()
''',
        fails=("matching_nll_tests",),
    ),
    Mistake(
        cell="matching_nll",
        why="sums over the queries",
        code='''
def matching_nll(probabilities, query_y):
    return -probabilities.gather(1, query_y[:, None]).clamp_min(1e-12).log().sum()
''',
        fails=("matching_nll_tests",),
    ),
]
