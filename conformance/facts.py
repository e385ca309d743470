"""The run's facts, typed, and the record built from them and the ledger: what every report renders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from conformance import __version__
from conformance.errors import STOPPED
from conformance.model import Purpose
from conformance.record import (
    CheckRecord,
    ExchangeCounts,
    Finding,
    FindingGroup,
    OracleCounts,
    RequestRecord,
    Result,
    RunFacts,
    RunRecord,
    Tool,
    neutralised,
)
from conformance.redaction import curl_line

if TYPE_CHECKING:
    from conformance.checks import Verdict
    from conformance.ledger import Ledger


@dataclass(frozen=True)
class Facts:
    """What the engine knows of a run beside the ledger: what was judged, with what, and how."""

    target: str
    # The kind of target: live, record or replay (target.py).
    mode: str
    # How the run was started, the key redacted.
    command: str
    # The bundled sandbox: gone once the run ends.
    sandbox: bool
    spec: str
    seed: int
    max_examples: int
    request_timeout_seconds: float
    # The known sessions judged: those given, and the one the gate created.
    checkout_ids: tuple[str, ...]
    strict: bool
    # Over the network, each retry of a 429 included; 0 when nothing went over the network (a replay).
    requests_sent: int
    summary_path: str
    # Where the judged exchanges came from, as a skipped check's reason names it ("this run", "the recording").
    exchanges_from: str = "this run"
    # Whether a finding's request can be sent to the run's own target again once the run is over: a server
    # stays; the bundled sandbox is gone and a recording answers nothing new.
    target_stays: bool = True


def build_record(ledger: Ledger, facts: Facts, result: Result) -> RunRecord:
    """The run as one record, from the ledger and the facts the engine knows."""
    finished = ledger.finished or ledger.started
    # Where the target is gone, the replay line asks for a server to send the request to.
    ask_where = "" if facts.target_stays else " --base-url URL"
    # Stopped short: interrupted, or ended by what made it unjudgeable. A run that went to its end without
    # a known session (exit 3 too) did not stop; its checks simply had nothing to judge.
    stopped = result.exit_code in STOPPED or ledger.cannot_judge is not None
    strict = facts.strict
    # Bodies, headers, reason phrases and ids the server made up are in it: inert from here on.
    record = RunRecord(
        tool=Tool(name="dodo-conformance", version=__version__),
        run=RunFacts(
            started=_iso(ledger.started),
            finished=_iso(finished),
            duration_seconds=round(finished - ledger.started, 3),
            first_failure_after_seconds=(
                round(ledger.first_failure_at - ledger.started, 3) if ledger.first_failure_at is not None else None
            ),
            target=facts.target,
            sandbox=facts.sandbox,
            spec=facts.spec,
            spec_version=ledger.contract.version,
            seed=facts.seed,
            max_examples=facts.max_examples,
            strict=strict,
            request_timeout_seconds=facts.request_timeout_seconds,
            checkout_ids=facts.checkout_ids,
            requests_sent=facts.requests_sent,
            mode=facts.mode,
            command=facts.command,
        ),
        result=result,
        exchanges=ExchangeCounts(
            total=ledger.exchanges,
            by_status={str(code): count for code, count in sorted(ledger.statuses.items())},
            unjudged=len(ledger.unjudged),
        ),
        checks=tuple(
            CheckRecord(
                id=tally.check.id,
                level=str(tally.check.level),
                requirement=tally.check.requirement,
                spec_ref=tally.check.spec_ref,
                status=str(tally.status(strict)),
                skip_reason=tally.skip_reason(strict, source=facts.exchanges_from, stopped=stopped),
                passed=tally.passed,
                failed=tally.failed,
                warned=tally.warned,
                findings=tuple(finding(verdict) for verdict in tally.findings),
                findings_dropped=tally.failed + tally.warned - len(tally.findings),
            )
            for tally in ledger.tallies.values()
        ),
        groups=tuple(
            FindingGroup(
                id=group.id,
                check=group.first.check.id,
                level=str(group.first.check.level),
                outcome=str(group.first.outcome),
                status=group.first.exchange.response.status if group.first.exchange.response is not None else None,
                summary=_said(group.first),
                count=group.count,
                example=finding(group.first),
                checkout_ids=tuple(group.checkout_ids),
                ids_dropped=group.ids_dropped,
                # A create is never sent again (it would make another session): its curl is the way to ask.
                replay=""
                if group.first.exchange.purpose is Purpose.CREATE
                else f"conformance replay {group.id} --summary {facts.summary_path}{ask_where}",
            )
            for group in sorted(ledger.groups.values(), key=_group_order)
        ),
        spec_gaps=tuple(ledger.spec_gaps.values()),
        oracle_disagreements=tuple(
            text if count == 1 else f"{text} ({count} exchanges)" for text, count in ledger.oracle_disagreements.items()
        ),
        oracle=OracleCounts(judged=ledger.oracle_judged, agreed=ledger.oracle_agreed) if ledger.oracle_used else None,
    )
    return neutralised(record)


def _group_order(group: object) -> tuple[int, int]:
    # Failures before warnings; within each, the most frequent cause first.
    first = getattr(group, "first")  # noqa: B009 - a ledger FindingGroup
    return (0 if str(first.outcome) == "failed" else 1, -getattr(group, "count"))  # noqa: B009


def _said(verdict: Verdict) -> str:
    """The group's finding in words: what its first example received, as the check said it."""
    assert verdict.failure is not None
    return verdict.failure.received


def finding(verdict: Verdict) -> Finding:
    """One judged exchange that broke a requirement, as the record keeps it."""
    exchange = verdict.exchange
    response = exchange.response
    assert verdict.failure is not None
    location = response.header("location") if response is not None and 300 <= response.status < 400 else None
    return Finding(
        outcome=str(verdict.outcome),
        received=verdict.failure.received,
        expected=verdict.failure.expected,
        purpose=str(exchange.purpose),
        credential=str(exchange.credential),
        checkout_id=exchange.checkout_id,
        request=RequestRecord(
            method=exchange.request.method, url=exchange.request.url, headers=dict(exchange.request.headers)
        ),
        status=response.status if response is not None else None,
        content_type=response.header("content-type") if response is not None else None,
        body_excerpt=response.excerpt() if response is not None else None,
        transport_error=exchange.transport_error,
        curl=curl_line(exchange.request),
        id_sent=quote(exchange.checkout_id, safe=""),
        why=exchange.why,
        location=location,
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")
