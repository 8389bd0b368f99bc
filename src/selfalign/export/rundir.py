"""What an export reads from a run dir: the policy's adapter, the base's provenance, the held-out items, the
data each training stage saw (counts from manifests, sha256 of the files), the measured results, the config.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selfalign.config import load_config, stable_hash
from selfalign.engine.gguf_build import sha256_file
from selfalign.errors import ExportError, SelfalignError
from selfalign.evaluate.items import HeldOutItem, load_items

_POLICY = re.compile(r"^(sft|dpo)(?:-r(\d+))?(-s\d+)?$")  # sft, sft-r2, dpo-r3, one seed's: sft-s1, dpo-r2-s1
# The file each training stage trained on (relative to the run dir) and its count key in the manifest.
_TRAINED_ON = {"sft": ("{name}/sft.jsonl", "examples"), "dpo": ("{pairs}/pairs.jsonl", "pairs")}


@dataclass
class RunDir:
    path: Path
    manifest: dict[str, Any]
    policy: str
    adapter: Path
    items: list[HeldOutItem]
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> run-manifest entry

    @property
    def provenance(self) -> dict[str, Any]:
        return self.manifest.get("provenance", {})

    def chain(self) -> list[str]:
        """The training stages whose adapters the policy continues: sft (or the SFT round DPO started
        from), dpo, dpo-r2 ... up to the policy. Every SFT round trains a fresh adapter on the base, so an
        SFT policy is its own chain; a DPO stage with ``from_sft: false`` starts from the base and ends
        the chain backwards."""
        if self.policy.startswith("sft"):
            return [self.policy]
        seed = _seed_suffix(self.policy)  # one seed's chain stays within that seed's stages (stages/seeds.py)
        dpo = f"dpo{seed}"
        start = (self.stage_manifest(dpo).get("inputs") or {}).get("sft_adapter")
        first = Path(start).parent.name if start else f"sft{seed}"
        rounds = {d.name for d in self.path.glob("dpo-r*") if _POLICY.match(d.name) and _round(d.name) > 1
                  and _seed_suffix(d.name) == seed}  # fmt: skip
        order = [first, dpo, *sorted(rounds | {self.policy} - {dpo}, key=_round)]
        chain = order[: order.index(self.policy) + 1]
        for i in range(len(chain) - 1, 0, -1):
            if not self.stage_manifest(chain[i]).get("config", {}).get("from_sft", True):
                return chain[i:]
        return chain

    def stage_manifest(self, name: str) -> dict[str, Any]:
        return _read_json(self.path / name / "manifest.json") or {}

    def training_data(self) -> list[dict[str, Any]]:
        """Per stage of the chain: the file it trained on, its sha256, and the manifest's counts."""
        out = []
        for name in self.chain():
            kind = "sft" if name.startswith("sft") else "dpo"
            rel, key = _TRAINED_ON[kind]
            rel = rel.format(name=name, pairs=name.replace("dpo", "pairs"))
            path = self.path / rel
            counts = self.stages.get(name, {}).get("counts", {})
            out.append({
                "stage": name, "file": rel, "sha256": sha256_file(path) if path.is_file() else None,
                "trained_on": counts.get(key), "steps": counts.get("steps"), "tokens": counts.get("tokens"),
                "stage_key": self.stages.get(name, {}).get("key"),
            })  # fmt: skip
        test = self.path / "split" / "test.jsonl"
        out.append({"stage": "split (held out, never trained on)", "file": "split/test.jsonl",
                    "sha256": sha256_file(test), "items": len(self.items)})  # fmt: skip
        return out

    def results(self) -> dict[str, Any] | None:
        return _read_json(self.path / "evaluate" / "results.json")

    def config(self) -> tuple[str | None, str | None]:
        """(YAML text of the run's config, None) when the file is still there and hashes as the run did;
        else (None, why not)."""
        run = self.manifest.get("run", {})
        where, recorded = run.get("config_path"), run.get("config_hash")
        if not where or not Path(where).is_file():
            return None, f"config file {where!r} not found at export time"
        try:
            cfg = load_config(where)
        except SelfalignError as e:
            return None, str(e)
        if stable_hash(cfg.model_dump(mode="json"))[:16] != recorded:
            return None, f"{where} has changed since the run (config hash differs from {recorded})"
        return Path(where).read_text(encoding="utf-8"), None


def _round(name: str) -> int:
    m = _POLICY.match(name)
    return int(m.group(2)) if m and m.group(2) else 1


def _seed_suffix(name: str) -> str:
    m = _POLICY.match(name)
    return (m.group(3) or "") if m else ""


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def open_run(path: Path, policy: str) -> RunDir:
    """The run at ``path`` with ``policy`` trained; one-line :class:`ExportError` otherwise."""
    if not path.is_dir():
        raise ExportError(f"{path}: no such run directory")
    manifest = _read_json(path / "manifest.json")
    if manifest is None or "provenance" not in manifest:
        raise ExportError(f"{path}: not a selfalign run directory (no readable manifest.json)")
    match = _POLICY.match(policy)
    if not match or (match.group(2) is not None and int(match.group(2)) < 2):
        raise ExportError(
            f"--policy {policy!r}: expected sft, sft-rN, dpo or dpo-rN (N >= 2), with -sK for seed K's"
        )
    stages = {s["name"]: s for s in manifest.get("stages", [])}
    stage = _read_json(path / policy / "manifest.json") or {}
    adapter = path / policy / "adapter"
    if not stage.get("complete") or not (adapter / "adapter_config.json").is_file():
        trained = [s for s in ("sft", "dpo", *stages) if s in stages and _POLICY.match(s)]
        raise ExportError(
            f"{path}: policy {policy!r} was not trained (no complete {policy}/ stage with an adapter); "
            f"trained: {', '.join(dict.fromkeys(trained)) or 'none'}"
        )
    test = path / "split" / "test.jsonl"
    if not test.is_file():
        raise ExportError(f"{path}: no split/test.jsonl (the held-out items the export is checked on)")
    return RunDir(path, manifest, policy, adapter, load_items(test), stages)
