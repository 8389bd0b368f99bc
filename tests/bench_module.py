"""Load a script of bench/ as a module, for the tests of the benches the docs' figures came from."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def bench_module(name: str) -> ModuleType:
    path = Path(__file__).parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
