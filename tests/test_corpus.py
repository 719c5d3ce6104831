"""The corpora (``notebooks/src/NN_name.corpus.py``): every correct alternative passes
every test of its exercise, every conceptual mistake fails exactly the cells it names
(``autograder/corpus.py``); and the runner itself, on a tiny notebook, reports a test
that is unfair to a correct alternative and one that lets a mistake through."""

import pytest

pytest.importorskip("mutmut", reason="mutmut is a dev extra: pip install -e '.[dev]'")

from autograder import corpus, sources  # noqa: E402
from tests.test_mutation import tiny  # noqa: E402, F401 — the tiny notebook's fixture


def _write_corpus(correct: str, wrong: str) -> None:
    (sources.SOURCES / "99_tiny.corpus.py").write_text(
        "from autograder.corpus import Alternative, Mistake\n\n"
        f"CORRECT = [{correct}]\n\nWRONG = [{wrong}]\n")


def _variant(kind: str, why: str, body: str, fails: str = "") -> str:
    code = f"def clipped_mean(x, low):\n    {body}\n"
    return f"{kind}(cell='clipped_mean', why={why!r}, code={code!r}{fails})"


@pytest.mark.usefixtures("tiny")
def test_the_runner_reports_an_unfair_test_and_a_hole():
    _write_corpus(
        correct=", ".join([
            _variant("Alternative", "max instead of clamp", "return torch.maximum(x, torch.tensor(low)).mean()"),
            # Listed as correct but wrong: the runner must report the test's verdict.
            _variant("Alternative", "forgets to raise", "return x.mean()"),
        ]),
        wrong=", ".join([
            _variant("Mistake", "sums", "return torch.clamp(x, min=low).sum()", ", fails=('clipped_mean_tests',)"),
            # Lowers the values above `low` as well: the single test case cannot see it.
            _variant("Mistake", "clamps from above too", "return torch.clamp(x, min=low, max=4.0).mean()",
                     ", fails=('clipped_mean_tests',)"),
        ]),
    )
    verdicts = {v.variant.why: v for v in corpus.check("99_tiny", limit_s=30)}
    assert verdicts["max instead of clamp"].agrees and not verdicts["max instead of clamp"].failed
    assert verdicts["sums"].agrees and set(verdicts["sums"].failed) == {"clipped_mean_tests"}
    unfair = verdicts["forgets to raise"]
    assert not unfair.agrees and "AssertionError" in unfair.failed["clipped_mean_tests"]
    assert "DISAGREES" in unfair.describe() and "failed clipped_mean_tests" in unfair.describe()
    hole = verdicts["clamps from above too"]
    assert not hole.agrees and hole.failed == {}
    assert "passed ['clipped_mean_tests'], expected to fail" in hole.describe()
    with pytest.raises(corpus.CorpusDisagrees, match="2 variant"):
        corpus.check_all(["99_tiny"], limit_s=30)


@pytest.mark.usefixtures("tiny")
def test_a_mistake_that_names_no_test_cell_is_refused():
    _write_corpus(correct="", wrong=_variant(
        "Mistake", "sums", "return x.sum()", ", fails=('no_such_tests',)"))
    with pytest.raises(ValueError, match="no_such_tests"):
        corpus.check("99_tiny")


@pytest.mark.parametrize("notebook", sources.assignments())
def test_every_correct_alternative_passes_and_every_mistake_fails(notebook):
    correct, wrong = sources.corpus(notebook)
    assert len(correct) >= 5 and len(wrong) >= 8, f"{notebook}: the corpus is too small"
    exercises = {c.metadata["nbgrader"]["grade_id"] for c in sources.notebook(notebook).cells
                 if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    assert {v.cell for v in correct} == exercises, f"{notebook}: an exercise has no correct alternative"
    assert {v.cell for v in wrong} == exercises, f"{notebook}: an exercise has no conceptual mistake"
    disagreements = [v.describe() for v in corpus.check(notebook) if not v.agrees]
    assert not disagreements, "\n".join(disagreements)
