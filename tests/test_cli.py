"""The CLI: zoo and info output, and every error path (one line, exit 2, no traceback)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from netspace import zoo
from inprocess import run_main
from netspace.cli import main
from netspace.complexity import complexity


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netspace.cli", *args], capture_output=True, text=True, timeout=120)


def test_zoo_table_lists_every_model(capsys):
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["model", "flops", "params", "acts", "resolution"]
    rows = {line.split()[0]: line.split() for line in out[1:]}
    assert set(rows) == set(zoo.names())
    assert rows["RegNetX-200MF"][1:] == ["199.04M", "2.68M", "2.16M", "224"]
    assert rows["EfficientNet-B3"][-1] == "300"


def test_zoo_json(capsys):
    assert main(["zoo", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows}
    assert by_name["ResNet-50"]["flops"] == 4089185256


def test_info_json_keys(capsys):
    assert main(["info", "regnety-1.6gf", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "RegNetY-1.6GF"
    assert (out["resolution"], out["num_classes"]) == (224, 1000)
    assert (out["flops"], out["params"], out["acts"]) == (1612087326, 11202430, 8044814)
    assert [s["depth"] for s in out["stages"]] == [2, 6, 17, 2]
    assert [s["width"] for s in out["stages"]] == [48, 120, 336, 888]
    for s in out["stages"]:
        assert {"depth", "width", "stride", "group_width", "bottleneck_ratio", "se_ratio"} <= set(s)
        assert s["se_ratio"] == 0.25 and s["group_width"] == 24


def test_info_text(capsys):
    assert main(["info", "ResNet-50"]) == 0
    out = capsys.readouterr().out
    assert "ResNet-50: 224px" in out and "4,089,185,256 multiply-adds" in out


def test_info_regnet_params_and_input_options(capsys):
    assert main(["info", "--regnet", "d=13,w0=24,wa=36.44,wm=2.49,g=8", "--resolution", "32",
                 "--classes", "10", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    spec = zoo.get("RegNetX-200MF")
    assert [s["width"] for s in out["stages"]] == spec.widths
    assert (out["resolution"], out["num_classes"]) == (32, 10)
    assert out["spec"]["stem"]["stride"] == 1  # small images get a stride-1 stem
    assert main(["info", "d=13,w0=24,wa=36.44,wm=2.49,g=8", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["flops"] == 199040872


def test_info_spec_json_file(tmp_path, capsys):
    path = tmp_path / "net.json"
    spec = zoo.get("ResNet-20")
    path.write_text(spec.to_json(indent=2))
    assert main(["info", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["params"] == complexity(spec)["params"]
    # A result file that carries the spec under "spec" works too.
    path.write_text(json.dumps({"test_error": 8.1, "spec": spec.to_dict()}))
    assert main(["info", str(path), "--json"]) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["info", "RegNetX-200M"], "unknown model 'RegNetX-200M'; did you mean RegNetX-200MF"),
        (["info", "--regnet", "d=13,w0=25,wa=36.44,wm=2.49,g=8"], "w0 must be a positive multiple of 8"),
        (["info", "--regnet", "d=13,w0=24,wa=36.44"], "missing wm, g"),
        (["info", "--regnet", "d=13,w0"], "cannot read 'w0'"),
        (["info", "--regnet", "d=13;w0=24"], "is not a number"),
        (["info", "missing.json"], "cannot read spec file 'missing.json'"),
        (["info"], "give exactly one of MODEL or --regnet"),
        (["info", "ResNet-50", "--resolution", "0"], "--resolution must be a positive integer"),
        (["info", "ResNet-50", "--resolution", "abc"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_error_paths(args, message):
    proc = run_main(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert message in lines[-1]
    assert "Traceback" not in proc.stderr
    if args[0] == "info" and "invalid" not in message:
        assert len(lines) == 1


def test_invalid_spec_file(tmp_path):
    bad = zoo.get("ResNet-20").to_dict()
    bad["stages"][0]["depth"] = 0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    proc = run("info", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"netspace info: error: {path}: stage 1: depth must be a positive integer, got 0"
    path.write_text("{not json")
    proc = run("info", str(path))
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


def test_python_m_netspace_version_and_zoo():
    import netspace

    version = subprocess.run([sys.executable, "-m", "netspace", "--version"], capture_output=True, text=True,
                             timeout=120)
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"netspace {netspace.__version__}"
    zoo_table = subprocess.run([sys.executable, "-m", "netspace", "zoo"], capture_output=True, text=True, timeout=120)
    assert zoo_table.returncode == 0, zoo_table.stderr
    assert zoo_table.stdout.split()[:5] == ["model", "flops", "params", "acts", "resolution"]
    assert "RegNetX-200MF" in zoo_table.stdout


def _options(parser, path=("netspace",)):
    """(command path, action) for every option of the parser and of its subcommands, at any depth."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, (*path, name))
        elif action.option_strings:
            yield " ".join(path), action


def test_every_option_has_help_and_required_ones_say_so():
    from netspace.cli import build_parser

    seen = {}
    for where, action in _options(build_parser()):
        flag = action.option_strings[-1]
        seen.setdefault(where, set()).add(flag)
        if "-h" in action.option_strings:
            continue
        assert action.help and action.help.strip(), f"{where} {flag}: no help"
        if action.required:
            assert "(required)" in action.help, f"{where} {flag} is required but its help does not say so"
    assert {"netspace sweep run", "netspace sweep status", "netspace sweep export", "netspace search"} <= set(seen)
    assert {"--samples", "--out", "--epochs"} <= seen["netspace sweep run"]


def test_strategy_choices_come_from_the_registry():
    from netspace.cli import build_parser
    from netspace.search import STRATEGIES

    (action,) = [a for where, a in _options(build_parser()) if where == "netspace search" and "--strategy" in a.option_strings]
    assert list(action.choices) == list(STRATEGIES)
    assert all(f"{name}: {cls.about}" in action.help for name, cls in STRATEGIES.items() if cls.about)


def test_info_and_zoo_are_one_api_call_each(capsys):
    # What the commands print is the API's plain data, formatted.
    assert main(["info", "ResNet-20", "--resolution", "28", "--channels", "1", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    info = zoo.info("ResNet-20", resolution=28, channels=1)
    assert printed == json.loads(json.dumps(info.to_dict()))
    assert info.complexity == complexity(info.spec) and info.spec.in_channels == 1
    assert zoo.info(info.spec).to_dict() == info.to_dict()  # a spec is taken as it is
    assert main(["zoo", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == zoo.table()


def test_export_table_text_and_files(tmp_path):
    from netspace.run import export_table

    rows = [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    assert export_table(rows, "csv") == "a,b\n1,x\n2,\n"
    assert json.loads(export_table(rows, "json")) == rows
    assert export_table(rows, "json", tmp_path / "t.json") is None
    assert json.loads((tmp_path / "t.json").read_text()) == rows
    from netspace.errors import NetspaceError

    with pytest.raises(NetspaceError, match="parquet needs --out"):
        export_table(rows, "parquet")
    with pytest.raises(NetspaceError, match="unknown export format"):
        export_table(rows, "xlsx")


def test_status_and_load_read_a_sweep_and_its_exported_csv(tmp_path):
    from netspace.run import Store, export_rows, export_table, status
    from netspace.run.frame import load

    sweep = tmp_path / "sw"
    with Store(sweep, create=True) as store:
        store.add_trials(settings={"config": {"space": "RegNetX"}},
                         rows=[(i, {"depth": 13, "w0": 24 + 8 * i}, {"stages": []},
                                {"flops": 10 + i, "params": 20, "acts": 30}) for i in range(2)])
        store.record_result(1, {"status": "done", "error": 9.5, "epochs": 1, "wall_seconds": 2.0}, [])
    st = status(sweep)
    assert st["search"] is None and st["total"] == 2 and st["best"]["trial"] == 1
    export_table(export_rows(sweep), "csv", tmp_path / "sw.csv")
    frame = load([sweep, f"again={tmp_path / 'sw.csv'}"])
    assert list(frame["sweep"]) == ["sw", "sw", "again", "again"]  # a CSV is labelled as a directory is
    assert list(frame["w0"]) == [24, 32, 24, 32] and list(frame["error"].iloc[[1, 3]]) == [9.5, 9.5]
