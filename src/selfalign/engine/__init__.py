"""The only code that touches model/tokenizer loading. Use :class:`Engine` and its two primitives."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from selfalign.engine.types import Generation, GenParams, OptionScore

if TYPE_CHECKING:
    from selfalign.engine.engine import Engine
    from selfalign.engine.loader import ModelSpec

__all__ = ["Engine", "GenParams", "Generation", "ModelSpec", "OptionScore"]
# Engine and ModelSpec import torch and transformers: loaded on first use, so code that only needs the
# plain types (stage configs, ``selfalign config show``, ``--help``) starts without them.
_LAZY = {"Engine": "selfalign.engine.engine", "ModelSpec": "selfalign.engine.loader"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
