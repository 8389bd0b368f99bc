"""QC flags on crafted answers, both ways: colons/headers in normal answers are clean; runaways flag."""

from __future__ import annotations

import pytest

from selfalign.data.qc import QC_FLAGS, qc_flags, qc_rates, record_flags

CLEAN = [
    "Mix flour and water in a 3:1 ratio. Note: let it rest for an hour.",
    "Instructions:\n1. Preheat the oven.\n2. Bake for 20 minutes.",
    "### Ingredients\n- flour\n- water\n\n### Steps\nMix them.",
    "Here is the plan:\n- wake up\n- run",
    "The answer is 42 (see below).\nAnswer: 42",
    "In Python:\n```python\nprint('hi')\n```",
    'He said "hello" and left; the question: why?',
    "Red, blue and yellow are the primary colors.",
    "The user: anyone who logs in. An assistant: whoever helps.",  # colon mid-line, not a turn
]

RUNAWAY = [
    "Paris is the capital.\nQ: What is the capital of Spain?",
    "Paris is the capital.\n\nQuestion: And Spain?",
    "Sure, here it is.\nUser: thanks!",
    "Done.\nAssistant: anything else?",
    "Done.\nHuman: next task",
    "Done.\n\n### Instruction\nWrite a haiku.",
    "Done.\n\n## Response: another one",
    "Done.\nInstruction 2: write a poem",
    "Done.<|im_start|>user",
]


@pytest.mark.parametrize("text", CLEAN)
def test_normal_answers_raise_no_flag(text: str) -> None:
    flags = qc_flags(text, text, "stop", "Give an example.")
    assert not any(flags.values()), flags


@pytest.mark.parametrize("text", RUNAWAY)
def test_runaways_flag(text: str) -> None:
    flags = qc_flags(text, text, "stop", "What is the capital of France?")
    assert flags["runaway"]
    assert not flags["empty"]


@pytest.mark.parametrize(
    "text",
    [
        "Here are the steps:",
        "Red, blue,",
        "1. Red\n2. Blue\n3.",
        "- red\n-",
        "Call print(x",
        'She said "never',
        "```python\nprint(1)",
    ],
)
def test_dangling_endings_are_truncated(text: str) -> None:
    assert qc_flags(text, text, "stop", None)["truncated"]


def test_length_stop_is_truncated_unless_a_stop_string_cut_it() -> None:
    assert qc_flags("A fine answer that", "A fine answer that", "length")["truncated"]
    # The backend generated up to the limit but the text was cut at a stop string: the answer is complete.
    assert not qc_flags("A fine answer.", "A fine answer.\nInstruction: more", "length")["truncated"]


def test_too_short_empty_echo() -> None:
    assert qc_flags("Paris.")["too_short"]
    assert not qc_flags("Paris, France.")["too_short"]
    assert not qc_flags("Paris.", min_words=1)["too_short"]
    assert qc_flags("   \n")["empty"] and not qc_flags("   \n")["too_short"]
    ins = "Name three primary colors."
    assert qc_flags("Name three primary colors", instruction=ins)["echo"]
    assert qc_flags("Name three primary colors. Red, blue, yellow.", instruction=ins)["echo"]
    assert not qc_flags("Red, blue and yellow.", instruction=ins)["echo"]
    # A short instruction does not make every answer that starts with its words an echo.
    assert not qc_flags("Why the sky is blue: Rayleigh scattering.", instruction="Why?")["echo"]


def test_flags_keys() -> None:
    assert tuple(qc_flags("x y")) == QC_FLAGS


def test_qc_rates_uses_stored_flags_or_computes() -> None:
    stored = {"qc": dict.fromkeys(QC_FLAGS, False) | {"runaway": True}}
    computed = {"text": "Here:", "raw": "Here:", "stop_reason": "stop", "instruction": "x"}
    assert record_flags(computed)["truncated"]
    rates = qc_rates([stored, computed, {"text": "A full answer here.", "stop_reason": "eos"}, stored])
    assert rates["runaway"] == 0.5
    assert rates["truncated"] == 0.25
    assert rates["any"] == 0.75
    with pytest.raises(ValueError, match="at least one record"):
        qc_rates([])


REPETITIVE = [
    # Loops of the kinds seen in the hand-read SmolLM2 sample (docs/DATA.md #5, #10, #18, #19).
    "The vampire woke up. He did not remember his name. He did not remember his name. "
    "He did not remember his name.",
    "1. The cat sat on the mat\n2. The cat sat on the mat\n3. The cat sat on the mat",
    "- Carrel\n- Car\n" * 6,
    "Look who's wearing a blue dress B Look who's wearing a blue dress B Look who's wearing a blue dress B",
    "the the the the the the the the the the the the",
]

NOT_REPETITIVE = [
    "Monday: rest.\nTuesday: rest.\nWednesday: rest.",  # a list whose items share a short frame
    "Step 1: mix the flour.\nStep 2: mix the sugar.\nStep 3: mix the eggs.\nStep 4: bake it.",
    "I like apples. I like pears. I like plums, and I like them all very much.",
    "Paris is the capital of France. It is known for the Eiffel Tower. Paris is the capital of France.",
]


DEGENERATE = [
    "At night the fox ran into the den den den den Den den der der die die das das den der die den die der "
    "den den die das der den die das die den der die den das",
    "In short.\nAnswer: rain.\nANSWER: no rain.\nAnswer.\nANSWER.\nAnswer; Answer.\nAnswer, Answer, answer, "
    "ANSWER, answer: rain, Answer: rain, answer: no, Answer: no, ANSWER: yes, answer yes, answer, answer, no",
    "1. 1. 2. 3. 4. 5. 6. 7. 8. 9. 10. 11.\n2. 12.\n3. 13.\n4. 14. EVAL",
    "***. **** * *****. **** * *** * *****\n***. **** *** * *** * *** *****.",
]

NOT_DEGENERATE = [
    "Solar panels turn sunlight into electricity. They cost more at first, but they lower the monthly bill, "
    "need little care, and make a house less dependent on the grid during long summer outages.",
    "2 + 3 = 5, so the answer is 5.",  # short arithmetic: under 10 tokens
    "The total is 12 + 30 = 42 apples, and 42 / 6 = 7 apples for each of the six children.",
    "1. Buy flour\n2. Mix it with water\n3. Knead the dough\n4. Bake it for 30 minutes",
    '{"name": "Ada", "role": "engineer", "city": "London"}',
]


# Each loop-shape flag on the texts it must catch and on near misses it must leave alone.
FLAG_CASES = [
    *(("repetitive", t, True) for t in REPETITIVE),
    *(("repetitive", t, False) for t in NOT_REPETITIVE),  # structured lists, a sentence said twice
    *(("degenerate", t, True) for t in DEGENERATE),  # word salad, letterless lists
    *(("degenerate", t, False) for t in NOT_DEGENERATE),  # prose, arithmetic, lists with words, JSON
]


@pytest.mark.parametrize(("flag", "text", "expected"), FLAG_CASES)
def test_loop_shape_flags(flag: str, text: str, expected: bool) -> None:
    assert qc_flags(text, text, "stop", "Tell me something.")[flag] is expected, text
