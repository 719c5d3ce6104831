"""The class report: ``python -m autograder report [NN_name ...]`` (``make report``).

Per notebook, ``<course>/reports/NN_name.html`` (one self-contained file: plots are
embedded PNGs) and ``NN_name.csv`` (a row per submission), from the gradebook and the
autograded notebooks alone (:mod:`autograder.class_results`): score distributions, each
test cell's pass rate and failures grouped by message, the likely misconceptions (planted
bugs whose failures the submissions share, :mod:`autograder.diagnosis`), the failures
that match none, grading time and memory with every limit hit, and the written answers
still waiting for a grader.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import statistics
from datetime import datetime
from pathlib import Path

from autograder.class_results import (
    ClassResults,
    group_failures,
    misconception_shares,
    pending_written,
    unrecognised_failures,
)
from autograder.diagnosis import not_attempted

MAX_NAMES = 12  # students listed by name in one group before "and N more"

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
code { background: #f6f6f6; padding: 0 .2em; white-space: pre-wrap; }
.muted { color: #777; } .warn { color: #a40; }
"""


def _e(text) -> str:
    return html.escape(str(text))


def _names(students: list[str]) -> str:
    shown = ", ".join(students[:MAX_NAMES])
    more = len(students) - MAX_NAMES
    return _e(shown) + (f" <span class='muted'>and {more} more</span>" if more > 0 else "")


def _share(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.0f}%)" if total else str(count)


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return f"<img alt='plot' src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}'>"


def score_plots(results: ClassResults) -> str:
    """The histogram of totals and, per test cell, the share of full, partial and zero
    scores, as one embedded PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tests = results.tests()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, max(3.0, 0.32 * len(tests) + 1)),
                                         gridspec_kw={"width_ratios": [1, 1.3]})
    totals = [s.total for s in results.submissions]
    left.hist(totals, bins=min(20, max(5, len(set(totals)))), range=(0, results.max_score or 1),
              color="#4c72b0")
    left.set(title=f"total score (of {results.max_score:g})", xlabel="score",
             ylabel="submissions")
    n = len(results.submissions)
    full, partial = [], []
    for cell in tests:
        scores = [s.scores.get(cell.name) or 0.0 for s in results.submissions]
        full.append(sum(x >= cell.max_score for x in scores) / n)
        partial.append(sum(0 < x < cell.max_score for x in scores) / n)
    rows = range(len(tests))
    right.barh(rows, full, color="#55a868", label="full")
    right.barh(rows, partial, left=full, color="#dd8452", label="partial")
    right.barh(rows, [1 - f - p for f, p in zip(full, partial)],
               left=[f + p for f, p in zip(full, partial)], color="#c44e52", label="zero")
    right.set_yticks(list(rows), [c.name for c in tests])
    right.invert_yaxis()
    right.set(title="each test: share of submissions", xlim=(0, 1))
    right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize="small",
                 frameon=False)
    figure.tight_layout()
    image = _png(figure)
    plt.close(figure)
    return image


def _summary(results: ClassResults) -> str:
    totals = [s.total for s in results.submissions]
    limits = sum(bool(s.message) for s in results.submissions)
    unconfined = [s.student for s in results.submissions if not s.confined]
    warning = (f"<p class=warn><b>UNCONFINED: {len(unconfined)} submission(s) were graded "
               f"without a sandbox</b> (<code>--unconfined</code>): their code ran as the "
               f"grader's user and could read or change what it could, grades included: "
               f"{_names(unconfined)}</p>" if unconfined else "")
    flagged = [s for s in results.submissions if s.flags]
    if flagged:
        warning += ("<p class=warn><b>FLAGGED: " f"{len(flagged)} submission(s) were made from "
                    "the instructor's source notebook</b> (hidden tests or solution markers "
                    "in them): review them. " + "; ".join(
                        f"{_e(s.student)}: {_e(', '.join(s.flags))}" for s in flagged[:MAX_NAMES])
                    + "</p>")
    return (f"{warning}<p>{len(totals)} autograded submissions; total score mean "
            f"{statistics.mean(totals):.1f}, median {statistics.median(totals):g} of "
            f"{results.max_score:g}; {limits} hit a limit or could not be graded.</p>")


def _tests_section(results: ClassResults) -> str:
    n = len(results.submissions)
    parts = ["<h2>Test cells</h2><table><tr><th>test</th><th>points</th><th>passed</th>"
             "<th>failed</th><th>left blank</th></tr>"]
    for cell in results.tests():
        failed = [s for s in results.submissions if cell.name in s.failures]
        blank = [s for s in failed if not_attempted(s.failures[cell.name])]
        parts.append(f"<tr><td><code>{_e(cell.name)}</code></td><td class=n>{cell.max_score:g}"
                     f"</td><td class=n>{_share(n - len(failed), n)}</td><td class=n>"
                     f"{_share(len(failed), n)}</td><td class=n>{len(blank)}</td></tr>")
    parts.append("</table>")
    for cell in results.tests():
        groups = group_failures(results, cell.name)
        if not groups:
            continue
        parts.append(f"<h3><code>{_e(cell.name)}</code>: failures by message</h3><table>"
                     "<tr><th>count</th><th>failure (numbers and shapes as #)</th>"
                     "<th>example</th><th>students</th></tr>")
        for failure, subs in groups:
            example = subs[0].errors.get(cell.name, failure)
            parts.append(f"<tr><td class=n>{len(subs)}</td><td><code>{_e(failure)}</code></td>"
                         f"<td><code>{_e(example[:400])}</code> <span class=muted>"
                         f"({_e(subs[0].student)})</span></td>"
                         f"<td>{_names([s.student for s in subs])}</td></tr>")
        parts.append("</table>")
    return "".join(parts)


def _misconceptions_section(results: ClassResults) -> str:
    n = len(results.submissions)
    parts = ["<h2>Likely misconceptions</h2>"]
    if results.catalogue is None:
        return parts[0] + ("<p class=warn>No misconception catalogue for this notebook "
                           "(stale or missing at release): run <code>python -m autograder "
                           f"misconceptions {_e(results.assignment)}</code>, then release "
                           "again.</p>")
    parts.append("<p>A submission has a misconception when its failures include those of "
                 "a planted bug (the mistake the kit plants to prove its tests).</p>")
    shares = misconception_shares(results)
    if shares:
        parts.append("<table><tr><th>misconception</th><th>test cells</th><th>share</th>"
                     "<th>students</th><th>hint the students get</th></tr>")
        for m, students in shares:
            cells = ", ".join(sorted(m.cells()))
            parts.append(f"<tr><td>{_e(m.label)}</td><td><code>{_e(cells)}</code></td>"
                         f"<td class=n>{_share(len(students), n)}</td><td>{_names(students)}"
                         f"</td><td>{_e(m.hint)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>No submission's failures match a planted bug.</p>")
    unknown = unrecognised_failures(results)
    parts.append("<h3>Unrecognised failures</h3>")
    if unknown:
        parts.append("<p>These match no planted bug: read them, and plant a bug for a "
                     "common one (notebooks/AUTHORING.md).</p><table><tr><th>test</th>"
                     "<th>failure</th><th>count</th><th>students</th></tr>")
        for cell, failure, students in unknown:
            parts.append(f"<tr><td><code>{_e(cell)}</code></td><td><code>{_e(failure)}</code>"
                         f"</td><td class=n>{len(students)}</td><td>{_names(students)}</td></tr>")
        parts.append("</table>")
    else:
        parts.append("<p>None.</p>")
    return "".join(parts)


def _resources_section(results: ClassResults) -> str:
    subs = results.submissions
    seconds = [s.seconds for s in subs if s.seconds is not None]
    peaks = [s.peak_mb for s in subs if s.peak_mb]
    parts = ["<h2>Grading time and memory</h2>"]
    if seconds:
        parts.append(f"<p>seconds per submission: median {statistics.median(seconds):.0f}, "
                     f"max {max(seconds):.0f}; peak memory: median "
                     f"{statistics.median(peaks) if peaks else 0:.0f} MB, max "
                     f"{max(peaks) if peaks else 0:.0f} MB.</p>")
    else:
        parts.append("<p class=muted>No grading log (graded by another tool).</p>")
    hit = [s for s in subs if s.message]
    parts.append(f"<h3>Limits hit and unreadable submissions ({len(hit)})</h3>")
    if hit:
        parts.append("<table><tr><th>student</th><th>grader's message</th></tr>")
        parts.extend(f"<tr><td>{_e(s.student)}</td><td>{_e(s.message)}</td></tr>" for s in hit)
        parts.append("</table>")
    parts.append("<details><summary>every submission</summary><table><tr><th>student</th>"
                 "<th>score</th><th>seconds</th><th>peak MB</th></tr>")
    for s in sorted(subs, key=lambda s: -(s.seconds or 0)):
        parts.append(f"<tr><td>{_e(s.student)}</td><td class=n>{s.total:g}</td><td class=n>"
                     f"{'' if s.seconds is None else f'{s.seconds:.1f}'}</td><td class=n>"
                     f"{'' if s.peak_mb is None else f'{s.peak_mb:.0f}'}</td></tr>")
    parts.append("</table></details>")
    return "".join(parts)


def _written_section(results: ClassResults) -> str:
    pending = pending_written(results)
    if not pending:
        return ""
    parts = ["<h2>Written answers waiting for a grader</h2><table><tr><th>question</th>"
             "<th>waiting</th><th>students</th></tr>"]
    for cell, students in pending.items():
        parts.append(f"<tr><td><code>{_e(cell)}</code></td><td class=n>{len(students)}</td>"
                     f"<td>{_names(students)}</td></tr>")
    parts.append("</table><p class=muted>Grade them in the formgrader "
                 "(<code>make lab</code>) or <code>nbgrader formgrader</code>.</p>")
    return "".join(parts)


def render_html(results: ClassResults) -> str:
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Class report: "
            f"{_e(results.assignment)}</title><style>{STYLE}</style></head><body>"
            f"<h1>Class report: {_e(results.assignment)}</h1><p class=muted>generated {when} "
            "by <code>python -m autograder report</code></p>"
            f"{_summary(results)}{score_plots(results)}{_misconceptions_section(results)}"
            f"{_tests_section(results)}{_written_section(results)}"
            f"{_resources_section(results)}</body></html>\n")


def csv_rows(results: ClassResults) -> list[list]:
    """A header and a row per submission: scores, misconceptions, unrecognised failures,
    time, memory and the grader's message."""
    cells = [c.name for c in results.cells]
    header = ["student", "score", "max_score", *cells, "misconceptions", "unrecognised",
              "seconds", "peak_mb", "grader_message", "sandbox", "flags"]
    rows = [header]
    for s in results.submissions:
        rows.append([s.student, f"{s.total:g}", f"{results.max_score:g}",
                     *("" if s.scores.get(c) is None else f"{s.scores[c]:g}" for c in cells),
                     "; ".join(m.label for m in s.misconceptions),
                     "; ".join(sorted(s.unrecognised)),
                     "" if s.seconds is None else s.seconds,
                     "" if s.peak_mb is None else s.peak_mb, s.message,
                     "bubblewrap" if s.confined else "unconfined", "; ".join(s.flags)])
    return rows


def write_report(results: ClassResults, folder: Path) -> tuple[Path, Path]:
    """Write ``folder/<assignment>.html`` and ``.csv``; return both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{results.assignment}.html"
    table = folder / f"{results.assignment}.csv"
    page.write_text(render_html(results), encoding="utf-8")
    with table.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(csv_rows(results))
    return page, table

