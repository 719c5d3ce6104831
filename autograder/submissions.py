"""Collect student submissions into the course folder without losing anything.

Accepted input, at any depth (a wrapper folder around everything is fine):
* a folder of student folders: ``<student>/<assignment>.ipynb`` or
  ``<student>/<assignment>/<assignment>.ipynb``;
* an LMS-style zip: the same inside the zip, or flat file names
  ``<name>_<anything>_<assignment>.ipynb`` (Canvas: ``<name>_[LATE_]<user id>_<submission
  id>_<file>``). The student is the LMS user id (the first all-digit field), not the
  name, which two students can share; without an id field, the name.

Left out: macOS metadata (``__MACOSX/``, ``._*``), hidden files and folders, and Jupyter's
``.ipynb_checkpoints`` copies. A notebook over :data:`MAX_NOTEBOOK_BYTES` is reported and
not read (zip members are checked before reading, and read in bounded chunks).

A submission identical to the one already collected is left alone; a different one
replaces it only with ``replace=True``, and the old one is moved to ``archive/`` first.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from autograder.course import Course, GradingError
from autograder.limits import MAX_NOTEBOOK_BYTES, MAX_STUDENT_ID

_STUDENT_ID = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9.\-]{{0,{MAX_STUDENT_ID - 1}}}$")
_LMS_ID = re.compile(r"^[0-9]+$")


@dataclass
class Collected:
    student: str
    assignment: str
    status: str  # "new", "unchanged", "replaced", "kept (differs; use --replace)"
    name: str = ""  # the name an LMS file gave, where the student is an LMS id


class TooLarge(Exception):
    pass


def is_junk(relative: PurePosixPath) -> bool:
    """macOS metadata, hidden files or folders, Jupyter checkpoints."""
    return (any(part.startswith((".", "__")) for part in relative.parts)
            or relative.name.endswith("-checkpoint.ipynb"))


def _entries(path: Path) -> Iterator[tuple[PurePosixPath, int, Callable[[], bytes]]]:
    """``(relative posix path, size, read)`` for every file of a folder or zip; ``read``
    raises :class:`TooLarge` past :data:`MAX_NOTEBOOK_BYTES`, whatever the size said."""
    if path.is_dir():
        for file in sorted(path.rglob("*")):
            if file.is_file() and not file.is_symlink():
                yield (PurePosixPath(file.relative_to(path).as_posix()), file.stat().st_size,
                       lambda file=file: _bounded(file.open("rb")))
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for info in sorted(archive.infolist(), key=lambda i: i.filename):
                if not info.is_dir():
                    yield (PurePosixPath(info.filename), info.file_size,
                           lambda info=info: _bounded(archive.open(info)))
    else:
        raise GradingError(f"{path}: not a folder of student folders nor a zip file")


def _bounded(stream) -> bytes:
    with stream:
        data = bytearray()
        while chunk := stream.read(2**20):
            data += chunk
            if len(data) > MAX_NOTEBOOK_BYTES:
                raise TooLarge
        return bytes(data)


def _identify(relative: PurePosixPath, assignments: list[str]) -> tuple[str, str, str] | None:
    """``(student, assignment, name)`` for a submitted file, or None if it is not one."""
    if relative.suffix != ".ipynb" or is_junk(relative):
        return None
    stem = relative.stem
    if stem in assignments:  # <...>/<student>[/<assignment>]/<assignment>.ipynb
        folders = list(relative.parts[:-1])
        if folders and folders[-1] == stem:
            folders.pop()
        return (folders[-1], stem, "") if folders else None
    for name in assignments:  # flat LMS name: <name>_<...>_<assignment>.ipynb
        if stem.endswith("_" + name):
            fields = stem[: -len(name) - 1].split("_")
            lms_id = next((f for f in fields[1:] if _LMS_ID.match(f)), None)
            return (lms_id, name, fields[0]) if lms_id else (fields[0], name, "")
    return None


def collect(course: Course, source: Path | str, assignments: list[str],
            replace: bool = False) -> tuple[list[Collected], list[str]]:
    """Copy submissions into ``course/submitted``. Returns what was collected and the
    files that were skipped, each with the reason."""
    source = Path(source)
    if not source.exists():
        raise GradingError(f"{source} does not exist")
    collected, skipped = [], []
    seen: dict[tuple[str, str], PurePosixPath] = {}
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f %Z")
    for relative, size, read in _entries(source):
        found = _identify(relative, assignments)
        if found is None:
            if relative.suffix == ".ipynb" and not is_junk(relative):
                skipped.append(f"{relative}: not inside a student's folder" if relative.stem
                               in assignments else f"{relative}: not named after an assignment "
                               f"({', '.join(a + '.ipynb' for a in assignments)})")
            continue
        student, assignment, name = found
        if not _STUDENT_ID.match(student):
            skipped.append(f"{relative}: {student[:80]!r} is not a usable student id (letters, "
                           f"digits, '.', '-'; at most {MAX_STUDENT_ID} characters)")
            continue
        if (student, assignment) in seen:
            skipped.append(f"{relative}: a second {assignment} for {student} in this upload "
                           f"(the first, {seen[student, assignment]}, was collected)")
            continue
        seen[student, assignment] = relative
        try:
            if size > MAX_NOTEBOOK_BYTES:
                raise TooLarge
            data = read()
        except TooLarge:
            skipped.append(f"{relative}: over the {MAX_NOTEBOOK_BYTES / 2**20:.3g} MB limit "
                           f"for a notebook ({size / 2**20:.3g} MB)")
            continue
        except (OSError, zipfile.BadZipFile, RuntimeError) as err:
            skipped.append(f"{relative}: could not be read ({err})")
            continue
        try:
            collected.append(_store(course, student, assignment, name, data, now, replace))
        except OSError as err:
            skipped.append(f"{relative}: could not be stored ({err.strerror or err})")
    return collected, skipped


def _store(course: Course, student: str, assignment: str, name: str, data: bytes, now: str,
           replace: bool) -> Collected:
    folder = course.folder("submitted", assignment, student)
    target = folder / f"{assignment}.ipynb"
    if target.exists() and target.read_bytes() == data:
        return Collected(student, assignment, "unchanged", name)
    status = "new"
    if target.exists():
        if not replace:
            return Collected(student, assignment, "kept (differs; use --replace)", name)
        stamp = (folder / "timestamp.txt").read_text().strip().replace(" ", "_").replace(":", "")
        archive = course.archive_folder(assignment, student, stamp or "undated")
        archive.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(folder), archive)
        status = "replaced"
    folder.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    (folder / "timestamp.txt").write_text(now)
    return Collected(student, assignment, status, name)
