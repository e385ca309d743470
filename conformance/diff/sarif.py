"""The diff as SARIF 2.1.0: one result per finding, located at the line of NEW where the change is."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import yaml

from conformance import __version__
from conformance.diff import bump
from conformance.diff.catalogue import RULES
from conformance.diff.model import Level
from conformance.diff.render import place

if TYPE_CHECKING:
    from conformance.diff.bump import ReplaySide
    from conformance.diff.model import DiffResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
ROOT_ID = "SRCROOT"
SARIF_LEVELS = {Level.ERROR: "error", Level.WARNING: "warning", Level.INFO: "note"}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Lines:
    """The line of each JSON pointer in one file, read once (JSON is YAML, so one reader serves both)."""

    def __init__(self, path: Path) -> None:
        try:
            self.root: yaml.Node | None = yaml.compose(path.read_text(encoding="utf-8"), Loader=_LOADER)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            self.root = None

    def line(self, pointer: str) -> int | None:
        """The 1-based line a pointer lands on; as deep as it reaches when it runs past the document."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for raw in pointer.removeprefix("#").split("/")[1:]:
            token = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, yaml.MappingNode):
                entry = next(((key, value) for key, value in node.value if key.value == token), None)
                if entry is None:
                    break
                line, node = entry[0].start_mark.line + 1, entry[1]
            elif isinstance(node, yaml.SequenceNode) and token.isdigit() and int(token) < len(node.value):
                node = node.value[int(token)]
                line = node.start_mark.line + 1
            else:
                break
        return line


def _artifact(path: Path) -> tuple[dict[str, Any], Path | None]:
    """NEW's URI: relative to its repository (or the current folder) when inside one, else a file URI."""
    resolved = path.resolve()
    repository = next((folder for folder in resolved.parents if (folder / ".git").exists()), None)
    for root in (repository, Path.cwd().resolve()):
        if root is not None and resolved.is_relative_to(root):
            return {"uri": resolved.relative_to(root).as_posix(), "uriBaseId": ROOT_ID}, root
    return {"uri": resolved.as_uri()}, None


def render_sarif(result: DiffResult, *, strict: bool, replay: ReplaySide | None = None) -> str:
    """The SARIF log of a diff; each rule carries its reason, each result its place in both documents.

    With --replay, the run's properties hold the replay's side and the one verdict (`replay`, as in the JSON);
    the replay's own findings are in its reports, located at the spec's lines by `conformance report --format sarif`.
    """
    lines = Lines(result.new.path)
    artifact, root = _artifact(result.new.path)
    seen = sorted({finding.rule for finding in result.findings})
    index = {rule: position for position, rule in enumerate(seen)}
    rules = [
        {
            "id": rule,
            "name": rule.replace("-", "_"),
            "shortDescription": {"text": RULES[rule].reason},
            "fullDescription": {
                "text": f"{RULES[rule].level.value}, {RULES[rule].side.value} side: {RULES[rule].reason}"
            },
            "defaultConfiguration": {"level": SARIF_LEVELS[RULES[rule].level]},
            "properties": {"side": RULES[rule].side.value},
        }
        for rule in seen
    ]
    results = []
    for finding in result.findings:
        pointer = finding.new_pointer or "#"
        physical: dict[str, Any] = {"artifactLocation": artifact}
        line = lines.line(pointer)
        if line is not None:
            physical["region"] = {"startLine": line}
        identity = (
            f"{finding.rule}|{finding.operation}|{finding.status}|{finding.media_type}|{finding.where}|"
            f"{finding.property}|{finding.message}"
        )
        results.append({
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": SARIF_LEVELS[finding.level],
            "message": {"text": f"{place(finding)}: {finding.message}. Why it matters: {finding.why}"},
            "locations": [{"physicalLocation": physical, "logicalLocations": [{"fullyQualifiedName": pointer}]}],
            "partialFingerprints": {"diffFinding": hashlib.sha256(identity.encode()).hexdigest()[:16]},
            "properties": {
                "operation": finding.operation, "status": finding.status, "media_type": finding.media_type,
                "old_pointer": finding.old_pointer, "new_pointer": finding.new_pointer,
            },
        })  # fmt: skip
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "conformance diff", "version": __version__, "rules": rules}},
        "results": results,
        "properties": {
            "exit_code": 1 if result.fails(strict=strict) else 0, "old": str(result.old.path),
            **({"replay": bump.as_record(result, replay, strict=strict)} if replay is not None else {}),
        },
    }  # fmt: skip
    if root is not None:
        run["originalUriBaseIds"] = {ROOT_ID: {"uri": root.as_uri() + "/"}}
    return json.dumps({"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}, indent=2) + "\n"
