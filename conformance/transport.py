"""The only module that sends requests to the target."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import threading
import time
import weakref
import zlib
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache, partial
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import requests
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from conformance.errors import RunStopped, TargetError
from conformance.model import Credential, Exchange, Purpose, ReceivedResponse, SentRequest
from conformance.redaction import REDACTED

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

USER_AGENT = "dodo-conformance"
# Bodies past this size are not read further, and reported as unjudged rather than held in memory.
BODY_CAP_BYTES = 32 * 1024 * 1024
# A key no server can have issued; sent to prove wrong keys are rejected.
WRONG_KEY = "conformance_wrong_key_0000000000000000"
CONNECT_TIMEOUT_SECONDS = 5.0
# What a kept-alive connection the server closed while idle looks like on the next request.
_CLOSED_WHILE_IDLE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
# Requests in a row that got no reply at all within the timeout before the run stops sending: the target
# has stopped answering, and every further request would cost a whole timeout.
SILENT_IN_A_ROW = 3
# What a request that got no complete response in time is said to have got.
_TIMED_OUT = "no complete response within the {seconds:g} s request timeout"


def timed_out(transport_error: str | None) -> bool:
    """Whether an exchange's transport error is its request timing out."""
    return transport_error is not None and transport_error.startswith(_TIMED_OUT.partition("{")[0])


# What a request met that got no HTTP answer because nothing accepted its connection.
_REFUSED = "the connection was refused: nothing accepts connections at that address and port"
# What a request met that was answered, but not with an HTTP message: a caller must not call such a target silent.
_NOT_HTTP = "the target answered, but not in"


def refused_connection(transport_error: str | None) -> bool:
    """Whether an exchange's transport error is its connection being refused."""
    return transport_error is not None and transport_error.startswith(_REFUSED)


def answered_without_http(transport_error: str | None) -> bool:
    """Whether the target did answer, in bytes that are no HTTP response (HTTP/0.9 style, TLS, another protocol)."""
    return transport_error is not None and transport_error.startswith(_NOT_HTTP)


# What a request met that was answered with a status line and then not with a whole message: the target is there
# and answers, so it is judged (a framing or coding fault), never taken for silence or for an unreachable target.
_BROKE_OFF = "the target answered with the status line "


def broke_off(transport_error: str | None) -> bool:
    """Whether the target sent a status line and then no complete, decodable HTTP message."""
    return transport_error is not None and transport_error.startswith(_BROKE_OFF)


def stalled(transport_error: str | None) -> bool:
    """Whether the target sent a status line and then ran out the request timeout: it costs a timeout each time."""
    return broke_off(transport_error) and _TIMED_OUT.partition("{")[0] in (transport_error or "")


def _after_status_line(
    result: tuple[ReceivedResponse | None, str | None],
) -> tuple[ReceivedResponse | None, str | None]:
    """An error met after a status line arrived says so: the server answered, with a message it did not complete."""
    response, error = result
    line = getattr(_CURRENT, "status_line", None)
    if response is not None or error is None or line is None or broke_off(error):
        return result
    return None, f"{_BROKE_OFF}{line!r}, then {error}"


def _failure(exc: BaseException) -> str:
    """Why a request got no complete response, naming the cause where the error chain shows it."""
    chain = _chain(exc)
    if any(isinstance(cause, ConnectionRefusedError) for cause in chain):
        return _REFUSED
    # RemoteDisconnected is a BadStatusLine too, but it means the server closed without a byte.
    bad = next(
        (
            cause
            for cause in chain
            if isinstance(cause, http.client.BadStatusLine) and not isinstance(cause, http.client.RemoteDisconnected)
        ),
        None,
    )
    if bad is not None:
        line = str(bad.args[0]) if bad.args else ""
        interim = getattr(_CURRENT, "status_line", None)
        if interim is not None:
            # A 1xx response ends at its header section: bytes after it are read as the next status line.
            return (
                f"{_BROKE_OFF}{interim!r}, then {line[:60]!r} where the next status line belongs: an interim 1xx "
                "response has no content (RFC 9110 section 15.2), so bytes sent after it break the message"
            )
        if line[:2] in ("\x15\x03", "\x16\x03"):
            # A TLS record (an alert, a handshake) where an HTTP status line belongs.
            return (
                f"{_NOT_HTTP} HTTP: it answered in TLS, so the port speaks https and the URL should start with https://"
            )
        return (
            f"{_NOT_HTTP} HTTP: its reply has no HTTP status line (an HTTP/0.9 style reply, or another protocol) and "
            f"began {line[:60]!r}"
        )
    if any(isinstance(cause, ssl.SSLError) and "WRONG_VERSION_NUMBER" in str(cause) for cause in chain):
        return (
            f"{_NOT_HTTP} TLS: it answered the TLS handshake in plain text, so the port speaks http and the URL "
            "should start with http://"
        )
    return f"the connection failed or was dropped before a complete response ({_reason(exc)})"


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and every error it was raised from or while handling, innermost last."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and all(cause is not seen for seen in chain):
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    # urllib3 keeps the reason of a failed connection in an attribute, not in the chain.
    chain += [reason for error in list(chain) if isinstance(reason := getattr(error, "reason", None), BaseException)]
    return chain


# Set when Ctrl-C is pressed during a run (engine.ctrl_c_sticks); no request leaves after it.
STOP_REQUESTED = threading.Event()
# Exchanges in a row still answered 429 after their retries before the run stops.
RATE_LIMITED_IN_A_ROW = 3
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


@dataclass(frozen=True)
class KeyProbe:
    """An Authorization header that is not the valid key, and why it is sent."""

    credential: Credential
    why: str
    header: str = ""
    # How the header may be shown: a near miss of the key is a near copy of a secret.
    shown: str = ""


# A secret shorter than this is no secret: the key has no usable structure.
_MIN_SECRET = 8


@cache
def _key_structure() -> dict[str, Any]:
    text = resources.files("conformance.data").joinpath("key_structure.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def key_prefix(key: str) -> str:
    """The key's prefix of public words (data/key_structure.json): a kind ('sk_'), a mode ('test_'), or both.

    Only those words: a prefix of any letters could be part of the secret. It is not secret, so a recording
    keeps it, and a replay probes a key of the same shape.
    """
    data = _key_structure()
    segments = key.split("_")
    prefix = []
    if segments[0].lower() in data["kinds"] and len(segments) > 1:
        prefix.append(segments.pop(0))
    if segments[0].lower() in data["modes"] and len(segments) > 1:
        prefix.append(segments.pop(0))
    text = "".join(f"{segment}_" for segment in prefix)
    return text if len(key) - len(text) >= _MIN_SECRET else ""


def key_parts(key: str) -> tuple[list[str], str] | None:
    """The key's prefix segments (without their '_') and its secret; None for a key without such a prefix."""
    prefix = key_prefix(key)
    return (prefix.split("_")[:-1], key[len(prefix) :]) if prefix else None


def structural_near_misses(key: str) -> list[tuple[str, str]]:
    """Near misses of the key made from its structure (data/key_structure.json says why each), with their reasons."""
    data = _key_structure()
    parts = key_parts(key)
    made = []
    for rule in data["rules"]:
        near = _apply_key_rule(rule, key, parts, data)
        if near is not None and near != key:
            made.append((near, rule["why"]))
    return made


def _apply_key_rule(
    rule: dict[str, Any], key: str, parts: tuple[list[str], str] | None, data: dict[str, Any]
) -> str | None:
    op = rule["op"]
    if op == "append":
        return key + str(rule["arg"])
    if parts is None:
        return None
    segments, secret = parts
    if op == "secret_only":
        return secret
    if op == "prefix_doubled":
        return key[: len(key) - len(secret)] * 2 + secret
    if op == "other_mode":
        swapped = [data["modes"].get(segment.lower(), segment) for segment in segments]
        return None if swapped == segments else "".join(f"{segment}_" for segment in swapped) + secret
    if op == "other_kind":
        kind = data["kinds"].get(segments[0].lower())
        return None if kind is None else "".join(f"{segment}_" for segment in [kind, *segments[1:]]) + secret
    message = f"unknown key rule {op!r} in data/key_structure.json"
    raise ValueError(message)


class Transport:
    """Sends GET /checkouts/{id} with the valid key, without one, or with a key that must be refused."""

    def __init__(  # noqa: PLR0913 - each is a separate limit on what is sent
        self,
        base_url: str,
        api_key: str,
        timeout: float,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rate_per_second: float | None = None,
        max_time: float | None = None,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._on_wait = on_wait
        self._sleep = sleep
        self._pacer = _Pacer(rate_per_second, max_time, self._waiting("the rate limit"))
        self._limited_in_a_row = 0
        self._silent_in_a_row = 0
        self._stalled_in_a_row = 0
        # The last GET the target answered, as sent: asked again when the target falls silent, to tell a target
        # that is gone (could not judge) from one that hangs on some requests (its fault).
        self._answered: tuple[str, str, dict[str, str]] | None = None
        self._watchdog = _Watchdog()
        self._session = _session()

    @property
    def requests_sent(self) -> int:
        """Requests sent so far by this transport and its clones, retries included."""
        return self._pacer.sent

    def clone(self) -> Transport:
        """A transport of its own connections and deadlines, sharing this one's pace and time budget."""
        twin = Transport(
            self.base_url, self._api_key, self.timeout, retry=self.retry, sleep=self._sleep, on_wait=self._on_wait
        )
        twin._pacer = self._pacer
        return twin

    @contextmanager
    def burst(self, size: int) -> Iterator[None]:
        """Let `size` requests leave at once, paid for in advance at the rate limit, so that they overlap."""
        self._pacer.prepay(size)
        try:
            yield
        finally:
            self._pacer.forfeit()

    def _waiting(self, why: str) -> Callable[[float], None]:
        def wait(seconds: float) -> None:
            if self._on_wait is not None:
                self._on_wait(seconds, why)
            self._sleep(seconds)

        return wait

    def close(self) -> None:
        """Release pooled connections and stop the watchdog."""
        self._session.close()
        self._watchdog.stop()

    def url_for(self, checkout_id: str) -> str:
        """The URL of a checkout id, with every reserved character escaped."""
        return f"{self.base_url}/checkouts/{quote(checkout_id, safe='')}"

    def key_probes(self) -> list[KeyProbe]:
        """Authorization headers a server must refuse: near misses of the valid key, and no usable key at all."""
        key = self._api_key
        other_last = "0" if key[-1] != "0" else "1"
        near_misses = [
            (key[:-1], "the key without its last character (a prefix compare accepts it)"),
            (key + "x", "the key with one more character (a compare of the key's length only accepts it)"),
            (key[:-1] + other_last, "the key with its last character changed (a compare of the first characters)"),
            (
                key[: len(key) // 2] + ("0" if key[len(key) // 2] != "0" else "1") + key[len(key) // 2 + 1 :],
                "the key with a character in its middle changed (a compare of its ends and length only)",
            ),
            (key[: len(key) // 2], "the first half of the key"),
            (key.swapcase(), "the key with its letters' case swapped (a case-insensitive compare accepts it)"),
            (key[:-1] + "\u00e9", "the key with a non-ASCII last character (a compare that breaks on it)"),
            *structural_near_misses(key),
        ]
        probes = [
            KeyProbe(Credential.NEAR_MISS, why, f"Bearer {near}", f"Bearer {REDACTED} ({why.split(' (')[0]})")
            for near, why in dict(near_misses).items()
            if near != key
        ]
        malformed = [
            ("Bearer ", "an empty bearer token"),
            ("Bearer", "the Bearer scheme without a token"),
            (f"Token {key}", "the key under the scheme Token"),
            (f"Basic {key}", "the key under the scheme Basic"),
            (key, "the key without a scheme"),
        ]
        probes += [
            KeyProbe(Credential.MALFORMED, why, header, header.replace(key, REDACTED) if key in header else header)
            for header, why in malformed
        ]
        return probes

    def derived_secrets(self) -> list[str]:
        """Every near copy of the key this transport sends: outputs must redact them like the key."""
        return [
            probe.header.removeprefix("Bearer ")
            for probe in self.key_probes()
            if probe.credential is Credential.NEAR_MISS
        ]

    def get_checkout(  # noqa: PLR0913 - an exchange is described by all of these
        self,
        checkout_id: str,
        purpose: Purpose,
        credential: Credential = Credential.VALID,
        previous: Exchange | None = None,
        *,
        probe: KeyProbe | None = None,
        why: str | None = None,
    ) -> Exchange:
        """GET one checkout id."""
        return self._send(
            "GET", self.url_for(checkout_id), checkout_id, purpose=purpose,
            credential=probe.credential if probe is not None else credential, previous=previous, probe=probe,
            why=probe.why if probe is not None else why,
        )  # fmt: skip

    def head_path(self, path: str, resource_id: str, why: str) -> Exchange:
        """HEAD a path exactly as given (already encoded), without a key."""
        return self._send(
            "HEAD", self.base_url + path, resource_id, purpose=Purpose.HEAD, credential=Credential.MISSING, why=why
        )

    def get_path(  # noqa: PLR0913 - an exchange is described by all of these
        self,
        path: str,
        checkout_id: str,
        purpose: Purpose,
        credential: Credential = Credential.VALID,
        *,
        previous: Exchange | None = None,
        probe: KeyProbe | None = None,
        why: str | None = None,
    ) -> Exchange:
        """GET a path exactly as given (already encoded): a recorded request sent again, or path syntax as such."""
        return self._send(
            "GET", self.base_url + path, checkout_id, purpose=purpose,
            credential=probe.credential if probe is not None else credential, previous=previous, probe=probe,
            why=probe.why if probe is not None else why,
        )  # fmt: skip

    def read_on_one_connection(
        self, checkout_ids: list[str], why: str, path_for: Callable[[str], str] | None = None
    ) -> list[Exchange]:
        """Read the ids one after another on a single kept-alive connection, with the valid key.

        Pooling clients reuse connections; a server that writes a reply twice then shifts every later
        answer on that connection by one, which separate connections never show.
        """
        parts = urlsplit(self.base_url)
        secure = parts.scheme == "https"
        # Looked up at call time: on record and replay vcrpy stands in for http.client's classes.
        connection_class = http.client.HTTPSConnection if secure else http.client.HTTPConnection
        connection = connection_class(parts.hostname or "", parts.port, timeout=self.timeout)
        connection.response_class = _UnbufferedResponse
        headers = {**self._headers(Credential.VALID, None)[0], "Accept-Encoding": "gzip, deflate"}
        exchanges = []
        try:
            for checkout_id in checkout_ids:
                url = self.url_for(checkout_id) if path_for is None else self.base_url + path_for(checkout_id)
                path = urlsplit(url).path
                exchanges.append(
                    self._send(
                        "GET",
                        url,
                        checkout_id,
                        purpose=Purpose.KNOWN,
                        credential=Credential.VALID,
                        why=why,
                        attempt=partial(self._on_connection, connection, path, headers),
                    )
                )
        finally:
            connection.close()
        return exchanges

    def _on_connection(
        self, connection: http.client.HTTPConnection, path: str, headers: dict[str, str]
    ) -> tuple[ReceivedResponse | None, str | None]:
        """One request on a kept-alive connection; reconnects once if the server had closed it while idle."""
        return _after_status_line(self._on_connection_attempts(connection, path, headers))

    def _on_connection_attempts(
        self, connection: http.client.HTTPConnection, path: str, headers: dict[str, str]
    ) -> tuple[ReceivedResponse | None, str | None]:
        for attempt in (1, 2):
            _CURRENT.status_line = None
            started = time.perf_counter()
            fresh = connection.sock is None
            seconds, timed_out = self._deadline()
            with self._watchdog.deadline(seconds) as expired:
                try:
                    if fresh:
                        connection.connect()
                    if connection.sock is not None:
                        self._watchdog.track(connection.sock)
                    connection.request("GET", path, headers=headers)
                    _CURRENT.framing = ()
                    _CURRENT.content_types = None
                    raw = connection.getresponse()
                    try:
                        coded = _read_whole(raw)
                        cut = len(coded) > BODY_CAP_BYTES
                        body = _decoded(coded, raw.getheader("Content-Encoding"), cut=cut)
                    except _CodingError as exc:
                        connection.close()
                        return None, f"the response could not be decoded: {exc}"
                except (OSError, http.client.HTTPException) as exc:
                    connection.close()
                    if expired.is_set():
                        return timed_out()
                    # RFC 9112 section 9.3.1: a request on a connection the server closed while idle may be
                    # sent again on a new one.
                    if (
                        not fresh
                        and attempt == 1
                        and isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError))
                    ):
                        continue
                    return None, _failure(exc)
            if expired.is_set():
                return timed_out()
            # vcrpy's recorded responses know nothing of the connection; a recorded one never closes it. A
            # body cut at the cap leaves the rest on the connection, which then cannot carry another request.
            truncated = cut or len(body) > BODY_CAP_BYTES
            if getattr(raw, "will_close", False) or truncated:
                connection.close()
            return (
                ReceivedResponse(
                    status=raw.status, reason=raw.reason or "", headers=dict(raw.getheaders()),
                    body=body[:BODY_CAP_BYTES], elapsed_ms=(time.perf_counter() - started) * 1000,
                    truncated=truncated, framing=_CURRENT.framing, content_types=_CURRENT.content_types,
                ),
                None,
            )  # fmt: skip
        return None, "the connection failed twice before a complete response"

    def create_checkout(self, product_id: str, credential: Credential = Credential.VALID) -> Exchange:
        """POST /checkouts with a cart of one product, quantity 1, and the valid key, none, or a wrong one.

        With the valid key, retried only after a 429, which a server sends instead of acting on the request: a
        retry after a timeout or a dropped connection could create a second session (there is no idempotency
        key). Without it, sent once and never again, not even after a 429: it is sent to be refused, and a 429
        is no create.
        """
        url = f"{self.base_url}/checkouts"
        body = json.dumps({"product_cart": [{"product_id": product_id, "quantity": 1}]}).encode()
        why = None if credential is Credential.VALID else f"a create sent with {credential}, which must be refused"
        return self._send(
            "POST",
            url,
            "",
            purpose=Purpose.CREATE,
            credential=credential,
            body=body,
            extra_headers={"Content-Type": "application/json"},
            why=why,
            attempts=self.retry.attempts if credential is Credential.VALID else 1,
        )

    def send_case(self, case: Any, id_in_path: Callable[[str], str] | None = None) -> Exchange:  # noqa: ANN401
        """Send a Schemathesis-generated case with the valid key; `id_in_path` reads the id from its path."""
        kwargs = case.as_transport_kwargs(base_url=self.base_url)
        url = kwargs["url"]
        # Schemathesis percent-encodes the generated value into the path.
        path = urlsplit(url).path
        checkout_id = unquote(path.rsplit("/checkouts/", 1)[-1]) if id_in_path is None else id_in_path(path)
        return self._send(
            kwargs["method"], url, checkout_id, purpose=Purpose.GENERATED, credential=Credential.VALID, case=case
        )

    def _headers(self, credential: Credential, probe: KeyProbe | None) -> tuple[dict[str, str], dict[str, str]]:
        """Return the headers to send and the same headers as they may be shown."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        shown = dict(headers)
        if probe is not None:
            headers["Authorization"] = probe.header
            shown["Authorization"] = probe.shown
        elif credential is Credential.VALID:
            headers["Authorization"] = f"Bearer {self._api_key}"
            shown["Authorization"] = f"Bearer {REDACTED}"
        elif credential is Credential.WRONG:
            headers["Authorization"] = f"Bearer {WRONG_KEY}"
            shown["Authorization"] = headers["Authorization"]
        return headers, shown

    def _send(  # noqa: PLR0913 - an exchange is described by all of these
        self,
        method: str,
        url: str,
        checkout_id: str,
        *,
        purpose: Purpose,
        credential: Credential,
        previous: Exchange | None = None,
        case: Any = None,  # noqa: ANN401 - a schemathesis.Case
        probe: KeyProbe | None = None,
        why: str | None = None,
        attempt: Callable[[], tuple[ReceivedResponse | None, str | None]] | None = None,
        body: bytes = b"",
        extra_headers: dict[str, str] | None = None,
        attempts: int | None = None,
    ) -> Exchange:
        headers, shown = self._headers(credential, probe)
        headers, shown = {**headers, **(extra_headers or {})}, {**shown, **(extra_headers or {})}
        request = SentRequest(method=method, url=url, headers=shown, body=body)
        response: ReceivedResponse | None = None
        error: str | None = None
        send = attempt or (lambda: self._attempt(method, url, headers, body or None, exact=case is None))
        attempts = self.retry.attempts if attempts is None else attempts
        for number in range(1, attempts + 1):
            self._pace()
            response, error = send()
            if response is None or response.status != 429 or number == attempts:
                break
            self._waiting("the target's Retry-After")(self._retry_after(response))
        rate_limited = response is not None and response.status == 429
        self._limited_in_a_row = self._limited_in_a_row + 1 if rate_limited else 0
        # A refused connection is no answer either: it counts like silence, and three in a row end the run.
        silent = response is None and (timed_out(error) or refused_connection(error))
        self._silent_in_a_row = self._silent_in_a_row + 1 if silent else 0
        # Answers begun and never finished cost a whole timeout each, like silence, but the target is there.
        self._stalled_in_a_row = self._stalled_in_a_row + 1 if response is None and stalled(error) else 0
        if response is not None and response.status == PROXY_AUTHENTICATION_REQUIRED:
            # The transport never uses a proxy, so a 407 is from something in between, never the target's answer.
            raise RunStopped(
                TargetError(
                    f"request {self.requests_sent} ({method} {request.url}) was answered 407 Proxy Authentication "
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
        exchange = Exchange(
            purpose=purpose,
            credential=credential,
            checkout_id=checkout_id,
            request=request,
            response=response,
            transport_error=error,
            rate_limited=rate_limited,
            previous=previous,
            why=why,
            case=case,
        )
        if self._silent_in_a_row >= SILENT_IN_A_ROW and refused_connection(error):
            first = self.requests_sent - self._silent_in_a_row + 1
            raise RunStopped(
                TargetError(
                    f"the target stopped accepting connections: from request {first} of the run on, "
                    f"{self._silent_in_a_row} requests in a row got no answer, the last one's connection refused "
                    f"({method} {request.url}, {purpose}), so the run sent nothing more and cannot judge the rest",
                    "check that the server stays up for the whole run, and rerun",
                )
            )
        if attempt is None and response is not None and method == "GET":
            self._answered = (method, url, headers)
        if self._silent_in_a_row >= SILENT_IN_A_ROW and self._gone():
            first = self.requests_sent - self._silent_in_a_row
            raise RunStopped(
                TargetError(
                    f"the target stopped answering: from request {first} of the run on, {self._silent_in_a_row} "
                    f"requests in a row got no reply within {self.timeout:g} s ({method} {request.url}, {purpose} "
                    "the last), and a request it had answered before, sent again, got none either, so the run sent "
                    "nothing more and cannot judge the rest",
                    "check that the server stays up and reachable for the whole run, and rerun",
                )
            )
        if self._stalled_in_a_row >= SILENT_IN_A_ROW:
            raise TargetSilent(
                exchange,
                f"{self._stalled_in_a_row} requests in a row got a status line and then no complete message within "
                f"{self.timeout:g} s, so the run sent nothing more",
            )
        if self._silent_in_a_row >= SILENT_IN_A_ROW:
            raise TargetSilent(
                exchange,
                f"the target stopped answering: {self._silent_in_a_row} requests in a row got no reply within "
                f"{self.timeout:g} s, so the run sent nothing more",
            )
        return exchange

    def _gone(self) -> bool:
        """Send again the last request the target answered: no reply to it either means the target is gone."""
        if self._answered is None:
            return False
        self._pace()
        response, error = self._attempt(*self._answered)
        return response is None and (timed_out(error) or refused_connection(error))

    def _pace(self) -> None:
        """Keep to the rate limit and the run's time budget; stop when Ctrl-C was pressed."""
        if STOP_REQUESTED.is_set():
            # Ctrl-C landed where a library swallowed it (Hypothesis marks the example and goes on): it
            # stops the run at the next request anyway.
            raise KeyboardInterrupt
        self._pacer.wait_turn()

    def _attempt(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None, *, exact: bool = True
    ) -> tuple[ReceivedResponse | None, str | None]:
        """Send one request; `exact` sends its path as written (Schemathesis' cases go as requests sends them)."""
        _CURRENT.status_line = None
        return _after_status_line(self._attempt_once(method, url, headers, body, exact=exact))

    def _attempt_once(  # noqa: PLR0911 - one return per way a request can end
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, *, exact: bool
    ) -> tuple[ReceivedResponse | None, str | None]:
        started = time.perf_counter()
        seconds, timed_out = self._deadline()
        _CURRENT.watchdog = self._watchdog
        _CURRENT.framing = ()
        _CURRENT.content_types = None
        _CURRENT.target = None
        with self._watchdog.deadline(seconds) as expired:
            try:
                prepared = self._session.prepare_request(requests.Request(method, url, headers=headers, data=body))
                if exact and _EXACT_TARGET.fullmatch(url):
                    # requests removes dot segments ('/checkouts/..' becomes '/') and urllib3 writes '%2e' as
                    # '%2E': a probe of how the server routes path syntax must reach it as written.
                    prepared.url = url
                    _CURRENT.target = url[len(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}") :]
                with self._session.send(
                    prepared,
                    timeout=(min(CONNECT_TIMEOUT_SECONDS, self.timeout), self.timeout),
                    allow_redirects=False,
                    stream=True,
                ) as raw:
                    try:
                        body, truncated = _read_capped(raw)
                    except _CodingError as exc:
                        return None, f"the response could not be decoded: {exc}"
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    response = ReceivedResponse(
                        status=raw.status_code,
                        reason=raw.reason or "",
                        headers=dict(raw.headers),
                        body=body,
                        elapsed_ms=elapsed_ms,
                        truncated=truncated,
                        framing=_CURRENT.framing,
                        content_types=_CURRENT.content_types,
                    )
            except requests.Timeout:
                return timed_out()
            except (requests.ConnectionError, urllib3.exceptions.HTTPError) as exc:
                # The body is read from urllib3 directly (to decode it strictly), so its errors arrive unwrapped.
                if expired.is_set():
                    return timed_out()
                return None, _failure(exc)
            except requests.RequestException as exc:
                if expired.is_set():
                    return timed_out()
                return None, f"the response could not be read ({_reason(exc)})"
        if expired.is_set():
            return timed_out()
        return response, None

    def _deadline(self) -> tuple[float, Callable[[], tuple[None, str]]]:
        """Seconds the next response may take, and what its running out means.

        The request timeout, or less when the run's --max-time ends sooner: then running out stops the
        run (could not judge) instead of failing the target for the gate's own budget.
        """
        left = self._pacer.left()
        if left is not None and left < self.timeout:

            def spent() -> tuple[None, str]:
                raise self._pacer.spent()

            return max(left, 0.001), spent
        return self.timeout, lambda: (None, _TIMED_OUT.format(seconds=self.timeout))

    def _retry_after(self, response: ReceivedResponse) -> float:
        """Seconds to wait before a retry: Retry-After as seconds or as an HTTP date (RFC 9110 section 10.2.3)."""
        value = (response.header("retry-after") or "").strip()
        wait = self.retry.default_wait_seconds
        if value.isdigit():
            wait = float(value)
        elif value:
            with suppress(TypeError, ValueError, IndexError, OverflowError):
                when = parsedate_to_datetime(value)
                # A date in "-0000" comes back naive; an HTTP-date is always UTC (RFC 9110 section 5.6.7).
                wait = (when.replace(tzinfo=when.tzinfo or UTC) - datetime.now(UTC)).total_seconds()
        return min(max(wait, 0.0), self.retry.max_wait_seconds)


def _read_whole(raw: http.client.HTTPResponse) -> bytes:
    """The body up to one byte past the cap; raise IncompleteRead when it ends before its declared length."""
    body = bytearray()
    while len(body) <= BODY_CAP_BYTES:
        # Read straight off the socket (see _UnbufferedResponse), a read returns what has arrived so far.
        chunk = raw.read(min(64 * 1024, BODY_CAP_BYTES + 1 - len(body)))
        if not chunk:
            break
        body += chunk
    missing = getattr(raw, "length", None)
    if len(body) <= BODY_CAP_BYTES and missing:
        raise http.client.IncompleteRead(bytes(body), missing)
    return bytes(body)


class _CodingError(ValueError):
    """A body whose Content-Encoding does not decode."""


def _decoded(body: bytes, header: str | None, *, cut: bool = False) -> bytes:
    """The body without its content codings, last applied first (RFC 9110 section 8.4); at most one byte past the cap.

    Stricter than requests, which also takes raw deflate for `deflate`: RFC 9110 section 8.4.1.2
    defines it as the zlib format. A body `cut` at the cap ends before its coded stream by our doing, not
    the server's: that is no error.
    """
    codings = [coding.strip().lower() for coding in (header or "").split(",") if coding.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        elif coding == "deflate":
            decoder = zlib.decompressobj()
        else:
            message = f"Content-Encoding {coding!r}, which the gate did not ask for (it accepts gzip and deflate)"
            raise _CodingError(message)
        try:
            decoded = decoder.decompress(body, BODY_CAP_BYTES + 1)
        except zlib.error as exc:
            message = f"a body that is not valid {coding} ({exc}; RFC 9110 section 8.4.1)"
            raise _CodingError(message) from None
        if not decoder.eof and not cut and len(decoded) <= BODY_CAP_BYTES:
            message = f"a {coding} body that ends before its coded stream does"
            raise _CodingError(message)
        body = decoded
    return body


def _read_capped(raw: requests.Response) -> tuple[bytes, bool]:
    """Read the body as sent, up to the cap, then decode it (the watchdog ends a body that trickles too long)."""
    coded = bytearray()
    for chunk in raw.raw.stream(64 * 1024, decode_content=False):
        coded += chunk
        if len(coded) > BODY_CAP_BYTES:
            break
    cut = len(coded) > BODY_CAP_BYTES
    if raw.request.method == "HEAD":
        # A HEAD answer has no content: its Content-Encoding describes the body a GET would get (RFC 9110 9.3.2).
        return bytes(coded), False
    body = _decoded(bytes(coded[: BODY_CAP_BYTES + 1]), raw.headers.get("Content-Encoding"), cut=cut)
    truncated = cut or len(body) > BODY_CAP_BYTES
    return body[:BODY_CAP_BYTES], truncated


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests error, in a few words."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


class _Pacer:
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


# --- the wire -------------------------------------------------------------------------


class _FinalResponse(http.client.HTTPResponse):
    """Skips every interim 1xx response before the final one, not only 100 Continue.

    RFC 9110 section 15.2: a client must parse and ignore an unexpected 1xx (103 Early Hints,
    102 Processing). http.client skips only 100, and would take a 103 for the answer. `_read_status`
    is http.client's own step; tests/test_upstream.py fails if a Python release changes it.
    """

    _repaired: tuple[str, ...] = ()

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            _CURRENT.status_line = f"{version} {status} {reason}".strip()
            if status == 100:
                # 100 Continue: http.client skips it, and its head, itself.
                return version, status, reason
            if not 100 <= status < 200 or status == 101:
                # 101 switches protocols and is final.
                break
            http.client.parse_headers(self.fp)
        # The final head's lines, mended before http.client parses them: it ends the head at a line with
        # whitespace before its colon and reads every field after it as body, so a Content-Length there is lost
        # and the reply reads as one that never ends.
        lines = http.client._read_headers(self.fp)  # type: ignore[attr-defined] # noqa: SLF001 - http.client's step
        mended = [_FIELD_NAME_SPACE.sub(rb"\1:", line) for line in lines]
        self._repaired = tuple(
            f"a field line with whitespace before its colon ({line.split(b':', 1)[0].decode('latin-1')!r}), which "
            "a server must never send and a proxy must remove (RFC 9112 section 5.1)"
            for line, fixed in zip(lines, mended, strict=True)
            if fixed != line
        )
        self.fp = _HeadThen(b"".join(mended), self.fp)  # type: ignore[assignment]
        return version, status, reason

    def begin(self) -> None:
        super().begin()
        if isinstance(self.fp, _HeadThen):
            self.fp = self.fp.rest
        # Seen only here, on the head as parsed: requests and urllib3 pass the fields on already mended.
        _CURRENT.framing = (*self._repaired, *framing_problems(self.msg))
        _CURRENT.content_types = tuple(self.msg.get_all("Content-Type") or ())


# A field name followed by spaces or tabs before its colon (RFC 9112 section 5.1 allows none).
_FIELD_NAME_SPACE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+:")


class _HeadThen:
    """A response's stream that gives the head's lines as mended first, then the rest as it comes."""

    def __init__(self, head: bytes, rest: Any) -> None:  # noqa: ANN401 - a socket file of http.client's
        self._head = head
        self.rest = rest

    def readline(self, limit: int = -1) -> bytes:
        """The next line of the mended head, then of the stream."""
        if not self._head:
            return bytes(self.rest.readline(limit))
        end = self._head.find(b"\n") + 1 or len(self._head)
        if limit >= 0:
            end = min(end, limit)
        line, self._head = self._head[:end], self._head[end:]
        return line

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - everything else is the stream's
        return getattr(self.rest, name)


def framing_problems(head: http.client.HTTPMessage) -> tuple[str, ...]:
    """How a response's head breaks HTTP/1.1's message syntax: each a MUST a server cannot be excused from.

    Clients mend or drop such fields differently (a proxy may split the response in two at a stray
    line break), so what this client made of the message is not what every client will.
    """
    problems = []
    if head.defects:
        problems.append("a line in the header section that is not a field line (RFC 9112 section 5)")
    for name, value in head.items():
        if "\n" in value or "\r" in value:
            problems.append(f"the field {name!r} folded onto a second line (obs-fold, RFC 9112 section 5.2)")
        elif any((ord(character) < 0x20 and character != "\t") or character == "\x7f" for character in value):
            problems.append(f"the field {name!r} holds a control character (RFC 9110 section 5.5)")
    if head.get("Transfer-Encoding") is not None and head.get("Content-Length") is not None:
        problems.append("both Transfer-Encoding and Content-Length, never sent together (RFC 9112 section 6.1)")
    return tuple(problems)


class _UnbufferedResponse(_FinalResponse):
    """A final response read straight from the socket, without reading ahead.

    http.client reads each response through a buffer of its own and drops what the buffer held past
    the response's end; reading unbuffered leaves such bytes (a reply written twice) on the connection,
    where the next response on it finds them, as they would in any client that keeps the stream.
    """

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - http.client's
        super().__init__(sock, *args, **kwargs)
        self.fp.close()
        self.fp = sock.makefile("rb", buffering=0)  # type: ignore[assignment]


class _Watchdog:
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


# Per thread: the watchdog of the request being sent, and the framing problems of the response just parsed.
_CURRENT = threading.local()


class _Watched:
    """Shows a connection's socket to the watchdog of the request using it, and sends the target as written."""

    sock: socket.socket

    def connect(self) -> None:
        super().connect()  # type: ignore[misc] # a mixin of a connection
        _watch_socket(self.sock)

    def putrequest(self, method: str, url: str, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - urllib3's
        super().putrequest(method, _exact_target(url), *args, **kwargs)  # type: ignore[misc] # a mixin


class _Connection(_Watched, urllib3.connection.HTTPConnection):
    """A connection that skips interim responses and shows its socket to the watchdog of the request using it."""

    response_class = _FinalResponse


class _SecureConnection(_Watched, urllib3.connection.HTTPSConnection):
    """The same over TLS."""

    response_class = _FinalResponse


# A URL the transport may send exactly as written: printable ASCII, no space.
_EXACT_TARGET = re.compile(r"[!-~]+")
_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def _exact_target(url: str) -> str:
    """The request target as the transport wrote it, where urllib3 changed only the case of its percent-escapes."""
    exact: str | None = getattr(_CURRENT, "target", None)
    if exact is not None and _ESCAPE.sub(lambda match: match.group().upper(), exact) == url:
        return exact
    return url


def _watch_socket(sock: socket.socket) -> None:
    watchdog: _Watchdog | None = getattr(_CURRENT, "watchdog", None)
    if watchdog is not None:
        watchdog.track(sock)


class _Pool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _Connection


class _SecurePool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _SecureConnection


class _ReadAsSent:
    """Makes a connection's response body read as sent, content codings and all.

    vcrpy records by sending the request again on a real connection and calling `read()` on its
    response, without the `decode_content=False` the gate's own requests carry: urllib3 then undid the
    gzip while Content-Encoding still said gzip, and every coded reply of a recording failed to decode.
    """

    def request(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - urllib3's own signature
        super().request(*args, **{**kwargs, "decode_content": False})  # type: ignore[misc] # a mixin of a connection


class _UndecodedConnection(_ReadAsSent, _Connection):
    """The connection a recording reads through."""


class _UndecodedSecureConnection(_ReadAsSent, _SecureConnection):
    """The same over TLS."""


def vcr_patches() -> tuple[tuple[type, str, type], ...]:
    """What vcrpy must swap to record and replay the gate's own connection pools (vcrpy swaps urllib3's own)."""
    import vcr.stubs  # noqa: PLC0415 - only with cassettes; imported late so pytest can rewrite what it loads

    class RecordedConnection(vcr.stubs.VCRHTTPConnection, _Connection):  # type: ignore[misc] # vcrpy is untyped
        """Records through a real connection that leaves the body as sent; replays without one."""

        _baseclass = _UndecodedConnection

    class RecordedSecureConnection(vcr.stubs.VCRHTTPSConnection, _SecureConnection):  # type: ignore[misc]
        """The same over TLS."""

        _baseclass = _UndecodedSecureConnection

    return ((_Pool, "ConnectionCls", RecordedConnection), (_SecurePool, "ConnectionCls", RecordedSecureConnection))


class _NeverRedirected(requests.Session):
    """A session that never works out where a redirect points: it follows none.

    requests does even with `allow_redirects=False` (to offer the next request), and a `Location` that is
    not UTF-8, which a hostile server may send, then crashes the request (UnicodeDecodeError).
    """

    def get_redirect_target(self, resp: requests.Response) -> None:  # noqa: ARG002 - requests' own signature
        """No target: the transport judges the 3xx itself."""
        return


def _session() -> requests.Session:
    """A requests session whose connections skip interim responses and report their sockets to the watchdog."""
    adapter = HTTPAdapter()
    adapter.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _SecurePool}
    session = _NeverRedirected()
    # The environment must not redirect test traffic through a proxy.
    session.trust_env = False
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
