"""Per-cell scores of the autograded tests, and the score table the demo prints."""

from __future__ import annotations

from autograder.course import Course


def cell_scores(course: Course, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """``{student: {grade_id: (score, max_score)}}`` for autograded test cells, by the
    course's one score rule (:meth:`Course.scores`)."""
    cells, table = course.scores(assignment)
    tests = [c for c in cells if c.kind == "code"]
    return {student: {c.name: (row.get(c.name) or 0.0, c.max_score) for c in tests}
            for student, row in table.items()}


UNCONFINED, FLAGGED = "UNCONFINED", "FLAGGED"
MARKS = {UNCONFINED: "graded without a sandbox (--unconfined)",
         FLAGGED: "made from the instructor's source notebook (hidden tests or solution "
                  "markers in it): review it"}


def marks(course: Course, assignment: str) -> dict[str, list[str]]:
    """``{student: marks}`` from the grading log: :data:`UNCONFINED` for a submission
    graded without a sandbox, :data:`FLAGGED` for one made from the source notebook."""
    found = {}
    for student in course.students("autograded", assignment):
        record = course.grading_record(assignment, student)
        these = ([UNCONFINED] if record.get("sandbox") == "unconfined" else []) + \
                ([FLAGGED] if record.get("flags") else [])
        if these:
            found[student] = these
    return found


def format_table(scores: dict[str, dict[str, tuple[float, float]]],
                 marked: dict[str, list[str]] | None = None) -> str:
    """A plain-text table: one row per student, one column per test cell, and the total;
    a row ends with its ``marked`` marks (:func:`marks`), each explained under the table."""
    marked = marked or {}
    if not scores:
        return "(no graded submissions)"
    cells = sorted({name for row in scores.values() for name in row})
    width = max(len(s) for s in scores) + 2
    header = "student".ljust(width) + "".join(c[:24].ljust(26) for c in cells) + "total"
    lines = [header, "-" * len(header)]
    for student in sorted(scores):
        row = scores[student]
        parts = []
        for cell in cells:
            score, maximum = row.get(cell, (0.0, 0.0))
            parts.append(f"{score:g}/{maximum:g}".ljust(26))
        total = sum(s for s, _ in row.values())
        maximum = sum(m for _, m in row.values())
        lines.append(student.ljust(width) + "".join(parts) + f"{total:g}/{maximum:g}"
                     + "".join(f"  {mark}" for mark in marked.get(student, [])))
    for mark, meaning in MARKS.items():
        count = sum(mark in marked.get(student, []) for student in scores)
        if count:
            lines.append(f"{mark}: {count} submission(s) {meaning}")
    return "\n".join(lines)
