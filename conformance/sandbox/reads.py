"""The business reads of Dodo's public spec, as the sandbox serves them: every GET but the documentation pages."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The bundled document the sandbox serves (a checkout of the project: spec/ sits beside the package).
SPEC_PATH = Path(__file__).resolve().parents[2] / "spec" / "dodo-openapi-1.113.0.json"
# The rule: a GET is a business read unless it is tagged "Docs" (/docs, /dashboard/docs/openapi.json, ...).
DOCUMENTATION_TAG = "Docs"
PAGE_PARAMETERS = frozenset({"page_size", "page_number"})


@dataclass(frozen=True)
class BusinessRead:
    """One GET operation: where it is, whether it needs the key, and what its 200 carries."""

    path: str
    operation_id: str
    secured: bool
    media_type: str
    # The 200's schema; None where the document gives none (the CSV download).
    schema: dict[str, Any] | None
    paged: bool

    @property
    def segments(self) -> tuple[str, ...]:
        """The path's segments; a "{name}" segment is a path parameter."""
        return tuple(self.path.strip("/").split("/"))

    @property
    def takes_id(self) -> bool:
        """Whether the path names a record."""
        return "{" in self.path


@functools.cache
def bundled_document() -> dict[str, Any]:
    """The bundled spec, read once per process."""
    document: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return document


def business_reads(document: dict[str, Any]) -> tuple[BusinessRead, ...]:
    """Every GET of the document not tagged "Docs", in the document's order."""
    default_security = document.get("security", [])
    reads = []
    for path, item in document["paths"].items():
        operation = item.get("get")
        if operation is None or DOCUMENTATION_TAG in operation.get("tags", ()):
            continue
        content = operation["responses"]["200"].get("content", {})
        media_type, body = next(iter(content.items()))
        names = {parameter.get("name") for parameter in operation.get("parameters", ())}
        reads.append(
            BusinessRead(
                path=path,
                operation_id=operation["operationId"],
                secured=bool(operation.get("security", default_security)),
                media_type=media_type,
                schema=body.get("schema"),
                paged=names >= PAGE_PARAMETERS,
            )
        )
    return tuple(reads)
