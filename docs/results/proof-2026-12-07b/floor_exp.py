"""Experiment: critique.min_words on a finished run's responses, then SFT (one seed) as the pipeline
runs it."""

import shutil
import sys
from pathlib import Path

from selfalign.config import load_config
from selfalign.engine import Engine, ModelSpec
from selfalign.engine.backend import BackendSpec
from selfalign.stages import critique, sft
from selfalign.stages.base import StageContext

run, out, floor, seed = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
cfg = load_config(Path("configs/proof.yaml"))
cdir = out / "critique"
cdir.mkdir(parents=True, exist_ok=True)
for f in (run / "critique").glob("calibration-*.json"):
    shutil.copy(f, cdir / f.name)
if not (cdir / "accepted.jsonl").exists():
    ccfg = critique.CritiqueConfig.model_validate(
        {**cfg.critique.model_dump(exclude_unset=True), "min_words": floor or None}
    )
    eng = Engine.load(ModelSpec(ref="gemma3-270m"), backend=BackendSpec(**cfg.engine.model_dump()))
    eng.text_is_data = True
    res = critique.run(
        StageContext(
            "critique",
            ccfg,
            cdir,
            {"responses": run / "responses/responses.jsonl"},
            lambda: eng,
            seed=0,
            progress=False,
        )
    )
    print("critique", res.counts)
    del eng
scfg = sft.SFTStageConfig.model_validate(
    {**cfg.sft.model_dump(exclude_unset=True), "seeds": None, "seed": seed}
)
sdir = out / f"sft-s{seed}"
res = sft.run(
    StageContext(
        f"sft-s{seed}",
        scfg,
        sdir,
        {"accepted": cdir / "accepted.jsonl"},
        lambda: (_ for _ in ()).throw(RuntimeError("own engine")),
        seed=seed,
        extra={"model_spec": ModelSpec(ref="gemma3-270m")},
    )
)
print("sft", res.counts)
