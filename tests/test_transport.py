"""The transport turns timeouts, dropped connections, 429s and big bodies into exchanges, never crashes."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import pytest

from conformance.model import Credential, Purpose, SentRequest
from conformance.redaction import REDACTED, Redactor, curl_line
from conformance.sandbox import CheckoutApi, Reply, Sandbox, seeded_sessions
from conformance.transport import BODY_CAP_BYTES, RetryPolicy, Transport

KEY = "sk_test_transport_key_0123456789"


class Scripted(CheckoutApi):
    """Answers each request with the next reply of a script, then 404s."""

    def __init__(self, replies: list[Reply]) -> None:
        super().__init__(KEY, seeded_sessions())
        self.replies = replies
        self.seen: list[str] = []

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:  # noqa: ARG002
        self.seen.append(headers.get("Authorization", ""))
        return self.replies.pop(0) if self.replies else Reply.error(404, "NOT_FOUND", "none")


@pytest.fixture
def scripted() -> Iterator[tuple[Scripted, Sandbox]]:
    api = Scripted([])
    with Sandbox(api=api) as sandbox:
        yield api, sandbox


def _transport(sandbox: Sandbox, timeout: float = 60.0, sleeps: list[float] | None = None) -> Transport:
    sleep = sleeps.append if sleeps is not None else (lambda _: None)
    return Transport(
        sandbox.base_url, KEY, timeout=timeout, retry=RetryPolicy(attempts=3, max_wait_seconds=5), sleep=sleep
    )


def test_a_reply_that_never_comes_is_a_timeout_naming_the_limit(scripted: tuple[Scripted, Sandbox]) -> None:
    api, sandbox = scripted
    # Held until the client leaves: a watchdog a busy machine wakes late still finds no reply.
    api.replies.append(Reply(200, delay_seconds=math.inf))
    exchange = _transport(sandbox, timeout=0.3).get_checkout("cks_x", Purpose.UNKNOWN)
    assert exchange.response is None
    assert exchange.transport_error is not None
    assert "0.3 s request timeout" in exchange.transport_error


def test_a_dropped_connection_is_a_transport_error(scripted: tuple[Scripted, Sandbox]) -> None:
    api, sandbox = scripted
    api.replies.append(Reply(200, drop_connection=True))
    exchange = _transport(sandbox).get_checkout("cks_x", Purpose.UNKNOWN)
    assert exchange.response is None
    assert exchange.transport_error is not None
    assert "dropped" in exchange.transport_error


def test_429_is_retried_after_retry_after(scripted: tuple[Scripted, Sandbox]) -> None:
    api, sandbox = scripted
    api.replies += [Reply(429, headers={"Retry-After": "2"}), Reply(429, headers={"Retry-After": "999"})]
    sleeps: list[float] = []
    exchange = _transport(sandbox, sleeps=sleeps).get_checkout("cks_x", Purpose.UNKNOWN)
    assert exchange.response is not None
    assert exchange.response.status == 404
    assert not exchange.rate_limited
    # The second wait is bounded by the policy, whatever the server asks for.
    assert sleeps == [2.0, 5.0]


def test_endless_429_leaves_the_exchange_unjudged(scripted: tuple[Scripted, Sandbox]) -> None:
    api, sandbox = scripted
    api.replies += [Reply(429)] * 3
    exchange = _transport(sandbox).get_checkout("cks_x", Purpose.UNKNOWN)
    assert exchange.rate_limited
    assert len(api.seen) == 3


def test_a_body_over_the_cap_is_cut_and_marked(scripted: tuple[Scripted, Sandbox]) -> None:
    api, sandbox = scripted
    api.replies.append(Reply(200, body=b"x" * (BODY_CAP_BYTES + 10), headers={"Content-Type": "application/json"}))
    exchange = _transport(sandbox).get_checkout("cks_x", Purpose.UNKNOWN)
    assert exchange.response is not None
    assert exchange.response.truncated
    assert len(exchange.response.body) == BODY_CAP_BYTES
    assert exchange.response.parsed[0] is False


@pytest.mark.parametrize(
    ("credential", "sent"),
    [
        (Credential.VALID, f"Bearer {KEY}"),
        (Credential.MISSING, ""),
        (Credential.WRONG, "Bearer conformance_wrong_key"),
    ],
)
def test_each_credential_sends_its_header_and_records_it_redacted(
    scripted: tuple[Scripted, Sandbox], credential: Credential, sent: str
) -> None:
    api, sandbox = scripted
    exchange = _transport(sandbox).get_checkout("cks_x", Purpose.UNKNOWN, credential)
    assert api.seen[0].startswith(sent) if sent else api.seen[0] == ""
    assert KEY not in repr(exchange)
    if credential is Credential.VALID:
        assert exchange.request.headers["Authorization"] == f"Bearer {REDACTED}"


def test_reserved_characters_in_an_id_are_escaped_in_the_path(scripted: tuple[Scripted, Sandbox]) -> None:
    _, sandbox = scripted
    transport = _transport(sandbox)
    assert transport.url_for("a/b?c#d e").endswith("/checkouts/a%2Fb%3Fc%23d%20e")


def test_the_curl_line_reads_the_key_from_the_environment() -> None:
    request = SentRequest("GET", "http://127.0.0.1:9/checkouts/x'y", {"Authorization": f"Bearer {REDACTED}"})
    line = curl_line(request)
    assert '"Authorization: Bearer $DODO_PAYMENTS_API_KEY"' in line
    assert "'http://127.0.0.1:9/checkouts/x'\"'\"'y'" in line


def test_the_redactor_replaces_every_occurrence_of_a_secret() -> None:
    redact = Redactor([KEY, ""])
    assert redact(f"a {KEY} b {KEY}") == f"a {REDACTED} b {REDACTED}"
