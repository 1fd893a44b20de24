"""The HTML page: one self-contained file, images inlined, every store-provided string escaped."""

from __future__ import annotations

import html
import math
import os
from typing import Any

import pandas as pd

from netspace.report.output import Plot

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1280px;color:#222;
padding:0 16px;line-height:1.45}
h1{font-size:26px;margin-bottom:4px}h2{font-size:20px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.grid{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;max-width:100%;min-width:0}
.scroll{overflow-x:auto;max-width:100%}figcaption{font-size:12px;color:#555}
img{max-width:100%;height:auto;border:1px solid #eee}.note{color:#555;font-size:13px}
ul.ks li{margin:2px 0}
"""


def esc(value: Any) -> str:
    """HTML-escaped text of any value (names and text come from stores and must not become markup)."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if abs(value) >= 1e5:
            return f"{value:.3e}"
        if abs(value) >= 0.01 or value == 0:
            return f"{value:.3f}".rstrip("0").rstrip(".")
        return f"{value:.3g}"
    return str(value)


def table(df: pd.DataFrame) -> str:
    """A plain HTML table with escaped headers and cells."""
    head = "".join(f"<th>{esc(c)}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(fmt(v))}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False)
    )
    # in a scrolling box: a wide table scrolls by itself, never the page
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def figure(plot: Plot, page_dir: str) -> str:
    """The inlined PNG with a caption linking the PNG, SVG and CSV files beside the page."""
    files = " · ".join(
        f'<a href="{esc(os.path.relpath(p, page_dir).replace(os.sep, "/"))}">{kind}</a>'
        for kind, p in (("PNG", plot.png), ("SVG", plot.svg), ("CSV", plot.csv))
    )
    return (f'<figure><img alt="{esc(plot.title)}" src="data:image/png;base64,{plot.png_base64}">'
            f"<figcaption>{esc(plot.title)} — {files}</figcaption></figure>")


def section(title: str, *parts: str) -> str:
    return f"<h2>{esc(title)}</h2>\n" + "\n".join(parts)


def paragraph(text: str, cls: str = "") -> str:
    return f'<p class="{cls}">{esc(text)}</p>' if cls else f"<p>{esc(text)}</p>"


def page(title: str, body: list[str]) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body>\n<h1>{esc(title)}</h1>\n" + "\n".join(body) + "\n</body></html>\n"
    )
