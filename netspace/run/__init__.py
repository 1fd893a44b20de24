"""Runs: the one driver of sweeps, searches and studies, its executors (local processes, Ray) and the SQLite store."""

from netspace.run.config import ComplexityWindow, SearchConfig, SweepConfig, search_config, sweep_config
from netspace.run.driver import Run, drive
from netspace.run.optuna_export import export_optuna
from netspace.run.rows import export_rows, export_table, sweep_labels, trial_rows
from netspace.run.search import run_search, search_summary, status
from netspace.run.store import STATUSES, Store, StoreError, Trial
from netspace.run.sweep import run_sweep, sweep_status

__all__ = ["STATUSES", "ComplexityWindow", "Run", "SearchConfig", "Store", "StoreError", "SweepConfig", "Trial",
           "drive", "export_optuna", "export_rows", "export_table", "run_search", "run_sweep", "search_config", "search_summary",
           "status", "sweep_config", "sweep_labels", "sweep_status", "trial_rows"]
