"""A running sandbox: the process that executes one submission, and its supervision.

:func:`start` spawns the sandbox's command line (:mod:`autograder.sandbox`, as
:mod:`autograder.isolated` builds it) either inside bubblewrap
(:class:`~autograder.confinement.Bubblewrap`, with a snapshot of the dataset cache) or,
as the unconfined fallback, as a plain child in a throwaway folder with its own copy
of the cache; in both modes in a new session and, where they can be made, in a memory
cgroup and a pids cgroup (:class:`~autograder.confinement.MemoryCgroup`,
:class:`~autograder.confinement.PidsCgroup`) from its first instruction on.

The :class:`RunningSandbox` it returns feeds the notebook in, hands the results out to
the grader (:meth:`~RunningSandbox.watch`), enforces the wall-time and memory limits,
and the process count, kills every process of the submission
(:meth:`~RunningSandbox.kill`) and, as a context
manager, leaves nothing behind: no process, no cgroup, no folder. Which results count
is the grader's business (:class:`autograder.isolated.Results`), not this module's.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from autograder import confinement
from autograder.confinement import Bubblewrap, Cgroup, MemoryCgroup, PidsCgroup, Unprivileged
from autograder.limits import Limits

POLL_S = 0.1  # how often the limits are checked
EXITED_GRACE_S = 5  # how long a results pipe may stay open after the sandbox exited


def start(argv: list[str], limits: Limits, *, bwrap: Bubblewrap | Unprivileged | None,
          cache: Path | None, threads: int, cgroups: bool) -> RunningSandbox:
    """Start ``argv`` as one submission's sandbox: inside ``bwrap`` (bubblewrap, or the
    container mode's unprivileged user), or unconfined where it is None; with ``cache``
    (a warm dataset cache, or None) copied in, ``threads`` OpenMP threads,
    ``limits.work_mb`` of private tmpfs (bubblewrap), and, if ``cgroups`` and they can
    be made, a memory cgroup of ``limits.memory_mb`` and a pids cgroup of
    ``limits.processes`` (not in the container mode: its uid's processes are counted
    and limited instead)."""
    if isinstance(bwrap, Unprivileged):
        return _start_unprivileged(bwrap, argv, limits, cache, threads)
    cgroup = MemoryCgroup.create(limits.memory_mb) if cgroups else None
    pids = PidsCgroup.create(limits.processes) if cgroups else None
    joined = [g for g in (cgroup, pids) if g is not None]
    folder = None
    try:
        if bwrap is not None:
            if pids is None:  # no pids cgroup: the sandbox limits its own uid's processes
                argv = [*argv, f"--processes={limits.processes}"]
            process = _spawn_confined(bwrap, argv, limits, cache, threads, _prefix(joined))
        else:
            folder = tempfile.TemporaryDirectory(prefix="cs182meta-grade-",
                                                 ignore_cleanup_errors=True)
            process = _spawn_unconfined(Path(folder.name), argv, cache, threads,
                                        _prefix(joined))
    except BaseException:
        for group in joined:
            group.remove()
        if folder is not None:
            folder.cleanup()
        raise
    return RunningSandbox(process, limits, cgroup, folder, pids)


_PIPES = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
              start_new_session=True)


def _prefix(cgroups: list[Cgroup]) -> tuple[str, ...]:
    """A shell that puts itself in each of ``cgroups``, then becomes the sandbox: every
    process of the submission starts inside them."""
    if not cgroups:
        return ()
    join = 'for f; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done'
    return ("/bin/sh", "-c", f'{join}; shift; exec "$@"', "sh",
            *(str(g.procs_file) for g in cgroups), "--")


def _spawn_confined(bwrap: Bubblewrap, argv: list[str], limits: Limits, cache: Path | None,
                    threads: int, prefix: tuple[str, ...]) -> subprocess.Popen:
    """``argv`` inside bubblewrap; a snapshot of ``cache`` is bound read-only and the
    sandbox copies it into its tmpfs (``--cache-from``)."""
    source = None
    if cache is not None:
        source = confinement.snapshot(cache) / cache.name
        argv = [*argv, f"--cache-from={confinement.CACHE_SOURCE}"]
    env = confinement.sandbox_environment(home=confinement.HOME, cache=confinement.CACHE,
                                          kit=confinement.KIT, threads=threads,
                                          tmp=confinement.TMP)
    return bwrap.spawn(argv, env, source, limits.work_mb, prefix=prefix, **_PIPES)


def _spawn_unconfined(folder: Path, argv: list[str], cache: Path | None, threads: int,
                      prefix: tuple[str, ...]) -> subprocess.Popen:
    """``argv`` as a plain child working in ``folder/work``, with ``folder/home`` as its
    home and ``folder/cache`` as its copy of ``cache``."""
    copy = folder / "cache"
    if cache is not None:
        shutil.copytree(cache, copy)
    for name in ("work", "home", "cache"):
        (folder / name).mkdir(exist_ok=True)
    env = confinement.sandbox_environment(home=folder / "home", cache=copy,
                                          kit=confinement.kit_snapshot(), threads=threads)
    return subprocess.Popen([*prefix, *argv], cwd=folder / "work", env=env, **_PIPES)


def _start_unprivileged(user: Unprivileged, argv: list[str], limits: Limits,
                        cache: Path | None, threads: int) -> RunningSandbox:
    """``argv`` as a uid of its own (:class:`~autograder.confinement.Unprivileged`) in a
    folder that holds only its work, home and copy of ``cache``; the sandbox process
    sets its resource limits before the kernel starts (``--processes`` …)."""
    uid = user.acquire()
    folder = tempfile.TemporaryDirectory(prefix="cs182meta-grade-", ignore_cleanup_errors=True)
    try:
        root = Path(folder.name)
        os.chmod(root, 0o711)  # the uid may pass through, not list
        copy = root / "cache"
        if cache is not None:
            shutil.copytree(cache, copy)
        for name in ("work", "home", "cache"):
            (root / name).mkdir(exist_ok=True)
        for path in (root / "work", root / "home", copy, *copy.rglob("*")):
            os.chown(path, uid, uid)
        kit = confinement.readable_kit_snapshot()
        env = confinement.sandbox_environment(home=root / "home", cache=copy, kit=kit,
                                              threads=threads)
        limited = [*argv, f"--processes={limits.processes}", f"--file-mb={limits.work_mb}",
                   f"--cpu-s={int(limits.wall_s) + 60}"]
        process = subprocess.Popen(limited, cwd=root / "work", env=env, user=uid, group=uid,
                                   extra_groups=[], **_PIPES)
    except BaseException:
        confinement.kill_user(uid)
        user.release(uid)
        folder.cleanup()
        raise
    return RunningSandbox(process, limits, None, folder, None, user=(user, uid))


class Outbox:
    """What is still to be written to a sandbox's stdin; ``close`` (or
    ``close_when_sent``) closes the pipe once it is all written."""

    def __init__(self, data: bytes = b"", close_when_sent: bool = False):
        self.data = bytearray(data)
        self.closed = close_when_sent

    def write(self, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True


class RunningSandbox:
    """One submission's sandbox process, from its start to its cleanup (``with``)."""

    def __init__(self, process: subprocess.Popen, limits: Limits,
                 cgroup: MemoryCgroup | None, folder: tempfile.TemporaryDirectory | None,
                 pids: PidsCgroup | None = None,
                 user: tuple[Unprivileged, int] | None = None):
        self.process = process
        self.limits = limits
        self.cgroup = cgroup
        self.pids = pids
        self.folder = folder  # the unconfined sandbox's working folder, home and cache
        self.user = user  # the container mode: its uid, every process of which is this sandbox's

    @property
    def returncode(self) -> int | None:
        """The sandbox process's exit status (negative: the signal that ended it)."""
        return self.process.returncode

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Kill whatever is left of the submission, close its pipes, remove its cgroup
        and folder."""
        self.kill()
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            pipe.close()
        for group in (self.cgroup, self.pids):
            if group is not None:
                group.remove()
        if self.user is not None:
            user, uid = self.user
            if confinement.kill_user(uid):  # a uid with a process left is never handed out again
                user.release(uid)
            self.user = None
        if self.folder is not None:
            self.folder.cleanup()

    def watch(self, stdin: bytes | Outbox, feed: Callable[[bytes], None],
              problem: Callable[[], str | None] = lambda: None,
              readers: tuple = ()) -> tuple[float, str]:
        """Write ``stdin`` (bytes, or an :class:`Outbox` that may grow) to the sandbox's
        stdin and hand what comes on its stdout to ``feed`` until it exits, while
        enforcing the wall-time and memory limits on all of its processes; ``problem``
        says why the reader wants it stopped, if it does; ``readers``: more pipes
        ``(file, callback)`` to hand data from as it comes (b"" at their end).
        Return (peak MB, why it was stopped, or "")."""
        process = self.process
        outbox = stdin if isinstance(stdin, Outbox) else Outbox(stdin, close_when_sent=True)
        selector = self._selector(readers)
        start, peak, message = time.monotonic(), 0.0, ""
        exited, measured = None, 0.0
        try:
            while True:
                self._exchange(selector, outbox, feed)
                now = time.monotonic()
                reason = problem()
                if now - measured >= POLL_S:
                    measured, rss = now, self.memory_mb()
                    peak = max(peak, rss)
                    reason = reason or self._over_processes() or self._over_memory(rss)
                if now - start > self.limits.wall_s:
                    reason = reason or (f"stopped: the whole notebook ran over "
                                        f"{self.limits.wall_s:.0f} s; cells that had run "
                                        f"keep their results")
                if reason and not message:
                    message = reason
                    self.kill()
                if exited is None and process.poll() is not None:
                    exited = now
                # stderr may stay open in a process that outlived the sandbox (unconfined
                # only): after the exit, wait for the results pipe alone, briefly.
                if exited is not None and (process.stdout not in _registered(selector)
                                           or now - exited > EXITED_GRACE_S):
                    break
        finally:
            own = (self.process.stdin, self.process.stdout, self.process.stderr)
            for key in list(selector.get_map().values()):
                selector.unregister(key.fileobj)
                if key.fileobj in own:  # a reader's pipe is its owner's to close
                    key.fileobj.close()
            selector.close()
        process.wait()
        return peak, message or self._over_memory(0.0)  # a kill by the cgroup's OOM killer

    def _selector(self, readers: tuple = ()) -> selectors.BaseSelector:
        """The sandbox's stdout and stderr and the ``readers``, non-blocking (stdin is
        registered while there is something to write)."""
        selector = selectors.DefaultSelector()
        os.set_blocking(self.process.stdin.fileno(), False)
        for pipe, callback in ((self.process.stdout, None), (self.process.stderr, None),
                               *readers):
            os.set_blocking(pipe.fileno(), False)
            selector.register(pipe, selectors.EVENT_READ, callback)
        return selector

    def _exchange(self, selector: selectors.BaseSelector, outbox: Outbox,
                  feed: Callable[[bytes], None]) -> None:
        """One round on the pipes (at most :data:`POLL_S`): write more of ``outbox``,
        hand stdout data to ``feed`` and a reader's data to its callback, drop stderr
        data, close what the other end closed."""
        stdin = self.process.stdin
        if not stdin.closed:
            wanted = bool(outbox.data) or outbox.closed
            if wanted and stdin not in _registered(selector):
                selector.register(stdin, selectors.EVENT_WRITE)
            elif not wanted and stdin in _registered(selector):
                selector.unregister(stdin)
        for key, _ in selector.select(timeout=POLL_S):
            pipe = key.fileobj
            try:
                if pipe is stdin:
                    if outbox.data:
                        del outbox.data[:os.write(pipe.fileno(), outbox.data[:2**16])]
                    if not outbox.data and outbox.closed:
                        selector.unregister(pipe)
                        pipe.close()
                    continue
                data = os.read(pipe.fileno(), 2**16)
            except BlockingIOError:
                continue
            except OSError:  # the other end is closed
                if pipe is stdin:
                    selector.unregister(pipe)
                    pipe.close()
                    continue
                data = b""
            if not data:
                selector.unregister(pipe)
                pipe.close()
            if pipe is self.process.stdout:
                if data:
                    feed(data)
            elif key.data is not None:
                key.data(data)


    def _over_memory(self, rss: float) -> str:
        """Why the submission must stop for its memory (``rss`` MB now), or ""."""
        limit = self.limits.memory_mb
        if self.cgroup is not None and self.cgroup.oom_kills():
            return f"stopped: the notebook's processes used over the {limit} MB limit"
        if rss > limit:
            return f"stopped: the notebook used {rss:.0f} MB, over the {limit} MB limit"
        return ""

    def _over_processes(self) -> str:
        """Why the submission must stop for its process count, or ""."""
        counted = self.user is not None or (self.pids is None and self.folder is None)
        if counted and self._threads() >= self.limits.processes - 1:
            return (f"stopped: the notebook tried to run over {self.limits.processes} "
                    f"processes and threads at once (a fork or thread bomb?)")
        if self.pids is not None and self.pids.hit_limit():
            return (f"stopped: the notebook tried to run over {self.limits.processes} "
                    f"processes and threads at once (a fork or thread bomb?)")
        return ""

    def _processes(self) -> list[psutil.Process]:
        """Every process of the submission: its uid's (the container mode), else its
        process tree (inside bubblewrap that is the whole PID namespace: orphans are
        re-parented to its init)."""
        if self.user is not None:  # double-forked ones too
            return confinement.user_processes(self.user[1])
        if self.process.returncode is not None:  # reaped: its pid may be someone else's now
            return []
        try:
            parent = psutil.Process(self.process.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.Error:
            return []

    def _threads(self) -> int:
        return _total(self._processes(), lambda p: p.num_threads())

    def memory_mb(self) -> float:
        """Memory of every process of the submission (:meth:`_processes`): the cgroup's
        count where there is one, else their RSS, plus what a bubblewrap sandbox wrote to
        its tmpfs (:func:`tmpfs_mb`)."""
        if self.cgroup is not None:
            return self.cgroup.usage_mb()
        tree = self._processes()
        total = _total(tree, lambda p: p.memory_info().rss)
        if self.user is not None:
            return total / 2**20
        confined = self.folder is None
        return total / 2**20 + (tmpfs_mb(tree[1:]) if confined else 0.0)

    def kill(self) -> None:
        """Kill every process of the submission. Inside bubblewrap, killing the PID
        namespace's init ends all of them; unconfined, the session, the process tree and
        the cgroup."""
        tree = []
        if self.process.returncode is None:  # not reaped yet, so its pid is still the sandbox's
            try:
                tree = psutil.Process(self.process.pid).children(recursive=True)
            except psutil.Error:
                pass
        try:  # a process group's id is not reused while any member lives
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        for p in tree:
            try:
                p.kill()
            except psutil.Error:
                pass
        for group in (self.cgroup, self.pids):
            if group is not None:
                group.kill_all()
        if self.user is not None:
            confinement.kill_user(self.user[1], patience_s=1.0)


# The sandbox's own tmpfs mounts (bubblewrap): written files live in memory.
TMPFS_MOUNTS = (str(confinement.ROOT), "/dev/shm")


def tmpfs_mb(processes: list[psutil.Process]) -> float:
    """MB written to a bubblewrap sandbox's tmpfs mounts (:data:`TMPFS_MOUNTS`), seen
    through the first of ``processes`` that is inside its mount namespace (0 if none)."""
    for p in processes:
        root = f"/proc/{p.pid}/root"
        try:
            if not os.path.ismount(root + TMPFS_MOUNTS[0]):
                continue  # not (yet) inside the sandbox's mount namespace
            stats = [os.statvfs(root + mount) for mount in TMPFS_MOUNTS]
        except OSError:
            continue
        return sum((s.f_blocks - s.f_bfree) * s.f_frsize for s in stats) / 2**20
    return 0.0


def _total(processes: list[psutil.Process], measure: Callable[[psutil.Process], int]) -> int:
    """The sum of ``measure`` over ``processes`` (one that has ended counts 0)."""
    total = 0
    for p in processes:
        try:
            total += measure(p)
        except psutil.Error:
            pass
    return total


def _registered(selector: selectors.BaseSelector) -> set:
    return {key.fileobj for key in selector.get_map().values()}
