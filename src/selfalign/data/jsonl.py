"""JSONL reading with precise errors, atomic writes, and resumable sharded appends.

Every artifact of the pipeline is a JSONL file (one JSON object per line) that
``datasets.load_dataset("json", data_files=...)`` can load. Writes never leave a half-written file:
they go to a temp file in the same directory, are fsynced, then ``os.replace``-d over the target.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from selfalign.atomic import atomic_open
from selfalign.errors import DataError

PathLike = str | os.PathLike[str]
KeyFn = Callable[[Mapping[str, Any]], str]


# ---------------------------------------------------------------------------------------------- reading


def iter_jsonl(path: PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for every non-blank line; raise :class:`DataError` on bad input.

    Blank lines are skipped (line numbers stay those of the file). A UTF-8 byte-order mark on the first line
    is tolerated because editors add it silently.
    """
    p = Path(path)
    try:
        f = p.open("rb")
    except FileNotFoundError:
        raise DataError(p, None, None, "file not found") from None
    except IsADirectoryError:
        raise DataError(p, None, None, "is a directory, not a JSONL file") from None
    with f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    p, lineno, None, f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
                ) from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(p, lineno, None, f"malformed JSON: {e.msg} (column {e.colno})") from None
            if not isinstance(obj, dict):
                raise DataError(p, lineno, None, f"expected a JSON object, got {_json_type(obj)}")
            yield lineno, obj


def read_jsonl(path: PathLike, *, allow_empty: bool = False) -> list[dict[str, Any]]:
    """Read every record of a JSONL file. An empty file (no records) is an error unless ``allow_empty``."""
    records = [rec for _, rec in iter_jsonl(path)]
    if not records and not allow_empty:
        raise DataError(path, None, None, "empty file: no records")
    return records


def _json_type(obj: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if obj is None else names.get(type(obj), type(obj).__name__)


# ---------------------------------------------------------------------------------------------- writing


def to_jsonable(record: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict for a record given as a dict or a pydantic model (``None`` fields kept, as stored)."""
    if isinstance(record, BaseModel):
        return record.model_dump(mode="json")
    return dict(record)


def dumps_line(record: BaseModel | Mapping[str, Any]) -> str:
    """One JSONL line (no newline). Non-finite floats are refused: strict JSON and pyarrow reject them."""
    obj = to_jsonable(record)
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False)
    except ValueError as e:
        bad = _first_nonfinite(obj)
        raise ValueError(f"{bad or 'a value'}: not representable in JSON ({e})") from None


def _first_nonfinite(obj: object, where: str = "") -> str | None:
    if isinstance(obj, float) and not math.isfinite(obj):
        return where or "<root>"
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            found = _first_nonfinite(v, f"{where}.{k}" if where else str(k))
            if found:
                return found
    if isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            found = _first_nonfinite(v, f"{where}[{i}]")
            if found:
                return found
    return None


def write_jsonl_atomic(path: PathLike, records: Iterable[BaseModel | Mapping[str, Any]]) -> int:
    """Write all records to ``path`` atomically; return how many were written.

    On any exception (including one raised by the ``records`` iterable itself) the old file is untouched
    and no temp file remains. A record that cannot be serialized raises :class:`DataError` naming its line.
    """
    n = 0
    with atomic_open(path) as f:
        for n, record in enumerate(records, start=1):
            try:
                line = dumps_line(record)
            except (TypeError, ValueError) as e:
                raise DataError(path, n, None, f"cannot serialize record: {e}") from None
            f.write(line)
            f.write("\n")
    return n


def write_json_atomic(path: PathLike, obj: Any) -> None:
    """Write one JSON document (e.g. a manifest) atomically, pretty-printed, with a trailing newline."""
    try:
        text = json.dumps(obj, ensure_ascii=False, indent=2, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise DataError(path, None, None, f"cannot serialize JSON: {e}") from None
    with atomic_open(path) as f:
        f.write(text + "\n")


# ------------------------------------------------------------------------------------ sharded appending

_SHARD_RE = re.compile(r"^shard-(\d{5,})\.jsonl$")


def _key_fn(key: str | KeyFn) -> KeyFn:
    if callable(key):
        return key
    field = key

    def get(record: Mapping[str, Any]) -> str:
        if field not in record:
            raise KeyError(field)
        return str(record[field])

    return get


class ShardWriter:
    """Resumable append for generation: one atomically written shard per completed batch.

    Records go to ``<out>.shards/shard-00000.jsonl``, ``shard-00001.jsonl``, ... A shard exists completely
    or not at all, so a run killed at any moment loses at most its in-flight batch. A restarted run asks
    :meth:`done_keys` and skips those inputs; :meth:`finalize` merges the shards into ``out`` in the caller's
    order, checks that every key is present exactly once, and removes the shard directory.

    Temp files (``.shard-*.tmp``) left by a kill are ignored and disappear with the directory.
    """

    def __init__(self, out_path: PathLike, key: str | KeyFn = "id") -> None:
        self.out_path = Path(out_path)
        self.shards_dir = Path(f"{self.out_path}.shards")
        self._key = _key_fn(key)
        self._key_name = key if isinstance(key, str) else None
        self._done: dict[str, Path] | None = None  # key -> shard that holds it; loaded lazily

    def shard_paths(self) -> list[Path]:
        """Complete shards, in write order."""
        if not self.shards_dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.shards_dir.iterdir() if (m := _SHARD_RE.match(p.name))]
        return [p for _, p in sorted(found)]

    def _record_key(self, record: Mapping[str, Any], path: PathLike, line: int | None) -> str:
        try:
            return self._key(record)
        except KeyError:
            raise DataError(path, line, self._key_name, "record has no key field") from None

    def _load_done(self) -> dict[str, Path]:
        if self._done is None:
            done: dict[str, Path] = {}
            for shard in self.shard_paths():
                for lineno, rec in iter_jsonl(shard):
                    k = self._record_key(rec, shard, lineno)
                    if k in done:
                        msg = f"duplicate key {k!r} (also in {done[k]})"
                        raise DataError(shard, lineno, self._key_name, msg)
                    done[k] = shard
            self._done = done
        return self._done

    def done_keys(self) -> set[str]:
        """Keys of every record already written to a complete shard."""
        return set(self._load_done())

    def write_batch(self, records: Sequence[BaseModel | Mapping[str, Any]]) -> Path | None:
        """Write one completed batch as the next shard (atomically). Returns its path (None if empty)."""
        if not records:
            return None
        done = self._load_done()
        plain = [to_jsonable(r) for r in records]
        shard = self.shards_dir / f"shard-{self._next_index():05d}.jsonl"
        keys: dict[str, int] = {}
        for i, rec in enumerate(plain, start=1):
            k = self._record_key(rec, shard, i)
            if k in done:
                raise DataError(shard, i, self._key_name, f"key {k!r} already written (in {done[k]})")
            if k in keys:
                msg = f"key {k!r} repeated in this batch (line {keys[k]})"
                raise DataError(shard, i, self._key_name, msg)
            keys[k] = i
        self.shards_dir.mkdir(parents=True, exist_ok=True)
        write_jsonl_atomic(shard, plain)
        done.update(dict.fromkeys(keys, shard))
        return shard

    def _next_index(self) -> int:
        indices = [int(m.group(1)) for p in self.shard_paths() if (m := _SHARD_RE.match(p.name))]
        return max(indices, default=-1) + 1

    def finalize(self, out_path: PathLike | None, order_keys: Sequence[str]) -> Path:
        """Merge shards into ``out_path`` (default: the writer's ``out``) in ``order_keys`` order.

        Raises :class:`DataError` on a missing key, an unexpected key, or a duplicate; the shards are kept in
        that case so nothing is lost. On success the shard directory is removed.
        """
        out = Path(out_path) if out_path is not None else self.out_path
        by_key: dict[str, dict[str, Any]] = {}
        for shard in self.shard_paths():
            for lineno, rec in iter_jsonl(shard):
                k = self._record_key(rec, shard, lineno)
                if k in by_key:
                    raise DataError(shard, lineno, self._key_name, f"duplicate key {k!r} across shards")
                by_key[k] = rec
        order = [str(k) for k in order_keys]
        if len(set(order)) != len(order):
            dup = next(k for i, k in enumerate(order) if k in order[:i])
            raise DataError(self.shards_dir, None, self._key_name, f"order_keys repeats key {dup!r}")
        missing = [k for k in order if k not in by_key]
        if missing:
            raise DataError(
                self.shards_dir,
                None,
                self._key_name,
                f"{len(missing)} key(s) never written, e.g. {missing[:3]}",
            )
        extra = sorted(set(by_key) - set(order))
        if extra:
            raise DataError(
                self.shards_dir,
                None,
                self._key_name,
                f"{len(extra)} written key(s) not in order_keys, e.g. {extra[:3]}",
            )
        write_jsonl_atomic(out, (by_key[k] for k in order))
        if self.shards_dir.exists():
            shutil.rmtree(self.shards_dir)
        self._done = None
        return out
