"""Every limit of the grading pipeline, defined once.

:class:`Limits` holds the per-submission limits that a run may change (``autograde``'s
defaults, :data:`GRADESCOPE_LIMITS` inside Gradescope); the named constants below are the
fixed size caps and time limits, each with what it bounds. The rest of the kit imports
them from here; nothing else writes their values.

The course folder's ``nbgrader_config.py`` (nbgrader's own per-cell ``Execute.timeout``)
is written from :class:`Limits` too: see :func:`autograder.nbgrader_api.course_config_text`.

This module imports nothing but the standard library: the sandbox (:mod:`autograder.sandbox`)
imports it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Per-submission limits. ``memory_mb`` bounds the memory of the whole process tree
    (its RSS, and what it wrote to the sandbox's tmpfs)."""

    wall_s: float = 600.0  # seconds for the whole notebook
    cell_s: int = 120  # seconds per cell (also nbgrader's Execute.timeout in the course)
    memory_mb: int = 3072  # MB of RSS, all of the submission's processes together
    work_mb: int = 1024  # the sandbox's private tmpfs (working folder and HOME)
    # processes and threads at once (a kernel with torch runs a few dozen); where a pids
    # cgroup can be made, a fork or thread bomb ends as this submission's failure
    processes: int = 512


# Gradescope stops an autograder at its own timeout (10 min by default): stay inside it.
GRADESCOPE_LIMITS = Limits(wall_s=540)

# ------------------------------------------------------------------ times
MUTANT_S = 60.0  # seconds for one mutant's test cell (autograder.mutation; the CLI's default)
BWRAP_PROBE_S = 120  # seconds for bubblewrap's self-test (autograder.confinement)

# ------------------------------------------------------------------ sizes
# What a submission may be (autograder.submissions, isolated, gradescope, the sandbox).
MAX_NOTEBOOK_BYTES = 64 * 2**20  # bytes of one submitted notebook
MAX_STUDENT_ID = 64  # characters of a student id (a folder name in the course)
MAX_ATTACHMENT = 2 * 2**20  # characters of one markdown attachment (base64)
MAX_GRADE_ID = 64  # characters of a cell id in a notebook source (autograder.authoring)

# What one sandboxed cell's outputs keep (a note says what was cut; autograder.sandbox).
MAX_TEXT = 100_000  # characters of one stream, text/* value, error value or traceback
MAX_DATA = 2_000_000  # characters of one binary (base64) value: a picture
MAX_OUTPUTS = 500  # outputs of one cell
MAX_CELL = 4_000_000  # characters of all outputs of one cell
MAX_RESULTS_BYTES = 64 * 2**20  # bytes of everything one sandbox hands back
MAX_REPLY_BYTES = 16 * 2**20  # bytes of one answer of the student's side to the judge
SHM_MB = 64  # MB of the sandbox's /dev/shm (multiprocessing's semaphores and queues)

# What Gradescope is handed (autograder.gradescope).
GRADESCOPE_MAX_MESSAGE = 10_000  # characters of one message in results.json
GRADESCOPE_MAX_RESULTS = 1_000_000  # characters of results.json
