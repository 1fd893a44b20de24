"""Analysis of sweeps: error EDFs, normalized EDFs, KS comparisons, bootstrap best ranges, RegNet fits, and
evidence with intervals, exact p-values and detectable effects (``netspace.analysis.evidence``).

Functions take plain arrays or a trials DataFrame (one row per trial; see
:mod:`netspace.schema` for the columns and their roles) and validate at the boundary;
bad input raises :class:`AnalysisError` (a :class:`netspace.errors.NetspaceError`).
"""

from netspace.analysis._checks import AnalysisError
from netspace.analysis.bootstrap import best_range, best_ranges, bootstrap_best
from netspace.analysis.by_sweep import compare_sweeps, complexity_weights, finished_by_sweep
from netspace.analysis.compare import KSResult, compare_all, comparison_table, ks_test
from netspace.analysis.edf import edf, edf_at
from netspace.analysis.evidence import Evidence, compare_errors, detectable_ks_d, detectable_rho, rank_correlation
from netspace.analysis.external import detect_format, read_external
from netspace.analysis.frame import finished, parameter_columns, splits, sweeps
from netspace.analysis.normalize import common_log_bins, normalized_weights
from netspace.analysis.panels import Panel, panel_ranges, parameter_panels
from netspace.analysis.read_nds import read_nds
from netspace.analysis.read_pycls import read_pycls_sweep
from netspace.analysis.regnet_fit import RegNetFit, fit_regnet, fit_top_models
from netspace.analysis.runtime_fit import RUNTIME_MODELS, RuntimeModel, fit_runtime_models
from netspace.analysis.summary import summarize
from netspace.analysis.trends import correlations, trends

__all__ = [
    "AnalysisError", "KSResult", "RegNetFit",
    "best_range", "best_ranges", "bootstrap_best", "common_log_bins", "compare_all", "compare_sweeps",
    "comparison_table", "complexity_weights", "correlations", "detect_format", "edf", "edf_at", "finished", "finished_by_sweep",
    "fit_regnet", "fit_top_models", "ks_test", "normalized_weights", "parameter_columns", "read_external",
    "read_nds", "read_pycls_sweep", "splits", "summarize", "sweeps", "trends",
]
__all__ += ["Panel", "panel_ranges", "parameter_panels"]
__all__ += ["RUNTIME_MODELS", "RuntimeModel", "fit_runtime_models"]
__all__ += ["Evidence", "compare_errors", "detectable_ks_d", "detectable_rho", "rank_correlation"]
