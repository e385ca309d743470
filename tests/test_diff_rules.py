"""Each rule of `conformance diff` on a pair of small specs, on the side it breaks and on the side it does not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from conformance.diff import DiffResult, diff_files
from conformance.diff.catalogue import RULES

CASES = json.loads((Path(__file__).parent / "data" / "diff" / "schema_changes.json").read_text(encoding="utf-8"))


def api(paths: dict[str, Any], version: str = "1", **extra: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": version}, "paths": paths, **extra}


def ok(schema: Any = None, media: str = "application/json") -> dict[str, Any]:
    response: dict[str, Any] = {"description": "ok"}
    if schema is not None:
        response["content"] = {media: {"schema": schema}}
    return response


def both_sides(field: Any) -> dict[str, Any]:
    """POST /things whose request body and 200 response are the same object, with `field` as a property."""
    schema = {"type": "object", "properties": {"field": field}}
    body = {"required": True, "content": {"application/json": {"schema": copy.deepcopy(schema)}}}
    return api({"/things": {"post": {"requestBody": body, "responses": {"200": ok(copy.deepcopy(schema))}}}})


def diff(tmp_path: Path, old: dict[str, Any], new: dict[str, Any]) -> DiffResult:
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    (tmp_path / "new.json").write_text(json.dumps(new), encoding="utf-8")
    return diff_files(tmp_path / "old.json", tmp_path / "new.json")


def found(result: DiffResult, side: str | None = None) -> set[tuple[str, str]]:
    return {(item.rule, item.level.value) for item in result.findings if side is None or item.side.value == side}


@pytest.mark.parametrize("case", CASES["cases"], ids=[case["description"] for case in CASES["cases"]])
def test_a_schema_change_is_judged_for_the_side_it_is_on(tmp_path: Path, case: dict[str, Any]) -> None:
    result = diff(tmp_path, both_sides(case["old"]), both_sides(case["new"]))
    assert found(result, "request") == {tuple(pair) for pair in case["request"]}
    assert found(result, "response") == {tuple(pair) for pair in case["response"]}


def test_the_response_enum_rule_says_why_dodo_makes_it_an_error() -> None:
    reason = RULES["response-property-enum-value-added"].reason
    assert "SDK" in reason
    assert "strict" in reason


def test_a_finding_names_operation_status_media_type_property_and_both_pointers(tmp_path: Path) -> None:
    old = both_sides({"type": "string", "enum": ["card"]})
    new = both_sides({"type": "string", "enum": ["card", "satispay"]})
    (finding,) = [item for item in diff(tmp_path, old, new).findings if item.side.value == "response"]
    assert finding.operation == "POST /things"
    assert finding.status == "200"
    assert finding.media_type == "application/json"
    assert finding.property == "field"
    assert (
        finding.old_pointer
        == "#/paths/~1things/post/responses/200/content/application~1json/schema/properties/field/enum"
    )
    assert finding.new_pointer == (
        "#/paths/~1things/post/responses/200/content/application~1json/schema/properties/field/enum/1"
    )
    assert '"satispay"' in finding.message


def test_a_change_at_the_body_root_and_in_a_parameter_has_its_own_place(tmp_path: Path) -> None:
    def spec(values: list[str]) -> dict[str, Any]:
        enum = {"type": "string", "enum": values}
        parameter = {"name": "kind", "in": "query", "schema": enum}
        body = {"content": {"application/json": {"schema": enum}}}
        return api(
            {"/things": {"post": {"parameters": [parameter], "requestBody": body, "responses": {"200": ok(enum)}}}}
        )

    result = diff(tmp_path, spec(["a", "b"]), spec(["a"]))
    assert found(result) == {
        ("request-parameter-enum-value-removed", "error"),
        ("request-body-enum-value-removed", "error"),
        ("response-body-enum-value-removed", "info"),
    }


def test_a_shared_component_is_reported_for_every_operation_that_uses_it(tmp_path: Path) -> None:
    def spec(values: list[str]) -> dict[str, Any]:
        ref = {"$ref": "#/components/schemas/Kind"}
        components = {"schemas": {"Kind": {"type": "string", "enum": values}}}
        return api(
            {"/a": {"get": {"responses": {"200": ok(ref)}}}, "/b": {"get": {"responses": {"200": ok(ref)}}}},
            components=components,
        )

    result = diff(tmp_path, spec(["a"]), spec(["a", "b"]))
    assert sorted(item.operation or "" for item in result.findings) == ["GET /a", "GET /b"]
    assert {item.new_pointer for item in result.findings} == {"#/components/schemas/Kind/enum/1"}


def test_a_schema_that_contains_itself_is_walked_once_and_its_change_found(tmp_path: Path) -> None:
    def spec(values: list[str]) -> dict[str, Any]:
        node = {"type": "object", "properties": {
            "kind": {"type": "string", "enum": values},
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
        }}  # fmt: skip
        return api(
            {"/tree": {"get": {"responses": {"200": ok({"$ref": "#/components/schemas/Node"})}}}},
            components={"schemas": {"Node": node}},
        )

    result = diff(tmp_path, spec(["a"]), spec(["a", "b"]))
    assert [(item.rule, item.property) for item in result.findings] == [("response-property-enum-value-added", "kind")]


# Operations, parameters, bodies, statuses, media types and security: each rule on the side that breaks, and
# the change that is harmless beside it.
def _op(**operation: Any) -> dict[str, Any]:
    return {"responses": {"200": ok()}, **operation}


def _param(name: str, where: str = "query", *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": {"type": "string"}}


API_CASES = [
    (
        "an operation added is info",
        {"/a": {"get": _op()}},
        {"/a": {"get": _op()}, "/b": {"get": _op()}},
        {("endpoint-added", "info")},
    ),
    (
        "an operation removed without deprecation is an error",
        {"/a": {"get": _op(), "post": _op()}},
        {"/a": {"get": _op()}},
        {("api-removed-without-deprecation", "error")},
    ),
    (
        "an operation removed after its deprecation is a warning",
        {"/a": {"get": _op(), "post": _op(deprecated=True)}},
        {"/a": {"get": _op()}},
        {("api-removed-with-deprecation", "warning")},
    ),
    (
        "a path parameter renamed is the same operation",
        {"/a/{id}": {"get": _op(parameters=[_param("id", "path", required=True)])}},
        {"/a/{a_id}": {"get": _op(parameters=[_param("a_id", "path", required=True)])}},
        {("request-parameter-removed", "warning"), ("new-required-request-parameter", "error")},
    ),
    (
        "a path parameter that forgets required: true is required all the same",
        {"/a/{id}": {"get": _op(parameters=[_param("id", "path")])}},
        {"/a/{a_id}": {"get": _op(parameters=[_param("a_id", "path")])}},
        {("request-parameter-removed", "warning"), ("new-required-request-parameter", "error")},
    ),
    (
        "a required parameter added is an error",
        {"/a": {"get": _op()}},
        {"/a": {"get": _op(parameters=[_param("q", required=True)])}},
        {("new-required-request-parameter", "error")},
    ),
    (
        "an optional parameter added is info",
        {"/a": {"get": _op()}},
        {"/a": {"get": _op(parameters=[_param("q")])}},
        {("new-optional-request-parameter", "info")},
    ),
    (
        "a parameter removed is a warning",
        {"/a": {"get": _op(parameters=[_param("q")])}},
        {"/a": {"get": _op()}},
        {("request-parameter-removed", "warning")},
    ),
    (
        "a parameter becoming required is an error",
        {"/a": {"get": _op(parameters=[_param("q")])}},
        {"/a": {"get": _op(parameters=[_param("q", required=True)])}},
        {("request-parameter-became-required", "error")},
    ),
    (
        "a parameter becoming optional is info",
        {"/a": {"get": _op(parameters=[_param("q", required=True)])}},
        {"/a": {"get": _op(parameters=[_param("q")])}},
        {("request-parameter-became-optional", "info")},
    ),
    (
        "a path-level parameter counts for each operation",
        {"/a": {"parameters": [_param("q")], "get": _op()}},
        {"/a": {"get": _op()}},
        {("request-parameter-removed", "warning")},
    ),
    (
        "a required request body added is an error",
        {"/a": {"post": _op()}},
        {"/a": {"post": _op(requestBody={"required": True, "content": {"application/json": {"schema": {}}}})}},
        {("request-body-added-required", "error")},
    ),
    (
        "an optional request body added is info",
        {"/a": {"post": _op()}},
        {"/a": {"post": _op(requestBody={"content": {"application/json": {"schema": {}}}})}},
        {("request-body-added-optional", "info")},
    ),
    (
        "a request body removed is an error",
        {"/a": {"post": _op(requestBody={"content": {"application/json": {}}})}},
        {"/a": {"post": _op()}},
        {("request-body-removed", "error")},
    ),
    (
        "a request body becoming required is an error",
        {"/a": {"post": _op(requestBody={"content": {"application/json": {}}})}},
        {"/a": {"post": _op(requestBody={"required": True, "content": {"application/json": {}}})}},
        {("request-body-became-required", "error")},
    ),
    (
        "a request body becoming optional is info",
        {"/a": {"post": _op(requestBody={"required": True, "content": {"application/json": {}}})}},
        {"/a": {"post": _op(requestBody={"content": {"application/json": {}}})}},
        {("request-body-became-optional", "info")},
    ),
    (
        "a request media type removed is an error",
        {"/a": {"post": _op(requestBody={"content": {"application/json": {}, "text/plain": {}}})}},
        {"/a": {"post": _op(requestBody={"content": {"application/json": {}}})}},
        {("request-body-media-type-removed", "error")},
    ),
    (
        "a request media type added is info",
        {"/a": {"post": _op(requestBody={"content": {"application/json": {}}})}},
        {"/a": {"post": _op(requestBody={"content": {"application/json": {}, "text/plain": {}}})}},
        {("request-body-media-type-added", "info")},
    ),
    (
        "a success status removed is an error",
        {"/a": {"get": {"responses": {"200": ok(), "201": ok()}}}},
        {"/a": {"get": {"responses": {"200": ok()}}}},
        {("response-success-status-removed", "error")},
    ),
    (
        "a success status added is info",
        {"/a": {"get": {"responses": {"200": ok()}}}},
        {"/a": {"get": {"responses": {"200": ok(), "201": ok()}}}},
        {("response-success-status-added", "info")},
    ),
    (
        "an error status removed is info",
        {"/a": {"get": {"responses": {"200": ok(), "404": ok()}}}},
        {"/a": {"get": {"responses": {"200": ok()}}}},
        {("response-non-success-status-removed", "info")},
    ),
    (
        "an error status added is info",
        {"/a": {"get": {"responses": {"200": ok()}}}},
        {"/a": {"get": {"responses": {"200": ok(), "404": ok()}}}},
        {("response-non-success-status-added", "info")},
    ),
    (
        "a response media type removed is an error",
        {"/a": {"get": {"responses": {"200": ok({"type": "string"}, "text/csv")}}}},
        {"/a": {"get": {"responses": {"200": ok({"type": "string"})}}}},
        {("response-media-type-removed", "error"), ("response-media-type-added", "info")},
    ),
]


@pytest.mark.parametrize(
    ("old_paths", "new_paths", "expected"), [case[1:] for case in API_CASES], ids=[case[0] for case in API_CASES]
)
def test_an_operation_level_change_gets_its_rule_and_level(
    tmp_path: Path, old_paths: dict[str, Any], new_paths: dict[str, Any], expected: set[tuple[str, str]]
) -> None:
    assert found(diff(tmp_path, api(old_paths), api(new_paths))) == expected


KEY: dict[str, list[str]] = {"API_KEY": []}
SECURITY_CASES = [
    (
        "an open operation that now needs a key is an error",
        [],
        [KEY],
        {("api-security-added-to-open-operation", "error")},
    ),
    ("an operation that no longer needs a key is info", [KEY], [], {("api-security-removed-from-operation", "info")}),
    ("a way to authenticate removed is an error", [KEY, {"OAUTH": []}], [KEY], {("api-security-removed", "error")}),
    ("a way to authenticate added is info", [KEY], [KEY, {"OAUTH": []}], {("api-security-added", "info")}),
    (
        "a scope added is an error",
        [{"OAUTH": ["read"]}],
        [{"OAUTH": ["read", "write"]}],
        {("api-security-scope-added", "error")},
    ),
    (
        "a scope removed is info",
        [{"OAUTH": ["read", "write"]}],
        [{"OAUTH": ["read"]}],
        {("api-security-scope-removed", "info")},
    ),
    ("the same requirement written at the top level is no change", None, [KEY], set()),
]


@pytest.mark.parametrize(
    ("old", "new", "expected"), [case[1:] for case in SECURITY_CASES], ids=[case[0] for case in SECURITY_CASES]
)
def test_a_security_change_gets_its_rule_and_level(
    tmp_path: Path, old: list[Any] | None, new: list[Any], expected: set[tuple[str, str]]
) -> None:
    top: dict[str, Any] = {"security": [KEY]} if old is None else {}
    old_op = _op() if old is None else _op(security=old)
    result = diff(tmp_path, {**api({"/a": {"get": old_op}}), **top}, api({"/a": {"get": _op(security=new)}}))
    assert found(result) == expected


def _component(schema: Any) -> dict[str, Any]:
    return api(
        {"/a": {"get": {"responses": {"200": ok({"$ref": "#/components/schemas/Value"})}}}},
        components={"schemas": {"Value": schema}},
    )


OVERLAPPING = {
    "oneOf": [{"type": "string"}, {"type": "integer", "title": "Integer"}, {"type": "number", "title": "Number"}]
}
DISJOINT = {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}


def test_a_one_of_whose_branches_overlap_is_an_error_when_new_brings_it(tmp_path: Path) -> None:
    result = diff(tmp_path, _component({"type": "string"}), _component(OVERLAPPING))
    (finding,) = [item for item in result.findings if item.rule == "schema-one-of-overlap"]
    assert finding.level.value == "error"
    assert finding.new_pointer == "#/components/schemas/Value"
    assert "'Integer' and 'Number' both accept 5" in finding.message


def test_a_one_of_whose_branches_overlap_is_a_warning_when_old_had_it_already(tmp_path: Path) -> None:
    result = diff(tmp_path, _component(OVERLAPPING), _component(OVERLAPPING))
    assert found(result) == {("schema-one-of-overlap", "warning")}


def test_a_one_of_whose_branches_are_disjoint_is_no_defect(tmp_path: Path) -> None:
    assert found(diff(tmp_path, _component({"type": "string"}), _component(DISJOINT)), "spec") == set()


def test_a_one_of_of_discriminated_objects_is_no_defect(tmp_path: Path) -> None:
    def branch(kind: str) -> dict[str, Any]:
        return {"type": "object", "required": ["kind"], "properties": {"kind": {"const": kind}}}

    union = {"oneOf": [branch("a"), branch("b")]}
    assert found(diff(tmp_path, _component(union), _component(union))) == set()


def test_a_schema_no_value_satisfies_is_an_error(tmp_path: Path) -> None:
    impossible = {"allOf": [{"type": "string"}, {"type": "integer"}]}
    result = diff(tmp_path, _component({"type": "string"}), _component(impossible))
    assert ("schema-unsatisfiable", "error") in found(result)


def test_a_schema_whose_values_are_constrained_but_possible_is_not_unsatisfiable(tmp_path: Path) -> None:
    possible = {"allOf": [{"type": "string", "minLength": 30}, {"type": "string", "pattern": "^z"}]}
    assert found(diff(tmp_path, _component(possible), _component(possible))) == set()


def test_a_schema_that_rejects_its_own_enum_value_or_default_is_a_warning(tmp_path: Path) -> None:
    wrong = {"type": "string", "enum": ["a", 5], "default": None}
    result = diff(tmp_path, _component({"type": "string"}), _component(wrong))
    defects = [item for item in result.findings if item.rule == "schema-rejects-own-example"]
    assert {item.new_pointer for item in defects} == {
        "#/components/schemas/Value/enum/1",
        "#/components/schemas/Value/default",
    }
    assert {item.level.value for item in defects} == {"warning"}


def test_a_schema_whose_own_values_fit_is_no_defect(tmp_path: Path) -> None:
    right = {"type": "string", "enum": ["a", "b"], "default": "a", "examples": ["b"]}
    assert found(diff(tmp_path, _component(right), _component(right))) == set()


def _hooks(**hooks: Any) -> dict[str, Any]:
    return {**api({}), "webhooks": hooks}


def _hook(values: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"status": {"type": "string", "enum": values}}}
    body = {"required": True, "content": {"application/json": {"schema": schema}}}
    return {"post": {"requestBody": body, "responses": {"200": ok()}}}


def test_a_webhook_body_is_judged_as_a_response_since_the_client_receives_it(tmp_path: Path) -> None:
    result = diff(tmp_path, _hooks(paid=_hook(["a"])), _hooks(paid=_hook(["a", "b"])))
    (finding,) = result.findings
    assert (finding.rule, finding.level.value) == ("response-property-enum-value-added", "error")
    assert (finding.operation, finding.where, finding.property) == ("WEBHOOK paid", "webhook body", "status")


def test_a_webhook_added_is_info_and_one_removed_a_warning(tmp_path: Path) -> None:
    assert found(diff(tmp_path, _hooks(paid=_hook(["a"])), _hooks(paid=_hook(["a"]), refunded=_hook(["a"])))) == {
        ("webhook-added", "info")
    }
    assert found(diff(tmp_path, _hooks(paid=_hook(["a"]), refunded=_hook(["a"])), _hooks(paid=_hook(["a"])))) == {
        ("webhook-removed", "warning")
    }
