"""The checks of the answer as HTTP and as the operation's response: transport.reply and response.*."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.checks.registry import (
    PATH_SYNTAX_STATUSES,
    CheckFailure,
    Context,
    Level,
    NotApplicable,
    check,
    response_of,
)
from conformance.model import Credential, Exchange, Purpose

if TYPE_CHECKING:
    from collections.abc import Iterable

    from jsonschema import ValidationError


@check(
    Level.MUST,
    "Every request gets a complete, well-formed HTTP response within the request timeout.",
    "RFC 9110; RFC 9112; {operation}",
)
def transport_reply(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    if exchange.rate_limited:
        raise NotApplicable
    if exchange.transport_error is not None:
        raise CheckFailure(received=exchange.transport_error, expected="a complete HTTP response")
    if exchange.response is not None and exchange.response.framing:
        raise CheckFailure(
            received="a response with " + "; ".join(exchange.response.framing),
            expected="a well-formed HTTP/1.1 message: a field a line, no control characters, one framing of the body",
        )


# --- response --------------------------------------------------------------------------


@check(
    Level.MUST,
    "Every status code is one the operation documents (401/403 to a missing or wrong key excepted).",
    "{operation}/responses",
)
def response_status_documented(ctx: Context, exchange: Exchange) -> None:
    response = response_of(exchange)
    allowed = set(ctx.contract.documented_statuses)
    if exchange.credential is not Credential.VALID:
        # The operation's security requirement implies 401/403 although the spec lists neither.
        allowed |= {401, 403}
    if exchange.purpose is Purpose.PATH:
        # Path syntax is no id: a proxy may refuse it as malformed (RFC 9110 section 15.5.1) or redirect to the
        # normalised path (never followed); neither answers for the operation.
        allowed |= PATH_SYNTAX_STATUSES
    if response.status not in allowed:
        raise CheckFailure(
            received=f"status {response.status}",
            expected=f"one of the documented statuses {sorted(allowed)}",
        )


@check(
    Level.MUST,
    "No request is answered with a 5xx server error, documented or not.",
    "{operation}/responses/500",
)
def response_no_server_error(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    response = response_of(exchange)
    if response.status >= 500:
        raise CheckFailure(
            received=f"status {response.status} with body {response.excerpt()!r}",
            expected="a non-5xx answer: the server must not fail on any input",
        )


@check(
    Level.MUST,
    "A response whose body the spec documents declares one of the documented media types.",
    "{operation}/responses/200/content",
)
def response_content_type(ctx: Context, exchange: Exchange) -> None:
    response = response_of(exchange)
    documented = ctx.contract.body_media_types.get(response.status, ())
    if not documented:
        raise NotApplicable
    if response.content_types is not None and len(response.content_types) > 1:
        # A client joins them into one value, which names no media type: the violation is the repeat.
        raise CheckFailure(
            received=f"{len(response.content_types)} Content-Type fields: "
            + " and ".join(repr(value) for value in response.content_types),
            expected=f"one Content-Type field, of {' or '.join(documented)} (RFC 9110 section 5.3: a field that "
            "is no list is sent once)",
        )
    if response.media_type not in documented:
        raise CheckFailure(
            received=f"Content-Type {response.header('content-type')!r}",
            expected=f"a Content-Type of {' or '.join(documented)}",
        )


@check(
    Level.MUST,
    "Every 200 body is JSON that validates against {schema_name}.",
    "{schema}",
)
def response_schema(ctx: Context, exchange: Exchange) -> None:
    response = response_of(exchange)
    if response.status != ctx.operation.success_status or response.truncated:
        # A body past the transport's cap was not read whole: the ledger reports it as unjudged.
        raise NotApplicable
    ok, value = response.parsed
    if not ok:
        raise CheckFailure(received=f"{value}: {response.excerpt()!r}", expected="a JSON object")
    fast = ctx.contract.fast_validator
    if fast is not None and fast.is_valid(value):
        return
    described = [_describe(error) for error in sorted(ctx.contract.validator.iter_errors(value), key=_error_path)]
    if not described and fast is not None:
        # jsonschema-rs rejects what jsonschema accepts: let it say why.
        described = [f"{_where(error.instance_path)}: {error.message}" for error in fast.iter_errors(value)]
    if described:
        received = "; ".join(described[:5]) + (f"; and {len(described) - 5} more" if len(described) > 5 else "")
        raise CheckFailure(received=received, expected=f"a body valid against {ctx.operation.schema_ref}")


def _error_path(error: ValidationError) -> list[str]:
    return [str(part) for part in error.path]


def _where(path: Iterable[object]) -> str:
    parts = [str(part) for part in path]
    return "/" + "/".join(parts) if parts else "the body"


def _describe(error: ValidationError) -> str:
    # A oneOf/anyOf error only says "not valid under any"; its branches say why.
    why = f" ({' and '.join(branch.message for branch in error.context)})" if error.context else ""
    return f"{_where(error.path)}: {error.message}{why}"
