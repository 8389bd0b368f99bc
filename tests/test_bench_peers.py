"""bench/peers_table.py and bench/peers.py's counting: one row per pipeline shape, the faster peer is the bar.

No timings here: the rows are built from given figures.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench"


@pytest.fixture(scope="module")
def peers_table():
    sys.path.insert(0, str(BENCH))
    try:
        import peers_table

        yield peers_table
    finally:
        sys.path.remove(str(BENCH))


def _shapes(engine: float, hf: float, vllm: float) -> dict:
    peers = {"hf_generate": hf, "vllm_cpu": vllm}
    faster = max(peers, key=lambda k: peers[k])
    row = {"shape": "short_greedy", "unit": "tok/s", "engine": engine, **peers, "faster_peer": faster,
           "ratio": round(engine / peers[faster], 2), "goal": ">= 1.5x"}  # fmt: skip
    return {"bench": "shapes", "rows": [row]}


def test_the_faster_peer_is_the_baseline_and_the_goal_is_one_and_a_half_times_it(peers_table):
    rows = peers_table.main_rows(_shapes(engine=90.0, hf=40.0, vllm=88.0))
    assert rows[0]["baseline"].startswith("vLLM-CPU") and rows[0]["met"] == "no"  # 1.02x of vLLM
    rows = peers_table.main_rows(_shapes(engine=140.0, hf=40.0, vllm=88.0))
    assert rows[0]["met"] == "yes" and rows[0]["ratio"] == "1.59×"
    alone = _shapes(engine=140.0, hf=40.0, vllm=88.0)  # vLLM absent or failed: the row decides nothing
    del alone["rows"][0]["vllm_cpu"]
    alone["rows"][0].update(faster_peer="hf_generate", ratio=3.5)
    assert peers_table.main_rows(alone)[0]["met"].startswith("—")


def test_the_sft_row_is_selfalign_default_mode_against_trl_defaults(peers_table):
    from selfalign.train.config import SFTSettings

    train = {"bench": "train", "modes": [{"mode": "padded (TRL default)", "tokens_per_s": 100.0},
                                         {"mode": "packing bfd", "tokens_per_s": 120.0},
                                         {"mode": "padding-free", "tokens_per_s": 150.0}]}  # fmt: skip
    rows = peers_table.shape_rows([_shapes(90.0, 40.0, 88.0), train])
    assert [r["shape"] for r in rows] == ["short_greedy", "sft"]
    want = 120.0 if SFTSettings().packing else 150.0 if SFTSettings().padding_free else 100.0
    assert rows[1]["engine"] == want and rows[1]["hf_generate"] == 100.0
    text = peers_table.render([_shapes(90.0, 40.0, 88.0), train])
    assert "no training" in text and "TRL SFTTrainer defaults" in text
    assert "not measured" in peers_table.render([{"bench": "peers.py", "error": "timed out"}])


def test_hf_rows_count_tokens_to_eos_or_the_stop_strings_padding():
    sys.path.insert(0, str(BENCH))
    try:
        from peers import generated
    finally:
        sys.path.remove(str(BENCH))
    assert generated([5, 6, 1, 0, 0], pad=0, eos={1}) == 2  # EOS itself is not a generated token here
    assert generated([5, 6, 7, 0, 0], pad=0, eos={1}) == 3  # stopped on a string, then padded
    assert generated([5, 6, 7], pad=0, eos={1}) == 3  # ran to the token cap


def test_a_vllm_peer_that_cannot_start_is_one_error_naming_its_log(tmp_path, monkeypatch):
    sys.path.insert(0, str(BENCH))
    try:
        import peers
    finally:
        sys.path.remove(str(BENCH))
    monkeypatch.setattr(peers, "VLLM_PY", Path(sys.executable))  # this venv has no vLLM to import
    work = tmp_path / "work.json"
    work.write_text("{}", "utf-8")
    with pytest.raises(RuntimeError, match=r"vLLM peer exited 1; its log: .*No module named 'vllm'"):
        peers.VllmPeer("model", work, tmp_path / "vllm.log")
