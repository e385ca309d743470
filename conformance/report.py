"""Reports: the run's record (summary.json), the terminal's lines, and every report a run writes, all or none.

Every renderer reads the record, and shows the finding groups (one per root cause) first. Each file format
has a module of its own (report_markdown, report_junit, report_html, sarif); `FORMATS` names them all.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from conformance.files import write_atomically, write_together
from conformance.neutral import TEXT_WHITESPACE, neutral
from conformance.record import (
    CheckRecord,
    RunRecord,
    neutralised,
)
from conformance.report_html import render_html
from conformance.report_junit import render_junit
from conformance.report_markdown import render_markdown
from conformance.report_words import SHOWN_GROUPS, STATUS_MARKS, oracle_tally, table_notes
from conformance.sarif import render_sarif

if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from pathlib import Path


# The reports every run writes, each a rendering `conformance report --format` gives again.
REPORT_FORMATS = {"junit.xml": "junit", "summary.json": "json", "summary.md": "md", "report.html": "html"}
REPORT_FILES = tuple(REPORT_FORMATS)
# Disagreements with Schemathesis printed at the end of a run; summary.md and report.html have them all.
ORACLE_LINES_SHOWN = 5


def write_reports(
    record: RunRecord, report_dir: Path, redact: Callable[[str], str], sarif: Path | None = None
) -> list[Path]:
    """Write every report whole, all of them or none, so that they tell one verdict; raise OutputNotWrittenError."""
    outputs = report_texts(record, report_dir, redact, sarif)
    write_together(outputs)
    return list(outputs)


def write_what_can_be_written(
    record: RunRecord, report_dir: Path, redact: Callable[[str], str], sarif: Path | None = None
) -> list[Path]:
    """Write each report that can be written, each whole, after write_reports could not write them all; say which."""
    written = []
    for path, text in report_texts(record, report_dir, redact, sarif).items():
        try:
            write_atomically(path, text)
        except OSError:
            continue
        written.append(path)
    return written


def report_texts(
    record: RunRecord, report_dir: Path, redact: Callable[[str], str], sarif: Path | None = None
) -> dict[Path, str]:
    """Each report's path and text, redacted; summary.json last, as the one a reader trusts."""
    names = sorted(REPORT_FORMATS, key=lambda name: name == "summary.json")
    outputs = {report_dir / name: FORMATS[REPORT_FORMATS[name]](record) for name in names}
    if sarif is not None:
        outputs = {sarif: FORMATS["sarif"](record), **outputs}
    return {path: _redact_whole(path.name, text, redact) for path, text in outputs.items()}


def _redact_whole(name: str, text: str, redact: Callable[[str], str]) -> str:
    """The text redacted once more as a whole; a JSON file only when that leaves it valid JSON.

    The record is already redacted field by field (see record.redacted); this catches what a renderer
    might have put together from pieces.
    """
    scrubbed = redact(text)
    if name.endswith((".json", ".sarif")):
        try:
            json.loads(scrubbed)
        except json.JSONDecodeError:
            return text
    return scrubbed


# --- the terminal ---------------------------------------------------------------------


def render_header(  # noqa: PLR0913 - keyword-only: the facts a run announces
    *,
    target: str,
    spec: str,
    spec_version: str,
    seed: int,
    max_examples: int,
    checkout_ids: tuple[str, ...],
    product_id: str | None = None,
) -> list[str]:
    """What a run is about to judge, printed before its first request."""
    none = "none given" if product_id else "none (the 200 contract cannot be judged without one)"
    lines = [
        f"target: {target}",
        f"spec: {spec} (version {spec_version}); seed {seed}; {max_examples} generated ids",
        f"known sessions ({len(checkout_ids)}): {', '.join(checkout_ids) or none}",
    ]
    if product_id:
        lines.append(f"and one the gate creates first: POST /checkouts with product {product_id}, quantity 1")
    return [neutral(line) for line in lines]


def render_table(record: RunRecord) -> list[str]:
    """The per-check table as plain text lines."""
    record = neutralised(record)
    rows = [("RESULT", "LEVEL", "CHECK", "PASSED", "FAILED", "WARNED")]
    rows += [
        (STATUS_MARKS[item.status], item.level, item.id, str(item.passed), str(item.failed), str(item.warned))
        for item in record.checks
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += [f"({note})" for note in table_notes(record)]
    return [neutral(line) for line in lines]


def render_verdict(record: RunRecord) -> str:
    """The one line that says how the run ended."""
    result = record.result
    return neutral(f"conformance: {result.status.upper()} (exit {result.exit_code}): {result.reason}")


def render_groups(record: RunRecord) -> list[str]:
    """One line per root cause (its check, count and what came back), then how to reproduce it."""
    record = neutralised(record)
    lines = []
    for group in record.groups[:SHOWN_GROUPS]:
        mark = STATUS_MARKS[group.outcome]
        lines.append(f"{mark} {group.check} x{group.count} [{group.id}]: {_one_line(group.summary, 160)}")
        lines.append(f"     {group.example.curl}")
    if len(record.groups) > SHOWN_GROUPS:
        lines.append(f"... and {len(record.groups) - SHOWN_GROUPS} more groups in summary.json and report.html")
    return [neutral(line) for line in lines]


def render_closing(
    record: RunRecord, report_dir: Path, sarif: Path | None = None, written: Collection[Path] | None = None
) -> list[str]:
    """How a run ended: the table, the grouped findings, spec gaps, where the reports are, the verdict last.

    Each is one line, whatever the record holds: a line break or an escape sequence from the target
    could otherwise print a verdict of its own. `written` lists the outputs written when not all were.
    """
    record = neutralised(record)
    lines = []
    if record.exchanges.total:
        lines += [*render_table(record), ""]
    if record.groups:
        lines += [*render_groups(record), ""]
    lines += [f"spec gap: {gap}" for gap in record.spec_gaps]
    if record.oracle is not None:
        lines.append(f"schemathesis oracle: {oracle_tally(record.oracle)}")
    shown = record.oracle_disagreements[:ORACLE_LINES_SHOWN]
    lines += [f"schemathesis oracle: {text}" for text in shown]
    if len(record.oracle_disagreements) > len(shown):
        lines.append(f"schemathesis oracle: {len(record.oracle_disagreements) - len(shown)} more in summary.md")
    lines.append(_where(report_dir, sarif, written))
    lines.append(render_verdict(record))
    return [neutral(line) for line in lines]


def _where(report_dir: Path, sarif: Path | None, written: Collection[Path] | None) -> str:
    """Where the reports are; when not all could be written, only those that were, so none is looked for in vain."""
    names = [name for name in REPORT_FILES if written is None or report_dir / name in written]
    sarif_written = sarif is not None and (written is None or sarif in written)
    shown = f"{report_dir}/ ({', '.join(names)})" if names else f"none written to {report_dir}/"
    return f"reports: {shown}" + (f", SARIF: {sarif}" if sarif_written else "")


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(neutral(text, keep=TEXT_WHITESPACE).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# Each renderer neutralises the record it is given: a record read back may have been written by an older
# version or edited, and is never trusted to be inert.


def _json(record: RunRecord) -> str:
    return neutralised(record).to_text()


def _html(record: RunRecord) -> str:
    # Made inert here, then escaped for HTML by the page.
    return render_html(neutralised(record))


def _sarif(record: RunRecord) -> str:
    return render_sarif(neutralised(record))


FORMATS: dict[str, Callable[[RunRecord], str]] = {
    "md": render_markdown,
    "html": _html,
    "junit": render_junit,
    "json": _json,
    "sarif": _sarif,
}


def check_record(record: RunRecord, check_id: str) -> CheckRecord:
    """The record of one check."""
    return next(item for item in record.checks if item.id == check_id)
