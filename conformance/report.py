"""Reports: the run's record (summary.json) and its renderings for the terminal, Markdown, JUnit and SARIF.

Every renderer reads the record, and shows the finding groups (one per root cause) first. The HTML page
is report_html.py; the SARIF log is sarif.py.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from contextlib import suppress
from typing import TYPE_CHECKING

from conformance.errors import STOPPED, ExitCode
from conformance.files import write_atomically, write_together
from conformance.neutral import TEXT_WHITESPACE, neutral
from conformance.record import (
    CheckRecord,
    FindingGroup,
    OracleCounts,
    RunRecord,
    neutralised,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


STATUS_MARKS = {"passed": "PASS", "failed": "FAIL", "warned": "WARN", "skipped": "SKIP"}
# The reports every run writes, each a rendering `conformance report --format` gives again.
REPORT_FORMATS = {"junit.xml": "junit", "summary.json": "json", "summary.md": "md", "report.html": "html"}
REPORT_FILES = tuple(REPORT_FORMATS)
# Groups each text renderer lists in full; the record keeps them all.
SHOWN_GROUPS = 20
EXCERPT_LINES = 6
# Disagreements with Schemathesis printed at the end of a run; summary.md and report.html have them all.
ORACLE_LINES_SHOWN = 5


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def write_reports(
    record: RunRecord, report_dir: Path, redact: Callable[[str], str], sarif: Path | None = None
) -> list[Path]:
    """Write every report whole, all of them or none, so that they tell one verdict; raise OutputNotWrittenError."""
    outputs = report_texts(record, report_dir, redact, sarif)
    write_together(outputs)
    return list(outputs)


def write_what_can_be_written(
    record: RunRecord, report_dir: Path, redact: Callable[[str], str], sarif: Path | None = None
) -> None:
    """Write each report that can be written, each whole, after write_reports could not write them all."""
    for path, text in report_texts(record, report_dir, redact, sarif).items():
        with suppress(OSError):
            write_atomically(path, text)


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


def render_closing(record: RunRecord, report_dir: Path, sarif: Path | None = None) -> list[str]:
    """How a run ended: the table, the grouped findings, spec gaps, where the reports are, the verdict last.

    Each is one line, whatever the record holds: a line break or an escape sequence from the target
    could otherwise print a verdict of its own.
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
    lines.append(f"reports: {report_dir}/ ({', '.join(REPORT_FILES)})" + (f", SARIF: {sarif}" if sarif else ""))
    lines.append(render_verdict(record))
    return [neutral(line) for line in lines]


def oracle_tally(oracle: OracleCounts) -> str:
    """How often the oracle agreed: said even when it always did, so that silence never stands for agreement."""
    disagreed = oracle.judged - oracle.agreed
    return f"agreed on {oracle.agreed} of {oracle.judged} exchanges it judged" + (
        f", disagreed on {disagreed}" if disagreed else ""
    )


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(neutral(text, keep=TEXT_WHITESPACE).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --- Markdown -------------------------------------------------------------------------


def _markdown_group(group: FindingGroup) -> list[str]:
    example = group.example
    ids = ", ".join(_code(checkout_id) for checkout_id in group.checkout_ids[:5])
    more = len(group.checkout_ids) - 5 + group.ids_dropped
    lines = [
        f"### {_md(group.outcome.upper())} {_code(group.check)}, {_times(group.count)} ({_md(group.id)})",
        "",
        f"- Received: {_md(example.received)}",
        f"- Expected: {_md(example.expected)}",
        (
            f"- Request: {_md(example.request.method)} {_code(example.request.url)} "
            f"({_md(example.purpose)}, {_md(example.credential)})"
        ),
    ]
    if ids:  # a create asks for no id
        lines.append(f"- Ids: {ids}" + (f" and {more} more" if more > 0 else ""))
    if example.why:
        lines.append(f"- Why this request: {_md(example.why)}")
    if example.location:
        lines.append(f"- Location: {_code(example.location)}")
    if example.body_excerpt:
        excerpt = example.body_excerpt.splitlines()[:EXCERPT_LINES]
        lines += ["", *_fenced(excerpt)]
    lines += ["", *_fenced([example.curl, *([group.replay] if group.replay else [])], "sh"), ""]
    return lines


def render_markdown(record: RunRecord) -> str:
    """A CI step summary: the verdict, the grouped findings with an excerpt, then the check table."""
    record = neutralised(record)
    run, result = record.run, record.result
    lines = [
        "# Conformance: GET /checkouts/{id}",
        "",
        f"**{_md(result.status)}** (exit {result.exit_code}): {_md(result.reason)}",
        "",
        (
            f"Target {_code(run.target)}, spec {_code(run.spec)} (version {_md(run.spec_version)}), seed {run.seed}, "
            f"{record.exchanges.total} exchanges, {run.requests_sent} requests sent."
        ),
    ]
    if record.groups:
        lines += ["", "## Findings, grouped by cause", ""]
    for group in record.groups[:SHOWN_GROUPS]:
        lines += _markdown_group(group)
    if len(record.groups) > SHOWN_GROUPS:
        lines.append(f"_{len(record.groups) - SHOWN_GROUPS} more groups are cut here; summary.json holds them all._")
    lines += [
        "",
        "## Checks",
        "",
        "| result | level | check | passed | failed | warned | requirement |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    lines += [
        f"| {STATUS_MARKS[item.status]} | {_md(item.level)} | {_code(item.id, cell=True)} | {item.passed} | "
        f"{item.failed} | {item.warned} | "
        + _md(item.requirement)
        + (f" (skipped: {_md(item.skip_reason)})" if item.skip_reason else "")
        + " |"
        for item in record.checks
    ]
    lines += [line for note in table_notes(record) for line in ("", f"_{note}._")]
    if record.spec_gaps:
        lines += ["", "## Spec gaps", ""] + [f"- {_md(gap)}" for gap in record.spec_gaps]
    if record.oracle is not None:
        lines += ["", "## Schemathesis oracle", "", f"Schemathesis' own response checks {oracle_tally(record.oracle)}."]
    if record.oracle_disagreements:
        lines += ["", "## Where Schemathesis judged otherwise", ""]
        lines += [f"- {_md(text)}" for text in record.oracle_disagreements]
    return "\n".join(lines).rstrip() + "\n"


# What in server-controlled text could make summary.md link, embed or break out of its structure (a CI step
# summary renders it): links and images, raw HTML, character references (`&#27;` is an ESC once rendered),
# code spans, table cells. Emphasis is left alone.
_MARKDOWN_ACTIVE = str.maketrans({character: f"\\{character}" for character in "\\`[]<>!|&"})
# What GitHub's Markdown turns into a link with no markup at all (GFM's autolink extension): a URL with a scheme,
# `www.`, `mailto:`/`xmpp:`, an e-mail address. Its start shown as code, where nothing links (what follows,
# without a scheme or `www.` of its own, cannot link either); never a `|`, which would end a table cell there too.
_BARE_LINK = re.compile(
    r"(?:[A-Za-z][A-Za-z0-9+.-]*://|www\.|(?:mailto|xmpp):)[^\s<>\"'`\\()\[\]|]*|[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    re.IGNORECASE,
)


def _md(text: str) -> str:
    """Text for a Markdown line: inert, on one line, and unable to link, embed an image or open raw HTML."""
    flat = neutral(text, keep=TEXT_WHITESPACE).replace("\n", " ")
    pieces, position = [], 0
    for match in _BARE_LINK.finditer(flat):
        pieces += [flat[position : match.start()].translate(_MARKDOWN_ACTIVE), _code(match[0])]
        position = match.end()
    pieces.append(flat[position:].translate(_MARKDOWN_ACTIVE))
    return "".join(pieces)


def _code(text: str, *, cell: bool = False) -> str:
    r"""An inline code span holding `text` exactly (inert, on one line), whatever backticks it holds (CommonMark 6.1).

    In a table `cell`, a `|` ends the cell even inside a code span, and what follows would be Markdown again:
    there it is written `\|`, which GFM tables read as `|` inside the span (elsewhere it would show the backslash).
    """
    flat = neutral(text, keep=TEXT_WHITESPACE).replace("\n", " ")
    if cell:
        flat = flat.replace("|", "\\|")
    if not flat:
        # Two backticks alone open no span: they would pair with a later run and leave the text between as Markdown.
        return "` `"
    ticks = "`" * (_longest_backtick_run(flat) + 1)
    padding = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{ticks}{padding}{flat}{padding}{ticks}"


def _fenced(lines: list[str], info: str = "") -> list[str]:
    """A fenced code block no line inside can close: its fence is longer than any backtick run in it."""
    lines = [neutral(line) for line in lines]
    fence = "`" * max(3, max((_longest_backtick_run(line) for line in lines), default=0) + 1)
    return [f"{fence}{info}", *lines, fence]


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall("`+", text)), default=0)


# --- JUnit ----------------------------------------------------------------------------


def render_junit(record: RunRecord) -> str:
    """JUnit XML: one test case per check, and one for the run itself when it could not judge or was interrupted.

    Only characters XML 1.0 allows: the record's are made inert first (ElementTree would write a NUL as it is).
    """
    record = neutralised(record)
    result = record.result
    suite = ET.Element(
        "testsuite", name="conformance GET /checkouts/{id}", timestamp=record.run.started,
        time=str(record.run.duration_seconds),
    )  # fmt: skip
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if result.exit_code not in (0, 1):
        # A run that could not judge, or was stopped, must not show as all green in a CI test tab.
        case = ET.SubElement(suite, "testcase", classname="conformance", name="run", time="0")
        error = ET.SubElement(case, "error", message=f"{result.status} (exit {result.exit_code})")
        error.text = result.reason
        counts["tests"] += 1
        counts["errors"] += 1
    for item in record.checks:
        case = ET.SubElement(suite, "testcase", classname="conformance.checks", name=item.id, time="0")
        counts["tests"] += 1
        tally = f"{item.failed} failed, {item.warned} warned, {item.passed} passed"
        detail = "\n\n".join(_junit_group(group) for group in record.groups if group.check == item.id)
        if item.status == "failed":
            failure = ET.SubElement(case, "failure", message=f"{item.requirement} ({tally})", type=item.level)
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


def _junit_group(group: FindingGroup) -> str:
    example = group.example
    return (
        f"{group.id}: {group.count} x {group.summary}\n"
        f"First: {example.request.method} {example.request.url} ({example.purpose}, {example.credential})\n"
        f"Received: {example.received}\nExpected: {example.expected}\nReproduce: {example.curl}"
        + (f"\nReplay: {group.replay}" if group.replay else "")
    )


# Each renderer neutralises the record it is given: a record read back may have been written by an older
# version or edited, and is never trusted to be inert.


def _json(record: RunRecord) -> str:
    return neutralised(record).to_text()


def _html(record: RunRecord) -> str:
    from conformance.report_html import render_html  # noqa: PLC0415 - the page's module imports this one

    # Made inert here, then escaped for HTML by the page.
    return render_html(neutralised(record))


def _sarif(record: RunRecord) -> str:
    from conformance.sarif import render_sarif  # noqa: PLC0415

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
