"""What sweeps and searches share: how one trial's data and schedule follow from their settings."""

from __future__ import annotations

from typing import Any


class TrialSettings:
    """Mixin for a run's frozen settings dataclass.

    The dataclass holds the fields ``data``, ``data_dir``, ``val_fraction``,
    ``seed``, ``limit_train``, ``limit_test``, ``epochs``, ``batch_size``,
    ``lr``, ``precision``, ``eval_split`` and ``zero_init_last_bn``; every
    trial of the run gets the same data settings and schedule from them.
    """

    def data_settings(self) -> dict[str, Any]:
        """Keyword arguments of ``netspace.data.load_data`` (JSON-able, sent to workers)."""
        return {"name": self.data, "data_dir": self.data_dir, "val_fraction": self.val_fraction,
                "seed": self.seed, "limit_train": self.limit_train, "limit_test": self.limit_test}

    def schedule_dict(self) -> dict[str, Any]:
        """The trials' ``netspace.train.Schedule`` as a dict (validated here, before anything runs)."""
        from netspace.train import Schedule

        return Schedule(epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, precision=self.precision,
                        eval_split=self.eval_split, seed=self.seed,
                        zero_init_last_bn=self.zero_init_last_bn).to_dict()
