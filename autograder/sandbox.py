"""Execute one sanitized notebook: the only place student code runs.

``python -m autograder.sandbox --cell-timeout S`` is started by :mod:`autograder.isolated`
(inside bubblewrap where it works, see :mod:`autograder.confinement`), in a working
folder of its own. It reads the notebook as the first line on stdin — its test cells
blank (:func:`autograder.judging.for_the_sandbox`): no test, hidden or not, ever comes
here — and runs every other cell with nbgrader's ``Execute`` settings (a failing or
timed-out cell records its error and the next cell runs). It never sees the course
folder, the gradebook, or a path to them.

Its results go back on stdout, one JSON line per executed code cell
(``{"cell": index, "id": cell id, "execution_count": n, "outputs": [...]}``, outputs
capped by :func:`cap_outputs`) and a last line ``{"done": true, "message": ...}``. At a
test cell it writes ``{"judge": index, "id": ...}`` instead, then answers each
``{"request": ...}`` line that comes on stdin by running
:func:`cs182meta.student.serve` in the kernel and writing ``{"reply": ...}`` (the
kernel's answer, or why there is none), until ``{"end": index}``.
Before the kernel starts, both pipes are moved to private descriptors that the kernel
does not inherit, and this process makes itself non-dumpable, so that a process of the
same user cannot open its descriptors or memory through ``/proc``: student code can stop
this process, not speak for it. The grader takes nothing but outputs from these lines
(never a cell's source), so cells that ran before a limit hit keep their results.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import sys

import nbformat
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute

# Caps on what one output keeps (a note says what was cut); the feedback shows the rest.
from autograder.limits import (
    MAX_CELL,
    MAX_DATA,
    MAX_NOTEBOOK_BYTES,
    MAX_OUTPUTS,
    MAX_REPLY_BYTES,
    MAX_TEXT,
)
from autograder.nbgrader_api import is_test_cell
from cs182meta.student import REPLY_MIME


def error_output(name: str, message: str):
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


def has_error(cell) -> bool:
    return any(o.output_type == "error" for o in cell.get("outputs", []))


def mark_unexecuted(nb, reason: str) -> None:
    for cell in nb.cells:
        if is_test_cell(cell) and cell.get("execution_count") is None and not has_error(cell):
            cell.outputs = [error_output("NotExecuted", reason)]


def _cut(text: str, limit: int, what: str) -> str:
    if len(text) <= limit + 200:  # a text cut once (note included) stays as it is
        return text
    return (text[:limit] + f"\n… [{what} cut by the grader: {len(text):,} characters, "
                           f"the first {limit:,} kept]\n")


def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def cap_output(output: dict) -> dict:
    """``output`` with every text and picture within the caps."""
    kind = output.get("output_type")
    if kind == "stream":
        output["text"] = _cut(_join(output.get("text", "")), MAX_TEXT, "output")
    elif kind == "error":
        output["ename"] = _cut(str(output.get("ename", "")), 200, "error name")
        output["evalue"] = _cut(str(output.get("evalue", "")), MAX_TEXT, "error message")
        lines, size, kept = output.get("traceback", []), 0, []
        lines = lines if isinstance(lines, list) else [str(lines)]
        for line in reversed(lines):
            line = _cut(str(line), MAX_TEXT // 4, "traceback line")
            size += len(line)
            if size > MAX_TEXT:
                kept.append(f"… [traceback cut by the grader: {len(lines)} lines]")
                break
            kept.append(line)
        output["traceback"] = kept[::-1]
    elif kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        for mime in list(data):
            value = _join(data[mime])
            textual = mime.startswith("text/") or mime.endswith(("json", "javascript"))
            if textual:
                data[mime] = _cut(value, MAX_TEXT, "output")
            elif len(value) > MAX_DATA:
                del data[mime]
                data["text/plain"] = (f"[{mime} output removed by the grader: "
                                      f"{len(value):,} characters, over {MAX_DATA:,}]")
    return output


def cap_outputs(outputs: list) -> list:
    """``outputs`` within the caps (consecutive writes to one stream merged first), a
    note at the end of a list that was cut."""
    merged: list = []
    for output in outputs:
        if (merged and output.get("output_type") == "stream" == merged[-1].get("output_type")
                and output.get("name") == merged[-1].get("name")):
            merged[-1]["text"] = _join(merged[-1].get("text", "")) + _join(output.get("text", ""))
        else:
            merged.append(output)
    kept, total = [], 0
    for n, output in enumerate(merged):
        output = cap_output(output)
        total += len(json.dumps(output))
        if n == MAX_OUTPUTS or total > MAX_CELL:
            kept.append(new_output("stream", name="stdout",
                                   text=f"… [{len(merged) - n:,} more outputs removed by the "
                                        f"grader]\n"))
            break
        kept.append(output)
    return kept


class StreamingExecute(Execute):
    """nbgrader's ``Execute`` that hands each code cell's outputs to ``emit`` as soon as
    the cell has run, and stops at each test cell (a *judge point*: its source never
    comes here) to serve the judge's requests (:meth:`serve`) until it says ``end``."""

    def preprocess_cell(self, cell, resources, index):
        self._current = index
        if is_test_cell(cell):
            self.serve(index, cell)
            return cell, resources
        cell, resources = super().preprocess_cell(cell, resources, index)
        if cell.cell_type == "code":
            self._emit(index, cell)
        return cell, resources

    def serve(self, index: int, cell) -> None:
        """Say that test cell ``index`` is reached, then answer each request of the
        judge by running :func:`cs182meta.student.serve` in the kernel, until ``end``."""
        self._send({"judge": index, "id": cell.get("id")})
        while True:
            message = self._receive()
            if message.get("end") == index:
                return
            request = message.get("request")
            call = new_code_cell(f"__import__('cs182meta.student').student.serve("
                                 f"{json.dumps(request)!r})")
            try:
                self.execute_cell(call, index, store_history=False)
            except DeadKernelError:
                raise
            except Exception as err:  # noqa: BLE001 — a timeout, a kernel error: no answer
                call.outputs = [error_output(type(err).__name__, str(err)[:500])]
            self._send({"reply": _reply(call.outputs, self.timeout)})




def _reply(outputs: list, timeout: int) -> dict:
    """The kernel's answer among a request's ``outputs`` (the last one of its kind), or
    an error saying why there is none."""
    for output in reversed(outputs):
        text = output.get("data", {}).get(REPLY_MIME) if output.get("output_type") == (
            "display_data") else None
        if isinstance(text, str) and len(text) > MAX_REPLY_BYTES:
            return {"error": {"type": "NoAnswer", "message": (
                f"your notebook's answer to the test's call was {len(text) / 2**20:.0f} MB, "
                f"over the {MAX_REPLY_BYTES // 2**20} MB limit"), "details": ""}}
        if isinstance(text, str):
            try:
                reply = json.loads(text)
            except (ValueError, RecursionError):
                break
            if isinstance(reply, dict):
                return reply
            break
    errors = [f"{o.get('ename')}: {o.get('evalue')}"[:500] for o in outputs
              if o.get("output_type") == "error"]
    why = errors[-1] if errors else "it gave no answer"
    if any("Timeout" in e for e in errors):
        why = f"it did not answer within {timeout} s"
    return {"error": {"type": "NoAnswer", "message": f"your notebook's kernel could not answer "
                                                     f"the test's call: {why}", "details": ""}}


def execute(nb, cell_timeout: int, emit, send, receive) -> str | None:
    """Run ``nb``, calling ``emit(index, cell)`` after each code cell and serving the
    judge at each test cell (``send`` a message to it, ``receive`` one); return why it
    stopped early, or None."""
    # nbgrader's Execute already records an error for a cell whose reply says "error"
    # even when the student switched the traceback display off.
    executor = StreamingExecute(timeout=cell_timeout, allow_errors=True)
    executor._emit = emit
    executor._send, executor._receive = send, receive
    executor._current = None
    resources = {"metadata": {"path": os.getcwd()}}
    try:
        executor.preprocess(nb, resources)
        return None
    except DeadKernelError as err:  # a crash, os._exit(), or the memory limit
        stopped = f"the kernel died ({err.__class__.__name__}); later cells did not run"
    except Exception as err:  # noqa: BLE001 — whatever happens, report what ran
        stopped = f"execution stopped: {err.__class__.__name__}: {err}"
    current = executor._current
    if current is not None and nb.cells[current].cell_type == "code" and not is_test_cell(
            nb.cells[current]):
        cell = nb.cells[current]
        cell.execution_count = None
        emit(current, cell)  # what the interrupted cell printed
    return stopped[:2000]


def _private_stdout():
    """The result pipe on a descriptor no child inherits; fd 0 and 1 point elsewhere."""
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")  # os.dup: not inheritable
    os.dup2(2, 1)
    sys.stdout = sys.__stdout__ = open(1, "w", closefd=False)  # noqa: SIM115
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:  # PR_SET_DUMPABLE = 4: /proc/<this pid>/{fd,mem,environ} closed to the kernel
        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    return results


def _limit_resources(processes: int | None, file_mb: int | None, cpu_s: int | None) -> None:
    """The container mode's limits (:class:`autograder.confinement.Unprivileged`), set
    before the kernel starts, so that every process of the submission has them."""
    import resource

    wanted = {resource.RLIMIT_NPROC: processes, resource.RLIMIT_CPU: cpu_s,
              resource.RLIMIT_FSIZE: file_mb * 2**20 if file_mb else None}
    if processes is not None:
        wanted.update({resource.RLIMIT_NOFILE: 4096, resource.RLIMIT_CORE: 0})
    for kind, value in wanted.items():
        if value is not None:
            hard = resource.getrlimit(kind)[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(kind, (value, value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cell-timeout", type=int, required=True, help="seconds per cell")
    parser.add_argument("--cache-from", help="copy this dataset cache to $CS182META_CACHE first")
    parser.add_argument("--processes", type=int, help="limit on this user's processes (RLIMIT_NPROC)")
    parser.add_argument("--file-mb", type=int, help="limit on the size of one written file")
    parser.add_argument("--cpu-s", type=int, help="limit on CPU seconds of each process")
    args = parser.parse_args(argv)
    _limit_resources(args.processes, args.file_mb, args.cpu_s)
    if args.cache_from:  # a private, writable copy: no submission changes another's data
        shutil.copytree(args.cache_from, os.environ["CS182META_CACHE"], dirs_exist_ok=True)
    requests = os.fdopen(os.dup(0), "rb")  # os.dup: not inheritable, the kernel never has it
    data = requests.readline(MAX_NOTEBOOK_BYTES * 4)
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    del data
    results = _private_stdout()
    os.environ["NBGRADER_EXECUTION"] = "autograde"

    def emit(index, cell):
        record = {"cell": index, "id": cell.get("id"),
                  "execution_count": cell.get("execution_count"),
                  "outputs": cap_outputs(cell.get("outputs", []))}
        results.write(json.dumps(record) + "\n")
        results.flush()

    def send(message: dict) -> None:
        results.write(json.dumps(message) + "\n")
        results.flush()

    def receive() -> dict:
        line = requests.readline(MAX_NOTEBOOK_BYTES * 4)
        if not line:
            raise EOFError("the grader closed the requests")
        return json.loads(line)

    stopped = execute(nb, args.cell_timeout, emit, send, receive)
    results.write(json.dumps({"done": True, "message": stopped}) + "\n")
    results.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
