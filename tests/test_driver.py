"""The one driver: sweeps and searches share the proposer interface, the window, the trial row and the
trial configuration; a random search draws a sweep's models; `netspace train` repeats a sweep trial exactly;
stores written with flat settings by earlier versions still continue."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from netspace.errors import NetspaceError
from netspace.run import Store, export_rows, run_search, run_sweep, search_config, sweep_config
from netspace.run.config import SweepConfig, upgrade
from netspace.search import make_strategy
from netspace.search.propose import SpaceSampler, TokenProposer
from netspace.spaces import get_space
from netspace.train.config import TrialConfig, trial_config

sys.path.insert(0, str(Path(__file__).parent))
from search_space import TinySpace  # noqa: E402

FMNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
needs_fmnist = pytest.mark.skipif(not FMNIST.exists(), reason="Fashion-MNIST files not installed")
TRIAL = dict(epochs=1, limit_train=256, limit_test=128, batch_size=64, precision="fp32")


def _quiet(_msg: str) -> None:
    pass


# -- proposers, no training ----------------------------------------------------------
def test_sampler_rounds_draw_the_sweeps_models():
    space = get_space("RegNetX", resolution=28, in_channels=1, num_classes=10)
    whole = space.sample(7, seed=3, flops="3M:12M").samples
    sampler = SpaceSampler(space, seed=3, window={"flops": "3M:12M"})
    rounds = sampler.ask(2) + sampler.ask(2) + sampler.ask(3)
    assert [c.params for c in rounds] == [s.params for s in whole]
    assert all(3e6 <= c.complexity["flops"] <= 12e6 for c in rounds) and sampler.asked == 7


@pytest.mark.parametrize("kind", ["evolution", "reinforce"])
def test_token_strategies_never_propose_outside_the_window(kind):
    space = TinySpace()
    options = {"population": 4, "sample_size": 2} if kind == "evolution" else {"batch_size": 2}
    proposer = TokenProposer(space, make_strategy(kind, space, seed=1, **options), window={"flops": "300K:460K"})
    for _ in range(6):
        for c in proposer.ask(2):
            assert 300_000 <= c.complexity["flops"] <= 460_000
            proposer.tell(c.tokens, 0.5)
    # 9 of the space's 16 networks lie in the window: about 7 of every 16 candidates are rejected
    assert proposer.rejected > 0 and proposer.asked == proposer.told == 12
    # REINFORCE learns that infeasible candidates are worth 0; evolution only redraws them
    told = proposer.strategy.told
    assert told == (12 + proposer.rejected if kind == "reinforce" else 12)
    state = proposer.state_dict()
    again = TokenProposer(space, make_strategy(kind, space, seed=1, **options), window={"flops": "300K:460K"})
    again.load_state_dict(json.loads(json.dumps(state)))
    assert [c.tokens for c in again.ask(3)] == [c.tokens for c in proposer.ask(3)]


def test_an_impossible_window_is_one_clear_error():
    space = TinySpace()
    proposer = TokenProposer(space, make_strategy("evolution", space, seed=0), window={"flops": "1:2"})
    with pytest.raises(NetspaceError, match=r"candidates in a row fell outside flops .*widen the window"):
        proposer.ask(1)


# -- settings: nested, declared once, old stores upgraded ------------------------------
def test_flat_settings_of_earlier_versions_upgrade_to_the_nested_form():
    flat = {"space": "RegNetX", "samples": 3, "epochs": 1, "data": "fashion-mnist", "flops": "3M:12M",
            "params": None, "acts": None, "seed": 0, "variant": None, "data_dir": None, "batch_size": 64, "lr": 0.2,
            "limit_train": 512, "limit_test": 256, "val_fraction": 0.0, "eval_split": "test", "precision": "fp32",
            "zero_init_last_bn": True}
    now = sweep_config("RegNetX", 3, flops="3M:12M", epochs=1, batch_size=64, limit_train=512, limit_test=256,
                       precision="fp32", zero_init_last_bn=True)
    assert upgrade(flat) == now.to_dict()
    assert SweepConfig.from_dict(flat) == now
    # the one settings-diff names dotted keys
    from netspace.train.settings import differences

    assert differences(upgrade({**flat, "lr": 0.1}), now.to_dict()) == ["trial.schedule.lr: 0.1 -> 0.2"]


def test_trial_config_routes_flat_keys_and_refuses_unknown_ones():
    t = trial_config(epochs=3, data="cifar10", limit_train=10, weight_decay=0.0)
    assert (t.schedule.epochs, t.data.name, t.data.limit_train, t.schedule.weight_decay) == (3, "cifar10", 10, 0.0)
    assert TrialConfig.from_dict(json.loads(json.dumps(t.to_dict()))) == t
    with pytest.raises(NetspaceError, match="unknown trial setting 'epoch'"):
        trial_config(epoch=3)
    with pytest.raises(NetspaceError, match="needs --val-fraction > 0"):
        trial_config(eval_split="val")


# -- real runs ---------------------------------------------------------------------
@needs_fmnist
def test_random_search_trains_a_sweeps_models_inside_the_window_in_the_same_rows(tmp_path):
    sweep = tmp_path / "sweep"
    search = tmp_path / "search"
    run_sweep(sweep_config("RegNetX", 3, flops="3M:12M", **TRIAL), sweep, workers=2, log=_quiet)
    summary = run_search(search_config("RegNetX", "random", 3, flops="3M:12M", batch=2, **TRIAL), search,
                         workers=2, log=_quiet)
    assert summary["counts"]["done"] == 3 and summary["told"] == 3
    with Store(sweep) as a, Store(search) as b:
        assert [t.params for t in a.trials()] == [t.params for t in b.trials()]
        assert all(3e6 <= t.flops <= 12e6 for t in b.trials())
    rows_a, rows_b = export_rows(sweep), export_rows(search)
    assert set(rows_a[0]) <= set(rows_b[0])  # the search adds its reward columns, nothing else differs
    # evaluated on the validation split (the search's default), the sweep on test
    assert {json.loads((search / "trials" / "0000" / "result.json").read_text())["eval_split"]} == {"val"}


@needs_fmnist
def test_netspace_train_repeats_a_sweep_trial_exactly(tmp_path):
    from netspace.cli import main

    config = sweep_config("RegNetX", 1, flops="3M:12M", **TRIAL)
    run_sweep(config, tmp_path / "sweep", workers=1, log=_quiet)
    with Store(tmp_path / "sweep") as store:
        (t,) = store.trials()
        swept = store.metrics(0)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(t.spec))
    assert main(["train", str(spec), "--out", str(tmp_path / "train"), "--quiet", "--epochs", "1",
                 "--limit-train", "256", "--limit-test", "128", "--batch-size", "64", "--precision", "fp32"]) == 0
    trained = [json.loads(line) for line in (tmp_path / "train" / "metrics.jsonl").read_text().splitlines()]
    keys = ("train_loss", "train_error", "test_error", "lr")
    assert [[m[k] for k in keys] for m in trained] == [[m[k] for k in keys] for m in swept]


@needs_fmnist
def test_a_store_with_flat_settings_continues_without_retraining(tmp_path):
    out = tmp_path / "old"
    config = sweep_config("RegNetX", 2, flops="3M:12M", **TRIAL)
    run_sweep(config, out, workers=2, log=_quiet)
    flat = {"space": "RegNetX", "samples": 2, "epochs": 1, "data": "fashion-mnist", "flops": "3M:12M",
            "params": None, "acts": None, "seed": 0, "variant": None, "data_dir": None, "batch_size": 64,
            "lr": 0.2, "limit_train": 256, "limit_test": 128, "val_fraction": 0.0, "eval_split": "test",
            "precision": "fp32", "zero_init_last_bn": True}
    with Store(out) as store:  # as an earlier version stored it
        store.put_settings({"config": flat})
        errors = [t.error for t in store.trials()]
    lines: list[str] = []
    run_sweep(config, out, workers=2, log=lines.append)
    assert lines == ["all 2 trials finished"]
    with Store(out) as store:
        assert [t.error for t in store.trials()] == errors
    with pytest.raises(NetspaceError, match=r"other settings \(trial\.schedule\.epochs: 1 -> 2\)"):
        run_sweep(sweep_config("RegNetX", 2, flops="3M:12M", **{**TRIAL, "epochs": 2}), out, log=_quiet)


@needs_fmnist
def test_limit_test_bounds_the_evaluated_validation_split_and_older_stores_keep_what_they_evaluated(tmp_path):
    """Stores written before ``limit_val`` existed evaluated their whole validation split: a rerun says so
    (naming ``limit_val``) rather than mixing trials evaluated on other images, and continues with
    ``--limit-val all``."""
    out = tmp_path / "val"
    trial = {**TRIAL, "val_fraction": 0.25, "eval_split": "val"}
    config = sweep_config("RegNetX", 1, flops="3M:12M", **trial)
    run_sweep(config, out, workers=1, log=_quiet)
    result = json.loads((out / "trials" / "0000" / "result.json").read_text())
    assert result["eval_split"] == "val" and result["data"]["eval_size"] == 128
    with Store(out) as store:  # as a version before limit_val stored it
        stored = store.settings()["config"]
        del stored["trial"]["data"]["limit_val"]
        store.put_settings({"config": stored})
        errors = [t.error for t in store.trials()]
    with pytest.raises(NetspaceError, match=r"other settings \(trial\.data\.limit_val: 'all' -> 128\).*--force-new"):
        run_sweep(config, out, log=_quiet)
    lines: list[str] = []
    run_sweep(sweep_config("RegNetX", 1, flops="3M:12M", **trial, limit_val="all"), out, workers=1, log=lines.append)
    assert lines == ["all 1 trials finished"]
    with Store(out) as store:
        assert [t.error for t in store.trials()] == errors
    # --force-new starts over even with the same settings, keeping the old sweep aside
    lines = []
    run_sweep(config, out, workers=1, force_new=True, log=lines.append)
    assert any(line.startswith("previous sweep moved to") for line in lines)
    assert len(list(out.glob("previous-*/sweep.sqlite"))) == 1
    with Store(out) as store:
        assert [t.status for t in store.trials()] == ["done"]


@needs_fmnist
def test_a_larger_samples_extends_a_sweep_with_the_next_draws(tmp_path):
    run_sweep(sweep_config("RegNetX", 1, flops="3M:12M", **TRIAL), tmp_path / "a", workers=1, log=_quiet)
    with Store(tmp_path / "a") as store:
        first = store.trials()[0]
    run_sweep(sweep_config("RegNetX", 2, flops="3M:12M", **TRIAL), tmp_path / "a", workers=1, log=_quiet)
    space = get_space("RegNetX", resolution=28, in_channels=1, num_classes=10)
    with Store(tmp_path / "a") as store:
        trials = store.trials()
    assert [t.params for t in trials] == [s.params for s in space.sample(2, seed=0, flops="3M:12M").samples]
    assert trials[0].error == first.error and [t.status for t in trials] == ["done", "done"]
    with pytest.raises(NetspaceError, match="--samples 1 is below the 2 models"):
        run_sweep(sweep_config("RegNetX", 1, flops="3M:12M", **TRIAL), tmp_path / "a", log=_quiet)


def test_durations_and_the_samples_a_time_budget_buys():
    from netspace.study import parse_duration, samples_for

    assert [parse_duration(t) for t in ("1h", "45m", "1h30m", "90s", "600", "0.5h")] == \
        [3600, 2700, 5400, 90, 600, 1800]
    with pytest.raises(NetspaceError, match="--time takes a duration"):
        parse_duration("soon")
    assert samples_for(3600, 30.0, 2, 8) == 30 and samples_for(10, 30.0, 1, 8) == 1


@needs_fmnist
def test_a_time_budgeted_study_measures_then_plans_then_keeps_its_plan(tmp_path):
    from netspace.study import StudyConfig, plan_samples, run_study

    config = StudyConfig(preset="tiny", spaces=("RegNetX", "RegNetY"), time=30.0, trial={"precision": "fp32"},
                         fidelity={"min_models": 2, "epochs_factor": 2})
    lines: list[str] = []
    result = run_study(config, tmp_path, workers=2, report=False, log=lines.append)
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["pilot_models"] == 2 and plan["workers"] == 2
    # the budget covers the fidelity retraining: the plan says how much of it goes there
    assert plan == {**plan, **plan_samples(30.0, plan["seconds_per_model"], 2, 2, config.fidelity, 1)}
    assert plan["fidelity_epochs"] == 2 and plan["fidelity_models"] >= 2 and 0 < plan["fidelity_share"] < 1
    assert all(c["done"] == plan["samples"] for c in result["counts"].values())
    assert sum(c["done"] for c in result["fidelity"].values()) == plan["fidelity_models"]
    assert any("models per space; at n =" in line and "80% power" in line for line in lines)
    assert any(f"retrains {plan['fidelity_models']} models with 2 epochs" in line for line in lines)
    again: list[str] = []
    run_study(config, tmp_path, workers=2, report=False, log=again.append)  # the plan is kept, nothing retrained
    assert json.loads((tmp_path / "plan.json").read_text()) == plan
    assert not any("measuring the cost" in line for line in again)
