"""Planted bugs of notebook 03_maml: each must lose exactly the points of its
``loses`` cells and nothing else (see notebooks/AUTHORING.md)."""

from autograder.authoring import PlantedBug

BUGS = [
    PlantedBug(
        cell="inner_adapt",
        find="create_graph=create_graph",
        replace="create_graph=False",
        loses=("inner_adapt_tests",),
        why="never keeps the inner gradient in the graph: the meta-gradient is then always first order",
        hint=(
            "Check whether your inner loop respects the caller's choice of differentiating "
            "through the inner gradients."
        ),
    ),
    PlantedBug(
        cell="inner_adapt",
        find="name: p - (alpha[name] if isinstance(alpha, dict) else alpha) * g",
        replace="name: p.data.sub_((alpha[name] if isinstance(alpha, dict) else alpha) * g)",
        loses=("inner_adapt_tests",),
        why="updates theta in place (through .data) instead of building new tensors",
        hint=(
            "Check whether params still hold their original values, and their link to the "
            "autograd graph, after your inner loop returns."
        ),
    ),
    PlantedBug(
        cell="maml_outer_loss",
        find=(
            "prediction = functional_call(model, phi, (query_x[t],))  # (Q, ...)\n"
            "        losses.append(loss_fn(prediction, query_y[t]))"
        ),
        replace=(
            "prediction = functional_call(model, phi, (support_x[t],))  # (Q, ...)\n"
            "        losses.append(loss_fn(prediction, support_y[t]))"
        ),
        loses=("maml_outer_loss_tests", "maml_images_tests"),
        why="computes the meta-loss on the support set the task was just adapted to",
        hint=(
            "Check how each task's adapted parameters are scored in the meta-objective, and on "
            "which of the task's two sets."
        ),
    ),
    PlantedBug(
        cell="maml_outer_loss",
        find="create_graph=not first_order",
        replace="create_graph=False",
        loses=("maml_outer_loss_tests", "maml_images_tests"),
        why="always first order: the second-order meta-gradient is never computed",
        hint=(
            "Check whether your outer loss gives different meta-gradients for first-order and "
            "second-order MAML, as it should."
        ),
    ),
    PlantedBug(
        cell="maml_outer_loss",
        find="prediction = functional_call(model, phi, (query_x[t],))",
        replace=(
            "prediction = functional_call(model, phi, (query_x.flatten(0, 1),))"
            "[t * query_x.shape[1] : (t + 1) * query_x.shape[1]]"
        ),
        loses=("maml_images_tests",),
        why=(
            "runs the query images of all tasks through the network in one batch and keeps task t's "
            "rows: the same without BatchNorm, but batch-statistics BatchNorm then mixes the tasks"
        ),
        hint=(
            "Check whether another task's images could affect a task's predictions, given how "
            "batch-statistics BatchNorm normalises."
        ),
    ),
    PlantedBug(
        cell="maml_outer_loss_vmap",
        find="if first_order:",
        replace="if False:",
        loses=("maml_outer_loss_vmap_tests",),
        why="ignores first_order: the vmap version then disagrees with the loop for first-order MAML",
        hint=(
            "Check whether your vmap version treats first-order MAML the same way as your loop "
            "version does."
        ),
    ),
    PlantedBug(
        cell="maml_outer_loss_vmap",
        find="vmap(one_task)(*tasks).mean()",
        replace="vmap(one_task)(*tasks).sum()",
        loses=("maml_outer_loss_vmap_tests",),
        why="adds the tasks' losses instead of averaging them: T times the loop's value",
        hint=(
            "Check whether your vmap version combines the tasks' losses the same way the "
            "meta-objective's formula does."
        ),
    ),
    PlantedBug(
        cell="reptile_update",
        find="theta + epsilon * (phi_mean - theta)",
        replace="theta + epsilon * (theta - phi_mean)",
        loses=("reptile_update_tests",),
        why="moves theta away from the adapted parameters (sign of the Reptile direction flipped)",
        hint=(
            "Check whether theta ends up closer to the mean of the adapted parameters after your "
            "update, as the Reptile formula intends."
        ),
    ),
    PlantedBug(
        cell="meta_sgd_setup",
        find="[*model.parameters(), *alphas.values()]",
        replace="model.parameters()",
        loses=("meta_sgd_setup_tests",),
        why="leaves alpha out of the outer optimizer, so it never changes",
        hint=(
            "Check whether one optimizer step can change the alpha tensors, and what an "
            "optimizer must be given to update a tensor."
        ),
    ),
    PlantedBug(
        cell="meta_sgd_setup",
        find="torch.full_like(p, alpha_init, requires_grad=True)",
        replace="torch.full_like(p, alpha_init)",
        loses=("meta_sgd_setup_tests",),
        why="alpha does not require grad: it gets no gradient and never changes",
        hint=(
            "Check whether the alpha tensors can receive a gradient from the backward pass of "
            "the meta-loss."
        ),
    ),
    PlantedBug(
        cell="maml_outer_loss_vmap",
        find="return loss_fn(functional_call(model, phi, (x,)), y)",
        replace="return F.mse_loss(functional_call(model, phi, (x,)), y)",
        loses=("maml_outer_loss_vmap_tests",),
        why="always uses the mean squared error, whatever loss_fn it is given",
        hint=(
            "Check whether your vmap version works with any loss the caller passes in, not only "
            "the sinusoid's regression loss."
        ),
    ),
]

# Reviewed mutants that behave exactly like the solution for every input the exercise
# allows (autograder/mutation.py): `before -> after` of the changed lines, and why.
EQUIVALENT_MUTANTS = {
    'inner_adapt(model, params, train_x[t], train_y[t], steps, alpha, create_graph=False, loss_fn=loss_fn) -> inner_adapt(model, params, train_x[t], train_y[t], steps, alpha, create_graph=True, loss_fn=loss_fn)':
        'the graph is kept but never used: the update is detached, its numbers are the same',
}
