"""Report layer: the page's content, its files, and a real headless-Chromium render."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import tempfile

import numpy as np
import pandas as pd
import pytest

from netspace.analysis.demo import demo_trials
from netspace.errors import NetspaceError
from netspace.report import write_report

CHROMIUM = "/usr/bin/chromium"
EVIL = '<script>alert("x")</script> & $AnyNet_A'
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]

# Prepended to a copy of the page: records console errors, script errors and failed
# resources as they happen, then every image's load state into the DOM on load.
PROBE = """<script>(function(){var errs=[];
var oe=console.error;console.error=function(){errs.push('console.error: '+Array.prototype.join.call(arguments,' '));
oe.apply(console,arguments);};
window.addEventListener('error',function(e){var t=e.target;errs.push(t&&t!==window&&t.tagName?
('resource failed: '+t.tagName+' '+(t.src||t.href)):('error: '+e.message));},true);
window.addEventListener('unhandledrejection',function(e){errs.push('unhandled rejection: '+e.reason);});
window.addEventListener('load',function(){var imgs=Array.prototype.map.call(document.images,function(i){
return {alt:i.alt,ok:i.complete&&i.naturalWidth>0,width:i.naturalWidth};});
var d=document.createElement('pre');d.id='__probe';d.textContent=JSON.stringify({errors:errs,images:imgs});
document.body.appendChild(d);});})();</script>"""


# Records the page's layout on load: every image's natural and displayed width, and how wide the page scrolls.
LAYOUT = """<script>window.addEventListener('load',function(){var imgs=Array.prototype.map.call(document.images,
function(i){return {alt:i.alt,natural:i.naturalWidth,shown:i.getBoundingClientRect().width,
right:i.getBoundingClientRect().right};});var d=document.createElement('pre');d.id='__layout';
d.textContent=JSON.stringify({images:imgs,scroll:document.documentElement.scrollWidth,inner:window.innerWidth});
document.body.appendChild(d);});</script>"""
STUDY_SPACES = ("AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E", "RegNet")


@pytest.fixture(scope="module")
def study_report(tmp_path_factory):
    """Sweeps of six spaces (as a study's), one epoch each: crowded parameter axes and one-point curves."""
    df = demo_trials(n=10, seed=2, sweeps=STUDY_SPACES, spaces=STUDY_SPACES, epochs=1)
    out = tmp_path_factory.mktemp("study_report") / "analysis.html"
    metrics = ["bottleneck_ratio", "bottleneck_ratio1", "depth1", "wm"]
    return df, write_report(df, out, metrics=metrics, samples=200)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    df = demo_trials(n=40, seed=1)
    df["sweep"] = df["sweep"].replace("AnyNetX_A", EVIL)
    out = tmp_path_factory.mktemp("report") / "report.html"
    path = write_report(df, out, normalize="flops", metrics=["depth", "wm"], samples=500)
    return df, path


def test_page_is_self_contained_and_escaped(report):
    df, path = report
    text = open(path, encoding="utf-8").read()
    assert "<script" not in text.replace(html.escape("<script"), "")  # the store's name is text, not markup
    assert html.escape(EVIL) in text
    assert not re.search(r'(src|href)="(https?:)?//', text)  # no network access
    imgs = re.findall(r'<img [^>]*src="([^"]+)"', text)
    assert imgs and all(src.startswith("data:image/png;base64,") for src in imgs)
    for src in imgs:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for heading in ("Summary", "Error distributions (EDF) and KS comparisons", "Error vs complexity",
                    "Error vs parameters", "RegNet fit of the top models", "Per-block widths of the best models",
                    "Training curves of the best models", "Trends across sweeps"):
        assert f"<h2>{heading}</h2>" in text
    assert "EDFs are flops-normalized" in text
    assert "RegNetX and " in text or "RegNetX is better" in text  # the KS sentence


def test_summary_table_numbers(report):
    df, path = report
    text = open(path, encoding="utf-8").read()
    done = df[(df.sweep == "RegNetX") & (df.status == "done")]["error"]
    row = re.search(r"<tr><td>RegNetX</td>(.*?)</tr>", text).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert int(cells[0]) == (df.sweep == "RegNetX").sum() and int(cells[1]) == len(done)
    assert float(cells[-3]) == pytest.approx(done.min(), abs=1e-3)
    assert float(cells[-1]) == pytest.approx(done.median(), rel=1e-3)


def test_every_plot_written_as_png_svg_csv(report):
    _, path = report
    folder = os.path.join(os.path.dirname(path), "report_plots")
    names = {os.path.splitext(f)[0] for f in os.listdir(folder)}
    assert {"edf", "error_vs_complexity", "error_vs_depth", "error_vs_wm", "efit", "block_widths", "curves"} <= names
    # both sweeps sit near 13.5M flops: no flops axis to draw a trend along, so the table without a plot
    assert "trends" not in names
    assert "Not plotted: the sweeps&#x27; median flops span only 1.04x" in open(path, encoding="utf-8").read()
    for name in names:
        for ext in (".png", ".svg", ".csv"):
            assert os.path.getsize(os.path.join(folder, name + ext)) > 0
    edf = pd.read_csv(os.path.join(folder, "edf.csv"))
    assert set(edf["sweep"]) == {"RegNetX", EVIL}
    assert edf.groupby("sweep")["cumulative_fraction"].max().tolist() == pytest.approx([1.0, 1.0])
    text = open(path, encoding="utf-8").read()
    assert 'href="report_plots/edf.svg"' in text and 'href="report_plots/edf.csv"' in text


def test_report_errors():
    with pytest.raises(NetspaceError, match="empty"):
        write_report(pd.DataFrame(), "/tmp/never.html")
    df = demo_trials(n=5)
    df["status"] = "running"
    with pytest.raises(NetspaceError, match="no sweep has finished trials"):
        write_report(df, "/tmp/never.html")
    with pytest.raises(NetspaceError, match="normalize"):
        write_report(demo_trials(n=5), "/tmp/never.html", normalize="acts")
    with pytest.raises(NetspaceError, match="no column"):
        write_report(demo_trials(n=5), "/tmp/never.html", metrics=["nope"])


def test_report_keeps_a_sweep_without_finished_trials(tmp_path):
    df = demo_trials(n=20, sweeps=("A", "B"))
    df.loc[df.sweep == "B", "status"] = "pending"
    text = open(write_report(df, tmp_path / "r.html", metrics=["wm"], samples=200), encoding="utf-8").read()
    assert "No finished trials yet in: B" in text and "<tr><td>B</td>" in text


def _chromium(args, cwd):
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=120, cwd=cwd)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs headless Chromium at /usr/bin/chromium "
                    "(Debian: apt-get install chromium)")
def test_report_renders_in_chromium(report):
    _, path = report
    folder = os.path.dirname(path)
    probed = os.path.join(folder, "_probe.html")
    page = open(path, encoding="utf-8").read()
    with open(probed, "w", encoding="utf-8") as f:
        f.write(page.replace("<head>", "<head>" + PROBE, 1))
    run = _chromium(["--virtual-time-budget=5000", "--dump-dom", "file://" + probed], folder)
    found = re.search(r'<pre id="__probe">(.*?)</pre>', run.stdout, re.S)
    assert found, f"the probe did not report (rc={run.returncode}): {run.stderr[-2000:]}"
    probe = json.loads(html.unescape(found.group(1)))
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line]
    assert probe["errors"] == [] and console == []
    assert len(probe["images"]) >= 7  # edf, complexity, depth, wm, efit, widths, curves
    assert all(img["ok"] and img["width"] > 0 for img in probe["images"]), probe["images"]

    shot = os.path.join(folder, "screenshot.png")
    run = _chromium(["--window-size=1280,1600", "--hide-scrollbars", f"--screenshot={shot}", "file://" + path],
                    folder)
    assert os.path.exists(shot), run.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    non_white = np.mean(pixels.min(axis=2) < 0.9)
    assert pixels.std() > 0.05 and 0.02 < non_white < 0.9, (pixels.std(), non_white)
    if os.environ.get("NETSPACE_DOCS_SCREENSHOT"):  # refresh docs/report.png for the README
        shutil.copy(shot, os.environ["NETSPACE_DOCS_SCREENSHOT"])


def test_trends_are_plotted_across_complexity_regimes(tmp_path):
    df = demo_trials(n=24, seed=2)
    big = df["sweep"] == "RegNetX"
    df.loc[big, "flops"] = df.loc[big, "flops"] * 4  # the same designs as if at 4x the flops: two regimes
    path = write_report(df, tmp_path / "report.html", metrics=["wm"], samples=200)
    trends = pd.read_csv(tmp_path / "report_plots" / "trends.csv")
    assert (tmp_path / "report_plots" / "trends.png").stat().st_size > 1000
    by_sweep = trends.groupby("sweep")["flops"].first()
    assert by_sweep["RegNetX"] / by_sweep["AnyNetX_A"] > 2.0
    assert "Not plotted" not in open(path, encoding="utf-8").read()


@pytest.mark.slow
def test_one_plot_per_design_parameter_with_only_its_sweeps(study_report):
    _, path = study_report
    folder = os.path.join(os.path.dirname(path), "analysis_plots")
    names = {os.path.splitext(f)[0] for f in os.listdir(folder) if f.startswith("error_vs_")}
    # RegNet's b and the shared b of AnyNetX_B..E are one parameter; AnyNetX_A's per-stage b its own four
    assert names == {"error_vs_complexity", "error_vs_wm", "error_vs_bottleneck_ratio", "error_vs_depth1",
                     "error_vs_bottleneck_ratio1"}
    b = pd.read_csv(os.path.join(folder, "error_vs_bottleneck_ratio.csv"))
    assert set(b["sweep"]) == {"AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E", "RegNet"}
    assert set(b["value"]) <= {1.0, 2.0, 4.0}
    assert set(pd.read_csv(os.path.join(folder, "error_vs_bottleneck_ratio1.csv"))["sweep"]) == {"AnyNetX_A"}
    assert set(pd.read_csv(os.path.join(folder, "error_vs_wm.csv"))["sweep"]) == {"RegNet"}
    text = open(path, encoding="utf-8").read()
    for title in ("Error vs bottleneck ratio b", "Error vs bottleneck ratio, stage 1", "Error vs depth, stage 1",
                  "Error vs width multiplier w_m"):
        assert f'alt="{title}"' in text, title
    trends = pd.read_csv(os.path.join(folder, "trends.csv"))
    assert set(trends.loc[trends["parameter"] == "wm", "sweep"]) == {"RegNet"}  # no row for a sweep without it


def test_plots_label_axes_in_words_and_draw_discrete_parameters_on_log2_axes():
    import matplotlib.pyplot as plt

    from netspace.analysis import Panel
    from netspace.report import figures

    df = demo_trials(n=8, seed=5, sweeps=("A", "B", "X"), spaces=("AnyNetX_A", "AnyNetX_B", "RegNetX"), epochs=2)
    groups = {k: v[v["status"] == "done"] for k, v in df.groupby("sweep", sort=False)}
    fig, data = figures.parameter_plot(groups, Panel("bottleneck_ratio1", {"A": "bottleneck_ratio1"}),
                                       {"A": (1.0, 2.0, 4.0)})
    (ax,) = fig.axes
    assert ax.get_xlabel() == "bottleneck ratio, stage 1" and ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    assert [t.get_text().split(" (")[0] for t in fig.legends[0].get_texts()] == ["A"]  # only the sweep with b
    plt.close(fig)
    fig, _ = figures.parameter_plot(groups, Panel("group_width", {"B": "group_width1", "X": "group_width"}), {})
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[0] == "1" and labels[-1] == "32" and all(t.isdigit() for t in labels)
    plt.close(fig)
    # five sweeps on one parameter: one small axis each, at most 4 a row, the legend only of those five
    many = {f"s{i}": groups["A"] for i in range(5)}
    fig, _ = figures.parameter_plot(many, Panel("depth1", {k: "depth1" for k in many}), {})
    assert len(fig.axes) == 5 and len({round(a.get_position().x0, 3) for a in fig.axes}) == 4
    assert fig.get_size_inches()[0] * 110 <= 1600
    plt.close(fig)
    # training curves of one or two epochs are drawn with markers
    top = df[df["status"] == "done"].head(3)
    fig, _ = figures.curves_plot(top)
    assert all(line.get_marker() == "o" for line in fig.axes[0].get_lines())
    assert [t.get_text() for t in fig.axes[0].get_xticklabels() if 0.5 < t.get_position()[0] < 2.5] == ["1", "2"]
    plt.close(fig)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs headless Chromium at /usr/bin/chromium "
                    "(Debian: apt-get install chromium)")
def test_no_figure_is_wider_than_the_page(study_report):
    _, path = study_report
    folder = os.path.dirname(path)
    probed = os.path.join(folder, "_layout.html")
    with open(probed, "w", encoding="utf-8") as f:
        f.write(open(path, encoding="utf-8").read().replace("<head>", "<head>" + LAYOUT, 1))
    run = _chromium(["--window-size=1280,1000", "--virtual-time-budget=5000", "--dump-dom", "file://" + probed],
                    folder)
    found = re.search(r'<pre id="__layout">(.*?)</pre>', run.stdout, re.S)
    assert found, f"the probe did not report (rc={run.returncode}): {run.stderr[-2000:]}"
    layout = json.loads(html.unescape(found.group(1)))
    assert layout["scroll"] <= layout["inner"], layout  # nothing makes the page scroll sideways
    assert len(layout["images"]) >= 9
    for img in layout["images"]:
        assert 0 < img["natural"] <= 1600 and img["right"] <= layout["inner"], img
        assert img["shown"] >= 0.75 * img["natural"], img  # shown at a readable scale
    shot = os.path.join(folder, "screenshot.png")
    _chromium(["--window-size=1280,2400", "--hide-scrollbars", f"--screenshot={shot}", "file://" + path], folder)
    assert os.path.getsize(shot) > 10_000


def test_a_section_is_one_function_and_one_registration_line(tmp_path, monkeypatch):
    from netspace.report import SECTIONS
    from netspace.report.page import paragraph, section

    monkeypatch.setattr(SECTIONS, "_entries", dict(SECTIONS._entries))  # registered for this test only
    monkeypatch.setattr(SECTIONS, "_keys", dict(SECTIONS._keys))

    def models_per_sweep(ctx):
        counts = {name: len(part) for name, part in ctx.groups.items()}
        return section("Models per sweep", paragraph("; ".join(f"{k}: {v}" for k, v in counts.items())))

    SECTIONS.register("models_per_sweep", models_per_sweep)
    df = demo_trials(n=12, seed=3)
    page = open(write_report(df, tmp_path / "r.html", samples=50)).read()
    counts = df[df["status"] == "done"].groupby("sweep").size()
    assert "Models per sweep" in page and all(f"{k}: {v}" in page for k, v in counts.items())
    assert page.index("Training curves of the best models") < page.index("Models per sweep")  # page order
