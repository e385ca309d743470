"""Issue 20's classes: the key's structure, ids that are path syntax, errors that disclose, writes without a key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import KEY, SPEC, failed_checks, judge
from test_transport_wire import Wire, reply, transport, wire  # noqa: F401 - wire is a fixture

from conformance.checks import Context, Verdict
from conformance.checks import judge as judge_exchange
from conformance.credentials import WRONG_KEY
from conformance.gate import path_ids
from conformance.model import Credential, Exchange, Purpose
from conformance.sandbox import CheckoutApi, seeded_products, seeded_sessions
from conformance.sandbox.variants import VARIANTS
from conformance.spec import load_contract
from conformance.transport import Transport

SECRET = "0123456789abcdefXYZ"
STRUCTURED_KEY = f"sk_test_{SECRET}"


def variant(name: str) -> CheckoutApi:
    return VARIANTS[name].api(KEY, seeded_sessions())


def near_misses(key: str) -> list[str]:
    made = Transport("http://127.0.0.1:9", key, timeout=1)
    try:
        probes = made.key_probes()
        return [probe.header.removeprefix("Bearer ") for probe in probes if probe.credential is Credential.NEAR_MISS]
    finally:
        made.close()


# --- 1. the key's structure -----------------------------------------------------------------


def test_near_misses_are_made_from_the_key_structure_and_each_is_redacted_like_the_key() -> None:
    made = Transport("http://127.0.0.1:9", STRUCTURED_KEY, timeout=1)
    structural = {
        SECRET,
        f"sk_live_{SECRET}",
        f"pk_test_{SECRET}",
        f"sk_test_sk_test_{SECRET}",
        f"{STRUCTURED_KEY} extra",
    }
    assert structural <= set(near_misses(STRUCTURED_KEY))
    assert structural <= set(made.derived_secrets())
    for probe in made.key_probes():
        assert not any(secret in probe.shown for secret in structural)
    made.close()


def test_a_key_of_live_mode_gets_its_test_mode_twin_as_a_near_miss() -> None:
    assert f"sk_test_{SECRET}" in near_misses(f"sk_live_{SECRET}")


def test_a_key_without_a_prefix_gets_only_the_near_misses_that_need_none() -> None:
    key = "plainkeywithoutanyprefix0123"
    made = near_misses(key)
    assert f"{key} extra" in made
    assert not any(miss.startswith(("pk_", "sk_")) for miss in made)


@pytest.mark.parametrize("name", ["key-secret-only", "key-any-suffix", "key-other-mode-accepted"])
def test_servers_that_authenticate_on_part_of_the_key_are_caught_and_no_near_miss_is_written(
    tmp_path: Path, name: str
) -> None:
    lines: list[str] = []
    cassettes = tmp_path / "cassettes"
    outcome = judge(variant(name), tmp_path / "reports", lines=lines, record=True, cassette_dir=cassettes)
    assert failed_checks(outcome) == {"auth.wrong_key"}
    written = "\n".join(
        path.read_text(encoding="utf-8", errors="replace") for path in tmp_path.rglob("*") if path.is_file()
    )
    written += "\n".join(lines)
    assert any(cassettes.glob("*.yaml"))
    secret = KEY.removeprefix("sk_test_")
    for near in (secret, f"sk_live_{secret}", f"pk_test_{secret}", f"sk_test_sk_test_{secret}", f"{KEY} extra"):
        assert near not in written, near


def test_a_key_of_the_other_mode_refused_with_a_message_that_says_so_passes(tmp_path: Path) -> None:
    assert judge(variant("key-mode-explained"), tmp_path).exit_code == 0


# --- 2. ids that are path syntax ------------------------------------------------------------


def test_path_syntax_reaches_the_server_as_written(wire: Wire) -> None:  # noqa: F811 - the fixture
    sent = path_ids("cks_known")
    wire.replies = [reply(b"{}", "404 Not Found") for _ in sent]
    made = transport(wire)
    for item in sent:
        exchange = made.get_path(f"/checkouts/{item.path}", item.path, Purpose.PATH, why=item.why)
        assert exchange.response is not None, exchange.transport_error
    made.close()
    lines = [request.split(b"\r\n", 1)[0].decode() for request in wire.requests]
    assert lines == [f"GET /checkouts/{item.path} HTTP/1.1" for item in sent]
    assert "GET /checkouts/%2e HTTP/1.1" in lines
    assert "GET /checkouts/cks_known/.. HTTP/1.1" in lines


def test_every_path_syntax_id_has_a_reason_and_their_number_is_bounded() -> None:
    made = path_ids("cks_known")
    assert 10 <= len(made) <= 20
    assert all(len(item.why) > 30 for item in made)
    assert "cks_known" not in {item.path for item in made}


@pytest.mark.parametrize("name", ["dot-segments-resolved", "trailing-slash-stripped"])
def test_a_router_that_normalises_path_syntax_is_caught(tmp_path: Path, name: str) -> None:
    outcome = judge(variant(name), tmp_path)
    assert "session.unknown_not_found" in failed_checks(outcome)
    findings = next(item for item in outcome.record.checks if item.id == "session.unknown_not_found").findings
    assert str(Purpose.PATH) in {finding.purpose for finding in findings}


def test_a_proxy_that_refuses_path_syntax_with_400_404_or_a_redirect_passes(tmp_path: Path) -> None:
    outcome = judge(variant("path-syntax-refused"), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason


# --- 3. errors that disclose ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["session-in-401", "did-you-mean"])
def test_an_error_body_that_carries_a_session_is_caught(tmp_path: Path, name: str) -> None:
    outcome = judge(variant(name), tmp_path)
    assert failed_checks(outcome) == {"errors.no_disclosure"}
    finding = next(item for item in outcome.record.checks if item.id == "errors.no_disclosure").findings[0]
    assert "@example.com" in finding.received or "Customer" in finding.received or "pay_" in finding.received


def test_a_404_that_echoes_the_id_asked_for_passes(tmp_path: Path) -> None:
    outcome = judge(variant("error-echoes-id"), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason


# --- 4. writes without a key ----------------------------------------------------------------


def _create_flags() -> dict[str, Any]:
    return {"create_session": True, "product_id": seeded_products()[0].id}


def test_a_server_that_creates_without_a_key_is_caught_only_when_writes_are_allowed(tmp_path: Path) -> None:
    outcome = judge(variant("create-without-key"), tmp_path / "create", **_create_flags())
    assert failed_checks(outcome) == {"auth.missing_key"}
    creates = [
        finding for item in outcome.record.checks for finding in item.findings if finding.purpose == str(Purpose.CREATE)
    ]
    assert creates
    assert judge(variant("create-without-key"), tmp_path / "read-only").exit_code == 0


def test_a_create_refused_with_403_passes(tmp_path: Path) -> None:
    outcome = judge(variant("create-forbidden"), tmp_path, **_create_flags())
    assert outcome.exit_code == 0, outcome.record.result.reason


@pytest.mark.parametrize("credential", [Credential.MISSING, Credential.WRONG])
def test_a_create_without_the_key_is_sent_once_even_when_answered_429(
    wire: Wire,  # noqa: F811 - the fixture
    credential: Credential,
) -> None:
    wire.replies = [reply(b"{}", "429 Too Many Requests", Retry_After="0") for _ in range(3)]
    made = transport(wire)
    exchange = made.create_checkout("pdt_1", credential)
    made.close()
    assert len(wire.requests) == 1
    assert exchange.rate_limited
    assert wire.header(0, "Authorization") == (None if credential is Credential.MISSING else f"Bearer {WRONG_KEY}")


def test_a_create_with_the_key_is_still_retried_after_a_429(wire: Wire) -> None:  # noqa: F811 - the fixture
    wire.replies = [reply(b"{}", "429 Too Many Requests", Retry_After="0"), reply(b'{"session_id": "cks_1"}')]
    made = transport(wire)
    exchange = made.create_checkout("pdt_1")
    made.close()
    assert len(wire.requests) == 2
    assert exchange.response is not None
    assert exchange.response.status == 200


# --- 6. right for the wrong reason ----------------------------------------------------------


def test_whitespace_before_a_colon_is_named_not_reported_as_a_timeout(wire: Wire) -> None:  # noqa: F811
    wire.replies = [b"HTTP/1.1 200 OK\r\nContent-Type : application/json\r\nContent-Length: 2\r\n\r\n{}"]
    made = transport(wire, timeout=60.0)
    exchange = made.get_checkout("cks_1", Purpose.KNOWN)
    made.close()
    assert exchange.transport_error is None
    assert exchange.response is not None
    assert exchange.response.body == b"{}"
    assert any("whitespace before its colon" in problem and "RFC 9112 section 5.1" in problem
               for problem in exchange.response.framing)  # fmt: skip
    verdicts = {verdict.check.id: verdict for verdict in judge_one(exchange)}
    failure = verdicts["transport.reply"].failure
    assert failure is not None
    assert "whitespace before its colon" in failure.received


def test_two_content_type_fields_are_named_as_two(wire: Wire) -> None:  # noqa: F811
    body = b'{"id": "cks_1", "created_at": "2026-01-10T09:30:00Z"}'
    wire.replies = [
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Type: text/plain\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    ]
    made = transport(wire)
    exchange = made.get_checkout("cks_1", Purpose.KNOWN)
    made.close()
    assert exchange.response is not None
    assert exchange.response.content_types == ("application/json", "text/plain")
    failure = {verdict.check.id: verdict for verdict in judge_one(exchange)}["response.content_type"].failure
    assert failure is not None
    assert failure.received == "2 Content-Type fields: 'application/json' and 'text/plain'"


def test_one_content_type_field_and_a_clean_head_pass(wire: Wire) -> None:  # noqa: F811
    body = b'{"id": "cks_1", "created_at": "2026-01-10T09:30:00Z"}'
    wire.replies = [reply(body)]
    made = transport(wire)
    exchange = made.get_checkout("cks_1", Purpose.KNOWN)
    made.close()
    assert exchange.response is not None
    assert exchange.response.framing == ()
    outcomes = {verdict.check.id: verdict.outcome for verdict in judge_one(exchange)}
    assert outcomes["response.content_type"] == "passed"
    assert outcomes["transport.reply"] == "passed"


def judge_one(exchange: Exchange) -> list[Verdict]:
    context = Context(contract=load_contract(SPEC), known_ids=frozenset({"cks_1"}))
    return judge_exchange(context, exchange)


@pytest.mark.parametrize(
    ("name", "check", "named"),
    [
        ("space-before-colon", "transport.reply", "whitespace before its colon ('X-Trace ')"),
        ("two-content-types", "response.content_type", "2 Content-Type fields: 'application/json' and 'text/html'"),
    ],
)
def test_a_server_whose_head_breaks_field_syntax_is_failed_for_what_it_broke(
    tmp_path: Path, name: str, check: str, named: str
) -> None:
    outcome = judge(variant(name), tmp_path)
    assert failed_checks(outcome) == {check}
    finding = next(item for item in outcome.record.checks if item.id == check).findings[0]
    assert named in finding.received
    assert "timeout" not in finding.received


def test_optional_whitespace_around_field_values_passes(tmp_path: Path) -> None:
    outcome = judge(variant("field-whitespace"), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason
