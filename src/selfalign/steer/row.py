"""One row's steer: the parts of its constraints combined, plus the end-of-answer gate and text forcing.

The decode loop calls :meth:`Steer.constrain` with the row's next-token logits and :meth:`Steer.advance`
with the token it picked (the contract: :class:`selfalign.steer.RowSteer`). Every step, in a steered row:

- control tokens and tokens holding half a UTF-8 character are banned;
- the answer ends by EOS or by a stop string (``GenParams.stop``, matched on decoded text like the
  stopper does). A token that would complete a stop string is an *end token*; it is allowed only when every
  part accepts the text as it stands (``can_end``) and only when what it adds before the stop string is
  whitespace (every check ignores trailing whitespace); a token that would end the answer in mid-text is
  banned; nor may an answer end dangling as QC reads it (``data.qc.is_dangling``: an open quote or bracket, a
  trailing colon or comma), and a closing insertion (an ending phrase, a postscript, a closing quote) first
  closes the quotes and brackets left open (``data.qc.closers``);
- forced text (a part's :class:`~selfalign.steer.base.Insert`) allows exactly the tokens that write a
  prefix of what is left of it (the model still chooses the split), intersected with the other parts' masks;
- otherwise the parts' masks intersect; ``risky`` tokens are allowed among the ``VERIFY_TOP`` most likely
  only, each after an exact check of the text it would make;
- in the last quarter of the budget, a row that may end ends at its next closed sentence (wrap-up);
- outside forced text, no 4-token sequence of the answer repeats (transformers' no-repeat-n-gram rule),
  unless nothing else is allowed;
- a line may not start with a turn marker of the format in any case ("End", "instruction.", "Response:"),
  nor with "Answer": a row held from ending writes them to end or to answer again (``_marker_tokens``);
- no allowed token left: every logit is ``-inf`` and the loop ends the row as ``dead_end``.

*Pressure* is the moment to insert what a constraint still needs: the model puts more than half its mass
on ending (EOS, a stop string or a bare line break), or the steps left only just cover the insertions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import torch
from transformers.generation.logits_process import NoRepeatNGramLogitsProcessor

from selfalign.constraints.text import WORD_RE
from selfalign.data.qc import closers, is_dangling
from selfalign.prompts.format import get_format
from selfalign.steer.base import Insert, Part
from selfalign.steer.vocab import VocabTable

VERIFY_TOP = 64  # risky tokens checked exactly per step (the most likely ones)
END_PRESSURE = 0.5  # share of the model's mass on ending that counts as "wants to end"
NEG = float("-inf")
# The last 1/WRAP_UP_SHARE of the budget: a row every part lets end ends at its next closed sentence instead
# of running into the token limit, where QC would reject it as truncated. Without it the steered samples
# that survive QC are the short ones (2026-12-06 proof run: 114 of 312 steered rows hit the 96-token limit).
WRAP_UP_SHARE = 4
# In that window a sentence stop after a word gets a boost rising to CLOSE_PUSH logits at the limit, and a
# closed sentence there is pressure (pending insertions go in while budget remains): 59 of the 312 steered
# rows of the 2026-12-06d run still ran into the limit, in run-on sentences and after a late postscript.
CLOSE_PUSH = 8.0
_AFTER_WORD = re.compile(r"[^\W\d_]{2}\Z")
# A sentence stop (Latin, CJK, Devanagari), then optional closing quotes or brackets and whitespace.
_STOP = r"[.!?。！？।][\"'”’)\]]*\s*"
_CLOSER = re.compile(_STOP + r"\Z")
# A word's last letters, then a sentence stop or a line break (a list item without a stop closes too: 41 of
# the 62 steered rows the 2026-12-06c run flagged only `truncated` ran to the token limit, many in lists).
_SENTENCE_DONE = re.compile(r"[^\W\d_]{2}(?:" + _STOP + r"|[ \t]*\n\s*)\Z")
# A line may not start with a turn marker of the format (the first word of its instruction and response
# prefixes, of a stop string after its line break), in any case. A row held from ending writes them as text
# instead: 69 of the 153 rows the length floor held in the 2026-12-06c run had a line starting "End",
# "Instruction." or "Response:", which QC then rejects or the check reads as answer.
_FIRST_WORD = re.compile(r"\s*([^\W\d_]+)")
# And a label the base opens a new turn with although the format never uses it: a line starting "Answer"
# in 91 of the sixth proof run's 312 steered samples against 13 of its 240 unsteered ones (a length floor
# holds a finished answer open and the model answers again: "Answer: ...\nANSWER 1: ..."), 45 of them
# QC-clean training data.
TURN_LABELS = ("answer",)
# Steered rows loop more than unsteered ones (a mask or a floor holds the model where it wants to stop): QC
# flagged 72 of 312 steered samples `repetitive` in the 2026-12-06c run. A 4-gram matches QC's own unit.
NO_REPEAT = NoRepeatNGramLogitsProcessor(4)
_LINE_START = re.compile(r"\n[ \t]*([^\W\d_]*)\Z")


class Steer:
    """The RowSteer of one row (``constrain`` / ``advance``), built by :func:`selfalign.steer.build_steer`."""

    def __init__(
        self,
        parts: Sequence[Part],
        table: VocabTable,
        eos_ids: set[int],
        stops: Sequence[str],
        max_new_tokens: int,
    ) -> None:
        self.parts = list(parts)
        self.table = table
        self.stops = tuple(stops)
        self.max_new_tokens = max_new_tokens
        self.eos = torch.zeros(table.size, dtype=torch.bool)
        self.eos[[e for e in eos_ids if e < table.size]] = True
        self.text = ""
        self.n = 0
        self.pressure = self.budget_short = self.ending = False
        self.end_ok = False
        self.scores = torch.zeros(0)
        self.can: list[bool] = []
        self.total = torch.tensor(0.0)
        self.forcing: Insert | None = None
        self.force_owner: Part | None = None
        self.force_pos = 0
        self.force_lead = False
        self.no_word_next = self.space_next = False
        self.just_inserted: tuple[Part | None, Insert] | None = None  # set for one step after an insertion
        self.newline_ws = table.ws_only & table.regex(r"[\r\n]")
        self.word_start = table.feature("word_start", lambda s: s[0].isalnum() or s[0] in "_'’")
        fmt = get_format()
        lines = [s for s in self.stops if s.lstrip(" \t").startswith("\n")]
        heads = (fmt.instruction_prefix, fmt.response_prefix, *lines)
        words = {w.group(1).lower() for h in heads if (w := _FIRST_WORD.match(h))}
        self.markers = tuple(sorted(words | set(TURN_LABELS)))

    @property
    def steps_left(self) -> int:
        return self.max_new_tokens - self.n

    def mass(self, mask: torch.Tensor) -> float:
        """The model's probability (this step, before steering) of the tokens in ``mask``."""
        return float(torch.exp(torch.logsumexp(self.scores[mask], dim=-1) - self.total))

    def others_can_end(self, part: Part) -> bool:
        """Every other part may end, except closing parts listed after ``part`` (they close after it) and,
        when the budget runs short, word floors a part that the model writes on after may still serve."""
        i = self.parts.index(part)
        short = part.text_follows and self.budget_short
        return all(ok or (short and q.counts_words)
                   for j, (q, ok) in enumerate(zip(self.parts, self.can, strict=True))
                   if j != i and not (j > i and q.is_final(self)))  # fmt: skip

    # -- the hook -----------------------------------------------------------------------------------------
    def constrain(self, generated: list[int], scores: torch.Tensor) -> torch.Tensor:
        if not generated and self.n:  # the batch was rerun (halving on out-of-memory): start afresh
            self.__init__(  # type: ignore[misc]
                [type(p)(p.p) for p in self.parts],
                self.table,
                set(self.eos.nonzero().flatten().tolist()),
                self.stops,
                self.max_new_tokens,
            )
        if len(generated) != self.n:
            raise RuntimeError(f"steer out of step: saw {self.n} tokens, the row has {len(generated)}")
        if scores.shape[-1] != self.table.size:
            raise RuntimeError(f"steer built for {self.table.size} logits, got {scores.shape[-1]}")
        self.scores = scores.float()
        self.total = torch.logsumexp(self.scores, dim=-1)
        good, bad = self._end_tokens()
        self.can = [p.can_end(self) for p in self.parts]  # once per step: checks re-read the whole text
        # A blank answer fails every check; one that ends dangling (an open quote or bracket, a trailing
        # colon) QC rejects as truncated: 12 of 294 steered rows in the 2026-12-07 training-side measurement.
        self.end_ok = all(self.can) and bool(WORD_RE.search(self.text)) and not is_dangling(self.text)
        reserve = sum(p.reserve(self) for p in self.parts)
        ending = self.eos | good | self.newline_ws
        self.budget_short = self.steps_left <= reserve + 2
        self.pressure = (
            self.budget_short
            or any(p.wants_end(self) for p in self.parts)
            or self.mass(ending) > END_PRESSURE
            or (self._in_wrap_up() and bool(_SENTENCE_DONE.search(self.text)))
        )
        # Once a row must end it stays so: a step that took a stop string's leading line break must not
        # reopen it (a postscript's note that must end is no longer the last line after that break).
        must = self.ending or any(p.must_end(self) for p in self.parts) or self._wrap_up()
        self.ending = must
        if self.forcing is None and not must:
            self._poll_insertions()
        if self.forcing is not None:
            lead = " " if self.force_lead and self.force_pos == 0 else ""
            ins = self.forcing
            allowed = self.table.pieces(ins.text, self.force_pos, ins.case_insensitive, lead)
            allowed &= self.table.plain & ~bad & ~good
            for p in self.parts:
                if p is not self.force_owner and (m := p.mask(self)) is not None:
                    allowed &= m
        elif must:
            allowed = self.eos | good | self._ws_stop_prefixes() if self.end_ok else self.eos & False
        else:
            allowed = self.table.plain & ~bad & ~good & ~self._marker_tokens()
            if self.no_word_next:
                allowed &= ~self.word_start
            if self.space_next:
                allowed &= self.table.feature("starts_space", lambda s: s[:1].isspace())
            for p in self.parts:
                if (m := p.mask(self)) is not None:
                    allowed &= m
            if len(generated) >= 4:
                fresh = torch.isfinite(NO_REPEAT(torch.tensor([generated]), torch.zeros(1, len(allowed)))[0])
                if bool((allowed & fresh).any()):
                    allowed &= fresh
            for p in self.parts:
                if (push := p.push(self)) is not None and bool((allowed & push).any()):
                    allowed &= push
            allowed = self._verify_risky(allowed, scores)
            if self.end_ok:
                allowed |= self.eos | good
        out = scores.masked_fill(~allowed, NEG)
        if self.forcing is None and not must:
            out = self._push_close(out)
        for p in self.parts:
            if (b := p.bias(self)) is not None:
                out = out + b
        return out

    def advance(self, token: int) -> None:
        piece = self.table.texts[token] if token < len(self.table.texts) and not self.eos[token] else ""
        self.text += piece
        self.n += 1
        self.no_word_next = self.space_next = False
        self.just_inserted = None
        if self.forcing is not None:
            if self.force_pos == 0 and self.force_lead and piece.startswith(" "):
                piece = piece[1:]
            self.force_pos += len(piece)
            if self.force_pos >= len(self.forcing.text):
                self.no_word_next, self.space_next = self.forcing.word_end, self.forcing.space_next
                self.just_inserted = (self.force_owner, self.forcing)
                self.forcing, self.force_owner = None, None
        for p in self.parts:
            p.advance(self, token)

    # -- helpers --------------------------------------------------------------------------------------------
    def _in_wrap_up(self) -> bool:
        return self.steps_left <= self.max_new_tokens // WRAP_UP_SHARE

    def _wrap_up(self) -> bool:
        """Near the token limit, an answer that may end and has just closed a sentence or line ends there."""
        return (
            self.end_ok
            and self.forcing is None
            and self._in_wrap_up()
            and bool(_SENTENCE_DONE.search(self.text))
        )

    def _push_close(self, out: torch.Tensor) -> torch.Tensor:
        """In the wrap-up window, after a word, boost the tokens that end the sentence (a rising bias; the
        model still chooses, and a closed sentence lets the wrap-up end the row)."""
        window = self.max_new_tokens // WRAP_UP_SHARE
        if not window or not self._in_wrap_up() or not _AFTER_WORD.search(self.text):
            return out
        push = CLOSE_PUSH * (1 - max(self.steps_left - 1, 0) / window)
        closers = self.table.feature("closer", lambda x: bool(_CLOSER.match(x)))
        return out + closers.to(out.dtype) * push

    def _marker_tokens(self) -> torch.Tensor:
        """Tokens that would complete a turn marker at a line start ("\\nEnd", "\\n" + "Instruction"), or
        that carry a line break and a marker within them. A marker counts when no letter follows it, so
        "Ending" and "Instructions" stay allowed (``_end_tokens`` still lets the real stop strings end)."""
        return self.line_start_tokens(self.markers)

    def line_start_tokens(self, words: Sequence[str]) -> torch.Tensor:
        """Tokens that would complete one of ``words`` (lower case) as a line's first word, as above."""
        alt = "|".join(re.escape(w) for w in words)
        inside = self.table.feature(
            f"marker-nl:{alt}", lambda x: bool(re.search(rf"\n[ \t]*(?:{alt})(?![^\W\d_])", x, re.I))
        )
        m = _LINE_START.search(self.text)
        if m is None:
            return inside
        head = m.group(1).lower()
        if not any(w.startswith(head) and w != head for w in words):
            return inside  # not a marker's beginning (or one already written: nothing left to stop)
        lead = self.text[m.start() + 1 : m.start(1)]  # spaces after the line break
        rx = re.compile(rf"[ \t]*(?:{alt})(?![^\W\d_])", re.I)
        done = self.table.feature(f"marker:{alt}:{lead}{head}", lambda x: bool(rx.match(lead + head + x)))
        return inside | done

    def _poll_insertions(self) -> None:
        busy = [p for p in self.parts if p.busy(self)]  # an open span: others' insertions wait for it
        for p in busy or self.parts:
            if p.is_final(self) and not self.others_can_end(p):
                continue
            ins = p.insert(self)
            if ins is not None and ins.text:
                if p.is_final(self) and (close := closers(self.text + ins.text)):
                    ins = replace(ins, text=close + ins.text)  # an open quote or bracket is closed first
                self.forcing, self.force_owner, self.force_pos = ins, p, 0
                self.force_lead = not self.text and not ins.text[:1].isspace()
                return

    def _verify_risky(self, allowed: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        risky = [(p, r) for p in self.parts if (r := p.risky(self)) is not None]
        if not risky:
            return allowed
        any_risky = torch.zeros_like(allowed)
        for _, r in risky:
            any_risky |= r
        candidates = allowed & any_risky
        allowed = allowed & ~any_risky
        ids = candidates.nonzero().flatten()
        if len(ids):
            top = ids[scores[ids].topk(min(VERIFY_TOP, len(ids))).indices]
            for t in top.tolist():
                text = self.text + self.table.texts[t]
                if all(p.verify(self, text) for p, r in risky if r[t]):
                    allowed[t] = True
        return allowed

    def _end_tokens(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(tokens that complete a stop string after whitespace only, tokens that would cut mid-text)."""
        key = tuple((s, k) for s in self.stops for k in range(1, len(s)) if self.text.endswith(s[:k]))
        cache = self.table.end_cache
        if (self.stops, key) not in cache:
            cache[self.stops, key] = self._end_tokens_for(key)
        return cache[self.stops, key]

    def _end_tokens_for(self, key: tuple[tuple[str, int], ...]) -> tuple[torch.Tensor, torch.Tensor]:
        good = torch.zeros(self.table.size, dtype=torch.bool)
        bad = torch.zeros_like(good)
        t = self.table
        for s in self.stops:
            good |= t.feature(f"stop0:{s}", lambda x, s=s: s in x and not x[: x.index(s)].strip())
            bad |= t.feature(f"stopbad:{s}", lambda x, s=s: s in x and bool(x[: x.index(s)].strip()))
        for s, k in key:
            rest = s[k:]
            hit = t.feature(f"startswith:{rest}", lambda x, r=rest: x.startswith(r))
            if s[:k].strip():
                bad |= hit
            else:
                good |= hit
        return good & ~bad, bad

    def _ws_stop_prefixes(self) -> torch.Tensor:
        """Whitespace tokens that begin a stop string ("\\n" of "\\nEND"), so a row that must end can."""
        out = torch.zeros(self.table.size, dtype=torch.bool)
        for s in self.stops:
            for k in range(1, len(s)):
                pre = s[:k]
                if pre.strip():
                    break
                if not self.text.endswith(pre) and (ids := self.table.by_text.get(pre)):
                    out[ids] = True
        return out
