"""Report writers: summary.json is the record; Markdown, HTML and the terminal table render it."""

from __future__ import annotations

import html
import json
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


def write_reports(summary: dict[str, Any], report_dir: Path, redact: Redactor) -> list[Path]:
    """Write summary.json, summary.md and report.html, each whole or not at all."""
    outputs = {
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
