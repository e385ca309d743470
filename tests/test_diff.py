"""`conformance diff OLD NEW` as a user runs it: exit codes, the formats, bad input, the real 1.105 -> 1.113 bump."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator, validators
from support import ROOT

from conformance.diff import diff_files
from conformance.diff.command import add_parser, main, standalone

# Dodo's public documents before and after the bump the README shows, bundled in spec/ beside the gate's own.
OLD_REAL, NEW_REAL = ROOT / "spec" / "dodo-openapi-1.105.0.json", ROOT / "spec" / "dodo-openapi-1.113.0.json"
DIFF_SCHEMA = ROOT / "conformance" / "data" / "diff.schema.json"
SARIF_SCHEMA_FILE = ROOT / "node_modules" / "@microsoft" / "jest-sarif" / "lib" / "schemas" / "sarif-2.1.0-rtm.5.json"


def spec(response_enum: list[str], *, extra_path: bool = False, pattern: str | None = None) -> dict[str, Any]:
    """GET /things answering an enum (a response: a value added is an error), with a query parameter."""
    parameter_schema: dict[str, Any] = {"type": "string"}
    if pattern is not None:
        parameter_schema["pattern"] = pattern
    content = {"application/json": {"schema": {"type": "object", "properties": {
        "status": {"type": "string", "enum": response_enum}}}}}  # fmt: skip
    paths: dict[str, Any] = {"/things": {"get": {
        "parameters": [{"name": "q", "in": "query", "schema": parameter_schema}],
        "responses": {"200": {"description": "ok", "content": content}},
    }}}  # fmt: skip
    if extra_path:
        paths["/more"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": paths}


def write(path: Path, document: object) -> Path:
    # indent=1 puts every key on a line of its own, so that a SARIF line can be checked by eye and by test.
    path.write_text(json.dumps(document, indent=1) if not isinstance(document, str) else document, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = standalone([str(arg) for arg in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_bump_with_only_info_changes_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = write(tmp_path / "old.json", spec(["a"])), write(tmp_path / "new.json", spec(["a"], extra_path=True))
    code, out, _ = run(capsys, old, new)
    assert code == 0
    assert "endpoint-added" in out
    assert out.rstrip().splitlines()[-1].startswith("verdict: no breaking change")


def test_an_error_level_change_exits_1_and_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = write(tmp_path / "old.json", spec(["a"])), write(tmp_path / "new.json", spec(["a", "b"]))
    code, out, _ = run(capsys, old, new)
    assert code == 1
    assert "ERROR   response-property-enum-value-added  GET /things, 200 response (application/json), status" in out
    assert "SDKs validate enums strictly" in out
    assert out.rstrip().splitlines()[-1] == "verdict: breaking: 1 error-level change(s) (exit 1)"


def test_warnings_alone_pass_and_fail_only_under_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write(tmp_path / "old.json", spec(["a"], pattern="^a"))
    new = write(tmp_path / "new.json", spec(["a"], pattern="^b"))
    assert run(capsys, old, new)[0] == 0
    code, out, _ = run(capsys, old, new, "--strict")
    assert code == 1
    assert "request-parameter-pattern-changed" in out


def test_identical_documents_have_no_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = write(tmp_path / "old.json", spec(["a"])), write(tmp_path / "new.json", spec(["a"]))
    code, out, _ = run(capsys, old, new, "--strict")
    assert code == 0
    assert "summary: 0 error, 0 warning, 0 info" in out


def test_yaml_documents_are_read_like_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml  # noqa: PLC0415

    old = write(tmp_path / "old.yaml", yaml.safe_dump(spec(["a"])))
    new = write(tmp_path / "new.yaml", yaml.safe_dump(spec(["a", "b"])))
    assert run(capsys, old, new)[0] == 1


def test_the_json_report_follows_its_schema_and_holds_every_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = (
        write(tmp_path / "old.json", spec(["a"])),
        write(tmp_path / "new.json", spec(["a", "b"], extra_path=True)),
    )
    code, out, _ = run(capsys, old, new, "--format", "json")
    record = json.loads(out)
    Draft202012Validator(json.loads(DIFF_SCHEMA.read_text(encoding="utf-8"))).validate(record)
    assert code == record["exit_code"] == 1
    assert record["counts"] == {"error": 1, "warning": 0, "info": 1}
    assert [item["rule"] for item in record["findings"]] == ["response-property-enum-value-added", "endpoint-added"]
    assert record["findings"][0]["status"] == "200"
    assert record["rules"]["response-property-enum-value-added"]["level"] == "error"


def test_the_markdown_report_has_the_verdict_and_one_row_per_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = (
        write(tmp_path / "old.json", spec(["a"])),
        write(tmp_path / "new.json", spec(["a", "b"], extra_path=True)),
    )
    _, out, _ = run(capsys, old, new, "--format", "md")
    assert "**breaking: 1 error-level change(s) (exit 1)**" in out
    assert "| `response-property-enum-value-added` | error | response | 1 |" in out
    assert "| `endpoint-added` | info | api | 1 |" in out


def test_sarif_locates_each_finding_at_new_s_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    changed = spec(["a", "zebra"])
    properties = changed["paths"]["/things"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    properties["properties"]["giraffe"] = {"type": "string"}
    old, new = write(tmp_path / "old.json", spec(["a"])), write(tmp_path / "new.json", changed)
    code, out, _ = run(capsys, old, new, "--format", "sarif")
    log = json.loads(out)
    assert log["version"] == "2.1.0"
    (run_,) = log["runs"]
    results = {result["ruleId"]: result for result in run_["results"]}
    assert code == 1
    assert {rule: result["level"] for rule, result in results.items()} == {
        "response-property-enum-value-added": "error",
        "response-optional-property-added": "note",
    }
    lines = new.read_text().splitlines()
    for rule, text in (
        ("response-property-enum-value-added", '"zebra"'),
        ("response-optional-property-added", '"giraffe"'),
    ):
        result = results[rule]
        assert run_["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == rule
        line = next(number for number, content in enumerate(lines, 1) if text in content)
        assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == line
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("new.json")


def test_output_writes_the_report_to_a_file_and_not_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = write(tmp_path / "old.json", spec(["a"])), write(tmp_path / "new.json", spec(["a", "b"]))
    code, out, _ = run(capsys, old, new, "--format", "json", "--output", tmp_path / "out" / "diff.json")
    assert (code, out) == (1, "")
    assert json.loads((tmp_path / "out" / "diff.json").read_text())["exit_code"] == 1


def _bad(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    good = str(write(tmp_path / "good.json", spec(["a"])))

    def doc(name: str, content: object) -> str:
        return str(write(tmp_path / name, content))

    def ref(target: str) -> dict[str, Any]:
        return {**spec(["a"]), "components": {"schemas": {"A": {"$ref": target}}}}

    return {
        "missing file": ([good, str(tmp_path / "nope.json")], "NEW spec"),
        "a folder": ([str(tmp_path), good], "OLD"),
        "not JSON or YAML": ([good, doc("broken.json", "{nope")], "is not valid JSON or YAML"),
        "swagger 2.0": ([doc("swagger.json", {"swagger": "2.0", "paths": {}}), good], "it says swagger 2.0"),
        "no openapi field": ([good, doc("none.json", {"paths": {}})], "not an OpenAPI 3.x document"),
        "a $ref that resolves nowhere": (
            [good, doc("dangling.json", ref("#/components/schemas/Gone"))],
            "does not resolve",
        ),
        "a $ref loop": ([good, doc("loop.json", ref("#/components/schemas/A"))], "loops"),
        "a $ref to another file": ([good, doc("external.json", ref("other.yaml#/A"))], "points outside the document"),
        "a report written over NEW": ([good, good, "--output", good], "one of the documents compared"),
        "a report inside a file": ([good, good, "--output", f"{good}/x.md"], "which is a file"),
        "an unknown format": ([good, good, "--format", "html"], "invalid choice"),
        "an abbreviated flag": ([good, good, "--str"], "unrecognized arguments"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "a folder",
        "not JSON or YAML",
        "swagger 2.0",
        "no openapi field",
        "a $ref that resolves nowhere",
        "a $ref loop",
        "a $ref to another file",
        "a report written over NEW",
        "a report inside a file",
        "an unknown format",
        "an abbreviated flag",
    ],
)
def test_bad_input_is_one_line_naming_the_cause_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    args, cause = _bad(tmp_path)[case]
    try:
        code, out, err = run(capsys, *args)
    except SystemExit as stop:  # argparse's own refusals end through exit(), as they do under `conformance`
        code, (out, err) = int(stop.code or 0), capsys.readouterr()
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("conformance: error: ")
    assert cause in err
    assert "Traceback" not in err


def test_python_m_conformance_diff_runs_the_command_alone(tmp_path: Path) -> None:
    old, new = write(tmp_path / "old.json", spec(["a"])), write(tmp_path / "new.json", spec(["a", "b"]))
    done = subprocess.run(
        [sys.executable, "-m", "conformance.diff", str(old), str(new), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["counts"]["error"] == 1
    missing = subprocess.run(
        [sys.executable, "-m", "conformance.diff", str(old), str(tmp_path / "gone.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "Traceback" not in missing.stderr


def test_the_subcommand_hooked_into_a_parent_parser_runs_as_conformance_diff(tmp_path: Path) -> None:
    # What cli.py does once the integrator adds the hook: add_parser on its subparsers, main on the arguments.
    parser = argparse.ArgumentParser(prog="conformance")
    add_parser(parser.add_subparsers(dest="command", required=True))
    old, new = write(tmp_path / "old.json", spec(["a"])), write(tmp_path / "new.json", spec(["a", "b"]))
    arguments = parser.parse_args(["diff", str(old), str(new), "--output", str(tmp_path / "d.md"), "--format", "md"])
    assert main(arguments) == 1
    assert "response-property-enum-value-added" in (tmp_path / "d.md").read_text()


def test_the_real_bump_from_1_105_to_1_113_is_reported() -> None:
    started = time.monotonic()
    result = diff_files(OLD_REAL, NEW_REAL)
    elapsed = time.monotonic() - started
    # A few seconds on a quiet machine; generous here, for a busy one.
    assert elapsed < 60
    by_rule: dict[str, list[Any]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule, []).append(finding)
    added = [item.operation for item in by_rule["endpoint-added"] if not (item.operation or "").startswith("OPTIONS")]
    assert len({(operation or "").split(" ", 1)[1] for operation in added}) == 20
    sunbit = [item for item in by_rule["request-property-enum-value-removed"] if '"sunbit"' in item.message]
    assert any(
        item.operation == "POST /checkouts" and item.property == "allowed_payment_method_types[]" for item in sunbit
    )
    assert all(item.level.value == "error" for item in sunbit)
    flags = {item.property for item in by_rule["new-optional-request-property"] if item.operation == "POST /checkouts"}
    assert flags == {"feature_flags.allow_editing_addons", "feature_flags.single_page"}
    widened = [
        item for item in by_rule["request-property-list-of-types-widened"] if item.operation == "POST /checkouts"
    ]
    assert [(item.property, item.level.value) for item in widened] == [("metadata.*", "info")]
    assert any(
        item.property and item.property.endswith("metadata.*")
        for item in by_rule["response-property-list-of-types-widened"]
    )
    (overlap,) = [item for item in by_rule["schema-one-of-overlap"] if item.level.value == "error"]
    assert overlap.new_pointer == "#/components/schemas/Metadata/additionalProperties"
    assert "used by 33 schemas" in overlap.message
    assert [item for item in result.findings if item.operation == "GET /checkouts/{id}"] == []
    assert result.fails(strict=False)


def test_the_summary_counts_a_rule_once_per_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overlap = {"oneOf": [{"type": "integer"}, {"type": "number"}]}
    components = {"schemas": {"Old": overlap, "New": {"type": "string"}}}
    old = write(tmp_path / "old.json", {**spec(["a"]), "components": components})
    new_components = {"schemas": {"Old": overlap, "New": overlap}}
    new = write(tmp_path / "new.json", {**spec(["a"]), "components": new_components})
    _, out, _ = run(capsys, old, new, "--format", "md")
    assert "| `schema-one-of-overlap` | error | spec | 1 |" in out
    assert "| `schema-one-of-overlap` | warning | spec | 1 |" in out


def test_a_report_that_cannot_be_written_at_the_end_exits_74_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance import files  # noqa: PLC0415
    from conformance.errors import OutputNotWrittenError  # noqa: PLC0415

    def full_disk(outputs: dict[Path, str]) -> None:
        raise OutputNotWrittenError(next(iter(outputs)), OSError(28, "No space left on device"))

    monkeypatch.setattr(files, "write_together", full_disk)
    old, new = write(tmp_path / "old.json", spec(["a"])), write(tmp_path / "new.json", spec(["a", "b"]))
    code, out, err = run(capsys, old, new, "--output", tmp_path / "diff.txt")
    assert (code, out) == (74, "")
    assert err.count("\n") == 1
    assert "No space left on device" in err


def test_the_sarif_log_of_the_real_bump_is_valid_sarif(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not SARIF_SCHEMA_FILE.exists():
        pytest.skip("the SARIF schema comes with the npm packages: install Node.js 20 with npm, then 'make test'")
    code, _, _ = run(capsys, OLD_REAL, NEW_REAL, "--format", "sarif", "--output", tmp_path / "diff.sarif")
    schema = json.loads(SARIF_SCHEMA_FILE.read_text(encoding="utf-8"))
    log = json.loads((tmp_path / "diff.sarif").read_text(encoding="utf-8"))
    validators.validator_for(schema)(schema).validate(log)
    assert code == 1
    assert len(log["runs"][0]["results"]) == len(diff_files(OLD_REAL, NEW_REAL).findings)
