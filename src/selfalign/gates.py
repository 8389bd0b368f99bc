"""Quality gates: thresholds on stage metrics that stop a run (or are recorded as overridden)."""

from __future__ import annotations

from typing import Any

from selfalign.errors import GateError

# stage section -> [(gate name, metric path in the stage's metrics, "max"|"min", Gates attribute)]
GATES: dict[str, list[tuple[str, str, str, str]]] = {
    "instructions": [("duplicates", "near_duplicate_rate", "max", "max_duplicate_rate")],
    "split": [("leakage", "leakage_pairs", "max", "max_leakage")],
    "responses": [
        ("runaway", "qc_rates.runaway", "max", "max_runaway_rate"),
        ("truncation", "qc_rates.truncated", "max", "max_truncation_rate"),
    ],
    "critique": [("acceptance", "acceptance_rate", "min", "min_acceptance_rate")],
}


def _lookup(metrics: dict[str, Any], path: str) -> Any:
    node: Any = metrics
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def evaluate_gates(section: str, entry: dict[str, Any], config: Any) -> list[dict[str, Any]]:
    """Check each gate of ``section``; a missing metric is an error, never a silent pass."""
    out = []
    for name, path, kind, attr in GATES.get(section, []):
        value = _lookup(entry.get("metrics", {}), path)
        if value is None:
            raise GateError(f"gate {name}: stage {entry.get('name')} reported no metric '{path}'")
        threshold = getattr(config, attr)
        passed = value <= threshold if kind == "max" else value >= threshold
        out.append(
            {
                "name": name,
                "stage": entry.get("name"),
                "metric": path,
                "value": value,
                "threshold": threshold,
                "kind": kind,
                "passed": bool(passed),
                "overridden": bool(not passed and config.override),
            }
        )
    return out
