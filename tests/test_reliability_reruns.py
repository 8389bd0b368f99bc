"""Issue 28 item 2: a changed config on an existing run dir never replaces finished results silently.

A change that reruns every stage (here model.ref, run.seed, the first stage's settings) is refused in one line
unless --force; every stage that does rerun says why (which setting or input changed), on the console and in
run.log. Tiny random model, ``--until split`` (the first two stages: seconds).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from selfalign import cli
from selfalign.reruns import why_rerun

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def _config(tmp_path: Path, name: str, **overrides: dict) -> Path:
    cfg = yaml.safe_load(TINY.read_text())
    for section, values in overrides.items():
        cfg.setdefault(section, {}).update(values)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(config: Path, run_dir: Path, *extra: str) -> int:
    return cli.run(["run", str(config), "--run-dir", str(run_dir), "--until", "split", *extra])


def _files(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*.jsonl"))}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A run dir whose instructions and split finished with configs/tiny.yaml (copied per test)."""
    tmp = tmp_path_factory.mktemp("finished")
    run_dir = tmp / "run"
    assert _run(_config(tmp, "base"), run_dir, "--quiet") == 0
    return tmp, run_dir


@pytest.fixture
def run_dir(finished: tuple[Path, Path], tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(finished[1], copy)
    return copy


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"model": {"ref": "tiny-random-qwen2"}}, 'model.ref: "tiny-random-llama" → "tiny-random-qwen2"'),
        ({"run": {"seed": 7}}, "run.seed: 0 → 7"),
        ({"instructions": {"n": 25}}, "instructions.n: 24 → 25"),
    ],
)
def test_a_change_that_reruns_every_stage_is_refused_in_one_line(run_dir, tmp_path, capsys, overrides, named):
    before = _files(run_dir)
    manifest = (run_dir / "manifest.json").read_bytes()
    capsys.readouterr()
    assert _run(_config(tmp_path, "changed", **overrides), run_dir, "--quiet") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"error: {run_dir}: ") and named in err and "--force" in err
    assert _files(run_dir) == before  # nothing replaced, nothing half-written
    assert (run_dir / "manifest.json").read_bytes() == manifest


def test_force_replaces_them_and_every_rerun_stage_says_why(run_dir, tmp_path, capsys):
    changed = _config(tmp_path, "changed", model={"ref": "tiny-random-qwen2"})
    capsys.readouterr()
    assert _run(changed, run_dir, "--force") == 0
    out = capsys.readouterr()
    console = out.out + out.err
    log = (run_dir / "run.log").read_text()
    for stage in ("instructions", "split"):
        line = f"{stage}: rerunning from scratch: model.ref"
        assert line in console and line in log, (stage, console)
    assert "input instructions comes from a stage that reran" in console  # split names its input too
    split = json.loads((run_dir / "split" / "manifest.json").read_text())
    assert split["complete"]
    status = {s["name"]: s["status"] for s in json.loads((run_dir / "manifest.json").read_text())["stages"]}
    assert status == {"instructions": "done", "split": "done"}


def test_a_change_to_one_later_stage_reruns_it_saying_which_key(run_dir, tmp_path, capsys):
    changed = _config(tmp_path, "changed", split={"test_fraction": 0.4})
    capsys.readouterr()
    assert _run(changed, run_dir) == 0  # not every stage: no --force needed
    out = capsys.readouterr()
    said = "split: rerunning from scratch: split.test_fraction: 0.3 → 0.4"
    assert said in out.out + out.err and said in (run_dir / "run.log").read_text()
    status = {s["name"]: s["status"] for s in json.loads((run_dir / "manifest.json").read_text())["stages"]}
    assert status == {"instructions": "cached", "split": "done"}


def test_an_unchanged_rerun_is_cached_and_says_nothing(run_dir, finished, capsys):
    capsys.readouterr()
    assert _run(finished[0] / "base.yaml", run_dir) == 0
    out = capsys.readouterr()
    assert "rerunning" not in out.out + out.err


def test_reasons_name_each_kind_of_change():
    base = {"stage": "sft", "extra": {}, "config": {"learning_rate": 2e-4}, "model": {"ref": "a"},
            "backend": "torch", "seed": 0, "inputs": {"accepted": "k1"}, "input_hashes": {"accepted": "h1"},
            "code": "c1"}  # fmt: skip
    lr = {**base, "config": {"learning_rate": 1e-4}}
    assert why_rerun(base, lr) == "sft.learning_rate: 0.0002 → 0.0001"
    assert why_rerun(base, {**base, "backend": "vllm"}) == "engine.backend: torch → vllm"
    assert why_rerun(base, {**base, "code": "c2"}) == "selfalign's code changed (c1 → c2)"
    assert why_rerun(base, {**base, "input_hashes": {"accepted": "h2"}}) == "input accepted changed"
    assert why_rerun(None, base).startswith("its settings changed")
    many = {**base, "model": {"ref": "b"}, "seed": 1, "backend": "vllm", "code": "c2"}
    assert why_rerun(base, many).endswith("(+1 more)")
