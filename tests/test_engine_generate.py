"""generate(): stop strings on decoded text, stop reasons, seeds, batching independence."""

from __future__ import annotations

import torch

from selfalign.engine import GenParams
from selfalign.engine.generate import StopStrings
from selfalign.prompts.format import get_format

STOP = get_format().stop  # ("\nEND", "\nInstruction:")


def _criteria_on(engine, text: str, stops=STOP) -> tuple[int | None, str | None]:
    """Feed ``text`` token by token to the stop criteria; return (tokens when it fired, which stop)."""
    ids = engine.guard.encode(text)
    prompt = engine.guard.encode("Response:")
    crit = StopStrings(engine.guard, stops, len(prompt), eos_ids={engine.tokenizer.eos_token_id}, rows=1)
    for n in range(1, len(ids) + 1):
        seq = torch.tensor([prompt + ids[:n]])
        if bool(crit(seq, None)[0]):
            return n, crit.which[0]
    return None, None


def test_colon_and_hashes_inside_an_answer_do_not_stop(tiny_engine):
    answer = " Time: 12:30. Note: bring ### markers; ratio 3:1.\n### Heading\nKey: value"
    assert _criteria_on(tiny_engine, answer) == (None, None)


def test_newline_instruction_stops_exactly_there(tiny_engine):
    text = " Steps: mix ### stir.\nInstruction: next task"
    fired, which = _criteria_on(tiny_engine, text)
    assert which == "\nInstruction:"
    upto = tiny_engine.guard.decode(tiny_engine.guard.encode(text)[:fired])
    assert upto.endswith("Instruction:") and "next" not in upto


def test_real_model_copies_colons_and_hashes_and_stops_at_end(smol_engine):
    # A repeated pattern the real model continues verbatim: colon and ### inside, END after.
    shot = "Instruction: Give the ratio.\nResponse: Ratio: 3:1 ### done\nEND\n\n"
    prompt = shot * 3 + "Instruction: Give the ratio.\nResponse:"
    g = smol_engine.generate([prompt], GenParams(max_new_tokens=24, stop=STOP))[0]
    assert g.text == " Ratio: 3:1 ### done"
    assert g.stop_reason == "stop" and g.stop == "\nEND"
    assert g.raw.startswith(g.text + "\nEND")


def test_stop_at_new_instruction_line_on_real_model(smol_engine):
    shot = "Instruction: Say hi.\nResponse: Hi: there\nInstruction: Say hi.\nResponse: Hi: there\n"
    g = smol_engine.generate([shot * 2 + "Instruction: Say hi.\nResponse:"], GenParams(stop=STOP))[0]
    assert g.stop_reason == "stop" and g.stop == "\nInstruction:"
    assert g.text == " Hi: there"


def test_length_and_exact_prompt_are_reported(tiny_engine):
    prompt = "Instruction: Count.\nResponse:"
    g = tiny_engine.generate([prompt], GenParams(max_new_tokens=7))[0]
    assert g.prompt == prompt
    assert g.n_prompt_tokens == len(tiny_engine.guard.encode(prompt))
    assert g.stop_reason in ("length", "eos")
    if g.stop_reason == "length":
        assert g.n_tokens == 7


def test_eos_stop_reason(smol_engine):
    # The instruct default ends a short answer with its EOS (<|im_end|>), which never appears in the text.
    g = smol_engine.generate(["Instruction: Name a fruit.\nResponse: Apple."], GenParams(max_new_tokens=40))[
        0
    ]
    assert g.stop_reason in ("eos", "length")
    assert "<|im_end|>" not in g.raw


def test_same_seed_same_samples_other_seed_differs(tiny_engine):
    prompts = ["Once upon a time", "The weather today"]
    p1 = GenParams(max_new_tokens=12, temperature=1.0, seed=7)
    a = [g.raw for g in tiny_engine.generate(prompts, p1)]
    b = [g.raw for g in tiny_engine.generate(prompts, p1)]
    c = [g.raw for g in tiny_engine.generate(prompts, GenParams(max_new_tokens=12, temperature=1.0, seed=8))]
    assert a == b
    assert a != c


def test_sampling_does_not_depend_on_batch_mates(tiny_engine):
    params = GenParams(max_new_tokens=10, temperature=1.0, seed=3, batch_size=8)
    alone = tiny_engine.generate(["Hello there"], params)[0].raw
    batched = tiny_engine.generate(["A much longer prompt that pads the batch", "Hello there", "x"], params)
    assert batched[1].raw == alone


def test_best_of_n_repeats_get_distinct_samples(tiny_engine):
    gens = tiny_engine.generate(["Tell me"] * 4, GenParams(max_new_tokens=10, temperature=1.0, seed=1))
    assert len({g.raw for g in gens}) > 1


def test_greedy_batch_equals_one_at_a_time(tiny_engine):
    prompts = ["Instruction: a\nResponse:", "Instruction: a longer one here\nResponse:", "Hi"]
    params = GenParams(max_new_tokens=8)
    batched = [g.raw for g in tiny_engine.generate(prompts, params)]
    single = [tiny_engine.generate([p], params)[0].raw for p in prompts]
    assert batched == single
