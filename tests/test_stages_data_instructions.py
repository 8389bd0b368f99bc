"""Stage ``instructions``: filtering, dedup, quotas, stop reasons, ids, and resume after a kill.

A scripted engine (completions chosen by a hash of the prompt) makes the dedup/quota cases exact; the
tiny random model runs the real engine path once.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from fakes import KillSwitch
from selfalign.data.dedup import near_duplicate_pairs
from selfalign.data.schemas import validate_file
from selfalign.engine import Engine, Generation, GenParams
from selfalign.prompts import pools
from selfalign.stages.base import StageContext
from selfalign.stages.instructions import InstructionsConfig, instruction_id, run

# Per prompt the scripted model writes item k+1 and two more; the pool mixes new tasks, an exact repeat,
# a near-duplicate, a meta line, a format marker and a copy of a seed.
POOL = [
    "Name three rivers that flow through Germany.",
    "Explain how a refrigerator keeps food cold.",
    "Write a limerick about a forgetful wizard.",
    "Describe the smell of fresh bread in two sentences.",
    "List four uses for an empty glass jar.",
    "What causes the tides in the ocean?",
    "Summarize the plot of a heist movie in one line.",
    "Classify the following animals as mammals or birds: bat, owl, whale.",
    'Rewrite this sentence in the passive voice: "The dog chased the ball."',
    "Suggest five names for a bakery that sells only pies.",
    "If a train travels 60 miles in 1.5 hours, what is its average speed?",
    "Compare the advantages of trains and planes for a 500 km trip.",
]
NOISE = [
    "Name three rivers that flow through Germany.",  # exact repeat of POOL[0]
    "Name three rivers that run through Austria.",  # near-duplicate of POOL[0]
    "Here are some more questions:",  # meta line
    "Response: write the answer below.",  # format marker
    "What is the tallest mountain in Africa?",  # a seed
]


class ScriptedEngine(KillSwitch):
    def generate(self, prompts: list[str], params: GenParams) -> list[Generation]:
        self.tick()
        out = []
        for p in prompts:
            h = int(hashlib.sha256(f"{params.seed}{p}".encode()).hexdigest(), 16)
            items = [POOL[h % len(POOL)], NOISE[h % len(NOISE)], POOL[(h // 7) % len(POOL)]]
            k = int(p.rsplit("\n", 1)[-1].rstrip("."))
            text = f" {items[0]}\n" + "\n".join(f"{k + 1 + i}. {t}" for i, t in enumerate(items[1:]))
            out.append(Generation(p, text, text, "stop", 10, 20, "\n\n", h % 1000))
        return out


def _ctx(tmp_path: Path, cfg: InstructionsConfig, engine: object) -> StageContext:
    return StageContext(name="instructions", config=cfg, out_dir=tmp_path, inputs={}, engine=lambda: engine)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_filters_dedup_and_reasons(tmp_path: Path) -> None:
    cfg = InstructionsConfig(n=50, max_prompts=40, batch_size=8, categories=["brainstorm", "creative"])
    res = run(_ctx(tmp_path, cfg, ScriptedEngine()))
    recs = _read(res.outputs["instructions"])
    texts = [r["text"] for r in recs]
    assert len(texts) == len(set(texts)) <= len(POOL)
    assert near_duplicate_pairs(texts) == []
    assert not any(t.startswith(("Here are", "Response:")) for t in texts)
    assert "What is the tallest mountain in Africa?" not in texts
    c = res.counts
    assert c["dropped_duplicate"] > 0 and c["dropped_near_duplicate"] > 0
    assert c["dropped_format_marker"] > 0 and c["dropped_seed_copy"] > 0
    assert c["prompts"] == 40 and res.metrics["stopped_by"] == "budget"
    assert all(r["id"] == instruction_id(r["text"]) for r in recs)
    assert validate_file(res.outputs["instructions"], "instruction")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["metrics"]["stopped_by"] == "budget"


def test_quota_and_target_stop(tmp_path: Path) -> None:
    cfg = InstructionsConfig(n=6, max_prompts=400, batch_size=4, categories=["brainstorm", "creative"])
    res = run(_ctx(tmp_path, cfg, ScriptedEngine()))
    per_cat = Counter(r["category"] for r in _read(res.outputs["instructions"]))
    assert per_cat == {"brainstorm": 3, "creative": 3}  # quota ceil(6/2) each
    assert res.metrics["stopped_by"] == "target"
    assert res.counts["prompts"] < 400


def test_prompt_and_gen_are_stored(tmp_path: Path) -> None:
    cfg = InstructionsConfig(n=4, max_prompts=8, batch_size=4, categories=["brainstorm"])
    rec = _read(run(_ctx(tmp_path, cfg, ScriptedEngine())).outputs["instructions"])[0]
    assert rec["prompt"].startswith(pools.list_format().headers["brainstorm"])
    assert rec["gen"]["temperature"] == cfg.temperature and "row_seed" in rec["gen"]


def test_kill_and_resume_matches_uninterrupted(tmp_path: Path) -> None:
    cfg = InstructionsConfig(n=30, max_prompts=48, batch_size=4, categories=["brainstorm", "analytical"])
    full = run(_ctx(tmp_path / "full", cfg, ScriptedEngine()))
    with pytest.raises(KeyboardInterrupt):
        run(_ctx(tmp_path / "cut", cfg, ScriptedEngine(fail_after=3)))
    shards = sorted((tmp_path / "cut" / "attempts.jsonl.shards").iterdir())
    assert len(shards) == 3 and not (tmp_path / "cut" / "instructions.jsonl").exists()
    again = run(_ctx(tmp_path / "cut", cfg, ScriptedEngine()))
    assert again.metrics["resumed_batches"] == 3
    assert _read(again.outputs["instructions"]) == _read(full.outputs["instructions"])
    assert again.counts == full.counts


def test_real_engine_path(tmp_path: Path, tiny_engine: Engine) -> None:
    cfg = InstructionsConfig(n=5, max_prompts=2, batch_size=2, max_new_tokens=12)
    res = run(_ctx(tmp_path, cfg, tiny_engine))
    assert res.counts["prompts"] == 2 and res.metrics["stopped_by"] == "budget"
    log = _read(res.outputs["attempts"])
    assert len(log) == 1 and len(log[0]["prompts"]) == 2
    assert res.tokens_generated > 0
