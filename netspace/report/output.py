"""Writing a figure as PNG + SVG with its data as CSV, and inlining it in the page."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass

import matplotlib.pyplot as plt
import pandas as pd

DPI = 110


@dataclass(frozen=True)
class Plot:
    """One written plot: its files and the base64 PNG the page inlines."""

    name: str
    title: str
    png: str
    svg: str
    csv: str
    png_base64: str


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "plot"


def save_plot(fig, data: pd.DataFrame, out_dir: str, name: str, title: str) -> Plot:
    """Write ``name``.png/.svg/.csv under ``out_dir`` and close the figure."""
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, slug(name))
    # tight: the saved image is the drawn area, so a long tick or legend label is never cut off
    fig.savefig(base + ".png", dpi=DPI, bbox_inches="tight", pad_inches=0.06)
    fig.savefig(base + ".svg", bbox_inches="tight", pad_inches=0.06)
    plt.close(fig)
    data.to_csv(base + ".csv", index=False)
    with open(base + ".png", "rb") as f:
        encoded = base64.b64encode(f.read()).decode("ascii")
    return Plot(name=slug(name), title=title, png=base + ".png", svg=base + ".svg", csv=base + ".csv",
                png_base64=encoded)
