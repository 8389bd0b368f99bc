"""The run's views and routing pieces on their own: what the live table shows, the plain lines, run.log's
buffering, where warnings go, gate notices, and the Trainer's printing turned off."""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

from rich.console import Console

from selfalign import progress
from selfalign.console import routing
from selfalign.console.live import LiveView, clock
from selfalign.console.plain import PlainView
from selfalign.gates import gate_notices


def _text(view: LiveView) -> str:
    console = Console(width=140, record=True, file=io.StringIO(), force_terminal=False)
    console.print(view.render())
    return console.export_text()


def test_live_view_shows_stages_progress_rate_eta_and_loss():
    view = LiveView("selfalign run → runs/x")
    view.begin(["instructions", "responses", "sft"])
    assert "preflight: loading the model" in _text(view)
    view.stage_finished({"name": "instructions", "status": "cached", "wall_seconds": 0.2})
    view.stage_started("responses")
    view.start_task("generate 24", 24, "items")
    view.advance(0, 50)
    view.advance(6, 50)
    text = _text(view)
    assert "cached" in text and "pending" in text
    assert "generate 24" in text and "6/24 items" in text and "tok/s" in text and "ETA 0:" in text
    view.stage_finished({"name": "responses", "status": "done", "wall_seconds": 3.0, "tokens_generated": 100})
    view.stage_started("sft")
    view.start_task("train", 4, "steps", done=1)  # resumed from a checkpoint at step 1
    view.advance(1)
    view.train_log(2, {"loss": 10.77, "learning_rate": 0.0})
    view.train_log(2, {"train_runtime": 1.0})  # a log without a loss changes nothing
    view.train_log(3, {"loss": 10.5})
    text = _text(view)
    assert "2/4 steps" in text and "loss 10.77 → 10.5" in text and "100 tokens" in text


def test_failed_stage_is_marked():
    view = LiveView("t")
    view.begin(["split"])
    view.stage_started("split")
    assert view.failed() is not None
    assert "failed" in _text(view)


def test_plain_view_prints_one_line_per_stage_event():
    out = io.StringIO()
    view = PlainView("selfalign run → r", out)
    view.begin(["split", "sft"])
    view.stage_finished({"name": "split", "status": "cached", "wall_seconds": 0.0})
    view.stage_started("sft")
    view.start_task("train", 2, "steps")
    view.train_log(1, {"loss": 1.5})
    view.train_log(2, {"loss": 1.25})
    view.stage_finished({"name": "sft", "status": "done", "wall_seconds": 2.34})
    assert out.getvalue().splitlines() == [
        "selfalign run → r: 2 stages; loading the model",
        "[1/2] split: cached",
        "[2/2] sft: running",
        "[2/2] sft: done in 2.3 s (loss 1.5 → 1.25)",
    ]
    assert "\x1b" not in out.getvalue()


def test_clock():
    assert (clock(5), clock(65), clock(3725)) == ("0:05", "1:05", "1:02:05")


def test_progress_view_is_installed_only_for_the_duration():
    view = LiveView("t")
    assert progress.current() is None
    with progress.installed(view):
        assert progress.current() is view
    assert progress.current() is None


def test_run_log_keeps_records_until_the_run_dir_is_locked(tmp_path):
    handler = routing.RunLog(tmp_path / "run" / "run.log")
    record = logging.LogRecord("transformers", logging.WARNING, __file__, 1, "early", None, None)
    handler.handle(record)
    assert not (tmp_path / "run").exists()  # nothing created before the run owns its dir
    (tmp_path / "run").mkdir()
    handler.open("header")
    handler.handle(logging.LogRecord("selfalign", logging.INFO, __file__, 1, "later", None, None))
    handler.close()
    lines = (tmp_path / "run" / "run.log").read_text().splitlines()
    assert lines[0] == "==== header" and "early" in lines[1] and "later" in lines[2]
    assert handler.failed is None


def test_run_log_that_cannot_be_opened_is_reported_not_raised(tmp_path):
    handler = routing.RunLog(tmp_path / "missing" / "run.log")
    handler.open("header")
    assert handler.failed is not None and "missing" in handler.failed


def test_stray_output_becomes_library_records_line_by_line(caplog):
    stream = routing.StreamToLog("stderr")
    with caplog.at_level(logging.INFO, logger=routing.STREAMS):
        stream.write("bar  0%\rbar 100%\nhalf")
        stream.write(" a line\n")
        stream.write("tail")
        stream.drain()
    assert [r.getMessage() for r in caplog.records] == [
        "stderr: bar  0%", "stderr: bar 100%", "stderr: half a line", "stderr: tail",
    ]  # fmt: skip


def test_our_warnings_stay_visible_library_deprecations_are_chatter(caplog):
    ours = str(Path(routing.__file__))
    with caplog.at_level(logging.WARNING):
        routing.show_warning(UserWarning("a gate is close"), UserWarning, ours, 1)
        routing.show_warning(FutureWarning("old"), FutureWarning, ours, 1)  # a deprecation we triggered
        routing.show_warning(FutureWarning("old"), FutureWarning, warnings.__file__, 1)
    assert [r.name for r in caplog.records] == ["selfalign.warnings", routing.LIBRARY, routing.LIBRARY]


def test_library_stream_handlers_are_detached_and_put_back():
    logger = logging.getLogger("somelib")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    logger.propagate = False
    try:
        changed = routing.detach_library_handlers()
        assert handler not in logger.handlers and logger.propagate
        routing.reattach(changed)
        assert handler in logger.handlers and not logger.propagate
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def _gate(value: float, threshold: float, kind: str, passed: bool, overridden: bool = False) -> dict:
    return {"name": "g", "stage": "s", "value": value, "threshold": threshold, "kind": kind,
            "passed": passed, "overridden": overridden}  # fmt: skip


def test_gate_notices_name_overridden_failures_and_near_misses():
    assert gate_notices([_gate(0.2, 0.5, "max", True), _gate(0.0, 0, "max", True)]) == []
    [near_max] = gate_notices([_gate(0.46, 0.5, "max", True)])
    assert near_max == "gate g after s: 0.46 vs max 0.5: passed, but within 10% of the threshold"
    assert gate_notices([_gate(0.105, 0.1, "min", True)])  # a min gate just above its floor
    [failed] = gate_notices([_gate(1.0, 0.5, "max", False, overridden=True)])
    assert "failed" in failed and "overridden" in failed
    assert gate_notices([_gate(1.0, 0.5, "max", False)]) == []  # a hard failure is the run's error


def test_trainer_printing_is_replaced_by_the_feed():
    from transformers import PrinterCallback, ProgressCallback

    from selfalign.train.progress import FeedView, attach

    class Handler:
        def __init__(self) -> None:
            self.callbacks = [PrinterCallback(), ProgressCallback()]

    class Trainer:
        callback_handler = Handler()

        def remove_callback(self, cls: type) -> None:
            self.callback_handler.callbacks = [c for c in self.callback_handler.callbacks
                                               if not isinstance(c, cls)]  # fmt: skip

        def add_callback(self, cb: object) -> None:
            self.callback_handler.callbacks.append(cb)

    trainer = attach(Trainer())  # type: ignore[type-var]
    assert [type(c) for c in trainer.callback_handler.callbacks] == [FeedView]
