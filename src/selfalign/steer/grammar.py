"""The grammar steer: JSON with the required keys, masked by llguidance (a maintained structured-output
library, one of vLLM's backends). No free whitespace: an earlier probe's JSON-schema grammar let Gemma run
into an endless ``\\r\\n    `` inside the object, so separators are fixed (``", "`` and ``": "``)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np
import torch

from selfalign.steer.base import Part
from selfalign.steer.row import Steer

MAX_VALUE = 160  # characters per string value: a long value is a runaway, not an answer
_SEPARATORS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


@cache
def json_grammar(keys: tuple[str, ...]) -> str:
    """Lark grammar (llguidance's dialect): an optional leading space, then the object."""
    schema = {
        "type": "object",
        "properties": {k: {"type": "string", "maxLength": MAX_VALUE} for k in keys},
        "required": list(keys),
        "additionalProperties": False,
        "x-guidance": _SEPARATORS,
    }
    return 'start: " "? obj\nobj: %json ' + json.dumps(schema)


class JsonKeys(Part):
    """llguidance's mask each step; the answer ends when the object closes; under budget pressure the
    tokens that close a string or the object get a boost."""

    kind = "grammar"
    open_length = False
    BOOST = 6.0

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.matcher: Any = None

    def _matcher(self, row: Steer) -> Any:
        if self.matcher is None:
            import llguidance

            self.matcher = llguidance.LLMatcher(row.table.ll_tokenizer, json_grammar(tuple(self.p["keys"])))
            if self.matcher.is_error():
                raise RuntimeError(f"json_keys grammar: {self.matcher.get_error()}")
        return self.matcher

    def mask(self, row: Steer) -> torch.Tensor:
        bits = np.frombuffer(self._matcher(row).compute_bitmask(), dtype=np.uint8)
        allowed = np.unpackbits(bits, bitorder="little")[: row.table.size].astype(bool)
        out = torch.zeros(row.table.size, dtype=torch.bool)
        out[: len(allowed)] = torch.from_numpy(allowed)
        return out

    def bias(self, row: Steer) -> torch.Tensor | None:
        if row.steps_left > self.reserve(row) + 4:
            return None
        return row.table.regex(r'["}]').float() * self.BOOST

    def can_end(self, row: Steer) -> bool:
        return bool(self._matcher(row).is_accepting())

    def must_end(self, row: Steer) -> bool:
        return self.can_end(row)

    def advance(self, row: Steer, token: int) -> None:
        if row.eos[token] or self._matcher(row).is_stopped():
            return  # the end of answer (EOS, or the line break before a stop string) is not JSON
        if not self._matcher(row).consume_token(token):
            raise RuntimeError(f"json_keys grammar refused token {token}: {self.matcher.get_error()}")

    def reserve(self, row: Steer) -> int:
        return 4 * len(self.p["keys"]) + 4
