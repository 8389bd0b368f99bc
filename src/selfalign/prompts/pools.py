"""The packaged prompt pools (few-shot examples, constraint examples, instruction seeds), loaded once.

Every check failure raises :class:`DataError` naming the file, the line, the entry id and the field, so a
malformed data file can never silently shrink or distort a pool.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml

from selfalign.constraints import get_type, validate_constraint
from selfalign.errors import DataError
from selfalign.prompts.format import get_format

EXAMPLES_FILE = "examples.yaml"
CONSTRAINTS_FILE = "constraint_examples.yaml"
SEEDS_FILE = "seeds.yaml"
LIST_FORMAT_FILE = "instruction_prompt.yaml"
URIAL_FILE = "urial.yaml"

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s")


@dataclass(frozen=True)
class Example:
    """A solved instruction; ``constraints`` is empty for the plain pool."""

    id: str
    category: str
    instruction: str
    response: str
    constraints: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Seed:
    id: str  # seed:<category>:<1-based position>
    category: str
    instruction: str


@dataclass(frozen=True)
class ListFormat:
    """The instruction-generation list format and its parsing rule (``instruction_prompt.yaml``)."""

    headers: dict[str, str]
    item: str
    stop: tuple[str, ...]
    min_words: int
    max_chars: int
    terminal: str
    meta_patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Pools:
    categories: tuple[str, ...]
    examples: tuple[Example, ...]
    constraint_examples: tuple[Example, ...]
    seeds: tuple[Seed, ...]
    list_format: ListFormat
    urial_ids: tuple[str, ...]


class _Doc:
    """One YAML file: its data plus its node tree, so errors can name a line."""

    def __init__(self, source: Path | Traversable) -> None:
        self.path = str(source)
        try:
            text = source.read_text("utf-8")
            # The C loader when libyaml is there: the pure-Python one makes loading several times slower.
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            self.data: Any = yaml.load(text, Loader=loader)
            self.root: yaml.Node | None = yaml.compose(text, Loader=loader)
        except FileNotFoundError as e:
            raise DataError(self.path, None, None, "file not found") from e
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            raise DataError(self.path, line, None, f"not valid YAML: {getattr(e, 'problem', e)}") from e

    def line(self, *keys: str | int) -> int | None:
        """1-based line of the node at ``keys`` (mapping keys / sequence indexes), else its nearest parent."""
        node = self.root
        best = node.start_mark.line + 1 if node is not None else None
        for key in keys:
            if isinstance(node, yaml.MappingNode):
                node = next((v for k, v in node.value if k.value == key), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
            else:
                node = None
            if node is None:
                break
            best = node.start_mark.line + 1
        return best

    def fail(self, keys: tuple[str | int, ...], field: str | None, message: str) -> DataError:
        return DataError(self.path, self.line(*keys), field, message)


def _text(doc: _Doc, keys: tuple[str | int, ...], entry_id: str, field: str, value: Any) -> str:
    """A non-empty string that cannot break the prompt format it will be rendered into."""
    where = f"{entry_id}.{field}"
    if not isinstance(value, str) or not value.strip():
        raise doc.fail(keys, where, "must be a non-empty string")
    fmt = get_format()
    for stop in fmt.stop:
        if stop in value:
            raise doc.fail(keys, where, f"contains the stop string {stop!r}")
    markers = (fmt.instruction_prefix.strip(), fmt.response_prefix.strip())
    for line in value.splitlines():
        if line.lstrip().startswith(markers):
            raise doc.fail(keys, where, f"a line starts with a format marker: {line.strip()[:40]!r}")
    if "as an ai" in value.lower():
        raise doc.fail(keys, where, 'contains "As an AI"')
    return value.strip()


def _constraints(doc: _Doc, keys: tuple[str | int, ...], entry_id: str, value: Any) -> tuple[dict, ...]:
    where = f"{entry_id}.constraints"
    if not isinstance(value, list) or not value:
        raise doc.fail(keys, where, "must be a non-empty list of {type, params}")
    out = []
    for j, c in enumerate(value):
        here = (*keys, j)
        if not isinstance(c, dict) or set(c) != {"type", "params"}:
            raise doc.fail(here, f"{where}[{j}]", "must be a mapping with exactly the keys type and params")
        line = doc.line(*here)
        ctype = get_type(c["type"], doc.path, line, f"{where}[{j}]")
        params, specs = c["params"], ctype.specs
        # Pools spell params out even when empty, so a missing or extra key is a typo, not a default.
        if not isinstance(params, dict) or set(params) != set(specs):
            raise doc.fail(here, f"{where}[{j}].params", f"{ctype.name} takes exactly {sorted(specs)}")
        try:
            checked = validate_constraint(c, where=doc.path, line=line, field=f"{where}[{j}]")
        except DataError as e:
            name = (e.field or "").rsplit(".", 1)[-1]
            kind = specs[name].kind if name in specs else "value"
            detail = str(e).split(f"{e.field}: ", 1)[-1]
            raise DataError(doc.path, line, e.field, f"must be a valid {kind} ({detail})") from e
        out.append(checked)
    return tuple(out)


def _entries(doc: _Doc, key: str, categories: tuple[str, ...], constrained: bool) -> tuple[Example, ...]:
    raw = doc.data.get(key) if isinstance(doc.data, dict) else None
    if not isinstance(raw, list) or not raw:
        raise doc.fail((), key, "must be a non-empty list of entries")
    fields = {"id", "category", "instruction", "response"} | ({"constraints"} if constrained else set())
    out = []
    for i, entry in enumerate(raw):
        keys: tuple[str | int, ...] = (key, i)
        if not isinstance(entry, dict):
            raise doc.fail(keys, f"{key}[{i}]", "must be a mapping")
        entry_id = entry.get("id")
        if not isinstance(entry_id, str) or not _ID.match(entry_id):
            raise doc.fail(keys, f"{key}[{i}].id", f"must match {_ID.pattern}, got {entry_id!r}")
        if set(entry) != fields:
            extra, missing = sorted(set(entry) - fields), sorted(fields - set(entry))
            parts = ([f"unexpected fields {extra}"] if extra else []) + (
                [f"missing fields {missing}"] if missing else []
            )
            what = "; ".join(parts)
            raise doc.fail(keys, entry_id, what)
        if entry["category"] not in categories:
            category = entry["category"]
            raise doc.fail((*keys, "category"), f"{entry_id}.category", f"unknown category {category!r}")
        cons: tuple[dict[str, Any], ...] = ()
        if constrained:
            cons = _constraints(doc, (*keys, "constraints"), entry_id, entry["constraints"])
        out.append(
            Example(
                id=entry_id,
                category=entry["category"],
                instruction=_text(doc, (*keys, "instruction"), entry_id, "instruction", entry["instruction"]),
                response=_text(doc, (*keys, "response"), entry_id, "response", entry["response"]),
                constraints=cons,
            )
        )
    return tuple(out)


def _categories(doc: _Doc) -> tuple[str, ...]:
    raw = doc.data.get("categories") if isinstance(doc.data, dict) else None
    if not isinstance(raw, list) or not raw or not all(isinstance(c, str) and _ID.match(c) for c in raw):
        raise doc.fail(("categories",), "categories", "must be a non-empty list of lowercase names")
    if len(set(raw)) != len(raw):
        raise doc.fail(("categories",), "categories", "names must be unique")
    return tuple(raw)


def _list_format(doc: _Doc, categories: tuple[str, ...]) -> ListFormat:
    d = doc.data if isinstance(doc.data, dict) else {}
    headers = d.get("headers")
    if not isinstance(headers, dict) or set(headers) != set(categories):
        raise doc.fail(("headers",), "headers", f"needs exactly one header per category {list(categories)}")
    for cat, h in headers.items():
        if not isinstance(h, str) or not h.strip() or "\n" in h.strip():
            raise doc.fail(("headers", cat), f"headers.{cat}", "must be a non-empty single line")
    item = d.get("item")
    if not isinstance(item, str) or "{n}" not in item or "{text}" not in item:
        raise doc.fail(("item",), "item", "must be a string containing {n} and {text}")
    stop = d.get("stop")
    if not isinstance(stop, list) or not stop or not all(isinstance(s, str) and s for s in stop):
        raise doc.fail(("stop",), "stop", "must be a non-empty list of non-empty strings")
    parse = d.get("parse")
    if not isinstance(parse, dict):
        raise doc.fail(("parse",), "parse", "must be a mapping")
    for name in ("min_words", "max_chars"):
        if type(parse.get(name)) is not int or parse[name] < 1:
            raise doc.fail(("parse", name), f"parse.{name}", "must be a positive integer")
    if not isinstance(parse.get("terminal"), str) or not parse["terminal"]:
        raise doc.fail(("parse", "terminal"), "parse.terminal", "must be a non-empty string of characters")
    patterns = []
    for j, p in enumerate(parse.get("meta_patterns") or []):
        try:
            patterns.append(re.compile(p, re.IGNORECASE))
        except (re.error, TypeError) as e:
            keys = ("parse", "meta_patterns", j)
            raise doc.fail(keys, f"parse.meta_patterns[{j}]", f"bad regex: {e}") from e
    return ListFormat(
        headers={c: headers[c].strip() for c in categories},
        item=item,
        stop=tuple(stop),
        min_words=parse["min_words"],
        max_chars=parse["max_chars"],
        terminal=parse["terminal"],
        meta_patterns=tuple(patterns),
    )


def _seeds(doc: _Doc, categories: tuple[str, ...], fmt: ListFormat) -> tuple[Seed, ...]:
    d = doc.data
    if not isinstance(d, dict) or set(d) != set(categories):
        raise doc.fail((), None, f"must map exactly the categories {list(categories)} to lists of seeds")
    out = []
    for cat in categories:
        if not isinstance(d[cat], list) or not d[cat]:
            raise doc.fail((cat,), cat, "must be a non-empty list of instructions")
        for i, text in enumerate(d[cat]):
            seed_id = f"seed:{cat}:{i + 1}"
            keys: tuple[str | int, ...] = (cat, i)
            text = _text(doc, keys, seed_id, "instruction", text)
            # A seed must survive the same parsing rule as a generated item, or the model learns a
            # shape the parser then throws away.
            problem = (
                "must be one line" if "\n" in text
                else "must not start with a number" if _NUMBERED.match(text)
                else f"needs at least {fmt.min_words} words" if len(text.split()) < fmt.min_words
                else f"is longer than {fmt.max_chars} characters" if len(text) > fmt.max_chars
                else f"must end with one of {fmt.terminal!r}" if text[-1] not in fmt.terminal
                else "matches a meta pattern" if any(p.search(text) for p in fmt.meta_patterns)
                else None
            )
            if problem:
                raise doc.fail(keys, f"{seed_id}.instruction", problem)
            out.append(Seed(id=seed_id, category=cat, instruction=text))
    return tuple(out)


def _urial_ids(doc: _Doc, known: set[str]) -> tuple[str, ...]:
    ids = doc.data.get("ids") if isinstance(doc.data, dict) else None
    if not isinstance(ids, list) or not ids or len(set(ids)) != len(ids):
        raise doc.fail(("ids",), "ids", "must be a non-empty list of unique example ids")
    for j, i in enumerate(ids):
        if i not in known:
            raise doc.fail(("ids", j), f"ids[{j}]", f"{i!r} is not an id in {EXAMPLES_FILE}")
    return tuple(ids)


def load_pools(data_dir: Path | None = None) -> Pools:
    """Load and check every pool file from ``data_dir`` (default: the packaged ``prompts/data``)."""
    base: Path | Traversable = (
        data_dir if data_dir is not None else resources.files("selfalign.prompts") / "data"
    )
    ex_doc = _Doc(base / EXAMPLES_FILE)
    categories = _categories(ex_doc)
    examples = _entries(ex_doc, "examples", categories, constrained=False)
    con_doc = _Doc(base / CONSTRAINTS_FILE)
    cons = _entries(con_doc, "examples", categories, constrained=True)
    seen: set[str] = set()
    for doc, entries in ((ex_doc, examples), (con_doc, cons)):
        for i, e in enumerate(entries):
            if e.id in seen:
                raise doc.fail(("examples", i), f"{e.id}.id", "duplicate id (ids are unique across pools)")
            seen.add(e.id)
    for cat in categories:
        if not any(e.category == cat for e in examples):
            raise ex_doc.fail(("categories",), "categories", f"category {cat!r} has no examples")
    lf_doc = _Doc(base / LIST_FORMAT_FILE)
    list_format = _list_format(lf_doc, categories)
    return Pools(
        categories=categories,
        examples=examples,
        constraint_examples=cons,
        seeds=_seeds(_Doc(base / SEEDS_FILE), categories, list_format),
        list_format=list_format,
        urial_ids=_urial_ids(_Doc(base / URIAL_FILE), {e.id for e in examples}),
    )


@cache
def pools() -> Pools:
    """The packaged pools, loaded once per process."""
    return load_pools()


def categories() -> tuple[str, ...]:
    return pools().categories


def _check_category(category: str) -> None:
    if category not in pools().categories:
        raise ValueError(f"unknown category {category!r}; known: {', '.join(pools().categories)}")


def examples(category: str | None = None) -> tuple[Example, ...]:
    """The plain few-shot pool, optionally one category."""
    if category is None:
        return pools().examples
    _check_category(category)
    return tuple(e for e in pools().examples if e.category == category)


def constraint_examples() -> tuple[Example, ...]:
    return pools().constraint_examples


def seeds(category: str | None = None) -> tuple[Seed, ...]:
    if category is None:
        return pools().seeds
    _check_category(category)
    return tuple(s for s in pools().seeds if s.category == category)


def seed_instructions(category: str) -> tuple[str, ...]:
    return tuple(s.instruction for s in seeds(category))


def list_format() -> ListFormat:
    return pools().list_format


def urial_ids() -> tuple[str, ...]:
    return pools().urial_ids


def example_by_id(example_id: str) -> Example:
    for e in (*pools().examples, *pools().constraint_examples):
        if e.id == example_id:
            return e
    raise KeyError(example_id)
