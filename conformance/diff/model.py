"""The diff's result: typed findings with a level, a side and where they are in each document."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class Level(StrEnum):
    """How much a finding matters: an error fails the diff, a warning only with --strict, info never."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Side(StrEnum):
    """Which way the data flows where the change is: the same change breaks one side and not the other."""

    REQUEST = "request"
    RESPONSE = "response"
    # Operations and security: neither a request's nor a response's data.
    API = "api"
    # A schema wrong in itself, whichever way it is used.
    SPEC = "spec"


# Worst first: the order of the reports and of the verdict.
LEVEL_ORDER = (Level.ERROR, Level.WARNING, Level.INFO)


@dataclass(frozen=True)
class Finding:
    """One classified change (or one defect of NEW), located in both documents.

    `operation`, `status` and `media_type` are what a recorded exchange is matched on when the diff is
    joined with replayed traffic; `old_pointer` and `new_pointer` are JSON pointers into each document
    (for something removed, `new_pointer` is where it was, the nearest node NEW still has).
    """

    rule: str
    level: Level
    side: Side
    message: str
    why: str
    operation: str | None = None
    status: str | None = None
    media_type: str | None = None
    # Where in the operation: "parameter query page_size", "request body", "response body".
    where: str | None = None
    # The property inside a body or parameter, dotted: "feature_flags.single_page", "metadata.*", "tags[]".
    property: str | None = None
    old_pointer: str | None = None
    new_pointer: str | None = None

    def sort_key(self) -> tuple[int, str, str, str, str, str]:
        """Worst first, then by path (webhooks after paths), method, rule and place: stable from run to run."""
        method, _, path = (self.operation or "").partition(" ")
        return (
            LEVEL_ORDER.index(self.level),
            f"~{path}" if method == "WEBHOOK" else path,
            method,
            self.rule,
            self.new_pointer or self.old_pointer or "",
            self.message,
        )


@dataclass(frozen=True)
class Document:
    """One side of the diff as read: its path, its `info.version`, its parsed content."""

    path: Path
    label: str
    version: str
    content: dict[str, object] = field(repr=False)


@dataclass(frozen=True)
class DiffResult:
    """Every finding of a diff of OLD to NEW, worst first."""

    old: Document
    new: Document
    findings: tuple[Finding, ...]

    def count(self, level: Level) -> int:
        """How many findings have this level."""
        return sum(1 for finding in self.findings if finding.level is level)

    def fails(self, *, strict: bool) -> bool:
        """Whether the bump is refused: any error, or any warning under --strict."""
        return self.count(Level.ERROR) > 0 or (strict and self.count(Level.WARNING) > 0)
