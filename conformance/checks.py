"""The generic checks, and how an operation's checks are registered. Every check judges one exchange; no I/O.

A check is a function `(ctx, exchange) -> None` registered with `@check`. Its id is its
name with the first underscore read as a dot (`response_schema` is `response.schema`).
It passes by returning, fails by raising `CheckFailure` with what was received and what the
spec expects, and raises `NotApplicable` when the exchange is not one it judges. The operation it
judges is `ctx.operation`; its texts name the operation through placeholders (`Operation.words`), and
the checks of the resource family (`resource_*`) take the operation's noun as their family
(`session.known_found` for the checkout).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache, update_wrapper
from typing import TYPE_CHECKING, Any

from conformance.instants import same_value
from conformance.model import Credential, Exchange, Purpose, ReceivedResponse

if TYPE_CHECKING:
    from jsonschema import ValidationError

    from conformance.operation import Operation
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

    @property
    def operation(self) -> Operation:
        """The operation judged: its checks read it here, never from a constant."""
        return self.contract.operation


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


# The generic checks, by id, as registered: their texts still hold the operation's placeholders.
GENERIC: dict[str, Check] = {}
# Families of generic checks listed after the operation's own checks, which follow the resource family.
LISTED_AFTER_OWN = ("errors.",)
# The family of generic checks about the resource itself; an operation names it with its noun.
RESOURCE_FAMILY = "resource."
# Requests for a session the gate was told exists.
KNOWN_PURPOSES = (Purpose.KNOWN, Purpose.REREAD, Purpose.CONCURRENT, Purpose.FRESH)
# HEAD is not an operation of the spec: its answer is judged only for being HTTP and refusing a keyless request.
HEAD_CHECKS = frozenset({"transport.reply", "auth.missing_key"})
# What a path-syntax id may get besides the documented statuses: 400, and a redirect the gate does not follow.
PATH_SYNTAX_STATUSES = frozenset({400, 301, 302, 303, 307, 308})


def check(
    level: Level,
    requirement: str,
    spec_ref: str,
    *,
    skipped_unless: str | None = None,
    registry: dict[str, Check] | None = None,
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check under the id derived from the function's name: a generic one, or in an operation's own."""
    into = GENERIC if registry is None else registry

    def register(function: CheckFunction) -> CheckFunction:
        check_id = function.__name__.replace("_", ".", 1)
        if check_id in into:
            msg = f"check id {check_id!r} is registered twice"
            raise RuntimeError(msg)
        into[check_id] = Check(check_id, level, requirement, spec_ref, function, skipped_unless)
        return function

    return register


@cache
def checks_for(operation: Operation) -> Mapping[str, Check]:
    """Every check of one operation, by id, in the order the reports list them: the generic ones, then its own."""
    bound = [_bound(item, operation) for item in GENERIC.values()]
    listed = [
        *(item for item in bound if not item.id.startswith(LISTED_AFTER_OWN)),
        *operation.checks,
        *(item for item in bound if item.id.startswith(LISTED_AFTER_OWN)),
    ]
    by_id: dict[str, Check] = {}
    for item in listed:
        if item.id in by_id:
            msg = f"check id {item.id!r} is registered twice for {operation.label}"
            raise RuntimeError(msg)
        by_id[item.id] = item
    return by_id


def _bound(item: Check, operation: Operation) -> Check:
    """A generic check as it reads for one operation: its texts filled in, the resource family named."""
    if not item.id.startswith(RESOURCE_FAMILY):
        return replace(item, requirement=operation.words(item.requirement), spec_ref=operation.words(item.spec_ref))
    check_id = f"{operation.noun}.{item.id.removeprefix(RESOURCE_FAMILY)}"
    return replace(
        item,
        id=check_id,
        requirement=operation.words(item.requirement),
        spec_ref=operation.words(item.spec_ref),
        function=_renamed(item.function, check_id.replace(".", "_", 1)),
    )


def _renamed(function: CheckFunction, name: str) -> CheckFunction:
    """The same check under the name its id is read from, as every check's function is named."""

    def renamed(ctx: Context, exchange: Exchange) -> None:
        function(ctx, exchange)

    update_wrapper(renamed, function)
    renamed.__name__ = renamed.__qualname__ = name
    return renamed


def judge(ctx: Context, exchange: Exchange, checks: list[Check] | None = None) -> list[Verdict]:
    """Run every applicable check on one exchange."""
    verdicts = []
    for item in checks if checks is not None else checks_for(ctx.operation).values():
        if exchange.purpose is Purpose.CREATE and item.id not in ctx.operation.write_checks:
            continue
        if exchange.purpose is Purpose.HEAD and item.id not in HEAD_CHECKS:
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


def response_of(exchange: Exchange) -> ReceivedResponse:
    """The response a check judges; NotApplicable when none came, or only 429s."""
    if exchange.response is None or exchange.rate_limited:
        raise NotApplicable
    return exchange.response


def json_object(ctx: Context, exchange: Exchange) -> dict[str, Any]:
    """The body of a success that is a JSON object; anything else is response.schema's to judge."""
    response = response_of(exchange)
    if response.status != ctx.operation.success_status:
        raise NotApplicable
    ok, value = response.parsed
    if not ok or not isinstance(value, dict):
        raise NotApplicable
    return value


def is_success(status: int) -> bool:
    """A 2xx."""
    return 200 <= status < 300


# --- transport -------------------------------------------------------------------------


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


# --- auth ------------------------------------------------------------------------------


def _rejects(exchange: Exchange, credentials: tuple[Credential, ...]) -> None:
    if exchange.credential not in credentials:
        raise NotApplicable
    response = response_of(exchange)
    if is_success(response.status):
        raise CheckFailure(  # why this request was sent is the finding's own field, kept out of what it saw
            received=f"status {response.status} to a request with {exchange.credential}",
            expected="a rejection (401 or 403): the operation requires the API_KEY bearer scheme, with the key",
        )


@check(
    Level.MUST,
    "A request without a usable bearer key (no Authorization, an empty token, another scheme) never gets a 2xx.",
    "{operation}/security",
)
def auth_missing_key(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    _rejects(exchange, (Credential.MISSING, Credential.MALFORMED))


@check(
    Level.MUST,
    "A request with any key but the valid one (a made-up key, or a near miss of the valid one) never gets a 2xx.",
    "{operation}/security",
)
def auth_wrong_key(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    _rejects(exchange, (Credential.WRONG, Credential.NEAR_MISS))


@check(
    Level.MUST,
    "Without a valid key, an id no {noun} has gets the same status as a known {noun}'s id: the key comes first.",
    "{operation}/security",
)
def auth_checked_first(ctx: Context, exchange: Exchange) -> None:
    known = exchange.previous
    if exchange.credential is Credential.VALID or exchange.purpose is not Purpose.UNKNOWN or known is None:
        raise NotApplicable
    response = response_of(exchange)
    if known.response is None or known.rate_limited:
        raise NotApplicable
    noun = ctx.operation.noun
    if response.status != known.response.status:
        raise CheckFailure(
            received=(
                f"status {known.response.status} for the known {noun} {known.checkout_id!r} but {response.status} "
                f"for {exchange.checkout_id!r}, an id no {noun} has, both with {exchange.credential}"
            ),
            expected="the same rejection for both: an answer that depends on the id tells a caller without the key "
            f"which {noun}s exist",
        )


# --- the resource (named by the operation's noun: session.* for the checkout) ----------------------------------


def _tokens(value: str | None) -> set[str]:
    """The names of a comma-separated field's members, lowercased: `public, max-age=60` gives public, max-age."""
    return {part.split("=", 1)[0].strip().lower() for part in (value or "").split(",")} - {""}


@check(
    Level.MUST,
    "A 2xx answer to a request with the key is not marked for shared caches (public, s-maxage) unless it is "
    "private, no-store or varies on Authorization: else a CDN serves one account's {noun} to whoever asks its URL.",
    "RFC 9111 section 3.5; {operation}/security",
)
def auth_private_cache(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    response = response_of(exchange)
    if exchange.credential is not Credential.VALID or not is_success(response.status):
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
    "RFC 9110 section 11.6.1; {operation}/security",
)
def auth_challenge(ctx: Context, exchange: Exchange) -> None:  # noqa: ARG001 - uniform signature
    response = response_of(exchange)
    if response.status != 401:
        raise NotApplicable
    if not (response.header("www-authenticate") or "").strip():
        raise CheckFailure(
            received="a 401 without a WWW-Authenticate field",
            expected="WWW-Authenticate with at least one challenge, e.g. Bearer (RFC 9110 sections 11.6.1 and 15.5.2)",
        )


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


# --- errors ----------------------------------------------------------------------------


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
