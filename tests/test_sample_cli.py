"""``netspace sample``: the sweep's sampler, records as the issue defines them, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from netspace.cli import main
from netspace.complexity import complexity
from netspace.spaces import get_space, parse_window, sample_population


def _json(capsys, *argv: str) -> list[dict]:
    assert main(["sample", *argv]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_records_are_the_sweep_samplers_draws(capsys):
    records = _json(capsys, "AnyNetX_C", "--n", "25", "--flops", "8M:10M", "--resolution", "28", "--channels", "1",
                    "--classes", "10", "--seed", "3")
    space = get_space("AnyNetX_C", resolution=28, in_channels=1, num_classes=10)
    expected = space.sample(25, seed=3, flops="8M:10M")  # what a sweep with this seed and window trains
    assert len(records) == 25
    window = parse_window("8M:10M")
    for r, s in zip(records, expected):
        assert set(r) == {"space", "design", "complexity", "stages"}
        assert r["space"] == "AnyNetX_C" and r["design"] == s.params
        assert r["complexity"] == complexity(s.spec) and window.contains(r["complexity"]["flops"])
        assert [(st["depth"], st["width"], st["group_width"]) for st in r["stages"]] == [
            (st.depth, st.width, st.group_width) for st in s.spec.stages]


def test_stages_are_info_json_objects(capsys):
    [record] = _json(capsys, "RegNetX", "--n", "1", "--seed", "1")
    assert main(["info", "regnetx-200mf", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [set(st) for st in record["stages"]] == [set(info["stages"][0])] * len(record["stages"])
    for key in ("depth", "width", "stride", "group_width", "bottleneck_ratio", "se_ratio"):
        assert all(key in st for st in record["stages"])


def test_no_window_is_unconstrained_and_params_acts_windows_hold(capsys):
    free = _json(capsys, "RegNet", "--n", "200")
    flops = [r["complexity"]["flops"] for r in free]
    assert max(flops) > 10 * min(flops)  # no default window
    limited = _json(capsys, "RegNetX", "--n", "30", "--params", ":3M", "--acts", "2M:")
    assert all(r["complexity"]["params"] <= 3e6 and r["complexity"]["acts"] >= 2e6 for r in limited)


def test_csv_has_one_row_per_network(capsys):
    assert main(["sample", "AnyNetX_A", "--n", "5", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 5
    records = sample_population("AnyNetX_A", 5)
    for row, r in zip(rows, records):
        assert row["space"] == "AnyNetX_A" and int(row["flops"]) == r["complexity"]["flops"]
        assert [int(row[f"depth{i}"]) for i in range(1, 5)] == r["design"]["depths"]
        assert int(row["s2.width"]) == r["stages"][1]["width"]


@pytest.mark.parametrize("argv, message", [
    (["RegNetZ", "--n", "2"], "unknown design space 'RegNetZ'"),
    (["RegNetX", "--n", "0"], "n must be a positive integer"),
    (["RegNetX", "--n", "2", "--flops", "lots"], "flops window 'lots'"),
    (["RegNetX", "--n", "2", "--flops", "1k:2k"], "RegNetX: no network in flops 1k:2k"),
    (["RegNetX", "--n", "2", "--resolution", "0"], "resolution must be a positive integer"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
    assert main(["sample", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("netspace sample: error: ") and message in err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["sample", "RegNetX", "--n", "two"])
    assert e.value.code == 2 and capsys.readouterr().err.count("\n") == 1
