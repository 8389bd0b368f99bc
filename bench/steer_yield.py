"""Steered vs unsteered sampling yield on a run's training instructions (issue 26's yield criterion).

Runs the responses stage itself (``stages.responses.run``, the code a pipeline run uses) on the training
split a run already wrote, with the responses settings of a config — so the measurement does not depend on
the pipeline's cache keys (any code change re-keys every stage) and costs only the sampling:

    python bench/steer_yield.py runs/steer-yield --config configs/steer-yield.yaml \
        --out runs/steer-yield/yield

Prints, and writes to ``OUT/yield.md``, the yield table (samples passing every check, unsteered vs steered,
per type and per number of constraints), the fluency rows and side-by-side samples; ``OUT/responses.jsonl``
holds every sample. The commit measured is printed with the figures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import machine
from selfalign.engine import Engine, ModelSpec
from selfalign.report.load import load_run
from selfalign.report.markdown import steer_section
from selfalign.stages.base import StageContext
from selfalign.stages.responses import ResponsesConfig, run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a run dir with split/train.jsonl (and split/test.jsonl)")
    ap.add_argument("--config", type=Path, required=True, help="config whose responses section is used")
    ap.add_argument("--out", type=Path, required=True, help="a new dir: OUT/responses holds the stage output")
    for key in ("limit", "samples", "extra_samples", "steered", "length_floor"):
        flag = "--" + key.replace("_", "-")
        ap.add_argument(flag, type=int, default=None, help=f"override responses.{key}")
    args = ap.parse_args()

    raw = yaml.safe_load(args.config.read_text("utf-8")) or {}
    section = dict(raw.get("responses") or {})
    for key in ("limit", "samples", "extra_samples", "steered", "length_floor"):
        if getattr(args, key) is not None:
            section[key] = getattr(args, key)
    cfg = ResponsesConfig.model_validate(section)
    if not cfg.steered:
        raise SystemExit(f"{args.config}: responses.steered is 0, nothing to compare")
    model = (raw.get("model") or {}).get("ref", "gemma3-270m")
    split = args.run / "split"
    inputs = {"instructions": split / "train.jsonl"}
    if (split / "test.jsonl").is_file():
        inputs["test"] = split / "test.jsonl"
    engine = Engine.load(ModelSpec(ref=model))
    engine.text_is_data = True  # prompts embed model-written instructions, as in the pipeline
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    started = time.perf_counter()
    out_dir = args.out / "responses"
    ctx = StageContext(name="responses", config=cfg, out_dir=out_dir, inputs=inputs, engine=lambda: engine)
    result = run(ctx)
    wall = time.perf_counter() - started
    text = (
        f"Steered-sampling yield, {model}, {args.run}/split/train.jsonl, first {cfg.limit} instructions, "
        f"{cfg.samples}+{cfg.extra_samples} unsteered and {cfg.steered} steered samples each, length floor "
        f"{cfg.length_floor}; commit "
        f"{commit.strip()}; {wall:.0f} s, {result.tokens_generated} tokens; {machine()}\n\n"
        + steer_section(load_run(args.out))
        + "\n"
    )
    (args.out / "yield.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
