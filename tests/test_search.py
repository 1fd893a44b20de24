"""Search: strategies (REINFORCE controller, aging evolution, random), the MnasNet reward, the search
driver on real Fashion-MNIST training (store, resume after SIGKILL with the controller state), errors."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from netspace.errors import NetspaceError
from netspace.search import (
    RandomSearch, RegularizedEvolution, Reinforce, Reward, SearchError, make_strategy, mnas_reward,
)

sys.path.insert(0, str(Path(__file__).parent))
from search_space import TinySpace  # noqa: E402

FMNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
needs_fmnist = pytest.mark.skipif(not FMNIST.exists(), reason="Fashion-MNIST files not installed")

DECISIONS = [("op", ("a", "b", "c", "d")), ("k", (3, 5, 7)), ("e", (1, 2))]


# -- REINFORCE ------------------------------------------------------------------
def test_one_update_moves_probability_toward_the_rewarded_token():
    s = Reinforce(DECISIONS, seed=0, batch_size=4, lr=0.05, entropy_weight=0.0)
    before = s.controller.probabilities([], 0).tolist()
    assert all(abs(p - 0.25) < 0.05 for p in before)  # starts near uniform
    # Only token 2 of the first decision is rewarded.
    for tokens, reward in [([2, 0, 0], 1.0), ([0, 0, 0], 0.0), ([1, 1, 1], 0.0), ([3, 2, 0], 0.0)]:
        s.tell(tokens, reward)
    assert s.updates == 1 and s.buffer == []
    after = s.controller.probabilities([], 0).tolist()
    assert after[2] > before[2] + 0.02
    assert all(after[i] < before[i] for i in (0, 1, 3))


def test_controller_learns_a_toy_reward():
    s = Reinforce(DECISIONS, seed=1, batch_size=8, lr=0.05, entropy_weight=1e-3)
    p0 = float(s.controller.probabilities([], 0)[2])
    for _ in range(20):
        for tokens in s.ask(8):
            s.tell(tokens, 1.0 if tokens[0] == 2 else 0.0)
    p1 = float(s.controller.probabilities([], 0)[2])
    assert s.updates == 20 and p0 < 0.3 and p1 > 0.8
    sampled = s.ask(50)
    assert sum(t[0] == 2 for t in sampled) >= 35
    assert s.history[-1]["mean_reward"] > s.history[0]["mean_reward"]


def test_reinforce_state_round_trip_continues_exactly():
    a = Reinforce(DECISIONS, seed=3, batch_size=3)
    reward = lambda t: 0.1 * t[0] + 0.05 * t[1]  # noqa: E731
    for tokens in a.ask(4):  # a full batch and one more: the buffer is part-filled
        a.tell(tokens, reward(tokens))
    state = json.loads(json.dumps(a.state_dict()))  # JSON-able
    b = Reinforce(DECISIONS, seed=99, batch_size=3)
    b.load_state_dict(state)
    for _ in range(4):
        ta, tb = a.ask(3), b.ask(3)
        assert ta == tb
        for t in ta:
            a.tell(t, reward(t))
            b.tell(t, reward(t))
    for (ka, va), (kb, vb) in zip(a.controller.state_dict().items(), b.controller.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    assert a.baseline == b.baseline and a.updates == b.updates == 5


def test_same_seed_same_proposals_for_every_strategy():
    for kind in ("random", "reinforce", "evolution"):
        runs = []
        for seed in (0, 0, 1):
            s = make_strategy(kind, DECISIONS, seed=seed, **({"population": 4, "sample_size": 2}
                                                             if kind == "evolution" else {}))
            asked = []
            for _ in range(4):
                batch = s.ask(3)
                asked += batch
                for t in batch:
                    s.tell(t, float(sum(t)))
            runs.append(asked)
        assert runs[0] == runs[1], kind
        assert runs[0] != runs[2], kind


def test_random_search_covers_every_option_uniformly():
    s = RandomSearch(DECISIONS, seed=0)
    tokens = s.ask(3000)
    counts = [sum(t[0] == o for t in tokens) for o in range(4)]
    assert all(650 < c < 850 for c in counts)
    assert all(0 <= t[1] < 3 and 0 <= t[2] < 2 for t in tokens)


# -- evolution ------------------------------------------------------------------
def test_evolution_population_invariants():
    P, S = 5, 5
    s = RegularizedEvolution(DECISIONS, seed=0, population=P, sample_size=S)
    score = lambda t: 10 * t[0] + t[1] + 0.5 * t[2]  # noqa: E731
    first = s.ask(P)  # the first P candidates are random
    for t in first:
        s.tell(t, score(t))
    assert [m["born"] for m in s.population] == list(range(P))
    for step in range(30):
        members = list(s.population)
        (child,) = s.ask(1)
        # a child is a member with exactly one decision changed
        assert any(sum(a != b for a, b in zip(child, m["tokens"])) == 1 for m in members)
        s.tell(child, score(child))
        # size stays P; the oldest left, the child joined as the youngest
        assert len(s.population) == P
        assert [m["born"] for m in s.population] == list(range(step + 1, step + P + 1))
        assert s.population[-1]["tokens"] == child
    assert s.best["reward"] == max(score(t) for t in [m["tokens"] for m in s.population] + [s.best["tokens"]])
    assert s.best["reward"] >= 30  # found op 'd' (token 3)


def test_evolution_tournament_draws_with_replacement():
    # Two members, S = 2: drawn with replacement (Real et al., Algorithm 1) the worse one is the parent when
    # both draws pick it, 1/4 of the time; without replacement it would never be.
    decisions = [(f"d{i}", (0, 1, 2, 3)) for i in range(6)]
    s = RegularizedEvolution(decisions, seed=0, population=2, sample_size=2)
    worse, better = [0] * 6, [3] * 6
    s.ask(2)
    s.tell(worse, 0.0)
    s.tell(better, 1.0)
    children = s.ask(4000)
    from_worse = sum(sum(a != b for a, b in zip(c, worse)) == 1 for c in children)
    assert 0.22 < from_worse / len(children) < 0.28


def test_evolution_mutation_and_bad_options():
    s = RegularizedEvolution([("x", (0,)), ("y", (0, 1, 2))], seed=0, population=2, sample_size=1)
    for _ in range(20):
        child = s.mutate([0, 1])
        assert child[0] == 0 and child[1] in (0, 2)  # the one-option decision never changes
    with pytest.raises(SearchError, match="sample size must be in"):
        RegularizedEvolution(DECISIONS, population=4, sample_size=5)
    with pytest.raises(SearchError, match="population must be"):
        RegularizedEvolution(DECISIONS, population=1)


def test_strategy_misuse_errors():
    s = RandomSearch(DECISIONS)
    with pytest.raises(SearchError, match="do not fit"):
        s.tell([4, 0, 0], 1.0)
    with pytest.raises(SearchError, match="finite"):
        s.tell([0, 0, 0], float("nan"))
    with pytest.raises(SearchError, match="n >= 1"):
        s.ask(0)
    with pytest.raises(SearchError, match="at least one decision"):
        RandomSearch([])
    with pytest.raises(SearchError, match="unknown strategy 'annealing'"):
        make_strategy("annealing", DECISIONS)
    with pytest.raises(SearchError, match="not 'evolution'"):
        RegularizedEvolution(DECISIONS).load_state_dict(RandomSearch(DECISIONS).state_dict())


# -- reward ---------------------------------------------------------------------
def test_mnas_reward_soft_and_hard_constraints():
    # soft: alpha = beta = -0.07 on both sides of the target
    soft = Reward("mnas", target=10.0, constraint="soft")
    assert soft(0.8, 10.0) == pytest.approx(0.8)
    assert soft(0.8, 20.0) == pytest.approx(0.8 * 2 ** -0.07) == pytest.approx(0.762110, abs=1e-6)
    assert soft(0.8, 5.0) == pytest.approx(0.8 * 0.5 ** -0.07) == pytest.approx(0.839773, abs=1e-6)
    # hard: alpha = 0 (no bonus under the target), beta = -1 (reward scaled by T/LAT above it)
    hard = Reward("mnas", target=10.0, constraint="hard")
    assert hard(0.8, 5.0) == 0.8 and hard(0.8, 10.0) == 0.8
    assert hard(0.8, 20.0) == pytest.approx(0.4) and hard(0.8, 40.0) == pytest.approx(0.2)
    assert mnas_reward(0.5, 3.0, 2.0, alpha=0.0, beta=-1.0) == pytest.approx(0.5 * 2 / 3)
    assert Reward("accuracy")(0.91) == 0.91


def test_reward_errors():
    with pytest.raises(SearchError, match="needs a target"):
        Reward("mnas")
    with pytest.raises(SearchError, match="positive number"):
        Reward("mnas", target=-3.0)
    with pytest.raises(SearchError, match="choose soft or hard"):
        Reward("mnas", target=3.0, constraint="medium")
    with pytest.raises(SearchError, match="unknown reward"):
        Reward("speed")
    with pytest.raises(SearchError, match="latency must be a positive"):
        mnas_reward(0.9, 0.0, 5.0)


# -- the driver on real training ---------------------------------------------------
TINY = dict(space="tiny", epochs=1, limit_train=384, limit_test=128, val_fraction=0.01, batch_size=32,
            precision="fp32", seed=0)


def _config(**changes):
    from netspace.run import search_config

    return search_config(**{**TINY, "strategy": "evolution", "budget": 6, "batch": 2, "population": 3,
                           "sample_size": 2, "reward": "mnas", "latency": "flops", "target_flops": 4e5, **changes})


def _quiet(_msg: str) -> None:
    pass


def test_search_config_errors():
    from netspace.run.search import SearchConfig

    with pytest.raises(NetspaceError, match="--budget must be an integer >= 1, got 0"):
        SearchConfig(space="mnasnet", strategy="random", budget=0)
    with pytest.raises(NetspaceError, match="unknown strategy 'grid'"):
        SearchConfig(space="mnasnet", strategy="grid", budget=3)
    with pytest.raises(NetspaceError, match="needs --target-latency MS"):
        SearchConfig(space="mnasnet", strategy="random", budget=3, reward="mnas")
    with pytest.raises(NetspaceError, match="--target-latency must be a positive number"):
        SearchConfig(space="mnasnet", strategy="random", budget=3, reward="mnas", target_latency=-1.0)
    with pytest.raises(NetspaceError, match="applies only to --reward mnas"):
        SearchConfig(space="mnasnet", strategy="random", budget=3, target_latency=5.0)
    with pytest.raises(NetspaceError, match="needs --target-flops"):
        SearchConfig(space="mnasnet", strategy="random", budget=3, reward="mnas", latency="flops", target_latency=5.0)


@needs_fmnist
def test_search_errors_for_bad_spaces_and_budgets(tmp_path):
    from netspace.run.search import run_search

    with pytest.raises(NetspaceError, match="unknown design space 'nospace'"):
        run_search(_config(space="nospace"), tmp_path / "a", log=_quiet)
    missing = tmp_path / "missing.yaml"
    with pytest.raises(NetspaceError, match="cannot read space file .*missing.yaml"):
        run_search(_config(space=str(missing)), tmp_path / "b", log=_quiet)
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "search", str(missing), "--strategy", "random",
                           "--budget", "2", "--out", str(tmp_path / "c")], capture_output=True, text=True)
    assert proc.returncode == 2 and "cannot read space file" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "search", "mnasnet", "--strategy", "random",
                           "--budget", "-1", "--out", str(tmp_path / "c")], capture_output=True, text=True)
    assert proc.returncode == 2 and "--budget must be an integer >= 1" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "search", "mnasnet", "--strategy", "random",
                           "--budget", "2", "--reward", "mnas", "--out", str(tmp_path / "c")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "needs --target-latency MS" in proc.stderr


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A finished evolution search of 6 real trials on the tiny space (flops-proxy mnas reward)."""
    if not FMNIST.exists():
        pytest.skip("Fashion-MNIST files not installed")
    from netspace.run.search import run_search

    out = tmp_path_factory.mktemp("search")
    summary = run_search(_config(), out, workers=2, space=TinySpace(), log=_quiet)
    return out, summary


def test_search_stores_trials_rewards_and_state(searched):
    from netspace.run import Store
    from netspace.run.frame import load

    out, summary = searched
    assert summary["trials"] == 6 and summary["counts"]["done"] == 6 and summary["told"] == 6
    with Store(out) as store:
        trials, rows, settings = store.trials(), store.search_rows(), store.settings()
    state = settings["strategy_state"]
    assert state["kind"] == "evolution" and state["asked"] == state["told"] == 6
    assert len(state["population"]) == 3 and [m["born"] for m in state["population"]] == [3, 4, 5]
    for t in trials:
        r = rows[t.trial]
        assert TinySpace().params_from_tokens(r["tokens"]) == t.params
        assert 0 < t.error < 100 and t.epochs == 1
        # reward = ACC x (flops / T)^-0.07 with the soft constraint (MnasNet eq. 2)
        assert r["reward"] == pytest.approx((1 - t.error / 100) * (t.flops / 4e5) ** -0.07, rel=1e-12)
        assert r["latency_ms"] is None
    assert summary["best"]["reward"] == max(r["reward"] for r in rows.values())
    # The strategy saw each trial's reward as stored, in order.
    assert [m["reward"] for m in state["population"]] == [rows[i]["reward"] for i in (3, 4, 5)]
    df = load(out)
    assert list(df["reward"]) == [rows[i]["reward"] for i in range(6)]


def test_search_reads_into_status_and_report(searched):
    out, _ = searched
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "sweep", "status", str(out)],
                          capture_output=True, text=True, check=True)
    assert "done 6" in proc.stdout and "search: evolution, reward mnas, 6 of 6 trials told" in proc.stdout
    from netspace.cli import main

    assert main(["analyze", str(out), "--out", str(out / "report.html")]) == 0
    html = (out / "report.html").read_text()
    assert "Search: reward over time and Pareto front" in html
    front = (out / "report_plots" / "pareto_error_vs_flops.csv").read_text().splitlines()
    assert front[0] == "sweep,trial,flops,error,pareto" and len(front) == 7 and "True" in "".join(front)


def test_search_refuses_changes_and_a_lower_budget_then_extends(searched, tmp_path):
    import shutil

    from netspace.run import Store
    from netspace.run.search import run_search

    out, _ = searched
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    with pytest.raises(NetspaceError, match=r"holds a search with other settings \(population: 3 -> 4\).*--force-new"):
        run_search(_config(population=4), copy, space=TinySpace(), log=_quiet)
    with pytest.raises(NetspaceError, match="--budget 4 is below the 6 trials"):
        run_search(_config(budget=4), copy, space=TinySpace(), log=_quiet)
    mtime = (copy / "trials" / "0000" / "result.json").stat().st_mtime
    summary = run_search(_config(budget=8), copy, workers=2, space=TinySpace(), log=_quiet)
    assert summary["trials"] == 8 and summary["told"] == 8 and summary["counts"]["done"] == 8
    assert (copy / "trials" / "0000" / "result.json").stat().st_mtime == mtime
    with Store(copy) as a, Store(out) as b:
        assert [t.error for t in a.trials()][:6] == [t.error for t in b.trials()]


_DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from search_space import TinySpace
from netspace.run import search_config
from netspace.run.search import run_search
if __name__ == "__main__":
    run_search(search_config(**{config!r}), {out!r}, workers=2, space=TinySpace(), log=lambda m: None)
"""


@needs_fmnist
@pytest.mark.slow
def test_sigkill_search_then_resume_continues_the_controller(tmp_path):
    from netspace.run import Store, search_config
    from netspace.run.search import run_search

    out = tmp_path / "search"
    config = {**TINY, "strategy": "reinforce", "budget": 6, "batch": 2, "controller_lr": 0.05}
    script = tmp_path / "driver.py"
    script.write_text(_DRIVER.format(tests=str(Path(__file__).parent), config=config, out=str(out)))
    log = open(tmp_path / "driver.log", "w")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=log, stderr=log)
    deadline = time.time() + 240
    n_done = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        db = out / "sweep.sqlite"
        if db.exists():
            with sqlite3.connect(db) as con:
                try:
                    n_done = con.execute("SELECT COUNT(*) FROM trials WHERE status='done'").fetchone()[0]
                except sqlite3.OperationalError:
                    continue
            if n_done >= 3:  # past the controller's first update, inside the second round
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(out) as store:
        done_before = {t.trial: t.error for t in store.trials("done")}
        state_before = store.settings()["strategy_state"]
    log.close()
    assert 3 <= len(done_before) < 6, (f"killed with {len(done_before)} trials done: "
                                       + (tmp_path / "driver.log").read_text()[-2000:])
    assert state_before["updates"] >= 1 and 2 <= state_before["told"] <= len(done_before)
    mtimes = {i: (out / "trials" / f"{i:04d}" / "result.json").stat().st_mtime for i in done_before}
    time.sleep(0.5)  # workers die with the driver
    summary = run_search(search_config(**config), out, workers=2, space=TinySpace(), log=_quiet)
    assert summary["counts"]["done"] == 6 and summary["told"] == 6
    with Store(out) as store:
        trials, rows, final = store.trials(), store.search_rows(), store.settings()["strategy_state"]
        for t in trials:
            assert [m["epoch"] for m in store.metrics(t.trial)] == [1]  # each trial trained once, one epoch
    for i, err in done_before.items():
        assert trials[i].error == err
        assert (out / "trials" / f"{i:04d}" / "result.json").stat().st_mtime == mtimes[i]
    # Replaying the stored rewards through a fresh controller asks exactly the stored candidates and
    # ends in exactly the stored state: the resumed search continued the same policy.
    replay = Reinforce(TinySpace(), seed=0, batch_size=2, lr=0.05)
    for first in range(0, 6, 2):
        assert replay.ask(2) == [rows[first]["tokens"], rows[first + 1]["tokens"]]
        for i in (first, first + 1):
            replay.tell(rows[i]["tokens"], rows[i]["reward"])
    assert final["updates"] == replay.updates == 3
    assert final["baseline"] == replay.baseline
    restored = Reinforce(TinySpace(), seed=0, batch_size=2, lr=0.05)
    restored.load_state_dict(final)
    for (_, a), (_, b) in zip(restored.controller.state_dict().items(), replay.controller.state_dict().items()):
        assert torch.equal(a, b)


# -- export -----------------------------------------------------------------------
def test_export_pt2_round_trip_of_the_best_trial(searched, tmp_path):
    from netspace.export import load_model

    out, summary = searched
    path = tmp_path / "best.pt2"
    proc = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-m", "netspace.cli", "export",
                           str(out), "--best", "--format", "pt2", "--out", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"trial {summary['best']['trial']} of" in proc.stdout and "outputs match PyTorch" in proc.stdout
    assert "torch.export.load" in proc.stdout
    model, spec, trial, trained = load_model(out, best=True)
    assert trial == summary["best"]["trial"] and trained
    program = torch.export.load(str(path)).module()
    for n in (1, 5):  # the batch dimension is dynamic
        x = torch.randn(n, 1, 28, 28, generator=torch.Generator().manual_seed(7))
        with torch.no_grad():
            ref, got = model(x), program(x)
        assert ref.shape == (n, 10) and torch.allclose(ref, got, atol=1e-5)
    # the trained weights are the checkpoint's, not a fresh init
    state = torch.load(out / "trials" / f"{trial:04d}" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_export_onnx_round_trip(searched, tmp_path):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from netspace.export import export_model, load_model

    out, _ = searched
    result = export_model(out, tmp_path / "t1.onnx", format="onnx", trial=1)
    assert result.trial == 1 and result.checked_with == "onnxruntime" and result.max_abs_diff < 1e-4
    model, _, _, _ = load_model(out, trial=1)
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    session = ort.InferenceSession(str(tmp_path / "t1.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": x.numpy()})[0]
    with torch.no_grad():
        assert abs(got - model(x).numpy()).max() < 1e-4


def test_export_errors(searched, tmp_path):
    from netspace.export import ExportError, export_model

    out, _ = searched
    with pytest.raises(ExportError, match="has no trial 99"):
        export_model(out, tmp_path / "x.pt", trial=99)
    with pytest.raises(ExportError, match="pick one with --trial K or --best"):
        export_model(out, tmp_path / "x.pt")
    with pytest.raises(ExportError, match="not both"):
        export_model(out, tmp_path / "x.pt", trial=1, best=True)
    with pytest.raises(ExportError, match="unknown format 'tflite'"):
        export_model(out, tmp_path / "x.pt", format="tflite")
    with pytest.raises(ExportError, match="TorchScript export is gone .*deprecated in torch 2.13.*--format pt2"):
        export_model(out, tmp_path / "x.pt", format="torchscript", trial=1)
    with pytest.raises(NetspaceError, match="not in the zoo|unknown model|no such"):
        export_model("NoSuchNet-9GF", tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
    proc = subprocess.run([sys.executable, "-m", "netspace.cli", "export", str(out), "--trial", "99", "--out",
                           str(tmp_path / "x.pt")], capture_output=True, text=True)
    assert proc.returncode == 2 and "has no trial 99" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_export_zoo_model_pt2_and_onnx_without_deprecation_warnings(tmp_path):
    import warnings

    from netspace.export import export_model

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = export_model("ResNet-20", tmp_path / "rx.pt2")
        ran_onnx = False
        try:
            import onnxscript  # noqa: F401
            import onnxruntime  # noqa: F401
        except ImportError:
            pass
        else:
            o = export_model("ResNet-20", tmp_path / "rx.onnx", format="onnx")
            assert o.checked_with == "onnxruntime" and o.max_abs_diff < 1e-4
            ran_onnx = True
    deprecated = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    ours = [w for w in caught if "netspace" in w.filename or "torch/jit" in w.filename]
    assert not deprecated and not ours, [f"{w.category.__name__}: {w.message} ({w.filename})"
                                         for w in deprecated + ours]
    assert not r.trained and r.checked_with == "torch.export.load" and r.max_abs_diff < 1e-4
    m = torch.export.load(str(tmp_path / "rx.pt2")).module()
    assert m(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert ran_onnx or not (tmp_path / "rx.onnx").exists()


@needs_fmnist
def test_measured_latency_reward_and_reused_architectures(tmp_path):
    from netspace.export import ExportError, export_model
    from netspace.run import Store
    from netspace.run.search import run_search

    # Evolution in a space of 16 networks mutates into networks it trained already: those are not trained again.
    config = _config(strategy="evolution", seed=0, budget=8, batch=2, latency=None, target_flops=None,
                     target_latency=0.05, constraint="soft")
    assert config.latency == "measure"
    summary = run_search(config, tmp_path, workers=2, space=TinySpace(), log=_quiet)
    assert summary["counts"]["done"] == 8
    with Store(tmp_path) as store:
        trials, rows = store.trials(), store.search_rows()
    reused = {t.trial: int(t.message.split("trial ")[1].split(";")[0]) for t in trials
              if t.message and "its result is reused" in t.message}
    assert reused, "expected at least one repeated architecture"
    for i, j in reused.items():
        assert j < i and rows[i]["tokens"] == rows[j]["tokens"] and rows[i]["arch"] == rows[j]["arch"]
        assert trials[i].error == trials[j].error
        assert rows[i]["latency_ms"] == rows[j]["latency_ms"]  # cached, not timed again
        assert not (tmp_path / "trials" / f"{i:04d}").exists()  # not trained again
    by_arch: dict = {}
    for t in trials:
        lat = rows[t.trial]["latency_ms"]
        assert 0 < lat < 1000 and by_arch.setdefault(rows[t.trial]["arch"], lat) == lat  # one timing per network
        assert rows[t.trial]["reward"] == pytest.approx((1 - t.error / 100) * (lat / 0.05) ** -0.07, rel=1e-12)
    with pytest.raises(ExportError, match="result was reused"):
        export_model(tmp_path, tmp_path / "x.pt", trial=min(reused))


@needs_fmnist
def test_cli_search_mnasnet_end_to_end(tmp_path):
    from netspace.spaces import get_space

    try:
        get_space("mnasnet", resolution=28, in_channels=1, num_classes=10)
    except NetspaceError:
        pytest.skip("the mnasnet space is not registered")
    out = tmp_path / "rl"
    cmd = [sys.executable, "-m", "netspace.cli", "search", "mnasnet", "--strategy", "reinforce", "--budget", "2",
           "--batch", "2", "--epochs", "1", "--limit-train", "256", "--val-fraction", "0.01", "--batch-size", "64",
           "--precision", "fp32", "--reward", "mnas", "--target-latency", "2", "--workers", "2", "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "done 2" in proc.stdout and "best: trial" in proc.stdout and "latency" in proc.stdout
    from netspace.run import Store

    with Store(out) as store:
        state = store.settings()["strategy_state"]
        rows = store.search_rows()
    assert state["kind"] == "reinforce" and state["updates"] == 1 and len(rows) == 2
    assert all(len(r["tokens"]) == 42 and r["latency_ms"] > 0 and 0 <= r["reward"] < 1.2 for r in rows.values())


def test_search_refuses_a_space_whose_decisions_changed(tmp_path):
    """A search stored on a space of another size (e.g. MnasNet's 288-choice blocks before the pooling skip
    made them 432) is refused rather than continued on mixed decisions; --force-new starts over."""
    from netspace.run import Store, search_config
    from netspace.run.search import search_run

    config = search_config(space="mnasnet", strategy="random", budget=2, epochs=1)
    out = tmp_path / "s"
    with Store(out, create=True) as store:
        store.put_settings({"config": config.to_dict(), "kind": "search",
                            "space": {"name": "MnasNet", "size": 288 ** 7}})
    with pytest.raises(NetspaceError) as e:
        search_run(config, out, log=_quiet)
    assert "space: MnasNet had 1.64e+17 token combinations, MnasNet now has 2.81e+18" in str(e.value)
    assert "--force-new" in str(e.value) and "\n" not in str(e.value)
    run = search_run(config, out, force_new=True, log=_quiet)
    try:
        assert run.store.settings() == {} and len(list(tmp_path.glob("s/previous-*"))) == 1
    finally:
        run.store.close()
    # The same size continues (no refusal).
    with Store(out, create=True) as store:
        store.put_settings({"config": config.to_dict(), "kind": "search",
                            "space": {"name": "MnasNet", "size": 432 ** 7}})
    search_run(config, out, log=_quiet).store.close()
