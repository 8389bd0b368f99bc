"""Usage mistakes and path faults end in one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from selfalign import cli

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["run"], 2, "Missing argument 'config'"),
        (["run", str(TINY), "--bogus"], 2, "No such option: --bogus"),
        (["run", str(TINY), "--until"], 2, "--until"),
        (["report"], 2, "Missing argument"),
        (["no-such-command"], 2, "No such command"),
        (["run", "missing.yaml"], 1, "missing.yaml"),
    ],
)
def test_usage_mistakes_are_one_line(capsys, argv, code, says):
    assert cli.run(argv) == code
    err = _one_line(capsys)
    assert err.startswith("error: ") and says in err


def test_run_dir_under_a_regular_file_is_one_line_naming_the_path(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a dir")
    assert cli.run(["run", str(TINY), "--run-dir", str(blocker / "run"), "--quiet"]) == 1
    err = _one_line(capsys)
    assert str(blocker / "run") in err and "is a file, not a directory" in err


def test_run_dir_without_permission_is_one_line(capsys, tmp_path, monkeypatch):
    # Injected (tests may run as root, where mode bits are not enforced): mkdir refused as on a 0500 parent.
    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert cli.run(["run", str(TINY), "--run-dir", str(tmp_path / "run"), "--quiet"]) == 1
    err = _one_line(capsys)
    assert str(tmp_path / "run") in err and "permission denied" in err


def test_unknown_until_stage_is_one_line(capsys, tmp_path):
    assert cli.run(["run", str(TINY), "--run-dir", str(tmp_path / "r"), "--until", "nope", "--quiet"]) == 1
    assert "--until 'nope': no such stage" in _one_line(capsys)
