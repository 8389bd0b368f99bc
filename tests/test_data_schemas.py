"""Record schemas and validate_file: every error names file:line: field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from selfalign.data.jsonl import write_jsonl_atomic
from selfalign.data.qc import QC_FLAGS
from selfalign.data.schemas import (
    KINDS,
    QCFlags,
    ValidationErrors,
    field_path,
    validate_file,
    validate_record,
)
from selfalign.errors import DataError

QC_OK = dict.fromkeys(QC_FLAGS, False)

GOOD: dict[str, dict[str, Any]] = {
    "instruction": {
        "id": "i1",
        "text": "Name three primary colors.",
        "category": "knowledge",
        "source": "generated",
        "prompt": "Instruction: ...",
        "gen": {"temperature": 0.7, "seed": 1},
        "constraints": [{"type": "bullet_count", "params": {"n": 3}}],
    },
    "response": {
        "id": "r1",
        "instruction_id": "i1",
        "instruction": "Name three primary colors.",
        "prompt": "Instruction: Name three primary colors.\nResponse:",
        "raw": " Red, blue, yellow.\nEND",
        "text": "Red, blue, yellow.",
        "stop_reason": "stop",
        "n_tokens": 7,
        "qc": QC_OK,
    },
    "judgment": {
        "id": "j1",
        "item_ids": ["r1", "r2"],
        "scorer": "ab_logprob/v1",
        "prompts": ["A then B", "B then A"],
        "logp": [{"A": -0.2, "B": -1.9}, {"A": -1.5, "B": -0.3}],
        "p_good": 0.8,
        "margin": 1.4,
        "orders_agree": True,
        "confident": True,
    },
    "sft": {"prompt": "Instruction: x\nResponse:", "completion": " y\nEND"},
    "pair": {"prompt": "p", "chosen": "good", "rejected": "bad", "margin": 0.9, "source": "critic"},
    "eval": {
        "id": "e1",
        "condition": "base_zero_shot",
        "category": "format",
        "prompt": "Instruction: x\nResponse:",
        "output": "- a\n- b",
        "checks": [{"type": "bullet_count", "passed": True, "detail": "found 2 bullets"}],
        "passed": True,
        "judge": None,
    },
}


def test_qc_model_matches_qc_flags() -> None:
    assert tuple(QCFlags.model_fields) == QC_FLAGS


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_good_records_validate(kind: str, tmp_path: Path) -> None:
    p = tmp_path / f"{kind}.jsonl"
    rec2 = copy.deepcopy(GOOD[kind])
    if "id" in rec2:
        rec2["id"] += "b"
    write_jsonl_atomic(p, [GOOD[kind], rec2])
    parsed = validate_file(p, kind)
    assert len(parsed) == 2
    assert isinstance(parsed[0], KINDS[kind])


def _bad_file(tmp_path: Path, kind: str, bad: dict[str, Any], line: int = 3) -> Path:
    recs = []
    for i in range(line):
        r = copy.deepcopy(GOOD[kind] if i < line - 1 else bad)
        if "id" in r:
            r["id"] = f"{r['id']}-{i}"
        recs.append(r)
    p = tmp_path / "data.jsonl"
    write_jsonl_atomic(p, recs)
    return p


def test_wrong_type_names_nested_field(tmp_path: Path) -> None:
    bad = copy.deepcopy(GOOD["response"])
    bad["qc"]["runaway"] = "no"
    p = _bad_file(tmp_path, "response", bad, line=7)
    with pytest.raises(DataError) as e:
        validate_file(p, "response")
    assert str(e.value) == f"{p}:7: qc.runaway: Input should be a valid boolean"
    assert (e.value.line, e.value.field) == (7, "qc.runaway")


def test_missing_field(tmp_path: Path) -> None:
    bad = copy.deepcopy(GOOD["instruction"])
    del bad["category"]
    p = _bad_file(tmp_path, "instruction", bad)
    with pytest.raises(DataError, match=r"data\.jsonl:3: category: Field required"):
        validate_file(p, "instruction")


def test_extra_field_is_refused(tmp_path: Path) -> None:
    bad = {**GOOD["sft"], "completon": "typo"}
    p = _bad_file(tmp_path, "sft", bad, line=2)
    with pytest.raises(DataError, match=r":2: completon: Extra inputs are not permitted"):
        validate_file(p, "sft")


def test_list_index_in_field_path_and_unknown_constraint(tmp_path: Path) -> None:
    bad = copy.deepcopy(GOOD["instruction"])
    bad["constraints"].append({"type": "bulet_count", "params": {"n": 2}})
    p = _bad_file(tmp_path, "instruction", bad, line=1)
    with pytest.raises(DataError, match=r":1: constraints\[1\]\.type: unknown constraint type 'bulet_count'"):
        validate_file(p, "instruction")


def test_no_coercion_of_strings_to_numbers(tmp_path: Path) -> None:
    bad = {**GOOD["response"], "n_tokens": "7"}
    with pytest.raises(DataError, match="n_tokens: Input should be a valid integer"):
        validate_record(bad, "response", "x.jsonl", 4)


def test_model_level_rules() -> None:
    j = copy.deepcopy(GOOD["judgment"])
    j["logp"] = j["logp"][:1]
    with pytest.raises(DataError, match="logp has 1 orders but prompts has 2"):
        validate_record(j, "judgment")
    j = copy.deepcopy(GOOD["judgment"])
    j["logp"][1]["B"] = 0.5
    with pytest.raises(DataError, match=r"logp\[1\]\['B'\] is positive"):
        validate_record(j, "judgment")
    with pytest.raises(DataError, match="chosen and rejected are identical"):
        validate_record({**GOOD["pair"], "rejected": "good"}, "pair")
    with pytest.raises(DataError, match="p_good: Input should be less than or equal to 1"):
        validate_record({**GOOD["judgment"], "p_good": 1.5}, "judgment")


def test_duplicate_ids(tmp_path: Path) -> None:
    p = tmp_path / "dup.jsonl"
    write_jsonl_atomic(
        p, [GOOD["pair"] | {"id": "x"}, GOOD["pair"] | {"id": "y"}, GOOD["pair"] | {"id": "x"}]
    )
    with pytest.raises(DataError, match=r"dup\.jsonl:3: id: duplicate id 'x' \(first on line 1\)"):
        validate_file(p, "pair")


def test_collect_many_errors_message_is_first(tmp_path: Path) -> None:
    recs = [
        GOOD["sft"],
        {"prompt": "p"},  # line 2: completion missing
        {"prompt": 3, "completion": "c"},  # line 3: wrong type
        {"prompt": "p", "completion": ""},  # line 4: too short
    ]
    p = tmp_path / "sft.jsonl"
    write_jsonl_atomic(p, recs)
    with pytest.raises(ValidationErrors) as e:
        validate_file(p, "sft", max_errors=10)
    assert str(e.value) == f"{p}:2: completion: Field required"
    assert [(x.line, x.field) for x in e.value.errors] == [
        (2, "completion"),
        (3, "prompt"),
        (4, "completion"),
    ]
    with pytest.raises(ValidationErrors) as e1:
        validate_file(p, "sft")
    assert len(e1.value.errors) == 1


def test_json_errors_and_empty_file_pass_through(tmp_path: Path) -> None:
    p = tmp_path / "e.jsonl"
    p.write_text("")
    with pytest.raises(DataError, match="empty file"):
        validate_file(p, "sft")
    p.write_bytes(b'{"prompt": "p", "completion": "c"}\n{"prompt": \xff}\n')
    with pytest.raises(DataError, match=r"e\.jsonl:2: not valid UTF-8"):
        validate_file(p, "sft")


def test_unknown_kind() -> None:
    with pytest.raises(DataError, match="unknown record kind 'responses'"):
        validate_record({}, "responses")


def test_field_path() -> None:
    assert field_path(("constraints", 0, "params", "n")) == "constraints[0].params.n"
    assert field_path(()) is None


def test_eval_items_are_unique_per_id_and_condition(tmp_path):
    from selfalign.data.jsonl import write_jsonl_atomic
    from selfalign.data.schemas import validate_file
    from selfalign.errors import DataError

    item = {
        "id": "q1",
        "condition": "base_few_shot",
        "category": "qa",
        "prompt": "p",
        "output": "o",
        "checks": [],
        "passed": None,
        "judge": None,
    }
    path = tmp_path / "items.jsonl"
    write_jsonl_atomic(path, [item, {**item, "condition": "sft"}])
    assert len(validate_file(path, "eval")) == 2
    write_jsonl_atomic(path, [item, item])
    with pytest.raises(DataError, match=r"items\.jsonl:2: id: duplicate id"):
        validate_file(path, "eval")
