"""Where the sandbox process runs: a bubblewrap container, and a memory cgroup.

:class:`Bubblewrap` builds the ``bwrap`` command line that :mod:`autograder.supervision`
starts :mod:`autograder.sandbox` under. Inside it, student code

* runs in new user, PID, mount, network, IPC and UTS namespaces (``--unshare-all``), as
  uid/gid 65534 without capabilities (``--unshare-user --uid --gid``), in a new session;
* sees a file system made of read-only binds of the system (``/usr``, the dynamic
  linker's files), of the Python installation, of a snapshot of the two kit packages
  (``/sandbox/kit``) and of the dataset cache (``/sandbox/cache-source``), plus one
  size-capped private tmpfs (``/sandbox``: the working folder, ``HOME``, ``/tmp`` and its
  own copy of the dataset cache) — nothing of the course folder, and no path naming it,
  on any command line, mount or in the environment; it writes nothing to a host disk;
* cannot outlive its grading: its processes live in the PID namespace, whose init is
  killed with the sandbox process, and ``--die-with-parent`` ties it to the grader.

Where ``bwrap`` is missing or fails :func:`self_test`, grading falls back to an
unconfined child process with one loud warning (:func:`confinement`).

:class:`MemoryCgroup` is a memory cgroup (v1 or v2) per submission where the grader may
create one: the kernel enforces the memory limit on every process of the submission,
detached ones included, and the grader kills whatever is left in it at the end.

This module says where and how the sandbox is confined; starting it, watching its limits
and killing it is :mod:`autograder.supervision`'s.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from autograder.limits import BWRAP_PROBE_S, SHM_MB

_LOCK = threading.RLock()
SANDBOX_UID = 65534  # "nobody"
ROOT = Path("/sandbox")
WORK = ROOT / "work"
HOME = ROOT / "home"
KIT = ROOT / "kit"
CACHE = ROOT / "cache"  # the submission's copy of the dataset cache, in the tmpfs
CACHE_SOURCE = ROOT / "cache-source"  # a read-only snapshot that it is copied from
TMP = ROOT / "tmp"  # /tmp links here: one size cap for every file the sandbox writes
# Read by the dynamic linker, by getpwuid() and by time zone code: no secrets.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "fonts",
             "passwd", "group", "alternatives", "hosts")
LINKED_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def kit_packages() -> dict[str, Path]:
    """The two packages student notebooks and the sandbox import, where this grader
    imports them from."""
    import autograder
    import cs182meta
    return {"autograder": Path(autograder.__file__).resolve().parent,
            "cs182meta": Path(cs182meta.__file__).resolve().parent}


_SNAPSHOTS: dict[tuple[str, ...], Path] = {}


def snapshot(*folders: Path) -> Path:
    """A private copy of ``folders`` (side by side, under their own names), made once
    per grader process and removed at its exit. The sandbox binds snapshots, never the
    originals: a bind shows its source path inside (``/proc/self/mountinfo``), and the
    course folder is often next to the kit or holds the dataset cache."""
    key = tuple(str(Path(f).resolve()) for f in folders)
    with _LOCK:
        if key not in _SNAPSHOTS:
            target = Path(tempfile.mkdtemp(prefix="cs182meta-snapshot-"))
            for folder in folders:
                shutil.copytree(folder, target / Path(folder).name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            atexit.register(shutil.rmtree, target, ignore_errors=True)
            _SNAPSHOTS[key] = target
        return _SNAPSHOTS[key]


def kit_snapshot() -> Path:
    """The folder on the sandbox's ``PYTHONPATH``: a snapshot of the two kit packages."""
    return snapshot(*kit_packages().values())


def readable_kit_snapshot() -> Path:
    """:func:`kit_snapshot`, readable (never writable) by every user: the container mode
    runs the sandbox as another user. The kit is the public code students install."""
    kit = kit_snapshot()
    for path in (kit, *kit.rglob("*")):
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return kit


def python_paths() -> list[Path]:
    """Folders the Python installation needs (prefixes and site-packages), nested ones
    left out."""
    import site

    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.realpath(sys.executable))}
    candidates.update(site.getsitepackages())
    user_site = site.getusersitepackages()
    if site.ENABLE_USER_SITE and user_site and os.path.isdir(user_site):
        candidates.add(user_site)
    real = sorted({Path(os.path.realpath(p)) for p in candidates if os.path.isdir(p)})
    kept: list[Path] = []
    for path in real:
        if path == Path("/usr") or Path("/usr") in path.parents:
            continue  # /usr is bound whole
        if not any(k == path or k in path.parents for k in kept):
            kept.append(path)
    return kept


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def seen_at(path: Path) -> Path:
    """Where the sandbox finds the host's ``path`` under the same name. Its ``/tmp`` is a
    link to :data:`TMP` in its own tmpfs, so a folder below the host's ``/tmp`` (a venv
    made there, say) is bound below :data:`TMP`, and ``/tmp/…`` leads to it."""
    tmp = Path("/tmp")
    return TMP / path.relative_to(tmp) if _inside(path, tmp) and path != tmp else path


@dataclass
class Bubblewrap:
    """The ``bwrap`` command line for one submission."""

    executable: str
    python: str = field(default_factory=lambda: sys.executable)

    def binds(self) -> list[tuple[str, Path, Path]]:
        """``(option, host path, sandbox path)`` for everything shared read-only."""
        binds = [("--ro-bind", Path("/usr"), Path("/usr"))]
        for path in python_paths():
            binds.append(("--ro-bind", path, seen_at(path)))
        for name in kit_packages():
            binds.append(("--ro-bind", kit_snapshot() / name, KIT / name))
        for name in ETC_FILES:
            if os.path.exists(f"/etc/{name}"):
                binds.append(("--ro-bind", Path("/etc", name), Path("/etc", name)))
        return binds

    def exposes(self, folder: Path) -> bool:
        """Whether ``folder`` (the course) would be visible inside the sandbox."""
        folder = Path(os.path.realpath(folder))
        return any(_inside(folder, Path(os.path.realpath(host))) or
                   _inside(Path(os.path.realpath(host)), folder)
                   for _, host, _ in self.binds())

    def command(self, argv: list[str], env: dict[str, str], cache: Path | None,
                work_mb: int) -> list[str]:
        """``bwrap … -- argv`` with ``env`` as the whole environment and ``cache`` (a
        host folder) bound read-only at :data:`CACHE_SOURCE`."""
        cmd = [self.executable, "--unshare-all", "--unshare-user", "--disable-userns",
               "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
               "--die-with-parent", "--new-session", "--hostname", "sandbox"]
        for name in LINKED_DIRS:
            host = Path("/", name)
            if host.is_symlink():
                cmd += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                cmd += ["--ro-bind", str(host), str(host)]
        binds = self.binds()
        if cache is not None:
            binds.append(("--ro-bind", cache, CACHE_SOURCE))
        cmd += [a for option, host, inside in binds if not _inside(inside, ROOT)
                for a in (option, str(host), str(inside))]
        # bubblewrap's /dev is a tmpfs as large as half the memory, writable inside:
        # read-only once /dev/shm (size-capped) is mounted on it.
        cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(SHM_MB * 2**20),
                "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
                "--size", str(work_mb * 2**20), "--tmpfs", str(ROOT)]
        for folder in (WORK, HOME, TMP, CACHE):
            cmd += ["--dir", str(folder)]
        cmd += ["--symlink", str(TMP), "/tmp"]
        # Binds below /sandbox come after its tmpfs, or the tmpfs would hide them.
        cmd += [a for option, host, inside in binds if _inside(inside, ROOT)
                for a in (option, str(host), str(inside))]
        cmd += ["--chdir", str(WORK), "--clearenv"]
        for key, value in sorted(env.items()):
            cmd += ["--setenv", key, value]
        return [*cmd, "--", *argv]

    def spawn(self, argv: list[str], env: dict[str, str], cache: Path | None, work_mb: int,
              prefix: tuple[str, ...] = (), **popen) -> subprocess.Popen:
        """Start ``prefix + bwrap … -- argv``. The options travel on a pipe (``--args``),
        not on the command line: the sandbox's init is a copy of ``bwrap``, and its
        command line can be read inside."""
        full = self.command(argv, env, cache, work_mb)
        split = full.index("--")
        data = "".join(option + "\0" for option in full[1:split]).encode()
        read, write = os.pipe()
        try:
            writer = threading.Thread(target=_write_all, args=(write, data), daemon=True)
            writer.start()
            return subprocess.Popen([*prefix, self.executable, "--args", str(read),
                                     *full[split:]], pass_fds=(read,), env=env, cwd="/",
                                    **popen)
        finally:
            os.close(read)


class Unprivileged:
    """The container mode, for hosts where bubblewrap cannot make namespaces (Docker's
    default seccomp profile, as on Gradescope): the sandbox runs as an unprivileged uid
    of its own — one per submission graded at once, so two students cannot reach each
    other's kernel (its connection file and ``/proc`` entries are that uid's) — in a
    working folder that holds nothing else, with resource limits
    (:data:`autograder.limits.Limits`: processes, file size, open files, CPU time; the
    grader counts and kills every process of the uid). Needs root; the course folder
    must be unreadable to other users (the self-test checks it)."""

    FIRST_UID = 61000

    def __init__(self, slots: int = 64, python: str | None = None):
        self.python = python or sys.executable
        self.free = list(range(self.FIRST_UID, self.FIRST_UID + slots))
        self.lock = threading.Lock()

    def acquire(self) -> int:
        """A uid that no other submission uses now (and no process runs as)."""
        with self.lock:
            uid = self.free.pop(0)
        kill_user(uid)  # anything left from an earlier grader
        return uid

    def release(self, uid: int) -> None:
        with self.lock:
            self.free.append(uid)

    def problem(self, course_root: Path) -> str | None:
        """None if an unprivileged uid can run Python with the kit and cannot read the
        course folder, else why not."""
        if os.geteuid() != 0:
            return "the container mode needs root (to run student code as another user)"
        uid = self.FIRST_UID - 1
        kit = readable_kit_snapshot()
        probe = ("import os, sys, autograder, cs182meta\n"
                 "try:\n    os.listdir(sys.argv[1])\nexcept OSError:\n    print('ok')\n"
                 "else:\n    print('readable')")
        env = sandbox_environment(home=Path("/nonexistent"), cache=Path("/nonexistent"),
                                  kit=kit, threads=1)
        try:
            done = subprocess.run([self.python, "-c", probe, str(course_root)], env=env,
                                  user=uid, group=uid, extra_groups=[], cwd="/",
                                  capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as err:
            return f"an unprivileged user cannot start Python ({err})"
        if done.stdout.strip() == "readable":
            return (f"the course folder {course_root} is readable by other users: "
                    f"chmod 700 it (or a folder above it)")
        if done.stdout.strip() != "ok":
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
            return (f"an unprivileged user cannot run {self.python} with the kit ({tail}): "
                    f"install Python where every user can read it")
        return None


def user_processes(uid: int) -> list[psutil.Process]:
    """Every process whose real or effective uid is ``uid``."""
    found = []
    for p in psutil.process_iter(["uids"]):
        uids = p.info.get("uids")
        if uids is not None and uid in (uids.real, uids.effective):
            found.append(p)
    return found


def kill_user(uid: int, patience_s: float = 5.0) -> bool:
    """Kill every process of ``uid`` (again, until none is left or ``patience_s``
    passed); return whether none is left."""
    deadline = time.monotonic() + patience_s
    while True:
        left = user_processes(uid)
        if not left:
            return True
        for p in left:
            try:
                p.kill()
            except psutil.Error:
                pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _write_all(fd: int, data: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as pipe:
            pipe.write(data)
    except OSError:
        pass


def sandbox_environment(*, home: Path, cache: Path, kit: Path, threads: int,
                        tmp: Path = Path("/tmp")) -> dict[str, str]:
    """The whole environment of the sandbox process (and so of the kernel): nothing of
    the grader's own environment but the locale."""
    env = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "LC_CTYPE", "TZ")}
    env.update({
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin",
                                 "/bin"]),
        "HOME": str(home), "USER": "student", "LOGNAME": "student", "TMPDIR": str(tmp),
        "MPLBACKEND": "Agg", "PYTHONPATH": str(kit), "PYTHONDONTWRITEBYTECODE": "1",
        # Parallel kernels that each spin up all cores' worth of OpenMP threads slow one
        # another down many times over: share the cores out instead.
        "OMP_NUM_THREADS": str(threads),
        "CS182META_CACHE": str(cache),
    })
    return env


_SELF_TEST: dict[str, str | None] = {}
_WARNED: set[str] = set()


def self_test(bwrap: Bubblewrap) -> str | None:
    """None if ``bwrap`` runs Python with the kit inside, else why not (run once)."""
    with _LOCK:
        if bwrap.executable not in _SELF_TEST:
            env = sandbox_environment(home=HOME, cache=CACHE, kit=KIT, threads=1)
            probe = "import autograder, cs182meta, os; print('ok', os.getuid())"
            try:
                process = bwrap.spawn([bwrap.python, "-c", probe], env, None, 16,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True)
                try:
                    out, err = process.communicate(timeout=BWRAP_PROBE_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.communicate()
                    raise
                ok = process.returncode == 0 and out.split() == ["ok", str(SANDBOX_UID)]
                problem = None if ok else (
                    f"`bwrap` failed its self-test (exit {process.returncode}): "
                    f"{(err or out).strip()[-300:]}")
            except (OSError, subprocess.SubprocessError) as err:
                problem = f"`bwrap` failed its self-test: {str(err)[:300]}"
            _SELF_TEST[bwrap.executable] = problem
        return _SELF_TEST[bwrap.executable]


class SandboxUnavailable(RuntimeError):
    """Student code cannot be sandboxed here; the message says why, how to fix it, and
    how to grade without a sandbox on purpose."""


# How to fix each reason bubblewrap cannot be used (see :func:`confinement`).
NOT_INSTALLED = "bubblewrap (`bwrap`) is not installed"
EXPOSED = ("the course folder shares a folder with the Python installation or the kit, so a "
           "sandbox would expose it")
FIXES = {
    NOT_INSTALLED: "install it: `sudo apt-get install bubblewrap` (Debian, Ubuntu; `make demo` "
                   "and `make test` do this when run as root) or your system's package",
    EXPOSED: "move the course folder (`--course`) out of the Python installation and the kit",
    "self-test": "bubblewrap needs user namespaces: on Debian `sudo sysctl -w "
                 "kernel.unprivileged_userns_clone=1`, on Ubuntu 24.04 `sudo sysctl -w "
                 "kernel.apparmor_restrict_unprivileged_userns=0`; inside Docker, grade on "
                 "the host or in a VM",
}
UNCONFINED_OPTION = "--unconfined"


def unavailable(problem: str) -> SandboxUnavailable:
    """The error for grading that would have to run student code unconfined."""
    fix = FIXES.get(problem, FIXES["self-test"])
    return SandboxUnavailable(
        f"cannot sandbox student code: {problem}. To fix it, {fix}. Nothing was graded. "
        f"To grade without a sandbox anyway (student code then runs as this user, able to "
        f"read and write what this user can), pass {UNCONFINED_OPTION}.")


def confinement(course_root: Path, mode: str = "bwrap") -> Bubblewrap | Unprivileged | None:
    """The sandbox to grade with: bubblewrap, the container mode, or None for unconfined.

    ``mode``: ``"bwrap"`` (bubblewrap, or :class:`SandboxUnavailable` saying why and how
    to fix it), ``"user"`` (the container mode, :class:`Unprivileged`, or
    :class:`SandboxUnavailable`), ``"none"`` (unconfined, asked for: ``--unconfined``),
    ``"auto"`` (bubblewrap where it works, else the container mode where it works, else
    unconfined with one warning line on stderr: only Gradescope's container, which holds
    nothing but one submission, uses it).
    """
    if mode == "none":
        return None
    if mode == "user":
        user = Unprivileged()
        problem = user.problem(course_root)
        if problem is not None:
            raise SandboxUnavailable(f"the container mode cannot run here: {problem}")
        return user
    found = shutil.which("bwrap")
    problem = None
    bwrap = Bubblewrap(found) if found else None
    if bwrap is None:
        problem = NOT_INSTALLED
    elif bwrap.exposes(course_root):
        problem = EXPOSED
    else:
        problem = self_test(bwrap)
    if problem is None:
        return bwrap
    if mode == "bwrap":
        raise unavailable(problem)
    user = Unprivileged()
    fallback = user.problem(course_root)
    if fallback is None:
        return user
    with _LOCK:
        if problem not in _WARNED:
            _WARNED.add(problem)
            print(f"WARNING: student code runs UNCONFINED, as this user, able to read and "
                  f"write what this user can: {problem}; and the container mode cannot run "
                  f"either: {fallback}", file=sys.stderr, flush=True)
    return None


# ---------------------------------------------------------------------- cgroups
class Cgroup:
    """A cgroup of one controller for one submission, below this process's own (v1 or
    v2): the processes in it, killing them, removing it."""

    controller = ""

    def __init__(self, path: Path, version: int):
        self.path = path
        self.version = version

    @classmethod
    def create(cls, limit: int):
        """A new cgroup with ``limit`` set (:meth:`_limit`), or None where none can be made."""
        for version, parent in _own_cgroups(cls.controller):
            path = parent / f"cs182meta-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
            except OSError:
                continue
            group = cls(path, version)
            try:
                group._limit(limit)
                return group
            except OSError:
                group.remove()
        return None

    def _limit(self, limit: int) -> None:
        raise NotImplementedError

    @property
    def procs_file(self) -> Path:
        return self.path / "cgroup.procs"

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except (OSError, ValueError):
            return []

    def _counters(self, name: str) -> dict[str, int]:
        """A flat-keyed file of the cgroup (``key value`` lines) as numbers."""
        try:
            pairs = (line.split() for line in (self.path / name).read_text().splitlines())
            return {p[0]: int(p[1]) for p in pairs if len(p) == 2}
        except (OSError, ValueError):
            return {}

    def kill_all(self) -> None:
        for _ in range(50):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)


class MemoryCgroup(Cgroup):
    """A memory cgroup (``limit``: MB): the kernel enforces the limit on every process
    of the submission, detached ones and the tmpfs pages they wrote included."""

    controller = "memory"

    def _limit(self, limit_mb: int) -> None:
        limit = str(limit_mb * 2**20)
        if self.version == 1:
            (self.path / "memory.limit_in_bytes").write_text(limit)
        else:
            (self.path / "memory.max").write_text(limit)
            try:
                (self.path / "memory.swap.max").write_text("0")
            except OSError:
                pass

    def usage_mb(self) -> float:
        """Anonymous and shared (tmpfs) memory of every process in it, in MB: what the
        submission holds, without the page cache of files it read."""
        stat = self._counters("memory.stat")
        keys = ("total_rss", "total_shmem") if self.version == 1 else ("anon", "shmem")
        return sum(stat.get(k, 0) for k in keys) / 2**20

    def oom_kills(self) -> int:
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        return self._counters(name).get("oom_kill", 0)


class PidsCgroup(Cgroup):
    """A pids cgroup (``limit``: processes and threads at once): past it, ``fork`` and
    ``clone`` fail inside the submission, and :meth:`hit_limit` says so."""

    controller = "pids"

    def _limit(self, limit: int) -> None:
        (self.path / "pids.max").write_text(str(limit))

    def hit_limit(self) -> bool:
        return self._counters("pids.events").get("max", 0) > 0


def _own_cgroups(controller: str) -> list[tuple[int, Path]]:
    """Writable cgroups of ``controller`` that this process is in: ``[(version, path)]``."""
    found = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        number, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            folder = Path("/sys/fs/cgroup", controller) / path.lstrip("/")
            if (folder / "cgroup.procs").exists() and os.access(folder, os.W_OK):
                found.append((1, folder))
        elif number == "0" and controllers == "":
            folder = Path("/sys/fs/cgroup") / path.lstrip("/")
            # cgroup v2: only where the controller is already delegated to the children.
            try:
                delegated = controller in (folder / "cgroup.subtree_control").read_text().split()
            except OSError:
                delegated = False
            if delegated and os.access(folder, os.W_OK):
                found.append((2, folder))
    return found
