"""``selfalign evaluate --benchmark ifeval``: IFEval's four numbers per condition with paired statistics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model

from ifeval_answers import ANSWERS
from selfalign import cli
from selfalign.benchmarks.ifeval_checkers import load_checkers
from selfalign.benchmarks.ifeval_data import load_ifeval
from selfalign.benchmarks.ifeval_score import score_records, score_response
from selfalign.benchmarks.ifeval_summary import summarize_ifeval
from selfalign.data.jsonl import read_jsonl
from selfalign.engine import Engine, ModelSpec
from selfalign.engine.types import Generation
from selfalign.evaluate.stats import paired_bootstrap_lift, paired_cluster_bootstrap_lift

SAMPLE = Path(__file__).parent / "data" / "ifeval" / "ifeval_sample.jsonl"
TINY = "tiny-random-llama"

# The same answers with five repaired and one broken (1016 no longer picks an allowed option).
FIXED = {
    **ANSWERS,
    "1001": ANSWERS["1001"].split("\n", 1)[1],
    "1003": ANSWERS["1003"].replace("**", ""),
    "1004": ANSWERS["1004"].rsplit("\n", 1)[0],
    "1006": ANSWERS["1006"].split("\n", 1)[1],
    "1014": "Fresh bread every morning.\n******\nWarm rolls all day long.",
    "1016": "I think yes.",
}


def _gens(answers: dict[str, str]) -> list[Generation]:
    return [Generation(f"Instruction: {k}", a, a, "stop", 3, 5) for k, a in answers.items()]


@pytest.fixture(scope="module")
def results():
    checkers = load_checkers()
    rows = {r.key: r for r in load_ifeval(SAMPLE, checkers)}
    picked = [rows[k] for k in ANSWERS]
    records = {
        "base_few_shot": score_records(checkers, picked, "base_few_shot", _gens(ANSWERS)),
        "fixed": score_records(checkers, picked, "fixed", _gens(FIXED)),
    }
    return summarize_ifeval(records, "base_few_shot", n_boot=500, seed=0)


# Worked out by hand from tests/ifeval_answers.py: (passed, n) for the baseline and for FIXED, and the
# McNemar discordant counts (b01: baseline passed, fixed failed; b10: the reverse).
HAND = {
    "prompt_strict": ((7, 14), (11, 14), 1, 5),
    "prompt_loose": ((11, 14), (11, 14), 1, 1),
    "instruction_strict": ((12, 20), (16, 20), 1, 5),
    "instruction_loose": ((16, 20), (16, 20), 1, 1),
}


@pytest.mark.parametrize("metric", list(HAND))
def test_four_numbers_and_paired_tests_match_the_hand_counts(results, metric):
    base_counts, fixed_counts, b01, b10 = HAND[metric]
    base = results["conditions"]["base_few_shot"]["ifeval"][metric]
    fixed = results["conditions"]["fixed"]["ifeval"][metric]
    assert (base["passed"], base["n"]) == base_counts and base["vs_baseline"] is None
    assert (fixed["passed"], fixed["n"]) == fixed_counts
    vs = fixed["vs_baseline"]
    assert (vs["mcnemar"]["b01"], vs["mcnemar"]["b10"], vs["mcnemar"]["method"]) == (b01, b10, "exact")
    # exact two-sided binomial: 2 * P[X <= min(b01, b10)], X ~ Bin(b01 + b10, 1/2), capped at 1
    n = b01 + b10
    p = min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b01, b10) + 1)) / 2**n)
    assert vs["p_value"] == pytest.approx(p)
    lift = fixed_counts[0] / fixed_counts[1] - base_counts[0] / base_counts[1]
    assert vs["lift"]["estimate"] == pytest.approx(lift)
    assert vs["lift"]["ci_low"] <= lift <= vs["lift"]["ci_high"] and vs["lift"]["resampled"] == "prompts"
    h = 2 * math.asin(math.sqrt(fixed_counts[0] / fixed_counts[1])) - 2 * math.asin(
        math.sqrt(base_counts[0] / base_counts[1])
    )
    assert vs["cohens_h"] == pytest.approx(h)


def test_bh_adjusts_the_four_metrics_as_one_family(results):
    vs = [results["conditions"]["fixed"]["ifeval"][m]["vs_baseline"] for m in HAND]
    # p = 0.21875, 1, 0.21875, 1 -> BH: 0.21875 * 4 / 2 = 0.4375 for both small ones, 1 for the others
    assert [v["p_bh"] for v in vs] == pytest.approx([0.4375, 1.0, 0.4375, 1.0])
    assert not any(v["significant"] for v in vs)
    assert results["n_prompts"] == 14 and results["n_instructions"] == 20


def test_per_instruction_counts(results):
    by = results["conditions"]["base_few_shot"]["by_instruction"]
    assert by["punctuation:no_comma"] == {"n": 1, "strict": 0, "loose": 1}
    assert by["startend:end_checker"] == {"n": 1, "strict": 0, "loose": 1}
    assert by["keywords:existence"] == {"n": 1, "strict": 0, "loose": 0}


def test_cluster_bootstrap_resamples_whole_prompts():
    a = [True, False, False, True, False, False, True, False, True, False]
    b = [True, True, False, True, True, True, False, True, True, True]
    # one unit per cluster: exactly the per-unit paired bootstrap (same draws)
    single = paired_bootstrap_lift(a, b, n_boot=300, seed=3)
    assert paired_cluster_bootstrap_lift(a, b, list(range(10)), n_boot=300, seed=3) == pytest.approx(single)
    # every unit twice, in one cluster per pair: the same interval as the undoubled data, while a per-unit
    # bootstrap of the doubled data (which wrongly treats the copies as independent) is narrower
    a2, b2 = [x for x in a for _ in "xx"], [x for x in b for _ in "xx"]
    c2 = [i for i in range(10) for _ in "xx"]
    clustered = paired_cluster_bootstrap_lift(a2, b2, c2, n_boot=300, seed=3)
    assert clustered == pytest.approx(single)
    naive = paired_bootstrap_lift(a2, b2, n_boot=300, seed=3)
    assert naive[2] - naive[1] < clustered[2] - clustered[1]


def test_conditions_must_answer_the_same_prompts(results):
    recs = {"base_few_shot": [{"key": "1"}], "x": [{"key": "2"}]}
    with pytest.raises(ValueError, match="does not answer the same items"):
        summarize_ifeval(recs, "base_few_shot")


@pytest.fixture(scope="module")
def adapter_dir(tmp_path_factory) -> Path:
    """A random LoRA adapter for the tiny model (init_lora_weights=False, so it changes outputs)."""
    maker = Engine.load(ModelSpec(ref=TINY, sentinels=False))
    root = tmp_path_factory.mktemp("adapters")
    torch.manual_seed(7)
    cfg = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(maker.model, cfg, adapter_name="sft").save_pretrained(str(root), selected_adapters=["sft"])
    return root / "sft"


def test_cli_scores_every_condition_on_an_ifeval_file(tmp_path, adapter_dir, capsys):
    out = tmp_path / "ifeval"
    argv = ["evaluate", "--benchmark", "ifeval", "--data", str(SAMPLE), "--out", str(out), "--model", TINY,
            "--max-new-tokens", "8", "--n-boot", "200", "--adapter", f"sft={adapter_dir}"]  # fmt: skip
    assert cli.run(argv) == 0
    printed = capsys.readouterr().out
    for word in ("base_zero_shot", "base_few_shot", "sft", "prompt strict", "instr. loose"):
        assert word in printed

    results = json.loads((out / "results.json").read_text())
    assert list(results["conditions"]) == ["base_zero_shot", "base_few_shot", "sft"]
    assert results["n_prompts"] == 20 and results["n_instructions"] == 27
    assert results["checkers"]["versions"]["lm_eval"] == "0.4.13"
    for name, res in results["conditions"].items():
        assert res["ifeval"]["prompt_strict"]["n"] == 20 and res["ifeval"]["instruction_loose"]["n"] == 27
        assert (res["ifeval"]["prompt_strict"]["vs_baseline"] is None) == (name == "base_few_shot")

    # every stored verdict is IFEval's verdict on the stored output; the prompt is the format's
    checkers = load_checkers()
    rows = {r.key: r for r in load_ifeval(SAMPLE, checkers)}
    records = read_jsonl(out / "items.jsonl")
    assert len(records) == 3 * 20
    for r in records:
        again = score_response(checkers, rows[r["key"]], r["output"])
        assert (tuple(r["strict"]), tuple(r["loose"])) == (again.strict, again.loose)
        assert r["prompt"].endswith(f"Instruction: {rows[r['key']].prompt.strip()}\nResponse:")
    few = [r for r in records if r["condition"] == "base_few_shot"]
    assert all(r["prompt"].count("Instruction:") == 4 for r in few)  # 3 solved examples + the prompt
    sft = {r["key"]: r["output"] for r in records if r["condition"] == "sft"}
    zero = {r["key"]: r["output"] for r in records if r["condition"] == "base_zero_shot"}
    assert sft != zero  # the adapter was applied
    assert (out / "manifest.json").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--benchmark", "ifeval"], "--benchmark ifeval needs --data FILE"),
        (["--benchmark", "mmlu", "--data", "x"], "--benchmark 'mmlu': unknown"),
        (["--items", "x", "--benchmark", "ifeval", "--data", "x"], "exclude each other"),
        (["--data", "x"], "--data is the file of a --benchmark"),
        ([], "give --items FILE, or --benchmark ifeval --data FILE"),
    ],
)
def test_cli_option_mistakes_are_one_line(tmp_path, capsys, args, message):
    assert cli.run(["evaluate", "--out", str(tmp_path), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
