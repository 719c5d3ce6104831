"""Correct alternatives and conceptual mistakes for notebook 03_maml (see
autograder/corpus.py and notebooks/AUTHORING.md, "Corpora").

A mistake in ``inner_adapt`` costs its own test only (the tests of the exercises that call
it also accept what the student's own ``inner_adapt`` gives), except where it breaks the
caller's contract too (an in-place update moves theta itself)."""

from autograder.corpus import Alternative, Mistake

_INNER = '''
def inner_adapt(model, params, x, y, steps, alpha, create_graph, loss_fn=F.mse_loss):
    phi = dict(params)
    for _ in range(steps):
        loss = loss_fn(functional_call(model, phi, (x,)), y)
        grads = torch.autograd.grad(loss, list(phi.values()), create_graph={graph})
        phi = {{
            name: {start} - (alpha[name] if isinstance(alpha, dict) else alpha) * g
            for (name, p), g in zip(phi.items(), grads)
        }}
    return phi
'''

_OUTER = '''
def maml_outer_loss(model, params, tasks, steps, alpha, first_order=False, loss_fn=F.mse_loss):
    support_x, support_y, query_x, query_y = tasks
    losses = []
    for t in range(support_x.shape[0]):
        phi = inner_adapt(model, params, support_x[t], support_y[t], steps, alpha,
                          create_graph={graph}, loss_fn=loss_fn)
        losses.append(loss_fn(functional_call(model, phi, ({scored_x}[t],)), {scored_y}[t]))
    return torch.stack(losses).{reduce}()
'''

_VMAP = '''
def maml_outer_loss_vmap(model, params, tasks, steps, alpha, first_order=False, loss_fn=F.mse_loss):
    def task_loss(phi, x, y):
        return loss_fn(functional_call(model, phi, (x,)), y)

    def one_task(support_x, support_y, query_x, query_y):
        phi = dict(params)
        for _ in range(steps):
            grads = grad(task_loss)(phi, support_x, support_y)
            if {cut}:
                grads = {{name: g.detach() for name, g in grads.items()}}
            phi = {{name: phi[name] - (alpha[name] if isinstance(alpha, dict) else alpha) * grads[name]
                   for name in phi}}
        return task_loss(phi, {scored})

    return vmap(one_task)(*tasks).mean()
'''

_REPTILE = '''
def reptile_update(model, params, tasks, steps, alpha, epsilon, loss_fn=F.mse_loss):
    train_x, train_y = tasks[0], tasks[1]
    phis = [inner_adapt(model, params, train_x[t], train_y[t], steps, alpha, create_graph=False, loss_fn=loss_fn)
            for t in range(train_x.shape[0])]
    return {{name: ({new}).detach() for name, theta in params.items()
            for phi_mean in [torch.stack([phi[name] for phi in phis]).mean(dim=0)]}}
'''

_META_SGD = '''
def meta_sgd_setup(model, alpha_init, lr):
    alphas = {{name: {alpha} for name, p in model.named_parameters()}}
    return alphas, {optimizer}
'''

CORRECT = [
    Alternative(cell="inner_adapt", why="the reference loop with the update written as p + (-alpha) * g",
                code=_INNER.format(graph="create_graph", start="p + 0").replace(" - (alpha", " + -(alpha")),
    Alternative(
        cell="inner_adapt",
        why="torch.func.grad for the inner gradients (differentiable through them by default)",
        code='''
def inner_adapt(model, params, x, y, steps, alpha, create_graph, loss_fn=F.mse_loss):
    def support_loss(phi):
        return loss_fn(functional_call(model, phi, (x,)), y)

    phi = {name: p for name, p in params.items()}
    for _ in range(steps):
        if create_graph:
            grads = grad(support_loss)(phi)
        else:
            grads = dict(zip(phi, torch.autograd.grad(support_loss(phi), list(phi.values()))))
        step = alpha if isinstance(alpha, dict) else {name: alpha for name in phi}
        phi = {name: phi[name] - step[name] * grads[name] for name in phi}
    return phi
''',
    ),
    Alternative(
        cell="inner_adapt",
        why="named loop with torch.sub and a separate step-size lookup",
        code='''
def inner_adapt(model, params, x, y, steps, alpha, create_graph, loss_fn=F.mse_loss):
    names = list(params)
    phi = [params[n] for n in names]
    for _ in range(steps):
        loss = loss_fn(functional_call(model, dict(zip(names, phi)), (x,)), y)
        grads = torch.autograd.grad(loss, phi, create_graph=create_graph)
        rates = [alpha[n] if isinstance(alpha, dict) else alpha for n in names]
        phi = [torch.sub(p, rate * g) for p, rate, g in zip(phi, rates, grads)]
    return dict(zip(names, phi))
''',
    ),
    Alternative(
        cell="maml_outer_loss",
        why="sums the task losses and divides by T",
        code=_OUTER.format(graph="not first_order", scored_x="query_x", scored_y="query_y", reduce="sum")
        .replace("return torch.stack(losses).sum()", "return torch.stack(losses).sum() / support_x.shape[0]"),
    ),
    Alternative(
        cell="maml_outer_loss",
        why="zip over the tasks and a running mean",
        code='''
def maml_outer_loss(model, params, tasks, steps, alpha, first_order=False, loss_fn=F.mse_loss):
    total, count = 0.0, 0
    for sx, sy, qx, qy in zip(*tasks):
        phi = inner_adapt(model, params, sx, sy, steps, alpha, create_graph=not first_order, loss_fn=loss_fn)
        total = total + loss_fn(functional_call(model, phi, (qx,)), qy)
        count += 1
    return total / count
''',
    ),
    Alternative(
        cell="maml_outer_loss_vmap",
        why="torch.func.grad_and_value, first order by detaching the gradients",
        code='''
def maml_outer_loss_vmap(model, params, tasks, steps, alpha, first_order=False, loss_fn=F.mse_loss):
    from torch.func import grad_and_value

    def task_loss(phi, x, y):
        return loss_fn(functional_call(model, phi, (x,)), y)

    def one_task(sx, sy, qx, qy):
        phi = params
        for _ in range(steps):
            grads, _ = grad_and_value(task_loss)(phi, sx, sy)
            phi = {n: phi[n] - (alpha[n] if isinstance(alpha, dict) else alpha)
                   * (grads[n].detach() if first_order else grads[n]) for n in phi}
        return task_loss(phi, qx, qy)

    return vmap(one_task)(*tasks).mean()
''',
    ),
    Alternative(cell="maml_outer_loss_vmap", why="the reference with the mean over tasks written as sum / T",
                code=_VMAP.format(cut="first_order", scored="query_x, query_y").replace(
                    "return vmap(one_task)(*tasks).mean()",
                    "losses = vmap(one_task)(*tasks)\n    return losses.sum() / losses.shape[0]")),
    Alternative(
        cell="maml_outer_loss_vmap",
        why="params passed to vmap with in_dims None, steps via torch.func.grad with argnums",
        code='''
def maml_outer_loss_vmap(model, params, tasks, steps, alpha, first_order=False, loss_fn=F.mse_loss):
    from torch.func import grad as func_grad

    def task_loss(x, y, phi):
        return loss_fn(functional_call(model, phi, (x,)), y)

    def one_task(theta, sx, sy, qx, qy):
        phi = theta
        for _ in range(steps):
            g = func_grad(task_loss, argnums=2)(sx, sy, phi)
            step = {n: (alpha[n] if isinstance(alpha, dict) else alpha) * g[n] for n in g}
            if first_order:
                step = {n: v.detach() for n, v in step.items()}
            phi = {n: phi[n] - step[n] for n in phi}
        return task_loss(qx, qy, phi)

    return torch.mean(vmap(one_task, in_dims=(None, 0, 0, 0, 0))(params, *tasks))
''',
    ),
    Alternative(cell="reptile_update", why="theta + epsilon * (mean phi - theta), in a dict comprehension",
                code=_REPTILE.format(new="theta + epsilon * (phi_mean - theta)")),
    Alternative(cell="reptile_update", why="the interpolation written as torch.lerp",
                code=_REPTILE.format(new="torch.lerp(theta, phi_mean, epsilon)")),
    Alternative(
        cell="reptile_update",
        why="averages the differences phi_t - theta instead of the phi_t, under no_grad",
        code='''
def reptile_update(model, params, tasks, steps, alpha, epsilon, loss_fn=F.mse_loss):
    train_x, train_y = tasks[0], tasks[1]
    moves = {name: torch.zeros_like(p) for name, p in params.items()}
    for t in range(train_x.shape[0]):
        phi = inner_adapt(model, params, train_x[t], train_y[t], steps, alpha, create_graph=False, loss_fn=loss_fn)
        with torch.no_grad():
            for name in moves:
                moves[name] += (phi[name] - params[name]) / train_x.shape[0]
    with torch.no_grad():
        return {name: params[name] + epsilon * moves[name] for name in params}
''',
    ),
    Alternative(
        cell="meta_sgd_setup",
        why="ones_like times alpha_init, made leaves with requires_grad_",
        code=_META_SGD.format(
            alpha="(torch.ones_like(p) * alpha_init).detach().requires_grad_()",
            optimizer="torch.optim.Adam(list(model.parameters()) + list(alphas.values()), lr=lr)"),
    ),
    Alternative(
        cell="meta_sgd_setup",
        why="nn.Parameter alphas and two parameter groups with the same lr",
        code=_META_SGD.format(
            alpha="nn.Parameter(torch.full(p.shape, float(alpha_init)))",
            optimizer="torch.optim.Adam([{'params': model.parameters()}, {'params': alphas.values()}], lr=lr)"),
    ),
    Alternative(
        cell="meta_sgd_setup",
        why="empty_like filled in place, then made a leaf that requires grad; itertools.chain",
        code='''
def meta_sgd_setup(model, alpha_init, lr):
    import itertools

    alphas = {}
    for name, p in model.named_parameters():
        alphas[name] = torch.empty_like(p).fill_(alpha_init).detach().requires_grad_(True)
    return alphas, torch.optim.Adam(itertools.chain(model.parameters(), alphas.values()), lr=lr)
''',
    ),
    Alternative(
        cell="reptile_update",
        why="(1 - epsilon) theta + epsilon mean phi, on detached tensors",
        code='''
def reptile_update(model, params, tasks, steps, alpha, epsilon, loss_fn=F.mse_loss):
    adapted = [inner_adapt(model, params, x, y, steps, alpha, create_graph=False, loss_fn=loss_fn)
               for x, y in zip(tasks[0], tasks[1])]
    return {name: (1 - epsilon) * p.detach()
            + epsilon * torch.stack([phi[name].detach() for phi in adapted]).mean(0)
            for name, p in params.items()}
''',
    ),
    Alternative(
        cell="maml_outer_loss",
        why="torch.mean over a list comprehension, zip over the tasks",
        code='''
def maml_outer_loss(model, params, tasks, steps, alpha, first_order=False, loss_fn=F.mse_loss):
    def task_loss(sx, sy, qx, qy):
        phi = inner_adapt(model, params, sx, sy, steps, alpha, create_graph=not first_order, loss_fn=loss_fn)
        return loss_fn(functional_call(model, phi, (qx,)), qy)

    return torch.mean(torch.stack([task_loss(*task) for task in zip(*tasks)]))
''',
    ),
]

WRONG = [
    Mistake(cell="inner_adapt", why="ignores create_graph (always first order)",
            code=_INNER.format(graph="False", start="p"),
            fails=("inner_adapt_tests",)),
    Mistake(cell="inner_adapt", why="restarts every step from params instead of the last phi",
            code=_INNER.format(graph="create_graph", start="params[name]"),
            fails=("inner_adapt_tests",)),
    Mistake(
        cell="inner_adapt",
        why="updates the parameters in place (theta itself moves)",
        code='''
def inner_adapt(model, params, x, y, steps, alpha, create_graph, loss_fn=F.mse_loss):
    for _ in range(steps):
        loss = loss_fn(functional_call(model, params, (x,)), y)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        with torch.no_grad():
            for (name, p), g in zip(params.items(), grads):
                p -= (alpha[name] if isinstance(alpha, dict) else alpha) * g
    return params
''',
        fails=("inner_adapt_tests", "maml_outer_loss_tests", "maml_images_tests"),
    ),
    Mistake(
        cell="inner_adapt",
        why="detaches phi after every step (no path from theta to phi)",
        code=_INNER.format(graph="create_graph", start="p").replace(
            "    return phi", "        phi = {name: p.detach().requires_grad_() for name, p in phi.items()}\n    return phi"),
        fails=("inner_adapt_tests",),
    ),
    Mistake(cell="maml_outer_loss", why="scores the adapted parameters on the support set",
            code=_OUTER.format(graph="not first_order", scored_x="support_x", scored_y="support_y", reduce="mean"),
            fails=("maml_outer_loss_tests", "maml_images_tests")),
    Mistake(cell="maml_outer_loss", why="always first order (create_graph=False)",
            code=_OUTER.format(graph="False", scored_x="query_x", scored_y="query_y", reduce="mean"),
            fails=("maml_outer_loss_tests", "maml_images_tests")),
    Mistake(cell="maml_outer_loss", why="sums the task losses (meta-gradient T times too large)",
            code=_OUTER.format(graph="not first_order", scored_x="query_x", scored_y="query_y", reduce="sum"),
            fails=("maml_outer_loss_tests", "maml_images_tests")),
    Mistake(
        cell="maml_outer_loss",
        why="differentiates with respect to the adapted parameters (phi made fresh leaves), not theta",
        code='''
def maml_outer_loss(model, params, tasks, steps, alpha, first_order=False, loss_fn=F.mse_loss):
    support_x, support_y, query_x, query_y = tasks
    losses = []
    for t in range(support_x.shape[0]):
        phi = inner_adapt(model, params, support_x[t], support_y[t], steps, alpha,
                          create_graph=not first_order, loss_fn=loss_fn)
        phi = {name: p.detach().requires_grad_() for name, p in phi.items()}
        losses.append(loss_fn(functional_call(model, phi, (query_x[t],)), query_y[t]))
    return torch.stack(losses).mean()
''',
        fails=("maml_outer_loss_tests", "maml_images_tests"),
    ),
    Mistake(
        cell="maml_outer_loss",
        why="the query loss at theta (no adaptation before scoring)",
        code='''
def maml_outer_loss(model, params, tasks, steps, alpha, first_order=False, loss_fn=F.mse_loss):
    support_x, support_y, query_x, query_y = tasks
    losses = [loss_fn(functional_call(model, params, (query_x[t],)), query_y[t]) for t in range(len(query_x))]
    return torch.stack(losses).mean()
''',
        fails=("maml_outer_loss_tests", "maml_images_tests"),
    ),
    Mistake(cell="maml_outer_loss_vmap", why="never cuts the inner gradients (first_order ignored)",
            code=_VMAP.format(cut="False", scored="query_x, query_y"),
            fails=("maml_outer_loss_vmap_tests",)),
    Mistake(cell="maml_outer_loss_vmap", why="always cuts the inner gradients",
            code=_VMAP.format(cut="True", scored="query_x, query_y"),
            fails=("maml_outer_loss_vmap_tests",)),
    Mistake(cell="maml_outer_loss_vmap", why="scores on the support set",
            code=_VMAP.format(cut="first_order", scored="support_x, support_y"),
            fails=("maml_outer_loss_vmap_tests",)),
    Mistake(
        cell="maml_outer_loss_vmap",
        why="one adaptation on the pooled support sets of all tasks, then vmap only over the query sets",
        code='''
def maml_outer_loss_vmap(model, params, tasks, steps, alpha, first_order=False, loss_fn=F.mse_loss):
    support_x, support_y, query_x, query_y = tasks

    def task_loss(phi, x, y):
        return loss_fn(functional_call(model, phi, (x,)), y)

    phi = dict(params)
    pooled_x, pooled_y = support_x.flatten(0, 1), support_y.flatten(0, 1)
    for _ in range(steps):
        grads = grad(task_loss)(phi, pooled_x, pooled_y)
        if first_order:
            grads = {name: g.detach() for name, g in grads.items()}
        phi = {name: phi[name] - (alpha[name] if isinstance(alpha, dict) else alpha) * grads[name]
               for name in phi}
    return vmap(lambda x, y: task_loss(phi, x, y))(query_x, query_y).mean()
''',
        fails=("maml_outer_loss_vmap_tests",),
    ),
    Mistake(cell="reptile_update", why="moves away from the adapted parameters (wrong sign)",
            code=_REPTILE.format(new="theta - epsilon * (phi_mean - theta)"),
            fails=("reptile_update_tests",)),
    Mistake(cell="reptile_update", why="jumps to the mean adapted parameters (ignores epsilon)",
            code=_REPTILE.format(new="phi_mean"),
            fails=("reptile_update_tests",)),
    Mistake(
        cell="reptile_update",
        why="adapts on the query set (tasks[2], tasks[3]) instead of the training data",
        code=_REPTILE.format(new="theta + epsilon * (phi_mean - theta)").replace(
            "train_x, train_y = tasks[0], tasks[1]", "train_x, train_y = tasks[2], tasks[3]"),
        fails=("reptile_update_tests",),
    ),
    Mistake(
        cell="reptile_update",
        why="adapts the tasks one after another from the last task's phi (sequential, not from theta)",
        code='''
def reptile_update(model, params, tasks, steps, alpha, epsilon, loss_fn=F.mse_loss):
    train_x, train_y = tasks[0], tasks[1]
    phi, phis = dict(params), []
    for t in range(train_x.shape[0]):
        phi = inner_adapt(model, phi, train_x[t], train_y[t], steps, alpha, create_graph=False, loss_fn=loss_fn)
        phis.append(phi)
    return {name: (p + epsilon * (torch.stack([q[name] for q in phis]).mean(0) - p)).detach()
            for name, p in params.items()}
''',
        fails=("reptile_update_tests",),
    ),
    Mistake(cell="meta_sgd_setup", why="the alphas are not given to the optimizer",
            code=_META_SGD.format(alpha="torch.full_like(p, alpha_init, requires_grad=True)",
                                  optimizer="torch.optim.Adam(model.parameters(), lr=lr)"),
            fails=("meta_sgd_setup_tests",)),
    Mistake(cell="meta_sgd_setup", why="alphas that do not require grad",
            code=_META_SGD.format(alpha="torch.full_like(p, alpha_init)",
                                  optimizer="torch.optim.Adam([*model.parameters(), *alphas.values()], lr=lr)"),
            fails=("meta_sgd_setup_tests",)),
    Mistake(cell="meta_sgd_setup", why="one scalar alpha per parameter tensor instead of one per entry",
            code=_META_SGD.format(alpha="torch.tensor(float(alpha_init), requires_grad=True)",
                                  optimizer="torch.optim.Adam([*model.parameters(), *alphas.values()], lr=lr)"),
            fails=("meta_sgd_setup_tests",)),
    Mistake(cell="meta_sgd_setup", why="alphas derived from the parameters (not leaves, share their graph)",
            code=_META_SGD.format(alpha="p * 0 + alpha_init",
                                  optimizer="torch.optim.Adam(model.parameters(), lr=lr)"),
            fails=("meta_sgd_setup_tests",)),
    Mistake(cell="meta_sgd_setup", why="SGD instead of Adam",
            code=_META_SGD.format(alpha="torch.full_like(p, alpha_init, requires_grad=True)",
                                  optimizer="torch.optim.SGD([*model.parameters(), *alphas.values()], lr=lr)"),
            fails=("meta_sgd_setup_tests",)),
]
