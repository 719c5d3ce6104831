"""A failure as a short, comparable text: ``"ExceptionType: message"`` with numbers,
shapes and value lists as ``#``, the student's traceback cut off.

The grader records each planted bug's failures this way (``autograder/diagnosis.py``)
and a student's kernel normalises its own failures the same way to find the hint of a
mistake while the student works (:mod:`cs182meta.hints`); so this lives in the package
that students have.
"""

from __future__ import annotations

import re

MAX_MESSAGE = 240  # characters of a normalised message: enough to tell failures apart
MAX_INPUT = 4 * MAX_MESSAGE  # characters of a raw message read (numbers shrink to '#')

_ANSI = re.compile("\x1b\\[(.*?)([@-~])")
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")
# A bracketed run of numbers (a shape, a list, a tensor's values): one token, whatever
# its length or nesting.
_NUMBERS = re.compile(r"[\[(][\s,.…\[\]()]*#[\s#,.…\[\]()]*[\])]")
_SPACE = re.compile(r"\s+")
# A StudentCodeError carries the student's traceback after its message: its file paths
# differ between the grader's sandbox and the student's machine.
_TRACEBACK = "Traceback (most recent call last)"
_HINT = "\n\nHint: "  # what cs182meta.hints appends to a failing test's message


def normalise(ename: str, evalue: str) -> str:
    """``"ExceptionType: message"`` with numbers, shapes and value lists replaced by
    ``#`` and any traceback or hint in the message dropped, so that two failures of the same
    assertion on different values, or on different machines, are equal."""
    # The message may be the student's: cut it before any pattern sees it.
    text = _ANSI.sub("", str(evalue))[:MAX_INPUT].split(_TRACEBACK, 1)[0].split(_HINT, 1)[0]
    text = _NUMBER.sub("#", text)
    previous = None
    while previous != text:  # nested lists collapse from the inside out
        previous, text = text, _NUMBERS.sub("[#]", text)
    text = _SPACE.sub(" ", text).strip()[:MAX_MESSAGE]
    return f"{ename}: {text}" if text else ename
