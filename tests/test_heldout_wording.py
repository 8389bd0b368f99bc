"""Held-out wordings: every type has several, each states its params, none copies a training wording, and
``weave`` sets them inside the instruction without touching the constraints."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from selfalign.constraints import REGISTRY, augment, validate_constraints
from selfalign.constraints.heldout_wording import HELDOUT, ordinal, spelled
from selfalign.constraints.weave import SHAPES, shapes_for, weave
from selfalign.data.dedup import normalize, similarity
from selfalign.prompts import pools

# A held-out wording near-copies a training wording when, with parameter values masked on both sides, the
# character ratio or the word-level ROUGE-L F1 reaches these (stricter than dedup's 85 / 0.70 for tasks:
# the wordings are short). The closest pair measured when they were written: 69 / 0.60.
MAX_CHAR_RATIO = 75.0
MAX_WORD_SIM = 0.65
SHARED_RUN = 5  # words in a row shared with a constraint example of the prompt pools
_RELATIONS = {"at least": ("at least", "no fewer than"), "at most": ("at most", "no more than")}


def _params(name: str, draws: int = 12) -> list[dict[str, Any]]:
    t, rng = REGISTRY[name], random.Random(f"heldout:{name}")
    out = [t.validate(t.sample_params(rng)) for _ in range(draws)]
    if "n" in t.specs:  # the edge a sampler may never draw: n = 1 (singular wording)
        one = {**out[0], "n": 1}
        if "nth" in one:
            one["nth"] = 1
        out.append(t.validate(one))
    return out


def _fragments(name: str, p: dict[str, Any]) -> list[str]:
    phrases, asides = HELDOUT[name](p)
    return phrases + asides


def _mask(text: str, p: dict[str, Any]) -> str:
    """Parameter values out of the way, so the comparison sees the wording, not the words it quotes."""
    values: list[str] = []
    for v in p.values():
        values += [str(x) for x in (v if isinstance(v, list) else [v]) if not isinstance(x, int)]
    for v in sorted(values, key=len, reverse=True):
        text = text.replace(v, " X ")
    text = re.sub(r'"[^"]*"', " X ", text)
    text = re.sub(r"\d+", " N ", text)
    return re.sub(r"\b(" + "|".join(spelled(i) for i in range(13)) + r")\b", " N ", text)


def near_copy(heldout: str, training: str, p: dict[str, Any]) -> bool:
    a, b = _mask(heldout, p), _mask(training, p)
    if normalize(a) == normalize(b):
        return True
    char, word = similarity(a, b)
    return char >= MAX_CHAR_RATIO or word >= MAX_WORD_SIM


def _states(text: str, name: str, p: dict[str, Any]) -> list[str]:
    """The params ``text`` fails to state (numbers as digits or words, strings verbatim)."""
    missing = []
    for key, v in p.items():
        if key in REGISTRY[name].implicit_params and name != "repeat_request":
            continue
        if key == "relation":
            ok = any(r in text for r in _RELATIONS[v])
        elif key == "nth":
            ok = ordinal(v) in text or re.search(rf"\b{v}\b", text) is not None
        elif isinstance(v, int):
            ok = re.search(rf"\b{v}\b", text) is not None or re.search(rf"\b{spelled(v)}\b", text) is not None
        else:
            ok = all(str(x) in text for x in (v if isinstance(v, list) else [v]))
        if not ok:
            missing.append(key)
    return missing


def test_every_type_has_several_heldout_wordings() -> None:
    assert set(HELDOUT) == set(REGISTRY)
    for name in REGISTRY:
        for p in _params(name, 3):
            phrases, asides = HELDOUT[name](p)
            assert phrases and asides and len(phrases) + len(asides) >= 3, name
            assert len(set(phrases + asides)) == len(phrases + asides), name


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_wording_states_every_param(name: str) -> None:
    for p in _params(name):
        for f in _fragments(name, p):
            assert not _states(f, name, p), (name, f, _states(f, name, p))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_no_heldout_wording_copies_a_training_wording(name: str) -> None:
    t = REGISTRY[name]
    for p in _params(name):
        training = t.phrasings(p)
        for f in _fragments(name, p):
            for tr in training:
                assert not near_copy(f, tr, p), (f, tr, similarity(_mask(f, p), _mask(tr, p)))
    # No held-out wording is, once normalized, any training wording of any type.
    all_training = {normalize(w) for n, ty in REGISTRY.items() for q in _params(n, 3)
                    for w in ty.phrasings(q)}  # fmt: skip
    assert not {normalize(f) for p in _params(name, 3) for f in _fragments(name, p)} & all_training


def test_the_near_copy_rule_can_fail() -> None:
    """The detector flags a training wording and a light edit of one; a plainly different one passes."""
    p = {"n": 60}
    canonical = REGISTRY["max_words"].phrasings(p)[0]  # "Use at most 60 words."
    assert near_copy(canonical, canonical, p)
    assert near_copy("use at most 60 words please", canonical, p)
    assert not near_copy("in 60 words or fewer", "Write your entire answer in lowercase letters.", p)


def test_no_heldout_wording_copies_a_constraint_example() -> None:
    """The few-shot constraint examples are shown to the training side; their phrasing is training's too."""
    for ex in pools.constraint_examples():
        for c in ex.constraints:
            p = REGISTRY[c["type"]].validate(c.get("params", {}))
            text = normalize(_mask(ex.instruction, p)).split()
            runs = {tuple(text[i : i + SHARED_RUN]) for i in range(len(text) - SHARED_RUN + 1)}
            for f in _fragments(c["type"], p):
                words = normalize(_mask(f, p)).split()
                assert normalize(f) not in normalize(ex.instruction), (ex.id, f)
                shared = [tuple(words[i : i + SHARED_RUN]) for i in range(len(words))]
                shared = [w for w in shared if w in runs]
                assert not shared, (ex.id, f, shared)


def _draw(instruction: str, seed: int, k: int) -> list[dict[str, Any]]:
    _, cs = augment(instruction, random.Random(seed), k=k, allowed_types=sorted(REGISTRY))
    return cs


SEEDS = [s.instruction for s in pools.seeds()]


def test_weave_sets_the_wordings_inside_the_instruction() -> None:
    shapes_seen = set()
    for i in range(400):
        base = SEEDS[i % len(SEEDS)]
        cs = _draw(base, i, 1 + i % 3)
        text, shape = weave(base, cs, random.Random(i))
        shapes_seen.add(shape)
        head = base.split("\n", 1)[0].rstrip()
        core = head[:-1].rstrip() if head.endswith((".", "?", "!", ":")) else head
        line = text.split("\n", 1)[0]
        if shape in ("tail", "aside", "paren"):  # the task first, then the demand inside the same sentence
            joint = line[len(core) : len(core) + 2]
            assert line.startswith(core) and joint in (", ", " —", " ("), (base, line)
        elif shape == "mid":  # the opening verb, the demand, then the rest of the task
            verb, rest_of_core = core.split(" ", 1)
            assert line.startswith(verb + ", ") and line[:-1].endswith(", " + rest_of_core), (base, line)
        else:  # a phrase first, then the task with its first word lowered
            assert line[:1].isupper() and core[1:] in line and not line.startswith(core), (base, line)
        assert line.endswith((".", "?", "!", ":")), line
        assert not (head.endswith((".", "?", "!")) and line.startswith(head + " ")), line  # no new sentence
        assert text.split("\n", 1)[1:] == base.split("\n", 1)[1:]  # a quoted input text is left as it is
        # Every constraint's wording is in the text: one of its fragments, verbatim.
        for c in cs:
            assert any(f in text or f[:1].upper() + f[1:] in text for f in _fragments(c["type"], c["params"]))
        assert validate_constraints(cs) == cs  # the constraints are untouched
    assert shapes_seen == set(SHAPES)


def test_weave_is_deterministic_and_varies_with_the_rng() -> None:
    base = "Explain how a refrigerator keeps food cold."
    cs = _draw(base, 1, 2)
    a = weave(base, cs, random.Random(5))
    assert a == weave(base, cs, random.Random(5))
    assert len({weave(base, cs, random.Random(s))[0] for s in range(20)}) > 5


def test_weave_shapes_follow_the_sentence() -> None:
    assert "aside" not in shapes_for("What is a black hole?", 1)  # no imperative after a question
    assert "lead" in shapes_for("What is a black hole?", 1)
    # A proper noun or a statement is never lower-cased to make room for a leading phrase.
    assert shapes_for("Paris or Rome: which city is older?", 2) == ["tail", "paren"]
    assert "lead" not in shapes_for("A tank holds 50 liters. How many more liters fit?", 1)
    assert shapes_for("Explain tides.", 1) == ["lead", "tail", "aside", "mid", "paren"]
    assert "mid" not in shapes_for("Fill in the blank: a ___ day.", 1)  # a particle verb is never split
    assert "paren" not in shapes_for("Explain tides.", 3)
    text, _ = weave("Explain tides.", [{"type": "lowercase", "params": {}}], random.Random(0))
    assert "Explain tides." not in text and "xplain tides" in text
