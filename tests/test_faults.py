"""Faults become one line naming the path and what to do; a library's Rust "(os error N)" is one too."""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

import pytest

from selfalign import cli
from selfalign.faults import as_os_error, describe
from selfalign.pipeline import run_pipeline

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def test_rust_os_errors_become_os_errors():
    err = as_os_error(Exception("No space left on device (os error 28)"))
    assert err is not None and err.errno == errno.ENOSPC
    assert as_os_error(ValueError("bad value")) is None
    assert as_os_error(OSError(errno.EACCES, "denied", "/x")).filename == "/x"


@pytest.mark.parametrize(
    ("code", "says"),
    [
        (errno.ENOSPC, "no space left on the device"),
        (errno.EACCES, "permission denied"),
        (errno.ENOTDIR, "is a file, not a directory"),
        (errno.ENOENT, "no such file or directory"),
        (errno.EROFS, "read-only"),
        (errno.EIO, "Input/output error"),
    ],
)
def test_describe_names_the_path_and_what_to_do(code, says):
    line = describe(OSError(code, os.strerror(code), "/runs/x/file"))
    assert line.startswith("/runs/x/file: ") and says in line and "\n" not in line


def test_a_stage_failing_with_a_rust_disk_error_is_one_line_naming_its_dir(tmp_path, monkeypatch, capsys):
    import selfalign.stages.split as split

    def full(ctx):
        raise Exception("No space left on device (os error 28)")  # what tokenizers' save raises

    monkeypatch.setattr(split, "run", full)
    run_dir = tmp_path / "r"
    assert cli.run(["run", str(TINY), "--run-dir", str(run_dir), "--until", "split", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: " + describe(OSError(errno.ENOSPC, "x", str(run_dir / "split")))


def test_ctrl_c_stops_with_one_line_and_the_rerun_completes(tmp_path, monkeypatch, capsys):
    import selfalign.stages.split as split

    # The handler the CLI must put back: the default one, or SIG_IGN when the shell started us in the
    # background (bash ignores SIGINT for background jobs; `make test &` made this test fail before).
    before = signal.getsignal(signal.SIGINT)

    real = split.run

    def interrupted(ctx):
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C during split
        return real(ctx)

    monkeypatch.setattr(split, "run", interrupted)
    run_dir = tmp_path / "r"
    assert cli.run(["run", str(TINY), "--run-dir", str(run_dir), "--until", "split", "--quiet"]) == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("interrupted by SIGINT: stopped cleanly; rerun the same command")
    assert "\n" not in err
    assert not (run_dir / "split" / "manifest.json").exists()
    assert signal.getsignal(signal.SIGINT) is before  # the CLI put the handler back
    monkeypatch.undo()
    run_pipeline(TINY, run_dir, progress=False, until="split")
    assert (run_dir / "split" / "test.jsonl").is_file()
