"""Each class of fault the gate looks for is caught on a handmade server, and its valid look-alike passes."""

from __future__ import annotations

import http.client
import io
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from support import KEY, failed_checks, judge

from conformance.aliases import FULL_FAMILY_IDS, _rules, aliases
from conformance.model import Credential, Purpose, ReceivedResponse
from conformance.sandbox import CheckoutApi, Reply, seeded_sessions
from conformance.sandbox.variants import VARIANTS
from conformance.transport import RetryPolicy, Transport, framing_problems

IDS = tuple(session.id for session in seeded_sessions())


def variant(name: str) -> CheckoutApi:
    return VARIANTS[name].api(KEY, seeded_sessions())


# --- 1. identity aliasing -------------------------------------------------------------


def test_every_alias_has_a_reason_and_none_is_a_known_id() -> None:
    made = aliases(IDS)
    assert made
    assert not {alias.id for alias in made} & set(IDS)
    assert all(alias.why.startswith(f"{alias.of}: ") and len(alias.why) > len(alias.of) + 20 for alias in made)


def test_the_number_of_aliases_is_bounded_per_known_id() -> None:
    every_id = sum(1 for rule in _rules() if rule.get("every_id"))
    bound = FULL_FAMILY_IDS * len(_rules()) + (len(IDS) - FULL_FAMILY_IDS) * every_id
    assert len(aliases(IDS)) <= bound
    assert bound <= 80


class Trimming(CheckoutApi):
    """Finds a session by its id with surrounding whitespace removed, as a careless lookup would."""

    def lookup(self, checkout_id: str) -> Any:
        session = super().lookup(checkout_id.strip())
        return replace(session, id=checkout_id) if session is not None else None


def test_a_lookup_that_trims_the_id_is_caught_whatever_id_the_body_carries(tmp_path: Path) -> None:
    outcome = judge(Trimming(KEY, seeded_sessions()), tmp_path)
    assert outcome.exit_code == 1
    assert failed_checks(outcome) == {"session.unknown_not_found"}
    finding = next(item for item in outcome.record.checks if item.id == "session.unknown_not_found").findings[0]
    assert finding.purpose == str(Purpose.ALIAS)
    assert "whitespace" in (finding.why or "")


@pytest.mark.parametrize(
    "name", ["whitespace-trimmed-lookup", "unicode-folded-lookup", "double-decoded-lookup", "wildcard-lookup"]
)
def test_lenient_lookups_of_the_catalogue_are_caught_by_aliases(tmp_path: Path, name: str) -> None:
    outcome = judge(variant(name), tmp_path)
    assert failed_checks(outcome) == {"session.unknown_not_found"}


def test_a_server_that_finds_only_exact_ids_passes_every_alias(tmp_path: Path) -> None:
    outcome = judge(variant("reference"), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason
    exchanges = outcome.ledger.tallies["session.unknown_not_found"].passed
    assert exchanges >= len(aliases(IDS))


# --- 2. credential near misses ---------------------------------------------------------


class CaseBlindKey(CheckoutApi):
    """Compares the key without regard to case."""

    def authorized(self, header: str | None) -> bool:
        return header is not None and header.lower() == f"bearer {self.api_key}".lower()


def test_a_key_compared_without_case_is_caught_and_the_near_miss_is_never_written(tmp_path: Path) -> None:
    lines: list[str] = []
    outcome = judge(CaseBlindKey(KEY, seeded_sessions()), tmp_path, lines=lines)
    assert failed_checks(outcome) == {"auth.wrong_key"}
    finding = next(item for item in outcome.record.checks if item.id == "auth.wrong_key").findings[0]
    assert finding.credential == str(Credential.NEAR_MISS)
    assert "case" in (finding.why or "")
    written = "\n".join(path.read_text(encoding="utf-8") for path in tmp_path.iterdir()) + "\n".join(lines)
    for near_miss in (KEY.swapcase(), KEY[:-1], KEY + "x", KEY[: len(KEY) // 2]):
        assert near_miss not in written


@pytest.mark.parametrize(
    ("name", "check"),
    [("key-prefix-accepted", "auth.wrong_key"), ("key-case-insensitive", "auth.wrong_key"),
     ("empty-bearer-accepted", "auth.missing_key"), ("scheme-ignored", "auth.missing_key")],
)  # fmt: skip
def test_keys_compared_loosely_are_caught(tmp_path: Path, name: str, check: str) -> None:
    assert failed_checks(judge(variant(name), tmp_path)) == {check}


def test_the_key_probes_never_send_the_key_itself_and_show_no_near_miss() -> None:
    transport = Transport("http://127.0.0.1:9", KEY, timeout=1)
    probes = transport.key_probes()
    assert len(probes) >= 10
    assert all(probe.header != f"Bearer {KEY}" for probe in probes)
    for probe in probes:
        assert KEY not in probe.shown
        assert not any(secret in probe.shown for secret in transport.derived_secrets())
    transport.close()


def test_a_server_that_refuses_every_wrong_key_with_403_passes(tmp_path: Path) -> None:
    assert judge(variant("forbidden-wrong-key"), tmp_path).exit_code == 0


# --- 3. JSON only a lenient parser reads (cases in tests/cases/response.schema.json) -------


@pytest.mark.parametrize("name", ["nan-in-body", "bom-body", "duplicate-keys"])
def test_bodies_only_a_lenient_parser_reads_are_caught(tmp_path: Path, name: str) -> None:
    assert failed_checks(judge(variant(name), tmp_path)) == {"response.schema"}


# --- 4. a reply that never finishes -----------------------------------------------------


@pytest.fixture
def raw_server() -> Iterator[tuple[str, list[bytes]]]:
    """A server on 127.0.0.1 that answers each connection with the next script of (bytes, pause) steps."""
    listener = socket.create_server(("127.0.0.1", 0))
    scripts: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                connection.recv(65536)
                script = scripts.pop(0) if scripts else b""
                for byte in script:
                    if stop.wait(0.2):
                        return
                    try:
                        connection.sendall(bytes([byte]))
                    except OSError:
                        break
                stop.wait(30)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", scripts
    stop.set()
    thread.join(timeout=5)
    listener.close()


@pytest.mark.parametrize(
    "trickle",
    [b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{" + b"x" * 499,
     b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"],
    ids=["body trickles", "headers trickle"],
)  # fmt: skip
def test_a_reply_that_trickles_ends_at_the_request_timeout_not_later(
    raw_server: tuple[str, list[bytes]], trickle: bytes
) -> None:
    base_url, scripts = raw_server
    if trickle.endswith(b"{}"):
        # Headers one byte every 0.2 s: the whole reply would take far longer than the timeout.
        trickle = trickle.replace(b"\r\n\r\n", b"\r\nX-Padding: " + b"p" * 200 + b"\r\n\r\n")
    else:
        scripts.append(b"")
        trickle = trickle[:80]
    scripts.insert(0, trickle)
    transport = Transport(base_url, KEY, timeout=1.0)
    started = time.monotonic()
    exchange = transport.get_checkout("cks_x", Purpose.KNOWN)
    took = time.monotonic() - started
    transport.close()
    assert exchange.response is None
    assert exchange.transport_error == "no complete response within the 1 s request timeout"
    # Generous for a loaded machine (30 timeouts); before the watchdog this took as long as the server kept
    # sending, over a minute.
    assert took < 30


# --- 5. state shared between requests ---------------------------------------------------


@pytest.mark.parametrize(("name", "check"), [("racy-shared-session", "session.id_echoed"),
                                            ("racy-counter-500", "response.no_server_error")])  # fmt: skip
def test_shared_state_shows_under_concurrent_reads_and_only_there(tmp_path: Path, name: str, check: str) -> None:
    assert check in failed_checks(judge(variant(name), tmp_path / "concurrent"))
    assert judge(variant(name), tmp_path / "serial", concurrency=0).exit_code == 0


def test_a_reply_written_twice_is_caught_on_a_reused_connection(tmp_path: Path) -> None:
    assert "session.id_echoed" in failed_checks(judge(variant("reply-sent-twice"), tmp_path, concurrency=0))


# --- 6. valid HTTP and valid RFC 3339 raise no alarm --------------------------------------


@pytest.mark.parametrize(
    "name",
    ["early-hints", "created-at-offsets", "gzip-bodies", "chunked-bodies", "close-delimited-bodies",
     "retry-after-forms", "leap-second"],
)  # fmt: skip
def test_valid_but_unusual_servers_pass(tmp_path: Path, name: str) -> None:
    outcome = judge(variant(name), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason


class HintsThenAnswer(CheckoutApi):
    """Every reply is preceded by 103 Early Hints and 102 Processing."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        return replace(super().handle(method, target, headers), interim=(102, 103))


def test_interim_responses_are_skipped_and_never_judged(tmp_path: Path) -> None:
    outcome = judge(HintsThenAnswer(KEY, seeded_sessions()), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason
    assert not [status for status in outcome.record.exchanges.by_status if status.startswith("1")]


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [(None, 1.0, 1.0), ("3", 3.0, 3.0), ("0", 0.0, 0.0), ("soon", 1.0, 1.0), ("9999", 10.0, 10.0)],
)
def test_retry_after_is_read_as_seconds_bounded_and_defaulted(header: str | None, low: float, high: float) -> None:
    transport = Transport("http://127.0.0.1:9", KEY, timeout=1)
    headers = {"Retry-After": header} if header is not None else {}
    wait = transport.retry.wait_after(ReceivedResponse(429, "", headers, b"", 1.0))
    transport.close()
    assert low <= wait <= high


def test_retry_after_as_an_http_date_waits_until_that_date() -> None:
    # A minute ahead, so that a busy machine's pauses cannot bring the wait near either bound.
    transport = Transport("http://127.0.0.1:9", KEY, timeout=1, retry=RetryPolicy(max_wait_seconds=120.0))
    soon = formatdate(time.time() + 60, usegmt=True)
    past = formatdate(time.time() - 60, usegmt=True)
    waits = [
        transport.retry.wait_after(ReceivedResponse(429, "", {"Retry-After": value}, b"", 1.0))
        for value in (soon, past)
    ]
    transport.close()
    assert 30.0 <= waits[0] <= 60.0
    assert waits[1] == 0.0


# --- 7. ids from other namespaces, keys that outlive a request, heads that break HTTP/1.1 ----------------


class CountingIds(CheckoutApi):
    """The reference server, noting every id it is asked for."""

    def __init__(self, api_key: str, sessions: tuple[Any, ...]) -> None:
        super().__init__(api_key, sessions)
        self.asked: list[str] = []

    def lookup(self, checkout_id: str) -> Any:
        self.asked.append(checkout_id)
        return super().lookup(checkout_id)


def test_a_few_payment_ids_are_asked_for_as_checkout_ids_and_a_lookup_by_them_is_caught(tmp_path: Path) -> None:
    # A lookup that also searches payment_id (`WHERE id = ? OR payment_id = ?`) finds a session by another id.
    assert failed_checks(judge(variant("payment-id-lookup"), tmp_path / "or")) >= {"session.unknown_not_found"}
    exact = CountingIds(KEY, seeded_sessions())
    assert judge(exact, tmp_path / "exact").exit_code == 0
    payment_ids = {session.payment_id for session in seeded_sessions() if session.payment_id}
    asked = [checkout_id for checkout_id in exact.asked if checkout_id in payment_ids]
    assert len(set(asked)) == 3  # bounded: three of the eleven


@pytest.mark.parametrize("name", ["keyless-after-miss", "fail-open-under-load"])
def test_a_key_check_that_state_left_open_is_caught(tmp_path: Path, name: str) -> None:
    # The signed-in merchant kept after a 404, or a breaker that fails open once requests overlap.
    assert failed_checks(judge(variant(name), tmp_path)) >= {"auth.missing_key", "auth.wrong_key"}


def test_a_breaker_that_fails_open_needs_the_overlap_to_show(tmp_path: Path) -> None:
    assert judge(variant("fail-open-under-load"), tmp_path, concurrency=0).exit_code == 0


@pytest.mark.parametrize("name", ["length-beside-chunks", "folded-header", "id-echoed-in-header"])
def test_a_head_that_breaks_http_syntax_fails_the_reply_check(tmp_path: Path, name: str) -> None:
    assert failed_checks(judge(variant(name), tmp_path)) == {"transport.reply"}


def _head(fields: bytes) -> Any:
    return http.client.parse_headers(io.BytesIO(fields + b"\r\n"))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n", "both Transfer-Encoding and Content-Length"),
        (b"X-Trace: a;\r\n b\r\n", "the field 'X-Trace' folded onto a second line"),
        (b"X-Trace: a;\r\n\tb\r\n", "the field 'X-Trace' folded onto a second line"),
        (b"X-Id: cks_\x00\r\n", "the field 'X-Id' holds a control character"),
        (b"X-Id: cks_\x1b\r\n", "the field 'X-Id' holds a control character"),
        (b"X-Id: cks_\x7f\r\n", "the field 'X-Id' holds a control character"),
        (b"X-Id: cks_\r\nnot a field\r\nContent-Type: application/json\r\n", "a line in the header section that"),
    ],
)
def test_each_break_of_http_syntax_in_a_head_is_named(fields: bytes, problem: str) -> None:
    problems = framing_problems(_head(fields))
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem)


@pytest.mark.parametrize(
    "fields",
    [
        b"X-Note: a\tb\r\n",  # HTAB is allowed inside a value (RFC 9110 section 5.5)
        b"X-Name: Jos\xe9\r\n",  # obs-text: a byte past ASCII, Latin-1 to http.client
        b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n",  # a field that may repeat
        b"Content-Length: 2\r\nContent-Length: 2\r\n",  # the same length twice (RFC 9112 section 6.3 lets it be)
        b"Transfer-Encoding: chunked\r\n",
        b"X-Empty:\r\nX-Spaces:    a   \r\n",
    ],
)
def test_valid_but_unusual_heads_have_no_problem(fields: bytes) -> None:
    assert framing_problems(_head(fields)) == ()


class OddButValidHeads(CheckoutApi):
    """Tabs and a byte past ASCII inside values, a repeated field, an empty one: all valid HTTP/1.1."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        extra = {"X-Note": "a\tb", "X-Name": "Jos\xe9", "X-Empty": ""}
        return replace(reply, headers={**reply.headers, **extra})


def test_a_server_with_odd_but_valid_heads_passes(tmp_path: Path) -> None:
    outcome = judge(OddButValidHeads(KEY, seeded_sessions()), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason
