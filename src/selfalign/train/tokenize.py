"""Pre-tokenise training data through the engine's guard, so TRL never tokenises (or templates) anything.

The prompt/completion split is the one the engine scores with (``encode_pair``): training, the critic and the
evaluation see the same token boundary. Every completion ends with EOS (appended as an id: the EOS of chat
models is a control token the guard refuses as text), and the completion — the response, the format's end
delimiter and EOS — is exactly what carries loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from datasets import Dataset

from selfalign.engine.scoring import encode_pair
from selfalign.train.data import DPOPair

if TYPE_CHECKING:
    from selfalign.engine import Engine


def eos_id(engine: Engine) -> int:
    """The EOS id generation stops on (the tokenizer's, which is also in the model's generation config)."""
    tok_eos = engine.tokenizer.eos_token_id
    if tok_eos is None:
        return min(engine.eos_ids)
    return int(tok_eos)


def split_ids(engine: Engine, prompt: str, completion: str, eos: bool = True) -> tuple[list[int], list[int]]:
    """``(prompt_ids, completion_ids + [EOS])``, guarded (no special tokens injected, exact round trip).
    Training text is model text: a control-token string in it is trained as the characters it is."""
    ctx, cont = encode_pair(engine.guard, prompt, completion, allow_special=False, as_text=True)
    return list(ctx), [*cont, *([eos_id(engine)] if eos else [])]



def sft_dataset(
    engine: Engine, examples: Sequence[tuple[str, str]], max_length: int | None = None
) -> Dataset:
    """Rows of ``input_ids`` and ``completion_mask`` (1 on completion tokens), ready for SFTTrainer as-is;
    cut to ``max_length`` tokens from the start (TRL's ``keep_start``), so every mode sees the same rows."""
    rows: dict[str, list[list[int]]] = {"input_ids": [], "completion_mask": []}
    for prompt, completion in examples:
        ctx, cont = split_ids(engine, prompt, completion)
        rows["input_ids"].append((ctx + cont)[:max_length])
        rows["completion_mask"].append(([0] * len(ctx) + [1] * len(cont))[:max_length])
    return Dataset.from_dict(rows)


def rows_over(engine: Engine, examples: Sequence[tuple[str, str]], max_length: int | None) -> int:
    """SFT rows longer than ``max_length`` tokens: :func:`sft_dataset` cuts them, and a cut row has lost
    the end of its answer (and its end marker and EOS), teaching the policy to run on."""
    if max_length is None:
        return 0
    return sum(len(c) + len(d) > max_length for c, d in (split_ids(engine, p, q) for p, q in examples))


def pairs_over(dataset: Dataset, max_length: int | None) -> int:
    """DPO rows (prompt + the longer answer) longer than ``max_length`` tokens: TRL cuts them."""
    if max_length is None:
        return 0
    return sum(
        len(p) + max(len(c), len(r)) > max_length
        for p, c, r in zip(dataset["prompt_ids"], dataset["chosen_ids"], dataset["rejected_ids"], strict=True)
    )


def dpo_dataset(engine: Engine, pairs: Sequence[DPOPair | tuple[str, str, str]]) -> Dataset:
    """Rows of ``prompt_ids``, ``chosen_ids``, ``rejected_ids``: each answer ends with EOS, except a rejected
    one marked as never ended (``DPOPair.rejected_ended``)."""
    rows: dict[str, list[list[int]]] = {"prompt_ids": [], "chosen_ids": [], "rejected_ids": []}
    for prompt, chosen, rejected, rejected_ended in (DPOPair(*p) for p in pairs):
        ctx_c, cont_c = split_ids(engine, prompt, chosen)
        ctx_r, cont_r = split_ids(engine, prompt, rejected, eos=rejected_ended)
        if ctx_c != ctx_r:  # encode_pair fell back to separate encoding for one side; keep one shared prompt
            ctx_c = ctx_r = list(engine.guard.encode(prompt, as_text=True))
            cont_c = [*engine.guard.encode(chosen, bos=False, as_text=True), eos_id(engine)]
            end_r = [eos_id(engine)] if rejected_ended else []
            cont_r = [*engine.guard.encode(rejected, bos=False, as_text=True), *end_r]
        rows["prompt_ids"].append(ctx_c)
        rows["chosen_ids"].append(cont_c)
        rows["rejected_ids"].append(cont_r)
    return Dataset.from_dict(rows)
