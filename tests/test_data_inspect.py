"""summarize/render of a dataset file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from selfalign.data.inspect import guess_kind, length_bucket, render, summarize
from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.data.qc import QC_FLAGS
from selfalign.errors import DataError


def _responses(tmp_path: Path) -> Path:
    texts = [
        "Red, blue and yellow.",
        "red blue and yellow",
        "RED, BLUE AND YELLOW!",
        "Paris.",
        "Use [name] here: " + "word " * 30,
        "A quick answer with six words.",
        "Another distinct answer about cats and dogs.",
    ]
    recs = []
    for i, t in enumerate(texts):
        qc = dict.fromkeys(QC_FLAGS, False) | {"too_short": t == "Paris."}
        recs.append(
            {
                "id": f"r{i}",
                "instruction_id": f"i{i}",
                "instruction": "q",
                "prompt": "p",
                "raw": t,
                "text": t,
                "stop_reason": "stop",
                "n_tokens": 5,
                "qc": qc,
                "category": "facts" if i < 4 else "writing",
            }
        )
    p = tmp_path / "responses.jsonl"
    write_jsonl_atomic(p, recs)
    return p


def test_summarize(tmp_path: Path) -> None:
    s = summarize(_responses(tmp_path), k=2, seed=0)
    assert s["kind"] == "response" and s["text_field"] == "text"
    assert s["count"] == 7
    assert s["categories"] == {"facts": 4, "writing": 3}
    assert (s["length_words"]["1-5"], s["length_words"]["6-10"], s["length_words"]["26-50"]) == (4, 2, 1)
    assert s["duplicates"]["clusters"] == 1
    assert s["duplicates"]["top"][0]["size"] == 3
    assert s["duplicates"]["top"][0]["indices"] == [0, 1, 2]
    assert s["qc"]["too_short"] == pytest.approx(1 / 7)
    assert len(s["samples"]) == 2
    assert s["samples"] == summarize(_responses(tmp_path), k=2, seed=0)["samples"]  # seeded
    json.dumps(s)  # plain data, so the CLI can also print it as JSON


def test_render_shows_the_numbers(tmp_path: Path) -> None:
    s = summarize(_responses(tmp_path), k=7)
    console = Console(record=True, width=120)
    console.print(render(s))
    out = console.export_text()
    assert "7 records, kind response" in out
    assert "facts" in out and "4 (57%)" in out
    assert "too_short" in out and "14.3%" in out
    assert "Use [name] here" in out  # data is printed literally, not read as rich markup


def test_length_bucket_and_kind() -> None:
    assert [length_bucket(n) for n in (0, 1, 5, 6, 501)] == ["0", "1-5", "1-5", "6-10", "501+"]
    assert guess_kind({"prompt": "p", "completion": "c"}) == ("sft", "completion")
    assert guess_kind({"prompt": "p", "chosen": "a", "rejected": "b"}) == ("pair", "chosen")
    assert guess_kind({"x": 1}) == ("unknown", None)


def test_summarize_bad_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text('{"text": "a"}\nnot json\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:2: malformed JSON"):
        summarize(p)
