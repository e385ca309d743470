"""SARIF 2.1.0: one result per finding group, located at the spec lines of the requirement it broke.

A code-review tool then annotates spec/openapi.yaml where the broken promise is written. Everything
comes from the record (the checks' requirements and spec references included), so a summary.json
rendered again later says what the run that wrote it judged, whatever the gate's checks are today.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import yaml

from conformance import __version__
from conformance.report_words import OPERATION
from conformance.spec import pointer_line

if TYPE_CHECKING:
    from conformance.record import CheckRecord, FindingGroup, RunRecord

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"MUST": "error", "SHOULD": "warning"}
# The base the spec's URI is relative to: the repository's root (or the current folder outside one).
ROOT_ID = "SRCROOT"
# Where a finding of a check whose reference names no place in the document (an RFC) is located: the
# operation it judged.
_METHOD, _, _PATH_TEMPLATE = OPERATION.partition(" ")
OPERATION_POINTER = f"#/paths/{_PATH_TEMPLATE.replace('~', '~0').replace('/', '~1')}/{_METHOD.lower()}"
# A JSON pointer inside a spec reference ("RFC 9110; #/paths/...", "Dodo API: POST /checkouts (#/paths/...)").
_POINTER = re.compile(r"#/[^\s;()]*")
# Where the schema check's first finding is in the body: "/customer/email: ..." (see checks.response._describe).
_INSTANCE_PATH = re.compile(r"(/[^:]*): ")
_REQUIRED = re.compile(r"^'([^']+)' is a required property")
SCHEMA_CHECK = "response.schema"
# $refs followed at most, one after another: a loop in the document must not hang the rendering.
MAX_REFS = 32


def render_sarif(record: RunRecord) -> str:
    """The SARIF log of a run."""
    spec = _spec_path(record.run.spec)
    root, uri = _relative(spec)
    document = _document(spec)
    rules = [_rule(check) for check in record.checks]
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    references = {check.id: check.spec_ref for check in record.checks}
    results = [
        {
            "ruleId": group.check,
            "ruleIndex": rule_index.get(group.check, 0),
            "level": "error" if group.outcome == "failed" else "warning",
            "message": {
                "text": f"{group.count} finding(s): {group.summary} Expected: {group.example.expected} "
                f"Reproduce: {group.example.curl}"
            },
            "locations": [_location(spec, uri, _pointer(group, references.get(group.check, ""), document))],
            "partialFingerprints": {"findingGroup": group.id},
            "properties": {"count": group.count, "replay": group.replay, "checkout_ids": list(group.checkout_ids)},
        }
        for group in record.groups
    ]
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "dodo-conformance", "version": __version__, "rules": rules}},
        "results": results,
        "properties": {"verdict": record.result.status, "exit_code": record.result.exit_code},
    }
    if root is not None:
        run["originalUriBaseIds"] = {ROOT_ID: {"uri": root.as_uri() + "/"}}
    log: dict[str, Any] = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _rule(check: CheckRecord) -> dict[str, Any]:
    return {
        "id": check.id,
        "name": check.id.replace(".", "_"),
        "shortDescription": {"text": check.requirement},
        "fullDescription": {"text": f"{check.level}: {check.requirement} Spec: {check.spec_ref}"},
        "help": {
            "text": f"{check.requirement} ({check.level}; spec: {check.spec_ref})",
            "markdown": f"**{check.level}**: {check.requirement}\n\nSpec: `{check.spec_ref}`",
        },
        "defaultConfiguration": {"level": LEVELS.get(check.level, "warning")},
        "properties": {"spec_ref": check.spec_ref},
    }


def _spec_path(spec: str) -> Path:
    path = Path(spec)
    return path if path.is_absolute() else Path.cwd() / path


def _relative(spec: Path) -> tuple[Path | None, str]:
    """The folder the spec's URI is relative to, and that URI; (None, a file URI) when it is under neither."""
    try:
        resolved = spec.resolve()
        repository = next((folder for folder in resolved.parents if (folder / ".git").exists()), None)
    except (OSError, ValueError):
        # A path no file can have (too long, a NUL: an edited summary.json): named as given, located nowhere.
        return None, quote(spec.as_posix())
    for root in (repository, Path.cwd().resolve()):
        if root is not None and resolved.is_relative_to(root):
            return root, resolved.relative_to(root).as_posix()
    return None, resolved.as_uri()


def _document(spec: Path) -> Any:  # noqa: ANN401 - any parsed YAML
    try:
        return yaml.safe_load(spec.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):  # ValueError: a NUL in the path, or bytes that are not UTF-8
        return None


def _pointer(group: FindingGroup, spec_ref: str, document: Any) -> str:  # noqa: ANN401 - any parsed YAML
    """Where in the spec a group's finding points: the failing property for the schema check, else its reference."""
    match = _POINTER.search(spec_ref)
    pointer = match.group() if match else OPERATION_POINTER
    if group.check == SCHEMA_CHECK and document is not None:
        return _property_pointer(document, pointer, group.example.received)
    return pointer


def _property_pointer(document: Any, pointer: str, received: str) -> str:  # noqa: ANN401 - any parsed YAML
    """The pointer of the schema's property that the first failure in `received` names; `pointer` when none."""
    where = _INSTANCE_PATH.match(received)
    if where is None:
        parts: list[str] = []
        message = received.removeprefix("the body: ")
    else:
        parts = [part for part in where.group(1).split("/") if part]
        message = received[where.end() :]
    required = _REQUIRED.match(message)
    if required:
        parts.append(required.group(1))
    node = _at(document, pointer)
    for part in parts:
        node, pointer = _dereferenced(document, node, pointer)
        step = _step(document, node, pointer, part)
        if step is None:
            break
        node, pointer = step
    return pointer


def _step(document: Any, node: Any, pointer: str, part: str) -> tuple[Any, str] | None:  # noqa: ANN401
    """The schema one property (or array item) deeper, looking into allOf/anyOf/oneOf branches too."""
    if not isinstance(node, dict):
        return None
    properties = node.get("properties")
    if isinstance(properties, dict) and part in properties:
        return properties[part], f"{pointer}/properties/{_escape(part)}"
    if part.isdigit() and isinstance(node.get("items"), dict):
        return node["items"], f"{pointer}/items"
    for keyword in ("allOf", "anyOf", "oneOf"):
        branches = node.get(keyword)
        for index, branch in enumerate(branches if isinstance(branches, list) else []):
            found, found_at = _dereferenced(document, branch, f"{pointer}/{keyword}/{index}")
            step = _step(document, found, found_at, part)
            if step is not None:
                return step
    return None


def _dereferenced(document: Any, node: Any, pointer: str) -> tuple[Any, str]:  # noqa: ANN401
    """The node a chain of local `$ref`s ends at, and its pointer."""
    for _ in range(MAX_REFS):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            break
        node, pointer = _at(document, ref), ref
    return node, pointer


def _at(document: Any, pointer: str) -> Any:  # noqa: ANN401
    node = document
    for part in pointer.removeprefix("#").split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            node = node.get(key) if isinstance(node, dict) else None
    return node


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _is_file(spec: Path) -> bool:
    try:
        return spec.is_file()
    except OSError:  # a name too long for the file system
        return False


def _location(spec: Path, uri: str, pointer: str) -> dict[str, Any]:
    line = pointer_line(spec, pointer) if _is_file(spec) else None
    artifact: dict[str, Any] = {"uri": uri}
    if not uri.startswith("file:"):
        artifact["uriBaseId"] = ROOT_ID
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if line is not None:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical, "logicalLocations": [{"fullyQualifiedName": pointer}]}
