"""Steered sampling: every constraint type's steer makes the sampled text pass its check.

The property tests drive a row's steer exactly as the decode loop does (``constrain`` then ``advance``)
with random logits standing in for a model: a random "model" picks arbitrary tokens of Gemma's 262k
vocabulary, the hardest case for a steer. Params come from each type's ``sample_params`` over many seeds;
multi-constraint rows from ``augment`` (compatible and consistent sets). The engine tests run the tiny
random Gemma through ``Engine.generate(constraints=...)``.
"""

from __future__ import annotations

import random
import re

import pytest
import torch

from selfalign.constraints.augment import augment
from selfalign.constraints.check import check_all
from selfalign.constraints.registry import REGISTRY, all_types
from selfalign.engine import Engine, ModelSpec
from selfalign.engine.types import GenParams
from selfalign.errors import ModelRefError
from selfalign.prompts.format import get_format
from selfalign.steer import STEERS, build_steer, table_for
from selfalign.steer.base import Part
from selfalign.steer.build import with_length_floor

STOPS = get_format().stop
BUDGET = 64  # new tokens per steered row
SEEDS = 2  # sampled params per type


@pytest.fixture(scope="module")
def gemma() -> Engine:
    engine = Engine.load(ModelSpec(ref="tiny-random-gemma3", sentinels=False))
    engine.progress = False
    return engine


@pytest.fixture(scope="module")
def table(gemma: Engine):
    width = int(gemma.model.get_input_embeddings().num_embeddings)
    return table_for(gemma.tokenizer, set(gemma.guard.control), width)


def drive(table, gemma: Engine, constraints: list[dict], seed: int, budget: int = BUDGET):
    """One steered row on random logits; returns (answer text, why it ended, ids picked)."""
    steer = build_steer(constraints, table, gemma.eos_ids, STOPS, budget)
    gen = torch.Generator().manual_seed(seed)
    control = table.control.nonzero().flatten()
    ids: list[int] = []
    for _ in range(budget):
        scores = torch.randn(table.size, generator=gen) * 2
        scores[control] += 40.0  # a model that loves control tokens: the steer must still ban them
        out = steer.constrain(ids, scores)
        if not bool(torch.isfinite(out).any()):
            return steer.text, "dead_end", ids
        gumbel = -torch.log(-torch.log(torch.rand(table.size, generator=gen).clamp_min(1e-20)))
        tok = int((out + gumbel).argmax())
        if tok in gemma.eos_ids:
            assert steer.end_ok, "EOS allowed before the constraints could end"
            return steer.text, "eos", ids
        assert not table.control[tok], f"steer let control token {tok} through"
        ids.append(tok)
        steer.advance(tok)
        hits = [steer.text.index(s) for s in STOPS if s in steer.text]
        if hits:
            return steer.text[: min(hits)], "stop", ids
    return steer.text, "length", ids


def _params(name: str, rng: random.Random) -> dict:
    ctype = REGISTRY[name]
    while True:
        params = ctype.bind(ctype.sample_params(rng), "Describe a quiet street at night")
        # A row of BUDGET tokens cannot hold 100 words whatever steers it; the sampler's larger draws
        # are exercised by the Gemma measurement (docs/CONSTRAINTS.md).
        if params is not None and not (name == "min_words" and params["n"] > BUDGET - 14):
            return params


def test_every_type_has_a_steer() -> None:
    assert set(STEERS) == set(REGISTRY)


@pytest.mark.parametrize("name", all_types())
def test_steered_samples_pass_their_check(name: str, table, gemma: Engine) -> None:
    rng = random.Random(f"steer-{name}")
    for seed in range(SEEDS):
        c = [{"type": name, "params": _params(name, rng)}]
        text, why, ids = drive(table, gemma, c, seed)
        failed = [r.detail for r in check_all(text, c) if not r.passed]
        assert not failed, f"{name} {c[0]['params']} seed {seed} ({why}): {failed} in {text[:200]!r}"
        assert gemma.guard.decode(ids).startswith(text)  # the steer's text is the engine's decode


def test_multi_constraint_rows_pass_every_check(table, gemma: Engine) -> None:
    rng = random.Random("steer-multi")
    dead = 0
    for seed in range(12):
        _, cs = augment(
            "Describe a quiet street at night", rng, rng.choice([2, 3]), allowed_types=all_types()
        )
        text, why, _ = drive(table, gemma, cs, 100 + seed, budget=96)
        if why == "dead_end":
            dead += 1
            continue
        failed = [r.detail for r in check_all(text, cs) if not r.passed]
        assert not failed, f"{[c['type'] for c in cs]} ({why}): {failed} in {text[:200]!r}"
    assert dead <= 2  # a dead end is dropped and counted by callers; it must stay rare


def test_masks_intersect_and_a_dead_end_is_reported(table, gemma: Engine) -> None:
    # fixed_choice's options all hold capitals; an uppercase-free rule leaves them nothing: -inf everywhere.
    steer = build_steer([{"type": "fixed_choice", "params": {"options": ["Yes", "No"]}}], table,
                        gemma.eos_ids, STOPS, 16)  # fmt: skip
    steer.parts.append(STEERS["lowercase"]({}))
    out = steer.constrain([], torch.zeros(table.size))
    assert not bool(torch.isfinite(out).any())


def test_unsteered_rows_are_token_for_token_unchanged(gemma: Engine) -> None:
    prompts = [f"Instruction: say something about {w}\nResponse:" for w in ("rain", "bread", "maps", "owls")]
    params = GenParams(max_new_tokens=20, temperature=1.0, top_p=0.95, seed=3, stop=STOPS, batch_size=4)
    plain = gemma.generate(prompts, params)
    rules = [
        None,
        [{"type": "lowercase", "params": {}}],
        [],
        [{"type": "starts_with", "params": {"phrase": "Sure"}}],
    ]
    mixed = gemma.generate(prompts, params, constraints=rules)
    for i in (0, 2):
        assert (mixed[i].raw, mixed[i].n_tokens, mixed[i].stop_reason) == (
            plain[i].raw, plain[i].n_tokens, plain[i].stop_reason
        )  # fmt: skip
        assert not mixed[i].steered
    for i in (1, 3):
        assert mixed[i].steered
        assert all(r.passed for r in check_all(mixed[i].text, rules[i]))
    assert mixed[1].raw != plain[1].raw or mixed[3].raw != plain[3].raw


def test_constraints_on_the_vllm_backend_are_refused_not_ignored(gemma: Engine) -> None:
    class VllmPlan:  # every shape picks vLLM (engine/autopick.py's Plan, as on a GPU)
        needs_torch = True

        def pick(self, shape: object) -> str:
            return "vllm"

    plan = gemma.plan
    gemma.backend, gemma.plan = object(), VllmPlan()  # type: ignore[assignment]  # refused before it runs
    try:
        with pytest.raises(ModelRefError, match="torch backend only"):
            gemma.generate(["Instruction: x\nResponse:"], constraints=[[{"type": "lowercase", "params": {}}]])
    finally:
        gemma.backend, gemma.plan = None, plan


def test_bad_constraints_are_refused_before_decoding(gemma: Engine) -> None:
    from selfalign.errors import DataError

    both = [{"type": "lowercase", "params": {}}, {"type": "uppercase", "params": {}}]
    with pytest.raises(DataError, match="conflicting"):
        gemma.generate(["Instruction: x\nResponse:"], GenParams(max_new_tokens=4), constraints=[both])


def test_a_rerun_batch_restarts_the_steer(table, gemma: Engine) -> None:
    # halving_on_oom reruns a batch from its first token: the steer must start afresh, not refuse.
    sure = [{"type": "starts_with", "params": {"phrase": "Sure"}}]
    steer = build_steer(sure, table, gemma.eos_ids, STOPS, 8)
    first = steer.constrain([], torch.zeros(table.size))
    tok = int(first.argmax())
    steer.advance(tok)
    assert steer.text
    again = steer.constrain([], torch.zeros(table.size))
    assert steer.n == 0 and not steer.text
    assert torch.equal(torch.isfinite(first), torch.isfinite(again))
    with pytest.raises(RuntimeError, match="out of step"):
        steer.constrain([tok, tok], torch.zeros(table.size))


def _fed(table, gemma: Engine, text: str, budget: int, constraints: list[dict] | None = None):
    """A steer that has written ``text`` (token by token, each step through ``constrain``)."""
    constraints = constraints or [{"type": "exclude_words", "params": {"words": ["zebra"]}}]
    steer = build_steer(constraints, table, gemma.eos_ids, STOPS, budget)
    ids: list[int] = []
    for tok in gemma.tokenizer.encode(text, add_special_tokens=False):
        steer.constrain(ids, torch.zeros(table.size))
        ids.append(tok)
        steer.advance(tok)
    return steer, ids


def test_near_the_limit_a_closed_sentence_ends_the_row(table, gemma: Engine) -> None:
    text = " The cat sat on the mat."
    word = gemma.tokenizer.encode(" Then", add_special_tokens=False)[0]
    eos = min(gemma.eos_ids)
    n = len(gemma.tokenizer.encode(text, add_special_tokens=False))
    # In the last quarter of the budget the row must end now: a new word is banned, EOS allowed.
    steer, ids = _fed(table, gemma, text, budget=n + 2)
    out = steer.constrain(ids, torch.zeros(table.size))
    assert not torch.isfinite(out[word]) and torch.isfinite(out[eos])
    # A closed line (a list item without a stop) ends it too.
    line = " - The cat sat on the mat\n"
    m = len(gemma.tokenizer.encode(line, add_special_tokens=False))
    steer, ids = _fed(table, gemma, line, budget=m + 2)
    assert not torch.isfinite(steer.constrain(ids, torch.zeros(table.size))[word])
    # Far from the limit the same text may go on.
    steer, ids = _fed(table, gemma, text, budget=n + 64)
    assert torch.isfinite(steer.constrain(ids, torch.zeros(table.size))[word])
    # Near the limit but mid-sentence (or after a list marker "2."), it goes on too.
    for cut in (" The cat sat on the", " The cat sat:\n2."):
        m = len(gemma.tokenizer.encode(cut, add_special_tokens=False))
        steer, ids = _fed(table, gemma, cut, budget=m + 2)
        assert torch.isfinite(steer.constrain(ids, torch.zeros(table.size))[word]), cut


def test_a_length_floor_holds_open_rows_to_n_words_and_leaves_capped_rows_alone(table, gemma: Engine) -> None:
    rng = random.Random("steer-floor")
    open_types = [t for t in all_types() if STEERS[t].open_length]
    capped = sorted(set(all_types()) - set(open_types))
    assert {"max_words", "json_keys", "fixed_choice", "sentence_count", "bullet_count"} <= set(capped)
    for name in capped:
        c = [{"type": name, "params": _params(name, rng)}]
        assert with_length_floor(c, 20) == c
    dead = 0
    for seed, name in enumerate(open_types):
        c = [{"type": name, "params": _params(name, rng)}]
        held = with_length_floor(c, 20)
        assert sum(h["type"] == "min_words" for h in held) == 1 and (held != c or name == "min_words")
        text, why, _ = drive(table, gemma, held, seed, budget=96)
        if why == "dead_end":
            dead += 1
            continue
        failed = [r.detail for r in check_all(text, held) if not r.passed]  # the floor and the type's own
        assert not failed, f"{name} {c[0]['params']} ({why}): {failed} in {text[:200]!r}"
    assert dead <= 1
    # An asked minimum below the floor is raised to it, one above it kept.
    assert with_length_floor([{"type": "min_words", "params": {"n": 10}}], 20)[0]["params"]["n"] == 20
    assert with_length_floor([{"type": "min_words", "params": {"n": 40}}], 20)[0]["params"]["n"] == 40
    assert with_length_floor(c, None) == c


def test_a_line_may_not_start_with_a_turn_marker_but_the_real_stop_still_ends(table, gemma: Engine) -> None:
    tok = gemma.tokenizer

    def first(s: str) -> int:
        return tok.encode(s, add_special_tokens=False)[0]

    steer, ids = _fed(table, gemma, " The cat sat on the mat.\n", budget=96)
    out = steer.constrain(ids, torch.zeros(table.size))
    for marker in ("End", "end", "Instruction", "instruction", "Response", "Answer", "ANSWER"):
        assert not torch.isfinite(out[table.by_text[marker]]).any(), marker
    for word in ("Every", "The", "Ending"):  # other words, and a marker's word with more letters
        assert torch.isfinite(out[table.by_text[word]]).all(), word
    assert torch.isfinite(out[table.by_text["END"]]).all()  # the stop string itself: this row may end
    # Mid-line the same words are ordinary text.
    steer, ids = _fed(table, gemma, " The cat sat on the", budget=96)
    assert torch.isfinite(steer.constrain(ids, torch.zeros(table.size))[first(" end")])
    # A marker spelled over two tokens is stopped at its last piece.
    steer, ids = _fed(table, gemma, " The cat sat.\nEn", budget=96)
    out = steer.constrain(ids, torch.zeros(table.size))
    assert not torch.isfinite(out[table.by_text["d"]]).any()
    assert torch.isfinite(out[table.by_text["ding"]]).all()  # "Ending" is a word


def test_a_steered_row_does_not_repeat_a_four_token_run(table, gemma: Engine) -> None:
    on = gemma.tokenizer.encode(" on", add_special_tokens=False)[0]
    steer, ids = _fed(table, gemma, " the cat sat on the mat, the cat sat", budget=96)
    assert not torch.isfinite(steer.constrain(ids, torch.zeros(table.size))[on])  # "the cat sat on" again
    steer, ids = _fed(table, gemma, " the cat sat on the mat, a dog sat", budget=96)
    assert torch.isfinite(steer.constrain(ids, torch.zeros(table.size))[on])


def test_in_the_wrap_up_window_a_sentence_stop_is_pushed_harder_near_the_limit(table, gemma: Engine) -> None:
    dot = table.by_text["."]
    text = " The cat sat on the mat and the dog"
    n = len(gemma.tokenizer.encode(text, add_special_tokens=False))
    pushes = []
    for left in (40, 20, 8, 2):  # budget 64: the window is the last 16 steps
        steer, ids = _fed(table, gemma, text, budget=64)
        steer.n = steer.max_new_tokens - left  # where in the budget the row stands (its text is the same)
        ids = ids + [0] * (steer.n - len(ids))
        out = steer.constrain(ids, torch.zeros(table.size))
        pushes.append(float(out[dot].max()))
    assert pushes[0] == 0 and pushes[1] == 0  # outside the window: the model's own logits
    assert 0 < pushes[2] < pushes[3] <= 8.0
    # After a number, not a word, the stop is not pushed ("3." would open a list item).
    steer, ids = _fed(table, gemma, " The cat sat on 3", budget=64)
    steer.n = 62
    out = steer.constrain(ids + [0] * (62 - len(ids)), torch.zeros(table.size))
    assert float(out[dot].max()) == 0
    assert n < 40


def test_a_closed_sentence_in_the_wrap_up_window_brings_a_pending_postscript(table, gemma: Engine) -> None:
    ps = [{"type": "postscript", "params": {"marker": "P.S."}}]
    text = " The cat sat on the mat."
    ids_text = gemma.tokenizer.encode(text, add_special_tokens=False)
    for budget, inserted in ((len(ids_text) + 40, False), (len(ids_text) + 12, True)):
        steer = build_steer(ps, table, gemma.eos_ids, STOPS, budget)
        ids: list[int] = []
        for tok in ids_text:
            steer.constrain(ids, torch.zeros(table.size))
            ids.append(tok)
            steer.advance(tok)
        steer.constrain(ids, torch.zeros(table.size))
        assert (steer.forcing is not None) == inserted, budget


def test_the_no_repeat_rule_gives_way_when_only_a_repeat_is_allowed(table, gemma: Engine) -> None:
    # A part that allows one token only, and that token repeats a 4-token run: the rule yields rather than
    # leave the row no token (a dead end is for constraints that cannot be met, not for style rules).
    on = gemma.tokenizer.encode(" on", add_special_tokens=False)[0]
    steer, ids = _fed(table, gemma, " the cat sat on the mat, the cat sat", budget=96)

    class OnlyOn(Part):
        def mask(self, row: object) -> torch.Tensor:
            m = torch.zeros(table.size, dtype=torch.bool)
            m[on] = True
            return m

    steer.parts.append(OnlyOn({}))
    out = steer.constrain(ids, torch.zeros(table.size))
    assert torch.isfinite(out[on]) and int(torch.isfinite(out).sum()) <= 1 + len(gemma.eos_ids)


def test_section_labels_start_a_line_only_as_the_inserted_headers(table, gemma: Engine) -> None:
    # The sixth proof run's 6 numbered_sections rows ran out on bare "Part" lines after the last header.
    c = [{"type": "numbered_sections", "params": {"n": 2, "label": "Part"}}]
    steer, ids = _fed(table, gemma, "Part 1\nA cat.\n\nPart 2\nA dog.\n", 96, c)
    out = steer.constrain(ids, torch.zeros(table.size))
    for word in ("Part", "PART", "part"):
        assert not torch.isfinite(out[table.by_text[word]]).any(), word
    assert torch.isfinite(out[table.by_text["Every"]]).all()
    header = re.compile(r"^[ \t]*part(?![^\W\d_])", re.I | re.M)
    for seed in range(4):  # 12 took 30 s on the AVX2 machine
        text, why, _ = drive(table, gemma, c, seed, budget=96)
        if why != "dead_end":
            assert len(header.findall(text)) == 2, text[:300]


def test_a_sectioned_answer_may_end_through_the_stop_strings_line_break(table, gemma: Engine) -> None:
    # "\nEND" begins with a line break; refusing the end after one ran every such wrap-up to the limit.
    c = [{"type": "numbered_sections", "params": {"n": 2, "label": "Part"}}]
    done = "Part 1\nA cat.\n\nPart 2\n"
    for text, may_end in ((done + "A dog.\n", True), (done, False)):
        steer, ids = _fed(table, gemma, text, 96, c)
        out = steer.constrain(ids, torch.zeros(table.size))
        assert bool(torch.isfinite(out[table.by_text["END"]]).all()) is may_end, text


PS = [{"type": "postscript", "params": {"marker": "P.S."}}]


def test_a_postscripts_note_is_the_last_line_and_ends_when_the_model_presses_to(table, gemma: Engine) -> None:
    # The training-side measurement of 2026-12-07: notes that broke their line went on as "P.P.S." lines.
    nl, word, eos = table.by_text["\n"], table.by_text["Every"], min(gemma.eos_ids)
    steer, ids = _fed(table, gemma, " The cat sat.\n\nP.S. A dog ran", 96, PS)
    calm = steer.constrain(ids, torch.zeros(table.size))
    assert not torch.isfinite(calm[nl]).any() and torch.isfinite(calm[word]).all()  # no line break in it
    wants_out = torch.zeros(table.size)
    wants_out[nl] = 30.0  # the model presses to break the line: the answer ends instead
    out = steer.constrain(ids, wants_out)
    assert not torch.isfinite(out[word]).any() and torch.isfinite(out[eos])
    stop_nl = next(t for t in table.by_text["\n"] if torch.isfinite(out[t]))  # the stop string's line break
    ids.append(stop_nl)
    steer.advance(stop_nl)
    out = steer.constrain(ids, torch.zeros(table.size))  # after it the row still ends: nothing reopens it
    assert not torch.isfinite(out[table.by_text["P"]]).any()
    assert torch.isfinite(out[table.by_text["END"]]).all()


def test_a_postscript_goes_in_before_a_word_floor_is_met_when_short_of_budget(table, gemma: Engine) -> None:
    floor = [*PS, {"type": "min_words", "params": {"n": 60}}]
    text = " The cat sat on the mat."
    n = len(gemma.tokenizer.encode(text, add_special_tokens=False))
    for left, inserted in ((120, False), (60, True)):  # 53 words missing + the marker's reserve: short at 60
        steer, ids = _fed(table, gemma, text, n + left, floor)
        steer.constrain(ids, torch.zeros(table.size))
        assert (steer.forcing is not None) == inserted, left
    # The floor is still held: the note carries the missing words (no end before them).
    steer, ids = _fed(table, gemma, text + "\n\nP.S. A dog ran.", n + 60, floor)
    assert not torch.isfinite(steer.constrain(ids, torch.zeros(table.size))[min(gemma.eos_ids)])


def test_a_steered_answer_does_not_end_dangling_and_a_closing_closes_it_first(table, gemma: Engine) -> None:
    # QC rejects an open quote or bracket or a trailing colon as truncated (12 of 294 steered rows, 12-07).
    eos = min(gemma.eos_ids)
    cases = ((' He said "it rains.', False), (' He said "it rains."', True), (" The list (of two.", False),
             (" Bring these:", False), (" Bring these.", True))  # fmt: skip
    for text, may_end in cases:
        steer, ids = _fed(table, gemma, text, 96)
        assert bool(torch.isfinite(steer.constrain(ids, torch.zeros(table.size))[eos])) is may_end, text
    ends = [{"type": "ends_with", "params": {"phrase": "Thanks."}}]
    for text, forced in ((' He said "it (rains.', '") Thanks.'), (' He said "it rains."', " Thanks.")):
        steer, ids = _fed(table, gemma, text, 96, ends)
        steer.n = 90  # the budget is nearly spent: the phrase is due
        steer.constrain(ids + [0] * (90 - len(ids)), torch.zeros(table.size))
        assert steer.forcing is not None and steer.forcing.text == forced, text
    quoted = [{"type": "quoted", "params": {}}]  # its own closing quote is not doubled
    steer, ids = _fed(table, gemma, '"It (rains', 96, quoted)
    steer.n = 94
    steer.constrain(ids + [0] * (94 - len(ids)), torch.zeros(table.size))
    assert steer.forcing is not None and steer.forcing.text == ')"'
