"""The checks of the resource itself, named by the operation's noun: session.* for the checkout."""

from __future__ import annotations

from conformance.checks.registry import (
    KNOWN_PURPOSES,
    CheckFailure,
    Context,
    Level,
    NotApplicable,
    check,
    is_success,
    json_object,
    response_of,
)
from conformance.instants import same_value
from conformance.model import Credential, Exchange, Purpose


@check(
    Level.MUST,
    "Each known {id_noun}, asked for with a valid key, is answered 200.",
    "{operation}/responses/200",
)
def resource_known_found(ctx: Context, exchange: Exchange) -> None:
    if exchange.purpose not in KNOWN_PURPOSES or exchange.credential is not Credential.VALID:
        raise NotApplicable
    response = response_of(exchange)
    if exchange.purpose is Purpose.FRESH and response.status == 404:
        # Read again until it appears: the last read of that wait is a KNOWN one, judged here.
        raise NotApplicable
    expected = ctx.operation.success_status
    if response.status != expected:
        raise CheckFailure(
            received=f"status {response.status} for the known {ctx.operation.noun} {exchange.checkout_id!r}",
            expected=f"{expected} with the {ctx.operation.noun}",
        )


@check(
    Level.MUST,
    "A 200 body describes the {noun} asked for: its id equals the id in the path.",
    "{schema}/properties/id",
)
def resource_id_echoed(ctx: Context, exchange: Exchange) -> None:
    body = json_object(ctx, exchange)
    if "id" not in body:
        raise NotApplicable
    if body["id"] != exchange.checkout_id:
        raise CheckFailure(received=f"id {body['id']!r}", expected=f"id {exchange.checkout_id!r}, the id asked for")


@check(
    Level.MUST,
    "Reading a {noun} twice gives the same id and the same created_at instant (however it is written).",
    "{schema}/properties/created_at",
)
def resource_stable(ctx: Context, exchange: Exchange) -> None:
    if exchange.previous is None:
        raise NotApplicable
    second = json_object(ctx, exchange)
    first = json_object(ctx, exchange.previous)
    changed = [name for name in ("id", "created_at") if not same_value(name, first.get(name), second.get(name))]
    if changed:
        received = ", ".join(f"{name} {first.get(name)!r} then {second.get(name)!r}" for name in changed)
        raise CheckFailure(received=received, expected="the same values on every read (created_at: the same instant)")


@check(
    Level.MUST,
    "An id that no {noun} has, an alias of a known id included, is never answered 2xx (404, or a documented 422).",
    "{operation}/responses/404",
)
def resource_unknown_not_found(ctx: Context, exchange: Exchange) -> None:
    invented = exchange.purpose in (Purpose.UNKNOWN, Purpose.EDGE, Purpose.ALIAS, Purpose.PATH, Purpose.GENERATED)
    if not invented or exchange.checkout_id in ctx.known_ids or exchange.credential is not Credential.VALID:
        raise NotApplicable
    response = response_of(exchange)
    if is_success(response.status):
        # An alias answered with the resource is a failure whatever id the body carries: the lookup was lenient.
        raise CheckFailure(
            received=f"status {response.status} for {exchange.checkout_id!r}, an id no {ctx.operation.noun} has",
            expected=f"404 Not Found (or a documented 422): only a {ctx.operation.noun}'s exact id finds it",
        )
