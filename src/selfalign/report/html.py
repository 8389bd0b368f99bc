"""Tiny HTML builders. Every piece of data text goes through :func:`esc`; nothing here emits a URL.

The report is one offline file: inline CSS, images as ``data:`` URIs, no scripts. Keeping all markup in
these few helpers makes "all data text is escaped" something one can check by reading one file.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1150px;
padding:1.5em;color:#1d232b;background:#fff;line-height:1.4}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.25em;border-bottom:2px solid #dde3ea;padding-bottom:.2em;
margin-top:1.8em}h3{font-size:1.05em;margin:1.1em 0 .4em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.9em}
th,td{border:1px solid #d5dbe2;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f1f4f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#6b7684}.note{background:#f7f8fa;border-left:4px solid #c4ccd6;padding:.4em .8em;margin:.5em 0}
.pass{color:#137333;font-weight:600}.fail{color:#b3261e;font-weight:600}
.warn{color:#a05a00;font-weight:600}
nav a{margin-right:.9em}img{max-width:100%;height:auto;display:block;margin:.4em 0}
.sample{border:1px solid #d5dbe2;border-radius:6px;margin:1em 0;padding:.5em .8em}
.sample table{width:100%;table-layout:fixed}.sample td{font-size:.85em}
pre{white-space:pre-wrap;word-wrap:break-word;margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;
font-size:.85em}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.4em 0}
dl.kv dt{font-weight:600}dl.kv dd{margin:0}
"""


def esc(value: Any) -> str:
    """Escape any value for HTML text or a double/single-quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """A compact, escaped rendering of a number or other value for a table cell."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return esc(f"{value:.{digits}g}")
    if isinstance(value, dict | list):
        return esc(_compact(value))
    return esc(value)


def _compact(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_compact(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}%"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, raw: bool = True) -> str:
    """A table. Cells are already-escaped HTML when ``raw`` (callers build them with esc/fmt)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            text = cell if raw else esc(cell)
            cls = ' class="num"' if _numeric(text) else ""
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _numeric(text: str) -> bool:
    t = text.replace("%", "").replace("+", "").replace("−", "-").strip()
    try:
        float(t)
    except ValueError:
        return False
    return True


def kv(pairs: Iterable[tuple[str, str]]) -> str:
    """Definition list; values are already-escaped HTML."""
    return '<dl class="kv">' + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def note(text: str) -> str:
    return f'<p class="note">{esc(text)}</p>'


def not_run(stage: str) -> str:
    return note(f"stage not run: {stage} (no artifact in this run directory)")


def img(data_uri: str, alt: str) -> str:
    if not data_uri.startswith("data:image/png;base64,"):
        raise ValueError("report images must be inline PNG data URIs")
    return f'<img src="{data_uri}" alt="{esc(alt)}">'


def mark(passed: bool | None) -> str:
    if passed is None:
        return '<span class="muted">–</span>'
    return '<span class="pass">✓</span>' if passed else '<span class="fail">✗</span>'


def page(title: str, nav: Sequence[tuple[str, str]], body: str) -> str:
    links = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><nav>{links}</nav>{body}</body></html>\n"
    )
