"""The one driver of sweeps, searches and studies: ask a proposer, train through an executor, tell results.

A :class:`Run` is one store being driven: its proposer (a sweep's sampler or
a search strategy, :mod:`netspace.search.propose`), its budget of trials, the
candidates asked per round, the trial configuration every trial trains with,
and, for searches, the reward. :func:`drive` loops over one or more runs:

1. every run whose trials have all finished and whose budget is not spent
   asks its proposer for a round of candidates, stored as pending trials in
   one transaction together with the proposer's state after asking (and, on
   the run's first write, its settings: a run exists whole or not at all);
2. the pending trials of all runs, interleaved round-robin (a study stopped
   halfway has about as many results in every space), go to the executor;
3. each result is stored as it arrives, with its reward and the proposer's
   state after telling it, in one transaction. Rewards are told in trial
   order whatever order the workers finish in, so a run with two workers
   asks exactly what it would with one.

A sweep is a run whose one round asks for all its samples; a random search a
run of the same sampler asked round by round; REINFORCE and evolution runs
of a token strategy. Killed at any instant, a store holds a state and the
trials that state has seen; rerunning the same command tells the
finished-but-untold trials in order, trains the pending ones (from their
checkpoints) and continues. A finished trial is never retrained.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from netspace.errors import NetspaceError
from netspace.run.store import Store
from netspace.run.worker import RETRY
from netspace.search.propose import Proposer
from netspace.train.config import TrialConfig

FINISHED = ("done", "diverged", "failed")
STATE_KEY = "strategy_state"


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def arch_key(spec: dict[str, Any]) -> str:
    """A short stable hash of a spec: two candidates with the same key are the same network."""
    text = json.dumps({k: v for k, v in spec.items() if k != "name"}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass
class Run:
    """One store to drive.

    ``reward(result, latency_ms, complexity)`` turns a finished trial into the
    number a search maximizes (None for sweeps: nothing learns from them).
    ``latency(spec, arch)`` measures a candidate when asked (the mnas reward).
    ``reuse``: a candidate whose architecture this run already trained gets
    that result copied instead of training it again (training is seeded).
    ``first_settings`` are written with the first round (the run's config).
    """

    name: str
    store: Store
    out: Path
    proposer: Proposer
    budget: int
    batch: int
    trial: TrialConfig
    reward: Callable[[dict[str, Any], float | None, dict[str, int]], float] | None = None
    latency: Callable[[Any, str], float] | None = None
    reuse: bool = False
    first_settings: dict[str, Any] = field(default_factory=dict)
    log: Callable[[str], None] = print

    def __post_init__(self) -> None:
        self.schedule, self.data = self.trial.schedule_dict(), self.trial.data_settings()
        settings = self.store.settings()
        trials = len(self.store.trials())
        if STATE_KEY in settings and self.proposer.learns:
            self.proposer.load_state_dict(settings[STATE_KEY])
            if self.proposer.asked != trials:
                raise NetspaceError(f"{self.out}: the stored strategy state has asked {self.proposer.asked} "
                                    f"candidates but the store holds {trials} trials; the store was changed by hand")
        else:  # a sampler's state is the number of trials it drew
            self.proposer.asked, self.proposer.told = trials, 0  # told again in order by _tell_ready
        self._ready: dict[int, tuple[Any, float]] = {}
        self.retry_later: dict[int, str] = {}  # trials stopped by the machine, not trained again this session

    @property
    def searching(self) -> bool:
        return self.reward is not None

    # -- asking ----------------------------------------------------------------
    def wants_round(self) -> bool:
        return self.proposer.asked < self.budget and not self.store.trials(("pending", "running"))

    def _state(self) -> dict[str, Any]:
        return {STATE_KEY: self.proposer.state_dict()} if self.proposer.learns else {}

    def ask_round(self) -> None:
        first = self.proposer.asked
        n = min(self.batch, self.budget - first)
        candidates = self.proposer.ask(n)
        rows, search, results = [], [], []
        done_by_arch: dict[str, int] = {}
        trials = {t.trial: t for t in self.store.trials()} if self.reuse else {}
        if self.reuse:
            for i, r in self.store.search_rows().items():
                if trials[i].status in ("done", "diverged") and r["reward"] is not None:
                    done_by_arch.setdefault(r["arch"], i)
        for k, c in enumerate(candidates):
            i = first + k
            spec_dict = c.spec.to_dict()
            rows.append((i, c.params, spec_dict, c.complexity))
            if not self.searching:
                continue
            arch = arch_key(spec_dict)
            latency = self.latency(c.spec, arch) if self.latency else None
            search.append((i, c.tokens, arch, latency))
            j = done_by_arch.get(arch)
            if j is not None:
                t = trials[j]
                result = {"status": t.status, "error": t.error, "best_error": t.best_error, "epochs": t.epochs,
                          "wall_seconds": 0.0, "images_per_second": t.images_per_second,
                          "message": f"same architecture as trial {j}; its result is reused"}
                results.append((i, result, self.store.metrics(j), self.reward(result, latency, c.complexity)))
        settings = {**(self.first_settings if first == 0 else {}), **self._state()}
        self.store.add_trials(rows, search=search, results=results, settings=settings)
        reused = len(results)
        if self.searching:
            self.log(f"asked {n} candidates (trials {first}..{first + n - 1})"
                     + (f", {reused} already trained" if reused else ""))
        self._tell_ready()

    # -- telling ---------------------------------------------------------------
    def _tell_ready(self) -> None:
        """Tell the proposer every finished trial it has not seen, in trial order, and store its state."""
        if not self.searching:
            return
        rows = self.store.search_rows()
        told = False
        trials = None
        while self.proposer.told in rows and rows[self.proposer.told]["reward"] is not None:
            trials = trials or {t.trial: t for t in self.store.trials()}
            i = self.proposer.told
            self.proposer.tell(rows[i]["tokens"], rows[i]["reward"], measured(trials[i], rows[i]))
            told = True
        if told and self.proposer.learns:
            self.store.put_settings(self._state())

    def jobs(self) -> list[dict[str, Any]]:
        return [{"trial": t.trial, "spec": t.spec, "schedule": self.schedule, "data": self.data,
                 "out_dir": str(self.out / "trials" / f"{t.trial:04d}"), "entry": self.name}
                for t in self.store.trials(("pending", "running")) if t.trial not in self.retry_later]

    def record(self, trial: int, result: dict[str, Any]) -> float | None:
        """Store a trial's result (with its reward and the proposer's state after telling, in order)."""
        metrics = result.pop("metrics", [])
        if result.get("status") == RETRY:  # the machine's fault: pending again, for the next invocation
            self.retry_later[trial] = result.get("message") or ""
            self.store.release(trial, result.get("message") or "")
            return None
        if not self.searching:
            self.store.record_result(trial, result, metrics)
            return None
        rows = self.store.search_rows()
        t = next(x for x in self.store.trials(("pending", "running")) if x.trial == trial)
        reward = self.reward(result, rows[trial]["latency_ms"],
                             {"flops": t.flops, "params": t.num_params, "acts": t.acts})
        # Trials finished without training (a reused architecture) may sit between trained ones.
        waiting = [i for i, r in rows.items() if i >= self.proposer.told and r["reward"] is not None
                   and i not in self._ready]
        if waiting:
            trials = {x.trial: x for x in self.store.trials()}
            for i in waiting:
                self._ready[i] = (rows[i]["tokens"], rows[i]["reward"], measured(trials[i], rows[i]))
        self._ready[trial] = (rows[trial]["tokens"], reward, measured(t, rows[trial]))
        while self.proposer.told in self._ready:
            self.proposer.tell(*self._ready.pop(self.proposer.told))
        self.store.record_result(trial, result, metrics, reward=reward, settings=self._state())
        return reward


def measured(trial: Any, row: dict[str, Any]) -> dict[str, Any]:
    """What a proposer may trade error against: a trial's exact complexity and its measured latency (or None)."""
    return {"flops": trial.flops, "params": trial.num_params, "acts": trial.acts, "latency_ms": row["latency_ms"]}


def reward_of(reward_fn, latency_mode: str) -> Callable[[dict[str, Any], float | None, dict[str, int]], float]:
    """Accuracy (a fraction) of a done trial through the search's reward; 0 for diverged or failed trials."""

    def reward(result: dict[str, Any], latency: float | None, cx: dict[str, int]) -> float:
        err = result.get("error")
        if result.get("status") != "done" or err is None or not math.isfinite(err):
            return 0.0
        accuracy = max(0.0, 1.0 - err / 100.0)
        if not reward_fn.needs_cost:
            return reward_fn(accuracy)
        cost = latency if latency_mode == "measure" else float(cx["flops"])
        if cost is None or cost <= 0:
            return 0.0
        return reward_fn(accuracy, cost)

    return reward


# -- progress ------------------------------------------------------------------
class Progress:
    """Trials done/total, best error and ETA.

    On a terminal, a status line is redrawn under the per-trial log lines; in a
    log file or pipe only the per-trial lines are written (greppable, no
    escape codes).
    """

    def __init__(self, total: int, done: int, best: float | None, log: Callable[[str], None],
                 stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.total, self.done, self.best = total, done, best
        self._log = log
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._start = time.monotonic()
        self._finished_here = 0
        self._drawn = False

    def eta(self) -> float | None:
        if not self._finished_here:
            return None
        elapsed = time.monotonic() - self._start
        return elapsed / self._finished_here * (self.total - self.done)

    def line(self) -> str:
        best = f"{self.best:.2f}%" if self.best is not None else "-"
        eta = self.eta()
        return f"{self.done}/{self.total} trials done | best {best} | ETA {duration(eta) if eta is not None else '-'}"

    def finished(self, label: str, result: dict[str, Any], reward: float | None = None) -> None:
        self.done += 1
        self._finished_here += 1
        err = result.get("error")
        if result.get("status") == "done" and err is not None:
            self.best = err if self.best is None else min(self.best, err)
        shown = f"{err:.2f}%" if err is not None else (result.get("message") or "")
        if reward is not None:
            shown += f", reward {reward:.4f}"
        self._clear()
        self._log(f"[{self.done}/{self.total}] {label}: {result.get('status')} {shown} | {self.line().split(' | ', 1)[1]}")
        self.draw()

    def draw(self) -> None:
        if not self.tty:
            return
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {self.line()}\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def close(self) -> None:
        self._clear()


def interleave(lists: list[list[Any]]) -> list[Any]:
    """Round-robin merge: a[0], b[0], c[0], a[1], ..."""
    out: list[Any] = []
    for i in range(max((len(x) for x in lists), default=0)):
        out += [x[i] for x in lists if i < len(x)]
    return out


def precision_here(schedule: dict[str, Any]) -> str:
    """What the schedule's precision resolves to on this machine, and why (workers resolve the same)."""
    import torch

    from netspace.train.precision import resolve_precision

    cuda = schedule.get("device", "auto") in ("auto", "cuda") and torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    return resolve_precision(schedule.get("precision", "auto"), device, schedule.get("channels_last")).reason


def kernels_ready(schedule: dict[str, Any], log: Callable[[str], None]) -> None:
    """Load the CPU training kernels in this process before local workers start training, building them
    first where this machine has no build yet (minutes, once per machine): otherwise the first trial of
    every worker waits for that build, and its wall time (which a time-budgeted study's plan measures)
    includes it."""
    import torch

    if schedule.get("device", "auto") in ("auto", "cuda") and torch.cuda.is_available():
        return
    from netspace.models import fused

    if not fused.enabled():
        return
    t0 = time.perf_counter()
    fused.kernel()
    took = time.perf_counter() - t0
    if took > 5.0:
        log(f"CPU training kernels built in {took:.0f} s (once per machine), before any trial trains")


@contextlib.contextmanager
def terminate_as_interrupt():
    """SIGTERM stops a drive the way Ctrl-C does: workers stopped, stores consistent, resumable."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def drive(runs: list[Run], executor, log: Callable[[str], None], *, tty: bool | None = None) -> None:
    """Ask, train and tell until every run has its budget of finished trials."""
    with terminate_as_interrupt():
        _drive(runs, executor, log, tty)


def _drive(runs: list[Run], executor, log: Callable[[str], None], tty: bool | None) -> None:
    by_name = {r.name: r for r in runs}
    if len(by_name) != len(runs):
        raise NetspaceError("drive: two runs with one name; give each a distinct name")
    for r in runs:
        r._tell_ready()
    total = sum(r.budget for r in runs)
    done = sum(sum(r.store.counts()[s] for s in FINISHED) for r in runs)
    if done >= total and not any(r.wants_round() or r.jobs() for r in runs):
        log(f"all {done} trials finished")
        return
    best = min((t.error for r in runs for t in r.store.trials("done") if t.error is not None), default=None)
    progress = Progress(total, done, best, log, tty=tty)
    several = len(runs) > 1
    told_precision = False
    keep_alive = getattr(executor, "keep_alive", contextlib.nullcontext)
    try:
        with keep_alive():  # one pool of workers for all rounds
            while True:
                for r in runs:
                    if r.wants_round():
                        r.ask_round()
                jobs = interleave([r.jobs() for r in runs])
                if not jobs:
                    break
                if not told_precision:
                    log(f"{len(jobs)} of {total} trials to train ({executor.workers or 'auto'} workers)")
                    log(f"precision: {precision_here(runs[0].schedule)}")
                    if getattr(executor, "local", False):
                        kernels_ready(runs[0].schedule, log)
                    told_precision = True
                progress.draw()
                for job, result in executor.run(jobs, on_start=lambda j: by_name[j["entry"]].store.mark_running(j["trial"])):
                    run = by_name[job["entry"]]
                    label = f"{job['entry']} trial {job['trial']}" if several else f"trial {job['trial']}"
                    retry = result.get("status") == RETRY
                    reward = run.record(job["trial"], result)
                    if retry:
                        log(f"{label}: stopped by the machine, not the model ({result.get('message', '')[:200]}); "
                            "it stays pending")
                    else:
                        progress.finished(label, result, reward)
    finally:
        progress.close()
    stopped = sum(len(r.retry_later) for r in runs)
    if stopped:
        log(f"{stopped} trial(s) stopped by a fault of the machine (disk full, permission, memory, a worker or "
            "node lost) and stay pending; free the resource and rerun the same command to train them")
