"""Latency of networks on this machine: direct measurement and a per-block lookup table.

``measure(model, batch=..., device=..., threads=..., mode=...)`` times a
NetSpec or an ``nn.Module`` and returns a :class:`LatencyResult` (median,
p10/p90, images/s, repeats and the settings). :class:`LatencyTable` times
each distinct block once and predicts a network's latency as the sum of its
blocks; :func:`lookup_error` checks that prediction against direct timing.

This layer imports the spec, the models and torch; nothing of training,
sweeps or plots.
"""

from netspace.latency.lookup import BlockSignature, LatencyTable, lookup_error, parts, prediction_error
from netspace.latency.measure import MODES, LatencyError, LatencyResult, check_device, measure

__all__ = ["MODES", "BlockSignature", "LatencyError", "LatencyResult", "LatencyTable", "check_device",
           "lookup_error", "measure", "parts", "prediction_error"]
