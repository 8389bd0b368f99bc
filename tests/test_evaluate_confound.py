"""The planted confound: changing only length or format must not score as an improvement; obeying must.

The first version called base 81% → SFT 99.3% (p = 2e-12) because a rule failed long answers. Here real
outputs of a condition are transformed three ways that change only length or format, and one way that
truly obeys the constraints (an oracle), and each transformed set is scored and compared with the
untransformed one exactly as the product compares conditions. A verbosity rule is run through the same
comparison to show the test would catch a length-based scorer.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

from selfalign.constraints import augment, passes_all
from selfalign.engine import GenParams
from selfalign.evaluate.conditions import PromptBuilder
from selfalign.evaluate.items import HeldOutItem
from selfalign.evaluate.runner import score_records
from selfalign.evaluate.summary import summarize
from selfalign.evaluate.table import verdict
from selfalign.prompts import pools
from selfalign.prompts.format import get_format

# Types an oracle can satisfy by editing any text, and that no length/format edit satisfies by itself.
TYPES = [
    "include_words", "starts_with", "lowercase", "no_commas", "title", "quoted", "placeholders",
    "word_frequency", "json_keys", "no_digits", "uppercase",
]  # fmt: skip
SOURCE = "source"
FILLER = (
    "\n\nTo summarise, this answer has covered the question in full, with care and attention, "
    "and it is complete, thorough, and accurate in every respect."
)


def first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]


def pad_filler(text: str) -> str:
    return text + FILLER


def format_cue(text: str) -> str:
    """Dress the answer in the trained format's look: a header, a neat ending."""
    return f"### Response\n\n{text.strip()}\n\nEND"


def oracle(text: str, constraints: list[dict[str, Any]]) -> str:
    """Rewrite ``text`` so it obeys every constraint (what a better-aligned model would have written)."""
    out = text.strip() or "answer"
    for c in constraints:
        t, p = c["type"], c["params"]
        if t == "include_words":
            out = f"{out} {' '.join(p['words'])}"
        elif t == "starts_with":
            out = f"{p['phrase']} {out}"
        elif t == "lowercase":
            out = out.lower()
        elif t == "uppercase":
            out = out.upper()
        elif t == "no_commas":
            out = out.replace(",", "") or "answer"
        elif t == "no_digits":
            out = re.sub(r"\d", "", out).strip() or "answer"
        elif t == "title":
            out = f"<<A title>>\n{out}"
        elif t == "quoted":
            out = '"answer ' + out.replace('"', "'") + '"'
        elif t == "placeholders":
            out = out + "".join(f" [name{i}]" for i in range(p["n"]))
        elif t == "word_frequency":
            out = out + f" {p['word']}" * p["n"]
        elif t == "json_keys":
            out = json.dumps({k: "value" for k in p["keys"]})
        else:
            raise AssertionError(f"no oracle for {t}")
    return out


@pytest.fixture(scope="module")
def planted(tiny_engine) -> tuple[list[HeldOutItem], dict[str, list[str]], list[str]]:
    """Items, real outputs of one condition plus their transforms, and the prompts used."""
    rng = random.Random(7)
    seeds = [s.instruction for s in pools.seeds()][:30]
    items = []
    for i, seed in enumerate(seeds):
        text, cs = augment(seed, rng, 1, TYPES)
        items.append(HeldOutItem(f"item-{i}", text, f"cat{i % 3}", cs))
    prompts = [PromptBuilder(items).build("zero_shot", it) for it in items]
    # Sampled (not greedy) so the random tiny model's real outputs vary: words, commas, capitals, digits.
    params = GenParams(max_new_tokens=16, temperature=1.0, top_k=50, seed=3, stop=get_format().stop)
    real = [g.text.strip() for g in tiny_engine.generate(prompts, params)]
    outputs = {
        SOURCE: real,
        "first_sentence": [first_sentence(o) for o in real],
        "pad_filler": [pad_filler(o) for o in real],
        "format_cue": [format_cue(o) for o in real],
        "oracle": [oracle(o, it.constraints) for o, it in zip(real, items, strict=True)],
    }
    return items, outputs, prompts


def product_results(planted) -> dict[str, Any]:
    items, outputs, prompts = planted
    records = {name: score_records(items, name, prompts, outs) for name, outs in outputs.items()}
    return summarize(records, SOURCE, n_boot=500, seed=0)


def test_the_oracle_really_obeys_and_the_source_mostly_does_not(planted):
    items, outputs, _ = planted
    assert all(passes_all(o, it.constraints) for o, it in zip(outputs["oracle"], items, strict=True))
    source_rate = sum(passes_all(o, it.constraints) for o, it in zip(outputs[SOURCE], items, strict=True))
    assert source_rate <= len(items) // 2  # otherwise there is nothing for the oracle to improve


@pytest.mark.parametrize("name", ["first_sentence", "pad_filler", "format_cue"])
def test_length_or_format_change_does_not_score_as_improvement(planted, name):
    res = product_results(planted)["conditions"][name]["verifiable"]["overall"]
    assert verdict(res["vs_baseline"]) != "better"
    assert res["vs_baseline"]["lift"]["estimate"] <= 0.05  # at most one item in 30 by accident
    assert res["vs_baseline"]["lift"]["ci_low"] <= 0.0


def test_truly_obeying_scores_as_a_significant_improvement(planted):
    results = product_results(planted)
    res = results["conditions"]["oracle"]["verifiable"]["overall"]
    assert res["rate"] == 1.0
    assert verdict(res["vs_baseline"]) == "better"
    assert res["vs_baseline"]["lift"]["ci_low"] > 0.2
    assert res["vs_baseline"]["p_bh"] < 0.001
    assert res["vs_baseline"]["cohens_h"] > 0.5


def test_the_planted_confound_catches_a_length_rule(planted):
    """The same comparison with a verbosity rule in place of the checks calls padding an improvement."""
    items, outputs, prompts = planted
    records = {}
    for name, outs in outputs.items():
        recs = score_records(items, name, prompts, outs)
        for r in recs:  # the rule the checks replaced, mirrored: long answers "pass"
            r["passed"] = len(r["output"]) > 120
        records[name] = recs
    res = summarize(records, SOURCE, n_boot=500)["conditions"]["pad_filler"]["verifiable"]["overall"]
    assert verdict(res["vs_baseline"]) == "better"


def test_scoring_ignores_length_entirely(planted):
    """An obeying answer padded with obeying filler still passes; no length threshold anywhere."""
    items, outputs, prompts = planted
    long = [o + " and more" * 200 if it.constraints[0]["type"] == "no_commas" else o for o, it in
            zip(outputs["oracle"], items, strict=True)]  # fmt: skip
    assert any(len(o) > 1500 for o in long)
    recs = score_records(items, "long", prompts, long)
    assert all(r["passed"] for r in recs)
