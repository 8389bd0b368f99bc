"""`selfalign run`'s terminal: selfalign's lines and warnings only; library chatter in RUN_DIR/run.log.

The real pipeline on the tiny config (real transformers/TRL/datasets code paths) in a subprocess, so the
libraries' own FutureWarnings, TRL's printed log dicts and datasets' tqdm bars are the real ones, and
pytest's warning filters do not hide anything. On the code before the console existed these fail: the
FutureWarnings were on stderr, ``{'loss': ...}`` on stdout, and there was no run.log.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from selfalign import cli

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
CHATTER = ("FutureWarning", "{'loss'", "Loading weights", "Building labels", "[transformers]", "Traceback")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "CI")}
    return subprocess.run([sys.executable, "-m", "selfalign.cli", *args], env=env, capture_output=True,
                          text=True, timeout=600, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    run_dir = tmp_path_factory.mktemp("console") / "run"
    return _cli("run", str(TINY), "--run-dir", str(run_dir), "--until", "sft"), run_dir


def test_run_terminal_shows_stages_and_warnings_and_run_log_keeps_the_library_output(plain_run):
    done, run_dir = plain_run
    assert done.returncode == 0, done.stderr[-3000:]
    terminal = done.stdout + done.stderr
    for chatter in CHATTER:
        assert chatter not in terminal, f"{chatter!r} on the terminal:\n{terminal}"
    # stdout is a pipe: plain one-line stage updates, then the final table
    assert "[1/5] instructions: running" in done.stdout
    assert "[5/5] sft: done in " in done.stdout and "(loss " in done.stdout
    assert "stopped after sft (--until)" in done.stdout
    # a warning that matters stays visible: tiny.yaml overrides the failing truncation gate
    assert "warning: gate truncation after responses" in done.stderr and "overridden" in done.stderr
    log = (run_dir / "run.log").read_text(encoding="utf-8")
    assert "FutureWarning" in log  # transformers' deprecation warnings
    assert "selfalign.train: step 1/2: loss=" in log  # what TRL printed as a raw dict
    assert "Building labels for train dataset" in log  # datasets' tqdm bar
    assert "sft: running" in log and "gate truncation" in log


def test_verbose_brings_the_library_output_back(plain_run, tmp_path):
    _, run_dir = plain_run
    cfg = yaml.safe_load(TINY.read_text())
    cfg["sft"]["max_steps"] = 1  # only sft reruns (the earlier stages are cached): real TRL chatter, fast
    config = tmp_path / "tiny-sft1.yaml"
    config.write_text(yaml.safe_dump(cfg))
    done = _cli("run", str(config), "--run-dir", str(run_dir), "--until", "sft", "--verbose")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FutureWarning" in done.stderr and "gradient_checkpointing" in done.stderr
    assert "Building labels for train dataset" in done.stderr
    assert "step 1/1: loss=" in done.stderr
    assert "[5/5] sft: done in " in done.stdout and "[4/5] critique: cached" in done.stdout
    this_run = (run_dir / "run.log").read_text(encoding="utf-8").split("==== ")[-1]
    assert "FutureWarning" in this_run and "step 1/1: loss=" in this_run  # and still logged


def _chatty_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the split stage talk like a library (and like selfalign) before doing its work."""
    from selfalign.stages import split

    real = split.run

    def chatty(ctx):  # type: ignore[no-untyped-def]
        print("{'loss': '10.77', 'grad_norm': '0.3862'}")
        print("Loading weights: 100%|██████████| 24/24", file=sys.stderr)
        deprecation = "`old_arg` is deprecated and will be removed in v6"
        warnings.warn(deprecation, FutureWarning, stacklevel=1)
        logging.getLogger("transformers.modeling_utils").warning("[transformers] some weights were not used")
        logging.getLogger("selfalign.gates").warning("gate duplicates is close to its threshold")
        return real(ctx)

    monkeypatch.setattr(split, "run", chatty)


@pytest.mark.parametrize("verbose", [False, True])
def test_chatter_in_process_goes_to_run_log_unless_verbose(capsys, tmp_path, monkeypatch, verbose):
    import transformers.utils.logging  # noqa: F401  (its stderr handler exists before the run, as in the CLI)

    _chatty_split(monkeypatch)
    run_dir = tmp_path / "run"
    args = ["run", str(TINY), "--run-dir", str(run_dir), "--until", "split"]
    assert cli.run([*args, "--verbose"] if verbose else args) == 0
    out, err = capsys.readouterr()
    terminal = out + err
    assert "warning: gate duplicates is close to its threshold" in err  # ours: always visible
    assert "[2/2] split: done" in out
    log = (run_dir / "run.log").read_text(encoding="utf-8")
    for said in ("{'loss': '10.77'", "Loading weights", "old_arg` is deprecated", "weights were not used"):
        assert said in log, said
        assert terminal.count(said) == verbose, (said, terminal)  # once with --verbose, never without
    print("after the run")  # the streams were put back
    assert "after the run" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("error", "code", "status", "says"),
    [
        (OSError(28, "No space left on device", "train.jsonl"), 1, "failed", "no space left on the device"),
        (signal.SIGINT, 130, "interrupted", "interrupted by SIGINT"),  # the user presses Ctrl-C
    ],
)
def test_a_stage_that_stops_is_marked_and_run_log_keeps_why(
    capsys, tmp_path, monkeypatch, error, code, status, says
):
    from selfalign.stages import split

    def stop(ctx):  # type: ignore[no-untyped-def]
        if isinstance(error, signal.Signals):
            os.kill(os.getpid(), error)
        raise error

    monkeypatch.setattr(split, "run", stop)
    run_dir = tmp_path / "run"
    assert cli.run(["run", str(TINY), "--run-dir", str(run_dir), "--until", "split"]) == code
    out, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and says in err
    assert f"[2/2] split: {status} after " in out
    log = (run_dir / "run.log").read_text(encoding="utf-8")
    stopped_by = "KeyboardInterrupt" if error == signal.SIGINT else "OSError"
    assert f"run stopped: {stopped_by}" in log and "Traceback" in log and "in stop" in log


def test_run_log_is_not_written_when_the_run_never_starts(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    assert cli.run(["run", str(TINY), "--run-dir", str(blocker / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a file, not a directory" in err
    assert blocker.read_text() == "not a dir"
