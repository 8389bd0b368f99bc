"""Continuous batching and shared-prefix reuse change no output: greedy rows equal the engine without
them (and HF ``generate`` on each prompt alone), sampled rows equal under the same seeds whatever the batch
composition and queue order. The paths are checked to have run (merges, stem passes): the tests can fail."""

from __future__ import annotations

import itertools
import random

import pytest
import torch

from selfalign.engine import Engine, GenParams, ModelSpec, batch, generate
from selfalign.engine.batch import Stems

# Few-shot shape: a shared block longer than the tiny Gemma's sliding window (64), suffixes of many lengths,
# plus prompts that share nothing (they are prefilled plainly next to the stem's rows).
SHOTS = "".join(
    f"Instruction: Write example number {i} about the sea.\nResponse: A calm sea, number {i}.\n\n"
    for i in range(4)
)
PROMPTS = [SHOTS + f"Instruction: {'tell me ' * k}about item {k}.\nResponse:" for k in range(7)] + [
    "Hello there",
    "Short",
    SHOTS + "Instruction: x\nResponse:",
]
SETTINGS = [(False, False), (True, False), (False, True), (True, True)]  # (refill, prefixes)


@pytest.fixture(scope="module", params=["tiny-random-gemma3", "tiny-random-llama"])
def engine(request) -> Engine:
    return Engine.load(ModelSpec(ref=request.param, sentinels=False))


def _run(engine: Engine, prompts, params: GenParams, refill: bool, prefixes: bool) -> list[tuple]:
    old = engine.torch.options.refill, engine.torch.options.prefixes
    engine.torch.options.refill, engine.torch.options.prefixes = refill, prefixes
    try:
        return [(g.raw, g.stop_reason, g.n_tokens, g.seed) for g in engine.generate(prompts, params)]
    finally:
        engine.torch.options.refill, engine.torch.options.prefixes = old


def _stops(engine: Engine, extra: dict) -> tuple[str, ...]:
    """Stop strings that end some rows early and at different steps (so freed slots are refilled)."""
    gens = _run(engine, PROMPTS, GenParams(max_new_tokens=24, batch_size=16, **extra), False, False)
    texts = [g[0] for g in gens]
    return tuple(texts[r][int(len(texts[r]) * f) :][:4] for r, f in ((0, 0.2), (2, 0.5), (4, 0.8)))


@pytest.fixture()
def spy(monkeypatch):
    calls = {"stem": 0, "merge": 0}
    stem_kv, merge = batch.stem_kv, generate.merge

    def counted_stem(*a, **k):
        calls["stem"] += 1
        return stem_kv(*a, **k)

    def counted_merge(*a, **k):
        calls["merge"] += 1
        return merge(*a, **k)

    monkeypatch.setattr(batch, "stem_kv", counted_stem)
    monkeypatch.setattr(generate, "merge", counted_merge)
    return calls


@pytest.mark.parametrize(
    "extra",
    [{}, {"temperature": 0.9, "top_p": 0.9, "top_k": 40, "seed": 3}, {"repetition_penalty": 1.3}],
    ids=["greedy", "sampled", "penalty"],
)
def test_refill_and_prefix_reuse_equal_the_engine_without_them(engine, spy, extra):
    stops = _stops(engine, extra)
    assert stops
    params = GenParams(max_new_tokens=24, batch_size=16, stop=stops, **extra)
    want = _run(engine, PROMPTS, params, False, False)
    assert len({g[2] for g in want}) > 1  # rows really end at different steps
    for (refill, prefixes), size in itertools.product(SETTINGS, (1, 3, 4)):
        params = GenParams(max_new_tokens=24, batch_size=size, stop=stops, **extra)
        assert _run(engine, PROMPTS, params, refill, prefixes) == want, (refill, prefixes, size)
    assert spy["stem"] > 0 and spy["merge"] > 0


def test_sampled_rows_do_not_depend_on_queue_order_or_batch_mates(engine):
    params = GenParams(max_new_tokens=16, temperature=1.0, top_p=0.95, seed=7, batch_size=3)
    prompts = PROMPTS + [PROMPTS[0]] * 3  # best-of-N repeats: distinct seeds by repeat index
    want = _run(engine, prompts, params, True, True)
    order = list(range(len(prompts)))
    random.Random(1).shuffle(order)
    # repeats keep their relative order, so each keeps its repeat index (its seed)
    order = sorted(order, key=lambda i: (order.index(i) if prompts[i] != PROMPTS[0] else -1, i))
    got = _run(engine, [prompts[i] for i in order], params, True, True)
    assert [got[order.index(i)] for i in range(len(prompts))] == want
    assert len({w[0] for w in want[-4:]} | {want[0][0]}) > 1


def test_greedy_equals_hf_generate_on_each_prompt_alone(engine):
    params = GenParams(max_new_tokens=12, batch_size=4)
    ours = [g[0] for g in _run(engine, PROMPTS, params, True, True)]
    for prompt, text in zip(PROMPTS, ours, strict=True):
        ids = torch.tensor([engine.guard.encode(prompt)])
        with torch.inference_mode():
            out = engine.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                        max_new_tokens=12, pad_token_id=engine.pad_id,
                                        eos_token_id=[])  # fmt: skip
        want = out[0, ids.shape[1] :].tolist()
        cut = next((i for i, t in enumerate(want) if t in engine.eos_ids), len(want))
        assert text == engine.guard.decode(want[:cut]), prompt


def test_stems_group_shared_prefixes_and_leave_loners_plain():
    shared = list(range(100, 160))
    encoded = [[1, *shared, 7], [1, *shared, 8, 9], [1, *shared, 8, 9], [1, 5, 6], [2, *shared, 3]]
    stems = Stems(encoded)
    assert stems.of(encoded[0]) == stems.of(encoded[1]) == 0 and stems.stems[0] == [1, *shared]
    assert stems.of(encoded[3]) is None and stems.of(encoded[4]) is None
    # one distinct prompt repeated is not a stem (its repeats share one prompt pass anyway)
    assert Stems([[1, *shared]] * 4).stems == []
    order = stems.order(encoded)
    assert sorted(order[:3]) == [0, 1, 2]  # a stem's members are queued together
