"""Where each report puts what: warnings apart from failures, and a table that is no verdict says so."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from support import KEY, conformance, judge

from conformance.sandbox import CheckoutApi, Reply, seeded_sessions
from conformance.sandbox.variants import VARIANTS

NO_VERDICT = (
    "the run could not judge the target, so this table is no verdict: its FAIL rows are findings to read, "
    "and its PASS rows do not mean the target passes"
)


def _section(page: str, section_id: str) -> str | None:
    """The HTML of one section of report.html, or None when the page has none."""
    match = re.search(rf'<section id="{section_id}">(.*?)</section>', page, re.DOTALL)
    return match.group(1) if match else None


class FailsThenKeepsAnswering429(CheckoutApi):
    """Its first 5 answers are 500s; from then on only 429s, so the run stops as could not judge."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self._count = itertools.count(1)
        self._lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:  # noqa: ARG002 - what it answers depends on the count alone
        with self._lock:
            number = next(self._count)
        if number <= 5:
            return Reply.error(500, "INTERNAL", "Something went wrong")
        reply = Reply.error(429, "RATE_LIMITED", "Slow down")
        return replace(reply, headers={**reply.headers, "Retry-After": "0"})


def test_fail_rows_in_a_run_that_could_not_judge_are_said_to_be_no_verdict_in_every_table(tmp_path: Path) -> None:
    said: list[str] = []
    outcome = judge(FailsThenKeepsAnswering429(), tmp_path, lines=said)
    assert outcome.exit_code == 3
    assert any(item.status == "failed" for item in outcome.record.checks)
    table_end = said.index(next(line for line in said if line.startswith("RESULT"))) + len(outcome.record.checks)
    assert said[table_end + 1] == f"({NO_VERDICT})"
    assert f"_{NO_VERDICT}._" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    checks = _section((tmp_path / "report.html").read_text(encoding="utf-8"), "checks")
    assert checks is not None
    assert f'<p class="partial">{NO_VERDICT}.</p>' in checks
    rendered = conformance("report", str(tmp_path / "summary.json"), "--format", "md")
    assert f"_{NO_VERDICT}._" in rendered.stdout


def test_a_run_that_judged_says_nothing_of_the_kind(tmp_path: Path) -> None:
    said: list[str] = []
    outcome = judge(VARIANTS["server-error-by-character"].api(KEY, seeded_sessions()), tmp_path, lines=said)
    assert outcome.exit_code == 1
    assert not [line for line in said if "no verdict" in line]
    assert "no verdict" not in (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "no verdict" not in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_a_report_with_should_warnings_only_shows_them_as_warnings(tmp_path: Path) -> None:
    # Bare error bodies break only the SHOULD errors.json_body: the run conforms, with a warning.
    outcome = judge(VARIANTS["bare-errors"].api(KEY, seeded_sessions()), tmp_path)
    assert outcome.exit_code == 0
    warned = [item.id for item in outcome.record.checks if item.status == "warned"]
    assert warned == ["errors.json_body"]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "No requirement failed" not in page
    assert _section(page, "failed-requirements") is None
    warnings = _section(page, "warnings")
    assert warnings is not None
    assert "<h2>Warnings (SHOULD)</h2>" in warnings
    assert 'id="check-errors.json_body"' in warnings
    # The first card is open, so that the warning is seen without a click.
    assert '<details class="group"' in warnings
    assert " open>" in warnings.split('<details class="ids">')[0]
