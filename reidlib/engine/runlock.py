"""One process trains a run folder at a time.

Two notebooks executed side by side (the way to use two cores for the
``cpu`` studies) may ask for the same run, for example the comparison and
the chapter it borrows from. Without a lock both would train into one
folder and overwrite each other's checkpoints. With it the second waits
until the first has finished, then finds the run done and reuses it.

The lock is a file ``train.lock`` in the run folder holding the owner's host
and process id. A lock left by a process that no longer exists on this host
(a killed run) is taken over; a lock held from another host cannot be
checked, so it is waited on like a live one. :func:`run_state` reads the
same file to tell a run being trained from one that was cut off, and
:func:`claim` takes a lock only if it is free, so that two processes
sharing out runs never both set out to train the same one.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "train.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _holder(path: Path) -> dict | None:
    """The lock's owner, or None when the file is gone or unreadable (being written, or removed)."""
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _stale(holder: dict) -> bool:
    return holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", -1)))


def _me() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "thread": threading.get_ident(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _mine(holder: dict | None) -> bool:
    """Whether this thread of this process holds the lock (another thread waits like another process)."""
    return holder is not None and all(holder.get(k) == v for k, v in _me().items() if k != "since")


def _try_take(path: Path) -> bool:
    """Create the lock file naming this process; False when it exists (stale locks are removed first)."""
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None and _stale(holder):
                path.unlink(missing_ok=True)  # its process is gone: a killed run, resumable from its checkpoint
                continue
            return False
        with os.fdopen(fd, "w") as f:
            json.dump(_me(), f)
        return True


@contextmanager
def claim(folder: str | os.PathLike, name: str = LOCK_NAME):
    """Take ``folder/<name>`` if no live process holds it, without waiting; yields whether this process got it.

    Checking :func:`run_state` and then training leaves a gap in which a
    second process can make the same check; taking the lock is the check.
    While the block runs, :func:`run_lock` on the same folder in this
    process goes straight in (the trainer's own lock).
    """
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if _mine(_holder(path)):
        yield True
        return
    taken = _try_take(path)
    try:
        yield taken
    finally:
        if taken:
            path.unlink(missing_ok=True)


@contextmanager
def run_lock(folder: str | os.PathLike, timeout: float | None = None, poll: float = 30.0, log=print,
             name: str = LOCK_NAME, doing: str = "training"):
    """Hold ``folder/<name>`` (``train.lock``) while the block runs; wait while another live process holds it.

    A lock this process holds already (taken by :func:`claim`) is gone into
    at once and left to its owner to release.

    The same lock guards any folder that one process should write while
    another waits to reuse it (a parser's weights, a mask tree): give it its
    own ``name`` and say what is being done to the folder with ``doing``.

    Args:
        folder: the run's output folder (created if missing).
        timeout: seconds to wait before giving up with :class:`TimeoutError`; None waits as long as it takes.
        poll: seconds between looks at the lock.
        log: where the one "waiting for ..." message goes.
        name: the lock file's name in ``folder``.
        doing: what the holder does to ``folder``, for the messages.
    """
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if _mine(_holder(path)):  # taken by this process already (claim): held by the outer block
        yield path
        return
    start, told = time.monotonic(), False
    while not _try_take(path):
        holder = _holder(path)
        who = f"process {holder['pid']} on {holder['host']} (since {holder['since']})" if holder else "another process"
        if timeout is not None and time.monotonic() - start >= timeout:
            raise TimeoutError(f"{path.parent}: {who} is {doing} it; wait for it to finish, "
                               f"or delete {path} if that process is gone") from None
        if not told:
            log(f"waiting for {who}, which is {doing} {path.parent}")
            told = True
        time.sleep(poll)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def build_once(done: Callable[[], bool], build: Callable[[], None], folder: str | os.PathLike, name: str,
               doing: str, poll: float = 5.0) -> None:
    """Call ``build`` unless ``done()`` says its output is there; one process builds, the others reuse.

    For caches that notebooks side by side may ask for together (a
    generated dataset, a mask tree, a parser): ``done`` is asked again once
    the lock ``folder/<name>`` is held, because the process waited for has
    usually built it by then. ``build`` must leave ``done()`` true (write its
    completion marker last, so a cut-off build is redone).
    """
    if done():
        return
    with run_lock(folder, name=name, doing=doing, poll=poll):
        if not done():
            build()


def run_state(folder: str | os.PathLike) -> str:
    """``finished``, ``training`` (a live process holds its lock), ``cut off`` (a checkpoint, no results) or ``empty``."""
    folder = Path(folder)
    if (folder / "results.json").exists():
        return "finished"
    holder = _holder(folder / LOCK_NAME)
    if holder is not None and not _stale(holder):
        return "training"
    return "cut off" if (folder / "checkpoint.pt").exists() else "empty"
