"""The spec reader: the contract comes from spec/, and a spec it cannot use stops the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import SPEC

from conformance.errors import ExitCode, SpecError
from conformance.spec import Contract, load_contract


def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return loaded


def _write(tmp_path: Path, document: object, name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_bundled_spec_documents_200_404_422_and_500(contract: Contract) -> None:
    assert contract.documented_statuses == {200, 404, 422, 500}
    assert contract.body_media_types[200] == ("application/json",)
    assert contract.body_media_types[404] == ()
    assert contract.security_schemes == ("API_KEY",)
    assert contract.version == "1.105.0"


def test_the_validator_follows_the_spec_not_a_copy(tmp_path: Path) -> None:
    document = _document()
    document["components"]["schemas"]["IntentStatus"]["enum"].append("paid")
    contract = load_contract(_write(tmp_path, document))
    body = {"id": "cks_1", "created_at": "2026-01-01T00:00:00Z", "payment_status": "paid"}
    assert list(contract.validator.iter_errors(body)) == []


def test_date_time_is_enforced_as_rfc_3339(contract: Contract) -> None:
    assert not contract.validator.is_valid({"id": "cks_1", "created_at": "2026-01-01 00:00"})
    assert contract.validator.is_valid({"id": "cks_1", "created_at": "2026-01-01T00:00:00.5+01:00"})


def _broken_ref(document: dict[str, Any]) -> None:
    document["components"]["schemas"]["GetCheckoutSessionsStatus"]["properties"]["payment_status"]["oneOf"][1][
        "$ref"
    ] = "#/components/schemas/Missing"


def _no_operation(document: dict[str, Any]) -> None:
    del document["paths"]["/checkouts/{id}"]["get"]


def _openapi_2(document: dict[str, Any]) -> None:
    document.pop("openapi")
    document["swagger"] = "2.0"


def _no_schema(document: dict[str, Any]) -> None:
    del document["components"]["schemas"]["GetCheckoutSessionsStatus"]


def _other_body_schema(document: dict[str, Any]) -> None:
    document["paths"]["/checkouts/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
        "type": "object"
    }


def _200_without_content(document: dict[str, Any]) -> None:
    document["paths"]["/checkouts/{id}"]["get"]["responses"]["200"] = {"description": "ok"}


def _200_with_null_content(document: dict[str, Any]) -> None:
    document["paths"]["/checkouts/{id}"]["get"]["responses"]["200"]["content"] = None


def _200_with_null_media_type(document: dict[str, Any]) -> None:
    document["paths"]["/checkouts/{id}"]["get"]["responses"]["200"]["content"]["application/json"] = None


def _200_with_null_schema(document: dict[str, Any]) -> None:
    document["paths"]["/checkouts/{id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = None


NO_200_SCHEMA = (
    "the 200 response of GET /checkouts/{id} has no schema for an application/json body "
    "(responses.200.content.application/json.schema), so no 200 body could be judged; add schema: "
    "{$ref: '#/components/schemas/GetCheckoutSessionsStatus'} under the 200 response's content.application/json"
)


@pytest.mark.parametrize(
    ("mutate", "cause"),
    [
        (_200_without_content, NO_200_SCHEMA),
        (_200_with_null_content, NO_200_SCHEMA),
        (_200_with_null_media_type, NO_200_SCHEMA),
        (_200_with_null_schema, NO_200_SCHEMA),
        (_broken_ref, "does not resolve"),
        (_no_operation, "has no GET /checkouts/{id} operation"),
        (_openapi_2, "not an OpenAPI 3.x document"),
        (_no_schema, "has no components.schemas.GetCheckoutSessionsStatus"),
        (_other_body_schema, "not '#/components/schemas/GetCheckoutSessionsStatus'"),
    ],
    ids=[
        "200 without content",
        "200 content null",
        "200 media type null",
        "200 schema null",
        "dangling $ref",
        "operation missing",
        "OpenAPI 2",
        "schema missing",
        "body schema replaced",
    ],
)
def test_an_unusable_spec_is_a_one_line_error(tmp_path: Path, mutate: Any, cause: str) -> None:
    document = _document()
    mutate(document)
    with pytest.raises(SpecError) as raised:
        load_contract(_write(tmp_path, document))
    message = str(raised.value)
    assert cause in message
    assert "\n" not in message
    assert "Error" not in message  # a Python exception's name is no cause a user can act on
    assert raised.value.exit_code is ExitCode.BAD_INPUT


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        ("openapi: [unclosed", "not valid YAML/JSON"),
        ("- a list", "does not hold a mapping"),
        ("", "does not hold a mapping"),
    ],
)
def test_a_file_that_is_no_document_is_a_one_line_error(tmp_path: Path, content: str, cause: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SpecError, match=cause):
        load_contract(path)


def test_a_missing_spec_file_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="--spec"):
        load_contract(tmp_path / "nope.yaml")


def test_a_self_referencing_schema_does_not_loop(tmp_path: Path) -> None:
    document = _document()
    schemas = document["components"]["schemas"]
    schemas["Node"] = {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}}
    schemas["GetCheckoutSessionsStatus"]["properties"]["tree"] = {"$ref": "#/components/schemas/Node"}
    contract = load_contract(_write(tmp_path, document))
    assert contract.validator.is_valid({"id": "a", "created_at": "2026-01-01T00:00:00Z", "tree": {"next": {}}})


@pytest.mark.parametrize(
    "timestamp",
    ["2026-12-31T23:59:60Z", "0000-01-01T00:00:00Z"],
    ids=["leap second", "year zero"],
)
def test_rfc_3339_timestamps_that_rfc3339_validator_rejects_are_valid(contract: Contract, timestamp: str) -> None:
    # RFC 3339 allows second 60 and year 0000; jsonschema's rfc3339-validator does not, jsonschema-rs does,
    # and jsonschema-rs decides validity.
    body = {"id": "cks_1", "created_at": timestamp}
    assert not contract.validator.is_valid(body)
    assert contract.fast_validator is not None
    assert contract.fast_validator.is_valid(body)


@pytest.mark.parametrize(
    "timestamp",
    [
        "2026-01-01T00:00:00",
        "2026-01-01",
        "2026-01-01 00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:00:00+0530",
        "2026-01-01T00:00:00,5Z",
        "2026-01-01T23:59:60+01:00",
    ],
)
def test_both_validators_reject_what_rfc_3339_rejects(contract: Contract, timestamp: str) -> None:
    body = {"id": "cks_1", "created_at": timestamp}
    assert not contract.validator.is_valid(body)
    assert contract.fast_validator is not None
    assert not contract.fast_validator.is_valid(body)
