"""The repository holds only what any machine can use: no local paths, no caches of tools run in it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT

# Absolute paths that name one machine: home folders, this workplace's checkouts, temporary folders.
# (Written with groups, so that this file does not hold one itself.)
LOCAL_PATH = re.compile(r"(?<![\w.])(/(?:home|Users)/[^/\s]+/|/(?:root|work|tmp)/|/var/(?:folders)/)")


# Images: their bytes are pixels, not text that could name a path.
BINARY_SUFFIXES = frozenset({".png"})


def _tracked() -> list[str]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout, so there is no list of tracked files")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [name for name in listed.stdout.decode().split("\0") if name]


def test_no_tracked_file_holds_a_local_absolute_path() -> None:
    offenders = []
    for name in _tracked():
        path = ROOT / name
        if not path.is_file() or path.suffix in BINARY_SUFFIXES:
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for pattern in (LOCAL_PATH, re.compile(re.escape(str(ROOT)))):
            match = pattern.search(text)
            if match:
                offenders.append(f"{name}: {match.group()}")
    assert offenders == []


def test_tool_caches_are_neither_tracked_nor_left_unignored() -> None:
    tracked = _tracked()
    assert [name for name in tracked if name.startswith((".schemathesis/", ".hypothesis/", "node_modules/"))] == []
    ignored = subprocess.run(
        ["git", "check-ignore", ".schemathesis/x", ".hypothesis/x", "node_modules/x", ".venv/x"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert ignored.stdout.split() == [".schemathesis/x", ".hypothesis/x", "node_modules/x", ".venv/x"]


def test_every_flag_of_conformance_run_is_in_the_readme_table_with_its_environment_variable() -> None:
    from conformance.cli import _parser  # noqa: PLC0415 - the parser is the source of truth for the flags

    _, commands = _parser()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {
        line.split("|")[1].strip().strip("`").split()[0]: line
        for line in readme.splitlines()
        if line.startswith("| `--")
    }
    for action in commands["run"]._actions:  # noqa: SLF001 - argparse has no public list of a parser's actions
        flag = next((name for name in action.option_strings if name.startswith("--")), None)
        if flag in (None, "--help"):
            continue
        assert flag in rows, f"{flag} is missing from the README's flag table"
        for variable in ("DODO_PAYMENTS_BASE_URL", "DODO_PAYMENTS_API_KEY", "CONFORMANCE_CHECKOUT_IDS"):
            if variable in (action.help or ""):
                assert variable in rows[flag], f"{flag}'s row does not name {variable}"


def test_the_readmes_engine_example_passes_outside_the_checkout(tmp_path: Path) -> None:
    # A user copies it into a project of their own, with their copy of the spec beside it.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(part for part in readme.split("```python\n")[1:] if "def test_our_staging_server_conforms" in part)
    (tmp_path / "test_example.py").write_text(block.split("```", 1)[0], encoding="utf-8")
    shutil.copy(ROOT / "spec" / "openapi.yaml", tmp_path / "openapi.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "1 passed" in result.stdout


def _make_dry_run(*variables: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    shown = subprocess.run(
        ["make", "-n", "bench", *variables], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return next(line for line in shown.stdout.splitlines() if "bench/run.py" in line)


def test_make_bench_writes_an_untracked_file_and_updates_the_tracked_results_only_when_asked() -> None:
    import importlib.util  # noqa: PLC0415

    command = _make_dry_run()
    assert command.endswith("bench/run.py --output reports/bench.md")
    ignored = subprocess.run(["git", "check-ignore", "reports/bench.md"], cwd=ROOT, capture_output=True, check=False)
    if (ROOT / ".git").exists():
        assert ignored.returncode == 0, "reports/bench.md would show as a change to commit"
    assert _make_dry_run("BENCH_OUTPUT=bench/results.md").endswith("bench/run.py --output bench/results.md")
    # The script's own default, for `python bench/run.py` without make.
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.output_path([]) == ROOT / "reports" / "bench.md"
    assert bench.output_path(["--output", "bench/results.md"]) == Path("bench/results.md")
