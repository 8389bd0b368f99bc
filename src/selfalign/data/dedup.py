"""Normalized exact and near-duplicate detection (instructions, responses, train/test leakage).

Two texts are **near-duplicates** when, after :func:`normalize`, either
  * their character similarity ``rapidfuzz.fuzz.ratio`` is >= 85 (catches spelling variants, digits vs
    number words, small edits: "Name three primary colors." ~ "Name 3 primary colours"), or
  * their word-level ROUGE-L F1 (Indel similarity over word sequences) is >= 0.70, the Self-Instruct
    filter (catches one swapped word: "Name three primary colors." ~ "List three primary colors.").
"Name three primary colors." vs "Name three famous painters." scores 51 / 0.50 and is kept. Templates that
differ in one slot of a short sentence ("capital of France" / "capital of Spain") count as duplicates:
that is the deliberate Self-Instruct trade-off (diversity over count) and, for leakage, the safe side.
``token_set_ratio`` is *not* used: it scores 100 whenever one text's words are a subset of the other's
("Write a poem." vs "Write a poem about the sea.").

At scale, candidates come from MinHash LSH (``datasketch``) over character 4-gram shingles of the
normalized text, then each candidate is confirmed by the rule above. Character shingles, not word
3-grams: "Name 3 primary colours" shares no word 3-gram with "Name three primary colors". When both
sides are small enough (``exact_limit`` pairs) every pair is compared directly instead, which is exact.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel

if TYPE_CHECKING:
    from datasketch import MinHash

_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate((
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
        "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
    ))
}  # fmt: skip
# Leading list numbering / bullets / quotes: "1. ", "2) ", "(3) ", "a) ", "- ", "* ", "• ", "#4 ", '"'.
_LEADING_RE = re.compile(
    r"^(?:\s|[\"'“”‘’«»`]|\d{1,3}[.):]\s|#\d{1,3}\s|\(\d{1,3}\)|\(?[a-z][.)]\s|[-*•>]+\s)+"
)
_APOSTROPHE_RE = re.compile(r"['’]")
_NON_WORD_RE = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Canonical form for comparison: NFKC, case-folded, leading numbering/bullets/quotes removed,
    apostrophes dropped ("what's" → "whats"), other punctuation/symbols → space, whitespace collapsed,
    number words zero–twenty → digits ("three" → "3")."""
    t = unicodedata.normalize("NFKC", text).casefold()
    t = _LEADING_RE.sub("", t)
    t = _APOSTROPHE_RE.sub("", t)
    t = _NON_WORD_RE.sub(" ", t)
    return " ".join(_NUMBER_WORDS.get(w, w) for w in t.split())


@dataclass(frozen=True)
class DedupParams:
    """Thresholds of the near-duplicate rule (see the module docstring for why these values)."""

    char_ratio: float = 85.0  # rapidfuzz.fuzz.ratio on normalized text, 0-100
    word_sim: float = 0.70  # ROUGE-L F1 on normalized words, 0-1
    shingle: int = 4  # character n-gram size for MinHash
    lsh_threshold: float = 0.3  # Jaccard at which LSH proposes a candidate (low: recall first)
    num_perm: int = 128
    seed: int = 1
    exact_limit: int = 4_000_000  # compare all pairs directly when n_a * n_b is at most this ...
    exact_char_budget: float = 5e10  # ... and n_a * n_b * mean_len_a * mean_len_b (chars) is at most this


DEFAULT = DedupParams()


def similarity(a: str, b: str, *, normalized: bool = False) -> tuple[float, float]:
    """``(char ratio 0-100, word ROUGE-L F1 0-1)`` of two texts (normalized first unless told they are)."""
    na, nb = (a, b) if normalized else (normalize(a), normalize(b))
    return fuzz.ratio(na, nb), Indel.normalized_similarity(na.split(), nb.split())


def _score(char: float, word: float, p: DedupParams) -> float | None:
    """The reported score (0-100, the larger of the two measures) if the pair is a near-duplicate."""
    if char >= p.char_ratio or word >= p.word_sim:
        return round(max(char, 100.0 * word), 2)
    return None


def is_near_duplicate(a: str, b: str, params: DedupParams = DEFAULT) -> bool:
    return _score(*similarity(a, b), params) is not None


# Fast, deterministic 32-bit shingle hash (datasketch's default sha1 dominates the run time otherwise).
_HASH = zlib.crc32


def _shingles(norm: str, n: int) -> list[bytes]:
    if len(norm) <= n:
        return [norm.encode()]
    return [s.encode() for s in {norm[i : i + n] for i in range(len(norm) - n + 1)}]


def _minhashes(norms: Sequence[str], p: DedupParams) -> list[MinHash]:
    from datasketch import MinHash  # here, not at import: datasketch loads scipy (seconds; `config show`)

    return MinHash.bulk(
        (_shingles(t, p.shingle) for t in norms), num_perm=p.num_perm, seed=p.seed, hashfunc=_HASH
    )


class Deduper:
    """Incremental dedup: each :meth:`add` is compared with everything kept so far.

    Exact duplicates (same normalized text) are found by a dict; near-duplicates by LSH candidates
    confirmed with the rule in the module docstring. Deterministic for a given order of calls.
    """

    def __init__(self, params: DedupParams = DEFAULT) -> None:
        from datasketch import MinHash, MinHashLSH

        self.params = params
        self._exact: dict[str, str] = {}  # normalized text -> key of the kept item
        self._kept: list[tuple[str, str, list[str]]] = []  # (key, normalized, words)
        self._lsh = MinHashLSH(threshold=params.lsh_threshold, num_perm=params.num_perm)
        # Building a MinHash draws its permutations; copying a blank one is much cheaper per add.
        self._blank = MinHash(num_perm=params.num_perm, seed=params.seed, hashfunc=_HASH)

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def kept_keys(self) -> list[str]:
        return [k for k, _, _ in self._kept]

    def add(self, text: str, key: str | None = None) -> tuple[bool, str | None]:
        """Keep ``text`` unless it duplicates a kept one; returns ``(kept, key of the item it duplicates)``.

        ``key`` names the item (e.g. its record id); it defaults to the text itself.
        """
        key = text if key is None else key
        norm = normalize(text)
        if norm in self._exact:
            return False, self._exact[norm]
        words = norm.split()
        mh = self._blank.copy()
        mh.update_batch(_shingles(norm, self.params.shingle))
        best: tuple[float, int] | None = None
        for idx in self._lsh.query(mh):
            _, other, other_words = self._kept[idx]
            s = _score(fuzz.ratio(norm, other), Indel.normalized_similarity(words, other_words), self.params)
            # Highest score wins; ties go to the earliest kept item.
            if s is not None and (best is None or (s, -idx) > (best[0], -best[1])):
                best = (s, idx)
        if best is not None:
            return False, self._kept[best[1]][0]
        self._lsh.insert(len(self._kept), mh)
        self._kept.append((key, norm, words))
        self._exact[norm] = key
        return True, None


def near_duplicate_pairs(
    texts_a: Sequence[str],
    texts_b: Sequence[str] | None = None,
    *,
    params: DedupParams = DEFAULT,
    exact: bool | None = None,
) -> list[tuple[int, int, float]]:
    """Near-duplicate pairs ``(i, j, score)`` sorted by ``(i, j)``; exact duplicates score 100.

    With one list: pairs inside it (``i < j``). With two: ``i`` indexes ``texts_a`` and ``j`` ``texts_b``
    (train/test leakage). ``exact=None`` compares all pairs when that is at most ``params.exact_limit``
    comparisons, else uses LSH candidates (which can miss a pair whose shingle overlap is low).
    """
    within = texts_b is None
    na = [normalize(t) for t in texts_a]
    nb = na if texts_b is None else [normalize(t) for t in texts_b]
    if exact is None:
        exact = _exact_is_cheap(na, nb, params)
    candidates = _all_pairs(na, nb, within, params) if exact else _lsh_pairs(na, nb, within, params)
    out = []
    for i, j in candidates:
        s = _score(*similarity(na[i], nb[j], normalized=True), params)
        if s is not None:
            out.append((i, j, s))
    return sorted(out)


def _exact_is_cheap(na: list[str], nb: list[str], p: DedupParams) -> bool:
    # All-pairs character similarity costs ~ len_a * len_b per pair; long responses make it quadratic twice.
    pairs = len(na) * len(nb)
    if not pairs:
        return True
    mean_a = sum(map(len, na)) / len(na)
    mean_b = sum(map(len, nb)) / len(nb)
    return pairs <= p.exact_limit and pairs * mean_a * mean_b <= p.exact_char_budget


def _all_pairs(na: list[str], nb: list[str], within: bool, p: DedupParams) -> list[tuple[int, int]]:
    """Candidate pairs by direct comparison, in row blocks so memory stays bounded."""
    wa = [t.split() for t in na]
    wb = wa if within else [t.split() for t in nb]
    pairs: list[tuple[int, int]] = []
    block = 512
    for start in range(0, len(na), block):
        rows = slice(start, start + block)
        char = process.cdist(na[rows], nb, scorer=fuzz.ratio, score_cutoff=p.char_ratio, workers=-1)
        word = process.cdist(
            wa[rows], wb, scorer=Indel.normalized_similarity, score_cutoff=p.word_sim, workers=-1
        )
        hit = (char >= p.char_ratio) | (word >= p.word_sim)
        for di, j in zip(*hit.nonzero(), strict=True):
            i = start + int(di)
            if not within or i < int(j):
                pairs.append((i, int(j)))
    return pairs


def _lsh_pairs(na: list[str], nb: list[str], within: bool, p: DedupParams) -> set[tuple[int, int]]:
    from datasketch import MinHashLSH

    lsh = MinHashLSH(threshold=p.lsh_threshold, num_perm=p.num_perm)
    mb = _minhashes(nb, p)
    with lsh.insertion_session() as session:
        for j, mh in enumerate(mb):
            session.insert(j, mh)
    ma = mb if within else _minhashes(na, p)
    pairs: set[tuple[int, int]] = set()
    for i, mh in enumerate(ma):
        for j in lsh.query(mh):
            if not within or i < j:
                pairs.add((i, j))
    # Identical normalized texts always pair, even when LSH happens to miss them.
    first: dict[str, list[int]] = {}
    for j, t in enumerate(nb):
        first.setdefault(t, []).append(j)
    for i, t in enumerate(na):
        pairs.update((i, j) for j in first.get(t, ()) if not within or i < j)
    return pairs


def clusters(texts: Sequence[str], *, params: DedupParams = DEFAULT) -> list[list[int]]:
    """Groups (size >= 2) of indices linked by near-duplicate pairs, largest first, then by first index."""
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in near_duplicate_pairs(texts, params=params):
        ri, rj = root(i), root(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: (-len(g), g[0]))
