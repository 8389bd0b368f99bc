"""Selection of accepted responses, pair formatting, quantization refusal, input validation."""

from __future__ import annotations

import json

import pytest
import torch

from selfalign.data.schemas import Judgment, Response
from selfalign.errors import DataError, QuantizationError
from selfalign.prompts.format import get_format
from selfalign.train.common import check_quant
from selfalign.train.config import DPOSettings, SFTSettings
from selfalign.train.data import accept_responses, load_pairs, load_sft_from_responses, pair_triples

F = get_format()
QC_OK = {"runaway": False, "truncated": False, "too_short": False, "echo": False, "empty": False}


def response(i: int, **qc: bool) -> Response:
    return Response(
        id=f"r{i}", instruction_id=f"i{i}", instruction=f"Task {i}", prompt=F.prompt(f"Task {i}"),
        raw=f"Answer {i}\nEND", text=f"Answer {i}", stop_reason="stop", n_tokens=3, qc={**QC_OK, **qc},
    )  # fmt: skip


def judgment(i: int, p_good: float, confident: bool = True) -> Judgment:
    return Judgment(
        id=f"j{i}", item_ids=[f"r{i}"], scorer="ab-v1", prompts=["p", "q"], logp=[{"A": -0.1}, {"A": -0.2}],
        p_good=p_good, margin=p_good - 0.5, orders_agree=True, confident=confident,
    )  # fmt: skip


def test_qc_only_when_critic_off_and_critic_good_when_on():
    rs = [response(0), response(1, truncated=True), response(2), response(3)]
    kept, counts = accept_responses(rs, None)
    assert [r.id for r in kept] == ["r0", "r2", "r3"] and counts["qc_failed"] == 1
    js = [judgment(0, 0.9), judgment(1, 0.9), judgment(2, 0.2), judgment(3, 0.8, confident=False)]
    kept, counts = accept_responses(rs, js)
    assert [r.id for r in kept] == ["r0"]
    assert (counts["judged_bad"], counts["qc_failed"]) == (2, 1)
    kept, _ = accept_responses(rs, js, require_confident=False)
    assert [r.id for r in kept] == ["r0", "r3"]


def test_sft_examples_are_zero_shot_prompt_and_completion(tmp_path):
    path = tmp_path / "responses.jsonl"
    path.write_text("\n".join(response(i).model_dump_json() for i in range(2)) + "\n")
    examples, info = load_sft_from_responses(path, None, min_p_good=0.5, require_confident=True)
    assert examples[1].prompt == "Instruction: Task 1\nResponse:"
    assert examples[1].completion == " Answer 1\nEND"
    assert info["selection"]["rule"] == "qc-clean (critic off)" and len(info["responses"]["sha256"]) == 64


def test_bad_pair_file_names_line_and_field(tmp_path):
    path = tmp_path / "pairs.jsonl"
    good = {"prompt": "P", "chosen": "a", "rejected": "b", "margin": 1.0, "source": "critic"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "rejected": ""}) + "\n")
    with pytest.raises(DataError, match=r"pairs\.jsonl:2: rejected"):
        load_pairs(path)
    path.write_text(json.dumps(good) + "\n")
    with pytest.raises(DataError, match="margin"):
        load_pairs(path, min_margin=2.0)
    pairs, _ = load_pairs(path)
    assert pair_triples(pairs) == [("P", " a\nEND", " b\nEND", True)]
    # a rejected answer that ran to the token limit stays open, with or without a delimiter in the file
    for rejected in ("b", " b\nEND"):
        path.write_text(json.dumps({**good, "rejected": rejected, "rejected_ended": False}) + "\n")
        assert pair_triples(load_pairs(path)[0]) == [("P", " a\nEND", " b", False)]


@pytest.mark.parametrize("quant", ["4bit", "8bit"])
def test_kbit_training_refused_without_cuda(quant, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for settings in (SFTSettings(quant=quant), DPOSettings(quant=quant)):
        with pytest.raises(QuantizationError, match="needs a CUDA GPU"):
            check_quant(settings)
    check_quant(SFTSettings(quant="none"))
