"""The types added to cover IFEval's remaining families: pass and fail cases, params, conflicts."""

from __future__ import annotations

import random

import pytest

from selfalign.constraints import REGISTRY, augment, check, conflicts, validate_constraint
from selfalign.errors import DataError

ESSAY = """Morning light spilled over the harbour while the boats rocked gently.

The fishermen checked their nets and argued about the weather.

P.S. The cafe on the pier opens at six."""

SECTIONS = """Section 1
Gather flour, water and salt.

## Section 2
Knead the dough for ten minutes.

SECTION 3
Bake until golden."""

TWO = """Pack light and travel by train.
******
Rent a small car and take the coast road."""

# (type, params, answer that obeys, answer that violates, fragment expected in the violation's detail)
FAMILY_CASES = [
    (
        "letter_frequency",
        {"letter": "b", "n": 4},
        "Bob buys big bread.",
        "Bob buys rice.",
        "found 'b' 3 times",
    ),
    ("letter_frequency", {"letter": "k", "n": 2}, "KEEP kind.", "Keep calm.", "need at least 2"),
    (
        "capital_word_frequency",
        {"relation": "at least", "n": 2},
        "Read the NOTE and the FAQ first.",
        "I read a Note. A cat sat.",
        "found 0 all-capital words",
    ),
    (
        "capital_word_frequency",
        {"relation": "at most", "n": 1},
        "Only NASA is shouted here; I and A do not count.",
        "NASA and the ESA and the UN.",
        "found 3 all-capital words, need at most 1",
    ),
    (
        "nth_paragraph_first_word",
        {"n": 3, "nth": 2, "word": "however"},
        "Rain fell all day.\n\nHowever, the match went on.\n\nThe crowd stayed dry.",
        "Rain fell all day.\n\nThe match went on. However, it was wet.\n\nThe crowd stayed dry.",
        "paragraph 2 starts with 'The'",
    ),
    (
        "nth_paragraph_first_word",
        {"n": 2, "nth": 1, "word": "first"},
        '"First" things first.\n\nThen the rest.',
        "First of all.\n\nSecond part.\n\nThird part.",
        "found 3 paragraphs, need exactly 2",
    ),
    ("postscript", {"marker": "P.S."}, ESSAY, ESSAY.replace("P.S.", "PS:"), "no line starting with 'P.S.'"),
    (
        "postscript",
        {"marker": "P.P.S."},
        "Thanks for the invite.\n  p.p.s. bring snacks",
        "P.P.S. bring snacks",
        "comes first",
    ),
    ("postscript", {"marker": "P.S."}, "See you soon.\nP.S. Call me.", "See you soon.\nP.S.", "no line"),
    (
        "highlighted_sections",
        {"n": 2},
        "Use *fresh* basil and **good** oil.\n* a bullet is not a highlight",
        "Use * fresh basil and 2 * 3 = 6.\n* a bullet\n* another",
        "found 0 highlighted spans",
    ),
    ("highlighted_sections", {"n": 1}, "**Warning**: hot.", "Nothing *   * here.", "need at least 1"),
    (
        "numbered_sections",
        {"n": 3, "label": "Section"},
        SECTIONS,
        SECTIONS.replace("SECTION 3", "Finally"),
        "[1, 2]",
    ),
    (
        "numbered_sections",
        {"n": 2, "label": "Part"},
        "Intro.\nPart 1: setup\nPart 2: play",
        "Part 2: play\nPart 1: setup",
        "need [1, 2]",
    ),
    ("two_responses", {}, TWO, TWO.replace("******", "*****"), "found 0 separator lines"),
    ("two_responses", {}, TWO, "Same.\n******\n  same.", "the two responses are the same"),
    ("two_responses", {}, TWO, "A.\n******\nB.\n******\nC.", "found 2 separator lines"),
    ("two_responses", {}, TWO, "******\nOnly one.", "one of the two responses is empty"),
    (
        "fixed_choice",
        {"options": ["My answer is yes.", "My answer is no."]},
        "  My answer is no.\n",
        "My answer is no. Because it rains.",
        "is none of",
    ),
    ("fixed_choice", {"options": ["Yes", "No"]}, "Yes", "yes", "is none of ['Yes', 'No']"),
    (
        "repeat_request",
        {"request": "Describe a quiet street at night"},
        "Describe a quiet street at night.\nLamps hum and a cat crosses the road.",
        "A quiet street at night: lamps hum.",
        "need the request",
    ),
    (
        "repeat_request",
        {"request": "Name a red fruit"},
        "Name a  red\nfruit: a cherry.",
        "Name a red fruit.",
        "no answer follows",
    ),
    (
        "response_language",
        {"language": "French"},
        "Le chat dort sur le canapé et nous sommes très contents.",
        "The cat is asleep on the sofa and we are very happy.",
        "only 0 of",
    ),
    (
        "response_language",
        {"language": "English"},
        "The cat is asleep on the sofa and we are happy.",
        "Der Hund schläft auf dem Sofa und wir sind froh.",
        "only 0 of",
    ),
    (
        "response_language",
        {"language": "Russian"},
        "Кошка спит на диване, и мы очень рады.",
        "The cat sleeps on the sofa.",
        "mostly LATIN",
    ),
    (
        "response_language",
        {"language": "Japanese"},
        "猫はソファで寝ています。",
        "猫在沙发上睡觉。",
        "found no kana",
    ),
]


@pytest.mark.parametrize(("ctype", "params", "good", "bad", "why"), FAMILY_CASES)
def test_family_type_passes_obeying_and_fails_violating(
    ctype: str, params: dict, good: str, bad: str, why: str
) -> None:
    ok = check(good, {"type": ctype, "params": params})
    assert ok.passed, ok.detail
    fail = check(bad, {"type": ctype, "params": params})
    assert not fail.passed
    assert why in fail.detail, fail.detail


@pytest.mark.parametrize(
    ("obj", "field", "fragment"),
    [
        (
            {"type": "letter_frequency", "params": {"letter": "B", "n": 2}},
            "params.letter",
            "must be one of a, b",
        ),
        ({"type": "letter_frequency", "params": {"letter": "bb", "n": 2}}, "params.letter", "got 'bb'"),
        (
            {"type": "capital_word_frequency", "params": {"relation": "less", "n": 2}},
            "params.relation",
            "one of",
        ),
        (
            {"type": "nth_paragraph_first_word", "params": {"n": 2, "nth": 3, "word": "so"}},
            "params.nth",
            "must be at most n (2), got 3",
        ),
        (
            {"type": "nth_paragraph_first_word", "params": {"n": 2, "nth": 1, "word": "so far"}},
            "params.word",
            "single word",
        ),
        ({"type": "postscript", "params": {"marker": "PS"}}, "params.marker", "must be one of P.S., P.P.S."),
        ({"type": "numbered_sections", "params": {"n": 2, "label": "Step"}}, "params.label", "one of"),
        ({"type": "numbered_sections", "params": {"n": 21, "label": "Part"}}, "params.n", "between 1 and 20"),
        ({"type": "fixed_choice", "params": {"options": ["Yes"]}}, "params.options", "2 to 10 items"),
        ({"type": "fixed_choice", "params": {"options": ["Yes", "yes"]}}, "params.options", "duplicate"),
        ({"type": "repeat_request", "params": {"request": "a\nb"}}, "params.request", "one line"),
        ({"type": "response_language", "params": {"language": "fr"}}, "params.language", "got 'fr'"),
        ({"type": "two_responses", "params": {"n": 2}}, "params.n", "unknown parameter"),
    ],
)
def test_family_params_are_validated(obj: dict, field: str, fragment: str) -> None:
    with pytest.raises(DataError) as info:
        validate_constraint(obj, "items.jsonl", line=4)
    message = str(info.value)
    assert f"items.jsonl:4: {field}: " in message and fragment in message, message
    assert "\n" not in message


def c(ctype: str, **params: object) -> dict:
    return {"type": ctype, "params": params}


@pytest.mark.parametrize(
    ("constraints", "fragment"),
    [
        ([c("fixed_choice", options=["Yes, sure.", "No, never."]), c("no_commas")], "no option"),
        ([c("fixed_choice", options=["My answer is yes.", "Yes"]), c("max_words", n=1)], None),
        ([c("fixed_choice", options=["Yes", "No"]), c("bullet_count", n=2)], "exactly one of"),
        (
            [c("repeat_request", request="Explain tides, briefly"), c("no_commas")],
            "no_commas x repeat_request",
        ),
        ([c("repeat_request", request="Explain tides"), c("lowercase")], "lowercase x repeat_request"),
        ([c("repeat_request", request="Explain tides"), c("starts_with", phrase="Sure")], "must start with"),
        ([c("capital_word_frequency", relation="at most", n=1), c("include_words", words=["NASA"])], None),
        (
            [c("capital_word_frequency", relation="at most", n=1), c("starts_with", phrase="NASA and ESA")],
            "capital_word_frequency at most 1 x starts_with",
        ),
        ([c("capital_word_frequency", relation="at least", n=2), c("uppercase")], "case rule"),
        (
            [c("nth_paragraph_first_word", n=2, nth=1, word="so"), c("starts_with", phrase="Sure")],
            "paragraph 1",
        ),
        ([c("nth_paragraph_first_word", n=2, nth=2, word="so"), c("starts_with", phrase="Sure")], None),
        ([c("nth_paragraph_first_word", n=3, nth=1, word="so"), c("sentence_count", n=2)], "every paragraph"),
        ([c("response_language", language="French"), c("include_words", words=["tide"])], "requires 'tide'"),
        ([c("response_language", language="English"), c("include_words", words=["tide"])], None),
        ([c("response_language", language="French"), c("letter_frequency", letter="b", n=3)], None),
        ([c("response_language", language="Korean"), c("letter_frequency", letter="b", n=3)], "requires 'b'"),
        ([c("response_language", language="Korean"), c("lowercase")], "has no case"),
        ([c("response_language", language="Greek"), c("lowercase")], None),
        ([c("numbered_sections", n=2, label="Part"), c("no_digits")], "numbered with digits"),
        ([c("two_responses"), c("bullet_count", n=2)], "each response or to both"),
        ([c("postscript", marker="P.S."), c("one_line")], "own line"),
        ([c("postscript", marker="P.S."), c("exclude_words", words=["s"])], "requires 'P.S.'"),
    ],
)
def test_family_conflicts(constraints: list[dict], fragment: str | None) -> None:
    problems = conflicts(constraints)
    if fragment is None:
        assert problems == []
    else:
        assert any(fragment in p for p in problems), problems
        assert conflicts(list(reversed(constraints))), "order must not matter"


def test_augment_never_draws_fixed_choice_and_binds_the_request() -> None:
    instruction = "Describe the smell of rain"
    drawn = set()
    for seed in range(300):
        text, cs = augment(instruction, random.Random(seed), k=1, allowed_types=set(REGISTRY))
        drawn.add(cs[0]["type"])
        if cs[0]["type"] == "repeat_request":
            assert cs[0]["params"] == {"request": instruction}
            assert text.startswith(instruction + ". ")
            assert check(f"{instruction}. Wet earth and cut grass.", cs[0]).passed
    assert "fixed_choice" not in drawn and "repeat_request" in drawn
    with pytest.raises(ValueError, match="at least 1 allowed types"):
        augment(instruction, random.Random(0), allowed_types={"fixed_choice"})


def test_repeat_request_is_not_bound_to_a_multi_line_instruction() -> None:
    for seed in range(40):
        _, cs = augment(
            "Summarize:\nThe text.", random.Random(seed), allowed_types={"repeat_request", "no_commas"}
        )
        assert cs[0]["type"] == "no_commas"


def test_every_type_has_at_least_three_distinct_wordings() -> None:
    for ctype, obj in REGISTRY.items():
        params = obj.sample_params(random.Random(1))
        wordings = obj.phrasings(params)
        assert len(set(wordings)) == len(wordings) >= 3, ctype
        assert obj.describe(params) == wordings[0]  # canonical without an rng


def test_augment_varies_the_wording_of_one_constraint() -> None:
    texts = {
        augment("Describe a harbour.", random.Random(seed), allowed_types={"no_commas"})[0]
        for seed in range(30)
    }
    assert texts == {"Describe a harbour. " + w for w in REGISTRY["no_commas"].phrasings({})}
