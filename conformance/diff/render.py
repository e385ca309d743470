"""The diff as the terminal shows it, as Markdown (a CI step summary, the README) and as JSON."""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from conformance.diff import bump
from conformance.diff.catalogue import RULES
from conformance.diff.model import LEVEL_ORDER, Level

if TYPE_CHECKING:
    from conformance.diff.bump import ReplaySide
    from conformance.diff.model import DiffResult, Finding

JSON_VERSION = 1


def place(finding: Finding) -> str:
    """Where a finding is, in the API's terms: operation, status, body or parameter, property."""
    if finding.operation is None:
        return f"schema {finding.new_pointer}"
    parts = [finding.operation]
    if finding.where == "response body" or (finding.status is not None and finding.where is None):
        parts.append(f"{finding.status} response" + (f" ({finding.media_type})" if finding.media_type else ""))
    elif finding.where is not None:
        parts.append(finding.where + (f" ({finding.media_type})" if finding.media_type else ""))
    if finding.property:
        parts.append(finding.property)
    return ", ".join(parts)


def verdict(result: DiffResult, *, strict: bool) -> str:
    """The last line: what the diff decided and why."""
    errors, warnings = result.count(Level.ERROR), result.count(Level.WARNING)
    if errors:
        return f"verdict: breaking: {errors} error-level change(s) (exit 1)"
    if strict and warnings:
        return f"verdict: breaking under --strict: {warnings} warning(s) (exit 1)"
    return f"verdict: no breaking change ({warnings} warning(s), {result.count(Level.INFO)} info; exit 0)"


def _heading(result: DiffResult) -> str:
    old, new = result.old, result.new
    return f"{old.path} ({old.version or 'no version'}) -> {new.path} ({new.version or 'no version'})"


def _counts(result: DiffResult) -> str:
    return ", ".join(f"{result.count(level)} {level.value}" for level in LEVEL_ORDER)


def render_text(result: DiffResult, *, strict: bool, replay: ReplaySide | None = None) -> str:
    """One line per finding, worst first, the reason of each rule seen, the counts, the replay's side, the verdict."""
    lines = [f"conformance diff: {_heading(result)}", ""]
    lines += [
        f"{finding.level.value.upper():<7} {finding.rule}  {place(finding)}: {finding.message}"
        for finding in result.findings
    ]
    if result.findings:
        lines += ["", "why each rule matters:"]
        for rule, count in sorted(Counter(item.rule for item in result.findings).items()):
            spec = RULES[rule]
            # A defect OLD already had is reported a level lower than its rule's: show the levels given.
            levels = "/".join(
                level.value
                for level in LEVEL_ORDER
                if any(item.rule == rule and item.level is level for item in result.findings)
            )
            lines.append(f"  {rule} ({levels}, {spec.side.value}, x{count}): {spec.reason}")
    lines += ["", f"summary: {_counts(result)}"]
    if replay is None:
        lines.append(verdict(result, strict=strict))
    else:
        # One verdict: the diff's own is said as its side, and the joined one is the last line.
        lines += [f"diff: {verdict(result, strict=strict).removeprefix('verdict: ')}", ""]
        lines += [*bump.text_section(replay), bump.verdict(result, replay, strict=strict)]
    return "\n".join(lines) + "\n"


def summary_table(result: DiffResult) -> str:
    """Markdown: one row per rule seen, worst first, with its count and why it matters."""
    # By rule and level: a defect OLD already had is one level below the same rule's new defects.
    counts = Counter((finding.rule, finding.level) for finding in result.findings)
    rows = ["| rule | level | side | count | why it matters |", "|---|---|---|---:|---|"]
    for rule, level in sorted(counts, key=lambda item: (LEVEL_ORDER.index(item[1]), item[0])):
        spec = RULES[rule]
        rows.append(f"| `{rule}` | {level.value} | {spec.side.value} | {counts[rule, level]} | {spec.reason} |")
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: DiffResult, *, strict: bool, replay: ReplaySide | None = None) -> str:
    """The verdict, the summary table, the replay's side (with --replay), then every finding by level."""
    diff_verdict = verdict(result, strict=strict).removeprefix("verdict: ")
    lines = [
        f"## Spec diff: {result.old.version or result.old.path} -> {result.new.version or result.new.path}",
        "",
        *([f"**{_cell(bump.verdict(result, replay, strict=strict))}**", ""] if replay is not None else []),
        f"**{'diff: ' if replay is not None else ''}{diff_verdict}**: {_counts(result)}.",
        "",
        f"OLD `{result.old.path}`, NEW `{result.new.path}`.",
        "",
        summary_table(result),
    ]
    if replay is not None:
        lines += ["", *_replay_markdown(replay)]
    for level in LEVEL_ORDER:
        findings = [finding for finding in result.findings if finding.level is level]
        if not findings:
            continue
        lines += [
            "",
            f"### {level.value} ({len(findings)})",
            "",
            "| rule | where | change | NEW |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| `{item.rule}` | {_cell(place(item))} | {_cell(item.message)} | `{_cell(item.new_pointer or '')}` |"
            for item in findings
        ]
    return "\n".join(lines) + "\n"


def _replay_markdown(side: ReplaySide) -> list[str]:
    def checks(ids: tuple[str, ...]) -> str:
        return ", ".join(f"`{check_id}`" for check_id in ids) or "none"

    return [
        "### Recorded traffic under NEW",
        "",
        f"**{side.status.upper()}** (exit {side.exit_code}): {_cell(side.reason)}",
        "",
        f"- replayed: `{_cell(str(side.cassette_dir))}/` under `{_cell(str(side.spec))}`",
        f"- failed checks: {checks(side.failed_checks)}",
        f"- warned checks: {checks(side.warned_checks)}",
        f"- the replay's reports: `{_cell(str(side.report_dir))}/` (summary.md, report.html)",
    ]


def as_record(result: DiffResult, *, strict: bool, replay: ReplaySide | None = None) -> dict[str, Any]:
    """The diff as data (`conformance/data/diff.schema.json`): what the JSON report holds and a replay joins on."""
    seen = sorted({finding.rule for finding in result.findings})
    return {
        "format": "conformance-diff",
        "version": JSON_VERSION,
        "old": {"path": str(result.old.path), "version": result.old.version},
        "new": {"path": str(result.new.path), "version": result.new.version},
        "strict": strict,
        "exit_code": 1 if result.fails(strict=strict) else 0,
        "counts": {level.value: result.count(level) for level in LEVEL_ORDER},
        "rules": {
            rule: {"level": RULES[rule].level.value, "side": RULES[rule].side.value, "reason": RULES[rule].reason}
            for rule in seen
        },
        "findings": [
            {
                "rule": item.rule, "level": item.level.value, "side": item.side.value, "message": item.message,
                "why": item.why, "operation": item.operation, "status": item.status, "media_type": item.media_type,
                "where": item.where, "property": item.property, "old_pointer": item.old_pointer,
                "new_pointer": item.new_pointer,
            }
            for item in result.findings
        ],
        # With --replay only: an old consumer of the format reads the rest as before.
        **({"replay": bump.as_record(result, replay, strict=strict)} if replay is not None else {}),
    }  # fmt: skip


def render_json(result: DiffResult, *, strict: bool, replay: ReplaySide | None = None) -> str:
    """The record as indented JSON."""
    return json.dumps(as_record(result, strict=strict, replay=replay), indent=2, ensure_ascii=False) + "\n"
