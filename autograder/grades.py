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


def unconfined_students(course: Course, assignment: str) -> set[str]:
    """Students whose submission of ``assignment`` was graded without a sandbox."""
    return {s for s in course.students("autograded", assignment)
            if course.grading_record(assignment, s).get("sandbox") == "unconfined"}


def format_table(scores: dict[str, dict[str, tuple[float, float]]],
                 unconfined: set[str] = frozenset()) -> str:
    """A plain-text table: one row per student, one column per test cell, and the total;
    a row graded without a sandbox ends in ``UNCONFINED``, and a line under the table
    says what that means."""
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
                     + ("  UNCONFINED" if student in unconfined else ""))
    if unconfined & set(scores):
        lines.append(f"UNCONFINED: {len(unconfined & set(scores))} submission(s) graded "
                     "without a sandbox (--unconfined)")
    return "\n".join(lines)
