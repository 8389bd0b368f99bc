"""Held-out wordings: how evaluation phrases a constraint in words training never used.

Written apart from the training wordings (each type's ``_describe`` / ``_rephrase``), never drawn by
``augment`` and never shown to the training side: they measure whether a policy follows a demand phrased the
way other people phrase it, not the sentence it was trained on (``tests/test_heldout_wording.py`` proves
that none equals or near-copies a training wording or a constraint example of the prompt pools). None is
copied from a public benchmark.

Each type gives, for its params, two kinds of fragment that ``weave.py`` sets *inside* the instruction:

* **phrases** — adverbial pieces that stand before or after the task ("in 60 words or fewer", "without a
  single comma"): ``In 60 words or fewer and without a single comma, explain …``;
* **asides** — short imperative clauses after a dash at the end ("… — keep it lowercase throughout.").

Every fragment states every non-implicit param (numbers as digits or as words up to twelve, quoted words
and phrases verbatim), so the item's check is the constraint dict as drawn; ``repeat_request`` even
quotes its request, which the training wording leaves implicit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selfalign.constraints.text import quote_list

# Number words a reader writes for small counts ("in three sentences"); larger counts stay digits.
_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
          "twelve")  # fmt: skip
_ORDINALS = ("zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
             "tenth", "eleventh", "twelfth")  # fmt: skip

Fragments = tuple[list[str], list[str]]  # (phrases, asides)


def spelled(n: int) -> str:
    """``3`` → ``"three"`` up to twelve; digits above."""
    return _WORDS[n] if 0 <= n < len(_WORDS) else str(n)


def ordinal(n: int) -> str:
    """``2`` → ``"second"`` up to twelfth, else ``"23rd"``-style."""
    if 0 < n < len(_ORDINALS):
        return _ORDINALS[n]
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _s(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def _bullets(p: dict[str, Any]) -> Fragments:
    n = p["n"]
    return (
        [f"as {spelled(n)} dash-led {_s(n, 'line', 'lines')} and nothing else",
         f"laid out as precisely {n} {_s(n, 'line', 'lines')} that each open with a hyphen and a space",
         f"in the shape of a hyphen-bulleted list holding {n} {_s(n, 'entry', 'entries')}"],
        [f"give me {n} hyphen {_s(n, 'bullet', 'bullets')}, no extra ones",
         f"stick to {spelled(n)} {_s(n, 'line', 'lines')} led by '- ' in total"],
    )  # fmt: skip


def _numbered(p: dict[str, Any]) -> Fragments:
    n = p["n"]
    return (
        [f"as a numbered list that stops at item {n}",
         f"in {spelled(n)} numbered {_s(n, 'step', 'steps')} (starting at 1.) set one per line",
         f"with the points counted off as 1., 2. … through {n}"],
        [f"number the lines from 1 up to {n}, one point per line",
         f"list {spelled(n)} {_s(n, 'item', 'items')} numbered like 1. and 2. and no more"],
    )  # fmt: skip


def _lowercase(p: dict[str, Any]) -> Fragments:
    return (
        ["all in small letters", "without a single capital letter", "keeping every letter lower-case"],
        ["keep it lowercase throughout", "no capitals anywhere, not even for names"],
    )


def _uppercase(p: dict[str, Any]) -> Fragments:
    return (
        ["in block capitals only", "with every single letter in upper case", "shouting it all in caps"],
        ["caps lock on from start to finish", "not one small letter anywhere"],
    )


def _max_words(p: dict[str, Any]) -> Fragments:
    n = p["n"]
    return (
        [f"in {n} words or fewer", f"within a {n}-word limit", f"without going past {n} words"],
        [f"cap it at {n} words", f"{n} words is the ceiling"],
    )


def _min_words(p: dict[str, Any]) -> Fragments:
    n = p["n"]
    return (
        [f"running to {n} words or more", f"at a length of no less than {n} words",
         f"in a piece of {n}-plus words"],
        [f"don't stop before the {n}-word mark", f"I need a minimum of {n} words"],
    )  # fmt: skip


def _no_commas(p: dict[str, Any]) -> Fragments:
    return (
        ["without a single comma", "in comma-free prose", "with no commas whatsoever"],
        ["drop every comma", "commas are banned"],
    )


def _no_digits(p: dict[str, Any]) -> Fragments:
    return (
        ["free of digit characters (numbers spelled as words)", "spelling numbers out rather than using 0-9"],
        ["spell any numbers as words, never as numerals", "no figures like 7 or 42, only number words"],
    )


def _json_keys(p: dict[str, Any]) -> Fragments:
    keys, k = quote_list(p["keys"], "and"), len(p["keys"])
    field = _s(k, "field", "fields")
    return (
        [f"as a bare JSON object carrying the {field} {keys}, with no text outside it",
         f"returning only JSON (a single object that includes {keys})"],
        [f"output just one JSON object, with {keys} among its keys, and nothing around it",
         f"reply in raw JSON: an object holding {keys}, no prose before or after"],
    )  # fmt: skip


def _include(p: dict[str, Any]) -> Fragments:
    ws, k = quote_list(p["words"], "and"), len(p["words"])
    return (
        [f"working {ws} into the text",
         f"with {ws} appearing somewhere in the text"],
        [f"slip {ws} in somewhere", f"{ws} {_s(k, 'has', 'have')} to show up in it"],
    )  # fmt: skip


def _exclude(p: dict[str, Any]) -> Fragments:
    ws, k = quote_list(p["words"], "or"), len(p["words"])
    both = quote_list(p["words"], "and")
    return (
        [f"without ever writing {ws}", f"steering clear of {ws} altogether"],
        [f"{both} {_s(k, 'is', 'are')} off-limits", f"keep {both} out of it entirely"],
    )  # fmt: skip


def _starts(p: dict[str, Any]) -> Fragments:
    ph = p["phrase"]
    return (
        [f'opening with "{ph}" exactly as written here', f'with "{ph}" as the very first thing you write'],
        [f'lead off with "{ph}", verbatim', f'kick things off with the words "{ph}" and go on from there'],
    )


def _ends(p: dict[str, Any]) -> Fragments:
    ph = p["phrase"]
    return (
        [f'closing on the exact words "{ph}" and adding nothing once they are written',
         f'so that "{ph}" is the last thing in your reply'],
        [f'sign off with precisely "{ph}" and stop there', f'wrap up on "{ph}" with not a word past it'],
    )  # fmt: skip


def _sentences(p: dict[str, Any]) -> Fragments:
    n = p["n"]
    return (
        [f"with a sentence count of exactly {n}",
         f"across a total of {n} full {_s(n, 'sentence', 'sentences')}"],
        [f"keep it to {n} {_s(n, 'sentence', 'sentences')} on the nose",
         f"I want {spelled(n)} {_s(n, 'sentence', 'sentences')} and not one more or less"],
    )  # fmt: skip


def _paragraphs(p: dict[str, Any]) -> Fragments:
    n = p["n"]
    if n == 1:
        return (["as one single block of text, no blank lines", "keeping to one paragraph from start to end"],
                ["make it one paragraph and never leave an empty line"])  # fmt: skip
    return (
        [f"in {spelled(n)} blocks of text divided by empty lines",
         f"spread over {n} paragraphs with an empty line after each one but the last"],
        [f"give it {spelled(n)} paragraphs, each parted from the next by an empty line",
         f"{spelled(n)} paragraphs please, a blank line between each"],
    )  # fmt: skip


def _word_freq(p: dict[str, Any]) -> Fragments:
    w, n = p["word"], p["n"]
    return (
        [f'with "{w}" turning up {spelled(n)} times or more', f'using the word "{w}" on {n}+ occasions'],
        [
            f'let "{w}" come up {spelled(n)} times at the very least',
            f'I need "{w}" in there {n} times or more',
        ],
    )


def _quoted(p: dict[str, Any]) -> Fragments:
    return (
        ['with a " mark as the very first and the very last character you write',
         "as one long quotation opened and closed with double quotes"],
        ['start and finish the whole reply with a double quote (")', "put all of it between double quotes"],
    )  # fmt: skip


def _title(p: dict[str, Any]) -> Fragments:
    return (
        ["under a heading written like <<Night Walk>>", "topped with a name for the piece set in << >>"],
        ["put a title at the top, enclosed as <<Title Goes Here>>",
         "head it with <<a title>> in those brackets"],
    )  # fmt: skip


def _placeholders(p: dict[str, Any]) -> Fragments:
    n = p["n"]
    return (
        [f"including no fewer than {spelled(n)} fill-in {_s(n, 'blank', 'blanks')} such as [first name]",
         f"with {n}+ square-bracket {_s(n, 'slot', 'slots')} like [city] left for me to complete"],
        [f"leave {spelled(n)} or more gaps marked [like this] for me to fill",
         f"use at least {n} bracketed {_s(n, 'stand-in', 'stand-ins')} such as [date]"],
    )  # fmt: skip


def _letter_freq(p: dict[str, Any]) -> Fragments:
    ch, n = p["letter"], p["n"]
    return (
        [f'packing in at least {n} instances of the character "{ch}" (any case)',
         f'so that "{ch}" (capitals included) occurs on {n} or more occasions'],
        [f'count your "{ch}"s (upper or lower case): {n} is the minimum',
         f'use "{ch}" (either case) {spelled(n)} times at minimum'],
    )  # fmt: skip


_REL = {"at least": ("at least", "no fewer than"), "at most": ("at most", "no more than")}


def _capital_words(p: dict[str, Any]) -> Fragments:
    a, b = _REL[p["relation"]]
    n = p["n"]
    w = _s(n, "word", "words")
    return (
        [f"with {a} {n} fully capitalised {w} (two letters or longer, e.g. WOW)",
         f"using {b} {spelled(n)} shouted {w} (2+ letters in all caps like STOP)"],
        [f"put {a} {n} {w} of two or more letters in ALL CAPS", f"{b} {n} all-uppercase {w}, like OK"],
    )  # fmt: skip


def _nth_para(p: dict[str, Any]) -> Fragments:
    n, nth, w = p["n"], p["nth"], p["word"]
    return (
        [f'in {spelled(n)} paragraphs split by blank lines, the {ordinal(nth)} of which opens with "{w}"',
         f'over {n} blank-line-separated paragraphs where paragraph {nth} has "{w}" as its first word'],
        [f'use {n} paragraphs with empty lines between them and start the {ordinal(nth)} one with "{w}"'],
    )  # fmt: skip


def _postscript(p: dict[str, Any]) -> Fragments:
    m = p["marker"]
    return (
        [f"signing off with a {m} line after the main text",
         f'adding a final note that begins "{m}" on its own line'],
        [f"tack on a {m} at the bottom, on a new line", f'end with an afterthought line opening "{m}"'],
    )  # fmt: skip


def _highlights(p: dict[str, Any]) -> Fragments:
    n = p["n"]
    bits = _s(n, "passage", "passages")
    return (
        [f"with at least {n} {bits} emphasised Markdown-style, e.g. *like so*",
         f"putting single or double asterisks around {spelled(n)} or more key {_s(n, 'bit', 'bits')}"],
        [f"star at least {n} {_s(n, 'phrase', 'phrases')} for emphasis, *like this*"],
    )  # fmt: skip


def _headers(n: int, label: str) -> str:
    if n <= 2:
        return " and ".join(f"{label} {i}" for i in range(1, n + 1))
    return f"{label} 1 through {label} {n}"


def _sections(p: dict[str, Any]) -> Fragments:
    n, label = p["n"], p["label"]
    heads, parts = _headers(n, label), _s(n, "section", "sections")
    return (
        [f"broken into {spelled(n)} {parts} titled {heads}, each title alone on a line",
         f"split up under the headings {heads} (every heading on its own line)"],
        [f"make {n} {parts} and give them separate heading lines: {heads}"],
    )  # fmt: skip


def _two(p: dict[str, Any]) -> Fragments:
    return (
        ["as a pair of alternative versions with ****** alone on the line between them",
         "as two distinct takes with a ****** line dividing them"],
        ["give me two separate attempts and put ****** on a line between them"],
    )  # fmt: skip


def _choice(p: dict[str, Any]) -> Fragments:
    opts = quote_list(p["options"], "or")
    return (
        [f"replying with nothing but {opts}", f"choosing between {opts} and writing only that"],
        [f"just pick {opts} and write that option alone, word for word", f"say {opts} and nothing more"],
    )  # fmt: skip


def _repeat(p: dict[str, Any]) -> Fragments:
    r = p["request"]
    return (
        [f'echoing the words "{r}" back verbatim before the answer itself',
         f'after first copying out "{r}" exactly'],
        [f'but start by writing out "{r}" word for word, then answer it'],
    )  # fmt: skip


def _language(p: dict[str, Any]) -> Fragments:
    lang = p["language"]
    return (
        [f"in {lang} from the first word to the last", f"using nothing but {lang}"],
        [f"the whole thing has to be in {lang}", f"make it {lang} all the way through"],
    )


def _one_line(p: dict[str, Any]) -> Fragments:
    return (
        ["as one continuous line of text", "with no newline anywhere in it"],
        ["keep it to one unbroken line", "no line breaks: it all goes on one row"],
    )


HELDOUT: dict[str, Callable[[dict[str, Any]], Fragments]] = {
    "bullet_count": _bullets, "numbered_list": _numbered, "lowercase": _lowercase, "uppercase": _uppercase,
    "max_words": _max_words, "min_words": _min_words, "no_commas": _no_commas, "no_digits": _no_digits,
    "json_keys": _json_keys, "include_words": _include, "exclude_words": _exclude, "starts_with": _starts,
    "ends_with": _ends, "sentence_count": _sentences, "paragraph_count": _paragraphs,
    "word_frequency": _word_freq, "quoted": _quoted, "title": _title, "placeholders": _placeholders,
    "letter_frequency": _letter_freq, "capital_word_frequency": _capital_words,
    "nth_paragraph_first_word": _nth_para, "postscript": _postscript, "highlighted_sections": _highlights,
    "numbered_sections": _sections, "two_responses": _two, "fixed_choice": _choice,
    "repeat_request": _repeat, "response_language": _language, "one_line": _one_line,
}  # fmt: skip
