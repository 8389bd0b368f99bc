"""Read a run directory for the report: the run manifest, and each stage's artifacts via its ``outputs``.

Optional artifacts may be absent (the section then says "stage not run"); a file that exists but cannot
be parsed is an error naming the file, never silently skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfalign.data.jsonl import read_jsonl
from selfalign.errors import DataError


def read_json(path: Path) -> Any:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise DataError(path, None, None, "file not found") from None
    except UnicodeDecodeError:
        raise DataError(path, None, None, "not valid UTF-8") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, e.lineno, None, f"malformed JSON: {e.msg} (column {e.colno})") from None


def read_object(path: Path) -> dict[str, Any]:
    obj = read_json(path)
    if not isinstance(obj, dict):
        raise DataError(path, None, None, "expected a JSON object at the top level")
    return obj


@dataclass
class Stage:
    """One stage entry of the run manifest, with its paths resolved against the run directory."""

    name: str
    entry: dict[str, Any]
    run_dir: Path

    @property
    def label(self) -> str:
        """``dpo-r2`` for a later round even when the manifest names it ``dpo``."""
        d = self.dir.name
        return d if d.startswith(self.name) else self.name

    @property
    def dir(self) -> Path:
        return self.run_dir / str(self.entry.get("dir") or self.name)

    def output(self, *names: str, suffix: str | None = None) -> Path | None:
        """Path of the first listed output that exists; else the first existing output with ``suffix``."""
        outputs = self.entry.get("outputs") or {}
        if not isinstance(outputs, dict):
            raise DataError(
                self.run_dir / "manifest.json", None, f"stages.{self.name}.outputs", "not an object"
            )
        candidates = [outputs[n] for n in names if n in outputs]
        if suffix:
            candidates += [p for p in outputs.values() if str(p).endswith(suffix)]
        for rel in candidates:
            path = self.resolve(str(rel))
            if path is not None:
                return path
        return None

    def resolve(self, rel: str) -> Path | None:
        # The pipeline writes outputs relative to the run dir; accept stage-dir-relative and absolute too.
        for p in (self.run_dir / rel, self.dir / rel):  # an absolute rel stays itself under "/"
            if p.exists():
                return p
        return None

    def file(self, *names: str, suffix: str | None = None, fallback: str | None = None) -> Path | None:
        """An output file; ``fallback`` (a name inside an output dir or the stage dir) when none is listed."""
        path = self.output(*names, suffix=suffix)
        if path is not None and path.is_file():
            return path
        if fallback:
            dirs = [p for p in (path, self.dir) if p is not None and p.is_dir()]
            for d in dirs:
                if (d / fallback).is_file():
                    return d / fallback
        return None


@dataclass
class Run:
    run_dir: Path
    manifest: dict[str, Any]
    stages: list[Stage]

    def find(self, prefix: str) -> list[Stage]:
        """Stages whose name or dir is ``prefix`` or a round or seed of it (``dpo``, ``dpo-r2``, ``dpo-s1``,
        ...), in order."""

        def hit(label: str) -> bool:
            return label == prefix or label.startswith((prefix + "-r", prefix + "-s"))

        return [s for s in self.stages if hit(s.name) or hit(s.dir.name)]

    def first(self, prefix: str) -> Stage | None:
        found = self.find(prefix)
        return found[0] if found else None

    def jsonl(self, path: Path) -> list[dict[str, Any]]:
        return read_jsonl(path, allow_empty=True)


def load_run(run_dir: Path) -> Run:
    """Read ``manifest.json``; stages come from its ``stages`` list, or from stage dirs if it has none."""
    if not run_dir.is_dir():
        raise DataError(run_dir, None, None, "run directory not found")
    mpath = run_dir / "manifest.json"
    manifest = read_object(mpath) if mpath.is_file() else {}
    stages_raw = manifest.get("stages", [])
    if not isinstance(stages_raw, list):
        raise DataError(mpath, None, "stages", "expected a list")
    stages = []
    for i, entry in enumerate(stages_raw):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise DataError(mpath, None, f"stages[{i}]", "expected an object with a string 'name'")
        stages.append(Stage(entry["name"], entry, run_dir))
    if not stages_raw:
        stages = _stages_from_dirs(run_dir)
    return Run(run_dir, manifest, stages)


def _stages_from_dirs(run_dir: Path) -> list[Stage]:
    """A run killed before the run manifest was written: each stage dir's own manifest stands in."""
    out = []
    for d in sorted(p for p in run_dir.iterdir() if p.is_dir() and (p / "manifest.json").is_file()):
        m = read_object(d / "manifest.json")
        outputs = m.get("outputs") or {p.name: f"{d.name}/{p.name}" for p in d.iterdir() if p.is_file()}
        entry = {**m, "name": d.name, "dir": d.name, "outputs": outputs, "status": m.get("status", "done")}
        out.append(Stage(d.name, entry, run_dir))
    return out
