"""``export_run``: a run's policy as a directory transformers and peft load as is (see docs/INTEROP.md).

Everything is written to a temp dir next to ``out`` and renamed into place at the end: an error leaves
nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import selfalign
from selfalign.engine import Engine, ModelSpec
from selfalign.engine.export import generation_config, load_tokenizer, save_merged, save_tokenizer
from selfalign.engine.provenance import git_state, portable_ref
from selfalign.errors import ExportError
from selfalign.evaluate.runner import gen_params
from selfalign.export.card import write_card
from selfalign.export.checks import check_template, greedy_agreement
from selfalign.export.rundir import RunDir, open_run
from selfalign.export.template import chat_template
from selfalign.prompts.format import get_format
from selfalign.runlock import command_line, run_dir_lock

ADAPTER = "policy"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"--out {out}: exists and is not an empty directory (choose another or remove it)")


def base_spec(run: RunDir) -> ModelSpec:
    """The run's base, fresh and in fp32 (merging into a quantized or bf16 base would round the merge)."""
    p = run.provenance
    return ModelSpec(ref=p["model_ref"], revision=p.get("revision"), dtype="float32", quant="none",
                     trust_remote_code=bool(p.get("trust_remote_code")), sentinels=False)  # fmt: skip


def base_match(run: RunDir, engine: Engine) -> dict[str, Any]:
    """The base loaded now is the one the run trained on (same weight hashes); an error otherwise."""
    was, now = run.provenance.get("weights_sha256"), engine.provenance.get("weights_sha256")
    if run.provenance.get("kind") == "tiny" and run.provenance.get("dtype") != "float32":
        return {"compared": False, "why": "tiny model hashed in another dtype by the run"}
    if was != now:
        raise ExportError(
            f"base model {run.provenance['model_ref']!r} now has weights {now}, the run had {was}"
        )
    return {"compared": True, "equal": True, "weights_sha256": now}


def copy_adapter(run: RunDir, dest: Path) -> dict[str, Any]:
    """The adapter files, with a portable ``base_model_name_or_path`` (public id, else the selfalign ref)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ADAPTER_FILES:
        shutil.copy2(run.adapter / name, dest / name)
    config = json.loads((dest / "adapter_config.json").read_text(encoding="utf-8"))
    was = config.get("base_model_name_or_path")
    config["base_model_name_or_path"] = portable_ref(run.provenance)
    (dest / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return {"base_model_name_or_path": config["base_model_name_or_path"], "was": was}


def stop_ids(engine: Engine, end: str) -> tuple[list[int], list[int] | None]:
    """(EOS ids generation should stop on, the end marker's ids when it is one token, else None)."""
    eos = sorted(engine.eos_ids)
    marker = engine.guard.encode(end, bos=False)
    return (eos + [m for m in marker if m not in eos], marker) if len(marker) == 1 else (eos, None)


def eval_params(run: RunDir) -> Any:
    cfg = run.stage_manifest("evaluate").get("config", {})
    return gen_params(cfg.get("max_new_tokens", 128), cfg.get("batch_size", 16), cfg.get("seed", 0))


def merge_checked(engine: Engine, run: RunDir, tmp: Path) -> dict[str, Any]:
    """Greedy outputs of base + adapter, merge and save, reload the saved dir as a model, greedy again."""
    prompts = [get_format().prompt(it.instruction) for it in run.items]
    params = eval_params(run)
    unmerged = engine.generate(prompts, params, adapter=ADAPTER)
    save_merged(engine, ADAPTER, tmp)
    merged_engine = Engine.load(ModelSpec(ref=str(tmp), dtype="float32", sentinels=False))
    if merged_engine.guard.bos.bos_id != engine.guard.bos.bos_id:
        raise ExportError(
            f"the merged export's BOS rule ({merged_engine.guard.bos.report}) is not the base's"
        )
    merged = merged_engine.generate(prompts, params)
    return {"greedy": {"max_new_tokens": params.max_new_tokens, "stop": list(params.stop),
                       **greedy_agreement(run.items, unmerged, merged)},
            "weights_sha256": merged_engine.provenance["weights_sha256"]}  # fmt: skip


def _write(run: RunDir, tmp: Path, merge: bool) -> dict[str, Any]:
    fmt = get_format()
    engine = Engine.load(base_spec(run))
    engine.progress = False
    checks: dict[str, Any] = {"base_weights": base_match(run, engine)}
    engine.add_adapter(ADAPTER, run.adapter)
    template = chat_template(fmt, engine.guard.bos.bos_id is not None)
    save_tokenizer(engine, tmp, template)
    sft_stage = next((s for s in run.chain() if s.startswith("sft")), None)
    sft_file = run.path / sft_stage / "sft.jsonl" if sft_stage else None
    checks["chat_template"] = check_template(engine, load_tokenizer(tmp), fmt, run.items, sft_file)
    eos, marker = stop_ids(engine, fmt.end)
    facts: dict[str, Any] = {"adapter": copy_adapter(run, tmp / "adapter" if merge else tmp)}
    if merge:  # the adapter sub-dir is a usable adapter export on its own, tokenizer and template included
        save_tokenizer(engine, tmp / "adapter", template)
    if merge:
        merged = merge_checked(engine, run, tmp)
        checks["merged_vs_unmerged"] = merged["greedy"]
        facts["merged_weights_sha256"] = merged["weights_sha256"]
    gen = generation_config(engine, eos)
    gen.save_pretrained(str(tmp))  # after the merged save, which writes the base's own generation config
    facts.update(eos_token_id=eos, end_marker_ids=marker, bos=engine.guard.bos.report, checks=checks)
    return facts


def export_run(run_dir: Path, out: Path, policy: str = "dpo", merge: bool = False) -> dict[str, Any]:
    """Export ``policy`` of the run at ``run_dir`` to ``out``; returns the facts and the checks.

    Holds the run dir's lock (as ``report`` does): a run still writing it is not exported half-done."""
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir}: no such run directory")
    with run_dir_lock(run_dir, command_line(), create=False, option="RUN_DIR"):
        return _export(run_dir, out, policy, merge)


def _export(run_dir: Path, out: Path, policy: str, merge: bool) -> dict[str, Any]:
    run = open_run(run_dir, policy)
    check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        facts = _write(run, tmp, merge)
        fmt = get_format()
        config_yaml, config_note = run.config()
        if config_yaml is not None:
            (tmp / "selfalign-config.yaml").write_text(config_yaml, encoding="utf-8")
        export = {
            "selfalign_version": selfalign.__version__, "git": git_state(), "exported_at": time.time(),
            "run_dir": str(run.path.resolve()), "policy": policy, "chain": run.chain(), "merged": merge,
            "base": {k: run.provenance.get(k) for k in ("model_ref", "kind", "public_id", "revision",
                                                        "weights_sha256", "architecture", "gguf")},
            "format": {"prompt": fmt.prompt("{instruction}"), "completion": fmt.completion("{response}"),
                       "stop_strings": list(fmt.stop), "end_marker": fmt.end},
            "config": {"file": "selfalign-config.yaml" if config_yaml else None, "note": config_note,
                       **{k: run.manifest.get("run", {}).get(k) for k in ("config_path", "config_hash")}},
            "training_data": run.training_data(),
            **{k: v for k, v in facts.items() if k != "checks"},
        }  # fmt: skip
        _dump(tmp / "selfalign-export.json", export)
        _dump(tmp / "export-checks.json", facts["checks"])
        write_card(tmp / "README.md", run, export, facts["checks"])
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would make the export private
        try:
            if out.exists():
                out.rmdir()  # empty (checked above)
            os.replace(tmp, out)
        except OSError as e:  # another export (or anything) filled --out meanwhile: theirs stays, ours goes
            raise ExportError(f"--out {out}: filled by another writer meanwhile ({e.strerror})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {**export, "checks": facts["checks"]}


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")
