"""Regenerate the README's pictures: ``python tools/screenshots.py`` (or ``make screenshots``).

Runs the browser tests (``tests/test_browser.py``: their own course folder, JupyterLab
server and Chromium) with ``CS182META_SCREENSHOTS`` set, so that the student's and the
instructor's flows save, at 1280x800:

* ``docs/screenshots/student-notebook.png``: a release notebook with an exercise answered
  and its test run;
* ``docs/screenshots/validate.png``: nbgrader's Validate result;
* ``docs/screenshots/formgrader.png``: a written answer graded in the formgrader;
* ``docs/screenshots/hint.png``: a failing visible test ending with its hint;

and draws ``docs/screenshots/written-pdf-page.png``: the first page of notebook 03's
written-answers template (what ``python -m autograder pdfs`` prints, answer left blank).

Needs what the browser tests need (Playwright for Python and the system's Chromium); exits
with pytest's status, and fails if a picture was not written.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
PICTURES = ("student-notebook.png", "validate.png", "formgrader.png", "hint.png")
PDF_PAGE = "written-pdf-page.png"


def written_pdf_page(out: Path) -> Path:
    """The first page of 03's written-answers template, as Chromium lays it out for print."""
    import io
    import json

    from PIL import Image

    from autograder.pdfs import template
    from cs182meta.pdf import answers_html, printer
    from cs182meta.written import written_answers

    source = json.loads((ROOT / "notebooks" / "03_maml.ipynb").read_text())
    blank = template(written_answers(source))
    with printer() as pdf:
        page = pdf.browser.new_page(viewport={"width": 816, "height": 300})  # Letter's width at 96 dpi, the top
        page.set_content(answers_html(blank[:1], "03_maml"))
        page.emulate_media(media="print")
        image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    image.quantize(64).save(out / PDF_PAGE, optimize=True)
    return out / PDF_PAGE


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    print(f"wrote {written_pdf_page(OUT).relative_to(ROOT)}")
    before = {name: (OUT / name).stat().st_mtime if (OUT / name).exists() else 0.0
              for name in PICTURES}
    env = {**os.environ, "CS182META_SCREENSHOTS": str(OUT),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "pytest", "tests/test_browser.py", "-rs",
                           "-p", "no:cacheprovider", "-q"], cwd=ROOT, env=env, check=False)
    stale = [name for name in PICTURES
             if not (OUT / name).exists() or (OUT / name).stat().st_mtime == before[name]]
    if stale:
        print(f"screenshots: not written: {', '.join(stale)}", file=sys.stderr)
        return done.returncode or 1
    for name in PICTURES:
        print(f"wrote {(OUT / name).relative_to(ROOT)} ({(OUT / name).stat().st_size // 1024} KB)")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
