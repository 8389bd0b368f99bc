"""One writer per run dir: a second process fails at once naming the holder; kill -9 frees the lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from selfalign import cli
from selfalign.errors import SelfalignError
from selfalign.runlock import RunDirBusy, run_dir_lock

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def holder(tmp_path):
    """Another process holding ``tmp_path/run``'s lock until it is killed."""
    run_dir = tmp_path / "run"
    code = textwrap.dedent(f"""
        import time
        from selfalign.runlock import run_dir_lock
        with run_dir_lock({str(run_dir)!r}, "selfalign run holder.yaml"):
            print("locked", flush=True)
            time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    yield run_dir, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "selfalign.cli", *args], env=ENV, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_second_run_exits_1_with_one_line_naming_the_holder_and_writes_nothing(holder):
    run_dir, proc = holder
    before = sorted(p.name for p in run_dir.iterdir())
    started = time.monotonic()
    out = _cli("run", str(TINY), "--run-dir", str(run_dir), "--quiet")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"in use by pid {proc.pid} on " in lines[0] and "selfalign run holder.yaml" in lines[0]
    assert time.monotonic() - started < 60  # at once: no model is loaded first
    assert sorted(p.name for p in run_dir.iterdir()) == before == [".lock"]


def test_report_waits_its_turn_too(holder, capsys):
    run_dir, proc = holder
    assert cli.run(["report", str(run_dir)]) == 1  # in-process: the holder is still another process
    err = capsys.readouterr().err
    assert f"pid {proc.pid}" in err and len(err.strip().splitlines()) == 1
    assert not (run_dir / "report.html").exists()


def test_kill_9_releases_the_lock(holder):
    run_dir, proc = holder
    with pytest.raises(RunDirBusy, match=f"pid {proc.pid}"), run_dir_lock(run_dir):
        pass
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with run_dir_lock(run_dir):  # the stale lock file is left, but nobody holds it
        assert (run_dir / ".lock").exists()


def test_the_lock_is_reentrant_in_one_process(tmp_path):
    with run_dir_lock(tmp_path / "r"), run_dir_lock(tmp_path / "r"):
        pass
    with run_dir_lock(tmp_path / "r"):  # and free again afterwards
        pass


def test_report_on_a_missing_dir_does_not_create_it(tmp_path):
    typo = tmp_path / "typo"
    with pytest.raises(SelfalignError, match="no such run directory"), run_dir_lock(typo, create=False):
        pass
    assert not (tmp_path / "typo").exists()
