"""The shape of one constraint's steer (a ``Part``) and of the text it asks to insert.

A row's :class:`~selfalign.steer.row.Steer` combines the parts of its constraints. Each step a part may:
restrict the next token (``mask``: allowed tokens; ``risky``: tokens allowed only after an exact check of
the text they would make, ``verify``), nudge it (``bias``: added to the logits), ask for text to be written
next (``insert``: forced, the model still picks among the tokenizations), and say whether the answer may
end here (``can_end``) or must end now (``must_end``). Parts read the row's state (text so far, steps left,
whether the model is pressing to end) from the ``row`` argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from selfalign.steer.row import Steer


@dataclass(frozen=True)
class Insert:
    """Text to force next. ``case_insensitive``: its case may follow a case rule (the check casefolds).
    ``word_end``: it ends a word, so the next token may not run on into a longer one; ``space_next``: the
    next token starts with whitespace (a sentence end is only one when whitespace follows)."""

    text: str
    case_insensitive: bool = False
    word_end: bool = False
    space_next: bool = False


class Part:
    """One constraint's steer; the defaults restrict nothing and never block the end."""

    kind = "gate"  # for the docs table: mask, force, gate, insert, grammar
    final = False  # insertions only once every other part may end (a closing phrase, a postscript)
    # False where the part fixes the answer's length or shape (a cap, an exact count, a closed form): a
    # length floor (``with_length_floor``) could only push such a row into a dead end.
    open_length = True
    # A closing part after whose insertion the model writes on (a postscript's note) may insert, when the
    # budget runs short, before parts that only wait for more words (``counts_words``): the words after it
    # count for them too. Without it a row whose floor was met only near the limit got its "P.S." too late
    # to finish (the postscript rows of the 2026-12-07 training-side measurement).
    text_follows = False
    counts_words = False

    def __init__(self, params: dict[str, Any]) -> None:
        self.p = params

    def is_final(self, row: Steer) -> bool:
        return self.final

    def mask(self, row: Steer) -> torch.Tensor | None:
        return None

    def push(self, row: Steer) -> torch.Tensor | None:
        """A soft restriction (tokens that make progress under pressure): applied only where it leaves
        some allowed token and never during another part's forced text."""
        return None

    def risky(self, row: Steer) -> torch.Tensor | None:
        return None

    def verify(self, row: Steer, text: str) -> bool:
        return True

    def bias(self, row: Steer) -> torch.Tensor | None:
        return None

    def insert(self, row: Steer) -> Insert | None:
        return None

    def can_end(self, row: Steer) -> bool:
        return True

    def must_end(self, row: Steer) -> bool:
        return False

    def advance(self, row: Steer, token: int) -> None:
        """Called after the token's text was appended to ``row.text``."""

    def wants_end(self, row: Steer) -> bool:
        """This part leaves nothing more to write (a word cap reached): pressure to close the answer."""
        return False

    def busy(self, row: Steer) -> bool:
        """Mid-construct (an open span): other parts' insertions wait until it is closed."""
        return False

    def pending_words(self, row: Steer) -> int:
        """Words this part will still insert (a max_words cap keeps room for them)."""
        return 0

    def reserve(self, row: Steer) -> int:
        """Tokens this part still needs before the answer may end (its insertions); budget pressure."""
        return 0
