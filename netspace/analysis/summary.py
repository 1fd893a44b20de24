"""Per-sweep summary: how many trials, in which state, and their errors."""

from __future__ import annotations

import numpy as np
import pandas as pd

from netspace.analysis._checks import require_frame
from netspace.analysis.frame import sweeps
from netspace.schema import FINISHED, STATUSES

# finished states first: the table leads with what the errors come from
SHOWN = (*FINISHED, *(s for s in STATUSES if s not in FINISHED))


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per sweep: n, a count per status, and best/mean/median error of the done trials.

    A sweep with no finished trial is kept (its counts are informative) with
    NaN errors; functions that need errors raise for it instead.
    """
    require_frame(df, ("sweep", "status", "error"))
    rows = []
    for name in sweeps(df):
        part = df[df["sweep"].astype(str) == name]
        err = pd.to_numeric(part["error"], errors="coerce")
        done = err[(part["status"] == "done") & np.isfinite(err)]
        row = {"sweep": name, "n": len(part)}
        row.update({status: int((part["status"] == status).sum()) for status in SHOWN})
        row.update(
            best=float(done.min()) if len(done) else np.nan,
            mean=float(done.mean()) if len(done) else np.nan,
            median=float(done.median()) if len(done) else np.nan,
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=["sweep", "n", *SHOWN, "best", "mean", "median"])
