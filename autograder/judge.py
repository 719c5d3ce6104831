"""The judge: runs a submission's test cells in a process that never runs student code.

``python -m autograder.judge`` is started by :mod:`autograder.judging` (reused from one
submission to the next of a grader), next to (never inside) the sandbox that runs the
student's notebook. It speaks JSON lines with the grader:

* stdin, at the start of each submission: ``{"cells": {"index": source, ...},
  "threads": n}`` — its test cells, hidden tests included, as the gradebook restored
  them (one judge serves the submissions of a grading slot one after the other: it
  keeps nothing of one for the next but its imports);
* stdin, then: ``{"run": index}`` (judge that cell now: the sandbox's kernel has run
  every cell above it) and ``{"reply": {...}}`` (the student's side's answer to the last
  request);
* stdout: ``{"request": {...}}`` (a call on the student's code, see
  :mod:`cs182meta.student`) and ``{"result": index, "outputs": [...]}`` (the cell's
  outputs, as a notebook's: streams, the value of a last expression, the error).

Each test cell runs in a fresh namespace, where ``cs182meta.student.student`` is a
:class:`~cs182meta.student.Student` whose channel is this conversation: the student's
code is reached only through the sandbox, and what comes back is decoded as plain data
(:func:`cs182meta.student.decode`, no pickle). A reply that is not one fails the test
that asked for it, with a message, and nothing else.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import sys
import traceback
from typing import Any

import torch

import cs182meta.student as wire
from cs182meta.student import Student

COUNT_BASE = 1000  # a judged cell's execution count is COUNT_BASE + its index (never the kernel's)


class Conversation:
    """The judge's stdin and stdout."""

    def __init__(self, stdin, stdout):
        self.stdin, self.stdout = stdin, stdout

    def send(self, message: dict) -> None:
        self.stdout.write(wire.dumps(message) + "\n")
        self.stdout.flush()

    def receive(self) -> dict:
        line = self.stdin.readline(wire.MAX_MESSAGE_BYTES + 2**20)
        if not line:
            raise EOFError("the grader closed the conversation")
        return wire.loads(line)


class SandboxChannel:
    """A :class:`~cs182meta.student.Student`'s channel through the grader to the sandbox."""

    def __init__(self, conversation: Conversation):
        self.conversation = conversation

    def request(self, message: dict) -> dict:
        self.conversation.send({"request": message})
        answer = self.conversation.receive()
        if set(answer) != {"reply"} or type(answer["reply"]) is not dict:
            raise wire.WireError("the grader sent something other than a reply")
        return answer["reply"]


def _split_last_expression(source: str, filename: str):
    """(code to exec, code to eval or None): IPython's rule, the value of a last
    expression is the cell's result."""
    tree = ast.parse(source, filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    body = compile(tree, filename, "exec")
    return body, (compile(last, filename, "eval") if last is not None else None)


def _traceback(err: BaseException, filename: str, count: int) -> list[str]:
    """The error as IPython shows it, with only the test cell's own frames:
    ``Cell In[count], line n`` (what :mod:`autograder.feedback` maps to shown lines)."""
    lines = []
    for frame in traceback.extract_tb(err.__traceback__):
        if frame.filename == filename:
            lines.append(f"Cell In[{count}], line {frame.lineno}\n----> {frame.lineno} "
                         f"{frame.line}\n")
    name = type(err).__name__
    return [*lines, f"\x1b[0;31m{name}\x1b[0m: {err}"]


def run_cell(source: str, index: int, channel) -> list[dict]:
    """Run one test cell with ``student`` on ``channel``; return its outputs."""
    count = COUNT_BASE + index
    filename = f"<test cell {index}>"
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": __builtins__}
    printed = io.StringIO()
    outputs: list[dict] = []
    wire.student = Student(channel)
    torch.manual_seed(0)
    try:
        # A warning is printed, never a failure: as in the notebook (notebook_setup).
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            body, last = _split_last_expression(source, filename)
            exec(body, namespace)  # noqa: S102 — the instructor's test cell
            value = eval(last, namespace) if last is not None else None  # noqa: S307
        result = None if value is None else {
            "output_type": "execute_result", "execution_count": count, "metadata": {},
            "data": {"text/plain": repr(value)[:10_000]}}
    except Exception as err:  # noqa: BLE001 — a failing test is this cell's error output
        result = {"output_type": "error", "ename": type(err).__name__, "evalue": str(err),
                  "traceback": _traceback(err, filename, count)}
    finally:
        wire.student = wire._KernelStudent()
    if printed.getvalue():
        outputs.append({"output_type": "stream", "name": "stdout", "text": printed.getvalue()})
    return outputs + ([result] if result is not None else [])


def main() -> int:
    conversation = Conversation(sys.stdin, sys.stdout)
    sys.stdout = sys.stderr  # stray prints never reach the grader's pipe
    cells: dict[int, str] = {}
    channel = SandboxChannel(conversation)
    while True:
        try:
            message = conversation.receive()
        except EOFError:
            return 0
        if "cells" in message:  # the next submission's test cells (a judge serves many)
            cells = {int(k): v for k, v in message["cells"].items()}
            torch.set_num_threads(int(message.get("threads", 1)))
            continue
        index = message.get("run")
        if type(index) is not int or index not in cells:
            raise SystemExit(f"the judge got {json.dumps(message)[:200]}")
        outputs = run_cell(cells[index], index, channel)
        conversation.send({"result": index, "outputs": outputs})


if __name__ == "__main__":
    os.environ.setdefault("NBGRADER_EXECUTION", "autograde")
    sys.exit(main())
