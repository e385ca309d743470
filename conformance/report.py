"""Report writers: summary.json is the record; Markdown, HTML and the terminal table render it."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from conformance import __version__
from conformance.files import write_atomically
from conformance.redaction import curl_line
from conformance.settings import Mode

if TYPE_CHECKING:
    from pathlib import Path

    from conformance.checks import Verdict
    from conformance.ledger import Ledger
    from conformance.redaction import Redactor
    from conformance.settings import Settings

FORMAT = "dodo-conformance/summary"
FORMAT_VERSION = 1
STATUS_MARKS = {"passed": "PASS", "failed": "FAIL", "warned": "WARN", "skipped": "SKIP"}


def build_summary(  # noqa: PLR0913 - keyword-only: the run's outcome, decided by the plugin
    ledger: Ledger, settings: Settings, *, target: str, exit_code: int, status: str, reason: str
) -> dict[str, Any]:
    """The run as one JSON document (specified by conformance/data/summary.schema.json)."""
    finished = ledger.finished or ledger.started
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tool": {"name": "dodo-conformance", "version": __version__},
        "run": {
            "started": _iso(ledger.started),
            "finished": _iso(finished),
            "duration_seconds": round(finished - ledger.started, 3),
            "first_failure_after_seconds": (
                round(ledger.first_failure_at - ledger.started, 3) if ledger.first_failure_at is not None else None
            ),
            "target": target,
            "sandbox": settings.uses_sandbox,
            "spec": str(settings.spec),
            "spec_version": ledger.contract.version,
            "seed": settings.seed,
            "max_examples": settings.max_examples,
            "strict": settings.strict,
            "request_timeout_seconds": settings.request_timeout,
            "checkout_ids": list(settings.checkout_ids),
        },
        "result": {"status": status, "exit_code": exit_code, "reason": reason},
        "exchanges": {
            "total": ledger.exchanges,
            "by_status": {str(code): count for code, count in sorted(ledger.statuses.items())},
            "unjudged": len(ledger.unjudged),
        },
        "checks": [
            {
                "id": tally.check.id,
                "level": str(tally.check.level),
                "requirement": tally.check.requirement,
                "spec_ref": tally.check.spec_ref,
                "status": str(tally.status(settings.strict)),
                "skip_reason": tally.skip_reason(settings.strict, replaying=settings.mode is Mode.REPLAY),
                "passed": tally.passed,
                "failed": tally.failed,
                "warned": tally.warned,
                "findings": [_finding(verdict) for verdict in tally.findings],
            }
            for tally in ledger.tallies.values()
        ],
        "spec_gaps": list(ledger.spec_gaps.values()),
    }


def _finding(verdict: Verdict) -> dict[str, Any]:
    exchange = verdict.exchange
    response = exchange.response
    assert verdict.failure is not None
    return {
        "outcome": str(verdict.outcome),
        "received": verdict.failure.received,
        "expected": verdict.failure.expected,
        "purpose": str(exchange.purpose),
        "credential": str(exchange.credential),
        "checkout_id": exchange.checkout_id,
        "request": {
            "method": exchange.request.method,
            "url": exchange.request.url,
            "headers": exchange.request.headers,
        },
        "status": response.status if response is not None else None,
        "content_type": response.header("content-type") if response is not None else None,
        "body_excerpt": response.excerpt() if response is not None else None,
        "transport_error": exchange.transport_error,
        "curl": curl_line(exchange.request),
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")


REPORT_FILES = ("junit.xml", "summary.json", "summary.md", "report.html")


def write_reports(summary: dict[str, Any], report_dir: Path, redact: Redactor) -> list[Path]:
    """Write every report, each whole or not at all."""
    outputs = {
        "junit.xml": render_junit(summary),
        "summary.json": json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
        "summary.md": render_markdown(summary),
        "report.html": render_html(summary),
    }
    written = []
    for name, text in outputs.items():
        path = report_dir / name
        write_atomically(path, redact(text))
        written.append(path)
    return written


def render_table(summary: dict[str, Any]) -> list[str]:
    """The per-check table as plain text lines."""
    rows = [("RESULT", "LEVEL", "CHECK", "PASSED", "FAILED", "WARNED")]
    rows += [
        (
            STATUS_MARKS[item["status"]],
            item["level"],
            item["id"],
            str(item["passed"]),
            str(item["failed"]),
            str(item["warned"]),
        )
        for item in summary["checks"]
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


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


def render_closing(summary: dict[str, Any], report_dir: Path) -> list[str]:
    """How a run ended: the check table (when anything was judged), spec gaps, where the reports are, the verdict."""
    lines = []
    if summary["exchanges"]["total"]:
        lines += [*render_table(summary), ""]
    lines += [f"spec gap: {gap}" for gap in summary["spec_gaps"]]
    lines.append(f"reports: {report_dir}/ ({', '.join(REPORT_FILES)})")
    lines.append(render_verdict(summary))
    return lines


def render_verdict(summary: dict[str, Any]) -> str:
    """The one line that says how the run ended."""
    result = summary["result"]
    return f"conformance: {result['status'].upper()} (exit {result['exit_code']}): {result['reason']}"


def render_markdown(summary: dict[str, Any]) -> str:
    """A CI step summary: the verdict, the table, then each finding."""
    run = summary["run"]
    lines = [
        "# Conformance: GET /checkouts/{id}",
        "",
        f"**{summary['result']['status']}** (exit {summary['result']['exit_code']}): {summary['result']['reason']}",
        "",
        (
            f"Target `{run['target']}`, spec `{run['spec']}` (version {run['spec_version']}), seed {run['seed']}, "
            f"{summary['exchanges']['total']} exchanges."
        ),
        "",
        "| result | level | check | passed | failed | warned | requirement |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    lines += [
        f"| {STATUS_MARKS[item['status']]} | {item['level']} | `{item['id']}` | {item['passed']} | "
        f"{item['failed']} | {item['warned']} | {_md(item['requirement'])}"
        + (f" (skipped: {_md(item['skip_reason'])})" if item["skip_reason"] else "")
        + " |"
        for item in summary["checks"]
    ]
    findings = [(item, finding) for item in summary["checks"] for finding in item["findings"]]
    if findings:
        lines += ["", "## Findings", ""]
    for item, finding in findings:
        lines += [
            f"### `{item['id']}` {finding['outcome']}: {finding['request']['method']} {_md(finding['request']['url'])}",
            "",
            f"- Received: {_md(finding['received'])}",
            f"- Expected: {_md(finding['expected'])}",
            f"- Request: {finding['purpose']}, {finding['credential']}",
            "",
            "```sh",
            finding["curl"],
            "```",
            "",
        ]
    if summary["spec_gaps"]:
        lines += ["", "## Spec gaps", ""] + [f"- {_md(gap)}" for gap in summary["spec_gaps"]]
    return "\n".join(lines).rstrip() + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_html(summary: dict[str, Any]) -> str:
    """A page for a reviewer: the check table first, then each finding."""
    e = html.escape
    run, result = summary["run"], summary["result"]
    rows = "\n".join(
        f'<tr class="{e(item["status"])}"><td>{STATUS_MARKS[item["status"]]}</td><td>{e(item["level"])}</td>'
        f'<td><a href="#{e(item["id"])}"><code>{e(item["id"])}</code></a></td><td>{item["passed"]}</td>'
        f"<td>{item['failed']}</td><td>{item['warned']}</td><td>{e(item['requirement'])}<br>"
        f"<small>{e(item['spec_ref'])}</small>"
        + (f"<br><small>skipped: {e(item['skip_reason'])}</small>" if item["skip_reason"] else "")
        + "</td></tr>"
        for item in summary["checks"]
    )
    sections = []
    for item in summary["checks"]:
        if not item["findings"]:
            continue
        shown = len(item["findings"])
        total = item["failed"] + item["warned"]
        entries = "\n".join(
            f"<details{' open' if index == 0 else ''}><summary>{e(finding['outcome'])}: "
            f"{e(finding['request']['method'])} <code>{e(finding['request']['url'][:200])}</code> "
            f"({e(finding['purpose'])}, {e(finding['credential'])}) &rarr; {finding['status'] or 'no response'}"
            f"</summary><dl><dt>Received</dt><dd>{e(finding['received'])}</dd>"
            f"<dt>Expected</dt><dd>{e(finding['expected'])}</dd>"
            f"<dt>Body</dt><dd><pre>{e(finding['body_excerpt'] or '')}</pre></dd>"
            f"<dt>Reproduce</dt><dd><pre>{e(finding['curl'])}</pre></dd></dl></details>"
            for index, finding in enumerate(item["findings"])
        )
        more = f"<p>{total - shown} more not shown.</p>" if total > shown else ""
        sections.append(
            f'<section id="{e(item["id"])}"><h3><code>{e(item["id"])}</code> ({e(item["level"])})</h3>'
            f"<p>{e(item['requirement'])}</p>{entries}{more}</section>"
        )
    gaps = "".join(f"<li>{e(gap)}</li>" for gap in summary["spec_gaps"])
    by_status = ", ".join(f"{code}: {count}" for code, count in summary["exchanges"]["by_status"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance: GET /checkouts/{{id}}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem auto;padding:0 1rem;max-width:75rem;color:#222}}
code{{word-break:break-all}}
table{{border-collapse:collapse;width:100%}}
td,th{{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}}
tr.failed td:first-child{{background:#f8d0d0}}tr.passed td:first-child{{background:#d4f0d4}}
tr.warned td:first-child{{background:#fbeec0}}tr.skipped td:first-child{{background:#e8e8e8}}
.verdict{{font-size:1.2rem;padding:.6rem;border-radius:.3rem}}
.conforms{{background:#d4f0d4}}.non-conformant{{background:#f8d0d0}}.could-not-judge{{background:#fbeec0}}
pre{{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.4rem}}dt{{font-weight:bold}}
</style></head><body>
<h1>Conformance: GET /checkouts/{{id}}</h1>
<p class="verdict {e(result["status"].replace(" ", "-"))}"><strong>{e(result["status"])}</strong>
(exit {result["exit_code"]}): {e(result["reason"])}</p>
<p>Target <code>{e(run["target"])}</code>; spec <code>{e(run["spec"])}</code> version {e(run["spec_version"])};
seed {run["seed"]}; {summary["exchanges"]["total"]} exchanges ({e(by_status)}); {run["started"]},
{run["duration_seconds"]} s.</p>
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


def render_junit(summary: dict[str, Any]) -> str:
    """JUnit XML: one test case per check, and one for the run itself when it could not judge or was interrupted."""
    result = summary["result"]
    suite = ET.Element(
        "testsuite",
        name="conformance GET /checkouts/{id}",
        timestamp=summary["run"]["started"],
        time=str(summary["run"]["duration_seconds"]),
    )
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if result["exit_code"] not in (0, 1):
        # A run that could not judge, or was stopped, must not show as all green in a CI test tab.
        case = ET.SubElement(suite, "testcase", classname="conformance", name="run")
        error = ET.SubElement(case, "error", message=f"{result['status']} (exit {result['exit_code']})")
        error.text = result["reason"]
        counts["tests"] += 1
        counts["errors"] += 1
    for item in summary["checks"]:
        case = ET.SubElement(suite, "testcase", classname="conformance.checks", name=item["id"])
        counts["tests"] += 1
        tally = f"{item['failed']} failed, {item['warned']} warned, {item['passed']} passed"
        detail = "\n\n".join(
            f"{finding['request']['method']} {finding['request']['url']} ({finding['purpose']}, "
            f"{finding['credential']})\nReceived: {finding['received']}\nExpected: {finding['expected']}\n"
            f"Reproduce: {finding['curl']}"
            for finding in item["findings"][:3]
        )
        if item["status"] == "failed":
            failure = ET.SubElement(case, "failure", message=f"{item['requirement']} ({tally})")
            failure.text = detail
            counts["failures"] += 1
        elif item["status"] == "skipped":
            ET.SubElement(case, "skipped", message=item["skip_reason"] or "skipped")
            counts["skipped"] += 1
        elif item["status"] == "warned":
            ET.SubElement(
                case, "system-out"
            ).text = f"WARNED ({item['level']}): {item['requirement']} ({tally})\n{detail}"
    for name, count in counts.items():
        suite.set(name, str(count))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
