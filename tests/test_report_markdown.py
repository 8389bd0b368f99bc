"""Markdown results: the yield-by-k table and the table writer."""

from __future__ import annotations

from selfalign.report.markdown import md_table, yield_by_k

LOWER = [{"type": "lowercase", "params": {}}]


def _rec(iid: str, sample: int, text: str) -> dict:
    return {"instruction_id": iid, "text": text, "constraints": LOWER, "gen": {"sample": sample}}


def test_yield_by_k_is_cumulative_over_samples() -> None:
    recs = [_rec("a", 0, "ok"), _rec("a", 1, "NO"),  # a: passes at k=1
            _rec("b", 0, "NO"), _rec("b", 1, "NO"), _rec("b", 2, "fine"),  # b: passes at k=3
            _rec("c", 0, "NO"), _rec("c", 1, "NO"),  # c: never
            {"instruction_id": "d", "text": "Open", "constraints": None, "gen": {"sample": 0}}]  # fmt: skip
    assert yield_by_k(recs) == [(1, 1, 3), (2, 1, 3), (3, 2, 3)]


def test_md_table_shape() -> None:
    assert md_table(["a", "b"], [["1", "2"]]).splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |"]
