"""Final outputs of a training run: the PEFT adapter dir, its model card, an optional merged model."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfalign.atomic import write_text_atomic
from selfalign.engine.adapters import BASE_RECORD, base_record
from selfalign.engine.provenance import portable_ref
from selfalign.train.config import TrainSettings


@dataclass
class TrainOutcome:
    """What a run produced and how it went (recorded in the stage manifest)."""

    adapter_dir: Path
    metrics_path: Path
    global_step: int
    resumed_from: str | None
    final: dict[str, Any] = field(default_factory=dict)  # train_loss, runtime, last logged values
    merged_dir: Path | None = None
    n_examples: int = 0
    n_tokens: int = 0
    cut_at_max_length: int = 0  # training rows longer than max_length (cut: their answers lose the ending)


def save_adapter(model: Any, out: Path) -> Path:
    """Write only the trained 'default' adapter (DPO also holds a frozen 'ref' copy that must not ship)."""
    model.save_pretrained(str(out), selected_adapters=["default"])
    _sort_target_modules(out / "adapter_config.json")
    return out


def make_portable(engine: Any, adapter_dir: Path) -> None:
    """Make a bare adapter dir usable elsewhere: the tokenizer with the chat template that renders the
    format it was trained on (and the model's BOS rule), and a base reference that resolves on another
    machine instead of a path into this one's model cache (issue #16)."""
    from selfalign.engine.export import save_tokenizer
    from selfalign.export.template import chat_template
    from selfalign.prompts.format import get_format

    save_tokenizer(engine, adapter_dir, chat_template(get_format(), engine.guard.bos.bos_id is not None))
    config = adapter_dir / "adapter_config.json"
    data = json.loads(config.read_text("utf-8"))
    data["base_model_name_or_path"] = portable_ref(engine.provenance)
    write_text_atomic(config, json.dumps(data, indent=2, sort_keys=True) + "\n")
    # the exact base weights, so loading the adapter elsewhere can refuse another base (engine/adapters.py)
    record = json.dumps(base_record(engine.provenance), indent=2, sort_keys=True, default=str) + "\n"
    write_text_atomic(adapter_dir / BASE_RECORD, record)


def _sort_target_modules(config: Path) -> None:
    # peft stores target_modules as a set and writes it in hash order, which changes from process to process;
    # sorted, the same training writes the same bytes (and the stages after it stay cached).
    data = json.loads(config.read_text("utf-8"))
    if isinstance(data.get("target_modules"), list):
        data["target_modules"] = sorted(data["target_modules"])
        write_text_atomic(config, json.dumps(data, indent=2, sort_keys=True) + "\n")


def save_merged(model: Any, tokenizer: Any, out: Path) -> Path:
    """Merge the adapter into the base and save a plain model (mutates ``model``: call last)."""
    merged = model.merge_and_unload()
    merged.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))  # the guarded tokenizer: no chat template is written
    return out


def last_values(metrics: list[dict[str, Any]]) -> dict[str, Any]:
    """The last logged value of each metric, and the run summary Trainer logs at the end."""
    out: dict[str, Any] = {}
    for row in metrics:
        out.update({k: v for k, v in row.items() if k not in ("step", "epoch")})
    return out


def reproducible(final: dict[str, Any]) -> dict[str, Any]:
    """Final metrics without wall-clock ones (runtime, per-second rates): the same training gives the same
    card, so a rerun gives a byte-identical adapter dir and the stages after it stay cached."""
    return {k: v for k, v in final.items() if not k.endswith(("_runtime", "_per_second"))}


def write_card(
    adapter_dir: Path,
    *,
    kind: str,
    provenance: dict[str, Any],
    settings: TrainSettings,
    data: dict[str, Any],
    outcome: TrainOutcome,
    parent_adapter: str | None = None,
) -> Path:
    """README.md in the adapter dir: base model, data provenance, config, results (replaces peft's stub)."""
    base = {
        k: provenance.get(k)
        for k in ("model_ref", "kind", "location", "revision", "weights_sha256", "dtype", "quantization",
                  "device", "architecture", "parameters", "versions", "git")
    }  # fmt: skip
    lines = [
        "---",
        "library_name: peft",
        f"tags: [selfalign, {kind}, lora]",
        "---",
        f"# selfalign {kind.upper()} adapter",
        "",
        f"LoRA adapter trained by `selfalign {kind}` with TRL; load it with "
        "`PeftModel.from_pretrained(base, dir)` or `engine.add_adapter(name, dir)`. "
        "The tokenizer here carries a chat template that renders the Instruction/Response format it was "
        "trained on (`apply_chat_template([{'role': 'user', 'content': x}], add_generation_prompt=True)`); "
        "`selfalign export` adds the checks, a merged model and a full card (docs/INTEROP.md).",
        "",
        f"- base model: `{provenance.get('model_ref')}` ({provenance.get('architecture')}, "
        f"{provenance.get('dtype')}, quantization {provenance.get('quantization')})",
        f"- `base_model_name_or_path`: `{portable_ref(provenance)}`; the exact weights trained on have the "
        "sha256 under *Base model provenance* (selfalign rebuilds them for that reference)",
        f"- started from adapter: `{parent_adapter}`" if parent_adapter else "- started from: the base model",
        f"- examples: {outcome.n_examples}; optimizer steps: {outcome.global_step}"
        + (f"; resumed from `{outcome.resumed_from}`" if outcome.resumed_from else ""),
        "",
        "## Data provenance",
        "```json",
        json.dumps(data, indent=2, default=str),
        "```",
        "## Training config",
        "```json",
        json.dumps(settings.model_dump(mode="json"), indent=2),
        "```",
        "## Final metrics",
        "```json",
        json.dumps(reproducible(outcome.final), indent=2, default=float),
        "```",
        "## Base model provenance",
        "```json",
        json.dumps(base, indent=2, default=str),
        "```",
        "",
    ]
    path = adapter_dir / "README.md"
    path.write_text("\n".join(lines), "utf-8")
    return path
