"""JSONL reading errors, atomic writes, and the resumable ShardWriter."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from selfalign.data.jsonl import ShardWriter, read_jsonl, write_json_atomic, write_jsonl_atomic
from selfalign.errors import DataError


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ------------------------------------------------------------------------------------------- read_jsonl


def test_read_roundtrip_skips_blank_lines(tmp_path: Path) -> None:
    p = _write(tmp_path / "a.jsonl", b'{"id": "1"}\n\n{"id": "2", "t": "\xc3\xa9"}\n')
    assert read_jsonl(p) == [{"id": "1"}, {"id": "2", "t": "é"}]


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    p = _write(tmp_path / "bad.jsonl", b'{"id": "1"}\n{"id": "2"}\n{"id": 3,}\n')
    with pytest.raises(DataError) as e:
        read_jsonl(p)
    assert str(e.value).startswith(f"{p}:3: malformed JSON")
    assert e.value.line == 3


def test_non_utf8_names_line(tmp_path: Path) -> None:
    p = _write(tmp_path / "latin.jsonl", b'{"id": "1"}\n{"id": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"latin\.jsonl:2: not valid UTF-8 \(byte 0xe9"):
        read_jsonl(p)


def test_line_that_is_not_an_object(tmp_path: Path) -> None:
    p = _write(tmp_path / "arr.jsonl", b'{"id": "1"}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"arr\.jsonl:2: expected a JSON object, got an array"):
        read_jsonl(p)


def test_empty_file_says_so(tmp_path: Path) -> None:
    p = _write(tmp_path / "empty.jsonl", b"\n  \n")
    with pytest.raises(DataError, match=r"empty\.jsonl: empty file"):
        read_jsonl(p)
    assert read_jsonl(p, allow_empty=True) == []


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_bom_on_first_line_is_tolerated(tmp_path: Path) -> None:
    p = _write(tmp_path / "bom.jsonl", b'\xef\xbb\xbf{"id": "1"}\n')
    assert read_jsonl(p) == [{"id": "1"}]


# ------------------------------------------------------------------------------------------- atomic writes


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_write_jsonl_atomic_roundtrip(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "out.jsonl"
    recs = [{"id": "1", "text": "naïve ✓"}, {"id": "2", "x": [1, 2]}]
    assert write_jsonl_atomic(p, recs) == 2
    assert read_jsonl(p) == recs
    assert "naïve ✓" in p.read_text("utf-8")  # not \u-escaped: readable by hand
    assert _leftovers(p.parent) == []


def test_exception_mid_write_keeps_old_content_and_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "out.jsonl"
    write_jsonl_atomic(p, [{"id": "old"}])
    before = p.read_bytes()

    def records():
        yield {"id": "new1"}
        yield {"id": "new2"}
        raise RuntimeError("killed mid-way")

    with pytest.raises(RuntimeError, match="killed"):
        write_jsonl_atomic(p, records())
    assert p.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_unserializable_record_names_line_and_keeps_old(tmp_path: Path) -> None:
    p = tmp_path / "out.jsonl"
    write_jsonl_atomic(p, [{"id": "old"}])
    with pytest.raises(DataError, match=r"out\.jsonl:2: cannot serialize record: logp\[1\]"):
        write_jsonl_atomic(p, [{"id": "a"}, {"id": "b", "logp": [0.0, -math.inf]}])
    assert read_jsonl(p) == [{"id": "old"}]
    assert _leftovers(tmp_path) == []


def test_write_json_atomic(tmp_path: Path) -> None:
    p = tmp_path / "manifest.json"
    write_json_atomic(p, {"stage": "x", "counts": {"n": 3}})
    assert json.loads(p.read_text()) == {"stage": "x", "counts": {"n": 3}}
    with pytest.raises(DataError, match="cannot serialize JSON"):
        write_json_atomic(p, {"bad": object()})
    assert json.loads(p.read_text())["stage"] == "x"
    assert _leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------- ShardWriter


def _run(out: Path, inputs: list[str], batch: int, crash_after_batches: int | None = None) -> None:
    """A generation loop as a stage writes it: skip done keys, write one shard per completed batch."""
    writer = ShardWriter(out)
    todo = [k for k in inputs if k not in writer.done_keys()]
    for b, start in enumerate(range(0, len(todo), batch)):
        if crash_after_batches is not None and b == crash_after_batches:
            raise KeyboardInterrupt  # the kill arrives while this batch is in flight
        writer.write_batch([{"id": k, "text": f"answer {k}"} for k in todo[start : start + batch]])


def test_shards_resume_without_loss_or_duplicates(tmp_path: Path) -> None:
    out = tmp_path / "responses.jsonl"
    inputs = [f"r{i}" for i in range(10)]
    with pytest.raises(KeyboardInterrupt):
        _run(out, inputs, batch=3, crash_after_batches=2)
    writer = ShardWriter(out)
    assert writer.done_keys() == {f"r{i}" for i in range(6)}
    # A kill during an atomic write leaves only a dot-temp file: resume must ignore it.
    (writer.shards_dir / ".shard-00002.jsonl.abc.tmp").write_text('{"id": "r6", "text": "half')
    assert writer.done_keys() == {f"r{i}" for i in range(6)}

    _run(out, inputs, batch=3)
    final = ShardWriter(out).finalize(out, list(reversed(inputs)))
    recs = read_jsonl(final)
    assert [r["id"] for r in recs] == list(reversed(inputs))  # caller's order, not shard order
    assert not writer.shards_dir.exists()


def test_finalize_refuses_missing_keys_and_keeps_shards(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    w = ShardWriter(out)
    w.write_batch([{"id": "a"}, {"id": "b"}])
    with pytest.raises(DataError, match=r"1 key\(s\) never written, e\.g\. \['c'\]"):
        w.finalize(out, ["a", "b", "c"])
    assert w.shards_dir.exists() and not out.exists()
    with pytest.raises(DataError, match="not in order_keys"):
        w.finalize(out, ["a"])


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    w = ShardWriter(tmp_path / "o.jsonl")
    w.write_batch([{"id": "a"}])
    with pytest.raises(DataError, match="already written"):
        w.write_batch([{"id": "b"}, {"id": "a"}])
    with pytest.raises(DataError, match="repeated in this batch"):
        w.write_batch([{"id": "c"}, {"id": "c"}])
    assert w.done_keys() == {"a"}
    # A duplicate planted by hand across shards is caught on reload.
    (w.shards_dir / "shard-00007.jsonl").write_text('{"id": "a"}\n')
    with pytest.raises(DataError, match="duplicate key 'a'"):
        ShardWriter(tmp_path / "o.jsonl").done_keys()


def test_record_without_key_field(tmp_path: Path) -> None:
    w = ShardWriter(tmp_path / "o.jsonl", key="instruction_id")
    with pytest.raises(DataError, match="instruction_id: record has no key field"):
        w.write_batch([{"id": "a"}])


def test_callable_key_and_next_shard_index(tmp_path: Path) -> None:
    w = ShardWriter(tmp_path / "o.jsonl", key=lambda r: f"{r['iid']}#{r['k']}")
    first = w.write_batch([{"iid": "x", "k": 0}, {"iid": "x", "k": 1}])
    second = w.write_batch([{"iid": "y", "k": 0}])
    assert first is not None and first.name == "shard-00000.jsonl"
    assert second is not None and second.name == "shard-00001.jsonl"
    assert ShardWriter(tmp_path / "o.jsonl", key=lambda r: f"{r['iid']}#{r['k']}").done_keys() == {
        "x#0",
        "x#1",
        "y#0",
    }
