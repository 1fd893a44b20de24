"""netspace: design spaces for convolutional networks.

The Python API, one call per thing the ``netspace`` command does, is exported
here lazily (PEP 562): ``import netspace`` loads neither torch nor pandas;
each name imports its module on first use. ``netspace.complexity(spec)`` is
``netspace.complexity.complexity(spec)`` (the module is callable).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> (module, attribute in it; None: the module itself)
_API: dict[str, tuple[str, str | None]] = {
    # specs, models, cost
    "build": ("netspace.models", "build"),
    "complexity": ("netspace.complexity", None),
    "zoo": ("netspace.zoo", None),
    "info": ("netspace.zoo", "info"),
    "create_model": ("netspace.interop", "create_model"),
    "convert_weights": ("netspace.interop", "convert"),
    "get_space": ("netspace.spaces", "get_space"),
    "sample_population": ("netspace.spaces", "sample_population"),
    # training, sweeps, searches, studies
    "TrialConfig": ("netspace.train.config", "TrialConfig"),
    "trial_config": ("netspace.train.config", "trial_config"),
    "train_trial": ("netspace.train", "train_trial"),
    "SweepConfig": ("netspace.run", "SweepConfig"),
    "sweep_config": ("netspace.run", "sweep_config"),
    "run_sweep": ("netspace.run", "run_sweep"),
    "SearchConfig": ("netspace.run", "SearchConfig"),
    "search_config": ("netspace.run", "search_config"),
    "run_search": ("netspace.run", "run_search"),
    "StudyConfig": ("netspace.study", "StudyConfig"),
    "run_study": ("netspace.study", "run_study"),
    "export_rows": ("netspace.run", "export_rows"),
    "export_table": ("netspace.run", "export_table"),
    "export_model": ("netspace.export", "export_model"),
    # analysis and reports
    "load": ("netspace.run.frame", "load"),
    "load_inputs": ("netspace.inputs", "load_inputs"),
    "write_report": ("netspace.report", "write_report"),
    "runtime_report": ("netspace.report.runtime", "runtime_report"),
    # latency, scaling
    "measure": ("netspace.latency", "measure"),
    "latency_report": ("netspace.run.latency", "latency_report"),
    "scale_model": ("netspace.scaling", "scale_model"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _API[name]
    except KeyError:  # an AttributeError lets ``from netspace import submodule`` import the submodule
        raise AttributeError(f"module 'netspace' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
