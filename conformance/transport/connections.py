"""The connections a request goes through: watched by the watchdog, sending their target as written, pooled.

Never through a proxy and never after a redirect: the session they are mounted in follows neither.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import weakref
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import requests
import urllib3.connection
import urllib3.connectionpool
from requests.adapters import HTTPAdapter

from conformance.transport.wire import FinalResponse

if TYPE_CHECKING:
    from collections.abc import Iterator

# Per thread: the watchdog of the request being sent (`watchdog`), and its target as written (`target`).
SENDING = threading.local()
# A URL the transport may send exactly as written: printable ASCII, no space.
EXACT_TARGET = re.compile(r"[!-~]+")
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


class Watchdog:
    """Cuts the connection of a request still unanswered at its deadline: the timeout covers the whole response.

    A socket timeout limits each read, so a server that sends one byte a second would never time
    out; the watchdog shuts the socket down at the deadline, wherever the request is.
    """

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._condition = threading.Condition()
        self._due: float | None = None
        self._expired: threading.Event | None = None
        self._stopped = False
        self._thread: threading.Thread | None = None

    def track(self, sock: socket.socket) -> None:
        """Watch a socket the transport opened."""
        with self._condition:
            self._sockets.add(sock)

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[threading.Event]:
        """Within this block, the transport's sockets are shut down `seconds` from now; the event says if."""
        expired = threading.Event()
        with self._condition:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="transport-watchdog", daemon=True)
                self._thread.start()
            self._due, self._expired = time.monotonic() + seconds, expired
            self._condition.notify()
        try:
            yield expired
        finally:
            with self._condition:
                self._due, self._expired = None, None

    def stop(self) -> None:
        """End the watchdog's thread."""
        with self._condition:
            self._stopped = True
            self._condition.notify()

    def _watch(self) -> None:
        with self._condition:
            while not self._stopped:
                if self._due is None:
                    self._condition.wait()
                    continue
                remaining = self._due - time.monotonic()
                if remaining > 0:
                    self._condition.wait(remaining)
                    continue
                if self._expired is not None:
                    self._expired.set()
                for sock in list(self._sockets):
                    with suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                self._due = None


class _Watched:
    """Shows a connection's socket to the watchdog of the request using it, and sends the target as written."""

    sock: socket.socket

    def connect(self) -> None:
        super().connect()  # type: ignore[misc] # a mixin of a connection
        watchdog: Watchdog | None = getattr(SENDING, "watchdog", None)
        if watchdog is not None:
            watchdog.track(self.sock)

    def putrequest(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - urllib3's
        super().putrequest(method, _exact_target(url), *args, **kwargs)  # type: ignore[misc] # a mixin


def _exact_target(url: str) -> str:
    """The request target as the transport wrote it, where urllib3 changed only the case of its percent-escapes."""
    exact: str | None = getattr(SENDING, "target", None)
    if exact is not None and _ESCAPE.sub(lambda match: match.group().upper(), exact) == url:
        return exact
    return url


class Connection(_Watched, urllib3.connection.HTTPConnection):
    """A connection that skips interim responses and shows its socket to the watchdog of the request using it."""

    response_class = FinalResponse


class SecureConnection(_Watched, urllib3.connection.HTTPSConnection):
    """The same over TLS."""

    response_class = FinalResponse


class Pool(urllib3.connectionpool.HTTPConnectionPool):
    """A pool of the transport's own connections."""

    ConnectionCls = Connection


class SecurePool(urllib3.connectionpool.HTTPSConnectionPool):
    """The same over TLS."""

    ConnectionCls = SecureConnection


class _NeverRedirected(requests.Session):
    """A session that never works out where a redirect points: it follows none.

    requests does even with `allow_redirects=False` (to offer the next request), and a `Location` that is
    not UTF-8, which a hostile server may send, then crashes the request (UnicodeDecodeError).
    """

    def get_redirect_target(self, resp: requests.Response) -> None:  # noqa: ARG002 - requests' own signature
        """No target: the transport judges the 3xx itself."""
        return


def new_session() -> requests.Session:
    """A requests session whose connections skip interim responses and report their sockets to the watchdog."""
    adapter = HTTPAdapter()
    adapter.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}
    session = _NeverRedirected()
    # The environment must not redirect test traffic through a proxy.
    session.trust_env = False
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
