"""Saving and re-reading what ``selfalign export`` ships: the tokenizer with its chat template, the merged
model, the generation config. Lives in the engine because only the engine loads or saves models/tokenizers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, GenerationConfig

from selfalign.engine.engine import Engine
from selfalign.engine.quiet import quiet

CONFIG = "tokenizer_config.json"
JINJA = "chat_template.jinja"


def save_tokenizer(engine: Engine, out: Path, template: str) -> None:
    """The engine's tokenizer with ``template``, in both places transformers reads a template from
    (``chat_template.jinja`` and ``tokenizer_config.json``), and the model's BOS rule as ``add_bos_token``
    (so selfalign, reading the export as a model dir, applies the rule it was trained with)."""
    tok = engine.tokenizer
    tok.chat_template = template
    try:
        tok.save_pretrained(str(out))
    finally:  # the engine's tokenizer stays template-free (the guard's invariant)
        tok.chat_template = None
        getattr(tok, "init_kwargs", {}).pop("chat_template", None)
    (out / JINJA).write_text(template, encoding="utf-8")
    config = json.loads((out / CONFIG).read_text(encoding="utf-8"))
    config["chat_template"] = template
    config["add_bos_token"] = engine.guard.bos.bos_id is not None
    (out / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_tokenizer(path: Path) -> Any:
    """The exported tokenizer as a user gets it: ``AutoTokenizer.from_pretrained(path)``, nothing else."""
    with quiet():
        return AutoTokenizer.from_pretrained(str(path))


def chat_ids(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    """``apply_chat_template(..., tokenize=True)`` as a plain id list (transformers 5 returns a dict)."""
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=True)
    ids = out["input_ids"] if hasattr(out, "keys") else out
    return [int(i) for i in ids]


def generation_config(engine: Engine, eos_ids: list[int]) -> GenerationConfig:
    """Greedy (as evaluated), stopping on ``eos_ids``; BOS/pad ids from the loaded model and tokenizer."""
    return GenerationConfig(
        eos_token_id=eos_ids[0] if len(eos_ids) == 1 else eos_ids,
        bos_token_id=engine.tokenizer.bos_token_id,
        pad_token_id=engine.pad_id,
        do_sample=False,
    )


def save_merged(engine: Engine, adapter: str, out: Path) -> None:
    """Merge ``adapter`` into the engine's base with peft's ``merge_and_unload`` and save safetensors.

    Mutates the engine (its model becomes the merged one): call after everything that needs the adapters.
    """
    with engine.using(adapter) as model:
        merged = model.merge_and_unload(adapter_names=[adapter])
    engine.model, engine.adapters = merged, {}
    merged.save_pretrained(str(out), safe_serialization=True)
