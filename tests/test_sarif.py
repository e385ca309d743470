"""The SARIF log: where each finding points in the spec, relative to the repository, with rules read from the record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support import KEY, ROOT, SPEC, conformance, judge

from conformance.sandbox import seeded_sessions
from conformance.sandbox.variants import VARIANTS
from conformance.spec import pointer_line


def _sarif(variant: str, tmp_path: Path) -> dict[str, Any]:
    # --spec as an absolute path, as CI scripts often give it.
    judge(VARIANTS[variant].api(KEY, seeded_sessions()), tmp_path, spec=SPEC, sarif=tmp_path / "findings.sarif")
    loaded: dict[str, Any] = json.loads((tmp_path / "findings.sarif").read_text(encoding="utf-8"))
    return loaded


def _results(log: dict[str, Any], check_id: str) -> list[dict[str, Any]]:
    return [result for result in log["runs"][0]["results"] if result["ruleId"] == check_id]


def test_an_absolute_spec_path_is_written_relative_to_the_repository_root(tmp_path: Path) -> None:
    log = _sarif("timestamp-epoch", tmp_path)
    assert log["runs"][0]["originalUriBaseIds"] == {"SRCROOT": {"uri": ROOT.resolve().as_uri() + "/"}}
    locations = [result["locations"][0]["physicalLocation"] for result in log["runs"][0]["results"]]
    assert locations
    for location in locations:
        assert location["artifactLocation"] == {"uri": "spec/openapi.yaml", "uriBaseId": "SRCROOT"}
    assert str(ROOT) not in json.dumps(locations)


def test_a_schema_finding_points_at_the_failing_property_s_line(tmp_path: Path) -> None:
    # created_at as an epoch number: the failure is in properties.created_at, not at the schema's first line.
    results = _results(_sarif("timestamp-epoch", tmp_path), "response.schema")
    assert results
    pointer = "#/components/schemas/GetCheckoutSessionsStatus/properties/created_at"
    for result in results:
        location = result["locations"][0]
        assert location["logicalLocations"] == [{"fullyQualifiedName": pointer}]
        assert location["physicalLocation"]["region"] == {"startLine": pointer_line(SPEC, pointer)}
    schema_line = pointer_line(SPEC, "#/components/schemas/GetCheckoutSessionsStatus")
    assert pointer_line(SPEC, pointer) != schema_line


def test_a_missing_required_property_points_at_that_property(tmp_path: Path) -> None:
    import yaml  # noqa: PLC0415

    from conformance.sarif import _property_pointer  # noqa: PLC0415 - the walk through the schema, alone

    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    schema = "#/components/schemas/GetCheckoutSessionsStatus"
    assert _property_pointer(document, schema, "the body: 'id' is a required property") == f"{schema}/properties/id"
    # Into a oneOf branch's $ref: the property's own line, then as deep as the schema goes.
    assert _property_pointer(document, schema, "/payment_status: 'x' is not valid") == (
        f"{schema}/properties/payment_status"
    )
    assert _property_pointer(document, schema, "a JSON object") == schema
    del tmp_path


def test_a_finding_of_a_check_whose_reference_is_an_rfc_is_located_at_the_operation(tmp_path: Path) -> None:
    # transport.reply's reference is "RFC 9110; RFC 9112; #/paths/...": the RFCs name no line of the spec.
    log = _sarif("folded-header", tmp_path)
    results = _results(log, "transport.reply")
    assert results
    operation = "#/paths/~1checkouts~1{id}/get"
    for result in results:
        location = result["locations"][0]
        assert location["logicalLocations"] == [{"fullyQualifiedName": operation}]
        assert location["physicalLocation"]["region"] == {"startLine": pointer_line(SPEC, operation)}
    rule = next(rule for rule in log["runs"][0]["tool"]["driver"]["rules"] if rule["id"] == "transport.reply")
    assert "RFC 9110; RFC 9112" in rule["help"]["text"]
    assert rule["help"]["text"].startswith("Every request gets a complete, well-formed HTTP response")
    assert "RFC 9112" in rule["fullDescription"]["text"]


def test_rules_come_from_the_record_so_an_old_summary_keeps_its_own_requirements(tmp_path: Path) -> None:
    judge(VARIANTS["timestamp-epoch"].api(KEY, seeded_sessions()), tmp_path, spec=SPEC)
    summary_path = tmp_path / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    for item in summary["checks"]:
        if item["id"] == "response.schema":
            item["requirement"] = "An older sentence of this requirement."
            item["spec_ref"] = "#/components/schemas/GetCheckoutSessionsStatus/properties"
    summary["checks"] = [item for item in summary["checks"] if item["id"] != "errors.json_body"]
    summary_path.write_text(json.dumps(summary), encoding="utf-8")
    rendered = conformance("report", str(summary_path), "--format", "sarif")
    assert rendered.returncode == 0, rendered.stderr
    rules = {rule["id"]: rule for rule in json.loads(rendered.stdout)["runs"][0]["tool"]["driver"]["rules"]}
    assert "errors.json_body" not in rules
    assert rules["response.schema"]["shortDescription"]["text"] == "An older sentence of this requirement."
    assert rules["response.schema"]["help"]["text"] == (
        "An older sentence of this requirement. (MUST; spec: #/components/schemas/GetCheckoutSessionsStatus/properties)"
    )


def test_a_spec_outside_any_repository_is_relative_to_the_current_folder(tmp_path: Path) -> None:
    import shutil  # noqa: PLC0415

    spec = tmp_path / "contract" / "openapi.yaml"
    spec.parent.mkdir()
    shutil.copy(SPEC, spec)
    judge(VARIANTS["timestamp-epoch"].api(KEY, seeded_sessions()), tmp_path / "reports", spec=spec)
    rendered = conformance("report", str(tmp_path / "reports" / "summary.json"), "--format", "sarif", cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    run = json.loads(rendered.stdout)["runs"][0]
    if any((folder / ".git").exists() for folder in tmp_path.parents):
        return  # the temporary folder is inside a repository here: its root is the base, as the first test shows
    assert run["originalUriBaseIds"] == {"SRCROOT": {"uri": tmp_path.resolve().as_uri() + "/"}}
    location = run["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "contract/openapi.yaml", "uriBaseId": "SRCROOT"}


def test_a_summary_naming_a_spec_no_file_can_have_still_renders_as_sarif(tmp_path: Path) -> None:
    # An edited or foreign summary.json: a NUL, or a name longer than the file system takes. The log names
    # the spec as given and locates nothing in it, instead of an internal error.
    judge(VARIANTS["timestamp-epoch"].api(KEY, seeded_sessions()), tmp_path, spec=SPEC)
    summary_path = tmp_path / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    for spec in ("spec/\u0000openapi.yaml", "spec/" + "x" * 5000 + ".yaml"):
        summary["run"]["spec"] = spec
        summary_path.write_text(json.dumps(summary), encoding="utf-8")
        rendered = conformance("report", str(summary_path), "--format", "sarif")
        assert rendered.returncode == 0, rendered.stderr
        location = json.loads(rendered.stdout)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
        assert "region" not in location
        assert location["artifactLocation"]["uri"].startswith("spec/")
