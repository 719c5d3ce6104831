"""Planted bugs of notebook 00_episodes: each must lose exactly the points of its
``loses`` cells and nothing else (see notebooks/AUTHORING.md)."""

from autograder.authoring import PlantedBug

BUGS = [
    PlantedBug(
        cell="nearest_neighbour",
        find="distances.argmin(dim=1)",
        replace="distances.argmax(dim=1)",
        loses=("nearest_neighbour_tests",),
        why="takes the farthest support image",
        hint=(
            "Check whether, for a query that is almost a copy of one support image, your rule "
            "really selects that image."
        ),
    ),
    PlantedBug(
        cell="nearest_neighbour",
        find="return support_y[nearest]",
        replace="return nearest",
        loses=("nearest_neighbour_tests",),
        why="returns the index of the nearest image instead of its label",
        hint=(
            "Check whether the values you return for each query are labels, as the docstring "
            "promises, and not another kind of number of the same shape."
        ),
    ),
    PlantedBug(
        cell="generic_learner",
        find="        loss.backward()\n",
        replace="",
        loses=("generic_learner_tests",),
        why="never computes gradients, so the network stays at its initialization",
        hint=(
            "Check whether each step of your loop gives the optimizer something to act on, so "
            "that the network moves away from its initialization."
        ),
    ),
    PlantedBug(
        cell="generic_learner",
        find="        optimizer.zero_grad()\n",
        replace="",
        loses=("generic_learner_tests",),
        why="never clears the gradients: each step follows the sum of all gradients so far",
        hint=(
            "Check whether each Adam step follows the gradient of the current loss only, or also "
            "whatever earlier steps left behind."
        ),
    ),
]

# Reviewed mutants that behave exactly like the solution for every input the exercise
# allows (autograder/mutation.py): `before -> after` of the changed lines, and why.
EQUIVALENT_MUTANTS = {
    'nearest = distances.argmin(dim=1) -> nearest = distances.argmin(dim=-1)':
        'distances is 2-D [M, N*K]: axis -1 is axis 1',
}
