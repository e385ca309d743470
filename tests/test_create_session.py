"""--create-session: the gate makes a session of its own, judges the answer, waits a bounded time for it to appear,
and judges it from then on as a known session; never in live mode, never twice, and replayed without a request."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support import KEY, conformance, failed_checks, judge

from conformance.model import Credential, Exchange, Purpose, ReceivedResponse, SentRequest
from conformance.sandbox import CheckoutApi, Reply, seeded_products, seeded_sessions
from conformance.sandbox.variants import VARIANTS

PRODUCT = seeded_products()[0].id
# Long enough for any reply on a busy machine; the test of a create that never answers waits this long.
NO_ANSWER_TIMEOUT = 10.0


def _created(api: CheckoutApi, tmp_path: Path, **flags: Any) -> Any:
    return judge(api, tmp_path, create_session=True, product_id=PRODUCT, **flags)


class CountingCreates(CheckoutApi):
    """Creates as the reference does, or answers every create with `reply`; counts the creates with the key."""

    def __init__(self, reply: Reply | None = None) -> None:
        super().__init__(KEY, seeded_sessions())
        self.reply = reply
        self.creates = 0
        # Creates without the valid key, each refused (401) as the reference refuses them.
        self.refused = 0

    def create(self, headers: Mapping[str, str], body: bytes) -> Reply:
        if not self.authorized(headers.get("Authorization")):
            self.refused += 1
            return super().create(headers, body)
        self.creates += 1
        return self.reply if self.reply is not None else super().create(headers, body)


def test_a_created_session_is_judged_by_every_check_as_a_known_one(tmp_path: Path) -> None:
    api = CountingCreates()
    outcome = _created(api, tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason
    assert api.creates == 1
    assert api.refused == 2  # one create without a key, one with a wrong key, once each
    created = next(iter(set(api.sessions) - set(api.seeded_ids)))
    assert created in outcome.record.run.checkout_ids  # read, reread, concurrently, with and without keys
    passed = {item.id: item.passed for item in outcome.record.checks}
    assert passed["session.created"] == 1
    assert passed["session.created_at_once"] == 1
    assert passed["session.created_unpaid"] >= 3  # every 200 read of it


@pytest.mark.parametrize(
    ("name", "failed"),
    [
        ("created-session-late", {"session.known_found"}),
        ("created-session-paid", {"session.created_unpaid"}),
        ("created-under-another-id", {"session.id_echoed"}),
    ],
)
def test_faults_only_a_created_session_shows_are_caught(tmp_path: Path, name: str, failed: set[str]) -> None:
    api = VARIANTS[name].api(KEY, seeded_sessions())
    assert failed_checks(_created(api, tmp_path)) == failed
    # The same servers pass a run that creates nothing: only this path finds these faults.
    assert judge(VARIANTS[name].api(KEY, seeded_sessions()), tmp_path / "reads-only").exit_code == 0


def test_a_short_lag_is_waited_out_and_reported_as_a_should(tmp_path: Path) -> None:
    outcome = _created(VARIANTS["created-session-lags"].api(KEY, seeded_sessions()), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason
    lagged = next(item for item in outcome.record.checks if item.id == "session.created_at_once")
    assert (lagged.status, lagged.warned, lagged.passed) == ("warned", 2, 1)
    strict = _created(VARIANTS["created-session-lags"].api(KEY, seeded_sessions()), tmp_path / "strict", strict=True)
    assert strict.exit_code == 1


def test_a_create_refused_with_a_4xx_is_sent_once_and_the_run_cannot_judge(tmp_path: Path) -> None:
    # An unknown product or a key that may not create: the run's input, not the server's fault.
    api = CountingCreates(Reply.error(422, "PRODUCT_NOT_FOUND", "no product pdt_x"))
    outcome = _created(api, tmp_path)
    assert outcome.exit_code == 3
    assert outcome.record.result.reason.startswith(
        "creating a checkout session (POST /checkouts) was refused (status 422: "
    )
    assert "--product-id names a product of this test-mode account" in outcome.record.result.reason
    assert api.creates == 1
    assert failed_checks(outcome) == set()  # a documented refusal is no failure of the server
    assert outcome.record.exchanges.total == 2  # the preflight and the create: nothing else was sent


@pytest.mark.parametrize(
    ("reply", "failed"),
    [
        (Reply.error(500, "INTERNAL", "Something went wrong"), {"response.no_server_error", "session.created"}),
        (Reply.json(200, {"checkout_url": "https://x.invalid"}), {"session.created"}),
        (Reply.json(200, {"session_id": 123}), {"session.created"}),
        (Reply(200, delay_seconds=math.inf), {"transport.reply"}),
    ],
    ids=["server error", "no session_id", "session_id not a string", "no answer"],
)
def test_a_create_that_breaks_the_contract_is_sent_once_and_fails_the_run(
    tmp_path: Path, reply: Reply, failed: set[str]
) -> None:
    # A retry after a timeout or an error could create a second session: there is no idempotency key. The
    # run goes on with the ids it was given.
    api = CountingCreates(reply)
    # The timeout is every request's: only the create that never answers waits for it, and every other reply
    # must beat it on a busy machine (1 s did not, and failed transport.reply there).
    outcome = _created(api, tmp_path, request_timeout=NO_ANSWER_TIMEOUT if math.isinf(reply.delay_seconds) else 60.0)
    assert outcome.exit_code == 1, outcome.record.result.reason
    assert failed_checks(outcome) == failed
    assert api.creates == 1
    assert outcome.record.exchanges.by_status.get("200", 0) > 0  # the given sessions were still judged


def test_the_create_request_is_minimal_and_its_curl_sends_the_same_body() -> None:
    exchange = Exchange(
        Purpose.CREATE, Credential.VALID, "",
        SentRequest("POST", "http://127.0.0.1:9/checkouts", {"Content-Type": "application/json"},
                    body=json.dumps({"product_cart": [{"product_id": PRODUCT, "quantity": 1}]}).encode()),
        ReceivedResponse(500, "", {}, b"", 1.0),
    )  # fmt: skip
    from conformance.redaction import curl_line  # noqa: PLC0415

    line = curl_line(exchange.request)
    assert line.startswith("curl -sS -i -X POST -H 'Content-Type: application/json' --data-binary ")
    assert f'\'{{"product_cart": [{{"product_id": "{PRODUCT}", "quantity": 1}}]}}\'' in line


def test_a_run_that_creates_records_and_replays_without_a_request(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    recorded = conformance(
        "run", "--sandbox", "--create-session", "--record", "--cassette-dir", str(cassettes),
        "--report-dir", str(tmp_path / "recorded"), "--max-examples", "5",
    )  # fmt: skip
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    # Announced before the first request, like the ids given.
    assert f"and one the gate creates first: POST /checkouts with product {PRODUCT}, quantity 1" in recorded.stdout
    assert json.loads((cassettes / "run.json").read_text(encoding="utf-8"))["product_id"] == PRODUCT
    replayed = conformance(
        "run", "--replay", "--cassette-dir", str(cassettes), "--report-dir", str(tmp_path / "replayed")
    )
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    record = json.loads((tmp_path / "replayed" / "summary.json").read_text(encoding="utf-8"))
    assert record["run"]["requests_sent"] == 0
    original = json.loads((tmp_path / "recorded" / "summary.json").read_text(encoding="utf-8"))
    assert record["run"]["checkout_ids"] == original["run"]["checkout_ids"]  # the created id, as recorded
    assert [check["passed"] for check in record["checks"]] == [check["passed"] for check in original["checks"]]


# Where the product comes from, and what is refused before any request, is in test_settings.py (its mutation row).


@pytest.mark.parametrize("allow", [[], ["--allow-live-mode"]])
def test_no_session_is_ever_created_in_live_mode_whatever_the_flags(allow: list[str]) -> None:
    # Refused before any request: nothing is sent to the live host.
    result = conformance(
        "run", "--base-url", "https://live.dodopayments.com", "--create-session", "--product-id", "pdt_x", *allow,
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "the gate never creates one there, whatever the flags" in result.stderr


def test_a_create_finding_is_never_sent_again(tmp_path: Path) -> None:
    outcome = _created(VARIANTS["created-with-201"].api(KEY, seeded_sessions()), tmp_path)
    assert failed_checks(outcome) == {"session.created"}
    group = next(group for group in outcome.record.groups if group.check == "session.created")
    # Its reports offer the curl, which the user sends knowingly, and no replay line.
    assert (group.replay, group.checkout_ids) == ("", ())
    assert f"conformance replay {group.id}" not in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"conformance replay {group.id}" not in (tmp_path / "summary.md").read_text(encoding="utf-8")
    result = conformance(
        "replay", group.id, "--summary", str(tmp_path / "summary.json"), "--base-url", "http://127.0.0.1:9",
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "sending that again would create another one" in result.stderr
