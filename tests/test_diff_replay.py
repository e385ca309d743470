"""`conformance diff OLD NEW --replay` as a user runs it: the diff and the recorded traffic under NEW, one verdict.

Every replay is of the shipped cassettes (recorded from spec/openapi.yaml by the bundled sandbox); NEW is a
copy of that spec with one change, written under tmp_path. A replay blocks the network, so nothing leaves.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from support import ROOT, SPEC, conformance, spec_with, summary

from conformance.diff.command import standalone

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

CASSETTES = ROOT / "cassettes"
DIFF_SCHEMA = ROOT / "conformance" / "data" / "diff.schema.json"
# A value of IntentStatus (GET /checkouts/{id}'s payment_status) that recorded 200 bodies carry.
RECORDED_STATUS = "failed"
BREAKS_ON_REPLAY = (
    "verdict: the bump breaks (exit 1): diff: 0 error-level change(s); "
    "recorded traffic under NEW: NON-CONFORMANT (failed: response.schema)"
)


def unchanged(tmp_path: Path) -> Path:
    return spec_with(tmp_path, lambda _schemas: None)


def without_recorded_status(tmp_path: Path) -> Path:
    return spec_with(tmp_path, lambda schemas: schemas["IntentStatus"]["enum"].remove(RECORDED_STATUS))


def with_new_status(tmp_path: Path) -> Path:
    return spec_with(tmp_path, lambda schemas: schemas["IntentStatus"]["enum"].append("disputed"))


def bump(new: Path, report_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return conformance("diff", str(SPEC), str(new), "--replay", "--report-dir", str(report_dir), *extra)


def last_line(text: str) -> str:
    return text.rstrip("\n").splitlines()[-1]


def test_the_recording_carries_the_status_the_tests_remove() -> None:
    recorded = (CASSETTES / "known_sessions.yaml").read_text(encoding="utf-8")
    assert f'"payment_status": "{RECORDED_STATUS}"' in recorded


def test_an_unchanged_spec_passes_on_both_sides_and_exits_0(tmp_path: Path) -> None:
    result = bump(unchanged(tmp_path), tmp_path / "reports")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "diff: no breaking change" in result.stdout
    assert "recorded traffic under NEW (replay of cassettes/ under" in result.stdout
    assert last_line(result.stdout) == (
        "verdict: the bump passes (exit 0): diff: 0 error-level change(s); recorded traffic under NEW: CONFORMS"
    )
    # The replay's own reports, where a run's go.
    record = summary(tmp_path / "reports")
    assert record["result"]["status"] == "conforms"
    assert record["run"]["mode"] == "replay"
    assert record["run"]["command"].startswith(f"conformance diff {SPEC} ")
    assert (tmp_path / "reports" / "report.html").is_file()


def test_a_removed_response_enum_value_the_recording_uses_is_info_to_the_diff_and_fails_the_replay(
    tmp_path: Path,
) -> None:
    result = bump(without_recorded_status(tmp_path), tmp_path / "reports")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "INFO    response-property-enum-value-removed  GET /checkouts/{id}, 200 response" in result.stdout
    assert "diff: no breaking change" in result.stdout
    assert "  failed checks: response.schema" in result.stdout
    assert last_line(result.stdout) == BREAKS_ON_REPLAY
    checks = {check["id"]: check["status"] for check in summary(tmp_path / "reports")["checks"]}
    assert checks["response.schema"] == "failed"


def test_a_response_enum_value_added_is_a_diff_error_though_the_recording_passes(tmp_path: Path) -> None:
    result = bump(with_new_status(tmp_path), tmp_path / "reports")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ERROR   response-property-enum-value-added" in result.stdout
    assert last_line(result.stdout) == (
        "verdict: the bump breaks (exit 1): diff: 1 error-level change(s); recorded traffic under NEW: CONFORMS"
    )
    assert summary(tmp_path / "reports")["result"]["status"] == "conforms"


def test_a_replay_that_cannot_judge_makes_the_bump_exit_3_whatever_the_diff_says(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    shutil.copytree(CASSETTES, cassettes)
    (cassettes / "known_sessions.yaml").unlink()
    result = bump(with_new_status(tmp_path), tmp_path / "reports", "--cassette-dir", str(cassettes))
    assert result.returncode == 3, result.stdout + result.stderr
    assert last_line(result.stdout).startswith(
        "verdict: the recorded traffic could not be judged (exit 3): diff: 1 error-level change(s); "
        "recorded traffic under NEW: COULD NOT JUDGE (exit 3: GET /checkouts/"
    )


def test_a_missing_cassette_dir_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = bump(unchanged(tmp_path), tmp_path / "reports", "--cassette-dir", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "nowhere/run.json does not exist, so there is nothing to replay" in result.stderr
    assert "--cassette-dir" in result.stderr


def test_a_new_spec_the_replay_cannot_judge_against_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import yaml  # noqa: PLC0415

    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    document["paths"]["/elsewhere/{id}"] = document["paths"].pop("/checkouts/{id}")
    new = tmp_path / "moved.yaml"
    new.write_text(yaml.safe_dump(document), encoding="utf-8")
    # The diff alone reads it (an endpoint removed) ...
    assert conformance("diff", str(SPEC), str(new)).returncode == 1
    # ... and the replay cannot judge GET /checkouts/{id} against it: bad input, before any output.
    result = bump(new, tmp_path / "reports")
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert "has no GET /checkouts/{id} operation" in result.stderr


def test_the_replay_s_folders_without_replay_are_refused_not_ignored(tmp_path: Path) -> None:
    for flag in ("--cassette-dir", "--report-dir"):
        result = conformance("diff", str(SPEC), str(SPEC), flag, str(tmp_path))
        assert result.returncode == 2
        assert result.stderr == f"conformance: error: {flag} is read only with --replay; add --replay, or drop {flag}\n"


def test_an_output_over_a_report_the_replay_writes_is_refused(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    result = bump(unchanged(tmp_path), reports, "--format", "json", "--output", str(reports / "summary.json"))
    assert result.returncode == 2
    assert "is where the replay writes its summary.json" in result.stderr


def _valid(document: dict[str, Any]) -> None:
    Draft202012Validator(json.loads(DIFF_SCHEMA.read_text(encoding="utf-8"))).validate(document)


def test_the_json_report_holds_the_replay_and_validates_against_the_schema(tmp_path: Path) -> None:
    output = tmp_path / "diff.json"
    result = bump(without_recorded_status(tmp_path), tmp_path / "reports", "--format", "json", "--output", str(output))
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(output.read_text(encoding="utf-8"))
    _valid(document)
    assert document["exit_code"] == 0  # the diff's own
    replay = document["replay"]
    assert replay["status"] == "non-conformant"
    assert replay["exit_code"] == 1
    assert replay["failed_checks"] == ["response.schema"]
    assert replay["joined_exit_code"] == 1
    assert replay["report_dir"] == str(tmp_path / "reports")
    assert replay["verdict"] == BREAKS_ON_REPLAY
    # With --output the terminal is free: the replay's lines, then the one verdict last.
    assert last_line(result.stdout) == BREAKS_ON_REPLAY


def test_json_on_stdout_stays_json_and_the_verdict_goes_to_stderr(tmp_path: Path) -> None:
    result = bump(with_new_status(tmp_path), tmp_path / "reports", "--format", "json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    _valid(document)
    assert document["exit_code"] == 1
    assert document["replay"]["exit_code"] == 0
    assert document["replay"]["joined_exit_code"] == 1
    assert "conformance: CONFORMS (exit 0)" in result.stderr
    assert last_line(result.stderr).startswith("verdict: the bump breaks (exit 1): diff: 1 error-level change(s)")


def test_a_diff_without_replay_writes_json_as_before(tmp_path: Path) -> None:
    result = conformance("diff", str(SPEC), str(with_new_status(tmp_path)), "--format", "json")
    document = json.loads(result.stdout)
    _valid(document)
    assert "replay" not in document
    assert result.stderr == ""


def test_the_markdown_report_has_a_section_for_the_recorded_traffic(tmp_path: Path) -> None:
    result = bump(without_recorded_status(tmp_path), tmp_path / "reports", "--format", "md")
    assert result.returncode == 1
    assert f"**{BREAKS_ON_REPLAY}**" in result.stdout
    assert "**diff: no breaking change" in result.stdout
    assert "### Recorded traffic under NEW" in result.stdout
    assert "- failed checks: `response.schema`" in result.stdout
    assert f"- the replay's reports: `{tmp_path / 'reports'}/`" in result.stdout
    assert last_line(result.stderr) == BREAKS_ON_REPLAY


def test_the_sarif_log_carries_the_replay_in_its_run_s_properties(tmp_path: Path) -> None:
    result = bump(without_recorded_status(tmp_path), tmp_path / "reports", "--format", "sarif")
    assert result.returncode == 1
    properties = json.loads(result.stdout)["runs"][0]["properties"]
    assert properties["exit_code"] == 0
    assert properties["replay"]["failed_checks"] == ["response.schema"]
    assert properties["replay"]["joined_exit_code"] == 1


def test_strict_makes_the_replay_s_should_warnings_fail_too(tmp_path: Path) -> None:
    result = bump(unchanged(tmp_path), tmp_path / "reports", "--strict")
    assert result.returncode in (0, 1)
    assert summary(tmp_path / "reports")["run"]["strict"] is True


def test_python_m_conformance_diff_joins_the_replay_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    new = without_recorded_status(tmp_path)
    code = standalone([str(SPEC), str(new), "--replay", "--report-dir", str(tmp_path / "reports")])
    out, _ = capsys.readouterr()
    assert code == 1
    assert last_line(out) == BREAKS_ON_REPLAY
    assert summary(tmp_path / "reports")["run"]["command"].startswith(f"conformance diff {SPEC} ")
