"""The arithmetic and the boundaries inside the checks: instants, comparisons of two reads, what a failure says."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import pytest
from support import make_exchange

from conformance.checks import CheckFailure, Context, NotApplicable, judge
from conformance.instants import rfc3339_instant
from conformance.instants import same_value as _same_value
from conformance.operations import REGISTRY
from conformance.spec import Contract

NEW_YEAR_2026 = 1767225600  # 2026-01-01T00:00:00Z, seconds since the epoch


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-01-01T00:00:00Z", NEW_YEAR_2026),
        ("2026-01-01t00:00:00z", NEW_YEAR_2026),
        ("2026-01-01T00:00:00+00:00", NEW_YEAR_2026),
        ("2026-01-01T05:30:00+05:30", NEW_YEAR_2026),
        ("2025-12-31T19:00:00-05:00", NEW_YEAR_2026),
        ("2025-12-31T23:15:00-00:45", NEW_YEAR_2026),  # an offset's minutes count too
        ("2026-01-01T02:07:00+02:07", NEW_YEAR_2026),
        ("2026-01-01T00:00:00.25Z", Decimal(NEW_YEAR_2026) + Decimal("0.25")),
        ("2026-01-01T00:00:07.000001+00:00", Decimal(NEW_YEAR_2026) + Decimal("7.000001")),
        ("2026-03-15T12:34:56Z", 1773578096),
        ("2016-12-31T23:59:60Z", 1483228800),  # a leap second reads as the next second
    ],
)
def test_an_rfc3339_date_time_is_read_as_its_exact_instant(text: str, seconds: int | Decimal) -> None:
    assert rfc3339_instant(text) == Decimal(seconds)


@pytest.mark.parametrize("text", ["2026-01-01", "2026-01-01T00:00:00", "2026-01-01 00:00:00Z", "soon", ""])
def test_what_is_not_an_rfc3339_date_time_has_no_instant(text: str) -> None:
    assert rfc3339_instant(text) is None


@pytest.mark.parametrize(
    ("name", "first", "second", "same"),
    [
        ("created_at", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00", True),
        ("created_at", "2026-01-01T00:00:00Z", "2025-12-31T19:00:00-05:00", True),
        ("created_at", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", False),
        ("created_at", "2026-01-01T00:00:01Z", "2026-01-01T00:00:00Z", False),
        ("created_at", "garbage", "garbage", True),
        ("created_at", "garbage", "garbage!", False),
        ("created_at", "2026-01-01T00:00:00Z", NEW_YEAR_2026, False),
        ("created_at", NEW_YEAR_2026, "2026-01-01T00:00:00Z", False),
        # Only created_at is an instant: any other field must be written the same way.
        ("id", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00+00:00", False),
        ("id", "b", "a", False),
        ("id", "a", "b", False),
        ("id", "a", "a", True),
    ],
)
def test_two_reads_agree_on_a_field_only_when_it_is_the_same(name: str, first: Any, second: Any, same: bool) -> None:
    assert _same_value(name, first, second) is same


def _judged(check_id: str, context: Context, **exchange: Any) -> CheckFailure | None:
    """The failure, None for a pass; NotApplicable propagates."""
    try:
        REGISTRY[check_id].function(context, make_exchange(**exchange))
    except CheckFailure as failure:
        return failure
    return None


ALL_WRONG = {"id": 1, "created_at": 2, "customer_email": 3, "customer_name": 4, "payment_id": 5, "payment_status": 6}


def test_a_body_with_more_than_five_errors_names_five_and_counts_the_rest(context: Context) -> None:
    failure = _judged("response.schema", context, body=ALL_WRONG)
    assert failure is not None
    assert len(failure.received.split("; ")) == 6
    assert failure.received.endswith("; and 1 more")


def test_a_body_with_five_errors_names_all_five(context: Context) -> None:
    body = {**ALL_WRONG, "payment_status": None}
    failure = _judged("response.schema", context, body=body)
    assert failure is not None
    assert len(failure.received.split("; ")) == 5
    assert "more" not in failure.received


def test_a_value_valid_under_no_branch_says_why_each_branch_refused_it(context: Context) -> None:
    body = {"id": "cks_known0000000000000000", "created_at": "2026-01-01T00:00:00Z", "payment_status": "paid"}
    failure = _judged("response.schema", context, body={**body, "payment_id": "pay_x"})
    assert failure is not None
    assert failure.received.startswith("/payment_status: 'paid' is not valid under any of the given schemas (")
    assert "'paid' is not of type 'null' and 'paid' is not one of [" in failure.received


@dataclass
class _RsError:
    instance_path: list[str]
    message: str


class _StricterValidator:
    """A jsonschema-rs stand-in that rejects what jsonschema accepts."""

    def is_valid(self, value: object) -> bool:
        del value
        return False

    def iter_errors(self, value: object) -> list[_RsError]:
        del value
        return [_RsError(["created_at"], "'2016-12-31T23:59:60Z' is not a 'date-time'")]


def test_where_jsonschema_rs_alone_rejects_a_body_its_reason_is_given(contract: Contract) -> None:
    context = Context(contract=replace(contract, fast_validator=_StricterValidator()), known_ids=frozenset())  # type: ignore[arg-type]
    failure = _judged("response.schema", context, body={"id": "cks_x", "created_at": "2026-01-01T00:00:00Z"})
    assert failure is not None
    assert failure.received == "/created_at: '2016-12-31T23:59:60Z' is not a 'date-time'"


def test_where_both_validators_reject_a_body_jsonschema_explains_it(context: Context) -> None:
    failure = _judged("response.schema", context, body={"id": 7, "created_at": "2026-01-01T00:00:00Z"})
    assert failure is not None
    assert failure.received == "/id: 7 is not of type 'string'"


@pytest.mark.parametrize(
    ("check_id", "exchange", "outcome"),
    [
        # The key is judged by the auth checks; an id's lookup only with the valid key.
        ("session.unknown_not_found", {"status": 200, "body": {}, "purpose": "invented id", "checkout_id": "cks_x",
                                       "credential": "wrong key"}, "not applicable"),
        ("session.unknown_not_found", {"status": 199, "purpose": "invented id", "checkout_id": "cks_x"}, "passed"),
        ("session.known_found", {"status": 401, "credential": "wrong key"}, "not applicable"),
        ("session.known_found", {"status": 401, "credential": "near miss of the key"}, "not applicable"),
        ("session.known_found", {"status": 199}, "failed"),
        ("session.id_echoed", {"status": 199, "body": {"id": "cks_other"}}, "not applicable"),
        ("session.id_echoed", {"status": 201, "body": {"id": "cks_other"}}, "not applicable"),
        ("session.id_echoed", {"status": 200, "body": ["id"]}, "not applicable"),
        # Only an invented id asked for after a known one, both without the valid key, is compared.
        ("auth.checked_first", {"status": 404, "purpose": "known session", "credential": "no key",
                                "previous": {"status": 401, "credential": "no key"}}, "not applicable"),
        ("auth.checked_first", {"status": 404, "purpose": "edge-case id", "checkout_id": "cks_x",
                                "credential": "no key", "previous": {"status": 401, "credential": "no key"}},
         "not applicable"),
        ("auth.checked_first", {"status": 401, "purpose": "invented id", "checkout_id": "cks_x",
                                "credential": "no key", "previous": {"status": 429, "credential": "no key",
                                                                     "rate_limited": True}},
         "not applicable"),
        ("errors.json_body", {"status": 400, "body_text": "bad"}, "failed"),
        ("errors.json_body", {"status": 499, "body_text": "bad"}, "failed"),
        ("errors.json_body", {"status": 430, "body_text": "bad"}, "failed"),
        ("errors.json_body", {"status": 404, "body": ["code", "message"]}, "failed"),
        ("errors.json_body", {"status": 399, "body_text": "bad"}, "not applicable"),
        ("errors.json_body", {"status": 500, "body_text": "bad"}, "not applicable"),
        ("errors.json_body", {"status": 429, "body_text": "bad"}, "not applicable"),
    ],
)  # fmt: skip
def test_each_check_judges_only_its_own_exchanges_up_to_its_boundaries(
    context: Context, check_id: str, exchange: dict[str, Any], outcome: str
) -> None:
    try:
        failure = _judged(check_id, context, **exchange)
    except NotApplicable:
        judged = "not applicable"
    else:
        judged = "failed" if failure is not None else "passed"
    assert judged == outcome


def test_a_head_that_breaks_http_syntax_is_named_in_the_failure(context: Context) -> None:
    exchange = make_exchange(body={"id": "cks_known0000000000000000"})
    assert exchange.response is not None
    broken = replace(exchange, response=replace(exchange.response, framing=("obs-fold in 'X'", "a NUL in 'Y'")))
    with pytest.raises(CheckFailure) as failed:
        REGISTRY["transport.reply"].function(context, broken)
    assert failed.value.received == "a response with obs-fold in 'X'; a NUL in 'Y'"
    REGISTRY["transport.reply"].function(context, exchange)  # the same head, well formed: passes


def test_a_create_is_judged_by_its_own_checks_and_every_read_by_all(context: Context) -> None:
    create = make_exchange(body={"session_id": "cks_new"}, purpose="session created by the gate", checkout_id="")
    assert {verdict.check.id for verdict in judge(context, create)} == {
        "transport.reply", "response.no_server_error", "session.created",
    }  # fmt: skip
    fresh = make_exchange(
        body={"id": "cks_CreatedByTheGate0000001", "created_at": "2026-01-01T00:00:00Z"},
        purpose="session just created", checkout_id="cks_CreatedByTheGate0000001",
    )  # fmt: skip
    judged = {verdict.check.id for verdict in judge(context, fresh)}
    assert {"response.schema", "session.id_echoed", "session.created_at_once", "session.created_unpaid"} <= judged


@dataclass
class _Error:
    path: list[str]
    message: str
    context: tuple[()] = ()


class _ManyErrors:
    """A jsonschema stand-in that finds eleven things wrong."""

    def iter_errors(self, value: object) -> list[_Error]:
        del value
        return [_Error([f"field{number:02d}"], "is wrong") for number in range(11)]


def test_past_five_errors_the_failure_counts_exactly_how_many_more(contract: Contract) -> None:
    stand_in = replace(contract, validator=_ManyErrors(), fast_validator=_StricterValidator())  # type: ignore[arg-type]
    failure = _judged("response.schema", Context(contract=stand_in, known_ids=frozenset()), body={"id": "x"})
    assert failure is not None
    assert failure.received.endswith("/field04: is wrong; and 6 more")


def test_where_the_spec_describes_the_create_its_answer_is_validated_against_it(
    tmp_path: Any, contract: Contract
) -> None:
    from conformance.spec import load_contract  # noqa: PLC0415

    document = dict(contract.document)
    document["paths"] = {
        **document["paths"],
        "/checkouts": {"post": {"responses": {"200": {"content": {"application/json": {"schema": {
            "type": "object", "required": ["session_id"],
            "properties": {"session_id": {"type": "string"}, "checkout_url": {"type": ["string", "null"]}},
        }}}}}}},
    }  # fmt: skip
    spec = tmp_path / "with-create.json"
    spec.write_text(json.dumps(document), encoding="utf-8")
    context = Context(contract=load_contract(spec), known_ids=frozenset())
    create = {"purpose": "session created by the gate", "checkout_id": ""}
    failure = _judged("session.created", context, body={"session_id": "cks_new", "checkout_url": 5}, **create)
    assert failure is not None
    assert failure.received == "/checkout_url: 5 is not of type 'string', 'null'"
    assert _judged("session.created", context, body={"session_id": "cks_new", "checkout_url": None}, **create) is None


@pytest.mark.parametrize(
    ("status", "judged"),
    [
        # Any 4xx but 429 refuses the gate's cart or key: the run's input, not the server's fault.
        (400, None), (404, None), (428, None), (430, None), (451, None), (499, None),
        # 429 asked for a wait that the retries did not get; 3xx and 5xx are no answer to a create.
        (429, "failed"), (399, "failed"), (500, "failed"), (503, "failed"), (201, "failed"),
        (200, "passed"),
    ],
)  # fmt: skip
def test_a_create_refused_with_any_4xx_but_429_is_not_judged_and_every_other_status_but_200_fails(
    context: Context, status: int, judged: str | None
) -> None:
    create = {"purpose": "session created by the gate", "checkout_id": "", "status": status}
    try:
        failure = _judged("session.created", context, body={"session_id": "cks_new"}, **create)
    except NotApplicable:
        outcome = None
    else:
        outcome = "failed" if failure is not None else "passed"
    assert outcome == judged
