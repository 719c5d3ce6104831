"""Mutation analysis of the exercises: how much wrong code do their tests reject?

For each solution cell, :func:`mutants` makes small wrong versions of the student's part
(between ``### BEGIN/END SOLUTION``) with mutmut's operators (arithmetic and comparison
swaps, numbers, True/False, dropped arguments, ...) and a few of our own that model the
classic mistakes of this course (a dropped ``zero_grad()`` or ``eval()``, a lost
``.detach()`` or ``softmax``, ``sum`` for ``mean``, another ``dim``, an off-by-one
slice, swapped arguments). :func:`analyse` runs the source notebook once, in the grading
profile, in an IPython shell; at each test cell of an exercise it forks one child per
mutant, which rebinds the exercise's code to the mutant and runs that test cell, hidden
tests included. A fork gives every mutant a fresh copy of the whole namespace, so no
mutant leaks into the next, and a per-mutant time limit is a kill.

A mutant is *killed* when a test cell of its exercise fails, *timeout* when it runs over
the limit (the grader would stop it too), *equivalent* when it is listed in
``EQUIVALENT_MUTANTS`` of ``notebooks/src/NN_name.bugs.py`` (reviewed: it behaves like
the solution), and *survived* otherwise — a hole in the tests.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import pickle
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider
from mutmut.mutation.mutators import mutation_operators

from autograder import sources
from autograder.limits import MUTANT_S
from autograder.nbgrader_api import SOLUTION, grade_id, markers
from cs182meta.settings import grading_environment

KILLED, SURVIVED, TIMEOUT, EQUIVALENT = "killed", "survived", "timeout", "equivalent"


@dataclass(frozen=True)
class Mutant:
    """One wrong version of a solution cell. ``key`` (the changed lines, ``before -> after``)
    names it in the list of equivalent mutants; it survives edits elsewhere in the cell."""

    exercise: str
    key: str
    source: str


# ----------------------------------------------------------------------------- operators
_SWAPPED_NAMES = {
    "sum": "mean", "mean": "sum", "max": "min", "min": "max", "argmax": "argmin",
    "argmin": "argmax", "softmax": "log_softmax", "log_softmax": "softmax",
    "amax": "amin", "amin": "amax", "logsumexp": "sum",
}
# Calls whose result a mistake forgets: `x.detach()` -> `x`, `F.softmax(x, 1)` -> `x`.
_DROPPABLE_METHODS = {"detach", "clone", "eval", "train", "softmax", "log_softmax", "log",
                      "exp", "float", "double", "t", "abs", "sqrt", "contiguous", "item",
                      "requires_grad_", "to", "squeeze", "unsqueeze", "flatten"}
_DROPPABLE_FUNCTIONS = {"softmax", "log_softmax", "log", "exp", "normalize", "sigmoid",
                        "tanh", "relu", "sqrt", "abs", "detach", "float"}


def _name_of(func: cst.BaseExpression) -> str | None:
    if isinstance(func, cst.Attribute):
        return func.attr.value
    if isinstance(func, cst.Name):
        return func.value
    return None


def _swap_names(node: cst.Call) -> Iterable[cst.CSTNode]:
    name = _name_of(node.func)
    if name in _SWAPPED_NAMES:
        new = cst.Name(_SWAPPED_NAMES[name])
        func = node.func.with_changes(attr=new) if isinstance(node.func, cst.Attribute) else new
        yield node.with_changes(func=func)


def _drop_call(node: cst.Call) -> Iterable[cst.CSTNode]:
    name = _name_of(node.func)
    if isinstance(node.func, cst.Attribute) and name in _DROPPABLE_METHODS:
        yield node.func.value  # the receiver, without the call
    elif name in _DROPPABLE_FUNCTIONS and node.args and not node.args[0].keyword:
        yield node.args[0].value


def _change_keywords(node: cst.Call) -> Iterable[cst.CSTNode]:
    """``dim=1`` -> 0 / -1 / 2, ``create_graph=x`` -> True / False, a keyword dropped."""
    for i, arg in enumerate(node.args):
        if arg.keyword is None:
            continue
        rest = [*node.args[:i], *node.args[i + 1:]]
        if rest:
            yield node.with_changes(args=[*rest[:-1], rest[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)])
        else:
            yield node.with_changes(args=[])
        if arg.keyword.value in {"dim", "axis"} and isinstance(arg.value, (cst.Integer, cst.UnaryOperation)):
            for value in ("0", "1", "-1", "2"):
                new = cst.parse_expression(value)
                if new.deep_equals(arg.value):
                    continue
                yield node.with_changes(args=[*node.args[:i], arg.with_changes(value=new), *node.args[i + 1:]])
        elif not isinstance(arg.value, cst.Name) or arg.value.value not in {"True", "False"}:
            for literal in ("True", "False"):
                if arg.keyword.value in {"create_graph", "keepdim", "retain_graph", "first_order",
                                         "batch_first", "requires_grad"}:
                    yield node.with_changes(args=[*node.args[:i], arg.with_changes(value=cst.Name(literal)),
                                                  *node.args[i + 1:]])


def _swap_positional(node: cst.Call) -> Iterable[cst.CSTNode]:
    positional = [i for i, a in enumerate(node.args) if a.keyword is None and not a.star]
    if len(positional) >= 2:
        i, j = positional[:2]
        args = list(node.args)
        args[i], args[j] = (args[j].with_changes(comma=args[i].comma),
                            args[i].with_changes(comma=args[j].comma))
        yield node.with_changes(args=args)


def _drop_statement(node: cst.SimpleStatementLine) -> Iterable[cst.CSTNode]:
    """A forgotten call statement: ``optimizer.zero_grad()``, ``model.eval()``, ..."""
    if len(node.body) == 1 and isinstance(node.body[0], cst.Expr) and isinstance(node.body[0].value, cst.Call):
        yield node.with_changes(body=[cst.Pass()])


def _off_by_one(node: cst.Slice) -> Iterable[cst.CSTNode]:
    for part in ("lower", "upper"):
        bound = getattr(node, part)
        if bound is None:
            continue
        for op in (cst.Add(), cst.Subtract()):
            yield node.with_changes(**{part: cst.BinaryOperation(bound, op, cst.Integer("1"))})


OUR_OPERATORS: list[tuple[type, Callable]] = [
    (cst.Call, _swap_names),
    (cst.Call, _drop_call),
    (cst.Call, _change_keywords),
    (cst.Call, _swap_positional),
    (cst.SimpleStatementLine, _drop_statement),
    (cst.Slice, _off_by_one),
]
OPERATORS = [*mutation_operators, *OUR_OPERATORS]


def _solution_lines(source: str) -> range:
    """The line numbers (from 1) inside the cell's first solution region."""
    region = markers().regions(source, SOLUTION)[0]
    return range(region.begin + 2, region.end + 1)


def _code_lines(text: str) -> list[str]:
    return [line.split("  # ", 1)[0] for line in text.splitlines()]


def _key(before: str, after: str) -> str:
    """The changed lines, stripped and without end-of-line comments: ``before -> after``."""
    old, new = _code_lines(before), _code_lines(after)
    changed_old, changed_new = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=old, b=new).get_opcodes():
        if tag != "equal":
            changed_old += [s.strip() for s in old[i1:i2]]
            changed_new += [s.strip() for s in new[j1:j2]]
    return f"{' / '.join(changed_old)} -> {' / '.join(changed_new)}"


class _Collector(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, lines: range):
        self.lines, self.nodes = lines, []

    def on_visit(self, node: cst.CSTNode) -> bool:
        position = self.get_metadata(PositionProvider, node, None)
        if position is not None and position.start.line in self.lines and position.end.line in self.lines:
            self.nodes.append(node)
        return True


def mutants(exercise: str, source: str) -> list[Mutant]:
    """Every distinct, compilable mutant of the solution part of ``source``."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    module = wrapper.module
    collector = _Collector(_solution_lines(source))
    wrapper.visit(collector)
    seen, found = {source}, []
    for node in collector.nodes:
        for node_type, operator in OPERATORS:
            if not isinstance(node, node_type):
                continue
            for new_node in operator(node):
                try:
                    code = module.deep_replace(node, new_node).code
                    compile(code, exercise, "exec")
                except Exception:  # noqa: BLE001 — an operator that made invalid code
                    continue
                if code not in seen:
                    seen.add(code)
                    found.append(Mutant(exercise, _key(source, code), code))
    return found


# ----------------------------------------------------------------------------- running
@dataclass
class ExerciseResult:
    notebook: str
    exercise: str
    status: dict[str, str] = field(default_factory=dict)  # mutant key -> status
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(s == status for s in self.status.values())

    @property
    def score(self) -> float:
        """Killed (timeouts included) over the non-equivalent mutants."""
        relevant = len(self.status) - self.count(EQUIVALENT)
        return (self.count(KILLED) + self.count(TIMEOUT)) / relevant if relevant else 1.0


def exercise_tests(nb, bugs) -> dict[str, list[str]]:
    """``{exercise: [test cell ids]}``: its ``<exercise>_tests`` cell and every test cell
    a planted bug of it must lose."""
    ids = [grade_id(c) for c in nb.cells]
    tests: dict[str, list[str]] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            exercise = meta["grade_id"]
            wanted = {f"{exercise}_tests"} | {t for b in bugs if b.cell == exercise for t in b.loses}
            tests[exercise] = [i for i in ids if i in wanted]
    return tests


def _silence() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def run_in_child(shell, cells: list[str], limit_s: float) -> tuple[str, str]:
    """Run ``cells`` in a forked copy of this process: ``(KILLED, the error)`` if one
    fails, ``(TIMEOUT, "")`` if they run over ``limit_s``, ``(SURVIVED, "")`` if all pass."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a private copy of the namespace
        os.close(read)
        _silence()
        outcome = (SURVIVED, "")
        for code in cells:
            result = shell.run_cell(code, store_history=False, silent=True)
            if not result.success:
                error = result.error_in_exec or result.error_before_exec
                outcome = (KILLED, f"{type(error).__name__}: {error}"[:2000])
                break
        os.write(write, pickle.dumps(outcome))
        os._exit(0)
    os.close(write)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read)
        return TIMEOUT, ""
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    return pickle.loads(b"".join(chunks)) if chunks else (KILLED, "the child crashed")


def shell_instance():
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.instance()


def grading_process_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the analysis runs a notebook under: ``environ`` as release
    validation and grading have it (:func:`cs182meta.settings.grading_environment`: no
    ``CS182META_*`` variable but the cache, so neither the caller's dataset nor a step
    cap reaches the notebook), under nbgrader (the grading profile), with Agg plots."""
    env = grading_environment(environ)
    env["NBGRADER_EXECUTION"] = "autograde"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _set_environ(env: Mapping[str, str]) -> None:
    """Make ``os.environ`` equal ``env`` (in place: the process's own environment)."""
    for key in set(os.environ) - set(env):
        del os.environ[key]
    for key, value in env.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


@contextlib.contextmanager
def grading_process():
    """This process as the grader runs a notebook: the grading environment
    (:func:`grading_process_environment`), one thread, Agg; everything put back
    afterwards."""
    import torch

    saved_env = dict(os.environ)
    threads = torch.get_num_threads()
    _set_environ(grading_process_environment(saved_env))
    torch.set_num_threads(1)  # forks and OpenMP threads do not mix
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        _set_environ(saved_env)


def analyse(notebook: str, exercises: Iterable[str] | None = None, limit_s: float = MUTANT_S,
            report: Callable[[str], None] = lambda line: None) -> list[ExerciseResult]:
    """Mutation analysis of ``notebook``'s exercises (all of them by default)."""
    nb = sources.notebook(notebook)
    bugs = sources.planted_bugs(notebook)
    equivalent = sources.equivalent_mutants(notebook)
    tests = exercise_tests(nb, bugs)
    chosen = list(exercises or tests)
    unknown = sorted(set(chosen) - set(tests))
    if unknown:
        raise ValueError(f"{notebook} has no exercise(s) {unknown}; exercises: {sorted(tests)}")
    solution_source = {grade_id(c): c.source for c in nb.cells if grade_id(c) in tests}
    results = {e: ExerciseResult(notebook, e) for e in chosen}
    pending = {e: mutants(e, solution_source[e]) for e in chosen}
    for exercise, found in pending.items():
        for mutant in found:
            if mutant.key in equivalent:
                results[exercise].status[mutant.key] = EQUIVALENT
        pending[exercise] = [m for m in found if m.key not in equivalent]
    with grading_process():
        _run_notebook(nb, {e: tests[e] for e in chosen}, pending, results, limit_s, report)
    return [results[e] for e in chosen]


def run_notebook(nb, watched: set[str], before: Callable[[Any, Any], None]) -> None:
    """Run ``nb`` cell by cell in a fresh IPython shell; call ``before(shell, cell)``
    before each test cell whose id is in ``watched`` (to fork variants off the shell as
    it is there). Raise if the notebook fails one of those test cells itself."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = shell_instance()
    try:
        for cell in nb.cells:
            cell_id = grade_id(cell)
            if cell_id in watched:
                before(shell, cell)
            if cell.cell_type == "code":
                with capture_output():
                    result = shell.run_cell(cell.source, store_history=False, silent=True)
                if cell_id in watched and not result.success:
                    raise RuntimeError(f"the notebook fails its own test cell {cell_id}: "
                                       f"{result.error_in_exec!r}; variants would be meaningless")
    finally:
        InteractiveShell.clear_instance()


def _run_notebook(nb, tests, pending, results, limit_s, report):
    """Run ``nb``; before each test cell in ``tests`` (``{exercise: [test cell ids]}``),
    run that cell against the exercise's ``pending`` mutants, each in a fork."""

    def before(shell, cell) -> None:
        cell_id = grade_id(cell)
        for exercise, exercise_tests in tests.items():
            if cell_id not in exercise_tests:
                continue
            start = time.perf_counter()
            alive = []
            for mutant in pending[exercise]:
                status, _ = run_in_child(shell, [mutant.source, cell.source], limit_s)
                results[exercise].status[mutant.key] = status
                if status == SURVIVED:
                    alive.append(mutant)
            pending[exercise] = alive  # a later test cell only needs the survivors
            results[exercise].seconds += time.perf_counter() - start
            report(f"  {results[exercise].notebook}:{exercise} after {cell_id}: {len(alive)} alive")

    run_notebook(nb, {t for cells in tests.values() for t in cells}, before)


def variants_at_test_cells(nb, needs: Mapping[str, list[tuple[Any, str, str]]], limit_s: float = MUTANT_S,
                           report: Callable[[str], None] = lambda line: None) -> dict[tuple[Any, str], tuple[str, str]]:
    """Run the source notebook ``nb`` in the grading process; before each test cell in
    ``needs`` (``{test cell id: [(key, code, test code), ...]}``) run each ``code`` then
    its ``test code`` (the cell itself, or a part of it) in a fork. Returns ``{(key, test
    cell id): run_in_child's (status, error)}``."""
    outcomes = {}

    def before(shell, cell) -> None:
        cell_id = grade_id(cell)
        for key, code, test_code in needs[cell_id]:
            outcomes[key, cell_id] = run_in_child(shell, [code, test_code], limit_s)
        report(f"  {cell_id}: {len(needs[cell_id])} variant(s)")

    with grading_process():
        run_notebook(nb, set(needs), before)
    return outcomes


def survivors(result: ExerciseResult) -> Iterator[str]:
    return (key for key, status in result.status.items() if status == SURVIVED)


def mutate(notebooks: list[str], exercises: list[str] | None = None, limit_s: float = MUTANT_S,
           out: Path | None = None) -> list[ExerciseResult]:
    """Analyse ``notebooks`` (``exercises`` only, if given, across them), print the table
    and every survivor, optionally save the statuses as JSON; raise if a survivor is left."""
    results = []
    for notebook in notebooks:
        names = list(exercise_tests(sources.notebook(notebook), []))
        chosen = [e for e in exercises if e in names] if exercises else names
        if chosen:
            print(f"{notebook}: {len(chosen)} exercise(s)", flush=True)
            results += analyse(notebook, chosen, limit_s, report=lambda line: print(line, flush=True))
    if exercises and not {r.exercise for r in results} >= set(exercises):
        missing = sorted(set(exercises) - {r.exercise for r in results})
        raise ValueError(f"no exercise {missing} in {notebooks}")
    print(format_table(results))
    left = [(r, key) for r in results for key in survivors(r)]
    for r, key in left:
        print(f"survived  {r.notebook}:{r.exercise}  {key}")
    if out is not None:
        out.write_text(json.dumps([asdict(r) for r in results], indent=1))
    if left:
        raise MutantsSurvived(
            f"{len(left)} mutant(s) survived: strengthen the tests that should kill them, or — if "
            "a mutant behaves exactly like the solution — list its key with the reason in "
            "EQUIVALENT_MUTANTS of notebooks/src/NN_name.bugs.py"
        )
    return results


class MutantsSurvived(RuntimeError):
    """Some non-equivalent mutant passed every test of its exercise."""


def format_table(results: list[ExerciseResult]) -> str:
    """A Markdown table: exercise, mutants, killed, timeout, equivalent, survived, score, s."""
    lines = ["| notebook | exercise | mutants | killed | timeout | equivalent | survived | "
             "killed of non-equivalent | seconds |", "|" + " --- |" * 9]
    for r in results:
        lines.append(f"| {r.notebook} | `{r.exercise}` | {len(r.status)} | {r.count(KILLED)} | "
                     f"{r.count(TIMEOUT)} | {r.count(EQUIVALENT)} | {r.count(SURVIVED)} | "
                     f"{100 * r.score:.1f}% | {r.seconds:.0f} |")
    return "\n".join(lines)
