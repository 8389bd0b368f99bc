"""What a steer knows of the vocabulary: each token's text and per-token features, built once per tokenizer.

Character rules are decided on each token's exact text with the check's own predicates (``str.isupper``,
the check's regexes): a grammar library's Unicode classes differ from Python's at the edges (``Ⅰ`` is
``Nl`` yet ``"Ⅰ".isupper()``), and the point of a steer is that its text passes the check.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import torch

from selfalign.constraints.text import WORD_RE

_LOCK = threading.Lock()
_TABLES: dict[tuple[int, int], VocabTable] = {}
MAX_PIECE = 48  # longest token text looked up when forcing text (chars)


class VocabTable:
    """Token texts (``texts[i]``: what token ``i`` adds to the decoded text) and cached feature masks.

    ``size`` is the model's logits width (may exceed the tokenizer's vocabulary: those ids are banned).
    ``control``: special/added-special ids (never emitted by a steered row; EOS only as the end of answer).
    ``broken``: tokens whose bytes are not whole UTF-8 characters (byte-fallback pieces): banned in steered
    rows, since a rule on characters cannot be judged on half a character.
    """

    def __init__(self, token_bytes: Sequence[bytes], control: set[int], size: int, ll_tokenizer: Any = None):
        self.size = size
        self.ll_tokenizer = ll_tokenizer
        texts: list[str] = []
        broken = torch.zeros(size, dtype=torch.bool)
        for i, b in enumerate(token_bytes):
            try:
                s = b.decode("utf-8")
            except UnicodeDecodeError:
                s = ""
                broken[i] = True
            if not s or "\ufffd" in s:
                broken[i] = True
            texts.append(s)
        broken[len(texts) :] = True
        self.texts = texts
        self.control = torch.zeros(size, dtype=torch.bool)
        self.control[[i for i in control if i < size]] = True
        self.broken = broken
        # Usable in any steered row's content: not control, whole characters, non-empty.
        self.plain = ~(self.control | self.broken)
        self.by_text: dict[str, list[int]] = {}
        for i, s in enumerate(texts):
            if s and not broken[i] and not self.control[i]:
                self.by_text.setdefault(s, []).append(i)
        self._features: dict[str, torch.Tensor] = {}
        self.end_cache: dict[Any, tuple[torch.Tensor, torch.Tensor]] = {}  # row.Steer's end tokens

    def feature(self, name: str, pred: Callable[[str], bool]) -> torch.Tensor:
        """Bool mask of the tokens whose text satisfies ``pred`` (cached under ``name``)."""
        got = self._features.get(name)
        if got is None:
            got = torch.zeros(self.size, dtype=torch.bool)
            hits = [i for i, s in enumerate(self.texts) if s and pred(s)]
            if hits:
                got[hits] = True
            got &= self.plain
            self._features[name] = got
        return got

    def regex(self, pattern: str, flags: int = 0) -> torch.Tensor:
        """Tokens whose text contains a match of ``pattern``."""
        rx = re.compile(pattern, flags)
        return self.feature(f"re:{flags}:{pattern}", lambda s: rx.search(s) is not None)

    @cached_property
    def n_words(self) -> torch.Tensor:
        counts = [len(WORD_RE.findall(s)) if s else 0 for s in self.texts]
        return torch.tensor(counts + [0] * (self.size - len(counts)), dtype=torch.long)

    @cached_property
    def starts_word(self) -> torch.Tensor:
        return self.feature("starts_word", lambda s: bool(re.match(r"\w", s)))

    @cached_property
    def has_word(self) -> torch.Tensor:
        return self.regex(r"\w")

    @cached_property
    def ws_only(self) -> torch.Tensor:
        return self.feature("ws_only", lambda s: not s.strip())

    def ids(self, mask: torch.Tensor) -> list[int]:
        return mask.nonzero().flatten().tolist()

    def pieces(self, text: str, at: int, case_insensitive: bool = False, lead: str = "") -> torch.Tensor:
        """Tokens that write a non-empty prefix of ``text[at:]`` (optionally after ``lead``, e.g. one
        space), in its own case or, with ``case_insensitive``, in lower/upper/capitalized case."""
        out = torch.zeros(self.size, dtype=torch.bool)
        rest = text[at:]
        for n in range(1, min(len(rest), MAX_PIECE) + 1):
            seg = rest[:n]
            forms = {seg}
            if case_insensitive:
                forms |= {seg.lower(), seg.upper(), seg[:1].upper() + seg[1:]}
            for f in forms:
                for cand in (f, lead + f) if lead else (f,):
                    ids = self.by_text.get(cand)
                    if ids:
                        out[ids] = True
        return out


def table_for(tokenizer: Any, control: set[int], size: int) -> VocabTable:
    """The (cached) table of ``tokenizer`` for logits of width ``size``.

    Token bytes come from llguidance's tokenizer wrapper (SentencePiece ``▁`` and byte-fallback handled
    there); the same wrapper serves the grammar-based steers (json_keys).
    """
    key = (id(tokenizer), size)
    with _LOCK:
        got = _TABLES.get(key)
        if got is None:
            import llguidance.hf

            ll = llguidance.hf.from_tokenizer(tokenizer, n_vocab=size)
            token_bytes = [ll.decode_bytes([i]) for i in range(min(size, ll.vocab_size))]
            got = VocabTable(token_bytes, control, size, ll)
            _TABLES[key] = got
        return got
