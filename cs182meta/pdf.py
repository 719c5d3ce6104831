"""Written answers as a PDF for a manually graded Gradescope assignment.

One question per page, in the notebook's order: the question, its points, the student's
answer (a long one runs on over the next pages; the next question still starts on a new
page; a blank one says so). The student's name is in the file name and in every page's
footer; the PDF's outline (bookmarks) has one entry per question. Markdown is rendered with markdown-it (raw HTML shown as text, never run) and
LaTeX maths with latex2mathml, which Chromium draws natively: nothing is fetched, so
it works offline. The page is printed by the system's Chromium through Playwright.

A render that fails raises :class:`RenderError` naming whose PDF and why; no file is
left half written.
"""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cs182meta.written import WrittenAnswer

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
BLANK = "No answer given."

STYLE = """
@page { size: Letter; margin: 18mm 16mm 20mm 16mm; }
body { font-family: "DejaVu Sans", "Noto Sans", "Noto Sans CJK SC", sans-serif; font-size: 11pt;
       line-height: 1.45; color: #111; }
section + section { break-before: page; }
header.question { border-bottom: 1px solid #999; margin-bottom: 10pt; }
h1.title { font-size: 14pt; margin: 0 0 4pt 0; }
p.points { color: #444; margin: 0 0 6pt 0; font-size: 10pt; }
div.prompt { color: #333; font-size: 10pt; margin-bottom: 8pt; }
p.heading { font-weight: bold; margin: 6pt 0 4pt 0; }
div.prompt p.heading { font-size: 10.5pt; }
div.answer { overflow-wrap: anywhere; }
p.blank { color: #a00; font-style: italic; }
pre, code { font-family: "DejaVu Sans Mono", monospace; font-size: 9.5pt; white-space: pre-wrap; }
math[display="block"] { display: block; margin: 6pt 0; }
"""


class RenderError(RuntimeError):
    """A PDF could not be made; the message names whose and why."""


def find_chromium() -> str:
    """The system's Chromium; :class:`RenderError` saying how to install it if none."""
    found = os.environ.get("CS182META_CHROMIUM") or next(
        (path for name in CHROMIUM_CANDIDATES if (path := shutil.which(name))), None)
    if not found:
        raise RenderError("no Chromium found to print the PDF: install it (Debian/Ubuntu: "
                          "`apt-get install chromium`; macOS: Google Chrome) or set "
                          "CS182META_CHROMIUM to its path")
    return found


def _markdown():
    from latex2mathml.converter import convert
    from markdown_it import MarkdownIt
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    def maths(content: str, options: dict) -> str:
        try:
            return convert(content, display="block" if options.get("display_mode") else "inline")
        except Exception:  # noqa: BLE001 — LaTeX the converter does not know: show it as written
            return f"<code>{html.escape(content)}</code>"

    def heading(renderer, tokens, index, options, env) -> str:  # a <p>: the PDF's outline has the questions only
        token = tokens[index]
        return f'<p class="heading {token.tag}">' if token.type == "heading_open" else "</p>\n"

    md = MarkdownIt("commonmark", {"html": False}).enable("table").use(dollarmath_plugin, double_inline=True, renderer=maths)
    md.add_render_rule("heading_open", heading)
    md.add_render_rule("heading_close", heading)
    return md


def answers_html(answers: Iterable[WrittenAnswer], assignment: str) -> str:
    """The whole document: one ``<section>`` (one or more pages) per answer."""
    md = _markdown()
    sections = []
    for number, answer in enumerate(answers, 1):
        points = f"{answer.points:g} point{'s' if answer.points != 1 else ''}"
        body = f'<p class="blank">{BLANK}</p>' if answer.blank else md.render(answer.text)
        sections.append(
            f'<section id="{html.escape(answer.grade_id)}"><header class="question">'
            f'<h1 class="title">Question {number}: {html.escape(answer.grade_id)}</h1>'
            f'<p class="points">{points}</p><div class="prompt">{md.render(answer.question)}</div>'
            f'</header><div class="answer">{body}</div></section>')
    if not sections:
        sections.append(f'<section><p class="blank">{html.escape(assignment)} has no written answers.</p></section>')
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(assignment)}</title>'
            f"<style>{STYLE}</style></head><body>{''.join(sections)}</body></html>")


def _footer(assignment: str, student: str) -> str:
    text = html.escape(f"{student} · {assignment}")
    return ('<div style="font-size:8pt;width:100%;padding:0 16mm;display:flex;justify-content:space-between;'
            f'font-family:sans-serif;color:#444"><span>{text}</span><span>page <span class="pageNumber"></span> '
            'of <span class="totalPages"></span></span></div>')


@dataclass
class Printer:
    """One Chromium, reused for every PDF printed with it (see :func:`printer`)."""

    browser: object

    def print(self, answers: list[WrittenAnswer], assignment: str, student: str, out: Path) -> Path:
        """Write ``out``; :class:`RenderError` naming ``student`` if it fails."""
        out = Path(out)
        partial = out.with_name(out.name + ".part")
        context = None
        try:
            context = self.browser.new_context()
            context.route("**/*", lambda route: route.abort()
                          if not route.request.url.startswith(("data:", "about:")) else route.continue_())
            page = context.new_page()
            page.set_content(answers_html(answers, assignment), wait_until="load")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(path=str(partial), format="Letter", print_background=True, outline=True, tagged=True,
                     display_header_footer=True,
                     header_template="<span></span>", footer_template=_footer(assignment, student),
                     margin={"top": "18mm", "bottom": "20mm", "left": "16mm", "right": "16mm"})
            if not partial.exists() or partial.stat().st_size == 0:
                raise RenderError(f"{student}: Chromium wrote no PDF")
            partial.replace(out)
            return out
        except RenderError:
            raise
        except Exception as err:  # noqa: BLE001 — whatever Chromium says, said with whose PDF it was
            raise RenderError(f"{student}: the PDF of {assignment} could not be made: {err}") from err
        finally:
            partial.unlink(missing_ok=True)
            if context is not None:
                context.close()


@contextmanager
def printer() -> Iterator[Printer]:
    """A :class:`Printer` on the system's Chromium, closed afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RenderError("Playwright is missing: `pip install playwright` (it drives the "
                          "system's Chromium; no browser is downloaded)") from None
    executable = find_chromium()
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        except Exception as err:  # noqa: BLE001
            raise RenderError(f"Chromium ({executable}) did not start: {err}") from err
        try:
            yield Printer(browser)
        finally:
            browser.close()
