"""The paper's spaces draw what the paper defines (Section 3, Appendix D), checked against draws made
directly from the definition, and every constraint holds on thousands of draws."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats

from netspace.complexity import complexity
from netspace.spaces import RegNetParams, adjust_block_compatibility, get_space, regnet_spec
from netspace.spaces.regnet import quantized_widths
from netspace.spaces.regnet_space import PAPER_FRAME, params_acts_ok
from netspace.spaces.samplers import Sampler
from netspace.spaces.stagewise import ordered_indices

POW2 = (1, 2, 4, 8, 16, 32)
N = 3000
P_MIN = 1e-3  # per statistic; a wrong distribution at these n gives p far below it (see the sensitivity tests)


# -- the definition, written out independently of netspace's samplers ---------------------------------------
def _log_uniform(rng: np.random.Generator, low: float, high: float, q: float, size) -> np.ndarray:
    """pycls sweep/random.py log_uniform: f log-uniform on (low - min(q, low/2), high], rounded up to q."""
    f = np.exp(rng.uniform(math.log(low - min(q, low / 2)), math.log(high), size))
    return np.ceil(np.round(f / q, 9)) * q


def anynet_reference(letter: str, n: int, seed: int, free_last: bool = False) -> dict[str, np.ndarray]:
    """AnyNetX_<letter> by its definition: i.i.d. draws of AnyNetX_A, restricted by rejection."""
    rng = np.random.default_rng(seed)
    keep: list[dict[str, np.ndarray]] = []
    have = 0
    while have < n:
        m = 200_000
        d = _log_uniform(rng, 1, 16, 1, (m, 4)).astype(int)
        w = _log_uniform(rng, 8, 1024, 8, (m, 4)).astype(int)
        b = rng.choice([1.0, 2.0, 4.0], (m, 1 if letter >= "B" else 4))
        g = 2 ** rng.integers(0, 6, (m, 1 if letter >= "C" else 4))
        b, g = np.broadcast_to(b, (m, 4)), np.broadcast_to(g, (m, 4))
        ok = np.ones(m, dtype=bool)
        if letter >= "D":
            ok &= np.all(np.diff(w, axis=1) >= 0, axis=1)
        if letter >= "E":
            ok &= np.all(np.diff(d[:, :3] if free_last else d, axis=1) >= 0, axis=1)
        keep.append({"depths": d[ok], "widths": w[ok], "b": b[ok], "g": g[ok]})
        have += int(ok.sum())
    return {k: np.concatenate([c[k] for c in keep])[:n] for k in keep[0]}


def regnet_reference(name: str, n: int, seed: int) -> list[tuple[RegNetParams, dict[str, int]]]:
    """RegNet/RegNetX/RegNetY by Section 3.3, one draw at a time, rejection for the stage count and limits."""
    rng = random.Random(seed)
    xy = name != "RegNet"

    def lu(low, high, q):
        f = math.exp(rng.uniform(math.log(low - min(q, low / 2)), math.log(high)))
        return min(max(math.ceil(round(f / q, 9)), round(low / q)), round(high / q))

    out = []
    while len(out) < n:
        p = RegNetParams(depth=rng.randint(12, 28) if xy else rng.randint(1, 63), w0=8 * lu(8, 248, 8),
                         wa=lu(8.0, 255.9, 0.1) / 10, wm=lu(2.0 if xy else 1.5, 3.0, 0.001) / 1000,
                         group_width=2 ** rng.randint(0, 5),
                         bottleneck_ratio=1.0 if xy else rng.choice((1.0, 2.0, 4.0)),
                         se_ratio=0.25 if name == "RegNetY" else 0.0)
        block_w, u = quantized_widths(p.depth, p.w0, p.wa, p.wm)
        steps = round(math.log(u[-1] / p.w0) / math.log(p.wm)) + 1
        spec = regnet_spec(p)
        if len(spec.stages) != 4 or steps != 4:  # four stages, no skipped width step
            continue
        cx = complexity(spec)
        if xy and not params_acts_ok(*(np.array([cx[k]]) for k in ("flops", "params", "acts")))[0]:
            continue
        out.append((p, cx))
    return out


def _ks(a, b) -> float:
    return float(stats.ks_2samp(np.asarray(a, float), np.asarray(b, float)).pvalue)


def _chi2(a, b) -> float:
    values = sorted(set(np.asarray(a).tolist()) | set(np.asarray(b).tolist()))
    table = np.array([[np.sum(np.asarray(x) == v) for v in values] for x in (a, b)])
    return float(stats.chi2_contingency(table)[1])


# -- samplers ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", [Sampler("log_uniform", 1, 16, 1), Sampler("log_uniform", 8, 1024, 8),
                                     Sampler("choice", values=(1.0, 2.0, 2.0)), Sampler("pow2", 1, 32)])
def test_pmf_matches_draws(sampler):
    x = sampler.draw(np.random.default_rng(0), 200_000)
    counts = np.array([np.sum(np.isclose(x, v)) for v in sampler.grid()])
    assert counts.sum() == x.size
    assert stats.chisquare(counts, sampler.pmf() * x.size).pvalue > P_MIN


def test_log_uniform_depth_masses():
    # (0.5, 16] log-uniform, rounded up: P(d=1) = P(d=2) = log 2 / log 32 = 0.2.
    p = Sampler("log_uniform", 1, 16, 1).pmf()
    assert p[0] == pytest.approx(0.2) and p[1] == pytest.approx(0.2) and p[-1] == pytest.approx(
        math.log(16 / 15) / math.log(32))


@pytest.mark.parametrize("pmf", [np.full(6, 1 / 6), Sampler("log_uniform", 1, 16, 1).pmf()])
def test_ordered_indices_equal_conditioning_by_rejection(pmf):
    rng = np.random.default_rng(1)
    got = ordered_indices(rng, 40_000, pmf, 4)
    assert np.all(np.diff(got, axis=1) >= 0)
    iid = rng.choice(len(pmf), (600_000, 4), p=pmf)
    want = iid[np.all(np.diff(iid, axis=1) >= 0, axis=1)][:40_000]
    assert len(want) == 40_000
    for j in range(4):
        assert _chi2(got[:, j], want[:, j]) > P_MIN
    assert _chi2(got.sum(axis=1), want.sum(axis=1)) > P_MIN


# -- AnyNetX_A..E --------------------------------------------------------------------------------------------
def _anynet_draws(name: str, n: int, seed: int) -> dict[str, np.ndarray]:
    result = get_space(name).sample(n, seed=seed)
    return {"depths": np.array([s.params["depths"] for s in result]),
            "widths": np.array([s.params["widths"] for s in result]),
            "b": np.array([s.params["bottleneck_ratios"] for s in result]),
            "g": np.array([s.params["group_widths"] for s in result]),
            "flops": np.array([s.complexity["flops"] for s in result]),
            "result": result}


@pytest.mark.parametrize("name", ["AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E",
                                  "AnyNetX_E_free_last"])
def test_anynet_draws_follow_the_definition(name):
    free_last = name.endswith("free_last")
    letter = "E" if free_last else name[-1]
    got = _anynet_draws(name, N, seed=2)
    want = anynet_reference(letter, N, seed=3, free_last=free_last)
    for j in range(4):
        assert _ks(got["depths"][:, j], want["depths"][:, j]) > P_MIN, f"depth of stage {j + 1}"
        assert _ks(got["widths"][:, j], want["widths"][:, j]) > P_MIN, f"width of stage {j + 1}"
        assert _chi2(got["b"][:, j], want["b"][:, j]) > P_MIN
        assert _chi2(got["g"][:, j], want["g"][:, j]) > P_MIN
    assert _ks(got["depths"].sum(axis=1), want["depths"].sum(axis=1)) > P_MIN
    # The networks, not only the draws: flops of the adjusted specs.
    space = get_space(name)
    ref_flops = []
    for i in range(600):
        params = {"depths": want["depths"][i].tolist(), "widths": want["widths"][i].tolist(),
                  "bottleneck_ratios": want["b"][i].tolist(), "group_widths": want["g"][i].tolist()}
        ref_flops.append(complexity(space.to_spec(params))["flops"])
    assert _ks(got["flops"], ref_flops) > P_MIN


def test_uniform_depths_would_be_detected():
    # The check can fail: the former uniform depth/width draws differ from the definition at this n.
    want = anynet_reference("A", N, seed=3)
    rng = np.random.default_rng(0)
    assert _ks(rng.integers(1, 17, N), want["depths"][:, 0]) < 1e-6
    assert _ks(8 * rng.integers(1, 129, N), want["widths"][:, 0]) < 1e-6
    # And conditioning on order differs from sorting i.i.d. draws (ties), which the E test would also catch.
    e = anynet_reference("E", N, seed=4)
    d = np.sort(_log_uniform(rng, 1, 16, 1, (N, 4)), axis=1)
    assert _ks(d[:, 0], e["depths"][:, 0]) < P_MIN or _ks(d.sum(axis=1), e["depths"].sum(axis=1)) < P_MIN


@pytest.mark.parametrize("name", ["AnyNetX_A", "AnyNetX_B", "AnyNetX_C", "AnyNetX_D", "AnyNetX_E",
                                  "AnyNetX_E_free_last"])
def test_anynet_constraints_hold_on_thousands(name):
    letter = "E" if name.endswith("free_last") else name[-1]
    got = _anynet_draws(name, N, seed=5)
    d, w, b, g = got["depths"], got["widths"], got["b"], got["g"]
    assert ((1 <= d) & (d <= 16)).all() and ((8 <= w) & (w <= 1024) & (w % 8 == 0)).all()
    assert np.isin(b, (1.0, 2.0, 4.0)).all() and np.isin(g, POW2).all()
    if letter >= "B":
        assert (b == b[:, :1]).all()
    if letter >= "C":
        assert (g == g[:, :1]).all()
    if letter >= "D":
        assert (np.diff(w, axis=1) >= 0).all()
    if letter >= "E":
        order = np.diff(d[:, :3] if name.endswith("free_last") else d, axis=1)
        assert (order >= 0).all()
    if name.endswith("free_last"):
        assert (d[:, 3] < d[:, 2]).any()
    for s in got["result"]:
        p, spec = s.params, s.spec
        widths, groups = adjust_block_compatibility(p["widths"], p["bottleneck_ratios"], p["group_widths"])
        assert spec.depths == p["depths"] and spec.widths == widths  # Appendix D adjustment, nothing else
        assert [st.group_width for st in spec.stages] == groups
        for st, g0 in zip(spec.stages, p["group_widths"]):
            assert st.bottleneck_width % st.group_width == 0
            assert st.group_width <= g0
            assert 8 <= st.width <= 1024 and st.width % 8 == 0
        if letter >= "D":
            assert spec.widths == sorted(spec.widths)  # the adjustment keeps the order with shared b, g
        assert s.complexity == complexity(spec)


def test_every_group_width_survives_in_a_window():
    # Appendix D adjusts instead of rejecting, so a shared g >= 8 is as common as g = 1 in the draw.
    result = get_space("AnyNetX_C", resolution=28, in_channels=1, num_classes=10).sample(600, seed=0, flops="8M:10M")
    g = np.array([s.params["group_widths"][0] for s in result])
    assert all(np.sum(g == v) > 40 for v in POW2)
    b = np.array([s.params["bottleneck_ratios"][0] for s in result])
    assert np.mean(b == 1.0) > 0.1


# -- RegNet, RegNetX, RegNetY --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["RegNet", "RegNetX", "RegNetY"])
def test_regnet_draws_follow_the_definition(name):
    got = get_space(name).sample(1500, seed=1)
    want = regnet_reference(name, 1500, seed=2)
    for key in ("depth", "w0", "wa", "wm", "group_width", "bottleneck_ratio"):
        a = [s.params[key] for s in got]
        b = [getattr(p, key) for p, _ in want]
        assert _ks(a, b) > P_MIN, key
    for key in ("flops", "params", "acts"):
        assert _ks([s.complexity[key] for s in got], [cx[key] for _, cx in want]) > P_MIN, key


@pytest.mark.parametrize("name", ["RegNetX", "RegNetY"])
def test_regnetx_limits_apply_in_the_paper_frame(name):
    small = get_space(name, resolution=28, in_channels=1, num_classes=10)
    big = get_space(name)
    a, b = small.sample(2000, seed=4), big.sample(2000, seed=4)
    # Without a window the filter is a function of the stages alone: the same seed draws the same networks.
    assert [s.params for s in a] == [s.params for s in b]
    for s in a:
        cx = complexity(PAPER_FRAME.spec(s.spec.stages))
        assert params_acts_ok(*(np.array([cx[k]]) for k in ("flops", "params", "acts")))[0]
        assert s.complexity == complexity(s.spec)
    assert small.sample(300, seed=0, flops="22M:25M").rejected["constraints"] > 0


def test_regnet_space_is_in_the_study_between_e_and_x():
    from netspace.study import STUDY_SPACES
    i = STUDY_SPACES.index("RegNet")
    assert STUDY_SPACES[i - 1] == "AnyNetX_E" and STUDY_SPACES[i + 1] == "RegNetX"
