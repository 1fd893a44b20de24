"""The driver loop shared by sweeps and studies: hand pending trials to an
executor, record each result in its store as it arrives, show progress.

Several stores can be driven through one executor (a study drives one store
per design space), so the workers stay busy across spaces instead of idling
at the end of each. Trials are interleaved round-robin across stores: a study
stopped halfway has about as many finished trials in every space, so its
partial results are still a fair comparison.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

from netspace.run.store import Store


@dataclass
class Entry:
    """One store to drive: its name (shown in progress), store, schedule and data settings, directory."""

    name: str
    store: Store
    schedule: dict[str, Any]
    data: dict[str, Any]
    out: Path


def duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


class SweepProgress:
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
        self._todo = total - done
        self._drawn = False

    def eta(self) -> float | None:
        if not self._finished_here:
            return None
        elapsed = time.monotonic() - self._start
        return elapsed / self._finished_here * (self._todo - self._finished_here)

    def line(self) -> str:
        best = f"{self.best:.2f}%" if self.best is not None else "-"
        eta = self.eta()
        return f"{self.done}/{self.total} trials done | best {best} | ETA {duration(eta) if eta is not None else '-'}"

    def finished(self, label: str, result: dict[str, Any]) -> None:
        self.done += 1
        self._finished_here += 1
        err = result.get("test_error")
        if result.get("status") == "done" and err is not None:
            self.best = err if self.best is None else min(self.best, err)
        shown = f"{err:.2f}%" if err is not None else (result.get("message") or "")
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


def _precision_here(schedule: dict[str, Any]) -> str:
    """What the schedule's precision resolves to on this machine's CPU, and why (workers resolve the same)."""
    import torch

    from netspace.train.precision import resolve_precision

    cuda = schedule.get("device", "auto") in ("auto", "cuda") and torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    return resolve_precision(schedule.get("precision", "auto"), device, schedule.get("channels_last")).reason


def drive(entries: list[Entry], executor, log: Callable[[str], None], *, tty: bool | None = None) -> None:
    """Train every pending or running trial of the entries' stores and record the results."""
    total = sum(len(e.store.trials()) for e in entries)
    per_entry = []
    for e in entries:
        per_entry.append([{"trial": t.trial, "spec": t.spec, "schedule": e.schedule, "data": e.data,
                           "out_dir": str(e.out / "trials" / f"{t.trial:04d}"), "entry": e.name}
                          for t in e.store.trials(("pending", "running"))])
    jobs = interleave(per_entry)
    if not jobs:
        log(f"all {total} trials finished")
        return
    by_name = {e.name: e for e in entries}
    log(f"{len(jobs)} of {total} trials to train ({executor.workers or 'auto'} workers)")
    log(f"precision: {_precision_here(entries[0].schedule)}")
    best = min((t.error for e in entries for t in e.store.trials("done") if t.error is not None), default=None)
    progress = SweepProgress(total, total - len(jobs), best, log, tty=tty)
    progress.draw()
    several = len(entries) > 1
    try:
        for job, result in executor.run(jobs, on_start=lambda j: by_name[j["entry"]].store.mark_running(j["trial"])):
            metrics = result.pop("metrics", [])
            by_name[job["entry"]].store.record_result(job["trial"], result, metrics)
            label = f"{job['entry']} trial {job['trial']}" if several else f"trial {job['trial']}"
            progress.finished(label, result)
    finally:
        progress.close()
