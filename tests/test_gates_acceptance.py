"""The critique acceptance gate counts only what was drawn from the responses, not records added to them."""

from __future__ import annotations

from selfalign.config import Gates
from selfalign.gates import evaluate_gates


def _gate(counts: dict[str, int]) -> dict:
    entry = {"name": "critique", "counts": counts}
    return evaluate_gates("critique", entry, Gates(min_acceptance_rate=0.5))[0]


def test_added_back_translated_and_redrawn_records_do_not_pass_the_gate():
    # 10 responses, 2 accepted from them, 12 added by back-translation and redraw: 2/10, not 14/10.
    g = _gate({"responses": 10, "accepted": 14, "back_translated": 8, "redrawn": 4})
    assert g["value"] == 0.2 and not g["passed"]
    assert _gate({"responses": 10, "accepted": 6})["passed"]
