"""Correct alternatives and conceptual mistakes: do the tests judge the contract?

Mutation analysis (:mod:`autograder.mutation`) makes one-token edits; it cannot write a
loop where the reference is vectorised, nor detach the one tensor whose gradient matters.
``notebooks/src/NN_name.corpus.py`` holds such solutions, written by hand::

    CORRECT = [Alternative(cell="prototypes", why="a one-hot matrix product", code='''
    def prototypes(support_embeddings, support_y, n_way):
        ...
    ''')]
    WRONG = [Mistake(cell="protonet_loss", why="prototypes from detached embeddings",
                     code="...", fails=("protonet_loss_tests",))]

``code`` is the whole solution cell as a student would leave it. An :class:`Alternative`
must pass every test cell of its exercise (hidden tests included: the exercise's own and
those its planted bugs lose, :func:`autograder.mutation.exercise_tests`); a
:class:`Mistake` must fail exactly its ``fails`` cells among those. :func:`check` runs the
source notebook once, in the grading profile, and at each test cell runs that cell
against every variant that needs it, each in a fork (as mutation analysis does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from autograder import sources
from autograder.limits import MUTANT_S
from autograder.mutation import KILLED, TIMEOUT, exercise_tests, variants_at_test_cells
from autograder.nbgrader_api import grade_id, is_test_cell


@dataclass(frozen=True)
class Alternative:
    """A correct solution of exercise ``cell`` written differently from the reference."""

    cell: str
    why: str
    code: str


@dataclass(frozen=True)
class Mistake:
    """A plausible wrong solution of exercise ``cell``: it must fail exactly ``fails``."""

    cell: str
    why: str
    code: str
    fails: tuple[str, ...]


@dataclass
class Verdict:
    """What the tests made of one variant: ``failed`` maps each failed test cell to its error."""

    notebook: str
    variant: Alternative | Mistake
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def expected(self) -> set[str]:
        return set(self.variant.fails) if isinstance(self.variant, Mistake) else set()

    @property
    def agrees(self) -> bool:
        return set(self.failed) == self.expected

    def describe(self) -> str:
        kind = "mistake" if isinstance(self.variant, Mistake) else "correct"
        where = f"{self.notebook}:{self.variant.cell} ({kind}: {self.variant.why})"
        if self.agrees:
            return f"ok        {where}"
        missed = sorted(self.expected - set(self.failed))
        extra = {cell: error for cell, error in self.failed.items() if cell not in self.expected}
        parts = [f"passed {missed}, expected to fail"] if missed else []
        parts += [f"failed {cell}: {error.splitlines()[0][:300] if error else '?'}"
                  for cell, error in extra.items()]
        return f"DISAGREES {where}: " + "; ".join(parts)


def check(notebook: str, limit_s: float = MUTANT_S,
          report: Callable[[str], None] = lambda line: None) -> list[Verdict]:
    """Every variant of ``notebook``'s corpus against the notebook's tests."""
    correct, wrong = sources.corpus(notebook)
    nb = sources.notebook(notebook)
    tests = exercise_tests(nb, sources.planted_bugs(notebook))
    test_ids = [grade_id(c) for c in nb.cells if is_test_cell(c)]
    for mistake in wrong:  # a mistake may show in a later cell that uses the exercise
        unknown = set(mistake.fails) - set(test_ids)
        if unknown or mistake.cell not in tests:
            raise ValueError(f"{sources.corpus_path(notebook).name}: {mistake.why!r} names "
                             f"{sorted(unknown) or mistake.cell}, not a test cell / exercise of {notebook}")
        tests[mistake.cell] += [t for t in mistake.fails if t not in tests[mistake.cell]]
    verdicts = [Verdict(notebook, variant) for variant in [*correct, *wrong]]
    needs: dict[str, list] = {}
    sources_by_id = {grade_id(c): c.source for c in nb.cells}
    for index, verdict in enumerate(verdicts):
        if verdict.variant.cell not in tests:
            raise ValueError(f"{sources.corpus_path(notebook).name}: no exercise "
                             f"{verdict.variant.cell!r}; exercises: {sorted(tests)}")
        for cell in tests[verdict.variant.cell]:
            needs.setdefault(cell, []).append((index, verdict.variant.code, sources_by_id[cell]))
    outcomes = variants_at_test_cells(nb, needs, limit_s, report)
    for (index, cell), (status, error) in outcomes.items():
        if status in (KILLED, TIMEOUT):
            verdicts[index].failed[cell] = error or f"over {limit_s:.0f} s"
    return verdicts


def check_all(notebooks: Iterable[str], limit_s: float = MUTANT_S) -> list[Verdict]:
    """Check the corpora of ``notebooks``, print every verdict and a summary; raise
    :class:`CorpusDisagrees` if a test cell misjudged a variant."""
    verdicts = []
    for notebook in notebooks:
        print(f"{notebook}:", flush=True)
        verdicts += check(notebook, limit_s, report=lambda line: print(line, flush=True))
    for verdict in verdicts:
        print(verdict.describe())
    counts = {kind: [v for v in verdicts if isinstance(v.variant, kind)] for kind in (Alternative, Mistake)}
    print(f"{sum(v.agrees for v in counts[Alternative])}/{len(counts[Alternative])} correct alternatives pass, "
          f"{sum(v.agrees for v in counts[Mistake])}/{len(counts[Mistake])} mistakes fail as expected")
    wrong = [v for v in verdicts if not v.agrees]
    if wrong:
        raise CorpusDisagrees(f"{len(wrong)} variant(s) misjudged: fix the test that is unfair to a correct "
                              "alternative, or strengthen the one a mistake passes")
    return verdicts


class CorpusDisagrees(RuntimeError):
    """A correct alternative failed a test, or a mistake did not fail exactly its cells."""
