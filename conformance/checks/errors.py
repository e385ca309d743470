"""The checks of error responses: errors.*."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.checks.registry import (
    CheckFailure,
    Context,
    Level,
    NotApplicable,
    check,
    response_of,
)

if TYPE_CHECKING:
    from conformance.model import Exchange


@check(
    Level.MUST,
    "An error response (4xx, 5xx) carries none of a {noun}'s data ({private_data}); echoing the id asked for is fine.",
    "{operation}/security",
)
def errors_no_disclosure(ctx: Context, exchange: Exchange) -> None:
    response = response_of(exchange)
    if response.status < 400 or not ctx.session_values:
        raise NotApplicable
    text = response.body.decode("utf-8", errors="replace")
    carried = [
        (value, where)
        for value, where in ctx.session_values
        # A value inside the id asked for is the request echoed, not data disclosed.
        if value in text and value not in exchange.checkout_id and value not in exchange.request.url
    ]
    if carried:
        value, where = carried[0]
        raise CheckFailure(
            received=f"status {response.status} to a request with {exchange.credential} for "
            f"{exchange.checkout_id!r}, whose body carries {value!r} (the {where})"
            + (f" and {len(carried) - 1} more of the {ctx.operation.noun}s' values" if len(carried) > 1 else ""),
            expected="an error body without the data its status refused: a code, a message, the id asked for at most",
        )


@check(
    Level.SHOULD,
    'A 4xx error body is a JSON object with string "code" and "message" (Dodo docs; the spec has no error schema).',
    "{operation}/responses/404",
)
def errors_json_body(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    response = response_of(exchange)
    if not 400 <= response.status < 500 or response.status == 429:
        raise NotApplicable
    ok, value = response.parsed
    if not ok or not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("code", "message")):
        raise CheckFailure(
            received=f"status {response.status} with body {response.excerpt()!r}",
            expected='a JSON object like {"code": "...", "message": "..."}',
        )
