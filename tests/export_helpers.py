"""Load an export the way a user would: transformers and peft only, no selfalign code on the load path.

Tests may call ``from_pretrained`` (tests/test_loader_bypass.py checks only the package under src/).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from selfalign.engine.defaults import build_tiny


@cache
def tokenizer(path: Path) -> Any:
    """Loaded once per export dir (Gemma's 262k vocabulary takes ~7 s); tests only read it."""
    return AutoTokenizer.from_pretrained(str(path))


def chat_ids(tok: Any, messages: list[dict[str, str]], generation_prompt: bool = True) -> list[int]:
    out = tok.apply_chat_template(messages, add_generation_prompt=generation_prompt, tokenize=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)


def generation_config(path: Path) -> GenerationConfig:
    return GenerationConfig.from_pretrained(str(path))


def merged_model(path: Path) -> Any:
    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()


def tiny_base(ref: str, tok: Any) -> Any:
    """The tiny random base as selfalign builds it (seed 0): the one the run trained on."""
    return build_tiny(ref, tok, seed=0).eval()


def adapter_model(path: Path, base: Any) -> Any:
    return PeftModel.from_pretrained(base, str(path)).eval()


@torch.inference_mode()
def last_logits(model: Any, ids: list[int]) -> torch.Tensor:
    return model(torch.tensor([ids])).logits[0, -1].float()


@torch.inference_mode()
def greedy(model: Any, ids: list[int], gen: GenerationConfig, max_new_tokens: int) -> list[int]:
    """Greedy continuation with the export's generation config, as ``model.generate`` gives it."""
    out = model.generate(
        torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
        generation_config=gen, max_new_tokens=max_new_tokens,
    )  # fmt: skip
    return out[0, len(ids) :].tolist()
