"""junit.xml: one test case per check, and one for the run itself when it could not judge or was interrupted."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from conformance.record import neutralised
from conformance.report_words import OPERATION

if TYPE_CHECKING:
    from conformance.record import FindingGroup, RunRecord


def render_junit(record: RunRecord) -> str:
    """JUnit XML: one test case per check, and one for the run itself when it could not judge or was interrupted.

    Only characters XML 1.0 allows: the record's are made inert first (ElementTree would write a NUL as it is).
    """
    record = neutralised(record)
    result = record.result
    suite = ET.Element(
        "testsuite", name=f"conformance {OPERATION}", timestamp=record.run.started,
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
