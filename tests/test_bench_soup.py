"""bench/soup.py: the soup's LoRA delta is exactly the mean of its adapters' deltas (results/history.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from bench_module import bench_module

KEY = "base_model.model.model.layers.0.self_attn.q_proj.lora_{}.weight"


def _adapter(root: Path, seed: int, r: int, alpha: int, extra: bool = False) -> tuple[Path, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a, b = torch.randn(r, 12, generator=g), torch.randn(10, r, generator=g)
    tensors = {KEY.format("A"): a, KEY.format("B"): b}
    if extra:
        tensors[KEY.format("A").replace("q_proj", "k_proj")] = a.clone()
    root.mkdir()
    save_file(tensors, str(root / "adapter_model.safetensors"))
    (root / "adapter_config.json").write_text(json.dumps({"r": r, "lora_alpha": alpha, "lora_dropout": 0.1}))
    (root / "tokenizer.json").write_text("{}")
    return root, (alpha / r) * b @ a


def test_soup_delta_is_the_mean_of_the_deltas(tmp_path: Path) -> None:
    one, d1 = _adapter(tmp_path / "a", 0, r=4, alpha=8)
    two, d2 = _adapter(tmp_path / "b", 1, r=2, alpha=2)
    rank = bench_module("soup").soup(tmp_path / "soup", [one, two])
    assert rank == 6
    config = json.loads((tmp_path / "soup" / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], config["lora_dropout"]) == (6, 6, 0.0)
    w = load_file(str(tmp_path / "soup" / "adapter_model.safetensors"))
    delta = (config["lora_alpha"] / config["r"]) * w[KEY.format("B")] @ w[KEY.format("A")]
    torch.testing.assert_close(delta, (d1 + d2) / 2)
    assert not torch.allclose(delta, d1)  # a soup that just copied the first adapter would fail here
    assert (tmp_path / "soup" / "tokenizer.json").is_file()


def test_soup_refuses_adapters_on_other_modules(tmp_path: Path) -> None:
    one, _ = _adapter(tmp_path / "a", 0, r=2, alpha=2)
    two, _ = _adapter(tmp_path / "b", 1, r=2, alpha=2, extra=True)
    with pytest.raises(SystemExit, match="differ in their LoRA modules"):
        bench_module("soup").soup(tmp_path / "soup", [one, two])
