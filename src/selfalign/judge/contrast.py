"""Likelihood contrast: how much more likely the response is given its instruction than given a neutral one.

``pmi = (log P(r | prompt(instruction)) − log P(r | prompt(neutral))) / n_tokens(r)`` — the pointwise
mutual information between instruction and response, per response token. The response tokens are the
same in both contexts (both prompts end with the same "Response:" prefix), so dividing the difference by
their count is exact length normalisation: a long answer is not favoured for having more tokens, and a
generic text that fits any instruction (a refusal, an answer to another question) scores near zero.

``likelihood-contrast-end`` adds ``end_weight × log P(end delimiter | instruction, response)``: the model's
own belief that the answer is finished there, which the contrast alone cannot see (a truncated answer is
as on-topic per token as the full one). Calibration decides which of the two a model should use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from selfalign.judge.types import Item, Judgment, PairItem, PairJudgment, compare_by_scores, sigmoid
from selfalign.prompts.format import get_format

if TYPE_CHECKING:
    from selfalign.engine import Engine

NEUTRAL_INSTRUCTION = "Write a response."


class LikelihoodContrast:
    pointwise = True
    model_based = True
    default_threshold = 0.25  # nats per token between chosen and rejected

    def __init__(
        self,
        end_weight: float = 0.0,
        reference: str = NEUTRAL_INSTRUCTION,
        batch_size: int = 16,
        name: str | None = None,
    ) -> None:
        self.end_weight = end_weight
        self.reference = reference
        self.batch_size = batch_size
        self.name = name or ("likelihood-contrast" if end_weight == 0 else "likelihood-contrast-end")

    def _n_end(self, engine: Engine, prompt: str, response: str, n_total: int) -> int:
        """How many of the completion's tokens belong to the end delimiter (tokenizer-checked)."""
        fmt = get_format()
        body = engine.guard.encode(prompt + " " + response.strip(), as_text=True)
        whole = engine.guard.encode(prompt + fmt.completion(response), as_text=True)
        if whole[: len(body)] == body:
            return len(whole) - len(body)
        return min(n_total - 1, len(engine.guard.encode(fmt.end, bos=False, as_text=True)))

    def score(self, engine: Engine, items: Sequence[Item], adapter: str | None = None) -> list[Judgment]:
        fmt = get_format()
        ref_prompt = fmt.prompt(self.reference)
        requests = []
        for it in items:
            completion = fmt.completion(it.response)
            requests += [(fmt.prompt(it.instruction), [completion]), (ref_prompt, [completion])]
        flat = engine.logprobs(requests, adapter=adapter, batch_size=self.batch_size)
        out = []
        for i, it in enumerate(items):
            own, ref = flat[2 * i][0], flat[2 * i + 1][0]
            own_prompt = requests[2 * i][0]
            n_end = self._n_end(engine, own_prompt, it.response, own.n_tokens)
            n_resp = max(1, own.n_tokens - n_end)
            own_resp = sum(own.token_logprobs[:n_resp])
            ref_resp = sum(ref.token_logprobs[:n_resp])
            end_lp = sum(own.token_logprobs[n_resp:])
            pmi = (own_resp - ref_resp) / n_resp
            score = pmi + self.end_weight * end_lp
            out.append(
                Judgment(
                    item_id=it.id,
                    scorer=self.name,
                    score=score,
                    p_good=sigmoid(score),
                    margin=score,
                    orders_agree=True,  # no label order to disagree with
                    prompts=[own_prompt, ref_prompt],
                    logp=[{"response": min(0.0, own_resp)}, {"response": min(0.0, ref_resp)}],
                    per_order=[score],
                    details={"pmi_per_token": pmi, "logp_end": end_lp, "n_tokens": n_resp},
                )
            )
        return out

    def compare(
        self, engine: Engine, items: Sequence[PairItem], adapter: str | None = None
    ) -> list[PairJudgment]:
        return compare_by_scores(self, engine, items, adapter)
