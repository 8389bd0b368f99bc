"""Cache dirs built once, by one process or several at the same time (engine/build_once.py), and the vLLM
model dir built through it (engine/vllm_backend.model_dir; needs no vLLM)."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from selfalign.engine import build_once as bo
from selfalign.engine.vllm_backend import model_dir


def _valid(t: Path) -> bool:
    return (t / "done").is_file()


def _writes(text: str):
    def build(tmp: Path) -> None:
        (tmp / "done").write_text(text)

    return build


def test_a_build_lands_whole_and_a_valid_target_is_not_rebuilt(tmp_path: Path) -> None:
    target = tmp_path / "kind" / "x"
    assert bo.build_once(target, _writes("first"), _valid) == target
    assert bo.build_once(target, _writes("second"), _valid) == target
    assert (target / "done").read_text() == "first"
    assert sorted(p.name for p in target.parent.iterdir()) == [".x.lock", "x"]  # no temp dir left


def test_a_stale_target_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "x"
    target.mkdir()
    (target / "old").write_text("left by an older build")
    bo.build_once(target, _writes("new"), _valid)
    assert sorted(p.name for p in target.iterdir()) == ["done"]


def test_a_stale_target_is_removed_only_under_the_lock(tmp_path: Path, monkeypatch) -> None:
    """Another process may rename its good build into place at any moment; removing a stale target outside
    the lock could delete that build."""
    target = tmp_path / "x"
    target.mkdir()
    real, held = bo.shutil.rmtree, []

    def rmtree(path, **kw):
        if Path(path) == target:
            with open(tmp_path / ".x.lock") as other:  # a second open file: flock conflicts with the first
                try:
                    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held.append(False)
                except BlockingIOError:
                    held.append(True)
        real(path, **kw)

    monkeypatch.setattr(bo.shutil, "rmtree", rmtree)
    bo.build_once(target, _writes("new"), _valid)
    assert held == [True] and (target / "done").read_text() == "new"


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    def fails(tmp: Path) -> None:
        (tmp / "half").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        bo.build_once(tmp_path / "x", fails, _valid)
    assert list(tmp_path.iterdir()) == []  # the build failed before the lock was taken


@pytest.mark.parametrize("when", ["before the check", "between the check and the rename"])
def test_a_build_that_loses_the_race_uses_the_winners(tmp_path: Path, monkeypatch, when: str) -> None:
    target = tmp_path / "x"

    def other_process(tmp: Path) -> None:
        target.mkdir()
        (target / "done").write_text("theirs")

    def build(tmp: Path) -> None:
        (tmp / "done").write_text("mine")
        if when == "before the check":
            other_process(tmp)

    real = bo.os.replace

    def late(src, dst):
        other_process(Path(src))
        real(src, dst)  # the OS refuses: the directory is there and not empty

    if when != "before the check":
        monkeypatch.setattr(bo.os, "replace", late)
    assert bo.build_once(target, build, _valid) == target
    assert (target / "done").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".x.lock", "x"]


def test_vllm_model_dir_links_the_weights_and_rebuilds_when_a_link_breaks(tmp_path, monkeypatch, tiny_engine):
    monkeypatch.setenv("SELFALIGN_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "model"
    src.mkdir()
    (src / "model.safetensors").write_bytes(b"weights")
    (src / "config.json").write_text(json.dumps({"model_type": "llama", "quantization_config": {"q": 4}}))
    host = SimpleNamespace(provenance={"kind": "local", "location": str(src), "weights_sha256": "ab" * 32},
                           tokenizer=tiny_engine.tokenizer)  # fmt: skip
    built = Path(model_dir(host))
    weights = built / "model.safetensors"
    assert weights.is_symlink() and weights.read_bytes() == b"weights"
    assert "quantization_config" not in json.loads((built / "config.json").read_text())
    weights.unlink()
    weights.symlink_to(tmp_path / "moved-away")
    assert Path(model_dir(host)) == built and weights.read_bytes() == b"weights"
