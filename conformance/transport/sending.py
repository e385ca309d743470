"""One request, one attempt: the response as read off the wire, or in words why none came.

The layer httpx calls a transport: no retries, no pacing, no stops (policy.py keeps those), no
credentials (client.py adds them). Like httpx, it takes the timeout with each request; the deadline comes
from outside too, since the run's time budget may end before the request timeout does.
"""

from __future__ import annotations

import http.client
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from conformance.model import ReceivedResponse
from conformance.transport.connections import EXACT_TARGET, SENDING, Watchdog, new_session
from conformance.transport.failures import after_status_line, failure, reason
from conformance.transport.wire import PARSED, CodingError, UnbufferedResponse, forget_parsed, read_body, read_capped

if TYPE_CHECKING:
    from collections.abc import Callable

    from conformance.transport.failures import Attempt

    # Seconds the next response may take, and what its running out means (a timed-out attempt, or a stop raised).
    Deadline = Callable[[], tuple[float, Callable[[], Attempt]]]

CONNECT_TIMEOUT_SECONDS = 5.0


class Sender:
    """Sends one request at a time through connections of its own, under a watchdog that ends it at its deadline."""

    def __init__(self) -> None:
        self._watchdog = Watchdog()
        self._session = new_session()

    def close(self) -> None:
        """Release pooled connections and stop the watchdog."""
        self._session.close()
        self._watchdog.stop()

    def send(  # noqa: PLR0913 - one return per way a request can end; a request and its limits
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None = None,
        *,
        exact: bool = True,
        timeout: float,
        deadline: Deadline,
    ) -> Attempt:
        """Send one request; `exact` sends its path as written (Schemathesis' cases go as requests sends them)."""
        attempt = self._send_once(method, url, headers, body, exact=exact, timeout=timeout, deadline=deadline)
        return after_status_line(attempt, PARSED.status_line)

    def _send_once(  # noqa: PLR0911, PLR0913 - one return per way a request can end; a request and its limits
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        *,
        exact: bool,
        timeout: float,
        deadline: Deadline,
    ) -> Attempt:
        started = time.perf_counter()
        seconds, timed_out = deadline()
        SENDING.watchdog = self._watchdog
        SENDING.target = None
        forget_parsed()
        with self._watchdog.deadline(seconds) as expired:
            try:
                prepared = self._session.prepare_request(requests.Request(method, url, headers=headers, data=body))
                if exact and EXACT_TARGET.fullmatch(url):
                    # requests removes dot segments ('/checkouts/..' becomes '/') and urllib3 writes '%2e' as
                    # '%2E': a probe of how the server routes path syntax must reach it as written.
                    prepared.url = url
                    SENDING.target = url[len(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}") :]
                with self._session.send(
                    prepared,
                    timeout=(min(CONNECT_TIMEOUT_SECONDS, timeout), timeout),
                    allow_redirects=False,
                    stream=True,
                ) as raw:
                    try:
                        content, truncated = read_capped(raw)
                    except CodingError as exc:
                        return None, f"the response could not be decoded: {exc}"
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    response = ReceivedResponse(
                        status=raw.status_code,
                        reason=raw.reason or "",
                        headers=dict(raw.headers),
                        body=content,
                        elapsed_ms=elapsed_ms,
                        truncated=truncated,
                        framing=PARSED.framing,
                        content_types=PARSED.content_types,
                    )
            except requests.Timeout:
                return timed_out()
            except (requests.ConnectionError, urllib3.exceptions.HTTPError) as exc:
                # The body is read from urllib3 directly (to decode it strictly), so its errors arrive unwrapped.
                if expired.is_set():
                    return timed_out()
                return None, failure(exc, PARSED.status_line)
            except requests.RequestException as exc:
                if expired.is_set():
                    return timed_out()
                return None, f"the response could not be read ({reason(exc)})"
        if expired.is_set():
            return timed_out()
        return response, None

    @staticmethod
    def connection(base_url: str, timeout: float) -> http.client.HTTPConnection:
        """A connection of its own to `base_url`, which reads each response unbuffered; the caller closes it."""
        parts = urlsplit(base_url)
        secure = parts.scheme == "https"
        # Looked up at call time: on record and replay vcrpy stands in for http.client's classes.
        connection_class = http.client.HTTPSConnection if secure else http.client.HTTPConnection
        connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
        connection.response_class = UnbufferedResponse
        return connection

    def send_on(
        self, connection: http.client.HTTPConnection, path: str, headers: dict[str, str], *, deadline: Deadline
    ) -> Attempt:
        """One GET on a kept-alive connection; reconnects once if the server had closed it while idle."""
        return after_status_line(self._send_on_once(connection, path, headers, deadline=deadline), PARSED.status_line)

    def _send_on_once(
        self, connection: http.client.HTTPConnection, path: str, headers: dict[str, str], *, deadline: Deadline
    ) -> Attempt:
        for attempt in (1, 2):
            # Each attempt's own: a status line read on an earlier one says nothing of this one.
            forget_parsed()
            started = time.perf_counter()
            fresh = connection.sock is None
            seconds, timed_out = deadline()
            with self._watchdog.deadline(seconds) as expired:
                try:
                    if fresh:
                        connection.connect()
                    if connection.sock is not None:
                        self._watchdog.track(connection.sock)
                    connection.request("GET", path, headers=headers)
                    raw = connection.getresponse()
                    try:
                        body, truncated = read_body(raw)
                    except CodingError as exc:
                        connection.close()
                        return None, f"the response could not be decoded: {exc}"
                except (OSError, http.client.HTTPException) as exc:
                    connection.close()
                    if expired.is_set():
                        return timed_out()
                    # RFC 9112 section 9.3.1: a request on a connection the server closed while idle may be
                    # sent again on a new one.
                    if not fresh and attempt == 1 and isinstance(exc, _CLOSED_WHILE_IDLE):
                        continue
                    return None, failure(exc, PARSED.status_line)
            if expired.is_set():
                return timed_out()
            # vcrpy's recorded responses know nothing of the connection; a recorded one never closes it. A
            # body cut at the cap leaves the rest on the connection, which then cannot carry another request.
            if getattr(raw, "will_close", False) or truncated:
                connection.close()
            return (
                ReceivedResponse(
                    status=raw.status, reason=raw.reason or "", headers=dict(raw.getheaders()),
                    body=body, elapsed_ms=(time.perf_counter() - started) * 1000,
                    truncated=truncated, framing=PARSED.framing, content_types=PARSED.content_types,
                ),
                None,
            )  # fmt: skip
        return None, "the connection failed twice before a complete response"


# What a kept-alive connection the server closed while idle looks like on the next request.
_CLOSED_WHILE_IDLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
