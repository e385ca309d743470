"""Run policy around each request: the pace, the time budget, 429 retries after Retry-After, and the stops.

Kept outside the sending, as Schemathesis keeps retries outside its transport: a request is sent by
sending.py once per attempt; this module decides when it may leave, whether to send it again, and when
the run must send nothing more (the target silent, rate limited or behind a proxy; Ctrl-C; time spent).
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from conformance.errors import RunStopped, TargetError
from conformance.transport.failures import refused_connection, stalled, timed_out, timed_out_after

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from conformance.model import Exchange, ReceivedResponse
    from conformance.transport.failures import Attempt

# Set when Ctrl-C is pressed during a run (engine.ctrl_c_sticks); no request leaves after it.
STOP_REQUESTED = threading.Event()
# Exchanges in a row still answered 429 after their retries before the run stops.
RATE_LIMITED_IN_A_ROW = 3
# Requests in a row that got no reply at all within the timeout before the run stops sending: the target
# has stopped answering, and every further request would cost a whole timeout.
SILENT_IN_A_ROW = 3
# Proxy Authentication Required (RFC 9110 section 15.5.8): a proxy's answer, never an origin server's.
PROXY_AUTHENTICATION_REQUIRED = 407


class TargetSilent(BaseException):
    """The target stopped answering; the run ends early with what it found (a BaseException, like RunStopped)."""

    def __init__(self, exchange: Exchange, reason: str) -> None:
        super().__init__(reason)
        self.exchange = exchange
        self.reason = reason


@dataclass(frozen=True)
class RetryPolicy:
    """How 429 answers are retried: bounded in count and in each wait."""

    attempts: int = 3
    max_wait_seconds: float = 10.0
    default_wait_seconds: float = 1.0

    def wait_after(self, response: ReceivedResponse) -> float:
        """Seconds to wait before a retry: Retry-After as seconds or as an HTTP date (RFC 9110 section 10.2.3)."""
        value = (response.header("retry-after") or "").strip()
        wait = self.default_wait_seconds
        if value.isdigit():
            wait = float(value)
        elif value:
            with suppress(TypeError, ValueError, IndexError, OverflowError):
                when = parsedate_to_datetime(value)
                # A date in "-0000" comes back naive; an HTTP-date is always UTC (RFC 9110 section 5.6.7).
                wait = (when.replace(tzinfo=when.tzinfo or UTC) - datetime.now(UTC)).total_seconds()
        return min(max(wait, 0.0), self.max_wait_seconds)


class Pacer:
    """The rate limit and the time budget, shared by a transport and its clones."""

    def __init__(self, rate_per_second: float | None, max_time: float | None, sleep: Callable[[float], None]) -> None:
        self._interval = 1 / rate_per_second if rate_per_second else 0.0
        self._next_send = time.monotonic()
        self._max_time = max_time
        self._deadline = time.monotonic() + max_time if max_time is not None else None
        self._sleep = sleep
        self._lock = threading.Lock()
        self._prepaid = 0
        self.sent = 0

    def left(self) -> float | None:
        """Seconds left of the time budget; None without one."""
        return self._deadline - time.monotonic() if self._deadline is not None else None

    def spent(self) -> RunStopped:
        """The stop of a run whose time budget ran out."""
        return RunStopped(
            TargetError(
                f"the run's time budget of {self._max_time:g} s ran out after {self.sent} requests",
                "raise --max-time, or lower --max-examples",
            )
        )

    def wait_turn(self) -> None:
        """Wait until the next request may leave; stop the run when the time budget is spent."""
        with self._lock:
            now = time.monotonic()
            if self._deadline is not None and now + self._interval > self._deadline:
                raise self.spent()
            self.sent += 1
            if self._prepaid:
                self._prepaid -= 1
                return
            wait = self._next_send - now
            self._next_send = max(now, self._next_send) + self._interval
        if wait > 0:
            self._sleep(wait)

    def prepay(self, size: int) -> None:
        """Wait for `size` turns at once; the next `size` requests then leave without waiting."""
        with self._lock:
            now = time.monotonic()
            wait = self._next_send - now
            self._next_send = max(now, self._next_send) + self._interval * size
            self._prepaid = size
        if wait > 0:
            self._sleep(wait)

    def forfeit(self) -> None:
        """Drop the turns a burst did not use."""
        with self._lock:
            self._prepaid = 0


class Policy:
    """What one transport keeps to around each request; its pace and time budget may be shared with clones."""

    def __init__(
        self,
        retry: RetryPolicy,
        *,
        sleep: Callable[[float], None],
        rate_per_second: float | None = None,
        max_time: float | None = None,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> None:
        self.retry = retry
        self._sleep = sleep
        self._on_wait = on_wait
        self._pacer = Pacer(rate_per_second, max_time, self._waiting("the rate limit"))
        self._limited_in_a_row = 0
        self._silent_in_a_row = 0
        self._stalled_in_a_row = 0
        # The last GET the target answered, ready to send again when the target falls silent, to tell a target
        # that is gone (could not judge) from one that hangs on some requests (its fault).
        self._answered: Callable[[], Attempt] | None = None

    @property
    def requests_sent(self) -> int:
        """Requests sent so far under this policy and those sharing its pace, retries included."""
        return self._pacer.sent

    def share_pace(self, other: Policy) -> None:
        """Keep to `other`'s pace and time budget, and count requests with it, from now on."""
        self._pacer = other._pacer

    @contextmanager
    def burst(self, size: int) -> Iterator[None]:
        """Let `size` requests leave at once, paid for in advance at the rate limit, so that they overlap."""
        self._pacer.prepay(size)
        try:
            yield
        finally:
            self._pacer.forfeit()

    def deadline(self, timeout: float) -> tuple[float, Callable[[], Attempt]]:
        """Seconds the next response may take at a request `timeout`, and what its running out means.

        The request timeout, or less when the run's --max-time ends sooner: then running out stops the
        run (could not judge) instead of failing the target for the gate's own budget.
        """
        left = self._pacer.left()
        if left is not None and left < timeout:

            def spent() -> Attempt:
                raise self._pacer.spent()

            return max(left, 0.001), spent
        return timeout, lambda: timed_out_after(timeout)

    def attempts(self, send: Callable[[], Attempt], attempts: int) -> Attempt:
        """Send, each time at the pace; again after a 429, waiting as Retry-After says, up to `attempts` times."""
        response, error = None, None
        for number in range(1, attempts + 1):
            self._pace()
            response, error = send()
            if response is None or response.status != 429 or number == attempts:
                break
            self._waiting("the target's Retry-After")(self.retry.wait_after(response))
        return response, error

    def after(self, exchange: Exchange, timeout: float, resend: Callable[[], Attempt] | None = None) -> None:
        """Count an exchange sent at a request `timeout` towards the stops; raise the stop it completes.

        `resend` sends the same request again, for a GET that may be asked once more to tell a target gone.
        """
        response, error = exchange.response, exchange.transport_error
        method, url, purpose = exchange.request.method, exchange.request.url, exchange.purpose
        self._limited_in_a_row = self._limited_in_a_row + 1 if exchange.rate_limited else 0
        # A refused connection is no answer either: it counts like silence, and three in a row end the run.
        silent = response is None and (timed_out(error) or refused_connection(error))
        self._silent_in_a_row = self._silent_in_a_row + 1 if silent else 0
        # Answers begun and never finished cost a whole timeout each, like silence, but the target is there.
        self._stalled_in_a_row = self._stalled_in_a_row + 1 if response is None and stalled(error) else 0
        if response is not None and response.status == PROXY_AUTHENTICATION_REQUIRED:
            # The transport never uses a proxy, so a 407 is from something in between, never the target's answer.
            raise RunStopped(
                TargetError(
                    f"request {self.requests_sent} ({method} {url}) was answered 407 Proxy Authentication "
                    "Required: a proxy between the gate and the target (a corporate or CI egress proxy, a "
                    "transparent one) demands credentials, and the gate never sends through a proxy, so the target "
                    "itself was not reached",
                    "run from a network with a direct route to the target, or point --base-url past the proxy",
                )
            )
        if self._limited_in_a_row >= RATE_LIMITED_IN_A_ROW:
            raise RunStopped(
                TargetError(
                    f"the target answered 429 to {self._limited_in_a_row} requests in a row, each retried "
                    f"{self.retry.attempts - 1} times after Retry-After",
                    "rerun later, or with a lower --rate-limit",
                )
            )
        if self._silent_in_a_row >= SILENT_IN_A_ROW and refused_connection(error):
            first = self.requests_sent - self._silent_in_a_row + 1
            raise RunStopped(
                TargetError(
                    f"the target stopped accepting connections: from request {first} of the run on, "
                    f"{self._silent_in_a_row} requests in a row got no answer, the last one's connection refused "
                    f"({method} {url}, {purpose}), so the run sent nothing more and cannot judge the rest",
                    "check that the server stays up for the whole run, and rerun",
                )
            )
        if resend is not None and response is not None:
            self._answered = resend
        if self._silent_in_a_row >= SILENT_IN_A_ROW and self._gone():
            first = self.requests_sent - self._silent_in_a_row
            raise RunStopped(
                TargetError(
                    f"the target stopped answering: from request {first} of the run on, {self._silent_in_a_row} "
                    f"requests in a row got no reply within {timeout:g} s ({method} {url}, {purpose} "
                    "the last), and a request it had answered before, sent again, got none either, so the run sent "
                    "nothing more and cannot judge the rest",
                    "check that the server stays up and reachable for the whole run, and rerun",
                )
            )
        if self._stalled_in_a_row >= SILENT_IN_A_ROW:
            raise TargetSilent(
                exchange,
                f"{self._stalled_in_a_row} requests in a row got a status line and then no complete message within "
                f"{timeout:g} s, so the run sent nothing more",
            )
        if self._silent_in_a_row >= SILENT_IN_A_ROW:
            raise TargetSilent(
                exchange,
                f"the target stopped answering: {self._silent_in_a_row} requests in a row got no reply within "
                f"{timeout:g} s, so the run sent nothing more",
            )

    def _gone(self) -> bool:
        """Send again the last request the target answered: no reply to it either means the target is gone."""
        if self._answered is None:
            return False
        self._pace()
        response, error = self._answered()
        return response is None and (timed_out(error) or refused_connection(error))

    def _pace(self) -> None:
        """Keep to the rate limit and the run's time budget; stop when Ctrl-C was pressed."""
        if STOP_REQUESTED.is_set():
            # Ctrl-C landed where a library swallowed it (Hypothesis marks the example and goes on): it
            # stops the run at the next request anyway.
            raise KeyboardInterrupt
        self._pacer.wait_turn()

    def _waiting(self, why: str) -> Callable[[float], None]:
        def wait(seconds: float) -> None:
            if self._on_wait is not None:
                self._on_wait(seconds, why)
            self._sleep(seconds)

        return wait
