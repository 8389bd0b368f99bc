"""Quality gates: thresholds on stage results that stop a run (or are recorded as overridden)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from selfalign.errors import GateError

Metric = Callable[[dict[str, Any]], float | None]


def _get(*path: str) -> Metric:
    def read(entry: dict[str, Any]) -> float | None:
        node: Any = entry
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node

    return read


def _leakage(entry: dict[str, Any]) -> float | None:
    leaks = _get("metrics", "leakage")(entry)
    return None if not isinstance(leaks, dict) else leaks["exact"] + leaks["near_duplicate_pairs"]


def _acceptance(entry: dict[str, Any]) -> float | None:
    counts = entry.get("counts", {})
    if not counts.get("responses"):
        return None
    # Back-translated and redrawn records are added, not drawn from the responses: counting them would let
    # the rate pass 1 and the gate pass on records the sampler never wrote.
    own = counts["accepted"] - counts.get("back_translated", 0) - counts.get("redrawn", 0)
    return own / counts["responses"]


# stage section -> [(gate name, what is measured, metric, "max"|"min", Gates attribute)]
GATES: dict[str, list[tuple[str, str, Metric, str, str]]] = {
    "instructions": [
        ("duplicates", "metrics.near_duplicate_rate", _get("metrics", "near_duplicate_rate"), "max",
         "max_duplicate_rate"),
    ],
    "split": [("leakage", "exact + near-duplicate train/test pairs", _leakage, "max", "max_leakage")],
    "responses": [
        ("runaway", "metrics.qc_rates.runaway", _get("metrics", "qc_rates", "runaway"), "max",
         "max_runaway_rate"),
        ("truncation", "metrics.qc_rates.truncated", _get("metrics", "qc_rates", "truncated"), "max",
         "max_truncation_rate"),
    ],
    "critique": [("acceptance", "accepted / responses", _acceptance, "min", "min_acceptance_rate")],
}  # fmt: skip


def evaluate_gates(section: str, entry: dict[str, Any], config: Any) -> list[dict[str, Any]]:
    """Check each gate of ``section``; a missing metric is an error, never a silent pass."""
    out = []
    for name, what, metric, kind, attr in GATES.get(section, []):
        value = metric(entry)
        if value is None:
            raise GateError(f"gate {name}: stage {entry.get('name')} reported no {what}")
        threshold = getattr(config, attr)
        passed = value <= threshold if kind == "max" else value >= threshold
        out.append({
            "name": name, "stage": entry.get("name"), "metric": what, "value": round(float(value), 6),
            "threshold": threshold, "kind": kind, "passed": bool(passed),
            "overridden": bool(not passed and config.override),
        })  # fmt: skip
    return out


NEAR = 0.1  # a passing value within 10% of its threshold is reported as close to it


def gate_notices(gates: list[dict[str, Any]]) -> list[str]:
    """One line per gate a person should see: failed but overridden, or passed close to its threshold."""
    out = []
    for g in gates:
        where = f"gate {g['name']} after {g['stage']}: {g['value']} vs {g['kind']} {g['threshold']}"
        if not g["passed"] and g["overridden"]:
            out.append(f"{where}: failed; recorded and overridden (gates.override), the run goes on")
        elif g["passed"] and _near(float(g["value"]), float(g["threshold"])):
            out.append(f"{where}: passed, but within {NEAR:.0%} of the threshold")
    return out


def _near(value: float, threshold: float) -> bool:
    return threshold != 0 and abs(threshold - value) <= NEAR * abs(threshold)
