"""Independent oracles: responses Prism generates from spec/ raise no false alarm, and the SDK parses them."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import KEY, KNOWN_ID, ROOT, SPEC, conformance, make_exchange, summary
from support import judge as judge_served

from conformance.checks import Context, Outcome, judge
from conformance.model import Purpose
from conformance.operations import REGISTRY
from conformance.oracles import schemathesis_disagreements, sdk_accepts
from conformance.sandbox import seeded_sessions
from conformance.sandbox.variants import VARIANTS
from conformance.transport import Transport

PRISM = ROOT / "node_modules" / ".bin" / "prism"
RESPONSES = 520
# Prism invents a session for any id, with a random id and payment fields drawn independently, so
# only the checks of a response against the spec apply; those about sessions do not.
RESPONSE_CHECKS = [check for check_id, check in REGISTRY.items() if check_id.startswith(("transport.", "response."))]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def prism() -> Iterator[str]:
    if not PRISM.exists():
        if shutil.which("npm") is None:
            pytest.skip("Prism needs npm, which is missing: install Node.js 20 with npm, then run 'make test'")
        pytest.fail("Prism is not installed although npm is: run 'make node' (npm ci)")
    port = _free_port()
    process = subprocess.Popen(
        # No --seed: with one, Prism answers every request with the same body.
        [str(PRISM), "mock", "--dynamic", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("Prism did not start within 60 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_prism_responses_generated_from_the_spec_raise_no_false_alarm(
    prism: str, context: Context, operation: Any
) -> None:
    transport = Transport(prism, "sk_prism_any_key_works", timeout=10)
    judged, bodies, failures, disagreements = 0, [], [], []
    for index in range(RESPONSES):
        exchange = transport.get_checkout(f"cks_oracle{index:05d}", Purpose.GENERATED)
        assert exchange.response is not None, exchange.transport_error
        if exchange.response.status == 200:
            judged += 1
            bodies.append(exchange.response.parsed[1])
        failures += [
            verdict for verdict in judge(context, exchange, RESPONSE_CHECKS) if verdict.outcome is not Outcome.PASSED
        ]
        disagreements += schemathesis_disagreements(context, operation, exchange)
    transport.close()
    assert judged >= 500
    assert [(item.check.id, item.failure) for item in failures] == []
    assert disagreements == []
    # The bodies do vary over what the schema allows (a chance miss over 500 draws is negligible).
    assert len({json.dumps(body, sort_keys=True) for body in bodies}) > RESPONSES // 2
    assert any(body.get("payment_status") is None for body in bodies)
    assert any(body.get("payment_status") is not None for body in bodies)
    assert any(body.get("customer_email") is None for body in bodies)


def test_the_sdk_in_strict_mode_parses_every_body_prism_generates(prism: str) -> None:
    transport = Transport(prism, "sk_prism_any_key_works", timeout=10)
    bodies = []
    for index in range(100):
        exchange = transport.get_checkout(f"cks_sdk{index:05d}", Purpose.GENERATED)
        assert exchange.response is not None
        bodies.append(exchange.response.parsed[1])
    transport.close()
    assert all(sdk_accepts(body) for body in bodies)


def test_the_sdk_and_the_spec_agree_on_an_unknown_payment_status(context: Context) -> None:
    body = {"id": "cks_1", "created_at": "2026-01-01T00:00:00Z", "payment_id": "pay_1", "payment_status": "paid"}
    assert not sdk_accepts(body)
    assert not context.contract.validator.is_valid(body)


KNOWN_BODY = {"id": KNOWN_ID, "created_at": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    "exchange",
    [
        {"body": KNOWN_BODY},
        {"status": 404, "body": {"code": "NOT_FOUND", "message": "no"}},
        {"status": 500, "body_text": "boom"},
        {"body": {"id": KNOWN_ID, "created_at": "2026-01-01T00:00:00"}},
        {"body": KNOWN_BODY, "headers": {"Content-Type": "text/html"}},
        # Schemathesis also wants a Content-Type in its schema check; the gate fails it under another check.
        {"body": KNOWN_BODY, "headers": {}},
    ],
    ids=["valid 200", "404", "500", "date-time without offset", "text/html", "no Content-Type"],
)
def test_schemathesis_agrees_with_the_gate_on_plain_cases(
    context: Context, operation: Any, exchange: dict[str, Any]
) -> None:
    assert schemathesis_disagreements(context, operation, make_exchange(**exchange)) == []


def test_a_disagreement_names_both_checks_and_the_exchange(context: Context, operation: Any) -> None:
    # NaN: Python's json (which Schemathesis reads bodies with) takes it; RFC 8259, and so the gate, does not.
    exchange = make_exchange(body_text=json.dumps({**KNOWN_BODY, "risk": float("nan")}))
    disagreements = schemathesis_disagreements(context, operation, exchange)
    assert len(disagreements) == 1
    assert "response.schema fails it, Schemathesis' response_schema_conformance passes it" in disagreements[0]
    assert f"/checkouts/{KNOWN_ID} -> 200" in disagreements[0]


def test_requests_without_the_valid_key_are_left_to_the_gate(context: Context, operation: Any) -> None:
    exchange = make_exchange(status=401, credential="no key", body={"code": "UNAUTHORIZED", "message": "no"})
    assert schemathesis_disagreements(context, operation, exchange) == []


def test_each_disagreement_is_listed_once_with_its_count_in_every_report(tmp_path: Path) -> None:
    # The same request answered alike several times is one disagreement, not a wall of copies.
    said: list[str] = []
    judge_served(VARIANTS["duplicate-keys"].api(KEY, seeded_sessions()), tmp_path, lines=said, oracle=True)
    listed = summary(tmp_path)["oracle_disagreements"]
    assert listed
    assert len(set(listed)) == len(listed)
    assert any(text.endswith(" exchanges)") for text in listed), listed
    markdown = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "## Where Schemathesis judged otherwise" in markdown
    printed = [line for line in said if line.startswith("schemathesis oracle: ")]
    oracle = summary(tmp_path)["oracle"]
    assert 0 < oracle["agreed"] < oracle["judged"]
    tally = f"agreed on {oracle['agreed']} of {oracle['judged']} exchanges it judged, disagreed on "
    assert printed[0].startswith(f"schemathesis oracle: {tally}")
    assert printed[1:] == [f"schemathesis oracle: {text}" for text in listed[:5]]
    assert f"Schemathesis' own response checks {tally}" in markdown


def test_an_oracle_that_agrees_says_how_often_in_the_terminal_and_every_report(tmp_path: Path) -> None:
    # Silence would read the same as an oracle that never ran.
    said: list[str] = []
    outcome = judge_served(VARIANTS["reference"].api(KEY, seeded_sessions()), tmp_path / "on", lines=said, oracle=True)
    judged = outcome.record.oracle.judged
    assert judged > 20
    tally = f"agreed on {judged} of {judged} exchanges it judged"
    assert f"schemathesis oracle: {tally}" in said
    assert summary(tmp_path / "on")["oracle"] == {"judged": judged, "agreed": judged}
    assert f"Schemathesis' own response checks {tally}." in (tmp_path / "on" / "summary.md").read_text("utf-8")
    assert tally in (tmp_path / "on" / "report.html").read_text("utf-8")
    rendered = conformance("report", str(tmp_path / "on" / "summary.json"), "--format", "html")
    assert tally in rendered.stdout
    # Without --oracle, nothing is said of one.
    said.clear()
    outcome = judge_served(VARIANTS["reference"].api(KEY, seeded_sessions()), tmp_path / "off", lines=said)
    assert outcome.record.oracle is None
    assert summary(tmp_path / "off")["oracle"] is None
    assert not [line for line in said if line.startswith("schemathesis oracle")]
    assert "Schemathesis oracle" not in (tmp_path / "off" / "summary.md").read_text("utf-8")
