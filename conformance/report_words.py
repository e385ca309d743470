"""What every rendering of a record says alike: status marks, the notes beside a check table, the oracle tally."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.errors import STOPPED, ExitCode

if TYPE_CHECKING:
    from conformance.record import OracleCounts, RunRecord

# The operation every report judges, named here once: a second operation makes it a fact of the record.
OPERATION = "GET /checkouts/{id}"
STATUS_MARKS = {"passed": "PASS", "failed": "FAIL", "warned": "WARN", "skipped": "SKIP"}
# Groups each text renderer lists in full; the record keeps them all.
SHOWN_GROUPS = 20


def table_notes(record: RunRecord) -> list[str]:
    """What every check table says beside its rows, when its rows are not a finished run's verdict."""
    return [note for note in (partial_note(record), unjudged_note(record)) if note]


def unjudged_note(record: RunRecord) -> str:
    """What the table of a run that could not judge says: its FAIL rows are findings, not the run's verdict."""
    if record.result.exit_code != ExitCode.CANNOT_JUDGE:
        return ""
    return (
        "the run could not judge the target, so this table is no verdict: its FAIL rows are findings to read, "
        "and its PASS rows do not mean the target passes"
    )


def partial_note(record: RunRecord) -> str:
    """What every check table of an interrupted run says: a PASS there is not a finished run's PASS."""
    if record.result.exit_code not in STOPPED:
        return ""
    return f"partial: interrupted after {record.exchanges.total} exchanges; counts are what was judged"


def oracle_tally(oracle: OracleCounts) -> str:
    """How often the oracle agreed: said even when it always did, so that silence never stands for agreement."""
    disagreed = oracle.judged - oracle.agreed
    return f"agreed on {oracle.agreed} of {oracle.judged} exchanges it judged" + (
        f", disagreed on {disagreed}" if disagreed else ""
    )
