"""The checkout operation, GET /checkouts/{id}: its descriptor, its own scenario and its deep checks.

The generic scenarios and checks judge it like any get-by-id operation; what is the checkout's alone lives
here: a session the gate creates for itself (--create-session, one POST /checkouts), and the checks of a
session's payment fields and of a session the gate created.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from conformance.checks import (
    Check,
    CheckFailure,
    Context,
    Level,
    NotApplicable,
    check,
    json_object,
    response_of,
)
from conformance.errors import TargetError
from conformance.model import Credential, Exchange, Purpose
from conformance.operation import Operation, Scenario

if TYPE_CHECKING:
    from conformance.gate import Gate

SCHEMA_REF = "#/components/schemas/GetCheckoutSessionsStatus"
CREATE_REF = "#/paths/~1checkouts/post"
CREATE_RESPONSE_POINTER = "#/paths/~1checkouts/post/responses/200/content/application~1json/schema"
# Why the checks of a created session judged nothing in a run that did not create one.
CREATED_NONE = "created no session of its own (--create-session)"
# Seconds between reads of a session the gate created, while it answers 404: five reads over 3.75 s.
READ_AFTER_WRITE_WAITS = (0.25, 0.5, 1.0, 2.0)

OWN_CHECKS: dict[str, Check] = {}


def refused(status: int) -> bool:
    """A 4xx a server gives to a request it will not act on (a cart or key it refuses); 429 asks for a wait."""
    return 400 <= status < 500 and status != 429


@check(
    Level.MUST,
    "payment_id and payment_status are null together (details stage) or set together.",
    SCHEMA_REF + "/properties/payment_id/description",
    registry=OWN_CHECKS,
)
def session_payment_fields_paired(ctx: Context, exchange: Exchange) -> None:
    body = json_object(ctx, exchange)
    payment_id, payment_status = body.get("payment_id"), body.get("payment_status")
    if (payment_id is None) != (payment_status is None):
        raise CheckFailure(
            received=f"payment_id {payment_id!r} with payment_status {payment_status!r}",
            expected="both null while the customer enters details, both set once a payment exists",
        )


@check(
    Level.MUST,
    "A session the gate creates (POST /checkouts, one product) is answered 200 with its session_id, "
    "in the body the spec describes where it has one.",
    "Dodo API: POST /checkouts (" + CREATE_REF + "/responses/200 where the spec has it)",
    skipped_unless=CREATED_NONE,
    registry=OWN_CHECKS,
)
def session_created(ctx: Context, exchange: Exchange) -> None:
    if exchange.purpose is not Purpose.CREATE or exchange.credential is not Credential.VALID:
        # A create without the key is auth's to judge: it must be refused.
        raise NotApplicable
    response = response_of(exchange)
    if refused(response.status):
        # A refused cart or key: the run's input, which the gate cannot tell from the server's fault.
        raise NotApplicable
    if response.status != 200:
        raise CheckFailure(
            received=f"status {response.status} with body {response.excerpt()!r}",
            expected="200 with the created session's session_id",
        )
    if response.text_field("session_id") is None:
        raise CheckFailure(received=f"body {response.excerpt()!r}", expected='a JSON object with a "session_id" string')
    validator = ctx.contract.validator_at(CREATE_RESPONSE_POINTER)
    error = next(iter(validator.iter_errors(response.parsed[1])), None) if validator is not None else None
    if error is not None:
        where = "/" + "/".join(str(part) for part in error.absolute_path)
        raise CheckFailure(received=f"{where}: {error.message}", expected="a body valid against the spec's answer")


@check(
    Level.SHOULD,
    "A session the gate creates can be read at once; a short wait for it to appear is allowed, and reported.",
    "#/paths/~1checkouts~1{id}/get/responses/200",
    skipped_unless=CREATED_NONE,
    registry=OWN_CHECKS,
)
def session_created_at_once(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    if exchange.purpose is not Purpose.FRESH:
        raise NotApplicable
    response = response_of(exchange)
    if response.status == 404:
        raise CheckFailure(
            received=f"status 404 for {exchange.checkout_id!r}, created a moment before ({exchange.why})",
            expected="200: a session is readable as soon as its creation is answered",
        )


@check(
    Level.MUST,
    "A session the gate just created is at the details stage: payment_id and payment_status are null.",
    SCHEMA_REF + "/properties/payment_id/description",
    skipped_unless=CREATED_NONE,
    registry=OWN_CHECKS,
)
def session_created_unpaid(ctx: Context, exchange: Exchange) -> None:
    if exchange.checkout_id not in ctx.created_ids or exchange.credential is not Credential.VALID:
        raise NotApplicable
    body = json_object(ctx, exchange)
    paid = {name: body.get(name) for name in ("payment_id", "payment_status") if body.get(name) is not None}
    if paid:
        raise CheckFailure(
            received=", ".join(f"{name} {value!r}" for name, value in paid.items()) + " on a session nobody paid",
            expected="payment_id and payment_status null until a customer pays",
        )


def _created_id(exchange: Exchange) -> str | None:
    """The session_id a create was answered with, when it was answered 2xx with one (session.created judges a 201)."""
    response = exchange.response
    if response is None or not 200 <= response.status < 300:
        return None
    return response.text_field("session_id")


def created_session(gate: Gate) -> None:
    """Create a session (--create-session), read it until it appears, and judge it from then on as a known one.

    A create refused with a 4xx (an unknown product, a key that may not create) is the run's input, not the
    server's fault: the run cannot judge (TargetError), with the server's answer. A create that breaks the
    contract (a 5xx, no reply, no session_id) is failed by its checks, and the run goes on with the ids given.
    """
    if gate.product_id is None:
        return
    exchange = gate.observe(gate.transport.create_checkout(gate.product_id))
    session_id = _created_id(exchange)
    response = exchange.response
    if session_id is None and response is not None and refused(response.status):
        raise TargetError(
            f"creating a checkout session (POST /checkouts) was refused (status {response.status}: "
            f"{response.excerpt()})",
            f"check that {gate.sources.get('product_id', '--product-id')} names a product of this test-mode "
            "account and that the key may create sessions",
        )
    if session_id is None:
        return
    # The user opted into writes: a create without a key, and with a wrong one, must be refused. Each is sent
    # once, only after the valid key created a session (the cart is good, so only the key can refuse them).
    for credential in (Credential.MISSING, Credential.WRONG):
        gate.observe(gate.transport.create_checkout(gate.product_id, credential))
    gate.checkout_ids = (session_id, *(known for known in gate.checkout_ids if known != session_id))
    gate.context = replace(
        gate.context,
        known_ids=gate.context.known_ids | {session_id},
        created_ids=gate.context.created_ids | {session_id},
    )
    waits = (*READ_AFTER_WRITE_WAITS, None)
    for read, wait in enumerate(waits, start=1):
        # The last read is a known session's: still 404 then, the session never appeared.
        purpose = Purpose.KNOWN if wait is None else Purpose.FRESH
        why = f"read {read} of {len(waits)} of the session created a moment before"
        answer = gate.observe(gate.get(session_id, purpose, why=why))
        if wait is None or answer.response is None or answer.response.status != 404:
            return
        if gate.overlap:  # a replay answers from the recording: no lag to wait out
            gate.sleep(wait)


CHECKOUT = Operation(
    method="GET",
    path="/checkouts/{id}",
    schema="GetCheckoutSessionsStatus",
    summary="Get Checkout Session",
    noun="session",
    id_noun="checkout id",
    id_prefix="cks_",
    private_data="its customer, its payment id, its other values",
    related_id_fields=("payment_id",),
    # Its id (an error may echo the id asked for, and an alias contains it), its creation time and its payment
    # status (an enum word an error message may use) say nothing of a session.
    undistinctive_fields=frozenset({"id", "created_at", "payment_status"}),
    scenarios=(Scenario("created_session", created_session),),
    checks=tuple(OWN_CHECKS.values()),
    # The answer to creating a session is not GET /checkouts/{id}'s: only these judge it.
    write_checks=frozenset(
        {"transport.reply", "response.no_server_error", "session.created", "auth.missing_key", "auth.wrong_key"}
    ),
)
