"""One trial's configuration: the data and the schedule, shared by train, sweep, search and study.

A :class:`TrialConfig` is what every trained model of netspace is a function
of, besides its spec: ``netspace train`` runs one, every trial of a sweep,
search or study runs the one stored with it. Presets are
``dataclasses.replace`` overrides of it (:meth:`TrialConfig.replace` routes
flat keys to the part that holds them), and the CLI builds its training
options from these fields, so a default lives in exactly one place.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from netspace.data.config import DataConfig
from netspace.train.schedule import Schedule, TrainError

DATA_FIELDS = tuple(f.name for f in dataclasses.fields(DataConfig))
SCHEDULE_FIELDS = tuple(f.name for f in dataclasses.fields(Schedule))


@dataclass(frozen=True)
class TrialConfig:
    """Data + schedule of one trial (JSON round trip through ``to_dict``/``from_dict``)."""

    data: DataConfig = field(default_factory=DataConfig)
    schedule: Schedule = field(default_factory=Schedule)

    def __post_init__(self) -> None:
        if self.schedule.eval_split == "val" and self.data.val_fraction <= 0:
            raise TrainError("evaluating on 'val' needs --val-fraction > 0 (a validation split carved from train)")

    @property
    def seed(self) -> int:
        return self.schedule.seed

    def data_settings(self) -> dict[str, Any]:
        """Keyword arguments of ``netspace.data.load_data`` (JSON-able, sent to workers)."""
        return self.data.load_kwargs(self.schedule.seed)

    def schedule_dict(self) -> dict[str, Any]:
        return self.schedule.to_dict()

    def to_dict(self) -> dict[str, Any]:
        return {"data": self.data.to_dict(), "schedule": self.schedule.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrialConfig":
        unknown = sorted(set(data) - {"data", "schedule"})
        if unknown:
            raise TrainError(f"trial config: unknown key(s) {', '.join(unknown)}; allowed: data, schedule")
        return cls(DataConfig.from_dict(data.get("data", {})), Schedule.from_dict(data.get("schedule", {})))

    def replace(self, **changes: Any) -> "TrialConfig":
        """A copy with flat keys changed, each routed to the data or the schedule (``data`` names the dataset)."""
        data, schedule = split_fields(changes)
        return TrialConfig(dataclasses.replace(self.data, **data), dataclasses.replace(self.schedule, **schedule))


def split_fields(flat: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Flat trial settings -> (data fields, schedule fields); ``data`` is accepted for the dataset name."""
    data: dict[str, Any] = {}
    schedule: dict[str, Any] = {}
    for key, value in flat.items():
        if key == "data":
            data["name"] = value
        elif key in DATA_FIELDS and key != "name":
            data[key] = value
        elif key in SCHEDULE_FIELDS:
            schedule[key] = value
        else:
            raise TrainError(f"unknown trial setting {key!r}; the data takes data, "
                             f"{', '.join(k for k in DATA_FIELDS if k != 'name')} and the schedule "
                             f"{', '.join(SCHEDULE_FIELDS)}")
    return data, schedule


def trial_config(base: TrialConfig | None = None, **flat: Any) -> TrialConfig:
    """``TrialConfig`` from flat keys (``epochs=2, limit_train=512, data="cifar10"``) over ``base``."""
    return (base or TrialConfig()).replace(**flat)
