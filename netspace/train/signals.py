"""Turn SIGINT/SIGTERM into a request to stop at the next step, so a checkpoint can be written."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any


class StopRequest:
    """While active, SIGINT and SIGTERM set ``signum`` instead of killing the process.

    A second signal of the same kind falls through to the previous handler
    (KeyboardInterrupt for Ctrl-C), so a user is never stuck with an
    unkillable run. Handlers can only be installed from the main thread; in
    any other thread this is inert and the caller's handlers stay.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        if self.enabled:
            for s in self.SIGNALS:
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            previous = self._previous.get(signum)
            if callable(previous):
                previous(signum, frame)
            elif previous == signal.SIG_DFL:
                signal.signal(signum, signal.SIG_DFL)
                signal.raise_signal(signum)
            return
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None
