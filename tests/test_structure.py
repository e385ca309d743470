"""The package's shape: no import circle, each environment variable named once, every flag from the one table.

And the checks registered family by family, in the order every report lists them.
"""

from __future__ import annotations

import ast
import itertools
from typing import TYPE_CHECKING

from support import ROOT

from conformance.checks import GENERIC
from conformance.cli import _parser
from conformance.operations import REGISTRY
from conformance.options import OPTIONS, options_of
from conformance.report import FORMATS
from conformance.settings import DEFAULT_MAX_EXAMPLES

if TYPE_CHECKING:
    from pathlib import Path

PACKAGE = ROOT / "conformance"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _for_annotations_only(tree: ast.Module) -> set[int]:
    """The nodes under `if TYPE_CHECKING:`: imports there are never run, so they bind no module to another."""
    return {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for statement in node.body
        for inner in ast.walk(statement)
    }


def _imports() -> dict[str, set[str]]:
    """Each module of the package and the modules of the package it imports when run, inside functions too."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        annotations_only = _for_annotations_only(tree)
        for node in ast.walk(tree):
            if id(node) in annotations_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
        graph[name] = {module for module in imported if module in modules and module != name}
    return graph


def _circle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A chain of imports that leads from `start` back to it, if there is one."""
    paths = [[start]]
    seen = {start}
    while paths:
        path = paths.pop()
        for module in sorted(graph[path[-1]]):
            if module == start:
                return [*path, start]
            if module not in seen:
                seen.add(module)
                paths.append([*path, module])
    return None


def test_no_module_imports_one_that_imports_it_back_even_inside_a_function() -> None:
    graph = _imports()
    assert "conformance.report_html" in graph["conformance.report"]
    circles = [circle for module in sorted(graph) if (circle := _circle_through(graph, module))]
    assert circles == []


def _literals(path: Path) -> str:
    """Every string literal of a module (f-strings' pieces too), comments left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return "\n".join(
        node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def test_the_key_s_and_the_target_s_environment_variables_are_spelled_in_one_module_only() -> None:
    # Three copies of the key's variable had to agree (the settings, the CLI's replay, the curl lines).
    spelled = {
        variable: sorted(str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py") if variable in _literals(path))
        for variable in ("DODO_PAYMENTS_API_KEY", "DODO_PAYMENTS_BASE_URL")
    }
    assert spelled == {variable: ["conformance/environment.py"] for variable in spelled}


def test_every_subcommand_takes_exactly_the_options_the_table_gives_it() -> None:
    _, commands = _parser()
    for name, parser in commands.items():
        declared = {
            action.option_strings[0] if action.option_strings else action.dest
            for action in parser._actions  # noqa: SLF001 - argparse has no public list of a parser's actions
            if action.dest != "help"
        }
        assert declared == {option.flag if not option.positional else option.dest for option in options_of(name)}, name
    flags = [(option.flag, command) for option in OPTIONS for command in option.commands]
    assert len(flags) == len(set(flags))


def test_report_offers_every_format_there_is_and_no_other() -> None:
    _, commands = _parser()
    format_action = next(action for action in commands["report"]._actions if action.dest == "format")  # noqa: SLF001
    assert format_action.choices is not None
    assert tuple(format_action.choices) == tuple(FORMATS)
    assert {"md", "html", "junit", "json", "sarif"} <= set(FORMATS)


def test_an_option_shared_by_subcommands_reads_as_each_one_uses_it() -> None:
    _, commands = _parser()

    def help_of(command: str, dest: str) -> str:
        return next(action.help or "" for action in commands[command]._actions if action.dest == dest)  # noqa: SLF001

    assert "env DODO_PAYMENTS_BASE_URL" in help_of("run", "base_url")
    # A replay asks the run's own target, and the sandbox makes its own key: neither reads the variable.
    assert "DODO_PAYMENTS_BASE_URL" not in help_of("replay", "base_url")
    assert "the run's own target" in help_of("replay", "base_url")
    assert "DODO_PAYMENTS_API_KEY" not in help_of("sandbox", "api_key")
    assert commands["selftest"].parse_args(["--variant", "a", "--variant", "b"]).variants == ["a", "b"]
    assert commands["sandbox"].parse_args([]).variant == "reference"
    # A run leaves it unset, so that a replay takes the recording's; the selftest records anew.
    assert commands["run"].parse_args([]).max_examples is None
    assert commands["selftest"].parse_args([]).max_examples == DEFAULT_MAX_EXAMPLES
    # The diff reads the replay's folders only with --replay: unset until given, so that one alone is refused.
    assert "under NEW" in help_of("diff", "replay")
    assert "default cassettes" in help_of("diff", "cassette_dir")
    assert commands["diff"].parse_args(["old", "new"]).cassette_dir is None
    assert commands["diff"].parse_args(["old", "new"]).report_dir is None
    assert commands["run"].parse_args([]).cassette_dir is not None


def test_the_generic_checks_are_registered_family_by_family_in_the_order_the_reports_list_them() -> None:
    # Each family is a module of conformance/checks/, registering its checks when imported: the package's
    # imports decide the order of every report's table.
    families = [family for family, _ in itertools.groupby(check_id.split(".")[0] for check_id in GENERIC)]
    assert families == ["transport", "response", "auth", "resource", "errors"]
    listed = list(REGISTRY)  # what `conformance checks`, the reports and the pytest suite read
    assert listed[:3] == ["transport.reply", "response.status_documented", "response.no_server_error"]
    assert listed[-2:] == ["errors.no_disclosure", "errors.json_body"]
