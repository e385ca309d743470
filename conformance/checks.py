"""The registry of checks. Every check judges one exchange and does no I/O.

A check is a function `(ctx, exchange) -> None` registered with `@check`. Its id is its
name with the first underscore read as a dot (`response_schema` is `response.schema`).
It passes by returning, fails by raising `CheckFailure` with what was received and what the
spec expects, and raises `NotApplicable` when the exchange is not one it judges.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from conformance.model import Credential, Exchange, Purpose, ReceivedResponse
from conformance.spec import create_response_validator

if TYPE_CHECKING:
    from jsonschema import ValidationError

    from conformance.spec import Contract


class Level(StrEnum):
    """How much a check's failure weighs."""

    MUST = "MUST"  # a failure fails the run
    SHOULD = "SHOULD"  # a failure warns, and fails the run only with --strict


class Outcome(StrEnum):
    """What one check concluded about one exchange."""

    PASSED = "passed"
    FAILED = "failed"
    WARNED = "warned"


class CheckFailure(Exception):  # noqa: N818 - it is the outcome, not an error of the check
    """The exchange breaks the check's requirement."""

    def __init__(self, received: str, expected: str) -> None:
        super().__init__(f"Received: {received}\nExpected: {expected}")
        self.received = received
        self.expected = expected


class NotApplicable(Exception):  # noqa: N818 - a signal, not an error
    """The check has nothing to judge in this exchange."""


@dataclass(frozen=True)
class Context:
    """What checks may consult besides the exchange."""

    contract: Contract
    known_ids: frozenset[str]
    # Sessions the gate created this run (--create-session).
    created_ids: frozenset[str] = frozenset()
    # Distinctive values the known sessions' bodies carried (a customer's email, a payment id), each with where
    # it was read: an error body must not carry them (errors.no_disclosure).
    session_values: tuple[tuple[str, str], ...] = ()


CheckFunction = Callable[[Context, Exchange], None]


@dataclass(frozen=True)
class Check:
    """A registered requirement."""

    id: str
    level: Level
    requirement: str
    spec_ref: str
    function: CheckFunction
    # What a run that never gives this check anything to judge did not do, for the reports' skip reason.
    skipped_unless: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check on one exchange."""

    check: Check
    outcome: Outcome
    exchange: Exchange
    failure: CheckFailure | None = None


REGISTRY: dict[str, Check] = {}
# Requests for a session the gate was told exists.
KNOWN_PURPOSES = (Purpose.KNOWN, Purpose.REREAD, Purpose.CONCURRENT, Purpose.FRESH)
# The answer to creating a session is not GET /checkouts/{id}'s: only these judge it.
CREATE_CHECKS = frozenset(
    {"transport.reply", "response.no_server_error", "session.created", "auth.missing_key", "auth.wrong_key"}
)

# HEAD is not an operation of the spec: its answer is judged only for being HTTP and refusing a keyless request.
HEAD_CHECKS = frozenset({"transport.reply", "auth.missing_key"})
_ONLY = {Purpose.CREATE: CREATE_CHECKS, Purpose.HEAD: HEAD_CHECKS}

OPERATION_REF = "#/paths/~1checkouts~1{id}/get"
# What a path-syntax id may get besides the documented statuses: 400, and a redirect the gate does not follow.
PATH_SYNTAX_STATUSES = frozenset({400, 301, 302, 303, 307, 308})
SCHEMA_REF = "#/components/schemas/GetCheckoutSessionsStatus"


def check(
    level: Level, requirement: str, spec_ref: str, *, skipped_unless: str | None = None
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under the id derived from the function's name."""

    def register(function: CheckFunction) -> CheckFunction:
        check_id = function.__name__.replace("_", ".", 1)
        if check_id in REGISTRY:
            msg = f"check id {check_id!r} is registered twice"
            raise RuntimeError(msg)
        REGISTRY[check_id] = Check(check_id, level, requirement, spec_ref, function, skipped_unless)
        return function

    return register


def judge(ctx: Context, exchange: Exchange, checks: list[Check] | None = None) -> list[Verdict]:
    """Run every applicable check on one exchange."""
    verdicts = []
    for item in checks if checks is not None else REGISTRY.values():
        only = _ONLY.get(exchange.purpose)
        if only is not None and item.id not in only:
            continue
        try:
            item.function(ctx, exchange)
        except NotApplicable:
            continue
        except CheckFailure as failure:
            outcome = Outcome.FAILED if item.level is Level.MUST else Outcome.WARNED
            verdicts.append(Verdict(item, outcome, exchange, failure))
        else:
            verdicts.append(Verdict(item, Outcome.PASSED, exchange))
    return verdicts


def _response(exchange: Exchange) -> ReceivedResponse:
    if exchange.response is None or exchange.rate_limited:
        raise NotApplicable
    return exchange.response


def _json_object(exchange: Exchange) -> dict[str, Any]:
    """The body of a 200 that is a JSON object; anything else is response.schema's to judge."""
    response = _response(exchange)
    if response.status != 200:
        raise NotApplicable
    ok, value = response.parsed
    if not ok or not isinstance(value, dict):
        raise NotApplicable
    return value


def _is_success(status: int) -> bool:
    return 200 <= status < 300


def refused(status: int) -> bool:
    """A 4xx a server gives to a request it will not act on (a cart or key it refuses); 429 asks for a wait."""
    return 400 <= status < 500 and status != 429


# --- transport -------------------------------------------------------------------------


@check(
    Level.MUST,
    "Every request gets a complete, well-formed HTTP response within the request timeout.",
    "RFC 9110; RFC 9112; " + OPERATION_REF,
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
    OPERATION_REF + "/responses",
)
def response_status_documented(ctx: Context, exchange: Exchange) -> None:
    response = _response(exchange)
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
    OPERATION_REF + "/responses/500",
)
def response_no_server_error(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    response = _response(exchange)
    if response.status >= 500:
        raise CheckFailure(
            received=f"status {response.status} with body {response.excerpt()!r}",
            expected="a non-5xx answer: the server must not fail on any input",
        )


@check(
    Level.MUST,
    "A response whose body the spec documents declares one of the documented media types.",
    OPERATION_REF + "/responses/200/content",
)
def response_content_type(ctx: Context, exchange: Exchange) -> None:
    response = _response(exchange)
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
    "Every 200 body is JSON that validates against GetCheckoutSessionsStatus.",
    SCHEMA_REF,
)
def response_schema(ctx: Context, exchange: Exchange) -> None:
    response = _response(exchange)
    if response.status != 200 or response.truncated:
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
        raise CheckFailure(received=received, expected=f"a body valid against {SCHEMA_REF}")


def _error_path(error: ValidationError) -> list[str]:
    return [str(part) for part in error.path]


def _where(path: Iterable[object]) -> str:
    parts = [str(part) for part in path]
    return "/" + "/".join(parts) if parts else "the body"


def _describe(error: ValidationError) -> str:
    # A oneOf/anyOf error only says "not valid under any"; its branches say why.
    why = f" ({' and '.join(branch.message for branch in error.context)})" if error.context else ""
    return f"{_where(error.path)}: {error.message}{why}"


# --- auth ------------------------------------------------------------------------------


def _rejects(exchange: Exchange, credentials: tuple[Credential, ...]) -> None:
    if exchange.credential not in credentials:
        raise NotApplicable
    response = _response(exchange)
    if _is_success(response.status):
        raise CheckFailure(  # why this request was sent is the finding's own field, kept out of what it saw
            received=f"status {response.status} to a request with {exchange.credential}",
            expected="a rejection (401 or 403): the operation requires the API_KEY bearer scheme, with the key",
        )


@check(
    Level.MUST,
    "A request without a usable bearer key (no Authorization, an empty token, another scheme) never gets a 2xx.",
    OPERATION_REF + "/security",
)
def auth_missing_key(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    _rejects(exchange, (Credential.MISSING, Credential.MALFORMED))


@check(
    Level.MUST,
    "A request with any key but the valid one (a made-up key, or a near miss of the valid one) never gets a 2xx.",
    OPERATION_REF + "/security",
)
def auth_wrong_key(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    _rejects(exchange, (Credential.WRONG, Credential.NEAR_MISS))


@check(
    Level.MUST,
    "Without a valid key, an id no session has gets the same status as a known session's id: the key comes first.",
    OPERATION_REF + "/security",
)
def auth_checked_first(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    known = exchange.previous
    if exchange.credential is Credential.VALID or exchange.purpose is not Purpose.UNKNOWN or known is None:
        raise NotApplicable
    response = _response(exchange)
    if known.response is None or known.rate_limited:
        raise NotApplicable
    if response.status != known.response.status:
        raise CheckFailure(
            received=(
                f"status {known.response.status} for the known session {known.checkout_id!r} but {response.status} "
                f"for {exchange.checkout_id!r}, an id no session has, both with {exchange.credential}"
            ),
            expected="the same rejection for both: an answer that depends on the id tells a caller without the key "
            "which sessions exist",
        )


# --- sessions --------------------------------------------------------------------------


@check(
    Level.MUST,
    "Each known checkout id, asked for with a valid key, is answered 200.",
    OPERATION_REF + "/responses/200",
)
def session_known_found(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    if exchange.purpose not in KNOWN_PURPOSES or exchange.credential is not Credential.VALID:
        raise NotApplicable
    response = _response(exchange)
    if exchange.purpose is Purpose.FRESH and response.status == 404:
        # Read again until it appears: the last read of that wait is a KNOWN one, judged here.
        raise NotApplicable
    if response.status != 200:
        raise CheckFailure(
            received=f"status {response.status} for the known session {exchange.checkout_id!r}",
            expected="200 with the session",
        )


@check(
    Level.MUST,
    "A 200 body describes the session asked for: its id equals the id in the path.",
    SCHEMA_REF + "/properties/id",
)
def session_id_echoed(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    body = _json_object(exchange)
    if "id" not in body:
        raise NotApplicable
    if body["id"] != exchange.checkout_id:
        raise CheckFailure(received=f"id {body['id']!r}", expected=f"id {exchange.checkout_id!r}, the id asked for")


@check(
    Level.MUST,
    "Reading a session twice gives the same id and the same created_at instant (however it is written).",
    SCHEMA_REF + "/properties/created_at",
)
def session_stable(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    if exchange.previous is None:
        raise NotApplicable
    second = _json_object(exchange)
    first = _json_object(exchange.previous)
    changed = [name for name in ("id", "created_at") if not _same_value(name, first.get(name), second.get(name))]
    if changed:
        received = ", ".join(f"{name} {first.get(name)!r} then {second.get(name)!r}" for name in changed)
        raise CheckFailure(received=received, expected="the same values on every read (created_at: the same instant)")


def _same_value(name: str, first: object, second: object) -> bool:
    if first == second:
        return True
    if name != "created_at" or not isinstance(first, str) or not isinstance(second, str):
        return False
    # RFC 3339 writes one instant many ways (Z or +00:00, other offsets, t and z): compare instants.
    instants = rfc3339_instant(first), rfc3339_instant(second)
    return None not in instants and instants[0] == instants[1]


_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))")


def rfc3339_instant(text: str) -> Decimal | None:
    """Seconds since the epoch, exactly, of an RFC 3339 date-time; None when the text is not one.

    Leap seconds (second 60) count as one more second, which is all a comparison of instants needs.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction = Decimal(match.group(7) or 0)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + fraction
    if match.group(8) is None:
        sign = 1 if match.group(9) == "+" else -1
        seconds -= sign * (int(match.group(10)) * 3600 + int(match.group(11)) * 60)
    return seconds


@check(
    Level.MUST,
    "An id that no session has, an alias of a known id included, is never answered 2xx (404, or a documented 422).",
    OPERATION_REF + "/responses/404",
)
def session_unknown_not_found(ctx: Context, exchange: Exchange) -> None:
    invented = exchange.purpose in (Purpose.UNKNOWN, Purpose.EDGE, Purpose.ALIAS, Purpose.PATH, Purpose.GENERATED)
    if not invented or exchange.checkout_id in ctx.known_ids or exchange.credential is not Credential.VALID:
        raise NotApplicable
    response = _response(exchange)
    if _is_success(response.status):
        # An alias answered with the session is a failure whatever id the body carries: the lookup was lenient.
        raise CheckFailure(
            received=f"status {response.status} for {exchange.checkout_id!r}, an id no session has",
            expected="404 Not Found (or a documented 422): only a session's exact id finds it",
        )


@check(
    Level.MUST,
    "payment_id and payment_status are null together (details stage) or set together.",
    SCHEMA_REF + "/properties/payment_id/description",
)
def session_payment_fields_paired(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    body = _json_object(exchange)
    payment_id, payment_status = body.get("payment_id"), body.get("payment_status")
    if (payment_id is None) != (payment_status is None):
        raise CheckFailure(
            received=f"payment_id {payment_id!r} with payment_status {payment_status!r}",
            expected="both null while the customer enters details, both set once a payment exists",
        )


CREATE_REF = "#/paths/~1checkouts/post"
# Why the checks of a created session judged nothing in a run that did not create one.
CREATED_NONE = "created no session of its own (--create-session)"


@check(
    Level.MUST,
    "A session the gate creates (POST /checkouts, one product) is answered 200 with its session_id, "
    "in the body the spec describes where it has one.",
    "Dodo API: POST /checkouts (" + CREATE_REF + "/responses/200 where the spec has it)",
    skipped_unless=CREATED_NONE,
)
def session_created(ctx: Context, exchange: Exchange) -> None:
    if exchange.purpose is not Purpose.CREATE or exchange.credential is not Credential.VALID:
        # A create without the key is auth's to judge: it must be refused.
        raise NotApplicable
    response = _response(exchange)
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
    validator = create_response_validator(ctx.contract)
    error = next(iter(validator.iter_errors(response.parsed[1])), None) if validator is not None else None
    if error is not None:
        where = "/" + "/".join(str(part) for part in error.absolute_path)
        raise CheckFailure(received=f"{where}: {error.message}", expected="a body valid against the spec's answer")


@check(
    Level.SHOULD,
    "A session the gate creates can be read at once; a short wait for it to appear is allowed, and reported.",
    OPERATION_REF + "/responses/200",
    skipped_unless=CREATED_NONE,
)
def session_created_at_once(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    if exchange.purpose is not Purpose.FRESH:
        raise NotApplicable
    response = _response(exchange)
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
)
def session_created_unpaid(ctx: Context, exchange: Exchange) -> None:
    if exchange.checkout_id not in ctx.created_ids or exchange.credential is not Credential.VALID:
        raise NotApplicable
    body = _json_object(exchange)
    paid = {name: body.get(name) for name in ("payment_id", "payment_status") if body.get(name) is not None}
    if paid:
        raise CheckFailure(
            received=", ".join(f"{name} {value!r}" for name, value in paid.items()) + " on a session nobody paid",
            expected="payment_id and payment_status null until a customer pays",
        )


# --- errors ----------------------------------------------------------------------------
# Fields of a session whose values say nothing of it: its id (an error may echo the id asked for, and an alias
# contains it), its creation time and its payment status (an enum word an error message may use).
UNDISTINCTIVE_FIELDS = frozenset({"id", "created_at", "payment_status"})
# Shorter values are too likely to occur in any text; longer ones (a long note) are no one's identity.
MIN_DISTINCTIVE_CHARS = 6
MAX_DISTINCTIVE_CHARS = 320


def distinctive_values(checkout_id: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """The values of a session's body that name it or its customer, each with where it was read."""
    return [
        (value, f"{name} of the session {checkout_id!r}")
        for name, value in body.items()
        if name not in UNDISTINCTIVE_FIELDS
        and isinstance(value, str)
        and MIN_DISTINCTIVE_CHARS <= len(value) <= MAX_DISTINCTIVE_CHARS
    ]


def _tokens(value: str | None) -> set[str]:
    """The names of a comma-separated field's members, lowercased: `public, max-age=60` gives public, max-age."""
    return {part.split("=", 1)[0].strip().lower() for part in (value or "").split(",")} - {""}


@check(
    Level.MUST,
    "A 2xx answer to a request with the key is not marked for shared caches (public, s-maxage) unless it is "
    "private, no-store or varies on Authorization: else a CDN serves one account's session to whoever asks its URL.",
    "RFC 9111 section 3.5; " + OPERATION_REF + "/security",
)
def auth_private_cache(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    response = _response(exchange)
    if exchange.credential is not Credential.VALID or not _is_success(response.status):
        raise NotApplicable
    cache_control = _tokens(response.header("cache-control"))
    shared = sorted(cache_control & {"public", "s-maxage"})
    if (
        not shared
        or cache_control & {"private", "no-store"}
        or _tokens(response.header("vary")) & {"authorization", "*"}
    ):
        return
    raise CheckFailure(
        received=f"Cache-Control: {response.header('cache-control')} ({' and '.join(shared)}) on a {response.status} "
        "to a request with the key, with no Vary: Authorization",
        expected="an authenticated answer kept out of shared caches (private or no-store), or varying on Authorization",
    )


@check(
    Level.SHOULD,
    "A 401 carries a WWW-Authenticate field with a challenge, which tells a client how to authenticate.",
    "RFC 9110 section 11.6.1; " + OPERATION_REF + "/security",
)
def auth_challenge(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    response = _response(exchange)
    if response.status != 401:
        raise NotApplicable
    if not (response.header("www-authenticate") or "").strip():
        raise CheckFailure(
            received="a 401 without a WWW-Authenticate field",
            expected="WWW-Authenticate with at least one challenge, e.g. Bearer (RFC 9110 sections 11.6.1 and 15.5.2)",
        )


@check(
    Level.MUST,
    "An error response (4xx, 5xx) carries none of a session's data (its customer, its payment id, its other values); "
    "echoing the id asked for is fine.",
    OPERATION_REF + "/security",
)
def errors_no_disclosure(ctx: Context, exchange: Exchange) -> None:
    response = _response(exchange)
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
            + (f" and {len(carried) - 1} more of the sessions' values" if len(carried) > 1 else ""),
            expected="an error body without the data its status refused: a code, a message, the id asked for at most",
        )


@check(
    Level.SHOULD,
    'A 4xx error body is a JSON object with string "code" and "message" (Dodo docs; the spec has no error schema).',
    OPERATION_REF + "/responses/404",
)
def errors_json_body(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    response = _response(exchange)
    if not 400 <= response.status < 500 or response.status == 429:
        raise NotApplicable
    ok, value = response.parsed
    if not ok or not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("code", "message")):
        raise CheckFailure(
            received=f"status {response.status} with body {response.excerpt()!r}",
            expected='a JSON object like {"code": "...", "message": "..."}',
        )
