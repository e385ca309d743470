"""Report writers: the run's record (summary.json) and its renderings in Markdown, HTML, JUnit and the terminal."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING

from conformance import __version__
from conformance.files import write_atomically
from conformance.record import (
    CheckRecord,
    ExchangeCounts,
    Finding,
    RequestRecord,
    Result,
    RunFacts,
    RunRecord,
    Tool,
)
from conformance.redaction import curl_line

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conformance.checks import Verdict
    from conformance.ledger import Ledger

STATUS_MARKS = {"passed": "PASS", "failed": "FAIL", "warned": "WARN", "skipped": "SKIP"}
REPORT_FILES = ("junit.xml", "summary.json", "summary.md", "report.html")
# Findings each renderer shows in full per check; the record keeps more, and every one is counted.
SHOWN_PER_CHECK = 3


def build_record(  # noqa: PLR0913 - keyword-only: the run's facts, decided by the engine
    ledger: Ledger,
    *,
    facts: dict[str, object],
    result: Result,
    strict: bool,
    replaying: bool,
    requests_sent: int,
) -> RunRecord:
    """The run as one record, from the ledger and the facts the engine knows."""
    finished = ledger.finished or ledger.started
    return RunRecord(
        tool=Tool(name="dodo-conformance", version=__version__),
        run=RunFacts(
            started=_iso(ledger.started),
            finished=_iso(finished),
            duration_seconds=round(finished - ledger.started, 3),
            first_failure_after_seconds=(
                round(ledger.first_failure_at - ledger.started, 3) if ledger.first_failure_at is not None else None
            ),
            spec_version=ledger.contract.version,
            strict=strict,
            requests_sent=requests_sent,
            **facts,  # type: ignore[arg-type]
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
                skip_reason=tally.skip_reason(strict, replaying=replaying, stopped=result.exit_code in (3, 130)),
                passed=tally.passed,
                failed=tally.failed,
                warned=tally.warned,
                findings=tuple(_finding(verdict) for verdict in tally.findings),
            )
            for tally in ledger.tallies.values()
        ),
        spec_gaps=tuple(ledger.spec_gaps.values()),
        oracle_disagreements=tuple(ledger.oracle_disagreements),
    )


def _finding(verdict: Verdict) -> Finding:
    exchange = verdict.exchange
    response = exchange.response
    assert verdict.failure is not None
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
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")


def write_reports(record: RunRecord, report_dir: Path, redact: Callable[[str], str]) -> list[Path]:
    """Write every report, each whole or not at all."""
    outputs = {
        "junit.xml": render_junit(record),
        "summary.json": record.to_text(),
        "summary.md": render_markdown(record),
        "report.html": render_html(record),
    }
    written = []
    for name, text in outputs.items():
        path = report_dir / name
        write_atomically(path, _redact_whole(name, text, redact))
        written.append(path)
    return written


def _redact_whole(name: str, text: str, redact: Callable[[str], str]) -> str:
    """The text redacted once more as a whole; summary.json only when that leaves it valid JSON.

    The record is already redacted field by field (see record.redacted); this catches what a renderer
    might have put together from pieces.
    """
    scrubbed = redact(text)
    if name.endswith(".json"):
        try:
            json.loads(scrubbed)
        except json.JSONDecodeError:
            return text
    return scrubbed


# --- the terminal ---------------------------------------------------------------------


def render_header(  # noqa: PLR0913 - keyword-only: the facts a run announces
    *, target: str, spec: str, spec_version: str, seed: int, max_examples: int, checkout_ids: tuple[str, ...]
) -> list[str]:
    """What a run is about to judge, printed before its first request."""
    ids = ", ".join(checkout_ids) if checkout_ids else "none (the 200 contract cannot be judged without one)"
    return [
        f"target: {target}",
        f"spec: {spec} (version {spec_version}); seed {seed}; {max_examples} generated ids",
        f"known sessions ({len(checkout_ids)}): {ids}",
    ]


def render_table(record: RunRecord) -> list[str]:
    """The per-check table as plain text lines."""
    rows = [("RESULT", "LEVEL", "CHECK", "PASSED", "FAILED", "WARNED")]
    rows += [
        (STATUS_MARKS[item.status], item.level, item.id, str(item.passed), str(item.failed), str(item.warned))
        for item in record.checks
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def render_verdict(record: RunRecord) -> str:
    """The one line that says how the run ended."""
    result = record.result
    return f"conformance: {result.status.upper()} (exit {result.exit_code}): {result.reason}"


def render_closing(record: RunRecord, report_dir: Path) -> list[str]:
    """How a run ended: the check table (when anything was judged), spec gaps, where the reports are, the verdict."""
    lines = []
    if record.exchanges.total:
        lines += [*render_table(record), ""]
    lines += [f"spec gap: {gap}" for gap in record.spec_gaps]
    lines.append(f"reports: {report_dir}/ ({', '.join(REPORT_FILES)})")
    lines.append(render_verdict(record))
    return lines


# --- Markdown -------------------------------------------------------------------------


def render_markdown(record: RunRecord) -> str:
    """A CI step summary: the verdict, the table, then each finding."""
    run, result = record.run, record.result
    lines = [
        "# Conformance: GET /checkouts/{id}",
        "",
        f"**{result.status}** (exit {result.exit_code}): {_md(result.reason)}",
        "",
        (
            f"Target `{run.target}`, spec `{run.spec}` (version {run.spec_version}), seed {run.seed}, "
            f"{record.exchanges.total} exchanges."
        ),
        "",
        "| result | level | check | passed | failed | warned | requirement |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    lines += [
        f"| {STATUS_MARKS[item.status]} | {item.level} | `{item.id}` | {item.passed} | {item.failed} | {item.warned} | "
        + _md(item.requirement)
        + (f" (skipped: {_md(item.skip_reason)})" if item.skip_reason else "")
        + " |"
        for item in record.checks
    ]
    findings = [(item, finding) for item in record.checks for finding in item.findings]
    if findings:
        lines += ["", "## Findings", ""]
    for item, finding in findings:
        lines += [
            f"### `{item.id}` {finding.outcome}: {finding.request.method} {_md(finding.request.url)}",
            "",
            f"- Received: {_md(finding.received)}",
            f"- Expected: {_md(finding.expected)}",
            f"- Request: {finding.purpose}, {finding.credential}",
            "",
            "```sh",
            finding.curl,
            "```",
            "",
        ]
    if record.spec_gaps:
        lines += ["", "## Spec gaps", ""] + [f"- {_md(gap)}" for gap in record.spec_gaps]
    return "\n".join(lines).rstrip() + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- HTML -----------------------------------------------------------------------------


def _stylesheet() -> str:
    return resources.files("conformance.data").joinpath("report.css").read_text(encoding="utf-8")


def render_html(record: RunRecord) -> str:
    """A page for a reviewer: the verdict, the check table, then each finding; self-contained."""
    e = html.escape
    run, result = record.run, record.result
    rows = "\n".join(
        f'<tr class="{e(item.status)}"><td>{STATUS_MARKS[item.status]}</td><td>{e(item.level)}</td>'
        f'<td><a href="#{e(item.id)}"><code>{e(item.id)}</code></a></td><td>{item.passed}</td>'
        f"<td>{item.failed}</td><td>{item.warned}</td><td>{e(item.requirement)}<br>"
        f"<small>{e(item.spec_ref)}</small>"
        + (f"<br><small>skipped: {e(item.skip_reason)}</small>" if item.skip_reason else "")
        + "</td></tr>"
        for item in record.checks
    )
    sections = [_html_check_findings(item) for item in record.checks if item.findings]
    gaps = "".join(f"<li>{e(gap)}</li>" for gap in record.spec_gaps)
    by_status = ", ".join(f"{code}: {count}" for code, count in record.exchanges.by_status.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance: GET /checkouts/{{id}}</title>
<style>
{_stylesheet()}</style></head><body>
<h1>Conformance: GET /checkouts/{{id}}</h1>
<p class="verdict {e(result.status.replace(" ", "-"))}"><strong>{e(result.status)}</strong>
(exit {result.exit_code}): {e(result.reason)}</p>
<p>Target <code>{e(run.target)}</code>; spec <code>{e(run.spec)}</code> version {e(run.spec_version)};
seed {run.seed}; {record.exchanges.total} exchanges ({e(by_status)}); {e(run.started)},
{run.duration_seconds} s.</p>
<h2>Checks</h2>
<table><thead><tr><th>Result</th><th>Level</th><th>Check</th><th>Passed</th><th>Failed</th><th>Warned</th>
<th>Requirement</th></tr></thead><tbody>
{rows}
</tbody></table>
<h2>Findings</h2>
{"".join(sections) or "<p>None.</p>"}
<h2>Spec gaps</h2>
{f"<ul>{gaps}</ul>" if gaps else "<p>None.</p>"}
</body></html>
"""


def _html_check_findings(item: CheckRecord) -> str:
    e = html.escape
    entries = "\n".join(
        f"<details{' open' if index == 0 else ''}><summary>{e(finding.outcome)}: "
        f"{e(finding.request.method)} <code>{e(finding.request.url[:200])}</code> "
        f"({e(finding.purpose)}, {e(finding.credential)}) &rarr; {finding.status or 'no response'}"
        f"</summary><dl><dt>Received</dt><dd>{e(finding.received)}</dd>"
        f"<dt>Expected</dt><dd>{e(finding.expected)}</dd>"
        f"<dt>Body</dt><dd><pre>{e(finding.body_excerpt or '')}</pre></dd>"
        f"<dt>Reproduce</dt><dd><pre>{e(finding.curl)}</pre></dd></dl></details>"
        for index, finding in enumerate(item.findings)
    )
    total = item.failed + item.warned
    more = f"<p>{total - len(item.findings)} more not shown.</p>" if total > len(item.findings) else ""
    return (
        f'<section id="{e(item.id)}"><h3><code>{e(item.id)}</code> ({e(item.level)})</h3>'
        f"<p>{e(item.requirement)}</p>{entries}{more}</section>"
    )


# --- JUnit ----------------------------------------------------------------------------


def render_junit(record: RunRecord) -> str:
    """JUnit XML: one test case per check, and one for the run itself when it could not judge or was interrupted."""
    result = record.result
    suite = ET.Element(
        "testsuite", name="conformance GET /checkouts/{id}", timestamp=record.run.started,
        time=str(record.run.duration_seconds),
    )  # fmt: skip
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if result.exit_code not in (0, 1):
        # A run that could not judge, or was stopped, must not show as all green in a CI test tab.
        case = ET.SubElement(suite, "testcase", classname="conformance", name="run")
        error = ET.SubElement(case, "error", message=f"{result.status} (exit {result.exit_code})")
        error.text = result.reason
        counts["tests"] += 1
        counts["errors"] += 1
    for item in record.checks:
        case = ET.SubElement(suite, "testcase", classname="conformance.checks", name=item.id)
        counts["tests"] += 1
        tally = f"{item.failed} failed, {item.warned} warned, {item.passed} passed"
        detail = "\n\n".join(
            f"{finding.request.method} {finding.request.url} ({finding.purpose}, {finding.credential})\n"
            f"Received: {finding.received}\nExpected: {finding.expected}\nReproduce: {finding.curl}"
            for finding in item.findings[:SHOWN_PER_CHECK]
        )
        if item.status == "failed":
            failure = ET.SubElement(case, "failure", message=f"{item.requirement} ({tally})")
            failure.text = detail
            counts["failures"] += 1
        elif item.status == "skipped":
            ET.SubElement(case, "skipped", message=item.skip_reason or "skipped")
            counts["skipped"] += 1
        elif item.status == "warned":
            ET.SubElement(case, "system-out").text = f"WARNED ({item.level}): {item.requirement} ({tally})\n{detail}"
    for name, count in counts.items():
        suite.set(name, str(count))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


FORMATS: dict[str, Callable[[RunRecord], str]] = {
    "md": render_markdown,
    "html": render_html,
    "junit": render_junit,
    "json": RunRecord.to_text,
}
