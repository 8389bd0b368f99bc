"""``selfalign run``: the whole Stage-1 bootstrap in one readable place.

preflight (load + sentinels) → instructions → split → responses → critique → sft (→ responses-rN →
critique-rN → sft-rN for each further rejection-sampling round) → pairs → dpo (→ pairs-rN → dpo-rN for
each further preference round) → evaluate → report.

Every stage's output is keyed by a hash of its config section, the keys of the stages that produced its
inputs and the content hashes of those inputs (a Merkle chain), and the code version. A stage whose key
matches a completed stage dir, and whose recorded outputs still hash as written, is skipped; one whose dir
holds an incomplete attempt with the same key is re-entered (stages resume from shards and checkpoints); a
changed key or a missing/changed output clears the dir and reruns it — and, through the chain, every stage
after it whose inputs changed. The run dir is locked for the whole run (one writer at a time).
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import selfalign
from selfalign import progress
from selfalign.atomic import sweep_stale, write_text_atomic
from selfalign.config import load_config, stable_hash
from selfalign.engine import Engine, ModelSpec
from selfalign.engine.backend import BackendSpec
from selfalign.engine.loader import resolve_device
from selfalign.engine.provenance import git_state
from selfalign.errors import ConfigError, GateError
from selfalign.evaluate.budget import check_budget
from selfalign.faults import as_os_error
from selfalign.gates import evaluate_gates, gate_notices
from selfalign.reruns import key_record, read_key, refuse_replacing_all, why_rerun
from selfalign.runlock import command_line, run_dir_lock
from selfalign.stages.base import StageContext, StageResult, write_manifest
from selfalign.stages.digest import code_version, digests, why_changed
from selfalign.stages.seeds import Chain, chains

log = logging.getLogger("selfalign")
TRAINING = {"sft", "dpo"}  # stages that load (and wrap) their own model


@dataclass(frozen=True)
class Step:
    name: str  # directory name in the run dir, e.g. "dpo-r2", "sft-s1"
    section: str  # config section feeding it
    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)  # ctx name -> (step, output name)
    extra: dict[str, Any] = field(default_factory=dict)
    update: dict[str, Any] = field(default_factory=dict)  # section fields this step sets: a seed chain's seed


def plan(
    rounds: int, sft_rounds: int = 1, sft_seeds: list[int] | None = None, dpo_seeds: list[int] | None = None
) -> list[Step]:
    """The stage order. Held-out test items are split off before any training data exists. With several
    seeds (``sft.seeds`` / ``dpo.seeds``, stages/seeds.py) every SFT chain, then every DPO chain, gets its
    own stages; one seed plans the single chain with the old names."""
    steps = [
        Step("instructions", "instructions"),
        Step("split", "split", {"instructions": ("instructions", "instructions")}),
        Step("responses", "responses", {"instructions": ("split", "train"), "test": ("split", "test")}),
        # The training instructions give back-translation (critique.back_translate) their plain text.
        Step("critique", "critique", {"responses": ("responses", "responses"), "train": ("split", "train")}),
    ]
    adapters: dict[str, tuple[str, str]] = {}
    seed_chains = chains(sft_seeds, dpo_seeds)
    newest: dict[str, str] = {}  # a chain's SFT suffix -> its newest SFT policy (several DPO seeds share it)
    for ch in seed_chains:
        if ch.sft not in newest:
            newest[ch.sft] = _sft_chain(steps, adapters, ch, sft_rounds)
    pairs_done: set[str] = set()
    for ch in seed_chains if rounds >= 1 else []:  # rounds: 0 = SFT only, no preference rounds
        _dpo_chain(steps, adapters, ch, newest[ch.sft], rounds, pairs_done)
    steps.append(Step("evaluate", "evaluate", {"heldout": ("split", "test"), **adapters}))
    return steps


def _sft_chain(steps: list[Step], adapters: dict[str, tuple[str, str]], ch: Chain, sft_rounds: int) -> str:
    """One seed's SFT and its rejection-sampling rounds; returns its newest SFT policy's stage name."""
    x, seed = ch.sft, ch.sft_update
    sft = f"sft{x}"
    # The critic's decision is made once, in critique; SFT trains on what it accepted.
    steps.append(Step(sft, "sft", {"accepted": ("critique", "accepted")}, update=seed))
    adapters[f"adapter:{sft}"] = (sft, "adapter")
    for r in range(2, sft_rounds + 1):  # rejection sampling from the newest policy on fresh instructions
        res, crit, new = f"responses-r{r}{x}", f"critique-r{r}{x}", f"sft-r{r}{x}"
        steps += [
            Step(res, "responses", {"instructions": ("split", "train"), "test": ("split", "test"),
                                    "adapter": (sft, "adapter")}, {"round": r, "policy": sft}),
            Step(crit, "critique", {"responses": (res, "responses"), "train": ("split", "train")},
                 {"round": r}),
            Step(new, "sft", {"accepted": (crit, "accepted"), "previous": (sft, "sft_data")}, {"round": r},
                 update=seed),
        ]  # fmt: skip
        adapters[f"adapter:{new}"] = (new, "adapter")
        sft = new
    return sft


def _dpo_chain(
    steps: list[Step], adapters: dict[str, tuple[str, str]], ch: Chain, sft: str, rounds: int,
    pairs_done: set[str],
) -> None:  # fmt: skip
    """One seed's pairs and DPO rounds, starting from its own SFT policy ``sft`` (seed i's from seed i's)."""
    pairs, seed = f"pairs{ch.sft}", ch.dpo_update
    if pairs not in pairs_done:  # DPO seeds that share one SFT policy share its pairs
        pairs_done.add(pairs)
        steps.append(Step(pairs, "pairs", {"instructions": ("split", "train"), "adapter": (sft, "adapter")},
                          {"policy": sft}))  # fmt: skip
    dpo = f"dpo{ch.dpo}"
    steps.append(Step(dpo, "dpo", {"pairs": (pairs, "pairs"), "sft_adapter": (sft, "adapter")}, update=seed))
    adapters[f"adapter:{dpo}"] = (dpo, "adapter")
    policy = dpo
    for r in range(2, rounds + 1):
        pr, new = f"pairs-r{r}{ch.dpo}", f"dpo-r{r}{ch.dpo}"
        steps += [
            Step(pr, "pairs", {"instructions": ("split", "train"), "adapter": (policy, "adapter")},
                 {"policy": policy, "round": r}),
            Step(new, "dpo", {"pairs": (pr, "pairs"), "sft_adapter": (policy, "adapter")}, {"round": r},
                 update=seed),
        ]  # fmt: skip
        adapters[f"adapter:{new}"] = (new, "adapter")
        policy = new


class Run:
    """State of one run dir: the config, the single engine, the manifest."""

    def __init__(self, config_path: Path, run_dir: Path, *, progress: bool = True) -> None:
        self.config_path, self.run_dir, self.progress = config_path, run_dir, progress
        self.config = load_config(config_path)
        self._engine: Engine | None = None
        self.shared: dict[str, Any] = {}  # facts later stages need, e.g. the critic picked by critique
        self.manifest_path = run_dir / "manifest.json"
        self.manifest: dict[str, Any] = {"run": {}, "provenance": {}, "stages": [], "gates": []}

    @property
    def model_spec(self) -> ModelSpec:
        m = self.config.model
        return ModelSpec(
            ref=m.ref,
            dtype=m.dtype,
            quant=m.quant,
            device=m.device,
            trust_remote_code=m.trust_remote_code,
            revision=m.revision,
        )

    def engine(self) -> Engine:
        if self._engine is None:
            backend = BackendSpec(**self.config.engine.model_dump())
            self._engine = Engine.load(self.model_spec, backend=backend)
            self._engine.text_is_data = True  # its prompts embed model text
            self._engine.progress = self.progress
            self.manifest["provenance"] = self._engine.provenance
        return self._engine

    def release_engine(self) -> None:
        """Drop the shared engine so a training stage's own copy is the only base in memory."""
        if self._engine is not None:
            if self._engine.backend is not None:  # vLLM's engine processes hold their own weights + KV cache
                self._engine.backend.close()
            self._engine = None
            gc.collect()

    def save(self) -> None:
        write_manifest(self.run_dir, "run", {k: v for k, v in self.manifest.items() if k != "stage"})

    def device(self, result: StageResult) -> str:
        """Where a stage ran: its own model's device (training), else the shared engine's, else the spec."""
        if result.device:
            return result.device
        if self._engine is not None:
            return str(self._engine.provenance.get("device"))
        return self.model_spec.device

    def cost(self, seconds: float, device: str) -> dict[str, float]:
        price = self.config.run.price
        gpu = device.startswith("cuda")
        hours = seconds / 3600
        cpu_h, gpu_h = (0.0, hours) if gpu else (hours, 0.0)
        return {
            "cpu_hours": round(cpu_h, 5),
            "gpu_hours": round(gpu_h, 5),
            "cost": round(cpu_h * price.cpu_per_hour + gpu_h * price.gpu_per_hour, 5),
        }


def step_config(run: Run, step: Step) -> Any:
    """The config section as ``step`` runs it: a seed chain's stage gets its own seed (``step.update``)."""
    section = getattr(run.config, step.section)
    return section.model_copy(update=step.update) if step.update else section


def key_parts(
    run: Run, step: Step, upstream: dict[str, str], hashes: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """What a stage's cache key hashes; kept beside the key so a rerun can say what changed (``reruns``)."""
    section = step_config(run, step)
    return {
        "stage": step.section,
        "extra": step.extra,
        # A stage's key holds its own seed, never the seed list: adding a seed leaves the others cached,
        # and seeds: [s] keys as seed: s did before the list existed.
        "config": section.model_dump(mode="json", exclude={"seeds"}),
        "model": run.config.model.model_dump(mode="json"),
        # device/dtype "auto" resolve per machine (fp32 CPU, bf16 CUDA): a CPU run's outputs are not a GPU
        # run's. Only a non-CPU resolution enters the key, so CPU runs keep their keys.
        **({"resolved_device": dev} if (dev := resolve_device(run.model_spec)) != "cpu" else {}),
        "backend": run.config.engine.backend,
        # packed linears change the last bits of outputs; "exact" leaves the key as it was before the option
        **({"linear": run.config.engine.linear} if run.config.engine.linear != "exact" else {}),
        "seed": run.config.run.seed,
        "inputs": {k: upstream[s] for k, (s, _) in step.inputs.items() if s in upstream},
        "input_hashes": {k: hashes[s].get(o) for k, (s, o) in step.inputs.items() if s in hashes},
        "code": code_version(),
    }


def _stage_key(run: Run, step: Step, upstream: dict[str, str], hashes: dict[str, dict[str, str]]) -> str:
    return stable_hash(key_parts(run, step, upstream, hashes))[:16]


def _completed(stage_dir: Path, key: str) -> dict[str, Any] | None:
    try:
        m = json.loads((stage_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if m.get("complete") and m.get("key") == key else None


def run_step(
    run: Run,
    step: Step,
    upstream_keys: dict[str, str],
    outputs: dict[str, dict[str, Path]],
    hashes: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """Run (or reuse) one stage; return its manifest entry. Fills ``outputs`` and ``hashes`` for it."""
    parts = key_parts(run, step, upstream_keys, hashes)
    key = stable_hash(parts)[:16]
    stage_dir = run.run_dir / step.name
    done = _completed(stage_dir, key)
    rerun_reason = None
    if done is not None:
        rerun_reason = why_changed(run.run_dir, done["outputs"], done.get("output_hashes"))
        if rerun_reason is None:
            log.info("%s: cached (key %s)", step.name, key)
            outputs[step.name] = {k: run.run_dir / v for k, v in done["outputs"].items()}
            hashes[step.name] = done["output_hashes"]
            return _shown({**done["summary"], "status": "cached"})
        log.warning("%s: rerunning from scratch: %s", step.name, rerun_reason)
        shutil.rmtree(stage_dir)
    if stage_dir.exists():
        previous, previous_parts = read_key(stage_dir)
        if previous != key:  # work from another config/code: say what changed, then start clean
            if previous is not None:
                rerun_reason = why_rerun(previous_parts, parts)
                finished = _completed(stage_dir, previous) is not None
                what = "rerunning from scratch" if finished else "discarding an unfinished attempt"
                log.warning("%s: %s: %s", step.name, what, rerun_reason)
            shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(stage_dir / ".key", key_record(key, parts))
    inputs = {name: outputs[s][o] for name, (s, o) in step.inputs.items() if s in outputs and o in outputs[s]}
    module = importlib.import_module(f"selfalign.stages.{step.section}")
    ctx = StageContext(
        name=step.name,
        config=step_config(run, step),
        out_dir=stage_dir,
        inputs=inputs,
        engine=run.engine,
        seed=run.config.run.seed,
        progress=run.progress,
        extra={"model_spec": run.model_spec, **run.shared, **step.extra},
    )
    if step.section in TRAINING:
        run.release_engine()
    log.info("%s: running", step.name)
    if (view := progress.current()) is not None:
        view.stage_started(step.name)
    started = time.perf_counter()
    try:
        result: StageResult = module.run(ctx)
    except Exception as e:  # a disk/path fault from a library (e.g. the Rust tokenizer) becomes an OSError
        err = as_os_error(e)
        if err is None:
            raise
        if err.filename is None:
            err.filename = str(stage_dir)
        raise err from e
    wall = time.perf_counter() - started
    rel = {k: str(Path(p).resolve().relative_to(run.run_dir.resolve())) for k, p in result.outputs.items()}
    output_hashes = digests(run.run_dir, rel)
    summary = {
        "name": step.name,
        "key": key,
        "dir": step.name,
        "outputs": rel,
        "counts": result.counts,
        "metrics": result.metrics,
        "wall_seconds": round(wall, 2),
        "tokens_generated": result.tokens_generated,
        "device": (device := run.device(result)),
        **run.cost(wall, device),
        **({"rerun_reason": rerun_reason} if rerun_reason else {}),
    }
    try:
        own = json.loads((stage_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        own = {}
    own.pop("stage", None)
    write_manifest(
        stage_dir,
        step.name,
        {
            **own,
            "key": key,
            "config_hash": stable_hash(ctx.config.model_dump(mode="json"))[:16],
            "inputs": {k: str(v) for k, v in inputs.items()},
            "code_version": code_version(),
            "outputs": rel,
            "output_hashes": output_hashes,
            "summary": summary,
            "complete": True,
        },
    )
    outputs[step.name] = {k: run.run_dir / v for k, v in rel.items()}
    hashes[step.name] = output_hashes
    return _shown({**summary, "status": "done"})


def _shown(entry: dict[str, Any]) -> dict[str, Any]:
    """Tell the run's view (if one is installed) that a stage finished; return its entry."""
    if (view := progress.current()) is not None:
        view.stage_finished(entry)
    return entry


def run_pipeline(
    config_path: str | Path,
    run_dir: str | Path,
    *,
    progress: bool = True,
    until: str | None = None,
    force: bool = False,
) -> Path:
    """Run every stage in order (resumably), or up to and including ``until``; return the run dir.

    Holds the run dir's lock throughout: a second run on the same dir fails at once, naming this one. A
    change that would rerun every finished stage (the model, the seed, the first stage's settings, the code)
    is refused unless ``force`` (``reruns.refuse_replacing_all``).
    """
    run = Run(Path(config_path), Path(run_dir), progress=progress)
    c = run.config
    steps = plan(c.run.rounds, c.run.sft_rounds, c.sft.seeds, c.dpo.seeds)
    if until is not None:  # checked before anything is locked, loaded or written
        names = [s.name for s in steps]
        if until not in names:
            raise ConfigError(f"--until {until!r}: no such stage; stages are {', '.join(names)}")
        steps = steps[: names.index(until) + 1]
    with run_dir_lock(run.run_dir, command_line()):
        first = key_parts(run, steps[0], {}, {})  # every stage depends on the first one
        refuse_replacing_all(run.run_dir, steps[0].name, stable_hash(first)[:16], first, force)
        _run_locked(run, config_path, steps, until)
    return run.run_dir


def _run_locked(run: Run, config_path: str | Path, steps: list[Step], until: str | None) -> None:
    stale = sweep_stale(run.run_dir)
    if stale:
        log.info("removed %d temp file(s) left by an interrupted run, e.g. %s", len(stale), stale[0])
    started = time.time()
    run.manifest["run"] = {
        "config_path": str(config_path),
        "config_hash": stable_hash(run.config.model_dump(mode="json"))[:16],
        "started": started,
        "selfalign_version": selfalign.__version__,
        "git": git_state(),
        "code_version": code_version(),
    }
    if (view := progress.current()) is not None:
        view.begin([s.name for s in steps])
    run.engine()  # preflight: load with guards and sentinels before any work
    run.save()
    keys: dict[str, str] = {}
    outputs: dict[str, dict[str, Path]] = {}
    hashes: dict[str, dict[str, str]] = {}
    for step in steps:
        entry = run_step(run, step, keys, outputs, hashes)
        keys[step.name] = entry["key"]
        if step.section == "critique":  # evaluation scores open-ended items with the measured-best critic
            run.shared["critic"] = entry["metrics"].get("scorer")
        run.manifest["stages"] = [s for s in run.manifest["stages"] if s["name"] != step.name] + [entry]
        gates = evaluate_gates(step.section, entry, run.config.gates)
        run.manifest["gates"] += gates
        for notice in gate_notices(gates):
            log.warning(notice)
        run.save()
        if step.section == "split":  # fail now, not an hour later, on items no answer can pass
            check_budget(outputs[step.name]["test"], run.config.evaluate.max_new_tokens)
        failed = [g for g in gates if not g["passed"] and not g["overridden"]]
        if failed:
            g = failed[0]
            raise GateError(
                f"gate {g['name']} failed after {step.name}: {g['value']} vs {g['kind']} {g['threshold']} "
                "(set gates.override: true to record it and continue)"
            )
    run.manifest["run"].update(finished=time.time(), wall_seconds=round(time.time() - started, 2))
    run.manifest["run"]["until"] = until
    run.manifest["run"]["report"] = None
    run.save()
    if run.config.run.report and until is None:
        from selfalign.report import build_report

        run.manifest["run"]["report"] = build_report(run.run_dir).name  # recorded so the CLI names only it
        run.save()
