"""Shared-prefix scoring gives the numbers of one full pass per option; stems are planned sensibly."""

from __future__ import annotations

import math

from selfalign.engine.scoring import encode_pair, plan_stems, score_batch, score_shared

# The critic's shape: two label orders that share all but the tail, several label variants per prompt.
BODY = "Instruction: Name a fruit.\nResponse: An apple, crisp and red.\n\nQuestion: Is it good?\n"
REQUESTS = [
    (BODY + "A: yes\nB: no\nAnswer:", [" A", " B", "A", "B"]),
    (BODY + "A: no\nB: yes\nAnswer:", [" A", " B", "A", "B"]),
    ("The capital of France is", [" Paris", " London", " a city of light\nEND"]),
    ("Unrelated single prompt with one option", [" ok then"]),
    ("x", [" y", " z w"]),  # one-token context: scored by the plain path
]


def _flat(engine):
    return [encode_pair(engine.guard, p, o, False) for p, opts in REQUESTS for o in opts]


def test_shared_prefix_scores_equal_full_passes(tiny_engine):
    flat = _flat(tiny_engine)
    want = [score_batch(tiny_engine.model, [pair], tiny_engine.pad_id)[0] for pair in flat]
    for batch_size, row_batch in ((16, None), (1, 1), (2, 3)):
        got = score_shared(tiny_engine.model, flat, tiny_engine.pad_id, batch_size, row_batch)
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g.n_tokens == w.n_tokens
            assert math.isclose(g.sum, w.sum, abs_tol=1e-4), (g.sum, w.sum)
            pairs = zip(g.token_logprobs, w.token_logprobs, strict=True)
            assert all(math.isclose(a, b, abs_tol=1e-4) for a, b in pairs)


def test_engine_logprobs_uses_the_shared_path_with_same_numbers(smol_engine):
    got = smol_engine.logprobs(REQUESTS[:3], batch_size=4)
    flat = _flat(smol_engine)
    want = [score_batch(smol_engine.model, [pair], smol_engine.pad_id)[0] for pair in flat[:11]]
    for g, w in zip([s for row in got for s in row], want, strict=True):
        assert math.isclose(g.sum, w.sum, abs_tol=1e-4), (g.sum, w.sum)


def test_plan_groups_the_two_orders_and_keeps_unrelated_apart():
    shared = list(range(100))
    ctxs = [[*shared, 7, 8, 9], [*shared, 5, 8, 9], [500, 501, 502, 503], [*shared, 7, 8, 9, 10]]
    groups = plan_stems(ctxs, [4, 4, 4, 4])
    members = sorted(sorted(m) for _, m in groups)
    assert members == [[0, 1, 3], [2]]
    stem = next(s for s, m in groups if 0 in m)
    assert stem == 100  # the common prefix, leaving each context at least one token of its own
    assert next(s for s, m in groups if m == [2]) == 3


def test_plan_does_not_share_a_tiny_prefix_between_long_contexts():
    a, b = [1, *range(10, 200)], [1, *range(300, 490)]
    groups = plan_stems([a, b], [1, 1])
    assert sorted(len(m) for _, m in groups) == [1, 1]


def test_rows_per_pass_are_capped_by_the_logits_they_keep(tiny_engine, monkeypatch):
    """Long continuations at a large vocabulary: fewer rows a forward (same numbers); short ones as before."""
    from selfalign.engine import scoring

    assert scoring.rows_within(keep=1, vocab=262_144, rows=64) == 64  # A/B labels: as before
    assert scoring.rows_within(keep=80, vocab=262_144, rows=64) == 6  # the critic's long continuations
    assert scoring.rows_within(keep=10_000, vocab=262_144, rows=64) == 1
    flat = _flat(tiny_engine)
    want = score_shared(tiny_engine.model, flat, tiny_engine.pad_id, 16)
    calls: list[int] = []
    real = tiny_engine.model.forward

    def counted(*args, **kwargs):
        calls.append(int(kwargs["input_ids"].shape[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(tiny_engine.model, "forward", counted)
    vocab = int(tiny_engine.model.get_output_embeddings().weight.shape[0])
    keep = max(len(c) for _, c in flat)
    monkeypatch.setattr(scoring, "LOGITS_BYTES", 2 * keep * vocab * 4)  # two rows' worth
    got = score_shared(tiny_engine.model, flat, tiny_engine.pad_id, 16)
    assert calls and max(calls) <= 2
    for g, w in zip(got, want, strict=True):
        assert math.isclose(g.sum, w.sum, abs_tol=1e-4), (g.sum, w.sum)
