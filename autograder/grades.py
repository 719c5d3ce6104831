"""Per-cell scores from the gradebook, and the score table the demo prints."""

from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry

from autograder.course import Course
from autograder.nbgrader_api import gradebook_url


def cell_scores(course: Course, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """``{student: {grade_id: (score, max_score)}}`` for autograded test cells."""
    table = {}
    with Gradebook(gradebook_url(course.root)) as gradebook:
        for student in gradebook.students:
            try:
                notebook = gradebook.find_submission_notebook(assignment, assignment, student.id)
            except MissingEntry:
                continue
            table[student.id] = {
                g.name: (g.score, g.max_score)
                for g in notebook.grades
                if g.cell.cell_type == "code"
            }
    return table


def format_table(scores: dict[str, dict[str, tuple[float, float]]]) -> str:
    """A plain-text table: one row per student, one column per test cell, and the total."""
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
        lines.append(student.ljust(width) + "".join(parts) + f"{total:g}/{maximum:g}")
    return "\n".join(lines)
