"""A dependency whose internals the gate imports is pinned to the one minor release the tests ran on."""

from __future__ import annotations

import ast
import importlib
import tomllib
from importlib import metadata

from packaging.requirements import Requirement
from packaging.version import Version
from support import ROOT


def _is_internal(module: str) -> bool:
    """Whether `module` is outside its package's public API: a private or `internal` part, or no public namespace."""
    parts = module.split(".")
    if any(part.startswith("_") or part == "internal" for part in parts[1:]):
        return True
    public = getattr(importlib.import_module(parts[0]), "__all__", None)
    # A package that names its public namespaces in __all__ (Schemathesis does) keeps every other one internal.
    return public is not None and len(parts) > 1 and parts[1] not in public


def _internal_imports() -> dict[str, set[str]]:
    """Distribution -> the internal modules conformance/ imports from it (Hypothesis and Schemathesis only)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "conformance").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                top = module.split(".", 1)[0]
                if top in {"hypothesis", "schemathesis"} and _is_internal(module):
                    found.setdefault(top, set()).add(module)
    return found


def test_each_dependency_whose_internals_the_gate_imports_is_pinned_to_the_minor_release_installed() -> None:
    internals = _internal_imports()
    # Both are leaned on today (conformance/determinism.py, conformance/generation.py); dropping one is fine,
    # but then its pin can widen again and this test's list with it.
    assert set(internals) == {"hypothesis", "schemathesis"}, internals
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = {Requirement(line).name: Requirement(line) for line in pyproject["project"]["dependencies"]}
    for name in internals:
        installed = Version(metadata.version(name))
        specifier = requirements[name].specifier
        lower = Version(f"{installed.major}.{installed.minor}")
        next_minor = Version(f"{installed.major}.{installed.minor + 1}")
        # Every release of the installed minor is allowed, and no other minor.
        assert installed in specifier, f"{name} {installed} is outside {specifier}"
        assert lower in specifier, f"{name}: {specifier} leaves out {lower}"
        assert next_minor not in specifier, f"{name}: {specifier} allows {next_minor}, whose internals nobody tested"
        assert Version(f"{installed.major}.{installed.minor - 1}.999") not in specifier, f"{name}: {specifier}"
