"""Where a run's output goes: library chatter to ``RUN_DIR/run.log``, what matters to the terminal.

Library chatter is everything selfalign did not say itself: Python warnings from libraries (transformers'
FutureWarnings), records of library loggers (transformers, datasets, TRL, peft ...), and whatever a library
prints to stdout/stderr (tqdm bars such as "Loading weights", stray prints). During a run it all becomes
records in ``run.log``; the terminal gets selfalign's own warnings (a gate near its threshold, a stage rerun
and why) and the run's view. ``verbose`` shows the chatter on the terminal again (and still logs it).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import selfalign

LIBRARY = "selfalign.library"  # chatter without a logger of its own (stray prints, library warnings)
STREAMS = f"{LIBRARY}.stream"  # what was written to stdout/stderr (echoed as written with --verbose)
_OURS = Path(selfalign.__file__).resolve().parent
_DEPRECATIONS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class RunLog(logging.Handler):
    """Appends records to ``run.log``; records that arrive before :meth:`open` (before the run dir is
    locked: another run may own it) wait in memory. A write that fails (disk full) is remembered in
    :attr:`failed`, the file is dropped and the caller says so on the terminal; logging never ends a run."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.DEBUG)
        self.path = path
        self.setFormatter(logging.Formatter(_FORMAT))
        self._pending: list[str] = []
        self._file: TextIO | None = None
        self.failed: str | None = None

    def open(self, header: str) -> None:
        if self._file is not None or self.failed:
            return
        try:
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as e:
            self.failed = f"{self.path}: {e.strerror or e}"
            return
        pending, self._pending = [f"==== {header}", *self._pending], []
        for line in pending:
            self._write(line)

    def emit(self, record: logging.LogRecord) -> None:
        line = self.format(record)
        if self._file is None:
            if not self.failed:
                self._pending.append(line)
            return
        self._write(line)

    def _write(self, line: str) -> None:
        assert self._file is not None
        try:
            self._file.write(line + "\n")
            self._file.flush()
        except OSError as e:
            self.failed = f"{self.path}: {e.strerror or e}"
            self.close()

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as e:
                self.failed = self.failed or f"{self.path}: {e.strerror or e}"
        super().close()


class StreamToLog(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr``: each line written becomes a record on
    ``selfalign.library.stream`` (a tqdm bar's ``\\r`` refreshes are lines too). ``echo``: also pass the
    text on as written (``--verbose``)."""

    def __init__(self, name: str, echo: TextIO | None = None) -> None:
        self.name, self.echo = name, echo
        self._pending = ""
        self._log = logging.getLogger(STREAMS)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def write(self, s: str) -> int:
        if self.echo is not None:
            self.echo.write(s)
        *lines, self._pending = re.split(r"[\r\n]", self._pending + s)
        for line in lines:
            self._emit(line)
        return len(s)

    def flush(self) -> None:
        if self.echo is not None:
            self.echo.flush()

    def drain(self) -> None:
        self._emit(self._pending)
        self._pending = ""

    def _emit(self, line: str) -> None:
        if line.strip():
            self._log.info("%s: %s", self.name, line.rstrip())


def show_warning(
    message: Warning | str, category: type[Warning], filename: str, lineno: int,
    file: TextIO | None = None, line: str | None = None,
) -> None:  # fmt: skip
    """``warnings.showwarning`` for a run: selfalign's own warnings stay visible, the rest is chatter."""
    text = warnings.formatwarning(message, category, filename, lineno, line).strip()
    ours = Path(filename).resolve().is_relative_to(_OURS) and not issubclass(category, _DEPRECATIONS)
    logging.getLogger("selfalign.warnings" if ours else LIBRARY).warning("%s", text)


@contextlib.contextmanager
def library_deprecations_logged() -> Iterator[None]:
    """For every command (``selfalign run`` routes more, see :func:`show_warning`): a library's deprecation
    warning — transformers' ``FutureWarning`` that a TrainingArguments name is deprecated — is a note to
    selfalign's developers, not to the user; it goes to the ``selfalign.library`` logger at DEBUG. Every
    other warning is shown as Python would show it."""
    shown = warnings.showwarning

    def show(
        message: Warning | str, category: type[Warning], filename: str, lineno: int,
        file: TextIO | None = None, line: str | None = None,
    ) -> None:  # fmt: skip
        if issubclass(category, _DEPRECATIONS) and not Path(filename).resolve().is_relative_to(_OURS):
            text = warnings.formatwarning(message, category, filename, lineno, line).strip()
            logging.getLogger(LIBRARY).debug("%s", text)
            return
        shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = shown


def detach_library_handlers() -> list[tuple[logging.Logger, logging.Handler | None, bool]]:
    """Take the plain stream handlers libraries put on their own loggers (transformers' and datasets' print
    to stderr, bypassing the root logger) and let their records propagate to the run's handlers instead.
    Returns what to :func:`reattach`."""
    changed: list[tuple[logging.Logger, logging.Handler | None, bool]] = []
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger) or name.split(".")[0] == "selfalign":
            continue
        streams = [h for h in logger.handlers if type(h) is logging.StreamHandler]
        for handler in streams:
            logger.removeHandler(handler)
            changed.append((logger, handler, logger.propagate))
        if streams and not logger.propagate:
            logger.propagate = True
    return changed


def reattach(changed: list[tuple[logging.Logger, logging.Handler | None, bool]]) -> None:
    for logger, handler, propagate in reversed(changed):
        if handler is not None:
            logger.addHandler(handler)
        logger.propagate = propagate


def repoint(stand_in: Any, real: TextIO) -> None:
    """Handlers created during the run captured a stand-in stream as their stream; give them the real one."""
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for h in getattr(logger, "handlers", []):
            if isinstance(h, logging.StreamHandler) and h.stream is stand_in:
                h.setStream(real)


def header(argv: list[str] | None = None) -> str:
    command = " ".join(argv or sys.argv)
    return f"{time.strftime('%Y-%m-%d %H:%M:%S')} selfalign {selfalign.__version__}: {command}"
