"""Nothing outside selfalign/engine may load a model or tokenizer (a test, not a grep after a migration)."""

from __future__ import annotations

import ast
from pathlib import Path

import selfalign

PKG = Path(selfalign.__file__).parent
FORBIDDEN_NAMES = {"AutoTokenizer", "AutoModelForCausalLM", "AutoModel", "PreTrainedTokenizerFast"}


def offences(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "from_pretrained":
            found.append(f"line {node.lineno}: .from_pretrained")
        if isinstance(node, ast.ImportFrom):
            found += [
                f"line {node.lineno}: imports {a.name}" for a in node.names if a.name in FORBIDDEN_NAMES
            ]
        if isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"line {node.lineno}: uses {node.id}")
    return found


def test_detector_catches_each_form():
    assert offences("from transformers import AutoTokenizer")
    assert offences("import transformers\ntransformers.AutoModelForCausalLM.from_pretrained('x')")
    assert offences("m = X.from_pretrained('y')")
    assert not offences("from transformers import GenerationConfig\nx = 1")


def test_no_module_outside_the_engine_loads_models():
    bad = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.parts[0] == "engine":
            continue
        hits = offences(path.read_text(encoding="utf-8"))
        if hits:
            bad[str(rel)] = hits
    assert not bad, f"model/tokenizer loading outside selfalign/engine: {bad}"
