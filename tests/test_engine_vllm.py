"""The vLLM backend gives the torch backend's results through the same two primitives.

Runs in ``.venv-vllm`` (``make test-vllm``); skipped where vLLM is not installed (the main venv). Models:
tiny random llama (SmolLM2's tokenizer, no BOS) and gemma3 (Gemma's 262k tokenizer and its BOS), head dim
32 (tests/vllm_models.py), in fp32 on both backends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

pytest.importorskip("vllm")

from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.backend import BackendSpec
from selfalign.judge.ab import ABPointwise
from selfalign.judge.types import Item
from vllm_models import lora_dir, tiny_dir

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
# scoring="backend": these tests compare vLLM's own log-probs with torch's (``auto`` scores in torch on a CPU)
VLLM = BackendSpec(backend="vllm", kv_cache_gb=1, max_model_len=1024, max_lora_rank=8, scoring="backend")
PROMPTS = [
    "Instruction: Name a fruit.\nResponse:",
    "Hello world, this is",
    "The capital of France is",
    "Instruction: Write a haiku about the sea.\nResponse:",
    "1, 2, 3, 4,",
    "def add(a, b):\n    return",
    "Q: What colour is the sky?\nA:",
    "Once upon a time, in a land far away, there lived a",
]


class Pair:
    def __init__(self, kind: str, root: Path) -> None:
        self.dir = tiny_dir(kind, root / kind)
        self.adapter = lora_dir(self.dir, root / f"{kind}-lora", seed=1)
        self.torch = Engine.load(ModelSpec(ref=str(self.dir), sentinels=False))
        self.vllm = Engine.load(ModelSpec(ref=str(self.dir), sentinels=False), backend=VLLM)
        for e in (self.torch, self.vllm):
            e.add_adapter("lora", self.adapter)


@pytest.fixture(scope="module", params=["tiny-random-llama", "tiny-random-gemma3"])
def pair(request, tmp_path_factory) -> Iterator[Pair]:
    p = Pair(request.param, tmp_path_factory.mktemp("vllm"))
    yield p
    assert p.vllm.backend is not None
    p.vllm.backend.close()


def same(a, b) -> list[str]:
    """Fields that differ between two Generation lists, one line per row."""
    out = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        diff = [f for f in ("prompt", "raw", "text", "stop_reason", "stop", "n_tokens", "n_prompt_tokens")
                if getattr(x, f) != getattr(y, f)]  # fmt: skip
        if diff:
            out.append(f"row {i}: {diff}: {x!r} vs {y!r}")
    return out


def generated_ids(engine: Engine, prompt: str, n: int, adapter: str | None) -> list[int]:
    """Greedy ids straight from the torch model (a ``Generation`` carries text, not ids)."""
    ids = engine.guard.encode(prompt)
    with torch.inference_mode(), engine.using(adapter) as model:
        for _ in range(n):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[-n:]


def test_provenance_names_backend_and_version(pair):
    b = pair.vllm.provenance["backend"]
    assert b["name"] == "vllm" and b["package"] in ("vllm", "vllm-cpu") and b["version"]
    assert pair.torch.provenance["backend"] == {"name": "torch"}
    assert pair.vllm.guard.bos.bos_id == pair.torch.guard.bos.bos_id


@pytest.mark.parametrize("adapter", [None, "lora"])
def test_greedy_equal_with_stop_strings_and_eos(pair, adapter):
    free = pair.torch.generate(PROMPTS, GenParams(max_new_tokens=24), adapter=adapter)
    # Stop strings taken from what the model writes, so some rows stop on them and others run to length.
    stops = tuple(dict.fromkeys(g.raw[len(g.raw) // 2 : len(g.raw) // 2 + 3] for g in free[:3] if g.raw))
    params = GenParams(max_new_tokens=24, stop=stops, batch_size=4)
    want = pair.torch.generate(PROMPTS, params, adapter=adapter)
    got = pair.vllm.generate(PROMPTS, params, adapter=adapter)
    assert not same(want, got)
    assert {"stop", "length"} <= {g.stop_reason for g in want}
    # EOS: declare a token the model emits mid-row as an end of sequence (both engines read eos_ids).
    eos = generated_ids(pair.torch, PROMPTS[3], 12, adapter)[6]
    for e in (pair.torch, pair.vllm):
        e.eos_ids.add(eos)
    try:
        want = pair.torch.generate(PROMPTS, GenParams(max_new_tokens=24), adapter=adapter)
        got = pair.vllm.generate(PROMPTS, GenParams(max_new_tokens=24), adapter=adapter)
    finally:
        for e in (pair.torch, pair.vllm):
            e.eos_ids.discard(eos)
    assert not same(want, got)
    assert "eos" in {g.stop_reason for g in want}


def test_adapter_changes_output_and_base_comes_back(pair):
    base = pair.vllm.generate(PROMPTS[:4], GenParams(max_new_tokens=12))
    lora = pair.vllm.generate(PROMPTS[:4], GenParams(max_new_tokens=12), adapter="lora")
    again = pair.vllm.generate(PROMPTS[:4], GenParams(max_new_tokens=12))
    assert [g.raw for g in base] != [g.raw for g in lora]
    assert not same(base, again)


@pytest.mark.parametrize("adapter", [None, "lora"])
def test_logprobs_match_per_token_and_critic_decides_the_same(pair, adapter):
    reqs = [(p, [" yes", " no", " Paris", "\n"]) for p in PROMPTS]
    want = pair.torch.logprobs(reqs, adapter=adapter)
    got = pair.vllm.logprobs(reqs, adapter=adapter)
    deltas = [abs(a - b) for ws, gs in zip(want, got, strict=True) for w, g in zip(ws, gs, strict=True)
              for a, b in zip(w.token_logprobs, g.token_logprobs, strict=True)]  # fmt: skip
    assert len(deltas) >= len(PROMPTS) * 4
    assert sum(deltas) / len(deltas) < 1e-4, max(deltas)
    answers = PROMPTS[1:] + PROMPTS[:1]
    items = [Item(str(i), p, r) for i, (p, r) in enumerate(zip(PROMPTS, answers, strict=True))]
    critic = ABPointwise()
    jt, jv = critic.score(pair.torch, items, adapter=adapter), critic.score(pair.vllm, items, adapter=adapter)
    assert [j.p_good >= 0.5 for j in jt] == [j.p_good >= 0.5 for j in jv]
    assert max(abs(a.p_good - b.p_good) for a, b in zip(jt, jv, strict=True)) < 1e-4


def test_sampling_is_per_row_seeded_and_long_prompts_do_not_kill_the_engine(pair):
    # ~30 prompts of several hundred tokens: more than one scheduler step's token budget, the case where
    # vllm-cpu's chunked prefill rewound a seeded row's generator and died (docs/ARCHITECTURE.md).
    long = [f"Example {i}: " + " ".join(PROMPTS) * 6 + f"\nInstruction {i}:" for i in range(30)]
    params = GenParams(max_new_tokens=8, temperature=0.8, top_p=0.95, seed=7)
    alone = pair.vllm.generate(long[:3], params)
    mixed = pair.vllm.generate([*long[3:], long[2], long[0], long[1]], params)
    assert [g.raw for g in mixed[-3:]] == [alone[2].raw, alone[0].raw, alone[1].raw]
    assert [g.seed for g in mixed[-3:]] == [alone[2].seed, alone[0].seed, alone[1].seed]
    repeats = pair.vllm.generate([long[0]] * 4, params)  # best-of-N: distinct seeds, distinct samples
    assert len({g.seed for g in repeats}) == 4 and len({g.raw for g in repeats}) > 1
    assert pair.vllm.generate(long[:3], GenParams(**{**params.__dict__, "seed": 8}))[0].raw != alone[0].raw


def test_auto_scoring_on_cpu_runs_logprobs_on_the_torch_model_and_generation_on_vllm(pair):
    """``scoring: auto`` on a CPU: vLLM generates, the engine's torch model scores (vllm-cpu scored 12x
    slower); the adapter is attached to both, and the numbers are the torch backend's exactly."""
    spec = BackendSpec(backend="vllm", kv_cache_gb=1, max_model_len=1024, max_lora_rank=8)
    engine = Engine.load(ModelSpec(ref=str(pair.dir), sentinels=False), backend=spec)
    try:
        engine.add_adapter("lora", pair.adapter)
        assert engine.provenance["backend"]["name"] == "vllm"
        assert engine.provenance["backend"]["scoring"] == "torch"
        reqs = [(p, [" yes", " Paris"]) for p in PROMPTS]
        for adapter in (None, "lora"):
            want = pair.torch.logprobs(reqs, adapter=adapter)
            got = engine.logprobs(reqs, adapter=adapter)
            assert [[o.token_logprobs for o in r] for r in got] == [
                [o.token_logprobs for o in r] for r in want]
        base, tuned = engine.logprobs(reqs[:1]), engine.logprobs(reqs[:1], adapter="lora")
        assert base[0][0].token_logprobs != tuned[0][0].token_logprobs  # the adapter applies in torch too
        params = GenParams(max_new_tokens=8)
        assert same(engine.generate(PROMPTS, params, adapter="lora"),
                    pair.vllm.generate(PROMPTS, params, adapter="lora")) == []  # fmt: skip
    finally:
        assert engine.backend is not None
        engine.backend.close()


CONSOLE_SCRIPT = '''
import sys
from pathlib import Path

from selfalign.console import run_console
from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.backend import BackendSpec


def once(model):
    spec = BackendSpec(backend="vllm", kv_cache_gb=1, max_model_len=512, max_lora_rank=8)
    engine = Engine.load(ModelSpec(ref=model, sentinels=False), backend=spec)
    try:
        engine.generate(["Hello"], GenParams(max_new_tokens=4))
    finally:
        engine.backend.close()


if __name__ == "__main__":  # vLLM's engine process is spawned: it imports this module again
    once(sys.argv[1])
    print("outside a run: done", flush=True)
    with run_console(Path(sys.argv[2]), quiet=True) as view:
        view.begin(["vllm"])
        once(sys.argv[1])
    print("in a run: done", flush=True)
'''


def test_vllm_processes_print_nothing_on_the_terminal(tmp_path):
    """vLLM's engine and worker processes print INFO logs, a NUMA warning (C++) and loading bars; outside a
    run they go to the library log, in a run to run.log — the terminal (this subprocess's stdout and stderr)
    gets the script's own lines only."""
    import subprocess
    import sys

    model = tiny_dir("tiny-random-llama", tmp_path / "model")
    script, run_dir = tmp_path / "console.py", tmp_path / "run"
    script.write_text(CONSOLE_SCRIPT, "utf-8")
    run_dir.mkdir()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    env.pop("VLLM_LOGGING_STREAM", None)
    done = subprocess.run([sys.executable, str(script), str(model), str(run_dir)], capture_output=True,
                          text=True, timeout=1200, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines() == ["outside a run: done", "in a run: done"], done.stdout[-3000:]
    assert done.stderr == "", done.stderr[-3000:]
    log = (run_dir / "run.log").read_text("utf-8")
    for said in ("EngineCore", "Worker", "INFO", "Loading safetensors checkpoint shards", "[shutdown]"):
        assert said in log, said


def test_auto_runs_each_shape_on_the_backend_the_table_picks(tmp_path, monkeypatch):
    """``engine.backend: auto`` on this kind of machine (2 cores): vLLM starts because the table picks it for
    some shape; each call runs on its shape's pick, with the adapter on both, and provenance says why."""
    from selfalign.engine import autopick

    monkeypatch.setattr(autopick, "cores", lambda: 2)
    monkeypatch.setattr(autopick, "isa", lambda: "avx2")  # the machine the table's rows were measured on
    want = {m.shape: "vllm" if m.vllm > m.torch else "torch" for m in autopick.MEASURED if m.device == "cpu"}
    assert set(want.values()) == {"torch", "vllm"}, "the table no longer splits: this test needs a new shape"
    model = tiny_dir("tiny-random-llama", tmp_path / "model")
    adapter = lora_dir(model, tmp_path / "lora", seed=1)
    reference = Engine.load(ModelSpec(ref=str(model), sentinels=False))
    spec = BackendSpec(backend="auto", kv_cache_gb=1, max_model_len=1024, max_lora_rank=8)
    engine = Engine.load(ModelSpec(ref=str(model), sentinels=False), backend=spec)
    try:
        shapes = engine.provenance["backend"]["shapes"]
        assert {s: v["backend"] for s, v in shapes.items()} == want
        assert all("2026-" in v["why"] for v in shapes.values())  # the measurement's date is the reason
        for e in (engine, reference):
            e.add_adapter("lora", adapter)
        assert engine.backend is not None
        calls: list[int] = []
        real = engine.backend.generate
        monkeypatch.setattr(engine.backend, "generate", lambda *a, **k: calls.append(1) or real(*a, **k))
        long = [" ".join(PROMPTS) * 3 + p for p in PROMPTS[:3]]  # over FEW_SHOT_TOKENS
        cases = [("short_greedy", PROMPTS, GenParams(max_new_tokens=8)),
                 ("fewshot_greedy", long, GenParams(max_new_tokens=8)),
                 ("sampled", PROMPTS, GenParams(max_new_tokens=8, temperature=0.8, seed=3))]  # fmt: skip
        for shape, prompts, params in cases:
            before = len(calls)
            got = engine.generate(prompts, params, adapter="lora")
            assert len(calls) - before == (want[shape] == "vllm"), shape
            if want[shape] == "torch" or params.temperature == 0:  # vLLM samples with its own sampler
                assert not same(got, reference.generate(prompts, params, adapter="lora")), shape
        reqs = [(p, [" yes", " no"]) for p in PROMPTS]
        if want["scoring"] == "torch":
            assert engine.logprobs(reqs, adapter="lora") == reference.logprobs(reqs, adapter="lora")
    finally:
        assert engine.backend is not None
        engine.backend.close()
