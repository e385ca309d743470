"""`conformance replay FINDING-ID`: send a finding group's example request again, exactly, and judge it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from conformance.checks import Context, Outcome, judge
from conformance.errors import BadInputError, ExitCode
from conformance.model import Credential, Purpose

if TYPE_CHECKING:
    from conformance.record import FindingGroup, RunRecord
    from conformance.spec import Contract
    from conformance.transport import Transport


@dataclass(frozen=True)
class Replayed:
    """What sending the example again showed."""

    exit_code: ExitCode
    lines: list[str]


def find_group(record: RunRecord, group_id: str) -> FindingGroup:
    """The group with this id; raise BadInputError listing the ids there are."""
    group = next((group for group in record.groups if group.id == group_id), None)
    if group is None:
        known = ", ".join(group.id for group in record.groups[:10]) or "none: the run found nothing"
        raise BadInputError(f"the run has no finding group {group_id!r}", f"give one of its groups ({known})")
    return group


def default_target(record: RunRecord) -> str | None:
    """The run's own target, when it was a server (not the bundled sandbox, not a replay)."""
    target = record.run.target
    return target if target.startswith(("http://", "https://")) and record.run.mode != "replay" else None


def replay(group: FindingGroup, record: RunRecord, transport: Transport, contract: Contract) -> Replayed:
    """Send the group's example request to the transport's target again and judge it with the group's check."""
    example = group.example
    if example.request.method not in ("GET", "HEAD"):
        # A create sent again would make another session; a read of the session it made is a GET of its own.
        raise BadInputError(
            f"{group.id} is about creating a session, and sending that again would create another one",
            "run 'conformance run --create-session' again to judge a new one",
        )
    parts = urlsplit(example.request.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    credential = Credential(example.credential)
    probe = None
    if credential in (Credential.NEAR_MISS, Credential.MALFORMED):
        probe = next((item for item in transport.key_probes() if item.why == example.why), None)
        if probe is None:
            raise BadInputError(
                f"the key probe of {group.id} ({example.why}) is not one this gate sends", "rerun the whole gate"
            )
    purpose = Purpose(example.purpose)
    # The id exactly as sent: the record's `checkout_id` is for reading, its control characters shown escaped.
    checkout_id = unquote(example.id_sent) if example.id_sent else example.checkout_id
    known = set(record.run.checkout_ids) | ({checkout_id} if example.checkout_id in record.run.checkout_ids else set())
    previous = None
    if purpose is Purpose.REREAD:
        # Stability compares two reads: the first is sent again too.
        previous = transport.get_path(path, checkout_id, Purpose.KNOWN, Credential.VALID)
    if example.request.method == "HEAD":
        # The keyless HEAD is sent as HEAD again: a GET would ask the server something else.
        exchange = transport.head_path(path, checkout_id, example.why or "")
    else:
        exchange = transport.get_path(path, checkout_id, purpose, credential, previous=previous, probe=probe)
    # A created session's id is among the run's ids; the checks that judge only such sessions need to know it.
    created = frozenset({checkout_id}) if group.check.startswith("session.created") else frozenset()
    context = Context(contract=contract, known_ids=frozenset(known), created_ids=created)
    verdict = next((item for item in judge(context, exchange, [contract.checks[group.check]])), None)
    status = exchange.response.status if exchange.response is not None else exchange.transport_error
    lines = [f"sent: {exchange.request.method} {exchange.request.url} ({exchange.purpose}, {exchange.credential})"]
    lines.append(f"answer: {status}")
    if purpose is Purpose.CONCURRENT:
        lines.append("note: this was found while other reads overlapped it; one request alone may not show it")
    if verdict is None and exchange.response is None:
        sent = urlsplit(exchange.request.url)
        origin = f"{sent.scheme}://{sent.netloc}"
        lines.append(f"{group.id}: the target did not answer, so nothing was judged; check that {origin} is running")
        return Replayed(ExitCode.CANNOT_JUDGE, lines)
    if verdict is None:
        lines.append(f"{group.id}: {group.check} does not judge this answer alone; compare it with the finding by hand")
        return Replayed(ExitCode.CANNOT_JUDGE, lines)
    if verdict.outcome is Outcome.PASSED:
        lines.append(f"{group.id}: {group.check} passes now")
        return Replayed(ExitCode.CONFORMS, lines)
    assert verdict.failure is not None
    lines += [
        f"{group.id}: {group.check} still {verdict.outcome}",
        f"Received: {verdict.failure.received}",
        f"Expected: {verdict.failure.expected}",
    ]
    return Replayed(ExitCode.NON_CONFORMANT, lines)
