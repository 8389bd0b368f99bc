"""Average several LoRA adapters' weight deltas exactly (a "soup" of SFT seeds) into one PEFT adapter.

Each adapter's delta is scale_i * B_i @ A_i; stacking the A's along the rank and the weighted, scaled B's
along it gives one adapter of rank sum(r_i) whose delta is the mean of theirs (alpha = rank, so its own
scale is 1). Tensor work only: no model is loaded. Measured on the four seeds of configs/proof.yaml's data
(docs/results/history.md, 2026-12-02): the soup scored near the seeds' mean, not above their best.

    python bench/soup.py OUT_DIR runs/proof6/sft/adapter runs/proof9/sft/adapter ...
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = "adapter_model.safetensors"
CONFIG = "adapter_config.json"


def soup(out: Path, adapters: list[Path]) -> int:
    configs = [json.loads((a / CONFIG).read_text("utf-8")) for a in adapters]
    tensors = [load_file(str(a / WEIGHTS)) for a in adapters]
    if any(set(t) != set(tensors[0]) for t in tensors):
        raise SystemExit("adapters differ in their LoRA modules: cannot average them")
    w = 1.0 / len(adapters)
    merged = {}
    for key in tensors[0]:
        if ".lora_A." in key:
            merged[key] = torch.cat([t[key] for t in tensors], dim=0)
        elif ".lora_B." in key:
            scaled = [t[key] * w * (c["lora_alpha"] / c["r"]) for t, c in zip(tensors, configs, strict=True)]
            merged[key] = torch.cat(scaled, dim=1)
        else:
            raise SystemExit(f"{adapters[0] / WEIGHTS}: unexpected tensor {key!r} (only LoRA A/B averaged)")
    rank = sum(c["r"] for c in configs)
    out.mkdir(parents=True, exist_ok=True)
    for f in adapters[0].iterdir():  # tokenizer, chat template, card
        if f.is_file() and f.name not in (WEIGHTS, CONFIG):
            shutil.copy(f, out / f.name)
    config = {**configs[0], "r": rank, "lora_alpha": rank, "lora_dropout": 0.0}
    (out / CONFIG).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", "utf-8")
    save_file(merged, str(out / WEIGHTS))
    return rank


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("adapters", type=Path, nargs="+")
    args = ap.parse_args()
    print(f"wrote {args.out}: rank {soup(args.out, args.adapters)} from {len(args.adapters)} adapters")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
