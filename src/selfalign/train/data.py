"""Training data: accepted responses → SFT prompt/completion examples; pair files → DPO triples.

A response is accepted when it is QC-clean and, if the critic ran, a single-item judgment of it says good
(``p_good >= min_p_good``, and ``confident`` when required). With no judgments (critic stage off), QC-clean
is enough. The SFT prompt is the zero-shot prompt of the instruction — the format the model will be asked
in — not the few-shot prompt that produced the response.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from selfalign.data.schemas import Judgment, PreferencePair, Response, SFTExample, validate_file
from selfalign.errors import DataError
from selfalign.prompts.format import get_format


def file_info(path: Path, n_records: int) -> dict[str, Any]:
    """Provenance of an input file for the model card and manifest."""
    return {
        "path": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "records": n_records,
    }


def qc_clean(r: Response) -> bool:
    return bool(r.text.strip()) and not any(r.qc.model_dump().values())


def accept_responses(
    responses: Sequence[Response],
    judgments: Sequence[Judgment] | None,
    *,
    min_p_good: float = 0.5,
    require_confident: bool = True,
) -> tuple[list[Response], dict[str, int]]:
    """The responses to train on, and counts of why others were dropped."""
    counts = {"responses": len(responses), "qc_failed": 0, "unjudged": 0, "judged_bad": 0, "accepted": 0}
    verdict: dict[str, Judgment] = {}
    for j in judgments or ():
        if len(j.item_ids) == 1:
            verdict[j.item_ids[0]] = j
    kept: list[Response] = []
    for r in responses:
        if not qc_clean(r):
            counts["qc_failed"] += 1
            continue
        if judgments is not None:
            j = verdict.get(r.id)
            if j is None:
                counts["unjudged"] += 1
                continue
            if j.p_good < min_p_good or (require_confident and not j.confident):
                counts["judged_bad"] += 1
                continue
        kept.append(r)
    counts["accepted"] = len(kept)
    return kept, counts


def sft_examples(responses: Sequence[Response]) -> list[SFTExample]:
    f = get_format()
    return [
        SFTExample(
            prompt=f.prompt(r.instruction), completion=f.completion(r.text), id=r.id, source="accepted"
        )
        for r in responses
    ]


def load_accepted(path: Path) -> tuple[list[SFTExample], dict[str, Any]]:
    """Responses another stage (critique) already accepted: converted, not filtered again."""
    responses = [r for r in validate_file(path, "response") if isinstance(r, Response)]
    info = {"responses": file_info(path, len(responses)), "selection": {"rule": "accepted by critique"}}
    return sft_examples(responses), info


def load_sft_from_responses(
    responses_path: Path,
    judgments_path: Path | None,
    *,
    min_p_good: float,
    require_confident: bool,
) -> tuple[list[SFTExample], dict[str, Any]]:
    """Validate the files, select accepted responses, build examples; raise if nothing is left."""
    responses = [r for r in validate_file(responses_path, "response") if isinstance(r, Response)]
    judgments = None
    info: dict[str, Any] = {"responses": file_info(responses_path, len(responses))}
    if judgments_path is not None:
        judgments = [j for j in validate_file(judgments_path, "judgment") if isinstance(j, Judgment)]
        info["judgments"] = file_info(judgments_path, len(judgments))
        if not any(len(j.item_ids) == 1 for j in judgments):
            raise DataError(
                judgments_path, None, "item_ids", "no single-item judgments: cannot judge responses"
            )
    kept, counts = accept_responses(
        responses, judgments, min_p_good=min_p_good, require_confident=require_confident
    )
    info["selection"] = {
        **counts,
        "rule": "qc-clean and critic-good" if judgments is not None else "qc-clean (critic off)",
        "min_p_good": min_p_good,
        "require_confident": require_confident,
    }
    if not kept:
        raise DataError(responses_path, None, None, f"no accepted responses to train on ({counts})")
    return sft_examples(kept), info


def load_sft_file(path: Path) -> tuple[list[SFTExample], dict[str, Any]]:
    examples = [e for e in validate_file(path, "sft") if isinstance(e, SFTExample)]
    return examples, {"sft": file_info(path, len(examples))}


def load_pairs(path: Path, *, min_margin: float = 0.0) -> tuple[list[PreferencePair], dict[str, Any]]:
    pairs = [p for p in validate_file(path, "pair") if isinstance(p, PreferencePair)]
    kept = [p for p in pairs if p.margin >= min_margin]
    info = {"pairs": file_info(path, len(pairs)), "selection": {"min_margin": min_margin, "kept": len(kept)}}
    if not kept:
        raise DataError(path, None, "margin", f"no pair has margin >= {min_margin}")
    return kept, info


def as_completion(text: str) -> str:
    """A pair answer as trained: the format's completion (leading space, end delimiter), added if missing."""
    f = get_format()
    return text if text.endswith(f.end) else f.completion(text)


class DPOPair(NamedTuple):
    """One DPO row as text. ``rejected_ended`` false: the rejected answer ran to the token limit and is
    trained as it was generated — no end delimiter, no EOS (``train.tokenize.dpo_dataset``): closed, DPO
    would also push down *ending* after the loop that ran to the limit."""

    prompt: str
    chosen: str
    rejected: str
    rejected_ended: bool = True


def pair_triples(pairs: Sequence[PreferencePair]) -> list[DPOPair]:
    """Each pair with both answers ending in the end delimiter, as SFT taught, except a rejected answer the
    model never ended, which stays open."""
    f = get_format()
    out = []
    for p in pairs:
        open_text = f.unfinished(p.rejected.removesuffix(f.end))
        rejected = as_completion(p.rejected) if p.rejected_ended else open_text
        out.append(DPOPair(p.prompt, as_completion(p.chosen), rejected, p.rejected_ended))
    return out
