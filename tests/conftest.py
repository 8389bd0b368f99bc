"""Shared fixtures: models load once per session (tiny random ones in ~1 s, the real 135M in ~2 s)."""

from __future__ import annotations

import pytest

from selfalign.engine import Engine, ModelSpec


@pytest.fixture(scope="session")
def tiny_engine() -> Engine:
    """Random 2-layer llama with the real SmolLM2 tokenizer: the real code path, in milliseconds."""
    return Engine.load(ModelSpec(ref="tiny-random-llama"))


@pytest.fixture(scope="session")
def smol_engine() -> Engine:
    """The embedded default, SmolLM2-135M (real weights), for behaviour a random model cannot show."""
    return Engine.load(ModelSpec(ref="smollm2-135m"))
