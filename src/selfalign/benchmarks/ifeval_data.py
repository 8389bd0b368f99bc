"""Read a file in IFEval's published input format and check it against IFEval's own checkers.

One JSON object per line: ``key`` (int, or a non-empty string), ``prompt`` (the text the model answers),
``instruction_id_list`` (IFEval ids such as ``"punctuation:no_comma"``) and ``kwargs`` (one object per id,
the arguments of that instruction). Keys set to ``null`` are dropped, as lm-eval drops them (the Hugging
Face copy of IFEval stores every argument name on every row, mostly null).

What this refuses, with ``FILE:LINE: FIELD: why``: an unknown id, kwargs of the wrong length, an argument
the instruction does not take, a value its checker rejects, and an argument that is missing, empty or 0.
The last one matters: lm-eval keeps only truthy values and the checker draws any argument it is not given
*at random*, so a missing ``num_words`` would silently score against a random word count.

What it scores as lm-eval does, with a warning: a value the checker *replaces*. IFEval's published file has
``letter_frequency`` rows whose ``letter`` is not a letter (``'#'``); lm-eval's checker then draws a random
letter from Python's ``random``, and that is the published scoring of those rows. Refusing the file would
leave no way to report an IFEval number, so such a row is kept, warned about (``IfevalPrompt.notes``), and
scored under the random state an lm-eval run has (``ifeval_score.lm_eval_random``): the same verdicts.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from selfalign.data.jsonl import PathLike
from selfalign.errors import DataError
from selfalign.evaluate.items import load_keyed

log = logging.getLogger("selfalign")


@dataclass(frozen=True)
class IfevalPrompt:
    key: str
    prompt: str
    instruction_id_list: tuple[str, ...]
    kwargs: tuple[dict[str, Any], ...]
    notes: tuple[str, ...] = ()  # values lm-eval's checker replaces (scored as it does, with a warning)

    @property
    def group(self) -> str:
        """The first instruction's group (``keywords``, ``detectable_format``, ...), as a category."""
        return self.instruction_id_list[0].split(":", 1)[0]


def _key(rec: dict[str, Any], path: PathLike, line: int) -> str:
    key = rec.get("key")
    if isinstance(key, bool) or not isinstance(key, int | str) or (isinstance(key, str) and not key.strip()):
        raise DataError(path, line, "key", f"expected an integer or a non-empty string, got {key!r}")
    return str(key)


def _check_kwargs(
    checkers: ModuleType, iid: str, kw: dict[str, Any], where: tuple[PathLike, int, str]
) -> list[str]:
    """Refuse what lm-eval could not score as given; return a note per value its checker replaces."""
    state = random.getstate()  # building a description may draw from `random`: leave it as it was
    try:
        return _check_kwargs_drawing(checkers, iid, kw, where)
    finally:
        random.setstate(state)


def _check_kwargs_drawing(
    checkers: ModuleType, iid: str, kw: dict[str, Any], where: tuple[PathLike, int, str]
) -> list[str]:
    instruction = checkers.instructions_registry.INSTRUCTION_DICT[iid](iid)
    takes = list(instruction.get_instruction_args_keys())
    extra = sorted(set(kw) - set(takes))
    if extra:
        raise DataError(*where, f"{iid} takes {takes or 'no arguments'}, not {extra[0]!r}")
    missing = [k for k in takes if not kw.get(k)]
    if missing:
        raise DataError(*where, f"{iid} needs {missing[0]!r} (missing, null, empty or 0: the checker "
                                "would draw it at random)")  # fmt: skip
    try:
        instruction.build_description(**kw)
    except (TypeError, ValueError, KeyError) as e:
        raise DataError(*where, f"{iid} refuses these arguments: {e}") from None
    kept = instruction.get_instruction_args() or {}
    path, line, field = where
    return [  # a value the checker cannot use is replaced (by a random one): lm-eval scores it so
        f"{path}:{line}: {field}: {iid}: {k}={v!r} is not usable by IFEval's checker, which replaces it "
        "(at random); scored as lm-eval scores it"
        for k, v in kw.items()
        if k in kept and _norm(kept[k]) != _norm(v)
    ]


def _norm(v: Any) -> Any:
    """What a checker may legitimately do to a value: strip and lower a string, sort a list of them."""
    if isinstance(v, list | tuple):
        return sorted(str(_norm(x)) for x in v)
    return v.strip().lower() if isinstance(v, str) else v


def prompt_from_record(
    rec: dict[str, Any], checkers: ModuleType, path: PathLike = "<ifeval>", line: int = 0
) -> IfevalPrompt:
    """One IFEval input row, checked; ``DataError`` names the bad field (``kwargs[1]`` for the second)."""
    key = _key(rec, path, line)
    prompt = rec.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise DataError(path, line, "prompt", "missing or empty (a non-empty string is required)")
    ids = rec.get("instruction_id_list")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise DataError(path, line, "instruction_id_list", f"expected a non-empty list of ids, got {ids!r}")
    known = checkers.instructions_registry.INSTRUCTION_DICT
    for i, iid in enumerate(ids):
        if iid not in known:
            raise DataError(path, line, f"instruction_id_list[{i}]", f"unknown IFEval id {iid!r}")
    kwargs = rec.get("kwargs")
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise DataError(path, line, "kwargs", f"expected a list of {len(ids)} objects (one per id), "
                                              f"got {kwargs!r}")  # fmt: skip
    clean: list[dict[str, Any]] = []
    notes: list[str] = []
    for i, (iid, kw) in enumerate(zip(ids, kwargs, strict=True)):
        if not isinstance(kw, dict):
            raise DataError(path, line, f"kwargs[{i}]", f"expected an object, got {kw!r}")
        kw = {k: v for k, v in kw.items() if v is not None}
        notes += _check_kwargs(checkers, iid, kw, (path, line, f"kwargs[{i}]"))
        clean.append(kw)
    return IfevalPrompt(key, prompt, tuple(ids), tuple(clean), tuple(notes))


def load_ifeval(path: PathLike, checkers: ModuleType) -> list[IfevalPrompt]:
    """Every row of an IFEval-format JSONL file; keys unique, file non-empty; odd rows warned about."""
    rows = load_keyed(path, lambda rec, line: prompt_from_record(rec, checkers, path, line), lambda p: p.key,
                      "key", "IFEval prompts")  # fmt: skip
    for note in (n for r in rows for n in r.notes):
        log.warning("%s", note)
    return rows
