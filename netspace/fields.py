"""Helpers for the frozen settings dataclasses (schedule, data, trial): help text and strict loading."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


def help_meta(text: str) -> dict[str, str]:
    """Field metadata holding the CLI help of a settings field (the CLI builds its options from it)."""
    return {"help": text}


def from_mapping(cls: type[T], data: Mapping[str, Any], error: type[Exception], what: str) -> T:
    """``cls(**data)``, refusing unknown keys with one line that lists the allowed ones."""
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise error(f"{what}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    return cls(**data)
