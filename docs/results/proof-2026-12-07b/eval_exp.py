"""Evaluate adapters on items with the evaluate stage, on the proof config's engine (packed), as the
pipeline does.
usage: eval_exp.py ITEMS OUT [--base] NAME=PATH ..."""

import sys
from pathlib import Path

from selfalign.config import load_config
from selfalign.engine import Engine, ModelSpec
from selfalign.engine.backend import BackendSpec
from selfalign.evaluate.conditions import Condition
from selfalign.stages.base import StageContext
from selfalign.stages.evaluate import EvaluateConfig, run

items, out = Path(sys.argv[1]), Path(sys.argv[2])
base = "--base" in sys.argv
ads = dict(a.split("=", 1) for a in sys.argv[3:] if a != "--base")
cfg = load_config(Path("configs/proof.yaml"))
over = {"critic": None}
if not base:
    over |= {"conditions": [Condition(name=n, adapter=n) for n in ads], "baseline": next(iter(ads))}
ecfg = EvaluateConfig.model_validate({**cfg.evaluate.model_dump(exclude_unset=True), **over})
eng = Engine.load(ModelSpec(ref="gemma3-270m"), backend=BackendSpec(**cfg.engine.model_dump()))
eng.text_is_data = True
inputs = {"heldout": items} | {f"adapter:{n}": Path(p) for n, p in ads.items()}
res = run(StageContext("evaluate", ecfg, out, inputs, lambda: eng, seed=0, progress=False))
print("evaluate", res.counts)
