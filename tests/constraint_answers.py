"""``obeying_answer``: an answer that obeys a list of constraints, written the way a careful writer would.

The round-trip tests use it for every compatible pair of types: if the conflict table missed an
impossible combination, no answer could obey both and the pair test fails. Every sentence here is our own.
"""

from __future__ import annotations

import json
from itertools import cycle, islice
from typing import Any

from selfalign.constraints import check_all
from selfalign.constraints.text import words

TITLE = "<<Calm Hills>>"
SENTENCE = ["the", "sun", "shines"]
ITEM = ["calm", "hills"]


class Vocab:
    """The words an answer is made of; one per language for response_language."""

    def __init__(self, sentence: str, item: str, title: str, second: str, pad_word: str = "") -> None:
        self.sentence, self.item = sentence.split(), item.split()
        self.title, self.second = f"<<{title}>>", second
        self.word = self.item[-1]  # for placeholders, highlights and capital words
        self.pad_word = pad_word

    def pad(self, n: int) -> list[str]:
        """``n`` filler words; cycling the sentence keeps a language's stopword share."""
        return [self.pad_word] * n if self.pad_word else list(islice(cycle(self.sentence), n))


DEFAULT = Vocab(" ".join(SENTENCE), " ".join(ITEM), "Calm Hills", "Calm hills rest.", pad_word="hills")

# Our own short phrases; the stopword-checked languages hold one of their stopwords in each part.
LANG_VOCAB: dict[str, Vocab] = {
    "English": Vocab("the sun shines", "the hills", "Calm Hills", "The hills rest."),
    "French": Vocab("le soleil est chaud", "les collines", "Les Collines", "Les collines dorment."),
    "German": Vocab("die sonne ist warm", "die hügel", "Die Hügel", "Die Hügel ruhen."),
    "Spanish": Vocab("el sol es caliente", "las colinas", "Las Colinas", "Las colinas duermen."),
    "Italian": Vocab("il sole è caldo", "gli alberi", "Gli Alberi", "Gli alberi dormono."),
    "Portuguese": Vocab("o sol é quente", "os morros", "Os Morros", "Os morros são verdes."),
    "Russian": Vocab("солнце светит и греет", "холмы и реки", "Тихие холмы", "Холмы и реки спят."),
    "Greek": Vocab("ο ήλιος λάμπει", "ήσυχοι λόφοι", "Ήσυχοι λόφοι", "Οι λόφοι κοιμούνται."),
    "Arabic": Vocab("الشمس مشرقة", "تلال هادئة", "تلال هادئة", "التلال نائمة."),
    "Hindi": Vocab("सूरज चमकता है", "शांत पहाड़ियाँ", "शांत पहाड़ियाँ", "पहाड़ियाँ सो रही हैं."),
    "Korean": Vocab("해가 빛난다", "조용한 언덕", "조용한 언덕", "언덕이 잠든다."),
    "Japanese": Vocab("太陽が輝く", "静かな丘", "静かな丘", "丘は眠っている."),
    "Chinese": Vocab("太阳很亮", "安静的山", "安静的山", "山在睡觉."),
}


def obeying_answer(constraints: list[dict[str, Any]]) -> str:
    p = {c["type"]: c["params"] for c in constraints}
    if "fixed_choice" in p:  # the answer is an option verbatim: the first that obeys the rest
        others = [c for c in constraints if c["type"] != "fixed_choice"]
        options = p["fixed_choice"]["options"]
        return next(o for o in options if not others or all(r.passed for r in check_all(o, others)))
    lang = p.get("response_language", {}).get("language")
    vocab = LANG_VOCAB[lang] if lang else DEFAULT
    text = _render(p, vocab, pad=0)
    if "min_words" in p:
        deficit = p["min_words"]["n"] - len(words(text))
        if deficit > 0:
            text = _render(p, vocab, pad=deficit)
    return text


def _extras(p: dict[str, Any], v: Vocab, pad: int) -> list[str]:
    """Words that must appear somewhere; they go into the first sentence/item/value."""
    extra: list[str] = list(p.get("include_words", {}).get("words", []))
    if "word_frequency" in p:
        extra += [p["word_frequency"]["word"]] * p["word_frequency"]["n"]
    extra += [f"[{v.word}]"] * p.get("placeholders", {}).get("n", 0)
    extra += [f"*{v.word}*"] * p.get("highlighted_sections", {}).get("n", 0)
    if "letter_frequency" in p:
        extra.append(p["letter_frequency"]["letter"] * p["letter_frequency"]["n"])
    cwf = p.get("capital_word_frequency")
    if cwf and cwf["relation"] == "at least":
        extra += [v.word.upper()] * cwf["n"]
    return extra + v.pad(pad)


def _cap(text: str) -> str:
    """First letter capitalised, the rest as written (str.capitalize would lowercase CAPITAL words)."""
    return text[:1].upper() + text[1:]


def _render(p: dict[str, Any], v: Vocab, pad: int) -> str:
    extra = _extras(p, v, pad)
    if "json_keys" in p:
        keys = p["json_keys"]["keys"]
        first, rest = " ".join([*v.sentence, *extra]), " ".join(v.item)
        text = json.dumps({k: first if i == 0 else rest for i, k in enumerate(keys)}, ensure_ascii=False)
    else:
        text = _render_text(p, v, extra)
    if "repeat_request" in p:
        text = p["repeat_request"]["request"] + (" " if "one_line" in p else "\n") + text
    if "quoted" in p:
        text = f'"{text}"'
    if "lowercase" in p:
        text = text.lower()
    if "uppercase" in p:
        text = text.upper()
    return text


def _render_text(p: dict[str, Any], v: Vocab, extra: list[str]) -> str:
    head = " ".join(
        x for x in (p.get("starts_with", {}).get("phrase"), v.title if "title" in p else None) if x
    )
    ends = p.get("ends_with", {}).get("phrase")
    tail_parts = "postscript" in p or "two_responses" in p  # the closing phrase goes after these
    body_ends = None if tail_parts else ends
    sections = p.get("numbered_sections")
    nth = p.get("nth_paragraph_first_word")
    n_par = (sections or nth or p.get("paragraph_count") or {"n": 1})["n"]
    list_kind = next((k for k in ("bullet_count", "numbered_list") if k in p), None)
    if list_kind:
        items = [list(v.item) for _ in range(p[list_kind]["n"])]
        items[0] += extra
        marks = ["- " if list_kind == "bullet_count" else f"{i + 1}. " for i in range(len(items))]
        lines = [m + " ".join(item) for m, item in zip(marks, items, strict=True)]
        if body_ends:
            lines[-1] += " " + body_ends
        first = _cap(" ".join(v.sentence)) + "."
        paras = [first] * (n_par - 1) + ["\n".join(lines)]
    else:
        n_sent = p.get("sentence_count", {}).get("n", n_par)
        sents = [list(v.sentence) for _ in range(n_sent)]
        sents[0] += extra
        rendered = [_cap(" ".join(s)) + "." for s in sents]
        if body_ends:  # the phrase closes the last sentence instead of a full stop
            rendered[-1] = rendered[-1][:-1] + " " + body_ends
        # paragraphs 1..n_par-1 get one sentence each, the last one the rest
        paras = [*rendered[: n_par - 1], " ".join(rendered[n_par - 1 :])]
    if nth:
        i, word = nth["nth"] - 1, nth["word"]
        if not (i == 0 and head.casefold().startswith(word.casefold())):
            paras[i] = _cap(word) + " " + paras[i]
    if sections:
        label = sections["label"]
        text = "\n\n".join(f"{label} {i + 1}\n{para}" for i, para in enumerate(paras))
        if head:
            text = head + "\n" + text
    else:
        if head:
            paras[0] = head + ("\n" if list_kind and n_par == 1 else " ") + paras[0]
        text = "\n\n".join(paras)
    if "two_responses" in p:
        text += "\n******\n" + v.second
    if "postscript" in p:
        text += f"\n{p['postscript']['marker']} " + " ".join(v.item)
    if ends and tail_parts:
        text += " " + ends
    return text
