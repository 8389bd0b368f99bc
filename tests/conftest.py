"""Shared fixtures: models load once per session (tiny random ones in ~1 s, the real 135M in ~2 s)."""

from __future__ import annotations

import os

import pytest

from selfalign.engine import Engine, ModelSpec
from selfalign.engine.threads import physical_cores

# Under pytest-xdist (`make test` runs one worker per core) each worker gets its share of the cores for
# torch's threads, and so do the CLI processes the tests start (they inherit the environment): two workers
# with two threads each on two cores would oversubscribe them. Read when an engine is built, so in time here.
if (workers := os.environ.get("PYTEST_XDIST_WORKER_COUNT")) and "SELFALIGN_THREADS" not in os.environ:
    os.environ["SELFALIGN_THREADS"] = str(max(1, physical_cores() // int(workers)))


@pytest.fixture(scope="session")
def tiny_engine() -> Engine:
    """Random 2-layer llama with the real SmolLM2 tokenizer: the real code path, in milliseconds."""
    return Engine.load(ModelSpec(ref="tiny-random-llama"))


@pytest.fixture(scope="session")
def smol_engine() -> Engine:
    """The embedded default, SmolLM2-135M (real weights), for behaviour a random model cannot show."""
    return Engine.load(ModelSpec(ref="smollm2-135m"))
