"""Content hashes of stage outputs, so a cache hit is verified, not trusted.

A stage records the sha256 of every output it wrote (a directory hashes its files' relative paths and
contents). A later run that finds an output missing or changed reruns that stage; because each stage's
cache key holds the hashes of the inputs it consumed, a rerun whose outputs differ reruns what follows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import selfalign
from selfalign.config import stable_hash


def digest(path: Path) -> str:
    """sha256 of a file's bytes, or of a directory's sorted (relative path, file digest) list."""
    if path.is_dir():
        h = hashlib.sha256()
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{f.relative_to(path).as_posix()}\0{digest(f)}\n".encode())
        return h.hexdigest()
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@cache
def code_version() -> str:
    """Hash of the package's source: any code change invalidates cached stage outputs."""
    root = Path(selfalign.__file__).parent
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in {".py", ".yaml", ".jsonl"})
    return stable_hash({str(p.relative_to(root)): p.read_bytes().hex() for p in files})[:16]


def digests(root: Path, outputs: Mapping[str, str]) -> dict[str, str]:
    """The digest of each named output (paths relative to ``root``)."""
    return {name: digest(root / rel) for name, rel in outputs.items()}


def why_changed(root: Path, outputs: Mapping[str, str], recorded: Mapping[str, str] | None) -> str | None:
    """Why the recorded outputs cannot be reused (a missing or changed file), or None when all match."""
    if recorded is None:
        return "its manifest has no output hashes (written by an older selfalign)"
    for name, rel in outputs.items():
        path = root / rel
        if not path.exists():
            return f"output {name} ({rel}) is missing"
        if name not in recorded or digest(path) != recorded[name]:
            return f"output {name} ({rel}) changed since the stage wrote it"
    return None
