"""summary.md: the verdict, the grouped findings with an excerpt, then the check table, for a CI step summary.

Every piece of text from the target is made inert, and unable to link, embed or break out of its structure.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from conformance.neutral import TEXT_WHITESPACE, neutral
from conformance.record import neutralised
from conformance.report_words import OPERATION, SHOWN_GROUPS, STATUS_MARKS, oracle_tally, table_notes

if TYPE_CHECKING:
    from conformance.record import FindingGroup, RunRecord

EXCERPT_LINES = 6


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


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
        f"# Conformance: {OPERATION}",
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
