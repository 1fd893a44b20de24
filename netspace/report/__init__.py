"""Plots and the self-contained HTML report of sweeps (matplotlib, Agg backend).

The report's sections are registered here, one line each, in page order
(see :mod:`netspace.report.sections`).
"""

from netspace.report import fidelity, sections
from netspace.report.sections import SECTIONS
from netspace.report.write import write_report

SECTIONS.register("edf", sections.edf_comparisons)
SECTIONS.register("complexity", sections.error_vs_complexity)
SECTIONS.register("search", sections.search_progress)
SECTIONS.register("parameters", sections.error_vs_parameters)
SECTIONS.register("trends", sections.trends_across_sweeps)
SECTIONS.register("regnet_fit", sections.regnet_fit)
SECTIONS.register("block_widths", sections.block_widths)
SECTIONS.register("curves", sections.training_curves)
SECTIONS.register("proxy_fidelity", fidelity.proxy_fidelity_section)

__all__ = ["SECTIONS", "write_report"]
