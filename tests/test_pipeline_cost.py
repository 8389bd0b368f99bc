"""Stage cost is booked to the device the stage ran on; --until names only what it wrote."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from selfalign import cli
from selfalign.pipeline import Run
from selfalign.stages.base import StageContext, StageResult, finish_training
from selfalign.train.config import SFTSettings

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def test_a_training_stage_on_cuda_is_gpu_hours_even_after_the_shared_engine_was_released(tmp_path):
    run = Run(TINY, tmp_path)
    assert run._engine is None  # released for training, as the pipeline does
    ctx = StageContext(name="sft", config=SFTSettings(), out_dir=tmp_path / "sft", inputs={},
                       engine=lambda: None)  # type: ignore[arg-type,return-value]  # fmt: skip
    outcome = SimpleNamespace(adapter_dir=tmp_path / "a", metrics_path=tmp_path / "m", merged_dir=None,
                              n_tokens=1, global_step=1, final={}, resumed_from=None,
                              cut_at_max_length=0)  # fmt: skip
    result = finish_training(ctx, SFTSettings(), outcome, {}, {}, {"device": "cuda:0"}, 0.0)
    device = run.device(result)
    assert device == "cuda:0"
    cost = run.cost(3600, device)
    assert cost["gpu_hours"] == 1.0 and cost["cpu_hours"] == 0.0
    assert run.cost(3600, run.device(StageResult(outputs={})))["cpu_hours"] == 1.0  # cpu spec, no engine


def test_until_says_what_was_written_and_claims_no_report(tmp_path, capsys):
    run_dir = tmp_path / "r"
    assert cli.run(["run", str(TINY), "--run-dir", str(run_dir), "--until", "split", "--quiet"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "stopped after split (--until)" in out and "no report written" in out
    assert "report.html" not in out and not (run_dir / "report.html").exists()
    assert "outputs:" in out and "/split" in out.split("outputs:")[1]
