"""Critique and pairs stages end to end on the tiny random model; the contrast on the real model."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from selfalign.constraints import HELD_OUT_TYPES, augment, train_types
from selfalign.data.schemas import validate_file
from selfalign.engine import Engine
from selfalign.judge import Item, get_scorer
from selfalign.stages.base import StageContext
from selfalign.stages.critique import CritiqueConfig, _too_short
from selfalign.stages.critique import run as run_critique
from selfalign.stages.pairs import NegativesConfig, PairsConfig, redraw_constraints
from selfalign.stages.pairs import run as run_pairs

QC = {"runaway": False, "truncated": False, "too_short": False, "echo": False, "empty": False}


@pytest.fixture
def tiny(tiny_engine: Engine) -> Engine:
    return tiny_engine


def _write(path: Path, recs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def test_critique_stage_writes_judgments_accepted_and_calibration(tiny: Engine, tmp_path: Path) -> None:
    recs = [
        {"id": "r1", "instruction_id": "i1", "instruction": "Name a fruit.", "prompt": "p", "raw": "Apple.",
         "text": "Apple.", "stop_reason": "stop", "n_tokens": 2, "qc": QC},
        {"id": "r2", "instruction_id": "i2", "instruction": "Write in lowercase.", "prompt": "p", "raw": "x",
         "text": "all lowercase here", "stop_reason": "stop", "n_tokens": 3, "qc": QC,
         "constraints": [{"type": "lowercase", "params": {}}]},
        {"id": "r3", "instruction_id": "i3", "instruction": "Write in lowercase.", "prompt": "p", "raw": "x",
         "text": "Not Lowercase", "stop_reason": "stop", "n_tokens": 3, "qc": {**QC, "echo": True},
         "constraints": [{"type": "lowercase", "params": {}}]},
    ]  # fmt: skip
    cfg = CritiqueConfig(
        critic="auto", calibration_per_kind=2, accept_threshold=-1e9, accept_top_fraction=None
    )
    inputs = {"responses": _write(tmp_path / "r.jsonl", recs)}
    ctx = StageContext("critique", cfg, tmp_path / "out", inputs, lambda: tiny)
    res = run_critique(ctx)
    validate_file(res.outputs["judgments"], "judgment")
    accepted = [json.loads(line)["id"] for line in res.outputs["accepted"].read_text().splitlines()]
    assert accepted == ["r1", "r2"]  # r3 fails its check (and QC)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    cal = manifest["metrics"]["calibration"]
    assert manifest["metrics"]["scorer"] == cal["chosen"] and cal["pointwise"][cal["chosen"]]
    assert "ab-pointwise" in manifest["metrics"]["ab_prior"]
    # "confident" is the critic's own verdict, not a function of where the acceptance line is drawn.
    strict = CritiqueConfig(critic="auto", calibration_per_kind=2, accept_threshold=1e9,
                            accept_top_fraction=None)
    again = run_critique(StageContext("critique", strict, tmp_path / "out2", inputs, lambda: tiny))

    def confident(path: Path) -> list[bool]:
        return [json.loads(line)["confident"] for line in path.read_text().splitlines()]

    assert confident(again.outputs["judgments"]) == confident(res.outputs["judgments"])


def test_critique_accepts_distinct_passing_samples_up_to_the_cap(tiny: Engine, tmp_path: Path) -> None:
    lower = [{"type": "lowercase", "params": {}}]

    def rec(i: int, iid: str, text: str) -> dict:
        return {"id": f"{iid}-r{i}", "instruction_id": iid, "instruction": "Write in lowercase.",
                "prompt": "p", "raw": text, "text": text, "stop_reason": "stop", "n_tokens": 3, "qc": QC,
                "constraints": lower}  # fmt: skip

    recs = [rec(0, "i1", "one answer"), rec(1, "i1", "one  answer"), rec(2, "i1", "Fails Check"),
            rec(3, "i1", "second answer"), rec(4, "i1", "third answer"),
            rec(0, "i2", "other one")]  # fmt: skip
    cfg = CritiqueConfig(critic="likelihood-contrast", calibration_per_kind=1, max_accepted_per_instruction=2)
    inputs = {"responses": _write(tmp_path / "r.jsonl", recs)}
    res = run_critique(StageContext("critique", cfg, tmp_path / "out", inputs, lambda: tiny))
    accepted = [json.loads(line)["id"] for line in res.outputs["accepted"].read_text().splitlines()]
    assert accepted == ["i1-r0", "i1-r3", "i2-r0"]
    counts = json.loads((tmp_path / "out" / "manifest.json").read_text())["counts"]
    assert (counts["dropped_duplicate_text"], counts["dropped_over_cap"]) == (1, 1)
    assert counts["accepted_instructions"] == 2


def test_critique_word_floor_drops_short_open_length_answers_before_the_cap(tiny: Engine, tmp_path: Path):
    lower = [{"type": "lowercase", "params": {}}]
    capped = [{"type": "lowercase", "params": {}}, {"type": "max_words", "params": {"n": 5}}]
    long = "a long enough answer in lowercase words"  # 7 words

    def rec(i: int, iid: str, text: str, cs: list[dict]) -> dict:
        return {"id": f"{iid}-r{i}", "instruction_id": iid, "instruction": "Write in lowercase.",
                "prompt": "p", "raw": text, "text": text, "stop_reason": "stop", "n_tokens": 3, "qc": QC,
                "constraints": cs}  # fmt: skip

    # i1: the short passing sample comes first; with the floor the cap of 1 goes to the long one instead.
    # i2: max_words fixes the length, so its short answer is kept under the floor.
    recs = [rec(0, "i1", "too short", lower), rec(1, "i1", long, lower),
            rec(0, "i2", "short is asked", capped)]  # fmt: skip
    inputs = {"responses": _write(tmp_path / "r.jsonl", recs)}

    def accepted(floor: int | None, out: str) -> tuple[list[str], dict]:
        cfg = CritiqueConfig(critic="likelihood-contrast", calibration_per_kind=1,
                             max_accepted_per_instruction=1, min_words=floor)  # fmt: skip
        res = run_critique(StageContext("critique", cfg, tmp_path / out, inputs, lambda: tiny))
        ids = [json.loads(line)["id"] for line in res.outputs["accepted"].read_text().splitlines()]
        return ids, json.loads((tmp_path / out / "manifest.json").read_text())["counts"]

    assert accepted(None, "off")[0] == ["i1-r0", "i2-r0"]
    ids, counts = accepted(6, "on")
    assert ids == ["i1-r1", "i2-r0"]
    assert (counts["dropped_short"], counts["dropped_over_cap"]) == (1, 0)

    # Examples back-translation adds are held to the floor too: every short response passes some rules.
    train = _write(tmp_path / "train.jsonl", [{"id": "i1", "text": "Write."}, {"id": "i2", "text": "Write."}])
    cfg = CritiqueConfig(critic="likelihood-contrast", calibration_per_kind=1, back_translate=2, min_words=6)
    ctx = StageContext("critique", cfg, tmp_path / "bt", inputs | {"train": train}, lambda: tiny)
    res = run_critique(ctx)
    added = [json.loads(x) for x in res.outputs["accepted"].read_text().splitlines() if "-bt" in x]
    assert added and not [r["text"] for r in added if _too_short(r, 6)]


def test_pairs_stage_pairs_come_from_the_model_with_sources(tiny: Engine, tmp_path: Path) -> None:
    recs = [
        {"id": f"i{k}", "text": t, "category": "creative"}
        for k, t in enumerate(["Describe the sea.", "Name three colors.", "Write a line about cats."])
    ]
    lower = [{"type": "lowercase", "params": {}}]
    recs.append({"id": "c1", "text": "Say hi in lowercase.", "constraints": lower})
    cfg = PairsConfig(n_samples=3, max_new_tokens=8, critic="likelihood-contrast", calibration_per_kind=1,
                      margin_threshold=-1e9, prompt_style="zero-shot",
                      negatives=NegativesConfig(ratio=1.0, weights={"truncated": 0, "other_answer": 1,
                                                                    "refusal": 1, "padded": 0}))  # fmt: skip
    ctx = StageContext("pairs", cfg, tmp_path / "out", {"instructions": _write(tmp_path / "i.jsonl", recs)},
                       lambda: tiny)  # fmt: skip
    res = run_pairs(ctx)
    validate_file(res.outputs["pairs"], "pair")
    pairs = [json.loads(line) for line in res.outputs["pairs"].read_text().splitlines()]
    lines = res.outputs["pair_details"].read_text().splitlines()
    details = {json.loads(line)["id"]: json.loads(line) for line in lines}
    assert pairs and all(p["chosen"] != p["rejected"] for p in pairs)
    critic = [p for p in pairs if p["source"] == "critic:likelihood-contrast"]
    assert critic, pairs
    for p in critic:  # both sides are among the model's own samples for that prompt
        d = details[p["id"]]
        assert d["chosen_index"] != d["rejected_index"]
    # 8 tokens of a random model: its samples run to the limit, and a rejected one stays open for DPO
    assert any(not p["rejected_ended"] for p in critic)
    for p in pairs:
        assert p["chosen"].endswith("\nEND") and p["rejected"].endswith("\nEND") == p["rejected_ended"]
    neg = [p["source"] for p in pairs if p["source"].startswith("negative:")]
    req = res.metrics["negatives_requested"]
    assert req["truncated"] == req["padded"] == 0 and abs(req["other_answer"] - req["refusal"]) <= 1
    assert sum(req.values()) >= 3 and len(neg) <= sum(req.values())
    assert set(neg) <= {"negative:other_answer", "negative:refusal"}
    assert all("I'm sorry, but I" in p["rejected"] for p in pairs if p["source"] == "negative:refusal")


def test_likelihood_contrast_on_the_real_model(smol_engine: Engine) -> None:
    engine = smol_engine
    scorer = get_scorer("likelihood-contrast")
    right = "Pride and Prejudice was written by Jane Austen and first published in 1813."
    items = [
        Item("own", 'Who wrote the novel "Pride and Prejudice", and when was it published?', right),
        Item("other", "Give me a recipe for pancakes.", right),
    ]
    own, other = scorer.score(engine, items)
    # Same response tokens, so the reference (neutral) term is identical: only the instruction differs.
    assert own.details["n_tokens"] == other.details["n_tokens"] > 10
    assert own.logp[1] == pytest.approx(other.logp[1])
    assert own.score > 0 > other.score or own.score > other.score + 0.5


def test_top_fraction_threshold_is_scale_free():
    from selfalign.judge.types import Judgment
    from selfalign.stages.critique import _threshold

    def judged(scores):
        return [
            Judgment(
                item_id=str(i),
                scorer="x",
                score=s,
                p_good=0.5,
                margin=s,
                orders_agree=True,
                prompts=[],
                logp=[],
                per_order=[s],
            )
            for i, s in enumerate(scores)
        ]

    cfg = CritiqueConfig(accept_top_fraction=0.5)
    assert _threshold(cfg, judged([-20.0, -10.0, -15.0, -12.0])) == -12.0  # keeps the best two
    assert _threshold(cfg, judged([2.0, 1.0, 4.0, 3.0])) == 3.0  # same rule, other units
    assert _threshold(CritiqueConfig(accept_top_fraction=None, accept_threshold=0.7), judged([1.0])) == 0.7
    # A threshold beside the default fraction would be ignored: refused, naming the way to use it.
    with pytest.raises(ValueError, match="accept_top_fraction: null"):
        CritiqueConfig(accept_threshold=0.7)


def test_round_two_draws_fresh_samples_and_constraints(tiny: Engine, tmp_path: Path) -> None:
    recs = []
    for k, base in enumerate(["Describe the sea", "Name three colors", "Write a line about cats",
                              "Plan a picnic", "Explain rain"]):  # fmt: skip
        text, cs = augment(base, random.Random(k), k=1 + k % 2, allowed_types=train_types())
        recs.append({"id": f"c{k}", "text": text, "constraints": cs, "category": "creative",
                     "gen": {"augment": {"base_text": base, "types_from": "train"}}})  # fmt: skip
    src = _write(tmp_path / "i.jsonl", recs)
    cfg = PairsConfig(n_samples=3, max_new_tokens=8, critic="likelihood-contrast", calibration_per_kind=1,
                      prompt_style="zero-shot")  # fmt: skip
    outs = {}
    for r in (1, 2):
        ctx = StageContext(f"pairs-r{r}", cfg, tmp_path / f"out{r}", {"instructions": src}, lambda: tiny,
                           extra={"round": r})  # fmt: skip
        run_pairs(ctx)
        outs[r] = json.loads((tmp_path / f"out{r}" / "manifest.json").read_text())["metrics"]
    assert (outs[1]["round"], outs[2]["round"]) == (1, 2) and outs[1]["seed"] != outs[2]["seed"]
    again = redraw_constraints(recs, outs[2]["seed"], 2)
    assert [r["constraints"] for r in again] != [r["constraints"] for r in recs]
    for old, new in zip(recs, again, strict=True):
        assert len(new["constraints"]) == len(old["constraints"])
        assert not {c["type"] for c in new["constraints"]} & HELD_OUT_TYPES
        assert new["text"].startswith(old["gen"]["augment"]["base_text"])
    assert redraw_constraints(recs, 0, 1) == recs
