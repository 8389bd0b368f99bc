"""Keep library chatter (progress bars, info logs, deprecation warnings) off a command's error output.

A one-line error must be one line whatever the cache holds: on a fresh machine the first GGUF conversion
printed ``Converting and de-quantizing GGUF tensors...`` (a bare ``tqdm`` inside transformers, which its
own progress-bar switch does not reach) to stderr before the error. What was said goes to the ``selfalign``
logger at DEBUG level, so ``--verbose`` logging can still show it.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import os
import sys
import termios
import threading
import time
import warnings
from collections.abc import Iterator

log = logging.getLogger("selfalign.library")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    captured = io.StringIO()
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(captured):
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()
        if captured.getvalue().strip():
            log.debug("library output: %s", captured.getvalue().strip())


class _Relay:
    """Lines read from a pipe, logged at DEBUG on ``log``; held while :func:`children_to_log`'s block runs
    (file descriptor 2 is the pipe then, so a handler printing to stderr would feed its own record back)."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.lock = threading.Lock()
        self.held: list[str] | None = []
        self.tail: list[str] = []  # the last lines, for the error when a start fails

    def line(self, text: str) -> None:
        text = text.rstrip()
        if not text.strip():
            return
        with self.lock:
            self.tail = [*self.tail[-4:], text]
            if self.held is not None:
                self.held.append(text)
                return
        self.log.debug("%s", text)

    def release(self) -> None:
        with self.lock:
            held, self.held = self.held or [], None
        for text in held:
            self.log.debug("%s", text)

    def pump(self, fd: int) -> None:
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    self.line(_last_state(raw.decode("utf-8", "replace")))
            self.line(_last_state(pending.decode("utf-8", "replace")))


def _settle(fd: int, wait: float = 2.0) -> None:
    """Give the relay what is still in the pipe (at most ``wait`` seconds)."""
    deadline = time.monotonic() + wait
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline:
            pending = fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0")
            if not int.from_bytes(pending, sys.byteorder):
                break
            time.sleep(0.02)
    time.sleep(0.05)  # the relay's last read is handled


def _last_state(text: str) -> str:
    """A progress bar redraws its line with ``\\r``: its last drawn state is the line."""
    return next((part for part in reversed(text.split("\r")) if part.strip()), "")


@contextlib.contextmanager
def children_to_log(name: str) -> Iterator[None]:
    """Processes started inside the block (and theirs) write their stderr into the ``selfalign.library.NAME``
    log at DEBUG for as long as they live — Python logging, ``tqdm`` bars and C++ warnings alike, which no
    in-process switch reaches. This process's own stderr is the same pipe during the block (what it prints
    while starting them is chatter too) and is back on exit. A failure inside the block carries the last
    lines said, since the root cause it points to ("see above") is no longer on the terminal.
    """
    relay = _Relay(logging.getLogger(f"{log.name}.{name}"))
    read, write = os.pipe()
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(write, 2)  # inheritable: children get the pipe as their stderr
    os.close(write)
    threading.Thread(target=relay.pump, args=(read,), name=f"{name}-output", daemon=True).start()
    try:
        yield
    except Exception as e:
        _settle(read)
        if relay.tail:
            e.add_note(f"{name}'s last output: " + " | ".join(relay.tail[-3:]))
        raise
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        relay.release()


class _Forward(logging.Handler):
    """A library logger's records, re-logged at DEBUG on ``selfalign.library.NAME`` (level in the text)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.DEBUG)
        self.target = logging.getLogger(f"{log.name}.{name}")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.target.debug("%s %s", record.levelname, record.getMessage())
        except Exception:  # a record that cannot format: logging's own report, as any handler does
            self.handleError(record)


def library_logger_to_log(logger: str, name: str) -> None:
    """Replace the handlers a library put on its own ``logger`` (vLLM prints INFO records to stdout) with a
    forward into the library log; idempotent."""
    target = logging.getLogger(logger)
    if any(isinstance(h, _Forward) for h in target.handlers):
        return
    for h in list(target.handlers):
        target.removeHandler(h)
    target.addHandler(_Forward(name))
    target.propagate = False
