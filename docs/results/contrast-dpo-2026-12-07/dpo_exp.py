"""Experiment: contrast-pair DPO from a finished run's SFT adapters, one seed, as the pipeline's dpo stage
runs it. usage: dpo_exp.py RUN PAIRS OUT SEED [MAX_PAIRS]  (proof.yaml's dpo section, max_pairs 80 unless
given; start and reference = RUN/sft-sSEED/adapter)"""

import sys
from pathlib import Path

from selfalign.config import load_config
from selfalign.engine import ModelSpec
from selfalign.stages import dpo
from selfalign.stages.base import StageContext

run, pairs, out, seed = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
cfg = load_config(Path("configs/proof.yaml"))
dcfg = dpo.DPOStageConfig.model_validate(
    {
        **cfg.dpo.model_dump(exclude_unset=True),
        "seeds": None,
        "seed": seed,
        **({"max_pairs": int(sys.argv[5])} if len(sys.argv) > 5 else {}),
    }
)
print("dpo config", dcfg.model_dump())
res = dpo.run(
    StageContext(
        f"dpo-s{seed}",
        dcfg,
        out / f"dpo-s{seed}",
        {"pairs": pairs, "sft_adapter": run / f"sft-s{seed}/adapter"},
        lambda: (_ for _ in ()).throw(RuntimeError("own engine")),
        seed=seed,
        extra={"model_spec": ModelSpec(ref="gemma3-270m")},
    )
)
print("dpo", res.counts)
