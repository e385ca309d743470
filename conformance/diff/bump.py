"""`conformance diff OLD NEW --replay`: the recorded traffic replayed under NEW, joined with the diff into one verdict.

The replay is `conformance run --replay --spec NEW` through the engine, judged by the engine alone; this
module only prepares it from the diff's flags, keeps what its record says, and joins the two exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance.diff.model import Level
from conformance.errors import STOPPED, ExitCode, worse

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conformance.diff.model import DiffResult
    from conformance.engine import Plan

# What the one verdict says of the bump, by the joined exit code; any other code reached no verdict.
_VERDICT_WORDS: dict[int, str] = {
    ExitCode.CONFORMS: "the bump passes",
    ExitCode.NON_CONFORMANT: "the bump breaks",
    ExitCode.CANNOT_JUDGE: "the recorded traffic could not be judged",
    ExitCode.OUTPUT_NOT_WRITTEN: "judged, but an output was not written",
    **dict.fromkeys(STOPPED, "stopped before a verdict"),
}


@dataclass(frozen=True)
class ReplaySide:
    """What the recorded traffic said under NEW: the replay's status, exit code, checks and where its reports are."""

    spec: Path
    cassette_dir: Path
    report_dir: Path
    status: str  # conforms, non-conformant, could not judge: the run's own
    exit_code: int
    reason: str
    failed_checks: tuple[str, ...]
    warned_checks: tuple[str, ...]

    @property
    def shown(self) -> str:
        """The replay's side of the verdict line: its status, and the checks that failed or why it ended so."""
        detail = f"failed: {', '.join(self.failed_checks)}" if self.failed_checks else ""
        if self.exit_code not in (ExitCode.CONFORMS, ExitCode.NON_CONFORMANT):
            # Could not judge, stopped, an output not written: the reason is the news, failed checks or not.
            detail = f"exit {self.exit_code}: {self.reason}"
        return self.status.upper() + (f" ({detail})" if detail else "")


def prepare(new: Path, cassette_dir: Path, report_dir: Path, *, strict: bool) -> Plan:
    """The replay of `cassette_dir` under NEW, as `conformance run --replay` prepares it; raise GateError (exit 2)."""
    from conformance import engine  # noqa: PLC0415 - Schemathesis and vcrpy only with --replay
    from conformance.settings import Flags, build_settings  # noqa: PLC0415

    # As `conformance run` does: the run's earlier reports go before any refusal, so none outlives this run.
    engine.claim_reports(report_dir, None)
    flags = Flags(spec=new, replay=True, cassette_dir=cassette_dir, report_dir=report_dir, strict=strict)
    return engine.prepare(build_settings(flags), claimed=True)


def replay(plan: Plan, say: Callable[[str], None], command: str) -> ReplaySide:
    """Execute the prepared replay (its reports written as a run's are) and keep what its record says."""
    from conformance import engine  # noqa: PLC0415

    outcome = engine.execute(plan, say=say, command=command)
    record, settings = outcome.record, plan.settings
    return ReplaySide(
        spec=settings.spec,
        cassette_dir=settings.cassette_dir,
        report_dir=settings.report_dir,
        status=record.result.status,
        exit_code=int(outcome.exit_code),
        reason=record.result.reason,
        failed_checks=tuple(check.id for check in record.checks if check.status == "failed"),
        warned_checks=tuple(check.id for check in record.checks if check.status == "warned"),
    )


def diff_exit_code(result: DiffResult, *, strict: bool) -> int:
    """The diff's own exit code: 1 when the bump is refused, else 0."""
    return int(ExitCode.NON_CONFORMANT if result.fails(strict=strict) else ExitCode.CONFORMS)


def joined_exit_code(result: DiffResult, side: ReplaySide, *, strict: bool) -> int:
    """The one exit code of a bump: the worse of the diff's and the replay's, by errors.SEVERITY."""
    return worse(diff_exit_code(result, strict=strict), side.exit_code)


def diff_shown(result: DiffResult, *, strict: bool) -> str:
    """The diff's side of the verdict line."""
    shown = f"{result.count(Level.ERROR)} error-level change(s)"
    warnings = result.count(Level.WARNING)
    if strict and warnings:
        shown += f", {warnings} warning(s) under --strict"
    return shown


def verdict(result: DiffResult, side: ReplaySide, *, strict: bool) -> str:
    """The one last line: the joined exit code, and what each side said."""
    code = joined_exit_code(result, side, strict=strict)
    words = _VERDICT_WORDS.get(code, "no verdict")  # a code SEVERITY does not know: the gate broke
    return (
        f"verdict: {words} (exit {code}): diff: {diff_shown(result, strict=strict)}; "
        f"recorded traffic under NEW: {side.shown}"
    )


def text_section(side: ReplaySide) -> list[str]:
    """The replay's section of the terminal and text report."""
    return [
        f"recorded traffic under NEW (replay of {side.cassette_dir}/ under {side.spec}):",
        f"  {side.status.upper()} (exit {side.exit_code}): {side.reason}",
        f"  failed checks: {', '.join(side.failed_checks) or 'none'}",
        f"  warned checks: {', '.join(side.warned_checks) or 'none'}",
        f"  the replay's reports: {side.report_dir}/",
    ]


def as_record(result: DiffResult, side: ReplaySide, *, strict: bool) -> dict[str, Any]:
    """The replay and the one verdict as data: the `replay` object of diff.schema.json."""
    return {
        "spec": str(side.spec),
        "cassette_dir": str(side.cassette_dir),
        "report_dir": str(side.report_dir),
        "summary": str(side.report_dir / "summary.json"),
        "status": side.status,
        "exit_code": side.exit_code,
        "reason": side.reason,
        "failed_checks": list(side.failed_checks),
        "warned_checks": list(side.warned_checks),
        "joined_exit_code": joined_exit_code(result, side, strict=strict),
        "verdict": verdict(result, side, strict=strict),
    }
