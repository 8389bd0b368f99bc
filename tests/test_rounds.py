"""What makes a later round new: fresh instructions first, then redrawn constraints; examples merged once."""

from __future__ import annotations

import random

from selfalign.constraints import augment, train_types
from selfalign.data.schemas import SFTExample
from selfalign.stages.rounds import round_seed, round_window
from selfalign.stages.sft import merge_rounds


def _records(n: int) -> list[dict]:
    out = []
    for k in range(n):
        base = f"Write a short note about topic number {k}."
        text, cs = augment(base, random.Random(k), k=1, allowed_types=train_types())
        out.append({"id": f"i{k}", "text": text, "constraints": cs, "gen": {"augment": {"base_text": base}}})
    return out


def test_each_round_gets_the_next_block_then_tops_up_with_redrawn_constraints():
    recs = _records(10)
    assert round_window(recs, 4, 0, 1) == recs[:4]
    assert round_window(recs, 4, round_seed(0, 2), 2) == recs[4:8]  # nothing round 1 answered
    third = round_window(recs, 4, round_seed(0, 3), 3)
    assert third[:2] == recs[8:10] and [r["id"] for r in third[2:]] == ["i0", "i1"]
    for old, new in zip(recs[:2], third[2:], strict=True):  # re-answered: a new demand on the same base text
        assert new["constraints"] != old["constraints"] and new["text"] != old["text"]
        assert new["text"].startswith(old["gen"]["augment"]["base_text"][:20])
    every = round_window(recs, None, round_seed(0, 2), 2)  # no limit: every instruction, redrawn
    assert [r["id"] for r in every] == [r["id"] for r in recs]
    assert sum(a["constraints"] != b["constraints"] for a, b in zip(every, recs, strict=True)) >= 8
    assert round_window(recs, 20, 0, 1) == recs and round_window(recs, 4, 0, 2) != round_window(recs, 4, 0, 3)


def test_merge_rounds_keeps_earlier_examples_first_and_each_pair_once():
    a, b, c = (SFTExample(prompt=f"p{k}", completion=f"c{k}", id=f"e{k}") for k in range(3))
    again = SFTExample(prompt="p1", completion="c1", id="round2-copy")
    assert merge_rounds([a, b], [again, c]) == [a, b, c]
    assert merge_rounds([], [c, a]) == [c, a]
