"""The grader's side of judging: the judge process and the relay between it and the sandbox.

::

   sandbox (student's kernel)          grader (this module)                judge
   ──────────────────────────          ────────────────────                ─────
   runs cells up to test cell i ──► {"judge": i} ──────────────────────► {"run": i}
                                                       {"request": r} ◄── student.f(x)
   serve(r) in the kernel ◄───────── {"request": r} ◄─┘
   {"reply": a} ─────────────────────────────────────────────────────► {"reply": a}
                                                  {"result": i, outputs} ◄── cell done
   next cells ◄───────────────────── {"end": i} ◄──┘  (outputs → the graded notebook)

The sandbox never receives a test cell's source (:func:`for_the_sandbox` blanks them);
the judge (:mod:`autograder.judge`) never runs student code. The relay checks the order
of every message: a reply nobody asked for, a judge point out of order or a result for
another cell is the sandbox's or the judge's fault, and stops the submission with a
message (:attr:`JudgeLink.problem`).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
from nbformat.v4.nbbase import validate as validate_node

from autograder.confinement import kit_packages
from autograder.judge import COUNT_BASE
from autograder.limits import MAX_NOTEBOOK_BYTES
from autograder.nbgrader_api import is_test_cell
from autograder.sandbox import cap_outputs
from autograder.supervision import Outbox
from cs182meta.settings import grading_environment

MAX_MESSAGE = MAX_NOTEBOOK_BYTES * 4  # one line from the judge


def for_the_sandbox(nb) -> str:
    """``nb`` as one JSON line for the sandbox: every test cell's source blanked (its
    metadata stays, so the sandbox knows to stop there)."""
    sent = copy.deepcopy(nb)
    for cell in sent.cells:
        if is_test_cell(cell):
            cell.source = ""
    return json.dumps(sent) + "\n"


class Judge:
    """One judge process (:mod:`autograder.judge`), started with the grading
    environment and the grader's own kit on its path."""

    def __init__(self, cache: Path | None):
        self.folder = tempfile.TemporaryDirectory(prefix="cs182meta-judge-")
        self.log = open(Path(self.folder.name) / "stderr", "w+b")  # noqa: SIM115
        env = grading_environment(os.environ, cache=cache)
        here = {str(p.parent) for p in kit_packages().values()}  # the grader's own kit
        env["PYTHONPATH"] = os.pathsep.join([*sorted(here), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep)
        env.update(PYTHONUNBUFFERED="1", NBGRADER_EXECUTION="autograde")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.judge"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self.log, cwd=self.folder.name, env=env)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and not self.process.stdout.closed

    def stderr_tail(self) -> str:
        self.log.seek(0)
        return self.log.read()[-2000:].decode(errors="replace")

    def stop(self) -> None:
        """Stop the process and remove its folder."""
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        self.folder.cleanup()


class JudgePool:
    """Idle judges of one grader, reused from one submission to the next (a judge's
    start — Python, torch — costs more than most test cells), stopped at ``close`` (the
    grader closes its pool when a batch is graded and when it is itself collected)."""

    def __init__(self, cache: Path | None):
        self.cache = cache
        self.idle: list[Judge] = []
        self.lock = threading.Lock()

    def acquire(self) -> Judge:
        with self.lock:
            while self.idle:
                judge = self.idle.pop()
                if judge.alive:
                    return judge
                judge.stop()
        return Judge(self.cache)

    def release(self, judge: Judge) -> None:
        with self.lock:
            self.idle.append(judge)

    def close(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for judge in idle:
            judge.stop()


class JudgeLink:
    """One submission's judge (from ``pool``) and the relay between it and the sandbox
    (``outbox``: the sandbox's stdin). ``nb`` is the graded notebook: the judge's
    outputs go into its test cells."""

    def __init__(self, nb, outbox: Outbox, pool: JudgePool, threads: int):
        self.nb, self.outbox, self.pool = nb, outbox, pool
        self.active: int | None = None  # the test cell being judged
        self.awaiting = False  # the judge waits for a reply
        self.pending = bytearray()
        self.problem: str | None = None
        self.judge = pool.acquire()
        self.process = self.judge.process
        os.set_blocking(self.process.stdout.fileno(), False)  # read by the sandbox's watch
        cells = {str(i): c.source for i, c in enumerate(nb.cells) if is_test_cell(c)}
        self._to_judge({"cells": cells, "threads": threads})

    # -- from the sandbox
    def judge_point(self, record: dict, last: int) -> None:
        """The sandbox reached test cell ``record["judge"]``."""
        index = record.get("judge")
        if set(record) != {"judge", "id"} or type(index) is not int:
            raise ValueError("a judge point that is not one")
        if self.active is not None or not last < index < len(self.nb.cells):
            raise ValueError(f"judge point {index} out of order")
        cell = self.nb.cells[index]
        if not is_test_cell(cell) or record["id"] != cell.get("id"):
            raise ValueError(f"cell {index} is not a test cell")
        self.active = index
        self._to_judge({"run": index})

    def reply(self, record: dict) -> None:
        """The sandbox's answer to the judge's last request."""
        if set(record) != {"reply"} or not self.awaiting:
            raise ValueError("a reply nobody asked for")
        self.awaiting = False
        self._to_judge(record)

    # -- from the judge
    def feed(self, data: bytes) -> None:
        """What the judge wrote (b"": it closed its output)."""
        if self.problem:
            return
        if not data:
            if self.active is not None:
                self.problem = self._crashed()
            return
        self.pending += data
        if len(self.pending) > MAX_MESSAGE:
            self.problem = "the grader's judge sent a message over its size limit"
            return
        while b"\n" in self.pending and not self.problem:
            line, _, rest = bytes(self.pending).partition(b"\n")
            self.pending = bytearray(rest)
            try:
                self._from_judge(json.loads(line))
            except (ValueError, TypeError, RecursionError, nbformat.ValidationError) as err:
                self.problem = f"the grader's judge sent a malformed message ({str(err)[:100]})"

    def _from_judge(self, message: dict) -> None:
        if "request" in message and self.active is not None and not self.awaiting:
            self.awaiting = True
            self.outbox.write((json.dumps({"request": message["request"]}) + "\n").encode())
        elif message.get("result") == self.active is not None:
            cell = self.nb.cells[self.active]
            outputs = message.get("outputs", [])
            for output in outputs:
                validate_node(output, "output")
            cell.outputs = [nbformat.from_dict(o) for o in cap_outputs(outputs)]
            cell.execution_count = COUNT_BASE + self.active
            self.outbox.write((json.dumps({"end": self.active}) + "\n").encode())
            self.active = None
        else:
            self.problem = f"the grader's judge sent {json.dumps(message)[:100]} out of turn"

    @property
    def idle(self) -> bool:
        return self.active is None

    def _to_judge(self, message: dict) -> None:
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
            self.process.stdin.flush()
        except OSError:
            self.problem = self._crashed()

    def _crashed(self) -> str:
        print(f"the judge stopped:\n{self.judge.stderr_tail()}", file=sys.stderr)
        return ("the grader's judge stopped while it judged a test cell; please tell the "
                "course staff")

    def close(self) -> None:
        """Give the judge back to the pool if it finished its work cleanly, else stop it."""
        if (self.problem is None and self.active is None and not self.awaiting
                and not self.pending and self.judge.alive):
            self.pool.release(self.judge)
        else:
            self.judge.stop()
