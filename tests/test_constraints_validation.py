"""validate_constraint(s): clear DataErrors that name the file, line and field."""

from __future__ import annotations

import json

import pytest

from selfalign.constraints import (
    HELD_OUT_TYPES,
    REGISTRY,
    all_types,
    check,
    get_type,
    train_types,
    validate_constraint,
    validate_constraints,
)
from selfalign.errors import DataError


@pytest.mark.parametrize(
    ("obj", "field", "fragment"),
    [
        ({"type": "shouting"}, "type", "unknown constraint type 'shouting'"),
        ({"params": {}}, "type", "missing"),
        ("bullet_count", "constraint", "must be an object, got str"),
        ({"type": "bullet_count", "params": {}}, "params.n", "missing"),
        ({"type": "bullet_count", "params": {"n": "3"}}, "params.n", "must be an integer, got '3'"),
        ({"type": "bullet_count", "params": {"n": True}}, "params.n", "must be an integer, got True"),
        ({"type": "bullet_count", "params": {"n": 3.0}}, "params.n", "must be an integer"),
        ({"type": "bullet_count", "params": {"n": 0}}, "params.n", "between 1 and 50, got 0"),
        ({"type": "bullet_count", "params": {"n": 3, "style": "-"}}, "params.style", "unknown parameter"),
        ({"type": "bullet_count", "params": [3]}, "params", "must be an object"),
        ({"type": "no_commas", "params": {"n": 1}}, "params.n", "unknown parameter (allowed: none)"),
        ({"type": "no_commas", "extra": 1}, "extra", "unknown key"),
        (
            {"type": "include_words", "params": {"words": "ocean"}},
            "params.words",
            "must be a list of strings",
        ),
        ({"type": "include_words", "params": {"words": []}}, "params.words", "1 to 10 items"),
        ({"type": "include_words", "params": {"words": ["Sea", "sea"]}}, "params.words", "duplicate"),
        (
            {"type": "include_words", "params": {"words": ["ok", 3]}},
            "params.words",
            "must be a string, got 3",
        ),
        ({"type": "exclude_words", "params": {"words": ["  "]}}, "params.words", "must not be empty"),
        ({"type": "exclude_words", "params": {"words": ["!!"]}}, "params.words", "at least one word"),
        ({"type": "starts_with", "params": {"phrase": " Sure"}}, "params.phrase", "leading/trailing"),
        ({"type": "ends_with", "params": {"phrase": "a\nb"}}, "params.phrase", "one line"),
        ({"type": "ends_with", "params": {"phrase": "x" * 201}}, "params.phrase", "at most 200"),
        ({"type": "word_frequency", "params": {"word": "ice cream", "n": 2}}, "params.word", "single word"),
        ({"type": "word_frequency", "params": {"word": "ice"}}, "params.n", "missing"),
        ({"type": "json_keys", "params": {"keys": ["a", "a"]}}, "params.keys", "duplicate"),
    ],
)
def test_invalid_constraints_raise_data_error_naming_the_field(
    obj: object, field: str, fragment: str
) -> None:
    with pytest.raises(DataError) as info:
        validate_constraint(obj, "items.jsonl", line=12)
    err = info.value
    assert err.field == field
    assert err.path == "items.jsonl" and err.line == 12
    assert str(err).startswith(f"items.jsonl:12: {field}: ")
    assert fragment in str(err)


def test_field_prefix_points_inside_a_record() -> None:
    with pytest.raises(DataError, match=r"^<constraint>: constraints\[1\]\.params\.n: must be between"):
        validate_constraint({"type": "max_words", "params": {"n": -5}}, field="constraints[1]")


def test_valid_constraint_is_normalized_copy() -> None:
    words = ["ocean"]
    out = validate_constraint({"type": "include_words", "params": {"words": words}})
    assert out == {"type": "include_words", "params": {"words": ["ocean"]}}
    out["params"]["words"].append("tide")
    assert words == ["ocean"]  # the caller's data is not aliased
    # types without params may leave them out
    assert validate_constraint({"type": "one_line"}) == {"type": "one_line", "params": {}}


def test_json_keys_accept_any_nonempty_string_key() -> None:
    out = validate_constraint({"type": "json_keys", "params": {"keys": [" spaced key ", "Ключ"]}})
    assert out["params"]["keys"] == [" spaced key ", "Ключ"]


def test_round_trip_through_json_lines(tmp_path) -> None:
    path = tmp_path / "items.jsonl"
    rows = [
        {"constraints": [{"type": "word_frequency", "params": {"word": "sea", "n": 2}}]},
        {"constraints": 5},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    first = validate_constraints(json.loads(lines[0])["constraints"], str(path), line=1)
    assert check("The sea, the sea!", first[0]).passed
    with pytest.raises(DataError, match=r"items\.jsonl:2: constraints: must be a list, got int"):
        validate_constraints(json.loads(lines[1])["constraints"], str(path), line=2)


def test_validate_constraints_rejects_conflicts_and_names_the_element() -> None:
    with pytest.raises(DataError, match=r"constraints: conflicting constraints: lowercase x uppercase"):
        validate_constraints([{"type": "lowercase"}, {"type": "uppercase"}], "f.jsonl", line=3)
    with pytest.raises(DataError, match=r"f\.jsonl:3: constraints\[1\]\.type: unknown constraint type"):
        validate_constraints([{"type": "lowercase"}, {"type": "bold"}], "f.jsonl", line=3)


def test_check_and_describe_validate_params() -> None:
    with pytest.raises(DataError, match=r"params\.n: must be between 1 and 10000"):
        check("text", {"type": "max_words", "params": {"n": 0}})
    with pytest.raises(DataError, match=r"params\.n: missing"):
        REGISTRY["sentence_count"].describe({})


def test_type_lists_and_held_out_split() -> None:
    assert len(all_types()) == 30
    assert all_types() == sorted(REGISTRY)
    assert len(HELD_OUT_TYPES) == 5 and set(all_types()) >= HELD_OUT_TYPES
    assert set(train_types()) == set(all_types()) - HELD_OUT_TYPES
    assert get_type("quoted").name == "quoted"
    with pytest.raises(DataError, match="known: bullet_count, capital_word_frequency, ends_with"):
        get_type("Quoted")
