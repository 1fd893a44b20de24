"""Optuna's samplers through the driver (optuna-tpe, optuna-nsga2) and the Optuna export of sweeps, with the real
Optuna: parameters as distributions, asks inside the space and the window, a rebuilt study asking what the
uninterrupted one asks, a real search interrupted and resumed without retraining, and a sweep loaded back with
optuna.load_study."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", minversion="5")

from netspace.errors import NetspaceError  # noqa: E402
from netspace.search import OptunaNSGA2, OptunaTPE, SearchError, make_strategy  # noqa: E402
from netspace.spaces import get_space  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from search_space import TinySpace  # noqa: E402

FMNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
needs_fmnist = pytest.mark.skipif(not FMNIST.exists(), reason="Fashion-MNIST files not installed")
WINDOW = {"flops": "3M:12M"}


def _regnetx():
    return get_space("RegNetX", resolution=28, in_channels=1, num_classes=10)


def _reward(c) -> float:
    """A made-up reward with an optimum inside the window (the samplers only need a number to model)."""
    return 0.9 - abs(c.complexity["flops"] - 6e6) / 1e8


def test_parameters_become_distributions():
    from optuna.distributions import CategoricalDistribution, IntDistribution

    space = _regnetx()
    p = OptunaTPE(space, window=WINDOW)
    # Sampled numeric grids: the option's rank, so order is kept (wa's log grid is uniform in the rank).
    for name, options in space.tokens():
        assert p.distributions[name] == IntDistribution(0, len(options) - 1)
    mnas = get_space("mnasnet", resolution=28, in_channels=1, num_classes=10)
    q = OptunaTPE(mnas)
    for name, options in mnas.tokens():
        assert q.distributions[name] == CategoricalDistribution(options)
    with pytest.raises(SearchError, match="proposes from a design space, not from tokens"):
        make_strategy("optuna-tpe", space.tokens())
    with pytest.raises(SearchError, match="--population must be an integer >= 2"):
        OptunaNSGA2(space, population=1)


def test_tpe_asks_valid_designs_inside_the_window():
    space = _regnetx()
    p = OptunaTPE(space, seed=1, window=WINDOW)
    seen = []
    for _ in range(7):
        for c in p.ask(3):
            params = space.params_from_tokens(c.tokens)
            assert params == c.params and space.membership_problem(params) == ""
            assert 3e6 <= c.complexity["flops"] <= 12e6
            seen.append(c)
            p.tell(c.tokens, _reward(c))
    trials = p.study.get_trials(deepcopy=False)
    # Past the 10 start draws TPE proposes; what fell outside was never asked but told to Optuna as infeasible.
    assert len(seen) == 21 and p.numbers[-1] >= 20
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert len(pruned) == p.rejected and all(t.constraints["window"] > 0 for t in pruned)
    assert [trials[n].values[0] for n in p.numbers] == [_reward(c) for c in seen]
    assert all(trials[n].user_attrs["flops"] == c.complexity["flops"] for n, c in zip(p.numbers, seen))


@pytest.mark.parametrize("cls", [OptunaTPE, OptunaNSGA2])
def test_a_rebuilt_study_asks_what_the_uninterrupted_one_asks(cls):
    space = _regnetx()
    options = dict(seed=3, window=WINDOW, population=4)
    a = cls(space, **options)
    asked, state, pending = [], None, None
    for r in range(6):
        cs = a.ask(3)
        asked += [c.tokens for c in cs]
        if r == 3:  # killed with a round asked and not told
            state, pending = json.loads(json.dumps(a.state_dict())), cs
        for c in cs:
            a.tell(c.tokens, _reward(c), {"flops": c.complexity["flops"], "latency_ms": None})
    b = cls(space, **options)
    b.load_state_dict(state)
    assert (b.asked, b.told) == (12, 9)
    for c in pending:
        b.tell(c.tokens, _reward(c), {"flops": c.complexity["flops"], "latency_ms": None})
    again = []
    for _ in range(2):
        cs = b.ask(3)
        again += [c.tokens for c in cs]
        for c in cs:
            b.tell(c.tokens, _reward(c))
    assert again == asked[12:]
    assert [t.values for t in b.study.trials] == [t.values for t in a.study.trials]
    if cls is OptunaNSGA2:  # error %, flops
        done = [t for t in a.study.trials if t.state.name == "COMPLETE"]
        assert all(t.values[1] == t.user_attrs["flops"] and 0 <= t.values[0] <= 100 for t in done)
    with pytest.raises(SearchError, match="saved strategy state is 'optuna"):
        (OptunaNSGA2 if cls is OptunaTPE else OptunaTPE)(space, **options).load_state_dict(state)


def test_search_config_of_the_optuna_strategies():
    from netspace.run import search_config

    c = search_config("RegNetX", "optuna-nsga2", 4)
    assert c.latency == "flops" and c.strategy_options() == {"population": 16, "cost": "flops"}
    assert search_config("RegNetX", "optuna-nsga2", 4, latency="measure").strategy_options()["cost"] == "latency_ms"
    with pytest.raises(NetspaceError, match="optuna-nsga2 trades error against the cost itself"):
        search_config("RegNetX", "optuna-nsga2", 4, reward="mnas", target_latency=2.0)
    with pytest.raises(NetspaceError, match="optuna-nsga2 needs a cost"):
        search_config("RegNetX", "optuna-nsga2", 4, latency="none")


# -- real training -------------------------------------------------------------------
TINY = dict(space="tiny", epochs=1, limit_train=256, limit_test=128, val_fraction=0.01, batch_size=32,
            precision="fp32", seed=0)


class Interrupt:
    """A log that stops the drive like Ctrl-C once ``after`` trials have finished."""

    def __init__(self, after: int) -> None:
        self.after, self.finished = after, 0

    def __call__(self, message: str) -> None:
        if message.startswith("["):  # "[k/n] trial i: done ..."
            self.finished += 1
            if self.finished == self.after:
                raise KeyboardInterrupt


@needs_fmnist
@pytest.mark.slow
def test_search_interrupted_and_resumed_without_retraining(tmp_path):
    strategy = "optuna-nsga2"  # the driver's measurements reach both objectives; a round is pending at the stop
    from netspace.run import Store, search_config
    from netspace.run.search import run_search

    config = search_config(**TINY, strategy=strategy, budget=4, batch=2, population=2)
    out = tmp_path / "s"
    with pytest.raises(KeyboardInterrupt):
        run_search(config, out, workers=1, space=TinySpace(), log=Interrupt(after=3))
    with Store(out) as store:
        done = {t.trial: t.error for t in store.trials("done")}
        state = store.settings()["strategy_state"]
    assert len(done) == 3 and state["kind"] == strategy and state["told"] == 3 and state["asked"] == 4
    results = {i: out / "trials" / f"{i:04d}" / "result.json" for i in done}
    mtimes = {i: p.stat().st_mtime_ns for i, p in results.items() if p.exists()}  # a reused result has none
    assert mtimes
    summary = run_search(config, out, workers=1, space=TinySpace(), log=lambda m: None)
    assert summary["counts"]["done"] == 4 and summary["told"] == 4
    with Store(out) as store:
        trials, rows, final = store.trials(), store.search_rows(), store.settings()["strategy_state"]
        assert all([m["epoch"] for m in store.metrics(t.trial)] == [1] for t in trials
                   if not (t.message or "").endswith("is reused"))
    for i, err in done.items():  # finished trials were not trained again
        assert trials[i].error == err
    assert all(results[i].stat().st_mtime_ns == m for i, m in mtimes.items())
    # The rebuilt study holds every trial's value as the driver computed it, in order.
    studied = [final["trials"][n] for n in final["numbers"]]
    for t, s in zip(trials, studied):
        reward = rows[t.trial]["reward"]
        assert s["state"] == "COMPLETE" and s["user_attrs"]["flops"] == t.flops
        assert s["values"] == [100 * (1 - reward), t.flops]
        assert TinySpace().params_from_tokens(rows[t.trial]["tokens"]) == t.params


def test_cli_refuses_bad_optuna_settings(tmp_path):
    cmd = [sys.executable, "-m", "netspace.cli", "search", "RegNetX", "--strategy", "optuna-nsga2", "--budget", "2",
           "--reward", "mnas", "--target-latency", "2", "--out", str(tmp_path / "x")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "optuna-nsga2 trades error against the cost itself" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x").exists()


# -- sweep export --format optuna ------------------------------------------------------
SWEEP = dict(space="RegNetX", epochs=1, flops="3M:12M", limit_train=256, limit_test=128, batch_size=64,
             precision="fp32")


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory):
    """A study directory with two real sweeps: two trained networks, and one whose learning rate diverges."""
    if not FMNIST.exists():
        pytest.skip("Fashion-MNIST files not installed")
    from netspace.run import run_sweep, sweep_config

    root = tmp_path_factory.mktemp("study")
    run_sweep(sweep_config(samples=2, **SWEEP), root / "fine", workers=2, log=lambda m: None)
    run_sweep(sweep_config(samples=1, lr=1e6, **SWEEP), root / "wild", workers=1, log=lambda m: None)
    return root


@pytest.mark.slow
def test_sweep_export_optuna_loads_back(two_sweeps, tmp_path):
    from netspace.run import export_rows
    from netspace.schema import columns_with_role

    db = tmp_path / "sweeps.db"
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "sweep", "export", str(two_sweeps), "--format",
                           "optuna", "--out", str(db)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "study 'fine': 2 complete, 0 failed" in proc.stdout and "study 'wild': 0 complete, 1 failed" in proc.stdout
    url = f"sqlite:///{db}"
    assert sorted(s.study_name for s in optuna.get_all_study_summaries(url)) == ["fine", "wild"]
    rows = export_rows(two_sweeps)
    for name in ("fine", "wild"):
        study = optuna.load_study(study_name=name, storage=url)
        mine = [r for r in rows if r["sweep"] == name]
        assert len(study.trials) == len(mine)
        for t, r in zip(study.trials, mine):
            assert t.user_attrs == {"trial": r["trial"], "flops": r["flops"], "params": r["params"],
                                    "acts": r["acts"]}
            design = columns_with_role(r, "design")
            assert {"depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio"} <= set(design)
            assert t.params == {k: r[k] for k in design}
            if r["status"] == "done":
                assert t.state.name == "COMPLETE" and t.value == r["error"]
            else:
                assert r["status"] in ("diverged", "failed") and t.state.name == "FAIL" and t.value is None
    from optuna.visualization.matplotlib import plot_edf

    ax = plot_edf(optuna.load_study(study_name="fine", storage=url))
    # The error EDF of the sweep: 0.5 at the smaller of the two errors, 1 from the larger on.
    (line,) = ax.get_lines()
    x, y = line.get_xdata(), line.get_ydata()
    errors = sorted(r["error"] for r in rows if r["sweep"] == "fine")
    assert x.min() <= errors[0] and x.max() >= errors[1] and y[-1] == pytest.approx(1.0)
    assert y[x >= errors[0]][0] == pytest.approx(0.5 if errors[0] < errors[1] else 1.0)
    # Never over an existing storage; every row format still reads the study directory.
    again = subprocess.run([sys.executable, "-m", "netspace.cli", "sweep", "export", str(two_sweeps), "--format",
                            "optuna", "--out", str(db)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and "exists; give a new --out" in again.stderr and "Traceback" not in again.stderr
    assert len(optuna.load_study(study_name="fine", storage=url).trials) == 2
    assert [r["sweep"] for r in rows] == ["fine", "fine", "wild"]
