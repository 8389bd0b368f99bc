"""SFT on fixed data through selfalign's trainer, for one process or under ``accelerate launch``.

``python tests/mp_sft.py OUT BATCH`` trains tiny-random-llama; tests/test_train_multiprocess.py runs it in
one process (batch 8) and in two gloo processes (batch 4 each: the same 8 examples a step).
"""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = [
    (f"Instruction: Name thing number {i}.\nResponse:", f" Thing {i} is a {w}.\nEND")
    for i, w in enumerate(["cat", "tree", "river", "stone", "cloud", "lamp", "road", "bird"])
]


def main(out: Path, batch: int) -> None:
    from selfalign.engine import Engine, ModelSpec
    from selfalign.train.config import LoraSettings, SFTSettings
    from selfalign.train.sft import train_sft

    engine = Engine.load(ModelSpec(ref="tiny-random-llama", sentinels=False))
    engine.text_is_data = True
    settings = SFTSettings(
        lora=LoraSettings(r=4, alpha=8, dropout=0.0),  # no dropout: the processes' RNGs differ
        learning_rate=5e-3,
        lr_scheduler="constant",
        warmup_ratio=0.0,
        max_steps=6,
        batch_size=batch,
        tensorboard=False,
        save_steps=100,
    )
    train_sft(engine, EXAMPLES, settings, out)


if __name__ == "__main__":  # accelerate launch starts this file once per process
    main(Path(sys.argv[1]), int(sys.argv[2]))
