"""logprobs(): batched, padded scoring equals a direct unbatched computation."""

from __future__ import annotations

import math

import torch

from selfalign.engine.scoring import encode_pair


def _direct(engine, prompt: str, option: str) -> float:
    ctx, cont = encode_pair(engine.guard, prompt, option, False)
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logits = engine.model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    return sum(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(cont))


def test_batched_scores_match_direct_computation(tiny_engine):
    requests = [
        ("The capital of France is", [" Paris", " London", " a city of light"]),
        ("Instruction: Add 2 and 2.\nResponse:", [" 4", " four, obviously: 2+2=4\nEND"]),
        ("x", [" y"]),
    ]
    got = tiny_engine.logprobs(requests, batch_size=3)
    for (prompt, options), scores in zip(requests, got, strict=True):
        assert len(scores) == len(options)
        for option, s in zip(options, scores, strict=True):
            want = _direct(tiny_engine, prompt, option)
            assert math.isclose(s.sum, want, rel_tol=1e-4, abs_tol=1e-4), (prompt, option, s.sum, want)
            assert math.isclose(s.mean, s.sum / s.n_tokens, rel_tol=1e-9)
            assert len(s.token_logprobs) == s.n_tokens


def test_batch_size_does_not_change_scores(tiny_engine):
    requests = [("Hello", [" world", " there friend"]), ("A longer context sentence", [" ok"])]
    a = tiny_engine.logprobs(requests, batch_size=1)
    b = tiny_engine.logprobs(requests, batch_size=8)
    for ra, rb in zip(a, b, strict=True):
        for sa, sb in zip(ra, rb, strict=True):
            assert math.isclose(sa.sum, sb.sum, abs_tol=1e-4)


def test_real_model_prefers_the_right_answer(smol_engine):
    ((paris, london),) = smol_engine.logprobs([("The capital of France is", [" Paris", " London"])])
    assert paris.sum > london.sum
