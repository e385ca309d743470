"""Copies of the checkout, and the proofs run in them before any mutant: the tests pass, a planted mutant is killed.

Cosmic Ray mutates copies, never the checkout itself: every tracked file (as it is in the working tree,
uncommitted changes included) is copied into one temporary directory per worker.
"""

from __future__ import annotations

import ast
import os
import queue
import shutil
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from outcomes import HarnessError, tail
from runner import test_command
from targets import PLANTED_MODULE, ROOT, TABLE, Target

# Cosmic Ray's http distributor waits at most 300 s for a worker's answer (aiohttp's default).
MAX_TIMEOUT_SECONDS = 280.0


def tracked_files() -> list[Path]:
    """Every tracked file that exists in the working tree (a deleted one is left out, as in the working tree)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [Path(name) for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def make_copy(destination: Path, files: list[Path]) -> None:
    """Copy the working-tree version of `files` under `destination`."""
    for name in files:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def existing_tests(target: Target) -> list[str]:
    """The target's tests whose files exist; a module left with none cannot be judged."""
    present = [test for test in target.tests if (ROOT / test.split("::", 1)[0]).is_file()]
    for test in target.tests:
        if test not in present:
            print(f"warning: {test} (for {target.module}) does not exist; left out")
    if not present:
        raise HarnessError(f"none of the tests for {target.module} exist: {', '.join(target.tests)}")
    return present


def run_in_copy(copy: Path, command: list[str]) -> tuple[int, str, float]:
    """Run a test command in a copy as a worker would; return the exit code, its output and the time taken."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, check=False)
    return completed.returncode, completed.stdout + completed.stderr, time.perf_counter() - started


def in_copies(copies: list[Path], jobs: list[Callable[[Path], Any]]) -> list[Any]:
    """Run each job in whichever copy is free, as many at once as there are copies."""
    free: queue.Queue[Path] = queue.Queue()
    for copy in copies:
        free.put(copy)

    def run(job: Callable[[Path], Any]) -> Any:  # noqa: ANN401 - whatever the job returns
        copy = free.get()
        try:
            return job(copy)
        finally:
            free.put(copy)

    with ThreadPoolExecutor(max_workers=len(copies)) as pool:
        return list(pool.map(run, jobs))


def timeout_for(baseline_seconds: float) -> float:
    """A mutant's time limit: twice its tests' unmutated time and half a minute, within Cosmic Ray's bounds."""
    return min(MAX_TIMEOUT_SECONDS, max(60.0, 2 * baseline_seconds + 30))


def planted_tests() -> list[str]:
    """The tests that must kill the planted mutant: the redaction row's."""
    planted_target = next((t for t in TABLE if t.module == PLANTED_MODULE), None)
    return existing_tests(planted_target) if planted_target else ["tests/test_secrets.py"]


def baselines(copies: list[Path], test_sets: list[tuple[str, ...]]) -> dict[tuple[str, ...], float]:
    """Run each distinct set of tests unmutated; they must pass. Returns each set's time."""

    def job(tests: tuple[str, ...]) -> Callable[[Path], tuple[int, str, float]]:
        return lambda copy: run_in_copy(copy, test_command(list(tests), MAX_TIMEOUT_SECONDS))

    # Longest first keeps both copies busy to the end.
    ordered = sorted(test_sets, key=lambda tests: -len(tests))
    results = in_copies(copies, [job(tests) for tests in ordered])
    times: dict[tuple[str, ...], float] = {}
    for tests, (code, output, seconds) in zip(ordered, results, strict=True):
        if code != 0:
            raise HarnessError(
                f"the tests fail without any mutant, so every mutant would look killed: {' '.join(tests)}\n"
                + tail(output)
            )
        print(f"baseline: {' '.join(tests)} passed in {seconds:.1f} s", flush=True)
        times[tests] = seconds
    return times


def plant(source: str) -> str:
    """`source` of redaction.py with Redactor.__call__ returning its input unchanged."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Redactor":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__call__":
                    first = item.body[0]
                    docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    after = (first.end_lineno or first.lineno) if docstring else first.lineno - 1
                    argument = item.args.args[1].arg
                    lines = source.splitlines(keepends=True)
                    lines.insert(after, " " * first.col_offset + f"return {argument}\n")
                    return "".join(lines)
    raise HarnessError(f"cannot plant the check mutant: {PLANTED_MODULE} has no Redactor.__call__")


def check_planted(copies: list[Path], tests: list[str], timeout: float) -> None:
    """In every copy, a Redactor that redacts nothing must fail the tests, or they are not testing the copy."""

    def job(copy: Path) -> tuple[Path, int, str]:
        module = copy / PLANTED_MODULE
        original = module.read_text(encoding="utf-8")
        module.write_text(plant(original), encoding="utf-8")
        try:
            code, output, _ = run_in_copy(copy, test_command(tests, timeout))
        finally:
            module.write_text(original, encoding="utf-8")
        return copy, code, output

    for copy, code, output in in_copies(copies, [job for _ in copies]):
        if code == 0:
            raise HarnessError(
                f"the tests do not see the mutated code: a Redactor that redacts nothing, planted in {copy}, "
                f"passes {' '.join(tests)}\n{tail(output)}"
            )
    print(f"planted mutant (Redactor.__call__ returns its input) killed in all {len(copies)} copies", flush=True)


def checkout_commit() -> tuple[str, bool]:
    """The checkout's short commit, and whether it has uncommitted changes (the copies carry them)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True)
    return head.stdout.strip(), bool(status.stdout.strip())
