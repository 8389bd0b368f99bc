"""What was loaded, exactly: weight hashes, dtype/quantization as loaded, versions, git state."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from selfalign.engine.gguf_build import cache_dir, sha256_file

_PACKAGES = ("selfalign", "torch", "transformers", "peft", "trl", "accelerate", "datasets", "tokenizers")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def portable_ref(provenance: dict[str, Any]) -> str:
    """A base reference another machine can resolve: the public hub id of an embedded model, else the ref
    the run was given (a hub id, or a tiny model's name). Never a local path into this machine's cache."""
    return str(provenance.get("public_id") or provenance["model_ref"])


def git_state() -> dict[str, Any]:
    """Commit and dirty flag of the selfalign checkout (None outside a git checkout)."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def weight_hashes(model_dir: Path) -> dict[str, str]:
    """sha256 of every safetensors file, memoised by (path, size, mtime) so repeated loads stay fast."""
    memo_path = cache_dir() / "sha256-memo.json"
    try:
        memo = json.loads(memo_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        memo = {}
    out, changed = {}, False
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        st = f.stat()
        key = f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        if key not in memo:
            memo[key], changed = sha256_file(f), True
        out[f.name] = memo[key]
    if changed:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(memo, indent=1), encoding="utf-8")
        tmp.replace(memo_path)
    return out


def state_dict_sha256(model: Any) -> str:
    """sha256 over every tensor (name, dtype, bytes) of a model built in code (no weight files to hash)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tensor.dtype).encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def loaded_quantization(model: Any) -> str:
    """Read back what is really in memory (the first version asked for 8-bit and silently got 4-bit)."""
    if getattr(model, "is_loaded_in_4bit", False):
        return "4bit"
    if getattr(model, "is_loaded_in_8bit", False):
        return "8bit"
    for module in model.modules():
        name = type(module).__name__
        if name == "Linear4bit":
            return "4bit"
        if name == "Linear8bitLt":
            return "8bit"
    return "none"
