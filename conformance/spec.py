"""Reads the OpenAPI document: the operation under test and the response schema it promises."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from conformance.errors import SpecError
from conformance.files import missing

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from schemathesis.schemas import BaseSchema

OPERATION_PATH = "/checkouts/{id}"
OPERATION_METHOD = "get"
RESPONSE_SCHEMA = "GetCheckoutSessionsStatus"
# libyaml's safe loader where PyYAML was built with it: the same documents, several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Every `$ref` in the document is resolved against the document itself under this URI.
DOCUMENT_URI = "urn:conformance:spec"


@dataclass(frozen=True)
class Contract:
    """What the spec promises for GET /checkouts/{id}."""

    path: Path
    document: Mapping[str, Any]
    version: str
    documented_statuses: frozenset[int]
    # Status code -> media types its body is documented with (empty: no body described).
    body_media_types: Mapping[int, tuple[str, ...]]
    security_schemes: tuple[str, ...]
    validator: Draft202012Validator
    # Hosts of the servers the spec describes as live mode, where requests move real money.
    live_hosts: frozenset[str] = frozenset()
    # The same schema compiled by jsonschema-rs: it decides validity (see ARCHITECTURE.md), while
    # `validator` explains what is wrong. None when jsonschema-rs cannot compile the schema.
    fast_validator: jsonschema_rs.Validator | None = None

    @property
    def operation_ref(self) -> str:
        """Where the operation lives in the document, as a JSON pointer."""
        return f"#/paths/{OPERATION_PATH.replace('/', '~1')}/{OPERATION_METHOD}"

    @property
    def schema_ref(self) -> str:
        """Where the 200 body schema lives in the document."""
        return f"#/components/schemas/{RESPONSE_SCHEMA}"


def load_contract(path: Path) -> Contract:
    """Read and check the spec at `path`; raise SpecError naming the cause and the fix."""
    document = _read_document(path)
    try:
        return _contract(path, document)
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - an untrusted document can break any assumption about its shape
        raise SpecError(
            f"{path} does not have the shape of an OpenAPI document ({type(exc).__name__}: {exc})".replace("\n", " "),
            "check it against the OpenAPI 3.1 specification",
        ) from None


def _contract(path: Path, document: dict[str, Any]) -> Contract:
    openapi = document.get("openapi")
    if "swagger" in document:
        raise SpecError(
            f"{path} is a Swagger {document.get('swagger')} document, not an OpenAPI 3.x document, the only kind "
            "the gate reads",
            "convert it to OpenAPI 3.x (e.g. with swagger2openapi) or use the API's OpenAPI 3 document",
        )
    if not isinstance(openapi, str) or not openapi.startswith("3."):
        raise SpecError(
            f"{path} is not an OpenAPI 3.x document (its 'openapi' field is {openapi!r})",
            "point --spec at the OpenAPI 3.x document of the API",
        )
    operation = _find_operation(path, document)
    responses = operation.get("responses")
    if not isinstance(responses, dict) or "200" not in responses:
        raise SpecError(
            f"{path}: GET {OPERATION_PATH} documents no 200 response",
            "the gate judges the 200 contract; use a spec that documents it",
        )
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(document))
    documented: set[int] = set()
    media: dict[int, tuple[str, ...]] = {}
    for code, response in responses.items():
        if not str(code).isdigit():
            continue
        status = int(code)
        documented.add(status)
        response_object = _resolve(registry, response, path) if isinstance(response, dict) else {}
        content = response_object.get("content")
        media[status] = tuple(content) if isinstance(content, dict) else ()
    validator = _build_validator(path, document, registry, operation)
    security = tuple(name for requirement in operation.get("security", []) or [] for name in requirement)
    return Contract(
        path=path,
        document=document,
        version=str(document.get("info", {}).get("version", "unknown")),
        documented_statuses=frozenset(documented),
        body_media_types=media,
        security_schemes=security,
        validator=validator,
        live_hosts=_live_hosts(document),
        fast_validator=_fast_validator(document),
    )


def _fast_validator(document: Mapping[str, Any]) -> jsonschema_rs.Validator | None:
    # The components alone, as the root: every `$ref` the response schema uses points into them.
    schema = {"$ref": f"#/components/schemas/{RESPONSE_SCHEMA}", "components": document["components"]}
    try:
        return jsonschema_rs.validator_for(schema, validate_formats=True)
    except (jsonschema_rs.ValidationError, ValueError, TypeError):
        return None


def _live_hosts(document: Mapping[str, Any]) -> frozenset[str]:
    servers = document.get("servers")
    hosts = set()
    for server in servers if isinstance(servers, list) else []:
        if isinstance(server, dict) and "live" in str(server.get("description", "")).lower():
            host = urlsplit(str(server.get("url", ""))).hostname
            if host:
                hosts.add(host.lower())
    return frozenset(hosts)


def _read_document(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            f"spec file {missing(path)}",
            "run from the project's folder, or pass --spec with the path of the OpenAPI document",
        ) from None
    except IsADirectoryError:
        raise SpecError(
            f"--spec {path} is a directory", "pass the path of the OpenAPI document itself, e.g. spec/openapi.yaml"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(
            f"spec file {path} cannot be read ({exc})", "check the file's permissions and encoding"
        ) from None
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SpecError(f"spec file {path} is not valid YAML/JSON ({first_line})", "fix the syntax error") from None
    if not isinstance(document, dict):
        raise SpecError(f"spec file {path} does not hold a mapping", "point --spec at an OpenAPI document")
    return document


def _find_operation(path: Path, document: Mapping[str, Any]) -> dict[str, Any]:
    paths = document.get("paths")
    operation = paths.get(OPERATION_PATH, {}).get(OPERATION_METHOD) if isinstance(paths, dict) else None
    if not isinstance(operation, dict):
        raise SpecError(
            f"{path} has no GET {OPERATION_PATH} operation",
            "use the Dodo Payments spec that documents Get Checkout Session",
        )
    return operation


def _resolve(registry: Registry[Any], node: dict[str, Any], path: Path) -> dict[str, Any]:
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return node
    try:
        resolved = registry.resolver(base_uri=DOCUMENT_URI).lookup(ref).contents
    except Unresolvable:
        raise SpecError(f"{path}: $ref {ref!r} does not resolve", "fix or add the referenced component") from None
    if not isinstance(resolved, dict):
        raise SpecError(f"{path}: $ref {ref!r} does not point at an object", "fix the reference")
    return resolved


def _build_validator(
    path: Path, document: Mapping[str, Any], registry: Registry[Any], operation: Mapping[str, Any]
) -> Draft202012Validator:
    schemas = document.get("components", {}).get("schemas", {})
    if not isinstance(schemas, dict) or RESPONSE_SCHEMA not in schemas:
        raise SpecError(
            f"{path} has no components.schemas.{RESPONSE_SCHEMA}",
            "use a spec that defines the Get Checkout Session response schema",
        )
    expected_ref = f"#/components/schemas/{RESPONSE_SCHEMA}"
    documented_ref = _schema_of_200(path, registry, operation["responses"]["200"]).get("$ref")
    if documented_ref != expected_ref:
        raise SpecError(
            f"{path}: the 200 JSON body of GET {OPERATION_PATH} is "
            f"{'an inline schema' if documented_ref is None else repr(documented_ref)}, not {expected_ref!r}",
            f"the gate validates 200 bodies against {RESPONSE_SCHEMA}; fix the response's schema reference",
        )
    # Validate against a reference into the document, so that nested `$ref`s resolve in place.
    schema = {"$ref": f"{DOCUMENT_URI}{expected_ref}"}
    try:
        Draft202012Validator.check_schema(schemas[RESPONSE_SCHEMA])
    except SchemaError as exc:
        raise SpecError(
            f"{path}: {RESPONSE_SCHEMA} is not a valid JSON Schema ({exc.message})", "fix the schema"
        ) from None
    validator = Draft202012Validator(schema, registry=registry, format_checker=_format_checker())
    _check_refs_resolve(path, schemas[RESPONSE_SCHEMA], registry, seen=set())
    return validator


def _schema_of_200(path: Path, registry: Registry[Any], response: object) -> dict[str, Any]:
    """The schema the 200 response gives its JSON body; SpecError naming the place when it gives none."""
    response = _resolve(registry, response, path) if isinstance(response, dict) else None
    content = response.get("content") if isinstance(response, dict) else None
    media = content.get("application/json") if isinstance(content, dict) else None
    schema = media.get("schema") if isinstance(media, dict) else None
    if not isinstance(schema, dict) or not schema:
        raise SpecError(
            f"{path}: the 200 response of GET {OPERATION_PATH} has no schema for an application/json body "
            "(responses.200.content.application/json.schema), so no 200 body could be judged",
            f"add schema: {{$ref: '#/components/schemas/{RESPONSE_SCHEMA}'}} under the 200 response's "
            "content.application/json",
        )
    return schema


CREATE_PATH = "/checkouts"
CREATE_RESPONSE_POINTER = "#/paths/~1checkouts/post/responses/200/content/application~1json/schema"


def create_response_validator(contract: Contract) -> Draft202012Validator | None:
    """A validator for the answer to POST /checkouts where the spec describes one; None where it does not."""
    operation = contract.document.get("paths", {}).get(CREATE_PATH, {})
    response = operation.get("post", {}).get("responses", {}).get("200") if isinstance(operation, dict) else None
    if not isinstance(response, dict) or "schema" not in response.get("content", {}).get("application/json", {}):
        return None
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(contract.document))
    schema = {"$ref": f"{DOCUMENT_URI}{CREATE_RESPONSE_POINTER}"}
    return Draft202012Validator(schema, registry=registry, format_checker=_format_checker())


def _format_checker() -> FormatChecker:
    checker = FormatChecker()
    if "date-time" not in checker.checkers:
        # Without rfc3339-validator, jsonschema silently accepts any string as a date-time.
        raise SpecError(
            "the rfc3339-validator package is missing, so date-time formats would pass unchecked",
            "reinstall the project (pip install -e .)",
        )
    return checker


def _check_refs_resolve(path: Path, node: object, registry: Registry[Any], seen: set[str]) -> None:
    """Resolve every `$ref` below `node` now, so a dangling one stops the run before any request."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in seen:
            seen.add(ref)
            _check_refs_resolve(path, _resolve(registry, node, path), registry, seen)
        for key, value in node.items():
            if key != "$ref":
                _check_refs_resolve(path, value, registry, seen)
    elif isinstance(node, list):
        for item in node:
            _check_refs_resolve(path, item, registry, seen)


def schemathesis_schema(contract: Contract, seed: int, max_examples: int) -> BaseSchema:
    """The operation as Schemathesis generates it: deterministic, no example database."""
    import schemathesis  # noqa: PLC0415 - heavy, and not needed to read the spec

    config = schemathesis.Config.from_dict(
        {
            "seed": seed,
            "generation": {
                "deterministic": True,
                "database": "none",
                "max-examples": max_examples,
                # The gate sends keys itself: every generated request carries the valid one.
                "with-security-parameters": False,
            },
            # Only GET is sent: other methods on a payments API may change state.
            "phases": {"coverage": {"unexpected-methods": []}},
            "checks": {
                # Random ids name no session, so 404 (and a documented 422) is the right answer.
                "positive_data_acceptance": {"expected-statuses": ["2XX", "404", "422"]},
            },
        }
    )
    schema = schemathesis.openapi.from_dict(dict(contract.document), config=config)
    return schema.include(method="GET", path=OPERATION_PATH)


def pointer_line(path: Path, pointer: str) -> int | None:
    """The 1-based line of the spec where a JSON pointer (`#/paths/~1checkouts~1{id}/get`) lands; None if nowhere.

    Where the pointer runs past the document (into a description's text, say), the deepest node it
    reaches is the answer: that is where a reviewer should look.
    """
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.removeprefix("#").split("/") if part]
    line = node.start_mark.line + 1 if node is not None else None
    for part in parts:
        if isinstance(node, yaml.MappingNode):
            match = next((value for key, value in node.value if key.value == part), None)
            key_node = next((key for key, _ in node.value if key.value == part), None)
            if match is None or key_node is None:
                break
            line, node = key_node.start_mark.line + 1, match
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line
