"""Every error selfalign raises on purpose; each carries a one-line, actionable message."""

from __future__ import annotations


class SelfalignError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero."""


class ContaminationError(SelfalignError):
    """A guard found something the base model must not see (chat template, special token, ...)."""


class ModelRefError(SelfalignError):
    """A model reference could not be resolved or loaded."""


class QuantizationError(SelfalignError):
    """A quantization that this machine cannot provide (e.g. 4-bit without CUDA)."""


class ConfigError(SelfalignError):
    """A config file or value is invalid; the message names the key path."""


class GateError(SelfalignError):
    """A quality gate stopped the run."""


class DataError(SelfalignError):
    """Bad input data. Message format: ``FILE:LINE: FIELD: what is wrong``."""

    def __init__(self, path: object, line: int | None, field: str | None, message: str) -> None:
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path if line is None else f"{self.path}:{line}"
        what = message if not field else f"{field}: {message}"
        super().__init__(f"{where}: {what}")


class RunDirError(SelfalignError):
    """A directory given as a run dir is not one (no manifest.json) or cannot be used as one."""


class ExportError(SelfalignError):
    """``selfalign export`` cannot: no run dir, policy not trained, out dir in the way, a failed check."""


class MissingDependencyError(SelfalignError):
    """An optional extra (e.g. ``selfalign[ifeval]``) that a command needs is not installed."""
