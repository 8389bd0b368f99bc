"""Every file and directory the pipeline writes appears complete or not at all.

Files go to a temp name in the same directory, are fsynced, then ``os.replace``-d over the target; on any
exception (disk full, permission, kill by Ctrl-C) the temp file is removed and the old target is untouched.
Directories (an adapter, a merged model) are built under a hidden staging name and renamed into place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

PathLike = str | os.PathLike[str]


def file_mode() -> int:
    """The mode ``open()`` would give a new file now: 0666 less the process umask. mkstemp creates its file
    0600 whatever the umask; the published file gets this instead (report.html, exported weights...)."""
    try:  # Linux reports the umask without changing it; os.umask can only read it by setting it
        status = Path("/proc/self/status").read_text(encoding="ascii", errors="replace")
        mask = next(int(ln.split()[1], 8) for ln in status.splitlines() if ln.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on success fsync + rename it over ``path``, on failure remove it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with contextlib.suppress(OSError):  # a filesystem without POSIX modes (vfat, some FUSE) refuses it
            os.fchmod(fd, file_mode())
        text = "b" not in mode
        with os.fdopen(fd, mode, **({"encoding": "utf-8", "newline": "\n"} if text else {})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and e.errno is not None and e.filename is None:
            e.filename = str(target)  # a failed write() names no file; the user needs to know which
        raise
    fsync_dir(target.parent)


def write_text_atomic(path: PathLike, text: str) -> Path:
    with atomic_open(path) as f:
        f.write(text)
    return Path(path)


def fsync_dir(directory: Path) -> None:
    # A rename is durable only once the directory entry is flushed (POSIX; a no-op elsewhere).
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staging_dir(final: PathLike) -> Path:
    """A fresh, empty hidden directory beside ``final`` to build it in (any earlier attempt is dropped)."""
    final = Path(final)
    staging = final.parent / f".{final.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def publish_dir(staging: PathLike, final: PathLike) -> Path:
    """Move a completed staging directory to ``final``, replacing what was there.

    A crash between removing the old ``final`` and the rename leaves ``final`` absent, never half-written; the
    stage's manifest is not marked complete until after this, so a rerun rebuilds it.
    """
    staging, final = Path(staging), Path(final)
    if final.exists():
        shutil.rmtree(final) if final.is_dir() else final.unlink()
    os.replace(staging, final)
    fsync_dir(final.parent)
    return final


def sweep_stale(root: PathLike) -> list[Path]:
    """Remove temp files and staging dirs a killed process left under ``root`` (kill -9 skips cleanup).

    Only call it while holding the run dir's lock: then no live writer owns any of them.
    """
    found = [
        p
        for p in Path(root).rglob(".*")
        if (p.is_file() and p.name.endswith(".tmp")) or (p.is_dir() and p.name.endswith(".partial"))
    ]
    for p in found:
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    return found
