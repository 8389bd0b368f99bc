"""Atomic files and directories: complete or absent, never half-written, old content kept on failure."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from selfalign.atomic import atomic_open, publish_dir, staging_dir, sweep_stale, write_text_atomic


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    write_text_atomic(target, "old")

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        write_text_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_exception_inside_the_block_removes_the_temp(tmp_path):
    with pytest.raises(RuntimeError), atomic_open(tmp_path / "a.bin", "wb") as f:
        f.write(b"partial")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_staged_dir_replaces_the_old_one_only_when_published(tmp_path):
    final = tmp_path / "adapter"
    final.mkdir()
    (final / "old.bin").write_text("old")
    staging = staging_dir(final)
    (staging / "new.bin").write_text("new")
    assert (final / "old.bin").exists()  # untouched until publish
    publish_dir(staging, final)
    assert sorted(p.name for p in final.iterdir()) == ["new.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter"]


def test_staging_dir_drops_an_earlier_partial_attempt(tmp_path):
    first = staging_dir(tmp_path / "merged")
    (first / "half.bin").write_text("x")
    again = staging_dir(tmp_path / "merged")
    assert again == first and list(again.iterdir()) == []
    assert isinstance(again, Path)


def test_sweep_removes_what_a_kill_9_left_and_nothing_else(tmp_path):
    (tmp_path / "stage").mkdir()
    left = [tmp_path / ".manifest.json.ab12.tmp", tmp_path / "stage" / ".data.jsonl.x.tmp"]
    for p in left:
        p.write_text("half")
    staging_dir(tmp_path / "stage" / "adapter")
    kept = [tmp_path / "stage" / "data.jsonl", tmp_path / ".lock", tmp_path / "notes.tmp"]
    for p in kept:
        p.write_text("keep")
    assert len(sweep_stale(tmp_path)) == 3
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == sorted(kept)
    assert not (tmp_path / "stage" / ".adapter.partial").exists()
