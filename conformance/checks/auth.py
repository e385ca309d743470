"""The checks of the key: auth.*."""

from __future__ import annotations

from conformance.checks.registry import (
    CheckFailure,
    Context,
    Level,
    NotApplicable,
    check,
    is_success,
    response_of,
)
from conformance.model import Credential, Exchange, Purpose


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
