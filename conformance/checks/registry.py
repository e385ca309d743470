"""The registry of checks: outcomes, failures, the context, `@check`, `checks_for`, `judge`, and shared helpers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache, update_wrapper
from typing import TYPE_CHECKING, Any

from conformance.model import Exchange, Purpose, ReceivedResponse

if TYPE_CHECKING:
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
