"""Whether a list of constraints can all be obeyed at once: type-level and params-level conflicts."""

from __future__ import annotations

from typing import Any

from selfalign.constraints.base import RequiredText
from selfalign.constraints.compat import conflict_reason
from selfalign.constraints.counting import capital_words
from selfalign.constraints.langdata import CASELESS_SCRIPTS, SCRIPTS
from selfalign.constraints.lexical import has_comma, has_digit
from selfalign.constraints.registry import REGISTRY, validate_constraint
from selfalign.constraints.text import count_phrase, folded_words, words


def conflicts(constraints: list[dict[str, Any]]) -> list[str]:
    """Every reason the constraints cannot all hold in one answer; empty when they are consistent.

    Raises ``DataError`` if a constraint itself is invalid.
    """
    cs = [validate_constraint(c, field=f"constraints[{i}]") for i, c in enumerate(constraints)]
    problems: list[str] = []
    for i, a in enumerate(cs):
        for b in cs[i + 1 :]:
            reason = conflict_reason(a["type"], b["type"])
            if reason:
                problems.append(f"{a['type']} x {b['type']}: {reason}")
    for i, c in enumerate(cs):
        others = cs[:i] + cs[i + 1 :]
        problems.extend(_params_conflicts(c, others))
    return problems


def is_consistent(constraints: list[dict[str, Any]]) -> bool:
    return not conflicts(constraints)


def _required(others: list[dict[str, Any]]) -> list[tuple[str, RequiredText]]:
    return [(o["type"], t) for o in others for t in REGISTRY[o["type"]].required_texts(o["params"])]


def _params_conflicts(c: dict[str, Any], others: list[dict[str, Any]]) -> list[str]:
    """Conflicts that ``c``'s parameters create with the ``others`` (each reported from one side)."""
    kind, p = c["type"], c["params"]
    out: list[str] = []
    if kind == "max_words":
        for o in others:
            need = REGISTRY[o["type"]].min_words(o["params"])
            if need > p["n"]:
                out.append(f"max_words {p['n']} x {o['type']}: an obeying answer needs at least {need} words")
    elif kind == "sentence_count":
        for o in others:
            if o["type"] in ("paragraph_count", "nth_paragraph_first_word") and o["params"]["n"] > p["n"]:
                out.append(
                    f"sentence_count {p['n']} x {o['type']} {o['params']['n']}: "
                    "every paragraph holds at least one sentence"
                )
    elif kind == "exclude_words":
        for banned in p["words"]:
            tokens = folded_words(banned)
            for otype, req in _required(others):
                if count_phrase(folded_words(req.text), tokens):
                    out.append(f"exclude_words {banned!r} x {otype}: {otype} requires {req.text!r}")
    elif kind in ("lowercase", "uppercase"):
        wrong = str.isupper if kind == "lowercase" else str.islower
        for otype, req in _required(others):
            if req.case_sensitive and any(wrong(ch) for ch in req.text):
                out.append(f"{kind} x {otype}: {otype} requires {req.text!r} verbatim")
    elif kind == "no_commas":
        for otype, req in _required(others):
            if has_comma(req.text):
                out.append(f"no_commas x {otype}: {otype} requires {req.text!r}")
        for o in others:
            if o["type"] == "json_keys" and len(o["params"]["keys"]) > 1:
                out.append("no_commas x json_keys: a JSON object with several keys needs commas")
    elif kind == "no_digits":
        for otype, req in _required(others):
            if has_digit(req.text):
                out.append(f"no_digits x {otype}: {otype} requires {req.text!r}")
    else:
        out.extend(_family_conflicts(kind, p, others))
    return out


def _family_conflicts(kind: str, p: dict[str, Any], others: list[dict[str, Any]]) -> list[str]:
    """Params-level conflicts of the types added for IFEval's remaining families."""
    out: list[str] = []
    if kind == "fixed_choice":
        # The answer is an option verbatim, so some option must itself pass every other constraint.
        def obeys(option: str) -> bool:
            return all(REGISTRY[o["type"]].check(option, o["params"]).passed for o in others)

        if not any(obeys(opt) for opt in p["options"]):
            named = ", ".join(o["type"] for o in others)
            out.append(f"fixed_choice x {named}: no option {p['options']} obeys them")
    elif kind == "capital_word_frequency" and p["relation"] == "at most":
        for otype, req in _required(others):
            if req.case_sensitive and len(capital_words(req.text)) > p["n"]:
                out.append(f"capital_word_frequency at most {p['n']} x {otype}: requires {req.text!r}")
    elif kind == "nth_paragraph_first_word" and p["nth"] == 1:
        for o in others:
            first = words(o["params"]["phrase"])[:1] if o["type"] == "starts_with" else None
            if first is not None and [w.casefold() for w in first] != [p["word"].casefold()]:
                out.append(
                    f"nth_paragraph_first_word x starts_with: paragraph 1 must start with {p['word']!r}, "
                    f"the answer with {o['params']['phrase']!r}"
                )
    elif kind == "response_language":
        out.extend(_language_conflicts(p["language"], others))
    return out


def _language_conflicts(language: str, others: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    if language != "English":
        for otype, req in _required(others):
            # Required texts are English; one Latin letter to count is fine in another Latin language.
            if otype == "letter_frequency" and SCRIPTS[language] == ("LATIN",):
                continue
            if any(c.isalpha() for c in req.text):
                out.append(f"response_language {language} x {otype}: {otype} requires {req.text!r}")
    if set(SCRIPTS[language]) <= CASELESS_SCRIPTS:
        for o in others:
            if o["type"] in ("lowercase", "uppercase", "capital_word_frequency"):
                out.append(f"response_language {language} x {o['type']}: the {language} script has no case")
    return out
