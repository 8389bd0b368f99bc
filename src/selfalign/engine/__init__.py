"""The only code that touches model/tokenizer loading. Use :class:`Engine` and its two primitives."""

from selfalign.engine.engine import Engine
from selfalign.engine.loader import ModelSpec
from selfalign.engine.types import Generation, GenParams, OptionScore

__all__ = ["Engine", "GenParams", "Generation", "ModelSpec", "OptionScore"]
