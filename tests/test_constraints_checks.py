"""Each constraint type passes an obeying answer and fails a violating one (realistic text)."""

from __future__ import annotations

import random

import pytest

from selfalign.constraints import REGISTRY, all_types, check, check_all, passes_all

LIST_ANSWER = """Here are a few ways to save energy at home:
- Turn off lights when you leave a room.
- Use a programmable thermostat.
* Wash clothes in cold water.
"""

NUMBERED_ANSWER = """To make tea:
1. Boil fresh water.
2) Warm the pot and add the leaves.
3. Steep for 3.5 minutes, then pour.
"""

JSON_FENCED = '```json\n{"name": "Ada Lovelace", "reason": "First published algorithm"}\n```'

# (type, params, answer that obeys, answer that violates, fragment expected in the violation's detail)
CASES = [
    ("bullet_count", {"n": 3}, LIST_ANSWER, LIST_ANSWER + "- Unplug idle chargers.", "found 4 bullets"),
    (
        "bullet_count",
        {"n": 2},
        "- **Sleep** early\n- Drink water",
        "**Bold** text\n-5 degrees\n- one",
        "1 bullet",
    ),
    ("numbered_list", {"n": 3}, NUMBERED_ANSWER, "1. Boil water.\n2. Pour it.", "found 2 numbered items"),
    ("lowercase", {}, "the quick brown fox jumps over the lazy dog.", "the quick brown Fox jumps.", "'F'"),
    ("lowercase", {}, "écoute: ça va très bien.", "42 + 7 = 49!", "found no lowercase letters"),
    ("uppercase", {}, "ÇA VA? 42!", "東京 42", "found no uppercase letters"),
    (
        "uppercase",
        {},
        "STOP! DO NOT ENTER THE LAB WITHOUT GOGGLES.",
        "STOP! Do not enter.",
        "lowercase letters",
    ),
    (
        "max_words",
        {"n": 8},
        "Paris is the capital of France.",
        "Paris is the capital and largest city of France.",
        "found 9 words",
    ),
    ("max_words", {"n": 3}, "It's well-known.", "It's a well-known fact.", "found 5 words"),
    (
        "min_words",
        {"n": 6},
        "Water boils at one hundred degrees Celsius.",
        "Water boils at 100 °C.",
        "found 5 words",
    ),
    ("no_commas", {}, "Yes. I agree with you and I will help.", "Yes, I agree.", "found 1 comma"),
    ("no_commas", {}, "Plain text only.", "全角，逗号", "found 1 comma"),
    (
        "json_keys",
        {"keys": ["name", "reason"]},
        JSON_FENCED,
        '{"name": "Ada Lovelace"}',
        "lacks keys ['reason']",
    ),
    (
        "json_keys",
        {"keys": ["a"]},
        '  {"a": [1, 2], "b": null}  ',
        'Sure! Here it is: {"a": 1}',
        "not valid JSON",
    ),
    ("json_keys", {"keys": ["a"]}, '```\n{"a": 1}\n```', '["a"]', "JSON is a list"),
    (
        "include_words",
        {"words": ["ocean", "tide"]},
        "The OCEAN rises with each tide.",
        "The oceans rise with tides.",
        "missing ['ocean', 'tide']",
    ),
    (
        "include_words",
        {"words": ["ice cream"]},
        "I love ice\ncream in summer.",
        "I love ice-free cream.",
        "missing",
    ),
    (
        "exclude_words",
        {"words": ["very", "good"]},
        "It was an excellent goodbye.",
        "It was Very nice.",
        "'very' 1 time",
    ),
    (
        "starts_with",
        {"phrase": "Sure"},
        "\n  Sure, here is the plan.",
        "Surely this works.",
        "runs into a longer word",
    ),
    (
        "starts_with",
        {"phrase": "In short"},
        "In short: yes.",
        "Briefly, yes. In short: yes.",
        "need 'In short'",
    ),
    (
        "ends_with",
        {"phrase": "Hope this helps."},
        "Boil the pasta. Hope this helps.\n\n",
        "Hope this helps. Enjoy!",
        "need 'Hope this helps.'",
    ),
    ("ends_with", {"phrase": "all"}, "That is all", "That is overall", "end of a longer word"),
    (
        "sentence_count",
        {"n": 3},
        "It rained. Did it stop? Yes!",
        "It rained. It stopped.",
        "found 2 sentences",
    ),
    (
        "sentence_count",
        {"n": 2},
        'Pi is about 3.14. See "example.com" (today!)',
        "First.\n\nSecond.\n\nThird.",
        "found 3",
    ),
    (
        "paragraph_count",
        {"n": 2},
        "First idea here.\nStill first.\n\n  \nSecond idea.",
        "One block only.",
        "found 1 paragraph",
    ),
    (
        "word_frequency",
        {"word": "time", "n": 2},
        "Time flies; time heals.",
        "Timely help saves time.",
        "found 'time' 1 time",
    ),
    ("quoted", {}, '"To be or not to be."', 'He said "hello" to me.', "starts with 'H'"),
    ("quoted", {}, "“A curly-quoted answer.”", '"  "', "quotes wrap no words"),
    ("quoted", {}, '"Mixed quote styles.”', "“Unclosed quote.", "ends with '.'"),
    ("quoted", {}, '  “Padded."\n', '"', "need double quotes"),
    ("title", {}, "<<Autumn Leaves>>\nThe leaves fall slowly.", "<< >> Autumn << Leaves", "no <<title>>"),
    (
        "placeholders",
        {"n": 2},
        "Dear [name], meet me at [place].",
        "Dear [name], see [docs](http://x.y).",
        "found 1 placeholder",
    ),
    ("no_digits", {}, "There are seven days in a week.", "There are 7 days in a week.", "found digits"),
    ("no_digits", {}, "No numbers here at all.", "Arabic-Indic ٣ counts too.", "found digits"),
    ("one_line", {}, "  A single line with a trailing newline.\n", "Line one.\r\nLine two.", "found 2 lines"),
]


@pytest.mark.parametrize(("ctype", "params", "good", "bad", "why"), CASES)
def test_obeying_answer_passes_and_violating_answer_fails(
    ctype: str, params: dict, good: str, bad: str, why: str
) -> None:
    ok = check(good, {"type": ctype, "params": params})
    assert ok.passed, ok.detail
    assert ok.type == ctype
    fail = check(bad, {"type": ctype, "params": params})
    assert not fail.passed
    assert why in fail.detail


def test_every_type_has_a_pass_and_fail_case() -> None:
    # The types added for IFEval's remaining families have theirs in test_constraints_families.py.
    from test_constraints_families import FAMILY_CASES

    assert {c[0] for c in CASES} | {c[0] for c in FAMILY_CASES} == set(all_types())


@pytest.mark.parametrize("ctype", all_types())
@pytest.mark.parametrize("answer", ["", "   \n\t "])
def test_blank_answer_fails_every_type(ctype: str, answer: str) -> None:
    # Otherwise "no commas", "at most 50 words", ... would reward saying nothing.
    params = REGISTRY[ctype].sample_params(random.Random(0))
    result = check(answer, {"type": ctype, "params": params})
    assert not result.passed
    assert result.detail == "answer is empty"


def test_check_all_reports_each_constraint_in_order() -> None:
    constraints = [
        {"type": "bullet_count", "params": {"n": 3}},
        {"type": "no_commas", "params": {}},
        {"type": "include_words", "params": {"words": ["thermostat"]}},
    ]
    results = check_all(LIST_ANSWER, constraints)
    assert [r.type for r in results] == ["bullet_count", "no_commas", "include_words"]
    assert [r.passed for r in results] == [True, True, True]
    assert passes_all(LIST_ANSWER, constraints)
    with_comma = LIST_ANSWER.replace("Use a", "Use, if you can, a")
    assert [r.passed for r in check_all(with_comma, constraints)] == [True, False, True]
    assert not passes_all(with_comma, constraints)


def test_passes_all_refuses_an_empty_constraint_list() -> None:
    with pytest.raises(ValueError, match="at least one constraint"):
        passes_all("anything", [])


def test_check_result_serialises_to_a_plain_dict() -> None:
    result = check("a, b", {"type": "no_commas"})
    assert result.to_dict() == {"type": "no_commas", "passed": False, "detail": "found 1 comma, need 0"}


def test_check_rejects_non_string_answer() -> None:
    with pytest.raises(TypeError, match="answer must be a str"):
        check(None, {"type": "no_commas"})  # type: ignore[arg-type]
