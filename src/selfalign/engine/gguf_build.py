"""GGUF → plain safetensors model, once, in the cache.

A GGUF-loaded transformers model refuses to train or save, so the GGUF is dequantised once and rebuilt
(``from_config`` + ``load_state_dict``) into a plain dir under ``$SELFALIGN_CACHE`` (default
``~/.cache/selfalign``), keyed by the GGUF's sha256; every later load reads that dir. The tokenizer is
cached on its own first (tests that need only a real tokenizer do not pay for the weights). Each build goes
to a temp dir renamed into place, so an interrupted build never leaves a half cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from selfalign.engine.bos import GGUF_KEY
from selfalign.engine.build_once import build_once
from selfalign.engine.gguf_meta import scalar_metadata
from selfalign.engine.quiet import quiet
from selfalign.errors import ModelRefError

SOURCE_FILE = "selfalign-source.json"
# Header keys kept with the cache: the BOS rule, and what a model card needs (name, licence).
_KEPT_KEYS = (GGUF_KEY, "general.name", "general.license", "general.architecture", "general.size_label")


def cache_dir() -> Path:
    return Path(os.environ.get("SELFALIGN_CACHE", Path.home() / ".cache" / "selfalign")).expanduser()


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def source_info(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / SOURCE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _built(kind: str, name: str, digest: str, build: Callable[[Path], None]) -> Path:
    """``cache/kind/name-digest``, made by ``build(tmp)`` in a temp dir and renamed into place once."""
    target = cache_dir() / kind / f"{name}-{digest[:16]}"
    return build_once(target, build, lambda t: (t / SOURCE_FILE).is_file())


def _source(gguf: Path, digest: str) -> str:
    meta = scalar_metadata(gguf)
    kept = {k: meta[k] for k in _KEPT_KEYS if k in meta}
    return json.dumps({"gguf": str(gguf), "gguf_sha256": digest, **kept}, indent=2)


def gguf_tokenizer(gguf: Callable[[], Path], name: str, digest: str) -> Path:
    """Dir with the GGUF's tokenizer alone (chat template included: the guards strip it on every load)."""

    def build(tmp: Path) -> None:
        path = gguf()
        with quiet():
            tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
            tok.save_pretrained(tmp)
        (tmp / SOURCE_FILE).write_text(_source(path, digest), encoding="utf-8")

    return _built("gguf-tokenizer", name, digest, build)


def rebuild_gguf(gguf: Path | Callable[[], Path], name: str | None = None, digest: str | None = None) -> Path:
    """The rebuilt safetensors dir of a GGUF model (built on first use).

    ``gguf`` may be a callable that produces the file: with a known ``digest`` the cache is checked first,
    so a model shipped in chunks is only assembled when it has not been built yet.
    """
    get = gguf if callable(gguf) else (lambda: gguf)
    if digest is None or name is None:
        path = get()
        digest, name = digest or sha256_file(path), name or path.stem
    tok_dir = gguf_tokenizer(get, name, digest)

    def build(tmp: Path) -> None:
        path = get()
        with quiet():  # the only place GGUF weights are read; everything downstream loads safetensors
            gmodel = AutoModelForCausalLM.from_pretrained(
                path.parent, gguf_file=path.name, dtype=torch.float32
            )
            config = gmodel.config
            if hasattr(config, "quantization_config"):
                del config.quantization_config
            plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            missing, unexpected = plain.load_state_dict(gmodel.state_dict(), strict=False)
        # Tied embeddings legitimately have no separate lm_head weight in the GGUF.
        missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
        if missing or unexpected:
            raise ModelRefError(f"rebuilding {path}: missing {missing[:5]}, unexpected {unexpected[:5]}")
        if config.tie_word_embeddings:
            plain.tie_weights()
        with quiet():
            plain.save_pretrained(tmp, safe_serialization=True)
        for f in tok_dir.iterdir():
            shutil.copy(f, tmp / f.name)

    return _built("gguf", name, digest, build)
