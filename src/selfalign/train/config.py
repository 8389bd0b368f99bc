"""Training settings shared by SFT and DPO: LoRA, quantization, optimisation, checkpoints, outputs.

Every hyper-parameter lives here, is documented where it is declared, and is recorded verbatim in the
adapter's model card and the stage manifest. Defaults train the embedded SmolLM2-135M on a 2-core CPU in
about a minute; on CUDA the same config trains in bf16 (and QLoRA with ``quant: 4bit``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# All attention and MLP projections of llama-style models (the first version's default).
DEFAULT_TARGETS: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)


class LoraSettings(BaseModel):
    """The LoRA adapter that is trained (the base weights stay frozen)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    r: int = Field(default=16, ge=1, description="LoRA rank.")
    alpha: int = Field(default=32, ge=1, description="LoRA scaling alpha (effective scale alpha/r).")
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="Dropout on the LoRA input.")
    target_modules: list[str] = Field(
        default_factory=lambda: list(DEFAULT_TARGETS),
        min_length=1,
        description="Module names that get LoRA (default: q,k,v,o,gate,up,down projections).",
    )


class TrainSettings(BaseModel):
    """Optimisation and bookkeeping of one training run (SFT or DPO)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # .inf or .nan is never a setting

    lora: LoraSettings = Field(default_factory=LoraSettings, description="LoRA adapter settings.")
    quant: Literal["none", "4bit", "8bit"] = Field(
        default="none",
        description="Quantize the frozen base for training: 4bit = QLoRA (NF4, double quant). Needs CUDA and "
        "bitsandbytes; refused on CPU.",
    )
    learning_rate: float = Field(default=2e-4, gt=0, description="Peak learning rate (AdamW).")
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = Field(
        default="cosine", description="Learning-rate schedule after warmup."
    )
    warmup_ratio: float = Field(
        default=0.1, ge=0.0, lt=1.0, description="Fraction of the total steps spent in linear warmup."
    )
    weight_decay: float = Field(default=0.0, ge=0.0, description="AdamW weight decay.")
    max_grad_norm: float = Field(default=1.0, gt=0, description="Gradient clipping norm.")
    epochs: float = Field(default=2.0, gt=0, description="Passes over the data (ignored when max_steps > 0).")
    max_steps: int = Field(default=-1, description="Stop after this many optimizer steps; -1 = use epochs.")
    batch_size: int = Field(default=8, ge=1, description="Examples per device per forward pass.")
    grad_accum: int = Field(default=1, ge=1, description="Forward passes accumulated per optimizer step.")
    max_length: int = Field(
        default=384,
        ge=8,
        description="Longest training sequence in tokens (prompt + completion); longer are cut.",
    )
    gradient_checkpointing: bool = Field(
        default=False, description="Trade compute for memory (useful on GPU for long sequences)."
    )
    seed: int = Field(default=0, description="Seed for LoRA init, data order and dropout.")
    logging_steps: int = Field(default=1, ge=1, description="Log loss/lr/grad-norm every N optimizer steps.")
    save_steps: int = Field(default=50, ge=1, description="Write a resumable checkpoint every N steps.")
    save_total_limit: int = Field(default=2, ge=1, description="Checkpoints kept on disk (oldest removed).")
    resume: bool = Field(default=True, description="Resume from the newest checkpoint in the output dir.")
    merge: bool = Field(
        default=False, description="Also write a merged full model (base + adapter) to <out>/merged."
    )
    tensorboard: bool = Field(default=True, description="Write TensorBoard event files to <out>/tensorboard.")


class SFTSettings(TrainSettings):
    """SFT: only completion tokens (the response, its end delimiter and EOS) carry loss."""

    packing: bool = Field(
        default=False, description="Pack several examples into one sequence (BFD; implies padding-free)."
    )
    padding_free: bool = Field(
        default=True,
        description="Concatenate a batch into one row without padding; position ids restart per example so "
        "attention stays within it (1.3-1.55x TRL's padded default on CPU, docs/PERFORMANCE.md).",
    )


class DPOSettings(TrainSettings):
    """DPO from the SFT adapter (the SFT policy is the reference) or, with no SFT adapter, from the base."""

    learning_rate: float = Field(default=5e-5, gt=0, description="Peak learning rate (AdamW).")
    epochs: float = Field(
        default=1.0, gt=0, description="Passes over the pairs (ignored when max_steps > 0)."
    )
    batch_size: int = Field(default=4, ge=1, description="Pairs per device per forward pass.")
    beta: float = Field(default=0.1, gt=0, description="DPO beta: strength of the KL pull to the reference.")
    loss_type: Literal["sigmoid", "ipo", "hinge", "robust"] = Field(
        default="sigmoid", description="DPO loss variant (sigmoid = the original DPO loss)."
    )
