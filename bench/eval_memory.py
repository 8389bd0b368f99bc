"""Peak memory of evaluation: base alone vs base + 2 LoRA adapters switched per condition.

``ru_maxrss`` is a process-lifetime peak, so each setup runs in its own fresh child process and reports
its own peak; the parent only makes the adapters (in another child) and compares. Usage:

    .venv/bin/python bench/eval_memory.py [--model smollm2-135m] [--prompts 4] [--tokens 16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

PROMPTS = [
    "Name three fruits.", "Describe the sea in one sentence.", "Explain rain to a child.",
    "Write a haiku about snow.", "List two colors.", "What is a black hole?",
]  # fmt: skip


def make_adapters(model: str, out: Path) -> None:
    import torch
    from peft import LoraConfig, get_peft_model

    from selfalign.engine import Engine, ModelSpec

    engine = Engine.load(ModelSpec(ref=model, sentinels=False))
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    for i, name in enumerate(("sft", "dpo")):
        torch.manual_seed(i)
        cfg = LoraConfig(r=16, lora_alpha=32, target_modules=targets, init_lora_weights=False)
        # A fresh wrap per adapter; save only that adapter, then unwrap so the next starts from the base.
        peft_model = get_peft_model(engine.model, cfg, adapter_name=name)
        peft_model.save_pretrained(str(out), selected_adapters=[name])
        engine.model = peft_model.unload()


def measure(model: str, adapters: Path | None, n_prompts: int, tokens: int) -> dict[str, object]:
    from selfalign.engine import Engine, GenParams, ModelSpec
    from selfalign.evaluate.memory import peak_rss_mb, rss_mb
    from selfalign.prompts.format import get_format

    engine = Engine.load(ModelSpec(ref=model, sentinels=False))
    names: list[str | None] = [None]
    if adapters is not None:
        for name in ("sft", "dpo"):
            engine.add_adapter(name, adapters / name)
            names.append(name)
    prompts = [get_format().prompt(p) for p in PROMPTS[:n_prompts]]
    params = GenParams(max_new_tokens=tokens, stop=get_format().stop, batch_size=n_prompts)
    outs = {str(n): [g.text for g in engine.generate(prompts, params, adapter=n)] for n in names}
    return {"conditions": list(outs), "rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb(), "sample": outs}


def child(args: list[str]) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=16)
    ap.add_argument("--child", choices=["make", "base", "adapters"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child == "make":
        make_adapters(a.model, Path(a.dir))
        print(json.dumps({"made": a.dir}))
        return
    if a.child is not None:
        adapters = Path(a.dir) if a.child == "adapters" else None
        print(json.dumps(measure(a.model, adapters, a.prompts, a.tokens)))
        return
    common = ["--model", a.model, "--prompts", str(a.prompts), "--tokens", str(a.tokens)]
    with tempfile.TemporaryDirectory() as tmp:
        child(["--child", "make", "--dir", tmp, *common])
        base = child(["--child", "base", *common])
        both = child(["--child", "adapters", "--dir", tmp, *common])
    ratio = both["peak_rss_mb"] / base["peak_rss_mb"]  # type: ignore[operator]
    differ = both["sample"]["None"] != both["sample"]["sft"] != both["sample"]["dpo"]  # type: ignore[index]
    print(json.dumps({"model": a.model, "base_peak_rss_mb": round(base["peak_rss_mb"], 1),  # type: ignore[arg-type]
                      "base_plus_2_adapters_peak_rss_mb": round(both["peak_rss_mb"], 1),  # type: ignore[arg-type]
                      "ratio": round(ratio, 3), "within_1_15": ratio <= 1.15,
                      "adapter_outputs_differ": differ}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
