"""Why a stage of ``selfalign run`` reruns, in words, and when a rerun needs the user's consent.

A stage's cache key (``pipeline.key_parts``) hashes its config section, the model, the engine backend, the run
seed, its upstream keys, its inputs' content hashes and the code version. Each stage dir keeps those parts
beside the key (``.key``), so a later run can name what differs ("sft.learning_rate: 0.0002 → 0.0001")
instead of silently starting over. A difference in the parts of the first stage reruns *every* stage (every
stage depends on it through the key chain), so it replaces all finished results: that takes ``--force``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from selfalign.errors import ConfigError

_SHOWN = 3  # differences named in one reason; the rest are counted


def read_key(stage_dir: Path) -> tuple[str | None, dict[str, Any] | None]:
    """The key a stage dir was started with and its parts (None where absent or written before parts were
    kept: ``.key`` then holds the bare key)."""
    try:
        data = json.loads((stage_dir / ".key").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    if isinstance(data, dict):
        return data.get("key"), data.get("parts")
    return (data if isinstance(data, str) else None), None


def key_record(key: str, parts: dict[str, Any]) -> str:
    return json.dumps({"key": key, "parts": parts}, sort_keys=True)


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _changed(old: Any, new: Any, prefix: str) -> list[str]:
    a, b = _leaves(old, prefix), _leaves(new, prefix)

    def shown(d: dict[str, Any], k: str) -> str:
        return json.dumps(d[k]) if k in d else "(absent)"

    return [
        f"{k}: {shown(a, k)} → {shown(b, k)}"
        for k in sorted(a.keys() | b.keys())
        if shown(a, k) != shown(b, k)
    ]


def why_rerun(old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    """What differs between the key parts a stage dir was made with and the ones asked for now."""
    if old is None:
        return "its settings changed (recorded by an older selfalign, which kept no details)"
    section = new.get("stage", "stage")
    found: list[str] = []
    found += _changed(old.get("model"), new.get("model"), "model")
    if old.get("backend") != new.get("backend"):
        found.append(f"engine.backend: {old.get('backend')} → {new.get('backend')}")
    if old.get("seed") != new.get("seed"):
        found.append(f"run.seed: {old.get('seed')} → {new.get('seed')}")
    found += _changed(old.get("config"), new.get("config"), section)
    found += _changed(old.get("extra"), new.get("extra"), f"{section} (plan)")
    if old.get("code") != new.get("code"):
        found.append(f"selfalign's code changed ({old.get('code')} → {new.get('code')})")
    for name in sorted(set(old.get("inputs", {})) | set(new.get("inputs", {}))):
        if old.get("inputs", {}).get(name) != new.get("inputs", {}).get(name):
            found.append(f"input {name} comes from a stage that reran")
        elif old.get("input_hashes", {}).get(name) != new.get("input_hashes", {}).get(name):
            found.append(f"input {name} changed")
    if not found:
        return "its key changed"
    more = f" (+{len(found) - _SHOWN} more)" if len(found) > _SHOWN else ""
    return "; ".join(found[:_SHOWN]) + more


def refuse_replacing_all(run_dir: Path, first: str, key: str, parts: dict[str, Any], force: bool) -> None:
    """Refuse (ConfigError) when ``first`` — the stage every other depends on — finished in ``run_dir`` with
    another key: running would replace every finished stage's results. ``force`` allows it."""
    stage_dir = run_dir / first
    try:
        done = json.loads((stage_dir / "manifest.json").read_text(encoding="utf-8")).get("complete")
    except (OSError, ValueError):
        return
    old_key, old_parts = read_key(stage_dir)
    if not done or old_key in (None, key) or force:
        return
    raise ConfigError(
        f"{run_dir}: its finished results were made with other settings ({why_rerun(old_parts, parts)}); "
        "running would replace every stage's results: pass --force to replace them, or use a new --run-dir"
    )
