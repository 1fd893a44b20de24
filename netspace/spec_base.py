"""What every spec kind shares: the JSON key check, the number checks, the small-image threshold.

``netspace.spec`` (stage networks) and ``netspace.spec_cells`` (cell
networks) both build on these, so neither imports the other's module for
them. This module imports only the standard library and the errors.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from netspace.errors import SpecError

# Images at or below this size get a stride-1 stem (see ``netspace.spec.for_input``).
SMALL_IMAGE_MAX = 64


def check_keys(data: Mapping[str, Any], klass: type, where: str) -> None:
    """SpecError naming the keys of ``data`` that are not fields of the dataclass ``klass``."""
    allowed = {f.name for f in dataclasses.fields(klass)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
