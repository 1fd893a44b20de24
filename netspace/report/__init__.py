"""Plots and the self-contained HTML report of sweeps (matplotlib, Agg backend)."""

from netspace.report.write import write_report

__all__ = ["write_report"]
