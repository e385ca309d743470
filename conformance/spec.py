"""Reads the OpenAPI document: once for the document, then per operation the responses and schema it promises."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import jsonschema_rs
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import Unresolvable
from referencing.jsonschema import DRAFT202012

from conformance.checks import checks_for
from conformance.errors import SpecError
from conformance.files import missing
from conformance.operations import DEFAULT

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from schemathesis.schemas import BaseSchema

    from conformance.checks import Check
    from conformance.operation import Operation

# libyaml's safe loader where PyYAML was built with it: the same documents, several times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Every `$ref` in the document is resolved against the document itself under this URI.
DOCUMENT_URI = "urn:conformance:spec"


@dataclass(frozen=True)
class Document:
    """The OpenAPI document as a whole: what every operation's contract shares, read once."""

    path: Path
    document: Mapping[str, Any]
    version: str
    # Hosts of the servers the spec describes as live mode, where requests move real money.
    live_hosts: frozenset[str]

    @cached_property
    def registry(self) -> Registry[Any]:
        """The document as the one resource every `$ref` resolves in."""
        registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(self.document))
        return registry


@dataclass(frozen=True)
class Contract:
    """What the spec promises for one operation (GET /checkouts/{id} unless another is given)."""

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
    # The operation this contract is of: the checks read it from their context.
    operation: Operation = DEFAULT

    @property
    def checks(self) -> Mapping[str, Check]:
        """Every check of the operation, by id, in the order the reports list them."""
        return checks_for(self.operation)

    def validator_at(self, pointer: str) -> Draft202012Validator | None:
        """A validator for the schema at a JSON pointer of the document (a write's answer); None where none is."""
        node: Any = self.document
        for part in pointer.removeprefix("#/").split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return None
        registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(self.document))
        schema = {"$ref": f"{DOCUMENT_URI}{pointer}"}
        return Draft202012Validator(schema, registry=registry, format_checker=_format_checker())


def load_contract(path: Path, operation: Operation = DEFAULT) -> Contract:
    """Read and check the spec at `path` for one operation; raise SpecError naming the cause and the fix."""
    return contract_for(load_document(path), operation)


def load_document(path: Path) -> Document:
    """Read the spec at `path` and what every operation shares; raise SpecError naming the cause and the fix."""
    document = _read_document(path)
    try:
        _check_openapi(path, document)
        return Document(
            path=path,
            document=document,
            version=str(document.get("info", {}).get("version", "unknown")),
            live_hosts=_live_hosts(document),
        )
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - an untrusted document can break any assumption about its shape
        raise _not_openapi(path, exc) from None


def contract_for(document: Document, operation: Operation) -> Contract:
    """What the document promises for one operation; raise SpecError naming the cause and the fix."""
    try:
        return _contract(document, operation)
    except SpecError:
        raise
    except Exception as exc:  # noqa: BLE001 - an untrusted document can break any assumption about its shape
        raise _not_openapi(document.path, exc) from None


def _not_openapi(path: Path, exc: Exception) -> SpecError:
    return SpecError(
        f"{path} does not have the shape of an OpenAPI document ({type(exc).__name__}: {exc})".replace("\n", " "),
        "check it against the OpenAPI 3.1 specification",
    )


def _check_openapi(path: Path, document: Mapping[str, Any]) -> None:
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


def _contract(document: Document, described: Operation) -> Contract:
    path = document.path
    operation = _find_operation(path, document.document, described)
    responses = operation.get("responses")
    success = str(described.success_status)
    if not isinstance(responses, dict) or success not in responses:
        raise SpecError(
            f"{path}: {described.label} documents no {success} response",
            f"the gate judges the {success} contract; use a spec that documents it",
        )
    registry = document.registry
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
    validator = _build_validator(path, document.document, registry, operation, described)
    security = tuple(name for requirement in operation.get("security", []) or [] for name in requirement)
    return Contract(
        path=path,
        document=document.document,
        version=document.version,
        documented_statuses=frozenset(documented),
        body_media_types=media,
        security_schemes=security,
        validator=validator,
        live_hosts=document.live_hosts,
        fast_validator=_fast_validator(document.document, described),
        operation=described,
    )


def _fast_validator(document: Mapping[str, Any], described: Operation) -> jsonschema_rs.Validator | None:
    # The components alone, as the root: every `$ref` the response schema uses points into them.
    schema = {"$ref": described.schema_ref, "components": document["components"]}
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


def _find_operation(path: Path, document: Mapping[str, Any], described: Operation) -> dict[str, Any]:
    paths = document.get("paths")
    found = paths.get(described.path, {}).get(described.method.lower()) if isinstance(paths, dict) else None
    if not isinstance(found, dict):
        raise SpecError(
            f"{path} has no {described.label} operation",
            f"use the Dodo Payments spec that documents {described.summary}",
        )
    return found


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
    path: Path,
    document: Mapping[str, Any],
    registry: Registry[Any],
    operation: Mapping[str, Any],
    described: Operation,
) -> Draft202012Validator:
    name = described.schema
    schemas = document.get("components", {}).get("schemas", {})
    if not isinstance(schemas, dict) or name not in schemas:
        raise SpecError(
            f"{path} has no components.schemas.{name}",
            f"use a spec that defines the {described.summary} response schema",
        )
    expected_ref = described.schema_ref
    documented_ref = _schema_of_success(path, registry, operation["responses"], described).get("$ref")
    if documented_ref != expected_ref:
        raise SpecError(
            f"{path}: the {described.success_status} JSON body of {described.label} is "
            f"{'an inline schema' if documented_ref is None else repr(documented_ref)}, not {expected_ref!r}",
            f"the gate validates {described.success_status} bodies against {name}; fix the response's schema reference",
        )
    # Validate against a reference into the document, so that nested `$ref`s resolve in place.
    schema = {"$ref": f"{DOCUMENT_URI}{expected_ref}"}
    try:
        Draft202012Validator.check_schema(schemas[name])
    except SchemaError as exc:
        raise SpecError(f"{path}: {name} is not a valid JSON Schema ({exc.message})", "fix the schema") from None
    validator = Draft202012Validator(schema, registry=registry, format_checker=_format_checker())
    _check_refs_resolve(path, schemas[name], registry, seen=set())
    return validator


def _schema_of_success(
    path: Path, registry: Registry[Any], responses: Mapping[str, Any], described: Operation
) -> dict[str, Any]:
    """The schema the success response gives its body; SpecError naming the place when it gives none."""
    status, media_type = str(described.success_status), described.media_type
    response = responses[status]
    response = _resolve(registry, response, path) if isinstance(response, dict) else None
    content = response.get("content") if isinstance(response, dict) else None
    media = content.get(media_type) if isinstance(content, dict) else None
    schema = media.get("schema") if isinstance(media, dict) else None
    if not isinstance(schema, dict) or not schema:
        raise SpecError(
            f"{path}: the {status} response of {described.label} has no schema for an {media_type} body "
            f"(responses.{status}.content.{media_type}.schema), so no {status} body could be judged",
            f"add schema: {{$ref: '{described.schema_ref}'}} under the {status} response's content.{media_type}",
        )
    return schema


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
    return schema.include(method=contract.operation.method, path=contract.operation.path)


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
