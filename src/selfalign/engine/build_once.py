"""Build a cache directory once, safely when several processes build it at the same time.

Parallel test workers on a cold cache, or two vLLM servers started together, build the same target: each
builds in a temp dir beside it and renames it into place; the first rename wins and the others use the
winner's files. A target is never half-written (it appears only by rename); one that is no longer valid
(a symlinked model dir moved away) is replaced. The final check-and-rename holds a lock file beside the
target (``.<name>.lock``, left in place: it is empty).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def build_once(target: Path, build: Callable[[Path], None], valid: Callable[[Path], bool]) -> Path:
    """``target`` if ``valid`` already, else ``build(tmp)`` renamed into place (or another process's)."""
    if valid(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        build(tmp)
        # Check, remove a stale target and rename under a lock: else a stale target's remover could delete
        # the good build another process renamed into place a moment before (and may be loading).
        with open(target.parent / f".{target.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not valid(target):  # else another process finished first: use its files, drop ours
                if target.exists():
                    shutil.rmtree(target, ignore_errors=True)
                try:
                    os.replace(tmp, target)
                except OSError:  # a process that took no lock (an older selfalign) renamed its build first
                    if not valid(target):
                        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
