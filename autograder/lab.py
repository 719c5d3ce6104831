"""JupyterLab on a course folder, with nbgrader's extensions: ``make lab``, the browser
tests (``tests/test_browser.py``) and ``tools/screenshots.py``.

``python -m autograder.lab [--course DIR] [--port N]`` starts JupyterLab in the course folder
(``build/course`` by default) and prints the URLs of the lab and of the formgrader. The
server runs with the course folder as its working directory, where nbgrader's Validate
button and formgrader read ``nbgrader_config.py``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from autograder.course import DEFAULT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_environment(extra: dict | None = None) -> dict:
    """The server's environment: ours, with the interpreter's bin/ on PATH (nbgrader runs
    ``alembic``) and without ``MPLBACKEND``: the Makefile and the tests set it to ``Agg``,
    and ipykernel makes plots inline images only where it is unset."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.update(extra or {})
    return env


def lab_command(root: Path | str, port: int, token: str) -> list[str]:
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={Path(root).resolve()}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    return command


class LabServer:
    """A JupyterLab server on 127.0.0.1 (a free port, a random token) in its own process
    group. ``stop()`` shuts it down and kills whatever it started (kernels run in their own
    sessions, so the group alone is not enough); a ``with`` block always stops it."""

    def __init__(self, root: Path | str, log: Path | str, env: dict | None = None):
        self.root = Path(root).resolve()
        self.log_path = Path(log)
        self.env = lab_environment(env)
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.process: subprocess.Popen | None = None
        self.seen: dict[int, float] = {}  # pid -> create_time of everything it started

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base}/{path.lstrip('/')}{sep}token={self.token}"

    def start(self, timeout: float = 90.0) -> LabServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "w")  # noqa: SIM115  (closed in stop())
        self._log = log
        self.process = subprocess.Popen(
            lab_command(self.root, self.port, self.token), cwd=self.root, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited ({self.process.returncode}):\n"
                                   + self.log_tail())
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"JupyterLab did not answer /api/status in {timeout:.0f} s:\n"
                                   + self.log_tail())
            time.sleep(0.2)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def remember_children(self) -> None:
        """Record every process the server has started so far (kernels, validators)."""
        import psutil

        if self.process is None or self.process.poll() is not None:
            return
        try:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                try:
                    self.seen[child.pid] = child.create_time()
                except psutil.Error:
                    pass
        except psutil.Error:
            pass

    def stop(self, grace: float = 8.0) -> None:
        if self.process is None:
            return
        self.remember_children()
        if self.process.poll() is None:
            try:  # a clean shutdown stops the kernels too
                request = urllib.request.Request(self.url("api/shutdown"), method="POST",
                                                 data=b"")
                urllib.request.urlopen(request, timeout=3).close()
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    self.process.wait(3)
                except subprocess.TimeoutExpired:
                    pass
        kill_recorded(self.seen)
        self._log.close()


def kill_recorded(seen: dict[int, float]) -> list[str]:
    """Kill each process of ``{pid: create_time}`` still alive (the same process: a reused
    pid has another create time); return what was killed."""
    import psutil

    killed = []
    for pid, created in seen.items():
        try:
            proc = psutil.Process(pid)
            if created and abs(proc.create_time() - created) > 0.01:
                continue
            killed.append(f"{pid} {' '.join(proc.cmdline())[:120]}")
            proc.kill()
            proc.wait(3)
        except psutil.Error:
            pass
    return killed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder.lab", description=__doc__)
    parser.add_argument("--course", default=str(DEFAULT_ROOT),
                        help="the course folder (default: build/course)")
    parser.add_argument("--port", type=int, default=8888,
                        help="the port (default 8888; a free one if it is taken)")
    args = parser.parse_args(argv)
    root = Path(args.course).resolve()
    if not root.joinpath("nbgrader_config.py").exists():
        sys.exit(f"{root} is not a course folder (no nbgrader_config.py): run "
                 "`python -m autograder release` first")
    port = args.port
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    except OSError:
        port = free_port()
    token = secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    print(f"JupyterLab in {root}\n"
          f"  lab:        {base}/lab?token={token}\n"
          f"  formgrader: {base}/formgrader?token={token}  (or Nbgrader → Formgrader in the lab)\n"
          "Stop it with Ctrl+C.", flush=True)
    os.chdir(root)
    command = lab_command(root, port, token)
    os.execve(command[0], command, lab_environment())


if __name__ == "__main__":
    main()
