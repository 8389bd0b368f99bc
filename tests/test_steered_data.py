"""Steered samples in the data stages: ids, seeds, order, yield/fluency metrics, contrast pairs (issue 26).

The engine here is a fake that writes a comma-laden answer unless the row is steered, so the wiring is tested
apart from the steer itself (tests/test_steer_*.py test the steers on real tokenizers).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from fakes import KillSwitch
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.data.schemas import validate_file
from selfalign.engine import Generation, GenParams, OptionScore
from selfalign.stages.base import StageContext
from selfalign.stages.responses import ResponsesConfig, run
from selfalign.stages.steered import contrast_pair, fluency, repeated_trigrams, side_by_side, yield_table

NO_COMMAS = [{"type": "no_commas", "params": {}}]
TWO = [{"type": "no_commas", "params": {}}, {"type": "lowercase", "params": {}}]
ROWS = [
    ("a", "Name three rivers that flow through Germany.", NO_COMMAS),
    ("b", "Describe the smell of fresh bread.", None),
    ("c", "List four uses for an empty glass jar.", TWO),
]


class SteerableEngine(KillSwitch):
    """Unsteered rows write commas and capitals (fail both rules); steered rows obey them."""

    def __init__(self, fail_after: int | None = None) -> None:
        super().__init__(fail_after)
        self.calls_seen: list[tuple[int, bool, int]] = []  # (rows, steered, seed)
        self.held: list = []  # the constraints each steered row was held to

    def generate(self, prompts: list[str], params: GenParams, adapter: str | None = None,
                 constraints: list | None = None) -> list[Generation]:  # fmt: skip
        self.tick()
        self.calls_seen.append((len(prompts), constraints is not None, params.seed))
        if constraints is not None:
            assert len(constraints) == len(prompts) and all(constraints)  # only constrained rows are steered
            self.held.extend(constraints)
        out = []
        for i, p in enumerate(prompts):
            obey = constraints is not None
            text = " the rhine and the elbe and the danube." if obey else " The Rhine, the Elbe, the Main."
            out.append(Generation(p, text, text, "stop", 50, 9, None, 1000 + i, steered=obey))
        return out

    def logprobs(self, requests: list, *, adapter: str | None = None, batch_size: int = 16) -> list:
        return [[OptionScore(-2.0 * len(opts[0]) / 40, -2.0, 9)] for _, opts in requests]


def _instructions(path: Path) -> Path:
    recs = [{"id": i, "text": t, "category": "brainstorm", "source": "generated", "prompt": None,
             "gen": None, "constraints": c} for i, t, c in ROWS]  # fmt: skip
    write_jsonl_atomic(path, recs)
    return path


def _run(tmp: Path, engine: SteerableEngine, steered: int = 2, max_new_tokens: int = 96,
         length_floor: int | None = None) -> list[dict]:  # fmt: skip
    cfg = ResponsesConfig(samples=1, steered=steered, shared_prompt=True, batch_size=4, temperature=0.8,
                          max_new_tokens=max_new_tokens, length_floor=length_floor)
    inputs = {"instructions": _instructions(tmp / "train.jsonl")}
    ctx = StageContext(name="responses", config=cfg, out_dir=tmp / "out", inputs=inputs,
                       engine=lambda: engine)
    res = run(ctx)
    validate_file(res.outputs["responses"], "response")  # dead_end and the steered flag fit the schema
    return [json.loads(x) for x in res.outputs["responses"].read_text().splitlines()]


def test_steered_samples_only_for_constrained_items_with_own_ids_and_seed(tmp_path: Path) -> None:
    engine = SteerableEngine()
    recs = _run(tmp_path, engine)
    ids = [r["id"] for r in recs]
    assert ids == ["a-r0", "b-r0", "c-r0", "a-s0", "a-s1", "c-s0", "c-s1"]  # unsteered first, then steered
    steered = [r for r in recs if (r["gen"] or {}).get("steered")]
    assert {r["instruction_id"] for r in steered} == {"a", "c"}
    unsteered_seeds = {s for _, st, s in engine.calls_seen if not st}
    steered_seeds = {s for _, st, s in engine.calls_seen if st}
    assert steered_seeds and not steered_seeds & unsteered_seeds
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())["metrics"]
    # The historical yield counts unsteered samples only; the steer's table splits the two.
    assert manifest["yield"]["samples"] == 2 and manifest["yield"]["samples_passed"] == 0
    table = manifest["steer"]["yield"]
    assert table["steered"]["samples"] == 4 and table["steered"]["passed"] == 4
    assert table["unsteered"]["per_n_constraints"] == {"1": {"samples": 1, "passed": 0, "usable": 0},
                                                        "2": {"samples": 1, "passed": 0, "usable": 0}}
    fluency = manifest["steer"]["fluency"]
    assert fluency["steered"]["n"] == 4 and fluency["unsteered"]["n"] == 0
    assert manifest["steer"]["side_by_side"][0]["steered_passes"] is True


def test_an_instruction_the_budget_cannot_hold_is_not_steered_and_is_counted(tmp_path, monkeypatch):
    wordy = ("d", "Tell a story about a cat.", [{"type": "min_words", "params": {"n": 40}}])
    monkeypatch.setattr(f"{__name__}.ROWS", [*ROWS, wordy])
    recs = _run(tmp_path, SteerableEngine(), steered=1, max_new_tokens=32)
    assert [r["id"] for r in recs] == ["a-r0", "b-r0", "c-r0", "d-r0", "a-s0", "c-s0"]  # d: unsteered only
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["metrics"]["steer"]["not_steered_over_budget"] == ["d"]
    assert manifest["counts"]["not_steered_over_budget"] == 1


def test_a_length_floor_steers_open_rows_but_the_check_reads_the_instructions_own(tmp_path, monkeypatch):
    capped = ("d", "Name a river.", [{"type": "max_words", "params": {"n": 5}}])
    monkeypatch.setattr(f"{__name__}.ROWS", [*ROWS, capped])
    engine = SteerableEngine()
    recs = _run(tmp_path, engine, steered=1, length_floor=30)
    floor = {"type": "min_words", "params": {"n": 30}}
    assert engine.held == [[*NO_COMMAS, floor], [*TWO, floor], capped[2]]  # a capped row gets no floor
    steered = {r["instruction_id"]: r for r in recs if r["gen"].get("steered")}
    assert [steered[k]["constraints"] for k in "acd"] == [NO_COMMAS, TWO, capped[2]]
    assert [steered[k]["gen"].get("length_floor") for k in "acd"] == [30, 30, None]
    with pytest.raises(ValueError, match="length_floor 96 needs more tokens"):
        ResponsesConfig(max_new_tokens=96, length_floor=96)


def test_no_steered_calls_when_off(tmp_path: Path) -> None:
    engine = SteerableEngine()
    recs = _run(tmp_path, engine, steered=0)
    assert all(not st for _, st, _ in engine.calls_seen) and len(recs) == 3
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())["metrics"]
    assert "steer" not in manifest


def test_resume_after_a_kill_writes_the_same_records(tmp_path: Path) -> None:
    whole = _run(tmp_path / "whole", SteerableEngine())
    with contextlib.suppress(KeyboardInterrupt):
        _run(tmp_path / "killed", SteerableEngine(fail_after=1))
    resumed = _run(tmp_path / "killed", SteerableEngine())
    assert resumed == whole


def _rec(iid: str, text: str, cons: list, steered: bool, reason: str = "stop") -> dict:
    return {"instruction_id": iid, "instruction": "Say something.", "text": text, "constraints": cons,
            "stop_reason": reason, "gen": {"steered": steered} if steered else {},
            "qc": {"truncated": reason == "dead_end" or text.endswith(" z")}}  # fmt: skip


def test_yield_table_counts_per_type_per_k_and_dead_ends() -> None:
    recs = [_rec("a", "x, y", NO_COMMAS, False), _rec("a", "x y", NO_COMMAS, True),
            _rec("c", "x y", TWO, True), _rec("c", "X y", TWO, True, "dead_end"),
            _rec("a", "x y z", NO_COMMAS, True)]  # passes its check, but QC-flagged  # fmt: skip
    t = yield_table(recs)
    assert t["unsteered"]["samples"] == 1 and t["unsteered"]["passed"] == 0
    assert t["steered"]["samples"] == 4 and t["steered"]["passed"] == 3 and t["steered"]["dead_ends"] == 1
    assert t["steered"]["usable"] == 2 and t["steered"]["usable_rate"] == 0.5
    assert t["steered"]["per_type"]["no_commas"] == {"samples": 4, "passed": 3, "usable": 2}
    assert t["steered"]["per_n_constraints"]["2"] == {"samples": 2, "passed": 1, "usable": 1}


def test_contrast_pair_needs_a_steered_pass_and_an_unsteered_fail() -> None:
    assert contrast_pair(NO_COMMAS, ["a, b", "a b"], ["c d"]) == ("c d", "a, b")
    assert contrast_pair(NO_COMMAS, ["a b"], ["c d"]) is None  # the policy already obeys alone
    assert contrast_pair(NO_COMMAS, ["a, b"], ["c, d", " "]) is None  # the steered text failed its check


def test_side_by_side_puts_steer_wins_first_and_repetition_measure() -> None:
    recs = [_rec("a", "x y", NO_COMMAS, False), _rec("a", "x z", NO_COMMAS, True),
            _rec("b", "x, y", NO_COMMAS, False), _rec("b", "x y", NO_COMMAS, True)]  # fmt: skip
    rows = side_by_side(recs)
    assert [r["instruction_id"] for r in rows] == ["b", "a"]
    assert repeated_trigrams("a b c a b c a b c") > 0.5 and repeated_trigrams("one two three four") == 0.0


def test_report_shows_steered_beside_unsteered(tmp_path: Path) -> None:
    from selfalign.report.build import render
    from selfalign.report.load import load_run
    from selfalign.report.markdown import steer_section

    cfg = ResponsesConfig(samples=1, steered=1, shared_prompt=True, batch_size=4)
    inputs = {"instructions": _instructions(tmp_path / "train.jsonl")}
    run(StageContext(name="responses", config=cfg, out_dir=tmp_path / "run" / "responses", inputs=inputs,
                     engine=lambda: SteerableEngine()))  # fmt: skip
    html = render(tmp_path / "run")
    part = html[html.index('<section id="steering">') :]
    part = part[: part.index("</section>")]
    assert "the rhine and the elbe and the danube." in part and "The Rhine, the Elbe, the Main." in part
    assert "2/2 (100.0%)" in part and "0/2 (0.0%)" in part  # steered vs unsteered, all constrained samples
    md = steer_section(load_run(tmp_path / "run"))
    assert "| all constrained samples | 0/2 (0.0%) | 0/2 (0.0%) | 2/2 (100.0%) | 2/2 (100.0%) |" in md
    assert "steered (pass)" in md


class _Scorer:
    """Steered texts score -1 per token, unsteered -3."""

    def logprobs(self, requests: list, *, adapter: str | None = None, batch_size: int = 16) -> list:
        return [[OptionScore(0.0, -1.0 if "steer" in opts[0] else -3.0, 4)] for _, opts in requests]


def test_fluency_is_also_read_on_the_instructions_both_sides_pass() -> None:
    def rec(iid: str, text: str, steered: bool) -> dict:
        return {"id": f"{iid}-{text}", "instruction_id": iid, "instruction": "Say it.", "text": text,
                "constraints": NO_COMMAS, "qc": {}, "gen": {"steered": steered}}  # fmt: skip

    recs = [rec("a", "plain one", False), rec("a", "steer one", True), rec("b", "steer two", True),
            rec("b", "bad, comma", False), rec("c", "plain two", False)]  # fmt: skip
    out = fluency(_Scorer(), recs)  # type: ignore[arg-type]
    assert out["steered"]["n"] == 2 and out["unsteered"]["n"] == 2  # b's unsteered sample fails: not scored
    assert out["matched"] == {"instructions": 1, "steered": -1.0, "unsteered": -3.0}  # only a has both


def test_the_report_reads_fluency_on_the_matched_instructions_too() -> None:
    from selfalign.report.sections_steer import fluency_rows

    side = {"n": 2, "loglik_per_token": -2.0, "repeated_trigrams": 0.0, "mean_words": 9.0,
            "qc_rates": {"x": 0}}
    m = {"fluency": {"steered": side, "unsteered": side,
                     "matched": {"instructions": 1, "steered": -1.0, "unsteered": -3.0}}}  # fmt: skip
    rows = fluency_rows(m)
    assert rows[2] == ["unsteered, on the 1 instructions both pass", "1", "-3.000", "–", "–", "–"]
    assert rows[3][0].startswith("steered, on the 1") and rows[3][2] == "-1.000"
    assert len(fluency_rows({"fluency": {"steered": side, "unsteered": side}})) == 2  # older runs: no rows


def test_an_instruction_asking_for_another_language_is_not_steered_and_is_counted(tmp_path, monkeypatch):
    german = ("d", "Describe a harbour.", [{"type": "response_language", "params": {"language": "German"}}])
    english = ("e", "Describe a field.", [{"type": "response_language", "params": {"language": "English"}}])
    monkeypatch.setattr(f"{__name__}.ROWS", [*ROWS, german, english])
    recs = _run(tmp_path, SteerableEngine(), steered=1)
    assert [r["id"] for r in recs] == ["a-r0", "b-r0", "c-r0", "d-r0", "e-r0", "a-s0", "c-s0", "e-s0"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["metrics"]["steer"]["not_steered_language"] == ["d"]
    assert manifest["counts"]["not_steered_language"] == 1
    from selfalign.report.sections_steer import not_steered_note

    said = not_steered_note(manifest["metrics"]["steer"])
    assert said is not None and "1 instruction(s) ask for a language other than English" in said
    assert "token budget" not in said
    assert not_steered_note({"not_steered_over_budget": [], "not_steered_language": []}) is None
