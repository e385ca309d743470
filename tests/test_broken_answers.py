"""A server that answers with a status line and then breaks the message is judged (exit 1), never "unreachable".

The fifth adversary round found four such servers reported as "cannot be reached" (exit 3), with advice to check
the base URL: a body longer than its Content-Length promised, chunk sizes in decimal, a 1xx sent with content, and
a Content-Encoding the body does not have. Each server here answers every request the same broken way.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from support import KEY, conformance, summary
from test_transport_wire import Wire, wire  # noqa: F401 - wire is a fixture

BODY = json.dumps({"code": "NOT_FOUND", "message": "Checkout session not found"}).encode()
HEAD = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"


def _too_long() -> tuple[bytes, bool]:
    # The length counts ten bytes more than are sent, and the connection then closes.
    return (HEAD + f"Content-Length: {len(BODY) + 10}\r\n\r\n").encode() + BODY, True


def _decimal_chunks() -> tuple[bytes, bool]:
    # 64 bytes of body sent as a chunk of size "64", which HTTP reads as hex: 100 bytes promised.
    return (
        HEAD + "Transfer-Encoding: chunked\r\n\r\n"
    ).encode() + f"{len(BODY)}\r\n".encode() + BODY + b"\r\n0\r\n\r\n", False


def _interim_with_body() -> tuple[bytes, bool]:
    interim = b"HTTP/1.1 100 Continue\r\nContent-Length: 7\r\n\r\nwaiting"
    return interim + (HEAD + f"Content-Length: {len(BODY)}\r\n\r\n").encode() + BODY, False


def _coding_not_applied() -> tuple[bytes, bool]:
    return (HEAD + f"Content-Encoding: gzip\r\nContent-Length: {len(BODY)}\r\n\r\n").encode() + BODY, False


def answering(server: Wire, make: tuple[bytes, bool]) -> str:
    """The base URL of `server`, set to answer every request with the same bytes (and hang up after, if so made)."""
    server.every, server.close_when_idle = make
    return server.base_url


CASES = {
    "a Content-Length too long": (_too_long, "then the connection failed or was dropped before a complete response"),
    "chunk sizes in decimal": (_decimal_chunks, "then no complete response within the 3 s request timeout"),
    "a 1xx with content": (_interim_with_body, "an interim 1xx response has no content"),
    "a coding the body does not have": (
        _coding_not_applied,
        "then the response could not be decoded: a body that is not valid gzip",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_server_that_breaks_its_answers_after_the_status_line_is_judged_non_conformant(
    tmp_path: Path,
    wire: Wire,  # noqa: F811 - the fixture
    case: str,
) -> None:
    make, said = CASES[case]
    result = conformance(
        "run", "--base-url", answering(wire, make()), "--report-dir", str(tmp_path), "--request-timeout", "3",
        "--max-examples", "5", env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "cannot be reached" not in result.stdout + result.stderr
    record = summary(tmp_path)
    failed = {item["id"] for item in record["checks"] if item["status"] == "failed"}
    assert "transport.reply" in failed
    findings = next(item["findings"] for item in record["checks"] if item["id"] == "transport.reply")
    received = [finding["received"] for finding in findings]
    assert any("status line 'HTTP/1.1 " in text and said in text for text in received), received


def test_answers_that_stall_after_their_status_line_stop_the_run_after_three_and_it_is_still_judged(
    tmp_path: Path,
    wire: Wire,  # noqa: F811 - the fixture
) -> None:
    result = conformance(
        "run", "--base-url", answering(wire, _decimal_chunks()), "--report-dir", str(tmp_path),
        "--request-timeout", "3", env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    record = summary(tmp_path)
    assert record["run"]["requests_sent"] == 3
    assert "3 requests in a row got a status line and then no complete message" in record["result"]["reason"]


def test_a_reply_with_no_status_line_at_all_is_still_not_judged(tmp_path: Path, wire: Wire) -> None:  # noqa: F811
    base_url = answering(wire, (b"SSH-2.0-OpenSSH_9.6\r\n", True))
    result = conformance(
        "run", "--base-url", base_url, "--report-dir", str(tmp_path), env={"DODO_PAYMENTS_API_KEY": KEY}
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "no HTTP status line" in result.stdout + result.stderr


def test_a_head_answer_is_not_decoded_by_its_content_encoding(wire: Wire) -> None:  # noqa: F811 - the fixture
    # A HEAD answer carries the fields a GET would get, Content-Encoding included, and no content to decode.
    from conformance.transport import Transport  # noqa: PLC0415 - the transport, as the gate uses it

    reply = (HEAD + f"Content-Encoding: gzip\r\nContent-Length: {len(gzip.compress(BODY))}\r\n\r\n").encode()
    made = Transport(answering(wire, (reply, False)), KEY, timeout=60)
    try:
        exchange = made.head_path("/checkouts/cks_1", "cks_1", "why")
    finally:
        made.close()
    assert exchange.transport_error is None
    assert exchange.response is not None
    assert exchange.response.status == 404
