"""The model's own BOS rule on every path: generation, scoring, SFT rows and DPO rows.

Gemma 3 declares ``add_bos_token = True`` in its GGUF header; SmolLM2 declares ``False``. Every sequence the
engine feeds a model starts with exactly one BOS when the model declares it, and with none otherwise. The
ids are captured where they enter the model (a forward pre-hook), not taken from our own encode.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from selfalign.engine import Engine, GenParams, ModelSpec
from selfalign.engine.bos import read_bos_rule
from selfalign.engine.defaults import tokenizer_dir
from selfalign.errors import ContaminationError, ModelRefError
from selfalign.prompts.format import get_format
from selfalign.train.tokenize import dpo_dataset, sft_dataset

F = get_format()
PROMPT = F.prompt("Name a fruit.")
# (model, the BOS id its files declare, or None)
MODELS = [("tiny-random-gemma3", 2), ("tiny-random-llama", None)]


@pytest.fixture(scope="module", params=MODELS, ids=[m for m, _ in MODELS])
def case(request):
    ref, bos = request.param
    return Engine.load(ModelSpec(ref=ref, sentinels=False)), bos


def _fed_rows(engine: Engine, call) -> list[list[int]]:
    """Token rows (padding removed) of every forward pass ``call()`` makes, in order."""
    seen: list[list[int]] = []

    def hook(_module, _args, kwargs):
        ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
        width = ids.shape[1]
        for row, m in zip(ids.tolist(), mask[:, -width:].tolist(), strict=True):
            seen.append([t for t, keep in zip(row, m, strict=True) if keep])

    handle = engine.model.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        call()
    finally:
        handle.remove()
    return seen


def _starts_right(ids: list[int], bos: int | None, special: set[int]) -> None:
    if bos is None:
        assert not set(ids) & special, f"special token fed without a BOS rule: {ids[:8]}"
    else:
        assert ids[0] == bos, f"no BOS at position 0: {ids[:8]}"
        assert ids.count(bos) == 1, f"BOS fed more than once: {ids}"


def test_rule_is_read_from_the_model_files(case):
    engine, bos = case
    report = engine.provenance["guards"]["bos"]
    assert report["bos_id"] == bos and report["adds_bos"] is (bos is not None)
    assert "tokenizer.ggml.add_bos_token" in report["rule_source"]


def test_generated_prompt_starts_with_exactly_the_models_bos(case):
    engine, bos = case
    prompts = [PROMPT, F.prompt("Write one line about the sea.")]
    gens: list = []
    rows = _fed_rows(engine, lambda: gens.extend(engine.generate(prompts, GenParams(max_new_tokens=3))))
    prefill = rows[: len(prompts)]  # the first pass is the prompts; later passes are one new token each
    for ids in prefill:
        _starts_right(ids, bos, set(engine.guard.control))
    assert [g.prompt for g in gens] == prompts  # the BOS is not text: the prompt round-trips exactly
    assert gens[0].n_prompt_tokens == len(engine.guard.encode(PROMPT, bos=False)) + (bos is not None)


def test_scored_option_sequence_starts_with_bos_once(case):
    engine, bos = case
    rows = _fed_rows(engine, lambda: engine.logprobs([(PROMPT, [" Apple.", " Banana."])]))
    assert rows
    for ids in rows:
        if len(ids) > 3:  # stem passes start the sequence; tail rows continue a cached stem
            _starts_right(ids, bos, set(engine.guard.control))
    ctx_rows = [ids for ids in rows if ids[0] == bos] if bos is not None else rows
    assert ctx_rows


def test_sft_row_starts_with_bos_once_and_its_mask_is_prompt_only(case):
    engine, bos = case
    ds = sft_dataset(engine, [(PROMPT, F.completion("Apple."))])
    ids, mask = ds[0]["input_ids"], ds[0]["completion_mask"]
    _starts_right(ids, bos, set(engine.guard.control) - {engine.tokenizer.eos_token_id})
    n_prompt = len(engine.guard.encode(PROMPT))
    assert mask[:n_prompt] == [0] * n_prompt and all(mask[n_prompt:])  # the BOS carries no loss
    assert engine.guard.decode(ids[n_prompt:-1]) == F.completion("Apple.")


def test_dpo_row_prompt_has_bos_once_answers_have_none(case):
    engine, bos = case
    ds = dpo_dataset(engine, [(PROMPT, F.completion("Apple."), F.completion("No."))])
    row = ds[0]
    _starts_right(row["prompt_ids"], bos, set(engine.guard.control))
    for answer in (row["chosen_ids"], row["rejected_ids"]):
        assert bos is None or bos not in answer


def test_bos_is_never_added_twice(case):
    engine, bos = case
    if bos is None:
        pytest.skip("no BOS rule")
    with pytest.raises(ContaminationError, match="BOS"):
        engine.guard.encode("<bos>Hello", allow_special=True)
    assert engine.guard.encode("Hello", bos=False)[0] != bos


def test_a_tokenizer_default_does_not_change_the_rule(case):
    """The rule is ours: switching the tokenizer's own add-BOS behaviour (as a library upgrade did) changes
    nothing the guard feeds."""
    engine, bos = case
    before = engine.guard.encode(PROMPT)
    tok = engine.tokenizer
    old = getattr(tok, "add_bos_token", None)
    try:
        tok.add_bos_token = bos is None  # the opposite of the declared rule
        assert engine.guard.encode(PROMPT) == before
    finally:
        tok.add_bos_token = old


def _hf_dir(tmp_path: Path, ref: str, **config) -> Path:
    d = tmp_path / ref
    shutil.copytree(tokenizer_dir(ref), d)
    (d / "selfalign-source.json").unlink()
    if config:
        cfg = json.loads((d / "tokenizer_config.json").read_text())
        (d / "tokenizer_config.json").write_text(json.dumps({**cfg, **config}))
    return d


def test_hf_dir_rule_from_post_processor_and_from_tokenizer_config(tmp_path):
    from transformers import AutoTokenizer

    gemma = _hf_dir(tmp_path, "tiny-random-gemma3")
    tok = AutoTokenizer.from_pretrained(gemma)
    rule = read_bos_rule(tok, gemma)
    assert rule.bos_id == 2 and "post_processor" in rule.source
    off = _hf_dir(tmp_path / "off", "tiny-random-gemma3", add_bos_token=False)
    assert read_bos_rule(tok, off).bos_id is None  # an explicit key wins over the post-processor
    smol = _hf_dir(tmp_path, "tiny-random-llama")
    assert read_bos_rule(AutoTokenizer.from_pretrained(smol), smol).bos_id is None


def test_declared_bos_without_a_bos_token_is_an_error(tmp_path):
    from transformers import AutoTokenizer

    d = _hf_dir(tmp_path, "tiny-random-llama", add_bos_token=True)
    tok = AutoTokenizer.from_pretrained(d)
    tok.bos_token = None
    with pytest.raises(ModelRefError, match="no BOS token"):
        read_bos_rule(tok, d)


def test_continuation_that_merges_across_the_boundary_carries_no_bos(case):
    """When prompt + option tokenises across the boundary, the option is encoded alone: still no BOS in it."""
    from selfalign.engine.scoring import encode_pair

    engine, bos = case
    prompt, option = "The cat", "s sat"
    whole = engine.guard.encode(prompt + option)
    ctx = engine.guard.encode(prompt)
    assert whole[: len(ctx)] != ctx  # the fallback path really runs
    got_ctx, cont = encode_pair(engine.guard, prompt, option, allow_special=False)
    assert got_ctx == ctx and cont == engine.guard.encode(option, bos=False)
    assert bos is None or (got_ctx.count(bos) == 1 and bos not in cont)
