"""Backends sit below the Engine facade and never import it back (not even for type checking)."""

from __future__ import annotations

import ast
from pathlib import Path

import selfalign

ENGINE_DIR = Path(selfalign.__file__).parent / "engine"
# Everything the facade (engine.py) calls into for the two primitives, and what the backends use.
BELOW = ("backend.py", "torch_backend.py", "vllm_backend.py", "generate.py", "scoring.py", "batch.py",
         "sentinels.py", "types.py", "head.py")  # fmt: skip


def engine_imports(source: str) -> list[str]:
    """Lines of ``source`` importing ``selfalign.engine.engine`` or the ``Engine`` class (any form)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}"
                for a in node.names
                if a.name == "selfalign.engine.engine"
            ]
        elif isinstance(node, ast.ImportFrom):
            names = {a.name for a in node.names}
            if node.module == "selfalign.engine.engine" or (node.module == "selfalign.engine" and
                                                            names & {"engine", "Engine"}):  # fmt: skip
                found.append(f"line {node.lineno}: from {node.module} import {', '.join(sorted(names))}")
            elif (node.level and (node.module or "").split(".")[-1] == "engine") or "Engine" in names:
                found.append(f"line {node.lineno}: relative import of the engine")
    return found


def test_detector_catches_each_form():
    assert engine_imports("from selfalign.engine.engine import Engine")
    assert engine_imports("import selfalign.engine.engine")
    assert engine_imports("from selfalign.engine import Engine, GenParams")
    assert engine_imports(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from selfalign.engine import engine"
    )
    assert engine_imports("from .engine import Engine")
    assert not engine_imports(
        "from selfalign.engine.types import GenParams\nfrom selfalign.engine import head"
    )


def test_no_backend_module_imports_the_engine():
    bad = {}
    for name in BELOW:
        path = ENGINE_DIR / name
        assert path.is_file(), name
        hits = engine_imports(path.read_text(encoding="utf-8"))
        if hits:
            bad[name] = hits
    assert not bad, f"modules below the Engine facade import it back: {bad}"
