"""sample_params -> describe -> check round trips, and every compatible pair is satisfiable.

``obeying_answer`` writes an answer for a list of constraints the way a careful writer would. If the
conflict table missed an impossible combination, it could not obey both and the pair test fails.
"""

from __future__ import annotations

import itertools
import json
import random

import pytest

from constraint_answers import obeying_answer
from selfalign.constraints import REGISTRY, all_types, check_all, compatible, is_consistent
from selfalign.constraints.language import LANGUAGES


@pytest.mark.parametrize("ctype", all_types())
def test_sample_describe_check_round_trip(ctype: str) -> None:
    rng = random.Random(f"round-trip {ctype}")
    ctype_obj = REGISTRY[ctype]
    for _ in range(25):
        params = ctype_obj.sample_params(rng)
        assert ctype_obj.validate(params) == params  # samples are valid as drawn
        for text in ctype_obj.phrasings(params):
            assert text[0].isupper() and text.endswith("."), text
            for name, value in params.items():  # every wording states every parameter
                if name in ctype_obj.implicit_params:  # taken from the instruction itself
                    continue
                for item in value if isinstance(value, list) else [value]:
                    assert str(item) in text, (item, text)
        answer = obeying_answer([{"type": ctype, "params": params}])
        [result] = check_all(answer, [{"type": ctype, "params": params}])
        assert result.passed, (params, answer, result.detail)


@pytest.mark.parametrize("ctype", all_types())
def test_sample_params_is_seeded(ctype: str) -> None:
    draws = [[REGISTRY[ctype].sample_params(random.Random(seed)) for seed in range(10)] for _ in range(2)]
    assert draws[0] == draws[1]


def test_samplers_vary_their_parameters() -> None:
    for ctype in all_types():
        if REGISTRY[ctype].specs:
            seen = {json.dumps(REGISTRY[ctype].sample_params(random.Random(s))) for s in range(30)}
            specs = REGISTRY[ctype].specs.values()
            few = len(next(iter(specs)).choices) if len(specs) == 1 else 0  # e.g. the 2 postscript markers
            assert len(seen) >= min(3, few or 3), ctype


def test_every_compatible_pair_with_consistent_params_is_satisfiable() -> None:
    rng = random.Random(7)
    tested: set[tuple[str, str]] = set()
    for a, b in itertools.combinations(all_types(), 2):
        if not compatible(a, b):
            continue
        for _ in range(20):
            cs = [{"type": t, "params": REGISTRY[t].sample_params(rng)} for t in (a, b)]
            if not is_consistent(cs):
                continue
            answer = obeying_answer(cs)
            results = check_all(answer, cs)
            assert all(r.passed for r in results), (cs, answer, [r.detail for r in results])
            tested.add((a, b))
    # Only pairs whose sampled params always clash go untested (case rules vs sentence-cased phrases and
    # sample requests to repeat).
    untested = {
        (a, b) for a, b in itertools.combinations(all_types(), 2) if compatible(a, b) and (a, b) not in tested
    }
    assert untested == {
        ("ends_with", "lowercase"),
        ("ends_with", "uppercase"),
        ("lowercase", "starts_with"),
        ("starts_with", "uppercase"),
        ("lowercase", "repeat_request"),
        ("repeat_request", "uppercase"),
    }


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_pairs_with_each_compatible_type(language: str) -> None:
    # sample_params only draws four Latin-script languages; hand-written items may use any of them.
    lang = {"type": "response_language", "params": {"language": language}}
    rng = random.Random(f"languages {language}")
    paired = set()
    for other in all_types():
        if not compatible("response_language", other):
            continue
        for _ in range(10):
            cs = [lang, {"type": other, "params": REGISTRY[other].sample_params(rng)}]
            if is_consistent(cs):
                answer = obeying_answer(cs)
                results = check_all(answer, cs)
                assert all(r.passed for r in results), (cs, answer, [r.detail for r in results])
                paired.add(other)
    # Layout and counting rules work in every language; English texts are only required in English.
    assert {"bullet_count", "sentence_count", "quoted", "max_words", "two_responses"} <= paired
    assert ("include_words" in paired) == (language == "English")
