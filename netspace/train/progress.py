"""Progress on stderr: a redrawn bar on a terminal, one plain line per epoch otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Minimal progress reporting; no dependency, no threads.

    On a TTY the current line is redrawn at most ``hz`` times a second with
    epoch, step, running loss and images/s. Elsewhere (logs, CI, pipes) only
    the per-epoch summary lines are written, so logs stay greppable.
    """

    def __init__(self, enabled: bool = True, stream: TextIO | None = None, tty: bool | None = None,
                 hz: float = 5.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = self.stream.isatty() if tty is None else tty
        self._interval = 1.0 / hz
        self._last_draw = 0.0
        self._drawn = False

    def log(self, message: str) -> None:
        if not self.enabled:
            return
        self._clear()
        print(message, file=self.stream, flush=True)

    def step(self, epoch: int, epochs: int, step: int, steps: int, loss: float, images_per_second: float) -> None:
        if not (self.enabled and self.tty):
            return
        now = time.monotonic()
        if now - self._last_draw < self._interval and step < steps:
            return
        self._last_draw = now
        width = 24
        filled = int(width * step / max(steps, 1))
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\repoch {epoch}/{epochs} [{bar}] {step}/{steps} loss {loss:.4f} "
                          f"{images_per_second:,.0f} img/s\x1b[K")
        self.stream.flush()
        self._drawn = True

    def _clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False
