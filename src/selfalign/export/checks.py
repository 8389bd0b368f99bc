"""The checks an export records: the chat template against the ids selfalign fed, and greedy agreement of
the merged model with base + adapter. A template mismatch is an error; greedy differences are listed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selfalign.data.jsonl import iter_jsonl
from selfalign.engine.export import chat_ids
from selfalign.errors import ExportError
from selfalign.evaluate.items import HeldOutItem
from selfalign.prompts.format import Format
from selfalign.train.tokenize import split_ids

if TYPE_CHECKING:
    from selfalign.engine import Engine
    from selfalign.engine.types import Generation


def _first_diff(a: Sequence[int], b: Sequence[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def _mismatch(what: str, expected: list[int], got: list[int]) -> dict[str, Any] | None:
    if expected == got:
        return None
    at = _first_diff(expected, got)
    return {"what": what, "position": at, "expected": expected[at : at + 8], "got": got[at : at + 8],
            "expected_len": len(expected), "got_len": len(got)}  # fmt: skip


def _parse_row(fmt: Format, prompt: str, completion: str) -> tuple[str, str] | None:
    """(instruction, response) whose ``fmt.prompt``/``fmt.completion`` give back exactly this row."""
    tail = "\n" + fmt.response_prefix
    if not (prompt.startswith(fmt.instruction_prefix) and prompt.endswith(tail)):
        return None
    instruction = prompt[len(fmt.instruction_prefix) : -len(tail)]
    response = completion.removeprefix(" ").removesuffix(fmt.end)
    if fmt.prompt(instruction) != prompt or fmt.completion(response) != completion:
        return None
    return instruction, response


def check_template(
    engine: Engine, tokenizer: Any, fmt: Format, items: Sequence[HeldOutItem], sft_file: Path | None
) -> dict[str, Any]:
    """Held-out items: ``apply_chat_template([user], add_generation_prompt=True)`` must equal the guard's
    ids for ``fmt.prompt`` (what evaluation fed). SFT rows: ``[user, assistant]`` must equal the training
    row (prompt ids + completion ids + EOS). Raises :class:`ExportError` on the first mismatch."""
    prompts = []
    for item in items:
        expected = engine.guard.encode(fmt.prompt(item.instruction))
        got = chat_ids(tokenizer, [{"role": "user", "content": item.instruction}], True)
        prompts.append(_mismatch(f"held-out item {item.id}", expected, got))
    rows, skipped = [], 0
    for _, rec in iter_jsonl(sft_file) if sft_file is not None and sft_file.is_file() else []:
        parsed = _parse_row(fmt, rec["prompt"], rec["completion"])
        if parsed is None:
            skipped += 1
            continue
        ctx, cont = split_ids(engine, rec["prompt"], rec["completion"])
        messages = [{"role": "user", "content": parsed[0]}, {"role": "assistant", "content": parsed[1]}]
        rows.append(
            _mismatch(f"training row {rec.get('id', '?')}", ctx + cont, chat_ids(tokenizer, messages, False))
        )
    bad = [m for m in [*prompts, *rows] if m is not None]
    if bad:
        m = bad[0]
        raise ExportError(
            f"chat template check failed on {len(bad)} of {len(prompts) + len(rows)}: {m['what']} differs at "
            f"token {m['position']} (selfalign {m['expected']}, template {m['got']})"
        )
    return {"heldout_prompts": len(prompts), "heldout_prompts_equal": len(prompts),
            "training_rows": len(rows), "training_rows_equal": len(rows),
            "training_rows_not_in_format": skipped, "passed": True}  # fmt: skip


def greedy_agreement(
    items: Sequence[HeldOutItem], unmerged: Sequence[Generation], merged: Sequence[Generation]
) -> dict[str, Any]:
    """Items whose greedy output (all generated text and why it stopped) differs between the two."""
    differ = [
        {"id": it.id, "unmerged": a.raw, "merged": b.raw, "stop": [a.stop_reason, b.stop_reason]}
        for it, a, b in zip(items, unmerged, merged, strict=True)
        if (a.raw, a.stop_reason) != (b.raw, b.stop_reason)
    ]
    return {
        "items": len(items),
        "agree": len(items) - len(differ),
        "differ": len(differ),
        "differing": differ,
    }
