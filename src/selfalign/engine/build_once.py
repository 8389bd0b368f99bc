"""Build a cache directory once, safely when several processes build it at the same time.

Parallel test workers on a cold cache, or two vLLM servers started together, build the same target: each
builds in a temp dir beside it and renames it into place; the first rename wins and the others use the
winner's files. A target is never half-written (it appears only by rename); one that is no longer valid
(a symlinked model dir moved away) is replaced.
"""

from __future__ import annotations

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
        if not valid(target):  # else another process finished first: use its files, drop ours
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)  # stale, not being built: builds never land half
            try:
                os.replace(tmp, target)
            except OSError:  # another process renamed its build in between the check and this rename
                if not valid(target):
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
