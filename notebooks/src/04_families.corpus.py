"""Correct alternatives and conceptual mistakes for notebook 04_families (see
autograder/corpus.py and notebooks/AUTHORING.md, "Corpora")."""

from autograder.corpus import Alternative, Mistake

CORRECT = [
    Alternative(
        cell="siamese_logits",
        why="the weighted sum written out with the head's weight and bias",
        code='''
def siamese_logits(z1, z2, head):
    return (torch.abs(z1 - z2) * head.weight[0]).sum(dim=1) + head.bias[0]
''',
    ),
    Alternative(
        cell="siamese_logits",
        why="F.linear on the L1 distance, flattened with view",
        code='''
def siamese_logits(z1, z2, head):
    return F.linear(torch.abs(z2 - z1), head.weight, head.bias).view(-1)
''',
    ),
    Alternative(
        cell="siamese_class_scores",
        why="a masked maximum: -inf where a support image has another label",
        code='''
def siamese_class_scores(pair_logits, support_y, n_way):
    mask = F.one_hot(support_y, n_way).T.bool()  # (N, N*K)
    masked = pair_logits[:, None, :].masked_fill(~mask[None], float("-inf"))  # (M, N, N*K)
    return masked.amax(dim=2)
''',
    ),
    Alternative(
        cell="siamese_class_scores",
        why="scatter_reduce with amax over the support labels",
        code='''
def siamese_class_scores(pair_logits, support_y, n_way):
    index = support_y[None].expand_as(pair_logits)
    out = torch.full((len(pair_logits), n_way), float("-inf"), dtype=pair_logits.dtype)
    return out.scatter_reduce(1, index, pair_logits, reduce="amax", include_self=False)
''',
    ),
    Alternative(
        cell="fce_support",
        why="the two directions split by slicing the hidden size",
        code='''
def fce_support(support_z, lstm):
    out, _ = lstm(support_z.unsqueeze(0))
    d = lstm.hidden_size
    return support_z + out[0, :, :d] + out[0, :, d:]
''',
    ),
    Alternative(
        cell="fce_support",
        why="the output viewed as [N*K, 2, D] and summed over the directions",
        code='''
def fce_support(support_z, lstm):
    out = lstm(support_z[None])[0][0]
    return out.view(len(support_z), 2, -1).sum(dim=1) + support_z
''',
    ),
    Alternative(
        cell="fce_query",
        why="one query at a time, the readout as a weighted sum",
        code='''
def fce_query(query_z, support_g, cell, steps):
    rows = []
    for x in query_z:
        x = x[None]
        h, c = x, torch.zeros_like(x)
        for _ in range(steps):
            a = F.softmax(h @ support_g.t(), dim=-1)
            r = (a.t() * support_g).sum(dim=0, keepdim=True)
            out, c = cell(x, (h + r, c))
            h = out + x
        rows.append(h)
    return torch.cat(rows)
''',
    ),
    Alternative(
        cell="fce_query",
        why="torch.einsum for the scores and the readout",
        code='''
def fce_query(query_z, support_g, cell, steps):
    h = query_z
    c = query_z.new_zeros(query_z.shape)
    for _ in range(steps):
        a = torch.einsum("md,sd->ms", h, support_g).softmax(-1)
        h_hat, c = cell(query_z, (h + torch.einsum("ms,sd->md", a, support_g), c))
        h = query_z + h_hat
    return h
''',
    ),
    Alternative(
        cell="transductive_gap",
        why="a loop that keeps the running maximum as a float",
        code='''
def transductive_gap(predict, episode):
    together = predict(episode)
    gap = 0.0
    for j in range(len(episode.query_y)):
        one = episode._replace(query_x=episode.query_x[j:j + 1], query_y=episode.query_y[j:j + 1])
        gap = max(gap, float((together[j] - predict(one)[0]).abs().max()))
    return gap
''',
    ),
    Alternative(
        cell="transductive_gap",
        why="torch.split into single queries and an infinity norm",
        code='''
def transductive_gap(predict, episode):
    together = predict(episode)
    alone = torch.cat([predict(episode._replace(query_x=x, query_y=y))
                       for x, y in zip(episode.query_x.split(1), episode.query_y.split(1))])
    return torch.linalg.vector_norm(together - alone, ord=float("inf")).item()
''',
    ),
]

WRONG = [
    Mistake(
        cell="siamese_logits",
        why="the twins' features concatenated instead of compared",
        code='''
def siamese_logits(z1, z2, head):
    return head(torch.cat([z1, z2], dim=1)[:, : z1.shape[1]]).squeeze(-1)
''',
        fails=("siamese_logits_tests",),
    ),
    Mistake(
        cell="siamese_logits",
        why="the head's features detached: no gradient reaches the twins",
        code='''
def siamese_logits(z1, z2, head):
    return head((z1 - z2).abs().detach()).squeeze(-1)
''',
        fails=("siamese_logits_tests",),
    ),
    Mistake(
        cell="siamese_class_scores",
        why="the first N pair logits taken as the class scores, as if the support set were one image per class in label order",
        code='''
def siamese_class_scores(pair_logits, support_y, n_way):
    return pair_logits[:, :n_way]
''',
        fails=("siamese_class_scores_tests",),
    ),
    Mistake(
        cell="siamese_class_scores",
        why="the class of the smallest pair logit (a distance mistaken for a similarity)",
        code='''
def siamese_class_scores(pair_logits, support_y, n_way):
    return torch.stack([pair_logits[:, support_y == n].min(dim=1).values for n in range(n_way)], dim=1)
''',
        fails=("siamese_class_scores_tests",),
    ),
    Mistake(
        cell="fce_support",
        why="the support set read as N*K sequences of one example each (batch_first ignored)",
        code='''
def fce_support(support_z, lstm):
    out, _ = lstm(support_z[:, None])
    forward, backward = out[:, 0].chunk(2, dim=-1)
    return forward + backward + support_z
''',
        fails=("fce_support_tests",),
    ),
    Mistake(
        cell="fce_support",
        why="the states detached: g(S) gives no gradient to the LSTM's input",
        code='''
def fce_support(support_z, lstm):
    out, _ = lstm(support_z[None].detach())
    forward, backward = out[0].chunk(2, dim=-1)
    return forward + backward + support_z
''',
        fails=("fce_support_tests",),
    ),
    Mistake(
        cell="fce_query",
        why="the cell's memory reset at every step",
        code='''
def fce_query(query_z, support_g, cell, steps):
    h = query_z
    for _ in range(steps):
        readout = torch.softmax(h @ support_g.T, dim=1) @ support_g
        h_hat, _ = cell(query_z, (h + readout, torch.zeros_like(query_z)))
        h = h_hat + query_z
    return h
''',
        fails=("fce_query_tests",),
    ),
    Mistake(
        cell="fce_query",
        why="the readout detached: no gradient reaches g(S)",
        code='''
def fce_query(query_z, support_g, cell, steps):
    h, c = query_z, torch.zeros_like(query_z)
    for _ in range(steps):
        readout = (torch.softmax(h @ support_g.T, dim=1) @ support_g).detach()
        h_hat, c = cell(query_z, (h + readout, c))
        h = h_hat + query_z
    return h
''',
        fails=("fce_query_tests",),
    ),
    Mistake(
        cell="transductive_gap",
        why="the queries predicted alone but compared with each other, not with the joint prediction",
        code='''
def transductive_gap(predict, episode):
    alone = torch.cat([predict(episode._replace(query_x=episode.query_x[j:j + 1], query_y=episode.query_y[j:j + 1]))
                       for j in range(len(episode.query_x))])
    return (alone - alone.mean(dim=0)).abs().max().item()
''',
        fails=("transductive_gap_tests",),
    ),
    Mistake(
        cell="transductive_gap",
        why="each query predicted next to the first one (two queries), never alone",
        code='''
def transductive_gap(predict, episode):
    together = predict(episode)
    rows = []
    for j in range(len(episode.query_x)):
        pair = [0, j] if j else [0, 1]
        logits = predict(episode._replace(query_x=episode.query_x[pair], query_y=episode.query_y[pair]))
        rows.append(logits[1 if j else 0])
    return (together - torch.stack(rows)).abs().max().item()
''',
        fails=("transductive_gap_tests",),
    ),
]
