"""`conformance diff OLD NEW`: a classified OpenAPI diff, direction-aware, with levels error, warning and info.

load.py reads a document and follows its `$ref`s; walk.py walks OLD and NEW in step; rules.py and
catalogue.py say what changed and how much it matters; soundness.py finds NEW's schemas that are
wrong in themselves; render.py and sarif.py write the result; bump.py joins it with the recorded traffic
replayed under NEW through the engine (--replay); command.py is the subcommand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.diff import soundness
from conformance.diff.load import load
from conformance.diff.model import DiffResult, Finding, Level, Side
from conformance.diff.walk import Walk

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["DiffResult", "Finding", "Level", "Side", "diff_files"]


def diff_files(old: Path, new: Path) -> DiffResult:
    """Every change from OLD to NEW and every defect of NEW, worst first; BadInputError on a bad document."""
    old_spec, new_spec = load(old, "OLD"), load(new, "NEW")
    findings = [*Walk(old_spec, new_spec).findings(), *soundness.findings(old_spec, new_spec)]
    return DiffResult(old_spec.document, new_spec.document, tuple(sorted(findings, key=lambda item: item.sort_key())))
