"""Collect student submissions into the course folder without losing anything.

Accepted input:
* a folder of student folders: ``<student>/<assignment>.ipynb`` or
  ``<student>/<assignment>/<assignment>.ipynb``;
* an LMS-style zip: the same inside the zip, or flat file names
  ``<student>_<anything>_<assignment>.ipynb`` (Canvas and similar).

A submission identical to the one already collected is left alone; a different one
replaces it only with ``replace=True``, and the old one is moved to ``archive/`` first.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder.course import Course, GradingError

_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]*$")


@dataclass
class Collected:
    student: str
    assignment: str
    status: str  # "new", "unchanged", "replaced", "kept (differs; use --replace)"


def _entries(path: Path):
    """Yield ``(relative posix path, bytes)`` for every file of a folder or zip."""
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file():
                yield PurePosixPath(file.relative_to(path).as_posix()), file.read_bytes()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if not info.is_dir():
                    yield PurePosixPath(info.filename), archive.read(info)
    else:
        raise GradingError(f"{path}: not a folder of student folders nor a zip file")


def _identify(relative: PurePosixPath, assignments: list[str]) -> tuple[str, str] | None:
    """``(student, assignment)`` for a submitted file, or None if it is not one."""
    if relative.suffix != ".ipynb" or any(p.startswith((".", "__")) for p in relative.parts):
        return None
    stem = relative.stem
    if len(relative.parts) >= 2 and stem in assignments:
        return relative.parts[0], stem
    for name in assignments:  # flat LMS name: <student>_<...>_<assignment>.ipynb
        if len(relative.parts) == 1 and stem.endswith("_" + name):
            return stem.split("_", 1)[0], name
    return None


def collect(course: Course, source: Path | str, assignments: list[str],
            replace: bool = False) -> tuple[list[Collected], list[str]]:
    """Copy submissions into ``course/submitted``. Returns what was collected and the
    files that were skipped, each with the reason."""
    source = Path(source)
    if not source.exists():
        raise GradingError(f"{source} does not exist")
    collected, skipped = [], []
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    for relative, data in _entries(source):
        found = _identify(relative, assignments)
        if found is None:
            if relative.suffix == ".ipynb":
                skipped.append(f"{relative}: not named after an assignment "
                               f"({', '.join(a + '.ipynb' for a in assignments)})")
            continue
        student, assignment = found
        if not _STUDENT_ID.match(student):
            skipped.append(f"{relative}: {student!r} is not a usable student id")
            continue
        folder = course.path("submitted", student, assignment)
        target = folder / f"{assignment}.ipynb"
        if target.exists() and target.read_bytes() == data:
            collected.append(Collected(student, assignment, "unchanged"))
            continue
        status = "new"
        if target.exists():
            if not replace:
                collected.append(Collected(student, assignment, "kept (differs; use --replace)"))
                continue
            stamp = (folder / "timestamp.txt").read_text().strip().replace(" ", "_").replace(":", "")
            archive = course.path("archive", student, assignment, stamp or "undated")
            archive.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(folder), archive)
            status = "replaced"
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        (folder / "timestamp.txt").write_text(now)
        collected.append(Collected(student, assignment, status))
    return collected, skipped
