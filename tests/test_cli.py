"""The CLI: zoo and info output, and every error path (one line, exit 2, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from netspace import zoo
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
    proc = run(*args)
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
