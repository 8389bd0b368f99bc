"""Static HTML report of a run: one offline file, inline CSS and PNG plots, all data text escaped."""

from selfalign.report.build import build_report, render

__all__ = ["build_report", "render"]
