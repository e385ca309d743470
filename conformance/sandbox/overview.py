"""What `conformance sandbox` prints about the business reads: a few ids to read, per kind of record."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.sandbox.catalogue import known_ids

if TYPE_CHECKING:
    from conformance.sandbox.server import Sandbox


def resource_lines(sandbox: Sandbox, per_route: int = 3) -> list[str]:
    """Lines naming a few seeded ids for each kind of record, under the path that reads one."""
    lines = ["seeded ids of the other business reads (the key above reads them; several ids joined by '/'):"]
    lines.extend(f"  {path}: {', '.join(ids)}" for path, ids in known_ids(sandbox.api.catalogue, per_route).items())
    return lines
