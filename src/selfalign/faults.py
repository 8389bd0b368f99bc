"""Disk and path faults as one actionable line (no traceback), wherever in a run they happen.

Python code raises ``OSError`` with an errno and usually the path; Rust-backed libraries (tokenizers,
safetensors) raise a plain ``Exception("... (os error 28)")``, which :func:`as_os_error` turns back into an
``OSError`` so both read the same. Every write is atomic (see :mod:`selfalign.atomic`) and a stage is marked
complete only after its outputs, so after the fault is fixed the same command resumes where it stopped.
"""

from __future__ import annotations

import errno
import os
import re

_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")

RESUME = "then rerun the same command: finished stages are kept"
_ADVICE = {
    errno.ENOSPC: f"no space left on the device; free space or use a --run-dir on a larger disk, {RESUME}",
    errno.EDQUOT: f"disk quota exceeded; free space or use a --run-dir elsewhere, {RESUME}",
    errno.EACCES: f"permission denied; make it writable/readable for this user or use another path, {RESUME}",
    errno.EPERM: f"operation not permitted; fix its permissions or use another path, {RESUME}",
    errno.EROFS: f"read-only file system; use a --run-dir on a writable disk, {RESUME}",
    errno.ENOTDIR: "a component of this path is a file, not a directory; move that file or use another path",
    errno.EISDIR: "is a directory where a file was expected; move it away or use another path",
    errno.ENOENT: "no such file or directory; check the path (an input a stage needs may have been deleted)",
    errno.EEXIST: "already exists where a directory is needed; move it away or use another path",
}


def as_os_error(exc: BaseException) -> OSError | None:
    """The OS-level fault behind ``exc``, or None when it is not one."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc
    m = _RUST_OS_ERROR.search(str(exc))
    if m:
        code = int(m.group(1))
        return OSError(code, os.strerror(code))
    return None


def describe(err: OSError) -> str:
    """``PATH: what happened; what to do`` on one line."""
    where = err.filename if err.filename is not None else "(path unknown)"
    if err.filename2 is not None:
        where = f"{where} -> {err.filename2}"
    advice = _ADVICE.get(err.errno or 0, f"{err.strerror or err}; fix the cause, {RESUME}")
    return f"{where}: {advice}"
