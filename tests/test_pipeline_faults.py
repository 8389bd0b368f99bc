"""Disk faults mid-run: one line, nothing half-written, and a rerun ends identical to a clean run.

Faults are injected, not provoked on a real disk: the Nth ``os.fsync`` (every atomic write fsyncs its temp
file, then its directory) raises ENOSPC with no file name, as a failed ``write()`` does.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path

import pytest

from selfalign import cli
from selfalign.pipeline import run_pipeline

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"
UNTIL = "responses"  # sharded generation: the stage with the most writes (training: test_train_checkpoints)
# Bytes that differ between two correct runs: manifests (timestamps, wall times), the lock (holder pid).
EXCEPTED = ("manifest.json", ".lock")


def _files(run_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(run_dir)): p.read_bytes()
        for p in sorted(run_dir.rglob("*"))
        if p.is_file() and not p.name.startswith(EXCEPTED)
    }


def _leftovers(run_dir: Path) -> list[str]:
    return [str(p) for p in run_dir.rglob("*") if p.name.endswith((".tmp", ".partial"))]


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict[str, bytes]:
    run_dir = tmp_path_factory.mktemp("clean")
    run_pipeline(TINY, run_dir, progress=False, until=UNTIL)
    return _files(run_dir)


@pytest.fixture
def disk_full_at(monkeypatch) -> Callable[[str, int], None]:
    """``arm(pattern, k)``: the kth fsync of a file or dir whose path matches ``pattern`` fails with ENOSPC
    (every atomic write fsyncs its temp file, then its directory); ``monkeypatch.undo()`` frees the disk."""
    real = os.fsync

    def arm(pattern: str, k: int = 1) -> None:
        seen = {"n": 0}

        def fsync(fd: int) -> None:
            if fnmatch(os.readlink(f"/proc/self/fd/{fd}"), pattern):
                seen["n"] += 1
                if seen["n"] == k:
                    raise OSError(errno.ENOSPC, "No space left on device")
            real(fd)

        monkeypatch.setattr(os, "fsync", fsync)

    return arm


@pytest.mark.parametrize(
    ("pattern", "k"),
    [
        ("*/.shard-00001.jsonl.*.tmp", 1),  # the 2nd responses shard: the 1st is kept and resumed from
        ("*/responses", 2),  # just after responses.jsonl was renamed in, before its shards were removed
    ],
)
def test_disk_full_then_rerun_matches_a_clean_run(tmp_path, clean, disk_full_at, monkeypatch, pattern, k):
    run_dir = tmp_path / "run"
    disk_full_at(pattern, k)
    with pytest.raises(OSError) as info:
        run_pipeline(TINY, run_dir, progress=False, until=UNTIL)
    assert info.value.errno == errno.ENOSPC and str(run_dir) in str(info.value.filename)
    assert _leftovers(run_dir) == []
    monkeypatch.undo()  # space freed
    run_pipeline(TINY, run_dir, progress=False, until=UNTIL)
    assert _files(run_dir) == clean


def test_disk_full_on_the_cli_is_one_line_naming_the_file(tmp_path, disk_full_at, capsys):
    run_dir = tmp_path / "run"
    disk_full_at("*.tmp")  # the first write: the run manifest after preflight
    assert cli.run(["run", str(TINY), "--run-dir", str(run_dir), "--until", "split", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith(f"error: {run_dir / 'manifest.json'}: no space left on the device")
    assert "rerun the same command" in err
    assert _leftovers(run_dir) == [] and not (run_dir / "manifest.json").exists()
