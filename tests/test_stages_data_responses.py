"""Stage ``responses``: prompts, QC flags on crafted outputs, manifest rates, exclusion, kill-and-resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fakes import KillSwitch
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.data.schemas import validate_file
from selfalign.engine import Engine, Generation, GenParams
from selfalign.errors import DataError
from selfalign.prompts import pools
from selfalign.prompts.format import get_format
from selfalign.stages.base import StageContext
from selfalign.stages.responses import ResponsesConfig, clean, run

BULLETS = [{"type": "bullet_count", "params": {"n": 4}}]
INSTRUCTIONS = [
    ("a", "Name three rivers that flow through Germany.", "question_answering", None),
    ("b", "Write a limerick about a forgetful wizard.", "creative", None),
    ("c", "List four uses for an empty glass jar.", "brainstorm", BULLETS),
    ("d", "Explain how a refrigerator keeps food cold.", "analytical", None),
    ("e", "Describe the smell of fresh bread.", "creative", None),
]  # fmt: skip


def _write_instructions(path: Path, rows=INSTRUCTIONS) -> Path:
    recs = [{"id": i, "text": t, "category": c, "source": "generated", "prompt": None, "gen": None,
             "constraints": cs} for i, t, c, cs in rows]  # fmt: skip
    write_jsonl_atomic(path, recs)
    return path


# Crafted model outputs, one per instruction id: each trips exactly the flag named.
CRAFTED = {
    "a": ("The Rhine, the Elbe and the Danube.", "stop"),  # clean
    "b": ("There once was a wizard named Lou\nInstruction: Write another one.", "stop"),  # runaway
    "c": ("- hold pens\n- store buttons\n- a vase\n- keep", "length"),  # truncated
    "d": ("Cold.", "stop"),  # too_short
    "e": ("Describe the smell of fresh bread.", "stop"),  # echo
}


class CraftedEngine(KillSwitch):
    """Answers each prompt's (last) instruction with ``answer(instruction id, params)``."""

    def answer(self, iid: str, params: GenParams) -> tuple[str, str]:
        return CRAFTED[iid]

    def generate(self, prompts: list[str], params: GenParams, adapter: str | None = None) -> list[Generation]:
        self.tick()
        out = []
        for p in prompts:
            last = p.rsplit(get_format().instruction_prefix, 1)[-1].split("\n", 1)[0].strip()
            text, reason = self.answer(next(i for i, t, _, _ in INSTRUCTIONS if t == last), params)
            out.append(Generation(p, " " + text, " " + text, reason, 50, 20, None, 1))  # type: ignore[arg-type]
        return out


def _ctx(tmp_path: Path, cfg: ResponsesConfig, engine: object, inputs: dict[str, Path]) -> StageContext:
    return StageContext(name="responses", config=cfg, out_dir=tmp_path, inputs=inputs, engine=lambda: engine)


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_qc_flags_and_manifest_rates(tmp_path: Path) -> None:
    src = _write_instructions(tmp_path / "train.jsonl")
    res = run(_ctx(tmp_path / "out", ResponsesConfig(batch_size=2), CraftedEngine(), {"instructions": src}))
    recs = {r["instruction_id"]: r for r in _read(res.outputs["responses"])}
    flagged = {i: sorted(k for k, v in r["qc"].items() if v) for i, r in recs.items()}
    assert flagged == {"a": [], "b": ["runaway"], "c": ["truncated"], "d": ["too_short"], "e": ["echo"]}
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    rates = manifest["metrics"]["qc_rates"]
    assert rates["runaway"] == rates["echo"] == 0.2 and rates["any"] == 0.8 and rates["empty"] == 0.0
    assert manifest["metrics"]["constrained"] == 1
    assert validate_file(res.outputs["responses"], "response")


def test_record_keeps_exact_prompt_and_shots(tmp_path: Path) -> None:
    src = _write_instructions(tmp_path / "train.jsonl")
    res = run(_ctx(tmp_path / "out", ResponsesConfig(shots=3), CraftedEngine(), {"instructions": src}))
    recs = {r["instruction_id"]: r for r in _read(res.outputs["responses"])}
    for r in recs.values():
        assert r["prompt"].endswith(get_format().prompt(r["instruction"]))
        assert len(r["gen"]["shots"]) == 3
        for shot in r["gen"]["shots"]:
            assert pools.example_by_id(shot).instruction in r["prompt"]
    # A constrained instruction gets one constraint example among its shots.
    cons_ids = {e.id for e in pools.constraint_examples()}
    assert any(s in cons_ids for s in recs["c"]["gen"]["shots"])
    assert not any(s in cons_ids for s in recs["a"]["gen"]["shots"])


def test_pool_examples_near_copying_test_items_are_never_shown(tmp_path: Path) -> None:
    src = _write_instructions(tmp_path / "train.jsonl")
    example = pools.examples("question_answering")[0]
    test = _write_instructions(
        tmp_path / "test.jsonl", [("t", example.instruction, "question_answering", None)]
    )
    res = run(
        _ctx(tmp_path / "out", ResponsesConfig(shots=6), CraftedEngine(), {"instructions": src, "test": test})
    )
    recs = _read(res.outputs["responses"])
    assert example.id in res.metrics["excluded_pool_ids"]
    assert all(example.instruction not in r["prompt"] for r in recs)


def test_clean_strips_a_trailing_end_marker_only() -> None:
    assert clean("  Paris is the capital. END ") == "Paris is the capital."
    assert clean("The END of the story is sad.") == "The END of the story is sad."
    assert clean("And they lived happily. THE END") == "And they lived happily. THE END"
    assert clean("Paris.\nEND") == "Paris."
    assert clean('He said "yes." END') == 'He said "yes."'


def test_kill_and_resume_with_real_engine(tmp_path: Path, tiny_engine: Engine) -> None:
    src = _write_instructions(tmp_path / "train.jsonl")
    cfg = ResponsesConfig(batch_size=2, max_new_tokens=6, samples=2, temperature=0.8)
    full = run(_ctx(tmp_path / "full", cfg, tiny_engine, {"instructions": src}))

    class Killed:
        calls = 0

        def generate(
            self, prompts: list[str], params: GenParams, adapter: str | None = None
        ) -> list[Generation]:
            if Killed.calls == 3:
                raise KeyboardInterrupt("killed")
            Killed.calls += 1
            return tiny_engine.generate(prompts, params, adapter=adapter)

    with pytest.raises(KeyboardInterrupt):
        run(_ctx(tmp_path / "cut", cfg, Killed(), {"instructions": src}))
    assert not (tmp_path / "cut" / "responses.jsonl").exists()
    again = run(_ctx(tmp_path / "cut", cfg, tiny_engine, {"instructions": src}))
    # Batches of 2 over (sample 0: a-e, sample 1: a-e); the third call is the first half of batch 3
    # (e, sample 0), so the kill lands mid-batch and that batch's shard was never written.
    assert again.metrics["resumed_records"] == 4
    a, b = _read(full.outputs["responses"]), _read(again.outputs["responses"])
    assert a == b and len(b) == 10 and len({r["id"] for r in b}) == 10
    assert len({r["text"] for r in b if r["instruction_id"] == "a"}) == 2  # two different samples


def test_bad_instructions_file_names_line_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "train.jsonl"
    src.write_text('{"id": "a", "text": "x"}\n')
    with pytest.raises(DataError, match=r"train\.jsonl:1: category"):
        run(_ctx(tmp_path / "out", ResponsesConfig(), CraftedEngine(), {"instructions": src}))
    assert not (tmp_path / "out" / "responses.jsonl").exists()


class SeedCraftedEngine(CraftedEngine):
    """Instruction c (four bullets asked) gets three bullets for sample 0 and four from sample 2 on."""

    def answer(self, iid: str, params: GenParams) -> tuple[str, str]:
        n = 4 if iid == "c" and params.seed >= 2 else 3
        return "\n".join(f"- use {k}" for k in range(n)), "stop"


def test_extra_samples_go_only_to_constrained_instructions_without_a_pass(tmp_path: Path) -> None:
    src = _write_instructions(tmp_path / "ins.jsonl")
    cfg = ResponsesConfig(samples=1, extra_samples=3, shots=2)
    res = run(_ctx(tmp_path / "out", cfg, SeedCraftedEngine(), {"instructions": src}))
    recs = _read(res.outputs["responses"])
    ids = [r["id"] for r in recs]
    assert ids == ["a-r0", "b-r0", "c-r0", "c-r1", "c-r2", "c-r3", "d-r0", "e-r0"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    y = manifest["metrics"]["yield"]
    got = (y["samples"], y["samples_passed"], y["instructions"], y["instructions_with_a_pass"])
    assert got == (4, 2, 1, 1)
    assert y["per_type"]["bullet_count"] == {
        "samples": 4,
        "samples_passed": 2,
        "instructions": 1,
        "instructions_with_a_pass": 1,
    }
    assert manifest["metrics"]["extra_sampled_instructions"] == 1
    # The constraint shot of c's prompts shows its own type (bullet_count).
    shot = next(i for i in recs[2]["gen"]["shots"] if i.startswith("con-"))
    assert "bullet_count" in {c["type"] for c in pools.example_by_id(shot).constraints}


def test_shared_prompt_samples_are_best_of_n_and_batch_independent(
    tmp_path: Path, tiny_engine: Engine
) -> None:
    src = _write_instructions(tmp_path / "train.jsonl")
    runs = []
    for bs in (3, 8):  # 3: one instruction per call; 8: two per call
        cfg = ResponsesConfig(batch_size=bs, max_new_tokens=6, samples=3, temperature=1.0, shared_prompt=True)
        runs.append(_read(run(_ctx(tmp_path / f"b{bs}", cfg, tiny_engine, {"instructions": src})).outputs[
            "responses"]))  # fmt: skip
    assert runs[0] == runs[1]
    recs = runs[0]
    assert [r["id"] for r in recs[:3]] == ["a-r0", "a-r1", "a-r2"]
    for iid in "abcde":
        mine = [r for r in recs if r["instruction_id"] == iid]
        assert len({r["prompt"] for r in mine}) == 1  # one prompt, computed once per call
        assert len({r["gen"]["row_seed"] for r in mine}) == 3  # three different draws
    assert len({r["text"] for r in recs if r["instruction_id"] == "a"}) > 1
