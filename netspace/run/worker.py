"""What one worker does with one trial: load the data (once per process) and train.

Runs in a worker process (local executor) or a Ray task. Every outcome comes
back as a result dict, so an exception in one trial is recorded as ``failed``
and the sweep goes on.
"""

from __future__ import annotations

import dataclasses
import json
import traceback
from typing import Any

from netspace.errors import NetspaceError

_DATA_CACHE: dict[str, Any] = {}

# Not a stored status: the trial failed for a reason of the machine, not of the model (a full disk, a
# permission, memory), so the driver leaves it pending and a rerun trains it again.
RETRY = "retry"
_MACHINE_FAULTS = ("No space left on device", "file write failed", "Disk quota exceeded", "Read-only file system",
                   "Permission denied", "out of memory", "Cannot allocate memory")


def retryable(exc: BaseException) -> bool:
    """Whether an exception of a trial is the environment's fault (OSError, MemoryError, torch's write
    and allocation failures), which freeing the resource fixes, rather than the model's."""
    if isinstance(exc, (OSError, MemoryError)):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(m in text for m in _MACHINE_FAULTS)


def _data(settings: dict[str, Any]):
    from netspace.data import load_data

    key = json.dumps(settings, sort_keys=True)
    if key not in _DATA_CACHE:
        _DATA_CACHE.clear()  # one dataset per worker is enough; keep memory flat
        _DATA_CACHE[key] = load_data(**settings, num_workers=0)
    return _DATA_CACHE[key]


def run_trial(job: dict[str, Any]) -> dict[str, Any]:
    """Train the job's spec into ``job["out_dir"]`` (resuming a checkpoint there)."""
    from netspace.data.config import DataConfig
    from netspace.spec import spec_from_dict
    from netspace.train import Schedule, TrialConfig, train_trial

    try:
        settings = dict(job["data"])  # load_data's keyword arguments: a DataConfig's, maybe synthetic options
        seed = settings.pop("seed", None)
        known = {f.name for f in dataclasses.fields(DataConfig)}
        trial = TrialConfig(DataConfig(**{k: v for k, v in settings.items() if k in known}),
                            Schedule.from_dict(job["schedule"]))
        if seed is not None and trial.seed != seed:
            raise NetspaceError(f"trial {job['trial']}: data seed {seed} differs from the schedule's {trial.seed}")
        # The same call as netspace train, with the data this worker already holds.
        result = train_trial(spec_from_dict(job["spec"]),  # a NetSpec, or a CellNetSpec (nasnet search)
                             trial, data=_data(job["data"]), out_dir=job["out_dir"], progress=False,
                             handle_signals=False)
    except NetspaceError as e:
        return {"status": "failed", "message": str(e)}
    except Exception as e:  # a bug in this trial only, or the machine's fault (disk, memory): see retryable
        tail = traceback.format_exc().strip().splitlines()[-3:]
        message = f"{type(e).__name__}: {e} | " + " | ".join(tail)
        return {"status": RETRY if retryable(e) else "failed", "message": message}
    speeds = [m["images_per_second"] for m in result.metrics if m.get("images_per_second")]
    status = result.status if result.status in ("done", "diverged") else "failed"
    return {
        "status": status,
        "error": result.error,  # on the evaluated split, eval_split (val or test)
        "best_error": result.best_error,
        "eval_split": result.eval_split,
        "epochs": result.epochs,
        "wall_seconds": result.wall_seconds,
        "images_per_second": sum(speeds) / len(speeds) if speeds else None,
        "message": None if status != "failed" else f"training ended as {result.status}",
        "metrics": result.metrics,
    }
