"""Sweeps: the runner, the executors (local processes, Ray) and the SQLite store."""

from netspace.run.store import STATUSES, Store, StoreError, Trial
from netspace.run.rows import export_rows, sweep_labels, trial_rows
from netspace.run.sweep import SweepConfig, run_sweep, sweep_status

__all__ = ["STATUSES", "Store", "StoreError", "SweepConfig", "Trial", "export_rows", "run_sweep", "sweep_labels",
           "sweep_status", "trial_rows"]
