"""Says how a long run is going: every few seconds, and whenever the rate limit or a Retry-After holds it."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


class Progress:
    """Says how a long run is going, every few seconds, and when the rate limit or Retry-After holds it."""

    EVERY_SECONDS = 5.0
    # Waits shorter than this are not worth a line.
    NOTICEABLE_WAIT_SECONDS = 2.0

    def __init__(self, say: Callable[[str], None], pace: str = "") -> None:
        self.say = say
        self.pace = pace
        self.scenario = "start"
        self.exchanges = 0
        self.failures = 0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def observed(self, exchange: object, verdicts: list[Any]) -> None:
        """Count a judged exchange; speak when the last line is a few seconds old."""
        del exchange
        with self._lock:
            self.exchanges += 1
            self.failures += sum(1 for verdict in verdicts if str(verdict.outcome) == "failed")
            now = time.monotonic()
            if now - self._last < self.EVERY_SECONDS:
                return
            self._last = now
        self.say(
            f"progress: {self.scenario}: {self.exchanges} exchanges judged, {self.failures} failures so far{self.pace}"
        )

    def waiting(self, seconds: float, why: str) -> None:
        """Say that the run holds, and why, when the wait is long enough to notice."""
        if seconds >= self.NOTICEABLE_WAIT_SECONDS:
            self.say(f"waiting {seconds:.1f} s for {why} ({self.scenario}, {self.exchanges} exchanges so far)")
