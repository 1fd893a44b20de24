"""``train``: one run of one network on one dataset, resumable at any instant."""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from netspace.complexity import complexity
from netspace.data import Augment, Data, Split
from netspace.devices import check_device
from netspace.models import build
from netspace.spec import NetSpec, for_input
from netspace.train import distributed
from netspace.train.atomic import append_jsonl, save_json, save_jsonl
from netspace.train.checkpoint import CHECKPOINT, METRICS, RESULT, load_checkpoint, save_checkpoint
from netspace.train.distributed import DistContext
from netspace.train.ema import WeightEma
from netspace.train.evaluate import error_rate
from netspace.train.optim import make_optimizer, set_lr
from netspace.models import tune
from netspace.models.cpu import cpu_info
from netspace.train.precision import Precision, resolve_precision
from netspace.train.progress import Progress
from netspace.train.result import DIVERGED_ERROR, TrainResult
from netspace.train.schedule import Schedule, TrainError, lr_at
from netspace.lock import DirectoryLock
from netspace.train.memory import check_fits, keep_freed_memory
from netspace.train.settings import differences, run_settings
from netspace.train.signals import StopRequest

# Mixed into per-epoch seeds so augmentation never shares a stream with data order.
_RNG_STREAM = 0x7EA1


def train(
    spec: NetSpec,
    data: Data,
    schedule: Schedule = Schedule(),
    *,
    out_dir: str | Path | None = None,
    resume: bool | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    handle_signals: bool = True,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train ``spec`` on ``data`` with ``schedule``; see the package docstring.

    The spec is adapted to the data (channels, resolution, classes) with
    :func:`netspace.spec.for_input` unless it already matches. With
    ``out_dir``, metrics, checkpoints and the result are written there and
    ``resume`` decides what an existing run in it means: None (default)
    continues a matching checkpoint or reports a finished result, True
    additionally requires that there is one, False starts over. Settings that
    differ from the stored run are refused with the differing keys named.
    Under ``torchrun`` it trains with DDP; only rank 0 writes files.
    ``init_from`` starts a new run (not a resumed one) from the weights in
    that file, for ``spec`` before adaptation, in any format
    ``netspace.interop`` reads; what the data needs changed (the classifier,
    the stem's input) is adapted and logged.
    """
    if init_from is not None and not Path(init_from).is_file():
        raise TrainError(f"--init-from {init_from}: no such file")
    if device is not None:
        check_device(device)  # one line for a device that does not exist here, before anything is built
    ctx, dev = distributed.setup(torch.device(device) if device is not None else None)
    try:
        run = _Run(spec, data, schedule, out_dir, resume, dev, ctx, progress, handle_signals)
        run.init_from, run.source_spec = init_from, spec
        if init_from is not None:  # part of the run's settings: resuming with another file is refused
            run.settings["init_from"] = {"file": Path(init_from).name, "sha256": _file_digest(Path(init_from))}
        return run.run()
    finally:
        distributed.teardown(ctx)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def adapt_spec(spec: NetSpec, data: Data) -> NetSpec:
    """The spec for this data's channels, resolution and classes (unchanged if it already fits)."""
    info = data.info
    if (spec.in_channels, spec.resolution, spec.num_classes) == (info.in_channels, info.resolution,
                                                                 info.num_classes):
        return spec
    return for_input(spec, in_channels=info.in_channels, resolution=info.resolution, num_classes=info.num_classes)


def _epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, rank, _RNG_STREAM]).generate_state(1)[0])


class _Run:
    """State of one run; methods are the phases of ``train``."""

    def __init__(self, spec: NetSpec, data: Data, schedule: Schedule, out_dir: str | Path | None,
                 resume: bool | None, device: torch.device, ctx: DistContext, progress: bool,
                 handle_signals: bool) -> None:
        self.s = schedule
        self.data = data
        self.spec = adapt_spec(spec, data)
        self.device = device
        self.ctx = ctx
        self.out = Path(out_dir) if out_dir is not None else None
        self.resume = resume
        self.handle_signals = handle_signals
        self.progress = Progress(enabled=progress and ctx.is_main)
        self.precision: Precision = resolve_precision(schedule.precision, device, schedule.channels_last)
        self.eval_split = self._eval_split()
        self.settings = run_settings(self.spec, data, schedule, self.eval_split)
        self.complexity = complexity(self.spec)
        if schedule.batch_size % ctx.world_size:
            raise TrainError(f"batch size {schedule.batch_size} is not divisible by the {ctx.world_size} "
                             f"processes; use a multiple of {ctx.world_size}")
        self.rank_batch = schedule.batch_size // ctx.world_size
        if len(data.train) < schedule.batch_size:
            raise TrainError(f"batch size {schedule.batch_size} exceeds the {len(data.train)} training images; "
                             f"lower --batch-size or raise --limit-train")
        # drop_last: a short final batch would give BN noisy statistics and a
        # step with a different effective learning rate.
        self.steps = data.train.num_batches(self.rank_batch, world_size=ctx.world_size, drop_last=True)
        # Run state, possibly replaced by a checkpoint.
        self.epoch = 0
        self.step_in_epoch = 0
        self.global_step = 0
        self.metrics: list[dict[str, Any]] = []
        self.best_error = math.inf
        self.wall_before = 0.0
        self.partial = {"loss_sum": 0.0, "wrong": 0.0, "count": 0.0, "train_seconds": 0.0, "seconds": 0.0}
        self.rng_states: dict[str, list[torch.Tensor]] | None = None
        self.init_from: str | Path | None = None
        self.source_spec: NetSpec = spec

    def _eval_split(self) -> Split:
        if self.s.eval_split == "val":
            if self.data.val is None:
                raise TrainError("eval_split 'val' needs a validation split; pass val_fraction > 0 "
                                 "(--val-fraction) when loading the data")
            return self.data.val
        return self.data.test

    # -- the run --------------------------------------------------------------
    def run(self) -> TrainResult:
        if self.out is None or not self.ctx.is_main:
            return self._run()
        # One writer per run directory: a second train on the same --out would interleave its epochs.
        with DirectoryLock(self.out, name=".train.lock", what="netspace train"):
            return self._run()

    def _run(self) -> TrainResult:
        self.session_start = time.monotonic()
        self.tuning_before = tune.stats()
        checkpoint = None
        if self.out is not None:
            finished = self._prepare_out_dir()
            if finished is not None:
                return finished
            checkpoint = load_checkpoint(self.out) if self.resume is not False else None
            if checkpoint is not None:
                self._check_compatible(checkpoint["settings"], CHECKPOINT)
            elif self.resume:
                raise TrainError(f"no checkpoint in {self.out} to resume from; drop --resume to start a new run")
        self._build(checkpoint)
        self._announce()
        if checkpoint is None and self.ctx.is_main and self.out is not None:
            save_jsonl([], self.out / METRICS)
        with StopRequest(self.handle_signals) as stop:
            status = "done"
            while self.epoch < self.s.epochs:
                status = self._train_epoch(stop)
                if status != "epoch":
                    break
            else:
                status = "done"
        if status == "interrupted" and self.epoch >= self.s.epochs:
            status = "done"  # the signal came after the last step: nothing is left to resume
        return self._finish(status, stop.signum)

    def _prepare_out_dir(self) -> TrainResult | None:
        """Create ``out``; return the stored result if this exact run already finished."""
        assert self.out is not None
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / RESULT
        if self.resume is False:
            if self.ctx.is_main:  # starting over: no stale result or checkpoint may survive
                for name in (RESULT, CHECKPOINT):
                    (self.out / name).unlink(missing_ok=True)
            distributed.barrier(self.ctx)
            return None
        if not path.exists():
            return None
        try:
            stored = json.loads(path.read_text())
            old = {"spec": stored["spec"], "schedule": stored["schedule"], "data": stored["data"]}
        except (ValueError, KeyError, TypeError):
            raise TrainError(f"{path} is not a netspace result; delete it or use another --out") from None
        self._check_compatible(old, RESULT)
        metrics = self._read_metrics()
        self.progress.log(f"{self.out}: run already {stored['status']} after {stored['epochs']} epochs, "
                          f"{stored['eval_split']} error {stored['error']:.2f}%; nothing to do")
        return TrainResult.from_json(stored, metrics, self.out)

    def _read_metrics(self) -> list[dict[str, Any]]:
        assert self.out is not None
        path = self.out / METRICS
        if not path.exists():
            return []
        rows = []
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:  # a line torn by a crash mid-append
                break
        return rows

    def _check_compatible(self, old: dict[str, Any], what: str) -> None:
        diffs = differences(old, self.settings)
        if diffs:
            shown = "; ".join(diffs[:4]) + (f"; and {len(diffs) - 4} more" if len(diffs) > 4 else "")
            raise TrainError(f"{self.out} holds a run with other settings ({shown}); "
                             f"rerun with the original settings or use a new --out directory")

    def _build(self, checkpoint: dict[str, Any] | None) -> None:
        # refused from the spec before anything is allocated, if even the least it can take does not fit
        check_fits(self.complexity, self.rank_batch, self.device,
                   act_bytes=2 if self.precision.dtype in (torch.bfloat16, torch.float16) else 4)
        if self.device.type == "cpu":
            keep_freed_memory()  # no page faults on each step's buffers (see memory.py)
        torch.manual_seed(self.s.seed)  # same initial weights on every rank and every rerun
        model = build(self.spec, zero_init_last_bn=self.s.zero_init_last_bn)
        if checkpoint is None and self.init_from is not None:
            from netspace.interop import load_weights  # interop imports models and the zoo, never train

            notes = load_weights(model, self.init_from, spec=self.source_spec)
            for note in [f"initialised from {self.init_from}", *notes]:
                self.progress.log(note)
        memory_format = torch.channels_last if self.precision.channels_last else torch.contiguous_format
        self.model = model.to(self.device, memory_format=memory_format)
        self.optimizer = make_optimizer(self.model, self.s)
        self.ema = WeightEma(self.model, self.s.ema_decay) if self.s.ema_decay > 0 else None
        self.scaler = torch.amp.GradScaler("cuda") if self.precision.needs_scaler else None
        if checkpoint is not None:
            self._restore(checkpoint)
        self.train_model: nn.Module = self.model
        if self.ctx.active:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DistributedDataParallel(self.model, device_ids=ids)
        cl = self.precision.channels_last
        self.train_augment = Augment(self.data.info, train=self.s.augment, channels_last=cl)
        self.eval_augment = Augment(self.data.info, train=False, channels_last=cl)
        self.generator = torch.Generator(device=self.device)

    def _restore(self, ck: dict[str, Any]) -> None:
        if ck["step_in_epoch"] and ck["world_size"] != self.ctx.world_size:
            raise TrainError(f"{self.out} was interrupted mid-epoch with world_size {ck['world_size']}; "
                             f"resume it with {ck['world_size']} process(es)")
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        if self.ema is not None:
            self.ema.load_state_dict(ck["ema"])
        if self.scaler is not None and ck["scaler"] is not None:
            self.scaler.load_state_dict(ck["scaler"])
        self.epoch = ck["epoch"]
        self.step_in_epoch = ck["step_in_epoch"]
        self.global_step = ck["global_step"]
        self.metrics = list(ck["metrics"])
        self.best_error = ck["best_error"]
        self.wall_before = ck["wall_seconds"]
        if self.step_in_epoch:
            self.rng_states = ck["rng"]
            # Partial sums were all-reduced when saved; one rank carries them.
            if self.ctx.is_main:
                self.partial = dict(ck["partial"])
        if self.ctx.is_main:
            # The metrics file may hold an epoch finished after this checkpoint
            # was written (killed in between); the checkpoint's list is the truth.
            save_jsonl(self.metrics, self.out / METRICS)

    def _announce(self) -> None:
        p, cx = self.precision, self.complexity
        layout = "channels_last" if p.channels_last else "contiguous"
        name = self.spec.name or "model"
        self.progress.log(
            f"training {name} ({cx['flops'] / 1e6:.1f}M flops, {cx['params'] / 1e6:.2f}M params) on "
            f"{self.data.info.name}: {len(self.data.train)} train / {len(self.eval_split)} {self.s.eval_split}, "
            f"{self.s.epochs} epochs x {self.steps} steps of {self.s.batch_size}, {p.name} {layout} on "
            f"{self.device.type}" + (f" x{self.ctx.world_size}" if self.ctx.active else ""))
        self.progress.log(f"precision: {p.reason}")
        if self.data.info.note:
            self.progress.log(self.data.info.note)
        if self.epoch or self.step_in_epoch:
            self.progress.log(f"resuming after epoch {self.epoch}"
                              + (f", step {self.step_in_epoch}" if self.step_in_epoch else ""))

    # -- one epoch ------------------------------------------------------------
    def _seed_epoch(self) -> None:
        """Per-epoch RNG from (seed, epoch, rank): a resume at an epoch edge needs no saved state."""
        if self.rng_states is not None:  # mid-epoch resume: continue the exact streams
            torch.set_rng_state(self.rng_states["torch"][self.ctx.rank])
            self.generator.set_state(self.rng_states["augment"][self.ctx.rank])
            if "cuda" in self.rng_states:
                torch.cuda.set_rng_state(self.rng_states["cuda"][self.ctx.rank], self.device)
            self.rng_states = None
            return
        seed = _epoch_seed(self.s.seed, self.epoch, self.ctx.rank)
        torch.manual_seed(seed)  # dropout, drop-connect
        self.generator.manual_seed(seed)

    def _train_epoch(self, stop: StopRequest) -> str:
        """Run the rest of the current epoch; return "epoch", "diverged" or "interrupted"."""
        s, ctx, epoch = self.s, self.ctx, self.epoch + 1
        self._seed_epoch()
        self.train_model.train()
        part = self.partial
        loss_sum = part["loss_sum"]
        wrong = torch.tensor(part["wrong"], dtype=torch.float64)
        count = part["count"]
        train_seconds = part["train_seconds"]
        epoch_start = time.perf_counter() - part["seconds"]
        started = time.perf_counter()
        start_step = self.step_in_epoch
        batches = self.data.train.batches(self.rank_batch, shuffle=True, seed=s.seed, epoch=self.epoch,
                                          rank=ctx.rank, world_size=ctx.world_size, drop_last=True)
        for i, (images, labels) in enumerate(batches):
            if i < start_step:  # order is a pure function of (seed, epoch): skip what was done
                continue
            # RNG states as of the start of this step, so a stop requested
            # below checkpoints exactly "i steps done" and the resume redraws
            # this step's augmentation and dropout identically.
            rng = self._rng_snapshot()
            # Checked before the forward pass: training-mode BN updates its
            # running statistics in forward, so a stop after it would replay them.
            stop_now, = distributed.any_rank(ctx, [stop.requested], self.device)
            if stop_now:
                train_seconds += time.perf_counter() - started
                self._save_partial(i, rng, loss_sum, float(wrong), count, train_seconds,
                                   time.perf_counter() - epoch_start)
                return "interrupted"
            set_lr(self.optimizer, lr_at(s, self.global_step, self.steps))
            if hasattr(self.model, "set_drop_path_progress"):  # ScheduledDropPath (NASNet cells)
                self.model.set_drop_path_progress(self.global_step / max(1, s.epochs * self.steps))
            images = self.train_augment(images.to(self.device, non_blocking=True), self.generator)
            labels = labels.to(self.device, non_blocking=True)
            with self.precision.autocast():
                logits = self.train_model(images)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=s.label_smoothing)
            loss_value = loss.item()
            # Collective, so DDP ranks agree on stopping and none waits forever.
            diverged, = distributed.any_rank(ctx, [not math.isfinite(loss_value)], self.device)
            if diverged:  # before the update, so the weights stay finite for inspection
                return "diverged"
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
                self.scaler.step(self.optimizer)
                self.scaler.update()
            else:
                loss.backward()
                self.optimizer.step()
            if self.ema is not None:
                self.ema.update(self.model)
            self.global_step += 1
            loss_sum += loss_value * len(labels)
            wrong += (logits.argmax(1) != labels).sum().cpu()
            count += len(labels)
            elapsed = time.perf_counter() - started
            self.progress.step(epoch, s.epochs, i + 1, self.steps, loss_sum / max(count, 1),
                               (count - part["count"]) * ctx.world_size / max(elapsed, 1e-9))
        train_seconds += time.perf_counter() - started
        total_loss, total_wrong, total_count = distributed.all_sum(ctx, [loss_sum, float(wrong), count],
                                                                   self.device)
        eval_model = self.ema.module if self.ema is not None else self.model
        error = error_rate(eval_model, self.eval_split, self.eval_augment, self.precision, self.device, ctx,
                           self.rank_batch)
        self.epoch, self.step_in_epoch = epoch, 0
        self.partial = {"loss_sum": 0.0, "wrong": 0.0, "count": 0.0, "train_seconds": 0.0, "seconds": 0.0}
        self.best_error = min(self.best_error, error)
        record = {
            "epoch": epoch,
            "train_loss": total_loss / total_count,
            "train_error": 100.0 * total_wrong / total_count,
            f"{s.eval_split}_error": error,
            "lr": lr_at(s, self.global_step - 1, self.steps),
            "seconds": time.perf_counter() - epoch_start,
            "images_per_second": total_count / max(train_seconds, 1e-9),
        }
        self.metrics.append(record)
        self.progress.log(
            f"epoch {epoch}/{s.epochs}  loss {record['train_loss']:.4f}  train_err {record['train_error']:.2f}%  "
            f"{s.eval_split}_err {error:.2f}%  lr {record['lr']:.4g}  {record['seconds']:.1f}s  "
            f"{record['images_per_second']:,.0f} img/s")
        if ctx.is_main and self.out is not None:
            # Metrics line first, checkpoint second: a kill in between leaves
            # an extra line that the resume drops (the checkpoint's list wins).
            append_jsonl(record, self.out / METRICS)
            save_checkpoint(self._state(), self.out)
        stop_now, = distributed.any_rank(ctx, [stop.requested], self.device)
        return "interrupted" if stop_now else "epoch"

    # -- checkpoints ------------------------------------------------------------
    def _rng_snapshot(self) -> dict[str, torch.Tensor]:
        states = {"torch": torch.get_rng_state(), "augment": self.generator.get_state()}
        if self.device.type == "cuda":
            states["cuda"] = torch.cuda.get_rng_state(self.device)
        return states

    def _gather_rng(self, states: dict[str, torch.Tensor]) -> dict[str, list[torch.Tensor]]:
        """Every rank's RNG states, by rank (a collective under DDP: all ranks call it)."""
        return {k: [t.cpu() for t in distributed.gather_tensors(self.ctx, v.to(self.device))]
                for k, v in states.items()}

    def _state(self, rng: dict[str, list[torch.Tensor]] | None = None) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "epoch": self.epoch,
            "step_in_epoch": self.step_in_epoch,
            "global_step": self.global_step,
            "world_size": self.ctx.world_size,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "rng": rng,
            "partial": self.partial,
            "metrics": self.metrics,
            "best_error": self.best_error,
            "wall_seconds": self.wall_seconds(),
        }

    def _save_partial(self, step: int, rng: dict[str, torch.Tensor], loss_sum: float, wrong: float,
                      count: float, train_seconds: float, seconds: float) -> None:
        """Checkpoint in the middle of an epoch (on SIGINT/SIGTERM), so no finished step is lost."""
        loss_sum, wrong, count = distributed.all_sum(self.ctx, [loss_sum, wrong, count], self.device)
        self.step_in_epoch = step
        self.partial = {"loss_sum": loss_sum, "wrong": wrong, "count": count,
                        "train_seconds": train_seconds, "seconds": seconds}
        states = self._gather_rng(rng)
        if self.ctx.is_main and self.out is not None:
            save_checkpoint(self._state(states), self.out)

    def wall_seconds(self) -> float:
        return self.wall_before + time.monotonic() - self.session_start

    def _tuning(self) -> dict[str, Any]:
        """What the layers' autotuner did during this session of the run (measured in this process)."""
        now, before = tune.stats(), getattr(self, "tuning_before", {})
        if not now.get("enabled"):
            return {"enabled": False}
        keys = ("measured", "reused", "seconds")
        delta = {k: round(now[k] - before.get(k, 0), 3) if k == "seconds" else now[k] - before.get(k, 0)
                 for k in keys}
        return {"enabled": True, **delta, "cache": now["cache"]}

    def _device_name(self) -> str:
        if self.device.type == "cuda":
            return torch.cuda.get_device_name(self.device)
        return cpu_info().describe() if self.device.type == "cpu" else self.device.type

    # -- the end --------------------------------------------------------------
    def _finish(self, status: str, signum: int | None) -> TrainResult:
        s = self.s
        error = self.metrics[-1][f"{s.eval_split}_error"] if self.metrics else DIVERGED_ERROR
        best = self.best_error if self.metrics else DIVERGED_ERROR
        if status == "diverged":
            # Callers rank runs by error; a diverged run is worst, not missing.
            error = best = DIVERGED_ERROR
            self.progress.log(f"loss is not finite at epoch {self.epoch + 1}: run diverged "
                              f"(recorded as {DIVERGED_ERROR:.0f}% error); try a lower --lr")
        result = TrainResult(
            status=status, epochs=self.epoch, error=error, best_error=best, eval_split=s.eval_split,
            wall_seconds=self.wall_seconds(), metrics=list(self.metrics), complexity=self.complexity,
            spec=self.spec, schedule=s, data=self.settings["data"], out_dir=self.out,
            world_size=self.ctx.world_size, precision=self.precision.name, signal=signum,
            layout=self.precision.layout, precision_reason=self.precision.reason, device=self._device_name(),
            tuning=self._tuning(),
            model=self.ema.module if self.ema is not None else self.model)
        if status == "interrupted":
            where = f"epoch {self.epoch}" + (f" + {self.step_in_epoch} steps" if self.step_in_epoch else "")
            self.progress.log(f"interrupted; checkpoint saved at {where}")
        elif self.ctx.is_main and self.out is not None:
            save_json(result.to_json(), self.out / RESULT)
        return result
