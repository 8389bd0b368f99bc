"""The engine's own decode loop (finished rows leave the batch) equals HF generate token for token."""

from __future__ import annotations

import torch
from transformers import GenerationConfig, LogitsProcessorList

from selfalign.engine import GenParams
from selfalign.engine.generate import RowSampler, StopStrings, decode, plan_rows

PROMPTS = ["Instruction: Name a colour.\nResponse:", "Hello", "A longer prompt that pads the batch here"]


def _batch(engine):
    enc = [engine.guard.encode(p) for p in PROMPTS]
    width = max(len(e) for e in enc)
    ids = torch.full((len(enc), width), engine.pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, e in enumerate(enc):
        ids[i, width - len(e) :], mask[i, width - len(e) :] = torch.tensor(e), 1
    return ids, mask, width


def _hf(engine, params: GenParams, seeds):
    ids, mask, width = _batch(engine)
    procs = LogitsProcessorList([RowSampler(seeds, params, ids.device)] if params.temperature > 0 else [])
    cfg = GenerationConfig(max_new_tokens=params.max_new_tokens, do_sample=False, pad_token_id=engine.pad_id,
                           eos_token_id=[], repetition_penalty=params.repetition_penalty)  # fmt: skip
    with torch.inference_mode():
        out = engine.model.generate(input_ids=ids, attention_mask=mask, generation_config=cfg,
                                    logits_processor=procs)  # fmt: skip
    return [out[r, width:].tolist() for r in range(len(PROMPTS))]


def _ours(engine, params: GenParams, seeds, stops=()):
    ids, mask, width = _batch(engine)
    stopper = StopStrings(engine.guard, stops, width, set(), len(PROMPTS))
    with torch.inference_mode():
        return decode(engine.model, ids, mask, seeds, params, stopper), stopper


def test_greedy_and_sampled_decode_equal_hf_generate(tiny_engine):
    seeds = plan_rows(PROMPTS, 5)
    for params in (
        GenParams(max_new_tokens=12),
        GenParams(max_new_tokens=12, repetition_penalty=1.3),
        GenParams(max_new_tokens=12, temperature=0.9, top_k=50, top_p=0.9, seed=5),
    ):
        ours, _ = _ours(tiny_engine, params, seeds)
        assert ours == _hf(tiny_engine, params, seeds), params


def test_rows_that_stop_leave_the_batch_and_the_rest_continue_unchanged(tiny_engine):
    params = GenParams(max_new_tokens=12)
    full, _ = _ours(tiny_engine, params, plan_rows(PROMPTS, 0))
    # A stop string that one row produces early: that row ends there, the others are unaffected.
    text = tiny_engine.guard.decode(full[0][:3])
    stopped, stopper = _ours(tiny_engine, params, plan_rows(PROMPTS, 0), stops=(text,))
    assert stopper.reason[0] == "stop" and len(stopped[0]) <= 3
    assert any(stopper.reason[r] is None for r in range(1, len(PROMPTS)))
    for r in range(1, len(PROMPTS)):
        if stopper.reason[r] is None:
            assert stopped[r] == full[r]
