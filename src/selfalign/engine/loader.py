"""``load(spec)``: the one door to a model. Resolves a reference, loads with guards, records provenance."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

from selfalign.engine import defaults
from selfalign.engine.bos import read_bos_rule
from selfalign.engine.guards import Guard
from selfalign.engine.provenance import (
    git_state,
    loaded_quantization,
    state_dict_sha256,
    versions,
    weight_hashes,
)
from selfalign.engine.quiet import quiet
from selfalign.errors import ModelRefError, QuantizationError

Quant = Literal["none", "8bit", "4bit"]
DType = Literal["auto", "float32", "bfloat16", "float16"]
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class ModelSpec:
    """What to load. ``ref``: an embedded name, a local HF dir, a ``.gguf`` file, or a hub id."""

    ref: str = defaults.DEFAULT_MODEL
    dtype: DType = "auto"
    quant: Quant = "none"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    trust_remote_code: bool = False
    revision: str | None = None
    seed: int = 0  # tiny random models only
    sentinels: bool = True


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    guard: Guard
    provenance: dict[str, Any]


def resolve_device(spec: ModelSpec) -> str:
    if spec.device == "cuda" and not torch.cuda.is_available():
        raise ModelRefError("device 'cuda' requested but CUDA is not available on this machine")
    if spec.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return spec.device


def placement(device: str) -> str:
    """Where the weights go: under a multi-process launcher (``accelerate launch``: LOCAL_RANK) each process
    puts its copy on its own GPU, not all of them on cuda:0 (docs/SCALING.md)."""
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return device


def resolve_dtype(spec: ModelSpec, device: str) -> torch.dtype:
    if spec.dtype == "auto":  # bf16 where the hardware is made for it; fp32 is the safe CPU default
        return torch.bfloat16 if device == "cuda" else torch.float32
    return _DTYPES[spec.dtype]


def quantization_config(spec: ModelSpec, device: str, dtype: torch.dtype) -> BitsAndBytesConfig | None:
    if spec.quant == "none":
        return None
    if device != "cuda":
        raise QuantizationError(
            f"quant '{spec.quant}' needs CUDA and bitsandbytes; this machine has no CUDA. Use quant: none"
        )
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as e:
        raise QuantizationError(f"quant '{spec.quant}' needs bitsandbytes: pip install bitsandbytes") from e
    if spec.quant == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
    )


def _source(spec: ModelSpec) -> tuple[str, Path | str, dict[str, Any]]:
    """(kind, location, extra provenance) for a reference, with a clear error for bad ones."""
    ref = defaults.canonical(spec.ref)
    if ref in (defaults.GEMMA3, defaults.SMOLLM2):
        path = defaults.model_dir(ref)
        return "embedded", path, {"gguf": defaults.source_info(path), "public_id": defaults.HUB_IDS[ref]}
    if ref in defaults.TINY_MODELS:
        return "tiny", ref, {}
    path = Path(ref).expanduser()
    if ref.endswith(".gguf"):
        if not path.is_file():
            raise ModelRefError(f"model '{ref}': no such .gguf file")
        built = defaults.rebuild_gguf(path)
        return "gguf", built, {"gguf": defaults.source_info(built)}
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelRefError(f"model '{ref}': directory has no config.json (not a Hugging Face model dir)")
        if not any(path.glob("*.safetensors")):
            raise ModelRefError(f"model '{ref}': no *.safetensors weights (other formats are refused)")
        return "local", path, {}
    if ref.startswith((".", "/", "~")) or ref.count("/") != 1:
        raise ModelRefError(
            f"model '{ref}': not an embedded model ({', '.join(defaults.EMBEDDED)}), "
            "an existing directory, a .gguf file, or a hub id of the form org/name"
        )
    _check_hub(ref)
    return "hub", ref, {}


def _check_hub(ref: str) -> None:
    """Fail in seconds, not after a minute of retries, when the hub cannot be reached."""
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        raise ModelRefError(f"model '{ref}': looks like a hub id, but HF_HUB_OFFLINE is set")
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = endpoint.split("://", 1)[-1].split("/", 1)[0]
    try:
        with socket.create_connection((host.split(":")[0], 443), timeout=3):
            pass
    except OSError as e:
        raise ModelRefError(
            f"model '{ref}': looks like a hub id, but the hub ({host}) is unreachable from here ({e}); "
            "use an embedded model, a local directory or a .gguf file"
        ) from e


def _tokenizer_dir(kind: str, where: Path | str, spec: ModelSpec) -> Path | str:
    return defaults.tokenizer_dir(spec.ref) if kind == "tiny" else where


def _load_tokenizer(src: Path | str, kind: str, spec: ModelSpec) -> Any:
    try:
        with quiet():
            return AutoTokenizer.from_pretrained(
                src,
                revision=spec.revision if kind == "hub" else None,
                trust_remote_code=spec.trust_remote_code,
            )
    except OSError as e:
        raise ModelRefError(
            f"model '{spec.ref}': tokenizer could not be loaded: {str(e).splitlines()[0]}"
        ) from e


def load(spec: ModelSpec) -> Loaded:
    """Load model + tokenizer, install the guards, read back dtype/quantization, record provenance."""
    started = time.perf_counter()
    device = resolve_device(spec)
    dtype = resolve_dtype(spec, device)
    quant = quantization_config(spec, device, dtype)  # refuses 4/8-bit without CUDA before any loading
    kind, where, extra = _source(spec)
    tok_src = _tokenizer_dir(kind, where, spec)
    tokenizer = _load_tokenizer(tok_src, kind, spec)
    rule = read_bos_rule(tokenizer, tok_src if isinstance(tok_src, Path) else None)
    guard = Guard.install(tokenizer, source=str(where), bos=rule)
    if kind == "tiny":
        model = defaults.build_tiny(spec.ref, tokenizer, seed=spec.seed).to(dtype)
    else:
        try:
            with quiet():
                model = AutoModelForCausalLM.from_pretrained(
                    where,
                    dtype=dtype,
                    quantization_config=quant,
                    use_safetensors=True,
                    trust_remote_code=spec.trust_remote_code,
                    revision=spec.revision if kind == "hub" else None,
                    device_map={"": placement(device)} if quant is not None else None,
                )
        except OSError as e:
            raise ModelRefError(f"model '{spec.ref}': could not be loaded: {str(e).splitlines()[0]}") from e
    if quant is None:
        model = model.to(placement(device))
    model.eval()
    if tokenizer.pad_token_id is None:  # padding never reaches the model: the attention mask hides it
        tokenizer.pad_token = tokenizer.eos_token
    loaded_quant = loaded_quantization(model)
    if loaded_quant != spec.quant:
        raise QuantizationError(f"asked for quant '{spec.quant}' but the loaded model is '{loaded_quant}'")
    provenance: dict[str, Any] = {
        "model_ref": spec.ref,
        "kind": kind,
        "location": str(where),
        "revision": spec.revision,
        "weights_sha256": weight_hashes(Path(where))
        if isinstance(where, Path)
        else {"state_dict (built in code)": state_dict_sha256(model)},
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "quantization": loaded_quant,
        "device": device,
        "trust_remote_code": spec.trust_remote_code,
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "versions": versions(),
        "git": git_state(),
        "guards": guard.report,
        **extra,
    }
    provenance["load_seconds"] = round(time.perf_counter() - started, 3)
    return Loaded(model=model, tokenizer=tokenizer, guard=guard, provenance=provenance)
