"""Every report of four kinds of run is valid against its schema, shows the grouped findings first, and reads well."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.validators import validator_for
from support import KEY, ROOT, conformance, judge

from conformance.record import RunRecord
from conformance.sandbox import seeded_sessions
from conformance.sandbox.variants import KeyCaseInsensitive, ServerErrorByCharacter, UnknownPaymentStatus
from conformance.spec import pointer_line

SUMMARY_SCHEMA = json.loads((ROOT / "conformance" / "data" / "summary.schema.json").read_text(encoding="utf-8"))
JUNIT_SCHEMA = xmlschema.XMLSchema(ROOT / "tests" / "data" / "junit.xsd")
SARIF_SCHEMA_FILE = ROOT / "node_modules" / "@microsoft" / "jest-sarif" / "lib" / "schemas" / "sarif-2.1.0-rtm.5.json"
BROWSER_SCRIPT = ROOT / "tests" / "browser" / "report_layout.mjs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class ThreeFaults(UnknownPaymentStatus, ServerErrorByCharacter, KeyCaseInsensitive):
    """One session's status is unknown, non-ASCII ids get 500, and the key is compared without case."""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A passing run, a run with three faults at once, one that could not judge, and a replay."""
    base = tmp_path_factory.mktemp("runs")
    made = {name: base / name for name in ("passing", "three faults", "could not judge", "replay")}
    for name, report_dir in made.items():
        sarif = ["--sarif", str(report_dir / "findings.sarif")]
        if name == "passing":
            result = conformance("run", "--sandbox", "--report-dir", str(report_dir), "--max-examples", "10", *sarif)
        elif name == "three faults":
            judge(ThreeFaults(KEY, seeded_sessions()), report_dir, sarif=report_dir / "findings.sarif")
            continue
        elif name == "could not judge":
            result = conformance(
                "run", "--base-url", "http://127.0.0.1:9", "--report-dir", str(report_dir), *sarif,
                env={"DODO_PAYMENTS_API_KEY": KEY},
            )  # fmt: skip
        else:
            result = conformance("run", "--replay", "--report-dir", str(report_dir), *sarif)
        assert result.returncode in (0, 3), result.stdout + result.stderr
        assert f", SARIF: {report_dir / 'findings.sarif'}" in result.stdout  # the terminal says where it went
    return made


RUNS = ["passing", "three faults", "could not judge", "replay"]


@pytest.mark.parametrize("run", RUNS)
def test_the_record_is_valid_and_reads_back_unchanged(runs: dict[str, Path], run: str) -> None:
    data = json.loads((runs[run] / "summary.json").read_text(encoding="utf-8"))
    Draft202012Validator(SUMMARY_SCHEMA, format_checker=FormatChecker()).validate(data)
    assert json.loads(RunRecord.read(runs[run] / "summary.json").to_text()) == data


@pytest.mark.parametrize("run", RUNS)
def test_the_junit_report_is_valid_junit(runs: dict[str, Path], run: str) -> None:
    JUNIT_SCHEMA.validate(runs[run] / "junit.xml")
    text = (runs[run] / "junit.xml").read_text(encoding="utf-8")
    assert ('<testcase classname="conformance" name="run"' in text) is (run == "could not judge")


@pytest.mark.parametrize("run", RUNS)
def test_the_sarif_log_is_valid_sarif(runs: dict[str, Path], run: str) -> None:
    if not SARIF_SCHEMA_FILE.exists():
        pytest.skip("the SARIF schema comes with the npm packages: install Node.js 20 with npm, then 'make test'")
    schema = json.loads(SARIF_SCHEMA_FILE.read_text(encoding="utf-8"))
    log = json.loads((runs[run] / "findings.sarif").read_text(encoding="utf-8"))
    validator_for(schema)(schema).validate(log)
    record = RunRecord.read(runs[run] / "summary.json")
    assert len(log["runs"][0]["results"]) == len(record.groups)


def test_each_finding_group_is_one_sarif_result_at_the_spec_line_of_its_requirement(runs: dict[str, Path]) -> None:
    log = json.loads((runs["three faults"] / "findings.sarif").read_text(encoding="utf-8"))
    results = {result["ruleId"]: result for result in log["runs"][0]["results"]}
    assert set(results) == {"response.schema", "response.no_server_error", "auth.wrong_key"}
    location = results["response.no_server_error"]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "spec/openapi.yaml"
    assert location["region"]["startLine"] == pointer_line(
        ROOT / "spec" / "openapi.yaml", "#/paths/~1checkouts~1{id}/get/responses/500"
    )
    lines = (ROOT / "spec" / "openapi.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[location["region"]["startLine"] - 1].strip().startswith("'500'")


def test_one_fault_is_one_group_however_many_ids_hit_it(runs: dict[str, Path]) -> None:
    record = RunRecord.read(runs["three faults"] / "summary.json")
    by_check = {group.check: group for group in record.groups}
    assert len(record.groups) == 3
    server_errors = by_check["response.no_server_error"]
    assert server_errors.count > 5
    assert len(server_errors.checkout_ids) == server_errors.count
    assert all(not checkout_id.isascii() for checkout_id in server_errors.checkout_ids)
    # Shown decoded, sent encoded.
    assert "%" not in server_errors.example.checkout_id
    assert "%" in server_errors.example.id_sent


def test_the_markdown_summary_leads_with_the_groups(runs: dict[str, Path]) -> None:
    text = (runs["three faults"] / "summary.md").read_text(encoding="utf-8")
    assert text.index("## Findings, grouped by cause") < text.index("## Checks")
    record = RunRecord.read(runs["three faults"] / "summary.json")
    for group in record.groups:
        assert f"({group.id})" in text
        assert group.replay in text


def test_a_replay_names_the_recorded_target_in_urls_and_curl_lines(runs: dict[str, Path]) -> None:
    text = (runs["replay"] / "summary.json").read_text(encoding="utf-8")
    record = RunRecord.read(runs["replay"] / "summary.json")
    assert "127.0.0.1:9" not in text
    assert "recorded from bundled sandbox" in record.run.target


def test_a_saved_run_renders_again_exactly(runs: dict[str, Path]) -> None:
    for form, written in (("md", "summary.md"), ("html", "report.html"), ("junit", "junit.xml")):
        result = conformance("report", str(runs["three faults"] / "summary.json"), "--format", form)
        assert result.stdout == (runs["three faults"] / written).read_text(encoding="utf-8")


def _look(page: Path, tmp_path: Path, *flags: str) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(
            "Chromium is missing: install Debian's chromium package (apt-get install chromium) to look at the page"
        )
    if not (ROOT / "node_modules" / "playwright-core").exists():
        pytest.skip("playwright-core is missing: install Node.js 20 with npm, then 'make test' (it runs npm ci)")
    result = subprocess.run(
        ["node", str(BROWSER_SCRIPT), str(page), str(tmp_path / "page.png"), *flags],
        capture_output=True, text=True, timeout=120, check=False, env={"CHROMIUM": CHROMIUM, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "page.png").stat().st_size > 10_000
    seen: dict[str, Any] = json.loads(result.stdout)
    return seen


@pytest.mark.parametrize("run", ["three faults", "passing"])
def test_the_first_screen_shows_the_verdict_the_first_card_and_the_table(
    runs: dict[str, Path], tmp_path: Path, run: str
) -> None:
    seen = _look(runs[run] / "report.html", tmp_path)
    height = seen["viewport"]["height"]
    assert seen["verdict"]["visible"]
    assert seen["verdict"]["top"] < 50
    assert seen["table"]["top"] < height - 100
    if run == "three faults":
        assert seen["first_card"]["top"] < height - 200
    else:
        assert seen["first_card"] is None
    assert seen["wrapped_check_ids"] == []
    assert not seen["horizontal_overflow"]
    assert seen["errors"] == []
    # Self-contained: nothing is fetched from anywhere.
    assert seen["requests"] == []
    assert seen["filters_visible"]
    assert seen["copy_buttons"] > 0 or run == "passing"


def test_without_javascript_the_page_still_reads_and_hides_what_needs_it(runs: dict[str, Path], tmp_path: Path) -> None:
    seen = _look(runs["three faults"] / "report.html", tmp_path, "--no-js")
    assert seen["first_card"]["visible"]
    assert seen["table"]["visible"]
    assert not seen["filters_visible"]
    assert seen["copy_buttons"] == 0


def test_the_facts_say_how_the_answers_came_without_calling_a_test_target_live(runs: dict[str, Path]) -> None:
    # "live" is Dodo's word for real-money mode: a sandbox run must not be labelled with it.
    said = {run: (runs[run] / "report.html").read_text(encoding="utf-8") for run in ("passing", "replay")}
    assert "</code> (requests sent)</dd>" in said["passing"]
    assert "</code> (replayed from cassettes)</dd>" in said["replay"]
    assert not any("(live)" in page for page in said.values())
