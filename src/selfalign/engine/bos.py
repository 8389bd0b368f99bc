"""The model's own BOS rule, read from the model's files and applied by selfalign itself.

"No special tokens, ever" is right for chat tokens and wrong for BOS: Gemma 3's NLL per token is 2.50 with
its BOS and 6.83 without. Nor is the tokenizer's ``add_special_tokens=True`` a rule to lean on: the same
Gemma GGUF loaded by transformers 5.19 adds no BOS while 5.23 does. So the rule is read from what the model
ships (GGUF ``tokenizer.ggml.add_bos_token``; an HF dir's ``add_bos_token`` or its post-processor), and the
guard puts exactly one BOS at position 0 of every sequence when it says so, none otherwise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfalign.errors import ModelRefError

# Written by the GGUF rebuild next to the saved tokenizer: the rule as the GGUF header states it.
GGUF_KEY = "tokenizer.ggml.add_bos_token"


@dataclass(frozen=True)
class BosRule:
    """``bos_id`` starts every sequence when not ``None``; ``source`` says where the rule was read."""

    bos_id: int | None
    token: str | None
    source: str

    def apply(self, ids: list[int]) -> list[int]:
        return ids if self.bos_id is None else [self.bos_id, *ids]

    def strip(self, ids: list[int]) -> list[int]:
        return ids[1:] if self.bos_id is not None and ids[:1] == [self.bos_id] else ids

    @property
    def report(self) -> dict[str, Any]:
        return {"adds_bos": self.bos_id is not None, "bos_id": self.bos_id, "bos_token": self.token,
                "rule_source": self.source}  # fmt: skip


def _post_processor_adds_bos(processor: dict[str, Any] | None, bos: str) -> bool | None:
    """Whether a tokenizer.json post-processor puts ``bos`` first on one sequence (None: it does not say)."""
    if not processor:
        return None
    if processor.get("type") == "Sequence":
        answers = [_post_processor_adds_bos(p, bos) for p in processor.get("processors", [])]
        return True if True in answers else (False if False in answers else None)
    if processor.get("type") == "TemplateProcessing":
        single = processor.get("single") or []
        first = single[0] if single else {}
        return "SpecialToken" in first and first["SpecialToken"].get("id") == bos
    if processor.get("type") in ("BertProcessing", "RobertaProcessing"):
        return processor.get("cls", [None])[0] == bos
    return False  # ByteLevel and friends only adjust offsets


def _declared(model_dir: Path, bos: str | None) -> tuple[bool, str] | None:
    """(adds_bos, source) from the files of ``model_dir``, most specific first; None when none says."""
    source = model_dir / "selfalign-source.json"
    if source.is_file():
        meta = json.loads(source.read_text(encoding="utf-8"))
        if GGUF_KEY in meta:
            return bool(meta[GGUF_KEY]), f"gguf metadata {GGUF_KEY} ({meta.get('gguf', '?')})"
    config = model_dir / "tokenizer_config.json"
    if config.is_file():
        value = json.loads(config.read_text(encoding="utf-8")).get("add_bos_token")
        if isinstance(value, bool):
            return value, f"{config.name}: add_bos_token"
    tok_json = model_dir / "tokenizer.json"
    if tok_json.is_file() and bos is not None:
        processor = json.loads(tok_json.read_text(encoding="utf-8")).get("post_processor")
        said = _post_processor_adds_bos(processor, bos)
        if said is not None:
            return said, f"{tok_json.name}: post_processor"
    return None


def _declared_by_tokenizer(tokenizer: Any, bos: str | None) -> tuple[bool, str] | None:
    """The same declarations as loaded into a tokenizer object (a hub model: its files are not ours)."""
    value = getattr(tokenizer, "init_kwargs", {}).get("add_bos_token")
    if isinstance(value, bool):
        return value, "tokenizer init_kwargs: add_bos_token"
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None and bos is not None:
        said = _post_processor_adds_bos(json.loads(backend.to_str()).get("post_processor"), bos)
        if said is not None:
            return said, "tokenizer post_processor"
    return None


def read_bos_rule(tokenizer: Any, model_dir: Path | None) -> BosRule:
    """The rule for ``tokenizer`` as declared by ``model_dir``'s files (no declaration: no BOS)."""
    bos = tokenizer.bos_token
    found = _declared(model_dir, bos) if model_dir is not None else _declared_by_tokenizer(tokenizer, bos)
    if found is None:
        return BosRule(None, None, "not declared by the model's files: no BOS")
    adds, where = found
    if not adds:
        return BosRule(None, None, where)
    if bos is None or tokenizer.bos_token_id is None:
        raise ModelRefError(f"{model_dir}: {where} says to add BOS, but the tokenizer has no BOS token")
    return BosRule(int(tokenizer.bos_token_id), str(bos), where)
