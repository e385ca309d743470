"""The one stream of events of a run: every verdict lands here, and every report reads from here."""

from __future__ import annotations

import hashlib
import re
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from conformance.checks import KNOWN_PURPOSES, Check, Level, Outcome, Verdict
from conformance.errors import STOPPED_BY, ExitCode, worse
from conformance.model import Credential, Purpose

if TYPE_CHECKING:
    from conformance.model import Exchange, ReceivedResponse
    from conformance.spec import Contract

# Findings kept per check, and ids kept per group, for the reports; every finding is still counted.
FAILURES_KEPT_PER_CHECK = 50
IDS_KEPT_PER_GROUP = 50


@dataclass
class FindingGroup:
    """Findings of one check that share a root cause: the same outcome, status and shape of what came back."""

    signature: str
    first: Verdict
    count: int = 0
    checkout_ids: list[str] = field(default_factory=list)
    ids_dropped: int = 0

    @property
    def id(self) -> str:
        """A short, stable id: the same fault gives the same id on every run."""
        return "F" + hashlib.sha1(self.signature.encode(), usedforsecurity=False).hexdigest()[:7]


def signature(verdict: Verdict) -> str:
    """What a finding is, with what varies between exchanges (ids and other quoted values, numbers) left out.

    Checks quote every id they mention, so the quoted-value rule takes ids out too; replacing the raw id
    would also rewrite unrelated text that happens to contain it (id '0' in 'status 404').
    """
    exchange = verdict.exchange
    assert verdict.failure is not None
    shape = _NUMBER.sub("N", _QUOTED.sub("'…'", verdict.failure.received))
    status = exchange.response.status if exchange.response is not None else "no response"
    return f"{verdict.check.id}|{verdict.outcome}|{status}|{exchange.credential}|{shape}"


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"(?<![A-Za-z_])\d+(?:\.\d+)?")


class RunStatus(StrEnum):
    """How a run ended, one per exit code."""

    CONFORMS = "conforms"
    NON_CONFORMANT = "non-conformant"
    CANNOT_JUDGE = "could not judge"


EXIT_CODES = {
    RunStatus.CONFORMS: ExitCode.CONFORMS,
    RunStatus.NON_CONFORMANT: ExitCode.NON_CONFORMANT,
    RunStatus.CANNOT_JUDGE: ExitCode.CANNOT_JUDGE,
}


class RunVerdict(NamedTuple):
    """How a run ended: its status, why in one line, and the exit code that says it."""

    status: RunStatus
    reason: str
    exit_code: ExitCode


class CheckStatus(StrEnum):
    """One check's status over the whole run."""

    PASSED = "passed"
    FAILED = "failed"
    WARNED = "warned"
    SKIPPED = "skipped"


@dataclass
class CheckTally:
    """What one check concluded over the whole run."""

    check: Check
    excluded: bool = False
    passed: int = 0
    failed: int = 0
    warned: int = 0
    findings: list[Verdict] = field(default_factory=list)

    @property
    def applied(self) -> int:
        """How many exchanges the check judged."""
        return self.passed + self.failed + self.warned

    def skip_reason(self, strict: bool, *, source: str = "this run", stopped: bool = False) -> str | None:
        """Why the check judged nothing; None when it did. `source` names where the exchanges came from."""
        if self.excluded:
            return "excluded with --exclude-check"
        if self.status(strict) is not CheckStatus.SKIPPED:
            return None
        if stopped:
            return "the run stopped before this check judged anything"
        if self.check.skipped_unless is not None:
            return f"{source} {self.check.skipped_unless}"
        return f"no exchange in {source} was one it judges"

    def status(self, strict: bool) -> CheckStatus:
        """The check's overall status; SHOULD warnings fail only when strict."""
        if self.excluded:
            return CheckStatus.SKIPPED
        if self.failed or (strict and self.warned):
            return CheckStatus.FAILED
        if self.warned:
            return CheckStatus.WARNED
        if not self.applied:
            return CheckStatus.SKIPPED
        return CheckStatus.PASSED


@dataclass
class Ledger:
    """Collects exchanges and verdicts as they happen."""

    contract: Contract
    strict: bool = False
    excluded: frozenset[str] = frozenset()
    started: float = field(default_factory=time.time)
    finished: float | None = None
    tallies: dict[str, CheckTally] = field(default_factory=dict)
    exchanges: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    # Statuses of the requests that carried the valid key, and of those that asked for a known session.
    valid_key_statuses: Counter[int] = field(default_factory=Counter)
    known_statuses: Counter[int] = field(default_factory=Counter)
    # Sessions the gate created (a create answered 2xx with a session_id): a run that made one judges its reads.
    created: int = 0
    # Statuses of the requests without a usable key: a path that exists refuses them, one that does not says 404.
    keyless_statuses: Counter[int] = field(default_factory=Counter)
    spec_gaps: dict[str, str] = field(default_factory=dict)
    # Exchanges nothing could be concluded from, with why: still 429 after retries, a body too large.
    unjudged: list[tuple[Exchange, str]] = field(default_factory=list)
    # Exchanges an independent oracle judged otherwise than our check for the same requirement.
    # Each distinct disagreement once, with how many exchanges showed it, in the order first seen.
    oracle_disagreements: Counter[str] = field(default_factory=Counter)
    # Whether the oracle ran (--oracle), how many exchanges it judged, and on how many it agreed with every check.
    oracle_used: bool = False
    oracle_judged: int = 0
    oracle_agreed: int = 0
    cannot_judge: str | None = None
    # When the first MUST failure was recorded: how fast the suite finds a fault.
    first_failure_at: float | None = None
    # Findings grouped by root cause, in the order each cause was first seen.
    groups: dict[str, FindingGroup] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tallies = {
            check_id: CheckTally(check, excluded=check_id in self.excluded)
            for check_id, check in self.contract.checks.items()
        }

    def record(self, exchange: Exchange, verdicts: list[Verdict]) -> None:
        """Take one judged exchange."""
        self.exchanges += 1
        if exchange.response is not None:
            self.statuses[exchange.response.status] += 1
            self._count(exchange, exchange.response)
        if exchange.rate_limited:
            self.unjudged.append((exchange, "kept answering 429 past the retry budget"))
        elif exchange.response is not None and exchange.response.truncated:
            self.unjudged.append(
                (exchange, f"answered a body larger than the {len(exchange.response.body)} bytes the gate reads")
            )
        self._note_spec_gap(exchange)
        for verdict in verdicts:
            tally = self.tallies[verdict.check.id]
            if verdict.outcome is Outcome.PASSED:
                tally.passed += 1
                continue
            if verdict.outcome is Outcome.FAILED:
                tally.failed += 1
                if self.first_failure_at is None:
                    self.first_failure_at = time.time()
            else:
                tally.warned += 1
            if len(tally.findings) < FAILURES_KEPT_PER_CHECK:
                tally.findings.append(verdict)
            self._group(verdict)

    def _count(self, exchange: Exchange, response: ReceivedResponse) -> None:
        if exchange.credential is not Credential.VALID:
            self.keyless_statuses[response.status] += 1
            return
        self.valid_key_statuses[response.status] += 1
        if exchange.purpose in KNOWN_PURPOSES:
            self.known_statuses[response.status] += 1
        if exchange.purpose is Purpose.CREATE and 200 <= response.status < 300:
            self.created += response.text_field("session_id") is not None

    def _group(self, verdict: Verdict) -> None:
        key = signature(verdict)
        group = self.groups.setdefault(key, FindingGroup(key, verdict))
        group.count += 1
        checkout_id = verdict.exchange.checkout_id
        if not checkout_id or checkout_id in group.checkout_ids:  # a create asks for no id
            return
        if len(group.checkout_ids) < IDS_KEPT_PER_GROUP:
            group.checkout_ids.append(checkout_id)
        else:
            group.ids_dropped += 1

    def _note_spec_gap(self, exchange: Exchange) -> None:
        response = exchange.response
        if response is None or exchange.credential is Credential.VALID:
            return
        status = response.status
        if status in (401, 403) and status not in self.contract.documented_statuses:
            self.spec_gaps.setdefault(
                f"undocumented-{status}",
                f"The server answers {status} to requests with {exchange.credential}, as the operation's "
                f"security requirement implies, but {self.contract.operation.label} documents no {status} response.",
            )

    @property
    def saw_success(self) -> bool:
        """Whether any 200 was observed: without one the 200 contract was never exercised."""
        return self.statuses[200] > 0

    def check_status(self, check_id: str) -> CheckStatus:
        """One check's overall status."""
        return self.tallies[check_id].status(self.strict)

    def run_status(
        self,
        *,
        interrupted: bool = False,
        signum: int = signal.SIGINT,
        gate_failed: str | None = None,
        stopped_early: str | None = None,
        not_written: str | None = None,
    ) -> RunVerdict:
        """The run's verdict, a one-line reason and the exit code: what the exchanges say, then how the run ended.

        `interrupted` by the signal `signum` (Ctrl-C, SIGTERM, SIGHUP); `gate_failed` is the gate's own first failure;
        `stopped_early` why the run ended before its last scenario; `not_written` the output that could not be
        written once the verdict was reached. Where two endings meet, the reason says both and the worse code wins.
        """
        status, reason = self._run_status()
        if status is not RunStatus.CONFORMS and self._known_sessions_never_found():
            reason += self._why_nothing_was_found()
        if interrupted and self.cannot_judge is None:
            stopped = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
            status, reason = RunStatus.CANNOT_JUDGE, f"the run was {stopped} before it finished"
        elif gate_failed is not None:
            # The gate's own failure hides a pass, and is worse than a failure the target earned (SEVERITY): the
            # run could not judge, and says both.
            earned = f"; besides, {reason}" if status is RunStatus.NON_CONFORMANT else ""
            status, reason = RunStatus.CANNOT_JUDGE, f"the gate itself failed: {gate_failed}{earned}"
        if stopped_early is not None:
            reason = f"{reason} ({stopped_early})"
        # A run a signal stopped ends with that signal's code, whatever it had found by then.
        code = STOPPED_BY.get(signum, ExitCode.INTERRUPTED) if interrupted else EXIT_CODES[status]
        if not_written is not None:
            # The verdict stands; the code says that an output is missing, so that no report passes for a whole run.
            code = ExitCode(worse(code, ExitCode.OUTPUT_NOT_WRITTEN))
            reason = f"{reason}; but {not_written}: make it writable (or free space) and run again"
        return RunVerdict(status, reason, code)

    def _known_sessions_never_found(self) -> bool:
        """Every read of a known session with the key was answered 404 (there was one at least)."""
        return bool(self.known_statuses) and set(self.known_statuses) == {404}

    def _why_nothing_was_found(self) -> str:
        if set(self.statuses) == {404}:
            return (
                "; every request was answered 404, known sessions included, so the base URL's path is the likely "
                "cause: give the server's root (e.g. https://test.dodopayments.com), without /checkouts"
            )
        # Other answers (requests without the key refused, say) show the path leads to an API: the ids are the gap.
        return (
            "; every read of a known session with the key was answered 404, while other requests were answered "
            "otherwise, so the known ids are the likely cause: give ids of sessions that exist for this key "
            "(test and live mode have separate sessions)"
        )

    def _input_found_nothing(self) -> bool:
        """Nothing was answered 200, the gate created no session, and every known session was answered 404.

        The ids given (stale, or of the other mode) or a base URL with a path are then the likely cause, which
        the gate cannot tell from a server that lost its sessions: it cannot judge. A 5xx is a fault no input
        explains, and a session the gate created and then cannot read is the server's: both still fail the run.
        """
        server_errors = any(status >= 500 for status in self.statuses)
        return not self.saw_success and not self.created and not server_errors and self._known_sessions_never_found()

    def _run_status(self) -> tuple[RunStatus, str]:
        if self.cannot_judge is not None:
            # A broken setup (unreachable target, rejected key) is never reported as a wall of failures.
            return RunStatus.CANNOT_JUDGE, self.cannot_judge
        if self._input_found_nothing():
            return RunStatus.CANNOT_JUDGE, (
                "no request was answered 200 and every known session was answered 404, so the 200 contract was never "
                "exercised"
            )
        failing = [check_id for check_id in self.tallies if self.check_status(check_id) is CheckStatus.FAILED]
        if failing:
            return RunStatus.NON_CONFORMANT, f"{len(failing)} check(s) failed: {', '.join(failing)}"
        return self._clean_run_status()

    def _clean_run_status(self) -> tuple[RunStatus, str]:
        """The verdict of a run where no check failed: it conforms only if it judged something."""
        if self.unjudged:
            exchange, why = self.unjudged[0]
            return (
                RunStatus.CANNOT_JUDGE,
                (
                    f"{len(self.unjudged)} request(s) could not be judged: {exchange.request.method} "
                    f"{exchange.request.url} {why}; rerun later for 429s, and check the server for huge bodies"
                ),
            )
        if not self.saw_success:
            return (
                RunStatus.CANNOT_JUDGE,
                (
                    "no request was answered 200, so the 200 contract was never exercised; give ids of existing "
                    "sessions with --checkout-id or CONFORMANCE_CHECKOUT_IDS, or let the gate make one with "
                    "--create-session"
                ),
            )
        must = [tally for tally in self.tallies.values() if tally.check.level is Level.MUST]
        judged = sum(1 for tally in must if tally.applied)
        if not judged:
            # Every MUST check excluded or never applicable: a pass would say nothing about the target.
            return RunStatus.CANNOT_JUDGE, "no MUST check applied to any exchange, so nothing was judged"
        return (
            RunStatus.CONFORMS,
            f"all {judged} applicable MUST checks passed over {self.exchanges} exchanges",
        )
