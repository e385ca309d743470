"""The transport on the wire: exact bytes in, exact exchanges out, on both of its ways to send.

A server here writes replies byte for byte as a test scripts them, so each test pins one promise of
the transport package: how a body's coding is undone or refused, what a short or cut reply becomes, which
Authorization each probe carries and how it is shown, when retries, the pace and the time budget
stop a run. Every test here is fast (well under a second), so `make mutation` runs them per mutant.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote

import pytest
from support import wait_for

from conformance.credentials import WRONG_KEY
from conformance.errors import RunStopped
from conformance.model import Credential, Exchange, Purpose
from conformance.redaction import REDACTED
from conformance.transport import (
    BODY_CAP_BYTES,
    STOP_REQUESTED,
    RetryPolicy,
    TargetSilent,
    Transport,
)
from conformance.transport.failures import reason as _reason

KEY = "sk_test_wire_Key_0123456789abcdef"
JSON = {"id": "cks_1", "note": "caf\u00e9"}
BODY = json.dumps(JSON).encode()
# The README's promise: a body up to 32 MiB is judged whole. Written out, not imported, so that a change of
# BODY_CAP_BYTES breaks the tests that pin the promise.
README_CAP = 32 * 1024 * 1024
# A reply step that closes the connection instead of answering.
HANG_UP = b""


def reply(body: bytes = BODY, status: str = "200 OK", **fields: str) -> bytes:
    """A whole HTTP/1.1 response with a Content-Length; extra fields as Name_With_Underscores=value."""
    head = {"Content-Type": "application/json", **{name.replace("_", "-"): value for name, value in fields.items()}}
    if "Transfer-Encoding" not in head:
        head.setdefault("Content-Length", str(len(body)))
    lines = "".join(f"{name}: {value}\r\n" for name, value in head.items())
    return f"HTTP/1.1 {status}\r\n{lines}\r\n".encode() + body


@dataclass
class Wire:
    """A server on 127.0.0.1 that answers each request with the next scripted bytes, exactly as scripted."""

    replies: list[bytes] = field(default_factory=list)
    # Seconds between bytes of a reply, to make one trickle.
    pause: float = 0.0
    # Close each connection after its first reply, without saying so in the reply.
    close_when_idle: bool = False
    # The reply to every request once the scripted ones are used up (None: hang up instead).
    every: bytes | None = None
    # Send the first this many bytes of each reply, then hold the rest back for hold_seconds.
    hold_after: int | None = None
    hold_seconds: float = 0.0
    requests: list[bytes] = field(default_factory=list)
    # Per reply sent: whether all of it was delivered (False: the client closed before taking it all).
    delivered: list[bool] = field(default_factory=list)
    connections: int = 0
    base_url: str = ""

    def answer(self, connection: socket.socket, stop: threading.Event) -> None:
        buffered = b""
        while not stop.is_set():
            while b"\r\n\r\n" not in buffered:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                buffered += chunk
            head, _, rest = buffered.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(rest) < length:
                rest += connection.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + rest[:length])
            buffered = rest[length:]
            step = self.replies.pop(0) if self.replies else (self.every if self.every is not None else HANG_UP)
            if step == HANG_UP or not self.send(connection, step, stop) or self.close_when_idle:
                return

    def send(self, connection: socket.socket, step: bytes, stop: threading.Event) -> bool:
        """Send one scripted reply as the server is set to; False when the server is stopping meanwhile."""
        if self.pause:
            for byte in step:
                if stop.wait(self.pause):
                    return False
                connection.sendall(bytes([byte]))
        elif self.hold_after is not None:
            connection.sendall(step[: self.hold_after])
            if stop.wait(self.hold_seconds):
                return False
            connection.sendall(step[self.hold_after :])
        else:
            try:
                connection.sendall(step)
            except OSError:
                self.delivered.append(False)
                raise
            self.delivered.append(True)
        return True

    def header(self, index: int, name: str) -> str | None:
        """A field of the index-th request received, as sent."""
        for line in self.requests[index].split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
            key, _, value = line.decode("latin-1").partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None


@pytest.fixture
def wire() -> Iterator[Wire]:
    with _serving(None) as server:
        yield server


# A certificate for 127.0.0.1 only, made for these tests and valid until 2126; its key guards nothing.
TLS_DATA = Path(__file__).parent / "data"


@pytest.fixture
def tls_wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    """The same server behind TLS, with its certificate the one a client trusts (OpenSSL's SSL_CERT_FILE)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(TLS_DATA / "loopback-test-only.crt", TLS_DATA / "loopback-test-only.key")
    monkeypatch.setenv("SSL_CERT_FILE", str(TLS_DATA / "loopback-test-only.crt"))
    with _serving(context) as server:
        yield server


@contextmanager
def _serving(tls: ssl.SSLContext | None) -> Iterator[Wire]:
    server = Wire()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    threads: list[threading.Thread] = []
    accepted: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            server.connections += 1
            accepted.append(connection)

            def handle(connection: socket.socket = connection) -> None:
                with connection, suppress(OSError):
                    server.answer(tls.wrap_socket(connection, server_side=True) if tls else connection, stop)

            thread = threading.Thread(target=handle, daemon=True)
            thread.start()
            threads.append(thread)

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    server.base_url = f"{'https' if tls else 'http'}://127.0.0.1:{listener.getsockname()[1]}"
    yield server
    stop.set()
    acceptor.join(timeout=5)
    for connection in accepted:
        with suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    for thread in threads:
        thread.join(timeout=5)
    listener.close()


class _StoppedClock:
    """The time module as the pace (transport/policy.py) sees it, with a clock that never moves: exact waits."""

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)

    @staticmethod
    def monotonic() -> float:
        return 1000.0


@pytest.fixture
def stopped_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pace's waits measured against a clock that does not move, so a busy machine's slow replies cannot
    shorten them (the test's sleep does not sleep either: each wait is from the first request on)."""
    monkeypatch.setattr("conformance.transport.policy.time", _StoppedClock())


def transport(wire: Wire, **options: object) -> Transport:
    sleeps: list[float] = []
    made = Transport(wire.base_url, KEY, timeout=options.pop("timeout", 60.0), sleep=sleeps.append, **options)  # type: ignore[arg-type]
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


# Both ways a GET leaves: through the pooled session, and on one kept-alive connection (the reuse probe).
def pooled(made: Transport) -> Exchange:
    return made.get_checkout("cks_1", Purpose.KNOWN)


def one_connection(made: Transport) -> Exchange:
    return made.read_on_one_connection(["cks_1"], "reuse")[0]


BOTH_WAYS = pytest.mark.parametrize("send", [pooled, one_connection], ids=["pooled", "one connection"])


# --- content codings: undone as RFC 9110 section 8.4 says, refused when they do not decode --------------


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)


@BOTH_WAYS
@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("GZip", gzip.compress),
        ("deflate", _deflate),
        ("identity", lambda data: data),
        # Codings listed in the order applied: the last is undone first.
        ("deflate, gzip", lambda data: gzip.compress(_deflate(data))),
        ("gzip ,identity, deflate", lambda data: _deflate(gzip.compress(data))),
    ],
)
def test_a_coded_body_is_judged_as_its_decoded_json(
    wire: Wire, send: Callable[[Transport], Exchange], coding: str, encode: Callable[[bytes], bytes]
) -> None:
    wire.replies.append(reply(encode(BODY), Content_Encoding=coding))
    exchange = send(transport(wire))
    assert exchange.transport_error is None
    assert exchange.response is not None
    assert exchange.response.body == BODY
    assert not exchange.response.truncated


@BOTH_WAYS
@pytest.mark.parametrize(
    ("coding", "coded", "error"),
    [
        # RFC 9110 section 8.4.1.2: deflate is the zlib format; raw deflate is what lenient clients also take.
        ("deflate", zlib.compress(BODY)[2:-4], "not valid deflate"),
        ("gzip", b"not gzip at all", "not valid gzip"),
        ("gzip", gzip.compress(BODY, mtime=0)[:-12], "a gzip body that ends before its coded stream does"),
        ("br", BODY, "Content-Encoding 'br', which the gate did not ask for"),
        # Sorts after "deflate": a coding is named, not ordered.
        ("zstd", BODY, "Content-Encoding 'zstd', which the gate did not ask for"),
    ],
    # Named, not shown: each xdist worker collects the parameters, and they must name the same tests.
    ids=["raw deflate", "not gzip", "cut gzip", "br", "zstd"],
)
def test_a_body_that_does_not_decode_is_a_transport_error_naming_why(
    wire: Wire, send: Callable[[Transport], Exchange], coding: str, coded: bytes, error: str
) -> None:
    wire.replies.append(reply(coded, Content_Encoding=coding))
    exchange = send(transport(wire))
    assert exchange.response is None
    assert exchange.transport_error is not None
    assert exchange.transport_error.startswith(
        "the target answered with the status line 'HTTP/1.1 200 OK', then the response could not be decoded: "
    )
    assert error in exchange.transport_error


@BOTH_WAYS
def test_a_coded_body_past_the_cap_is_cut_at_the_cap_and_marked(
    wire: Wire, send: Callable[[Transport], Exchange]
) -> None:
    # 32 MiB and a bit of zeros, 33 KB coded: the cap holds for what the body becomes, not what is sent.
    wire.replies.append(reply(gzip.compress(b"0" * (BODY_CAP_BYTES + 5)), Content_Encoding="gzip"))
    exchange = send(transport(wire))
    assert exchange.response is not None
    assert exchange.response.truncated
    assert len(exchange.response.body) == BODY_CAP_BYTES


@BOTH_WAYS
def test_a_coded_body_of_exactly_the_cap_is_whole(wire: Wire, send: Callable[[Transport], Exchange]) -> None:
    wire.replies.append(reply(gzip.compress(b"0" * BODY_CAP_BYTES), Content_Encoding="gzip"))
    exchange = send(transport(wire))
    assert exchange.response is not None
    assert not exchange.response.truncated
    assert len(exchange.response.body) == BODY_CAP_BYTES


# --- replies cut short, interim replies, broken heads ---------------------------------------------------


@BOTH_WAYS
@pytest.mark.parametrize(
    ("body", "length"),
    [
        (b'{"id": "cks_1"}', 40),
        # Exactly the cap arrives, then the connection ends, ten bytes short of what Content-Length promised.
        (b"0" * README_CAP, README_CAP + 10),
    ],
    ids=["short", "exactly the cap"],
)
def test_a_body_shorter_than_its_content_length_is_a_dropped_connection(
    wire: Wire, send: Callable[[Transport], Exchange], body: bytes, length: int
) -> None:
    wire.close_when_idle = True
    wire.replies.append(reply(body, Content_Length=str(length)))
    exchange = send(transport(wire))
    assert exchange.response is None
    assert exchange.transport_error is not None
    assert exchange.transport_error.startswith(
        "the target answered with the status line 'HTTP/1.1 200 OK', then the connection failed or was dropped "
        "before a complete response ("
    )


@BOTH_WAYS
def test_a_body_that_ends_with_the_connection_is_whole(wire: Wire, send: Callable[[Transport], Exchange]) -> None:
    wire.close_when_idle = True
    wire.replies.append(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + BODY)
    exchange = send(transport(wire))
    assert exchange.response is not None
    assert exchange.response.body == BODY


@BOTH_WAYS
def test_interim_replies_before_the_answer_are_skipped(wire: Wire, send: Callable[[Transport], Exchange]) -> None:
    # 199 is unassigned, yet a 1xx all the same (RFC 9110 section 15.2).
    interim = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 199 Later\r\n\r\n"
    wire.replies.append(interim + reply())
    exchange = send(transport(wire))
    assert exchange.response is not None
    assert exchange.response.status == 200
    assert exchange.response.body == BODY


FOLDED = "the field 'X-Trace' folded onto a second line (obs-fold, RFC 9112 section 5.2)"


@BOTH_WAYS
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a;\r\n b", FOLDED),
        # http.client splits lines at LF alone: the fold reaches the value as "a;\n b", with no CR in it.
        ("a;\n b", FOLDED),
        # 0x1f, the unit separator: every character below 0x20 but the tab is a control character.
        ("a\x1fb", "the field 'X-Trace' holds a control character (RFC 9110 section 5.5)"),
    ],
    ids=["crlf fold", "bare lf fold", "0x1f"],
)
def test_a_head_that_breaks_http_syntax_is_kept_on_the_response(
    wire: Wire, send: Callable[[Transport], Exchange], value: str, problem: str
) -> None:
    wire.replies.append(reply(X_Trace=value))
    exchange = send(transport(wire))
    assert exchange.response is not None
    assert exchange.response.framing == (problem,)


@BOTH_WAYS
def test_a_sound_head_has_no_framing_problem_even_after_a_broken_one(
    wire: Wire, send: Callable[[Transport], Exchange]
) -> None:
    made = transport(wire)
    wire.replies += [reply(X_Trace="a;\r\n b"), reply()]
    assert send(made).response.framing  # type: ignore[union-attr]
    wire.replies.append(reply())
    exchange = send(made)
    assert exchange.response is not None
    assert exchange.response.framing == ()


@BOTH_WAYS
def test_a_reply_that_trickles_past_the_timeout_ends_at_it(wire: Wire, send: Callable[[Transport], Exchange]) -> None:
    # Each byte comes well within a socket timeout; the whole reply would take over 20 s.
    wire.pause = 0.1
    wire.replies.append(reply(b" " * 200 + BODY))
    started = time.monotonic()
    exchange = send(transport(wire, timeout=0.5))
    assert exchange.response is None
    assert exchange.transport_error == "no complete response within the 0.5 s request timeout"
    assert time.monotonic() - started < 10


# --- one kept-alive connection ----------------------------------------------------------------------


def test_reads_on_one_connection_share_it_and_send_the_key(wire: Wire) -> None:
    wire.replies += [reply(), reply(), reply()]
    exchanges = transport(wire).read_on_one_connection(["cks_1", "cks_2", "a/b"], "reuse")
    assert [exchange.response.status for exchange in exchanges] == [200, 200, 200]  # type: ignore[union-attr]
    assert wire.connections == 1
    assert [request.split(b" ")[1] for request in wire.requests] == [b"/checkouts/cks_1", b"/checkouts/cks_2",
                                                                       b"/checkouts/a%2Fb"]  # fmt: skip
    assert {wire.header(index, "Authorization") for index in range(3)} == {f"Bearer {KEY}"}
    assert all(exchange.purpose is Purpose.KNOWN and exchange.why == "reuse" for exchange in exchanges)
    assert all(exchange.request.headers["Authorization"] == f"Bearer {REDACTED}" for exchange in exchanges)


def test_a_connection_closed_while_idle_is_opened_again_once(wire: Wire) -> None:
    # RFC 9112 section 9.3.1: the server may close an idle connection; the request goes again on a new one.
    wire.close_when_idle = True
    wire.replies += [reply(), reply(), reply()]
    exchanges = transport(wire).read_on_one_connection(["cks_1", "cks_2", "cks_3"], "reuse")
    assert [exchange.transport_error for exchange in exchanges] == [None, None, None]
    assert wire.connections == 3


def test_a_reply_that_says_it_closes_is_followed_by_a_new_connection(wire: Wire) -> None:
    wire.replies += [reply(Connection="close"), reply()]
    exchanges = transport(wire).read_on_one_connection(["cks_1", "cks_2"], "reuse")
    assert [exchange.transport_error for exchange in exchanges] == [None, None]
    assert wire.connections == 2


def test_a_fresh_connection_that_drops_is_not_tried_again(wire: Wire) -> None:
    wire.replies += [HANG_UP, reply()]
    exchange = transport(wire).read_on_one_connection(["cks_1"], "reuse")[0]
    assert exchange.response is None
    assert exchange.transport_error is not None
    assert "dropped" in exchange.transport_error
    assert len(wire.requests) == 1


def test_a_reply_written_twice_shifts_the_next_answer_on_the_connection(wire: Wire) -> None:
    other = json.dumps({"id": "cks_2"}).encode()
    wire.replies += [reply() + reply(), reply(other)]
    exchanges = transport(wire).read_on_one_connection(["cks_1", "cks_2"], "reuse")
    # The second answer read is the first one's copy: what a pooling client would see.
    assert [exchange.response.body for exchange in exchanges] == [BODY, BODY]  # type: ignore[union-attr]


# --- what each request carries, and how it is shown ---------------------------------------------------------


@pytest.mark.parametrize(
    ("credential", "sent", "shown"),
    [
        (Credential.VALID, f"Bearer {KEY}", f"Bearer {REDACTED}"),
        (Credential.WRONG, f"Bearer {WRONG_KEY}", f"Bearer {WRONG_KEY}"),
        (Credential.MISSING, None, None),
    ],
)
def test_each_credential_sends_exactly_its_headers(
    wire: Wire, credential: Credential, sent: str | None, shown: str | None
) -> None:
    wire.replies.append(reply())
    exchange = transport(wire).get_checkout("cks_1", Purpose.UNKNOWN, credential)
    assert wire.header(0, "Authorization") == sent
    assert wire.header(0, "User-Agent") == "dodo-conformance"
    assert wire.header(0, "Accept") == "application/json"
    assert exchange.request.headers.get("Authorization") == shown
    assert exchange.request.headers["User-Agent"] == "dodo-conformance"
    assert exchange.credential is credential
    assert exchange.request.method == "GET"
    assert exchange.request.url == f"{wire.base_url}/checkouts/cks_1"


def _near_misses(key: str) -> list[str]:
    probes = Transport("http://127.0.0.1:9", key, timeout=1).key_probes()
    return [probe.header.removeprefix("Bearer ") for probe in probes if probe.credential is Credential.NEAR_MISS]


def test_the_near_misses_are_each_one_small_change_of_the_key_or_of_its_structure() -> None:
    middle = len(KEY) // 2
    secret = KEY.removeprefix("sk_test_")
    assert _near_misses(KEY) == [
        KEY[:-1],
        KEY + "x",
        KEY[:-1] + "0",
        KEY[:middle] + "0" + KEY[middle + 1 :],
        KEY[:middle],
        KEY.swapcase(),
        KEY[:-1] + "\u00e9",
        # data/key_structure.json: the secret alone, the other mode, another kind, the prefix twice, a word more.
        secret,
        f"sk_live_{secret}",
        f"pk_test_{secret}",
        f"sk_test_sk_test_{secret}",
        f"{KEY} extra",
    ]


def test_a_near_miss_never_equals_the_key_whatever_the_key_ends_or_centres_on() -> None:
    # Ends in 0 and has 0 in its middle: changing either to 0 would send the key itself.
    key = "1230000000"
    # A key without letters is its own swapcase: that probe is dropped, not sent as the key.
    assert _near_misses(key) == [
        key[:-1],
        key + "x",
        key[:-1] + "1",
        key[:5] + "1" + key[6:],
        key[:5],
        key[:-1] + "\u00e9",
        # No prefix, so of the structure's near misses only a word more.
        f"{key} extra",
    ]


def test_every_probe_is_shown_without_the_key_or_its_near_miss() -> None:
    made = Transport("http://127.0.0.1:9", KEY, timeout=1)
    probes = made.key_probes()
    assert [probe.header for probe in probes if probe.credential is Credential.MALFORMED] == [
        "Bearer ", "Bearer", f"Token {KEY}", f"Basic {KEY}", KEY,
    ]  # fmt: skip
    for probe in probes:
        assert probe.header != f"Bearer {KEY}"
        assert probe.why
        assert KEY not in probe.shown
        assert all(near not in probe.shown for near in made.derived_secrets())
    shown = {probe.header: probe.shown for probe in probes}
    assert shown[f"Token {KEY}"] == f"Token {REDACTED}"
    assert shown["Bearer "] == "Bearer "
    assert shown[f"Bearer {KEY[:-1]}"] == f"Bearer {REDACTED} (the key without its last character)"
    assert made.derived_secrets() == _near_misses(KEY)


def test_a_probe_sends_its_header_and_records_it_as_shown(wire: Wire) -> None:
    made = transport(wire)
    probe = made.key_probes()[0]
    wire.replies.append(reply(status="401 Unauthorized"))
    exchange = made.get_checkout("cks_1", Purpose.UNKNOWN, probe=probe)
    assert wire.header(0, "Authorization") == f"Bearer {KEY[:-1]}"
    assert exchange.request.headers["Authorization"] == probe.shown
    assert exchange.credential is Credential.NEAR_MISS
    assert exchange.why == probe.why


def test_a_create_posts_one_minimal_cart_as_json(wire: Wire) -> None:
    wire.replies.append(reply(json.dumps({"session_id": "cks_new"}).encode()))
    exchange = transport(wire).create_checkout("pdt_1")
    request = wire.requests[0]
    assert request.startswith(b"POST /checkouts HTTP/1.1\r\n")
    assert json.loads(request.split(b"\r\n\r\n", 1)[1]) == {"product_cart": [{"product_id": "pdt_1", "quantity": 1}]}
    assert wire.header(0, "Content-Type") == "application/json"
    assert wire.header(0, "Authorization") == f"Bearer {KEY}"
    assert exchange.purpose is Purpose.CREATE
    assert exchange.request.method == "POST"
    assert exchange.request.headers["Authorization"] == f"Bearer {REDACTED}"
    assert exchange.request.headers["Content-Type"] == "application/json"
    assert json.loads(exchange.request.body)["product_cart"][0]["product_id"] == "pdt_1"


def test_proxy_variables_in_the_environment_are_not_followed(wire: Wire, monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy would see the key; nothing listens on port 9, so following it would fail the request.
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    wire.replies.append(reply())
    exchange = transport(wire).get_checkout("cks_1", Purpose.KNOWN)
    assert exchange.response is not None
    assert len(wire.requests) == 1


# --- retries, the pace, the time budget, Ctrl-C -------------------------------------------------------------


def test_a_429_is_retried_up_to_the_policy_and_each_send_is_counted(wire: Wire) -> None:
    wire.replies += [reply(status="429 Too Many Requests", Retry_After="1")] * 2 + [reply()]
    made = transport(wire, retry=RetryPolicy(attempts=3))
    exchange = made.get_checkout("cks_1", Purpose.KNOWN)
    assert exchange.response is not None
    assert exchange.response.status == 200
    assert not exchange.rate_limited
    assert made.requests_sent == 3
    assert made.sleeps == [1.0, 1.0]  # type: ignore[attr-defined]


def test_a_create_is_sent_again_only_after_a_429(wire: Wire) -> None:
    wire.replies += [reply(status="429 Too Many Requests", Retry_After="0"), reply(status="500 Oops")]
    exchange = transport(wire).create_checkout("pdt_1")
    assert exchange.response is not None
    assert exchange.response.status == 500
    assert len(wire.requests) == 2
    wire.replies.append(HANG_UP)
    assert transport(wire).create_checkout("pdt_1").response is None
    assert len(wire.requests) == 3


def test_429_on_three_requests_in_a_row_stops_the_run_and_an_answer_between_resets_the_count(wire: Wire) -> None:
    limited = reply(status="429 Too Many Requests", Retry_After="0")
    made = transport(wire, retry=RetryPolicy(attempts=2))
    # Two requests limited, one answered, then three limited: only the last three are in a row.
    wire.replies += [limited] * 4 + [reply()] + [limited] * 6
    for _ in range(5):
        made.get_checkout("cks_1", Purpose.KNOWN)
    with pytest.raises(RunStopped) as stopped:
        made.get_checkout("cks_1", Purpose.KNOWN)
    assert (
        stopped.value.error.cause
        == "the target answered 429 to 3 requests in a row, each retried 1 times after Retry-After"
    )
    assert stopped.value.error.fix == "rerun later, or with a lower --rate-limit"


def test_three_silent_requests_in_a_row_stop_sending_and_an_answer_between_resets_the_count(wire: Wire) -> None:
    # The server reads each request and never answers it (the scripted step is a reply that never ends).
    wire.pause = 60
    made = transport(wire, timeout=0.2)
    wire.replies += [b"H"] * 2
    for _ in range(2):
        assert made.get_checkout("cks_1", Purpose.KNOWN).response is None
    wire.pause = 0
    wire.replies.append(reply())
    # The answer between gets a timeout a busy machine cannot miss (0.2 s it can); the silences keep theirs.
    made.timeout = 60.0
    assert made.get_checkout("cks_1", Purpose.KNOWN).response is not None
    made.timeout = 0.2
    wire.pause = 60
    wire.replies += [b"H"] * 3
    made.get_checkout("cks_1", Purpose.KNOWN)
    made.get_checkout("cks_1", Purpose.KNOWN)
    with pytest.raises(TargetSilent) as silent:
        made.get_checkout("cks_1", Purpose.KNOWN)
    assert silent.value.reason == (
        "the target stopped answering: 3 requests in a row got no reply within 0.2 s, so the run sent nothing more"
    )
    assert silent.value.exchange.transport_error == "no complete response within the 0.2 s request timeout"


def test_three_silent_requests_then_none_to_a_request_answered_before_is_a_target_gone(wire: Wire) -> None:
    # The answer gets a timeout a busy machine cannot miss; the silences that follow keep 0.2 s.
    made = transport(wire)
    wire.replies.append(reply())
    assert made.get_checkout("cks_1", Purpose.KNOWN).response is not None
    made.timeout = 0.2
    wire.pause = 60
    # Three requests, then the first one's request sent again: none is answered.
    wire.replies += [b"H"] * 4
    made.get_checkout("cks_2", Purpose.KNOWN)
    made.get_checkout("cks_3", Purpose.KNOWN)
    with pytest.raises(RunStopped) as stopped:
        made.get_checkout("cks_4", Purpose.KNOWN)
    assert stopped.value.error.cause.startswith(
        "the target stopped answering: from request 2 of the run on, 3 requests in a row got no reply within 0.2 s "
        f"(GET {wire.base_url}/checkouts/cks_4, known session the last), and a request it had answered before, "
        "sent again, got none either"
    )
    assert wire.requests[-1] == wire.requests[0]
    assert made.requests_sent == 5


def test_a_dropped_connection_is_no_silence(wire: Wire) -> None:
    made = transport(wire)
    wire.replies += [HANG_UP] * 4
    exchanges = [made.get_checkout("cks_1", Purpose.KNOWN) for _ in range(4)]
    assert all(exchange.response is None for exchange in exchanges)


@pytest.mark.usefixtures("stopped_clock")
def test_requests_leave_at_the_rate_limit(wire: Wire) -> None:
    wire.replies += [reply()] * 3
    made = transport(wire, rate_per_second=2.0)
    for _ in range(3):
        made.get_checkout("cks_1", Purpose.KNOWN)
    # The first leaves at once, the next half a second after it, the third a second after it (the test's
    # sleep does not sleep, so each wait is from the first request on).
    assert made.sleeps == [0.5, 1.0]  # type: ignore[attr-defined]


@pytest.mark.usefixtures("stopped_clock")
def test_a_burst_pays_for_its_turns_at_once_and_forfeits_what_it_did_not_use(wire: Wire) -> None:
    wire.replies += [reply()] * 4
    made = transport(wire, rate_per_second=2.0)
    made.get_checkout("cks_1", Purpose.KNOWN)
    with made.burst(3):
        made.get_checkout("cks_1", Purpose.KNOWN)
        made.get_checkout("cks_1", Purpose.KNOWN)
    assert made.sleeps == [0.5]  # type: ignore[attr-defined]
    # The unused turn is not given to the next request: it waits for three turns' worth less what passed.
    made.get_checkout("cks_1", Purpose.KNOWN)
    # First turn at 0, the burst's three from 0.5 s, so the next at 2 s (the test's sleep does not sleep).
    assert made.sleeps == [0.5, 2.0]  # type: ignore[attr-defined]
    assert made.requests_sent == 4


def test_a_clone_shares_the_pace_and_the_count(wire: Wire) -> None:
    wire.replies += [reply()] * 2
    made = transport(wire, rate_per_second=2.0)
    twin = made.clone()
    made.get_checkout("cks_1", Purpose.KNOWN)
    twin.get_checkout("cks_1", Purpose.KNOWN)
    assert made.requests_sent == 2
    assert twin.requests_sent == 2
    assert len(made.sleeps) == 1  # type: ignore[attr-defined]
    assert twin.base_url == made.base_url
    assert twin.timeout == made.timeout


def test_a_spent_time_budget_stops_the_run_before_the_next_request(wire: Wire) -> None:
    made = transport(wire, max_time=0.0)
    with pytest.raises(RunStopped) as stopped:
        made.get_checkout("cks_1", Purpose.KNOWN)
    assert stopped.value.error.cause == "the run's time budget of 0 s ran out after 0 requests"
    assert stopped.value.error.fix == "raise --max-time, or lower --max-examples"
    assert wire.requests == []


@BOTH_WAYS
def test_a_reply_in_flight_when_the_budget_ends_stops_the_run_instead_of_failing_the_target(
    wire: Wire, send: Callable[[Transport], Exchange]
) -> None:
    wire.pause = 60
    wire.replies.append(reply())
    made = transport(wire, timeout=30.0, max_time=0.5)
    started = time.monotonic()
    with pytest.raises(RunStopped) as stopped:
        send(made)
    assert "time budget of 0.5 s ran out after 1 requests" in stopped.value.error.cause
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(("timeout", "max_time"), [(0.2, 60.0), (1.5, 3.0)])
def test_a_budget_longer_than_the_timeout_leaves_a_silent_reply_a_timeout(
    wire: Wire, timeout: float, max_time: float
) -> None:
    wire.pause = 60
    wire.replies.append(reply())
    exchange = transport(wire, timeout=timeout, max_time=max_time).get_checkout("cks_1", Purpose.KNOWN)
    assert exchange.transport_error == f"no complete response within the {timeout:g} s request timeout"


def test_after_ctrl_c_no_request_leaves(wire: Wire) -> None:
    made = transport(wire)
    STOP_REQUESTED.set()
    try:
        with pytest.raises(KeyboardInterrupt):
            made.get_checkout("cks_1", Purpose.KNOWN)
    finally:
        STOP_REQUESTED.clear()
    assert wire.requests == []
    assert made.requests_sent == 0


# --- the reason a failure is given ---------------------------------------------------------------------------


def test_a_failure_is_named_by_its_innermost_cause_on_its_first_line_within_200_characters() -> None:
    # As Python chains them when one error is raised while another is handled.
    outer, middle, inner = RuntimeError("outermost"), OSError("while reading"), ConnectionResetError("reset\nby peer")
    outer.__context__, middle.__context__ = middle, inner
    assert _reason(outer) == "reset"
    assert _reason(TimeoutError()) == "TimeoutError"
    assert _reason(ValueError("x" * 300)) == "x" * 200


def test_by_default_a_429_is_sent_three_times_waiting_a_second_without_retry_after_and_ten_at_most(
    wire: Wire,
) -> None:
    wire.replies += [reply(status="429 Too Many Requests"), reply(status="429 Too Many Requests", Retry_After="60")]
    wire.replies += [reply(status="429 Too Many Requests")]
    made = transport(wire)
    exchange = made.get_checkout("cks_1", Purpose.KNOWN)
    assert exchange.rate_limited
    assert len(wire.requests) == 3
    assert made.sleeps == [1.0, 10.0]  # type: ignore[attr-defined]


def test_the_time_a_reply_took_is_its_own_in_milliseconds(wire: Wire) -> None:
    wire.pause = 0.002  # about 0.3 s for the whole reply, byte by byte
    wire.replies.append(reply(b" " * 60 + BODY))
    made = transport(wire)
    started = time.perf_counter()
    exchange = made.get_checkout("cks_1", Purpose.KNOWN)
    took_ms = (time.perf_counter() - started) * 1000
    assert exchange.response is not None
    assert 100 <= exchange.response.elapsed_ms <= took_ms
    wire.replies.append(reply(b" " * 60 + BODY))
    started = time.perf_counter()
    again = made.read_on_one_connection(["cks_1"], "reuse")[0]
    took_ms = (time.perf_counter() - started) * 1000
    assert again.response is not None
    assert 100 <= again.response.elapsed_ms <= took_ms


def test_a_generated_case_is_sent_with_the_key_and_its_id_decoded(wire: Wire, operation: object) -> None:
    # As generated, a path parameter is percent-encoded already (see cassettes/generated_ids.yaml); the
    # exchange names the id itself.
    case = operation.Case(path_parameters={"id": quote("a b%", safe="")})  # type: ignore[attr-defined]
    wire.replies.append(reply())
    exchange = transport(wire).send_case(case)
    assert wire.requests[0].startswith(b"GET /checkouts/a%20b%25 HTTP/1.1\r\n")
    assert wire.header(0, "Authorization") == f"Bearer {KEY}"
    assert exchange.checkout_id == "a b%"
    assert exchange.purpose is Purpose.GENERATED
    assert exchange.case is case


def test_a_near_miss_in_the_middle_changes_the_middle_character_whatever_the_others_are() -> None:
    key = "abcde0fxyz"  # its middle character is 0, the one a third of the way in is not
    assert key[:5] + "1" + key[6:] in _near_misses(key)
    assert key not in _near_misses(key)


def test_a_recorded_request_sent_again_by_its_path_carries_its_probe(wire: Wire) -> None:
    made = transport(wire)
    probe = made.key_probes()[0]
    wire.replies += [reply(status="401 Unauthorized"), reply()]
    exchange = made.get_path("/checkouts/a%20b", "a b", Purpose.UNKNOWN, probe=probe)
    assert wire.requests[0].startswith(b"GET /checkouts/a%20b HTTP/1.1\r\n")
    assert wire.header(0, "Authorization") == probe.header
    assert (exchange.credential, exchange.why, exchange.checkout_id) == (Credential.NEAR_MISS, probe.why, "a b")
    plain = made.get_path("/checkouts/x", "x", Purpose.KNOWN, Credential.WRONG)
    assert wire.header(1, "Authorization") == f"Bearer {WRONG_KEY}"
    assert (plain.credential, plain.why) == (Credential.WRONG, None)


def test_a_reply_of_exactly_the_cap_leaves_the_connection_open_for_the_next(wire: Wire) -> None:
    wire.replies += [reply(b"0" * BODY_CAP_BYTES), reply()]
    exchanges = transport(wire).read_on_one_connection(["cks_1", "cks_2"], "reuse")
    assert [exchange.response.truncated for exchange in exchanges] == [False, False]  # type: ignore[union-attr]
    assert wire.connections == 1


def test_decoding_a_coded_body_holds_no_more_than_the_cap_in_memory() -> None:
    # A gzip bomb: 256 MiB of zeros in about 256 KB. Decoding it whole would hold eight times the cap;
    # decoding up to the cap holds the cap, twice while its buffer grows.
    import tracemalloc  # noqa: PLC0415

    from conformance.transport.wire import _decoded  # noqa: PLC0415 - the decoder both ways to send share

    bomb = gzip.compress(bytes(8 * BODY_CAP_BYTES), compresslevel=1)
    tracemalloc.start()
    try:
        decoded = _decoded(bomb, "gzip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(decoded) == BODY_CAP_BYTES + 1
    assert peak < 3 * BODY_CAP_BYTES


@BOTH_WAYS
def test_a_plain_body_of_exactly_the_documented_cap_is_whole(wire: Wire, send: Callable[[Transport], Exchange]) -> None:
    wire.replies.append(reply(b"0" * README_CAP))
    exchange = send(transport(wire))
    assert exchange.response is not None
    assert not exchange.response.truncated
    assert len(exchange.response.body) == README_CAP


def test_a_server_error_after_a_429_is_no_rate_limit_and_is_not_sent_again(wire: Wire) -> None:
    wire.replies += [reply(status="429 Too Many Requests", Retry_After="0"), reply(status="503 Unavailable")]
    exchange = transport(wire).get_checkout("cks_1", Purpose.KNOWN)
    assert exchange.response is not None
    assert exchange.response.status == 503
    assert not exchange.rate_limited
    assert len(wire.requests) == 2


def test_a_key_ending_in_a_character_below_0_still_gets_a_near_miss_of_its_last_character() -> None:
    key = "sk_test_key_ending-"  # '-' sorts before '0'
    assert key[:-1] + "0" in _near_misses(key)
    middle = "sk_tes-t_key"  # its middle character (index 6) sorts before '0' too
    assert middle[:6] + "0" + middle[7:] in _near_misses(middle)


@BOTH_WAYS
def test_a_gzip_body_of_exactly_the_cap_without_its_trailer_is_still_cut_short(
    wire: Wire, send: Callable[[Transport], Exchange]
) -> None:
    # The whole cap decodes, but the stream's end (its CRC and length) never came: the server cut it.
    wire.replies.append(reply(gzip.compress(bytes(README_CAP), mtime=0)[:-8], Content_Encoding="gzip"))
    exchange = send(transport(wire))
    assert exchange.response is None
    assert exchange.transport_error is not None
    assert "a gzip body that ends before its coded stream does" in exchange.transport_error


@pytest.fixture(scope="module")
def incompressible_gzip() -> bytes:
    """A gzip body whose coded bytes pass the cap while what they decode to has not reached it yet."""
    import random  # noqa: PLC0415

    noise = random.Random(0).randbytes(README_CAP + 4096)  # noqa: S311 - the same bytes each run, no secret
    return gzip.compress(noise, compresslevel=1, mtime=0)


@BOTH_WAYS
def test_a_coded_body_the_gate_stops_reading_at_the_cap_is_truncated_not_undecodable(
    wire: Wire, send: Callable[[Transport], Exchange], incompressible_gzip: bytes
) -> None:
    # The gate reads one coded byte past the cap and decodes that: its stream is unfinished because the gate
    # stopped, so the body is unjudged (truncated), not a coding error of the server's; and the rest of it, still
    # on the connection, must not be read as the next reply.
    assert len(incompressible_gzip) > README_CAP
    made = transport(wire)
    wire.replies += [reply(incompressible_gzip, Content_Encoding="gzip"), reply()]
    exchange = send(made)
    assert exchange.transport_error is None
    assert exchange.response is not None
    assert exchange.response.truncated
    following = send(made)
    assert following.response is not None
    assert following.response.body == BODY


@BOTH_WAYS
def test_every_reply_that_trickles_past_the_timeout_ends_at_it_not_only_the_first(
    wire: Wire, send: Callable[[Transport], Exchange]
) -> None:
    # The watchdog that cuts a trickle has waited idle between the two: it must still be there for the second.
    wire.pause = 0.1
    made = transport(wire, timeout=0.5)
    for _ in range(2):
        wire.replies.append(reply(b" " * 200 + BODY))
        exchange = send(made)
        assert exchange.response is None
        assert exchange.transport_error == "no complete response within the 0.5 s request timeout"


def test_a_reply_past_the_cap_on_one_connection_closes_it_so_the_next_reads_its_own_reply(wire: Wire) -> None:
    # The body's rest is still on the connection: the next request must go on a new one, not read that rest.
    wire.replies += [reply(b"0" * (README_CAP + 5)), reply()]
    first, second = transport(wire).read_on_one_connection(["cks_1", "cks_2"], "reuse")
    assert first.response is not None
    assert first.response.truncated
    assert second.response is not None
    assert second.response.body == BODY
    assert wire.connections == 2


def test_a_retry_after_date_without_a_zone_is_read_as_utc_whatever_the_machines_zone(wire: Wire) -> None:
    # RFC 5322's "-0000" says nothing of the zone; Python reads it as a naive time. It is compared with UTC,
    # not with the clock of a machine that runs nine hours ahead (POSIX TZ "JST-9" needs no zone database).
    # A minute ahead, so that a busy machine's pauses cannot bring the wait near either bound.
    soon = formatdate(time.time() + 60)
    assert soon.endswith("-0000")
    before = os.environ.get("TZ")
    os.environ["TZ"] = "JST-9"
    time.tzset()
    try:
        wire.replies += [reply(status="429 Too Many Requests", Retry_After=soon), reply()]
        made = transport(wire, retry=RetryPolicy(max_wait_seconds=120.0))
        made.get_checkout("cks_1", Purpose.KNOWN)
    finally:
        if before is None:
            os.environ.pop("TZ")
        else:
            os.environ["TZ"] = before
        time.tzset()
    assert len(made.sleeps) == 1  # type: ignore[attr-defined]
    assert 30.0 <= made.sleeps[0] <= 60.0  # type: ignore[attr-defined]


def test_reads_on_one_connection_over_tls_are_read_over_tls(tls_wire: Wire) -> None:
    # The gate's real target is https: the kept-alive probe must speak TLS to it, not plain HTTP.
    tls_wire.replies += [reply(), reply()]
    exchanges = transport(tls_wire).read_on_one_connection(["cks_1", "cks_2"], "reuse")
    assert [exchange.transport_error for exchange in exchanges] == [None, None]
    assert [exchange.response.body for exchange in exchanges] == [BODY, BODY]  # type: ignore[union-attr]
    assert tls_wire.connections == 1


def test_the_stop_after_429s_in_a_row_says_how_many_times_each_was_retried(wire: Wire) -> None:
    made = transport(wire, retry=RetryPolicy(attempts=3, default_wait_seconds=0.0))
    wire.replies += [reply(status="429 Too Many Requests", Retry_After="0")] * 9
    for _ in range(2):
        made.get_checkout("cks_1", Purpose.KNOWN)
    with pytest.raises(RunStopped) as stopped:
        made.get_checkout("cks_1", Purpose.KNOWN)
    assert "the target answered 429 to 3 requests in a row, each retried 2 times after Retry-After" in str(
        stopped.value
    )


def test_the_first_silent_requests_of_a_run_count_from_none(wire: Wire) -> None:
    # No answer yet at all: the run still stops at the third silent request, not sooner.
    wire.pause = 60
    made = transport(wire, timeout=0.2)
    wire.replies += [b"H"] * 3
    for _ in range(2):
        assert made.get_checkout("cks_1", Purpose.KNOWN).response is None
    with pytest.raises(TargetSilent):
        made.get_checkout("cks_1", Purpose.KNOWN)


def test_three_refused_connections_in_a_row_stop_the_run_naming_the_refusal() -> None:
    # A port of this machine that nothing listens on: bound, then closed, so each connection is refused at once.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    made = Transport(f"http://127.0.0.1:{port}", KEY, timeout=60.0)
    refused = [made.get_checkout("cks_1", Purpose.KNOWN) for _ in range(2)]
    assert [exchange.transport_error for exchange in refused] == [
        "the connection was refused: nothing accepts connections at that address and port"
    ] * 2
    with pytest.raises(RunStopped) as stopped:
        made.get_checkout("cks_1", Purpose.KNOWN)
    made.close()
    assert stopped.value.error.cause.startswith(
        "the target stopped accepting connections: from request 1 of the run on, 3 requests in a row got no answer"
    )
    assert made.requests_sent == 3


def test_a_key_ending_in_0_after_another_character_gets_a_near_miss_of_its_last_character() -> None:
    key = "sk_test_key_10"
    assert key[:-1] + "1" in _near_misses(key)


@BOTH_WAYS
def test_the_reason_phrase_is_kept_as_sent(wire: Wire, send: Callable[[Transport], Exchange]) -> None:
    wire.replies.append(reply(status="200 Fine Thanks"))
    exchange = send(transport(wire))
    assert exchange.response is not None
    assert exchange.response.reason == "Fine Thanks"


def test_a_redirect_is_judged_as_the_answer_never_followed(wire: Wire) -> None:
    # Following it would read another resource (or host) and judge that as this session.
    wire.replies += [reply(status="302 Found", Location=f"{wire.base_url}/checkouts/elsewhere"), reply()]
    exchange = transport(wire).get_checkout("cks_1", Purpose.KNOWN)
    assert exchange.response is not None
    assert exchange.response.status == 302
    assert len(wire.requests) == 1


@pytest.mark.usefixtures("stopped_clock")
def test_a_burst_lets_exactly_its_size_leave_without_waiting(wire: Wire) -> None:
    wire.replies += [reply()] * 3
    made = transport(wire, rate_per_second=2.0)
    with made.burst(2):
        for _ in range(2):
            made.get_checkout("cks_1", Purpose.KNOWN)
        assert made.sleeps == []  # type: ignore[attr-defined]
        # The third is past what the burst paid for: it waits for its own turn, a whole interval on.
        made.get_checkout("cks_1", Purpose.KNOWN)
    assert made.sleeps == [1.0]  # type: ignore[attr-defined]


def test_the_gate_stops_taking_a_body_past_the_cap_instead_of_downloading_it_all(wire: Wire) -> None:
    # Twice the cap: what the gate stopped reading, the server cannot deliver (the connection is closed on it).
    wire.replies.append(reply(b"0" * (2 * README_CAP)))
    exchange = transport(wire).get_checkout("cks_1", Purpose.KNOWN)
    assert exchange.response is not None
    assert exchange.response.truncated
    wait_for(lambda: wire.delivered != [], "the server to finish sending or fail to")
    assert wire.delivered == [False]


def test_closing_a_transport_ends_its_watchdog(wire: Wire) -> None:
    wire.replies.append(reply())
    made = transport(wire)
    made.get_checkout("cks_1", Purpose.KNOWN)
    watchdog = made._sender._watchdog._thread  # noqa: SLF001 - the thread a long CI job would otherwise pile up
    assert watchdog is not None
    assert watchdog.is_alive()
    made.close()
    wait_for(lambda: not watchdog.is_alive(), "the watchdog's thread to end", timeout=60)


@BOTH_WAYS
def test_a_body_held_back_exactly_at_the_cap_is_still_cut_there_and_marked(
    wire: Wire, send: Callable[[Transport], Exchange]
) -> None:
    # The server sends the head and exactly the cap, then the rest a little later: the gate must still read one
    # byte past the cap to know the body goes on. (The pause only shapes the stream; nothing here waits on it.)
    body = b"0" * (README_CAP + 5)
    whole = reply(body)
    wire.hold_after, wire.hold_seconds = len(whole) - 5, 0.3
    wire.replies.append(whole)
    exchange = send(transport(wire))
    assert exchange.transport_error is None
    assert exchange.response is not None
    assert exchange.response.truncated


def test_a_request_whose_turn_would_end_past_the_time_budget_is_not_sent(wire: Wire) -> None:
    # One request every 2 s, and 1 s of budget: the first turn already ends past it.
    made = transport(wire, max_time=1.0, rate_per_second=0.5)
    with pytest.raises(RunStopped) as stopped:
        made.get_checkout("cks_1", Purpose.KNOWN)
    assert stopped.value.error.cause == "the run's time budget of 1 s ran out after 0 requests"
    assert wire.requests == []
