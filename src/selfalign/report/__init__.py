"""Static HTML report of a run: one offline file, inline CSS and PNG plots, all data text escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfalign.report.build import build_report, render

__all__ = ["build_report", "render"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the builder imports matplotlib (seconds), and importing one light submodule
    # (report.markdown's tables, used by `selfalign compare`) must not pay for it.
    if name in __all__:
        from selfalign.report import build

        return getattr(build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
