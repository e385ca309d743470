"""What the variant modules share: the session single-session faults break, a request counter, the race window."""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING

from conformance.sandbox.server import CheckoutApi

if TYPE_CHECKING:
    from conformance.sandbox.sessions import CheckoutSession

_JSON = {"Content-Type": "application/json"}
# The session each single-session fault breaks: the one in `requires_capture`, deep in the list.
TARGET_STATUS = "requires_capture"
# How long a racy variant holds its shared state: overlapping requests fall into it, serial ones never do.
RACE_WINDOW_SECONDS = 0.02


class _Counting(CheckoutApi):
    """Numbers the requests it answers, from 1, safely across the server's threads."""

    def __init__(self, api_key: str, sessions: tuple[CheckoutSession, ...]) -> None:
        super().__init__(api_key, sessions)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def request_number(self) -> int:
        """The number of the request being answered."""
        with self._lock:
            return next(self._counter)


def _is_target(session: CheckoutSession) -> bool:
    return session.payment_status == TARGET_STATUS
