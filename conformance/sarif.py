"""SARIF 2.1.0: one result per finding group, located at the spec lines of the requirement it broke.

A code-review tool then annotates spec/openapi.yaml where the broken promise is written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance import __version__
from conformance.checks import REGISTRY
from conformance.spec import pointer_line

if TYPE_CHECKING:
    from conformance.record import RunRecord

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"MUST": "error", "SHOULD": "warning"}


def render_sarif(record: RunRecord) -> str:
    """The SARIF log of a run."""
    spec = Path(record.run.spec)
    rules = [
        {
            "id": check.id,
            "name": check.id.replace(".", "_"),
            "shortDescription": {"text": check.requirement},
            "defaultConfiguration": {"level": LEVELS[str(check.level)]},
            "properties": {"spec_ref": check.spec_ref},
        }
        for check in REGISTRY.values()
    ]
    rule_index = {rule["id"]: index for index, rule in enumerate(rules)}
    results = [
        {
            "ruleId": group.check,
            "ruleIndex": rule_index.get(group.check, 0),
            "level": "error" if group.outcome == "failed" else "warning",
            "message": {
                "text": f"{group.count} finding(s): {group.summary} Expected: {group.example.expected} "
                f"Reproduce: {group.example.curl}"
            },
            "locations": [_location(spec, _spec_pointer(group.check))],
            "partialFingerprints": {"findingGroup": group.id},
            "properties": {"count": group.count, "replay": group.replay, "checkout_ids": list(group.checkout_ids)},
        }
        for group in record.groups
    ]
    log: dict[str, Any] = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "dodo-conformance", "version": __version__, "rules": rules}},
                "results": results,
                "properties": {"verdict": record.result.status, "exit_code": record.result.exit_code},
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _spec_pointer(check_id: str) -> str:
    ref = REGISTRY[check_id].spec_ref if check_id in REGISTRY else ""
    return next((part.strip() for part in ref.split(";") if part.strip().startswith("#/")), "#/")


def _location(spec: Path, pointer: str) -> dict[str, Any]:
    line = pointer_line(spec, pointer) if spec.is_file() else None
    physical: dict[str, Any] = {"artifactLocation": {"uri": spec.as_posix()}}
    if line is not None:
        physical["region"] = {"startLine": line}
    return {"physicalLocation": physical, "logicalLocations": [{"fullyQualifiedName": pointer}]}
