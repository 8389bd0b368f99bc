"""One writer per run dir: an advisory ``fcntl.flock`` on ``RUN_DIR/.lock``.

Two processes writing the same run dir interleave shards and manifests and corrupt it for good, so every
command that writes into a run dir (``run``, ``report``) holds this lock for its whole life, and so does every
standalone command that writes a directory (``sft``/``dpo``/``evaluate``/``instructions``/``split``/
``responses``/``pairs --out``, ``export`` on the run it reads): :func:`locked_call`. The kernel
drops a flock when its holder dies, even on kill -9, so a stale lock file never blocks a later run; the file
itself is left in place (deleting a lock file races with a process about to open it). Reentrant within one
process, so ``run`` can build its report under the lock it already holds. Local file systems only: flock on
NFS may not exclude across hosts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from selfalign.errors import SelfalignError

T = TypeVar("T")

LOCK_NAME = ".lock"
_held: dict[Path, int] = {}  # resolved run dir -> how many nested holds in this process


class RunDirBusy(SelfalignError):
    """Another process holds the run dir's lock."""


def _holder_text(fd: int) -> str:
    """Who holds the lock, from what the holder wrote into the lock file."""
    try:
        raw = os.pread(fd, 4096, 0)
        info = json.loads(raw.decode("utf-8"))
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(info["started"])))
        return f"pid {info['pid']} on {info['host']} since {since} ({info['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (it has not written its details yet)"  # the holder is between lock and write


@contextlib.contextmanager
def run_dir_lock(
    run_dir: Path, command: str = "selfalign", *, create: bool = True, option: str = "--run-dir"
) -> Iterator[Path]:
    """Hold ``run_dir``'s lock or raise :class:`RunDirBusy` at once, naming the holder.

    ``create``: make the dir if missing (a new run); otherwise a missing dir is an error (``report``).
    ``option``: the command's option that names the dir, for the hint in the message.
    """
    run_dir = Path(run_dir)
    if create:
        run_dir.mkdir(parents=True, exist_ok=True)
    elif not run_dir.is_dir():
        raise SelfalignError(f"{run_dir}: no such run directory")
    key = run_dir.resolve()
    if key in _held:
        _held[key] += 1
        try:
            yield run_dir
        finally:
            _held[key] -= 1
        return
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunDirBusy(
                f"{run_dir}: in use by {_holder_text(fd)}; wait for it to finish or use another {option}"
            ) from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": command}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode("utf-8"), 0)
        _held[key] = 1
        try:
            yield run_dir
        finally:
            del _held[key]
    finally:
        os.close(fd)  # closing the only descriptor releases the flock


def command_line() -> str:
    """The command as the user typed it, shortened, for the holder note."""
    text = " ".join(["selfalign", *sys.argv[1:]])
    return text if len(text) <= 120 else text[:117] + "..."


def locked_call(
    directory: Path, fn: Callable[..., T], *args: Any, option: str = "--out", create: bool = True
) -> T:
    """``fn(*args)`` holding ``directory``'s lock: a standalone command's ``--out`` gets ``run``'s rule."""
    with run_dir_lock(directory, command_line(), create=create, option=option):
        return fn(*args)
