"""A recheck: the survivors of a row made again from their recorded text and run against the tests as they are now."""

from __future__ import annotations

import ast
import json
import subprocess
import tempfile
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from copies import (
    baselines,
    check_planted,
    checkout_commit,
    existing_tests,
    in_copies,
    make_copy,
    planted_tests,
    run_in_copy,
    timeout_for,
    tracked_files,
)
from outcomes import HarnessError
from record import accepted_key, apply_accepted, exit_code, load_accepted, merged, previous_modules, write
from runner import TIMEOUT_MARKER, test_command
from targets import ROOT, TABLE


def reapplied(source: str, mutant: dict[str, Any]) -> str | None:
    """`source` with a recorded one-line mutant made again from its text; None when its line no longer reads so."""
    lines = source.splitlines(keepends=True)
    index = mutant["line"] - 1
    if not 0 <= index < len(lines) or lines[index].strip() != mutant["original"]:
        return None
    line = lines[index]
    indent = line[: len(line) - len(line.lstrip())]
    lines[index] = f"{indent}{mutant['mutated']}\n"
    mutated = "".join(lines)
    try:
        ast.parse(mutated)
    except SyntaxError:
        return None
    return mutated


def changed_since(module: str, commit: str) -> bool:
    """Whether the module in the working tree differs from the commit its row measured (or that commit is unknown)."""
    diff = subprocess.run(["git", "diff", "--quiet", commit, "--", module], cwd=ROOT, capture_output=True, check=False)
    return diff.returncode != 0


def rechecked_row(row: dict[str, Any], killed: list[tuple[dict[str, Any], str]], run: dict[str, Any]) -> None:
    """Move the survivors a recheck killed out of the row's survivors and into its counts, noting the recheck."""
    for mutant, outcome in killed:
        row["mutants"].remove(mutant)
        parts = [row["score"]] + [p["score"] for p in row["critical"] if mutant["function"] in p["functions"]]
        for score in parts:
            score["survived"] -= 1
            score["killed" if outcome == "killed" else "timeouts"] += 1
    row["rechecked"] = {
        **run,
        "killed": [
            {key: mutant[key] for key in ("line", "operator", "function", "original", "mutated", "occurrence")}
            for mutant, _ in killed
        ],
    }


def recheck(modules: list[str], report_dir: Path, workers_count: int) -> int:
    """Run each survivor not accepted again, against the row's tests as they are now; write the reports.

    Only a module whose source is as its row measured it can be rechecked: the recorded mutants are made again
    from their lines' text. Mutants the row counted as killed are not run again.
    """
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = checkout_commit()
    accepted = load_accepted()
    rows = previous_modules(report_dir)
    if not rows:
        raise HarnessError(f"{report_dir / 'mutation.json'} has no rows to recheck: run `make mutation` first")
    chosen = [row for row in rows if not modules or row["module"] in modules]
    missing = sorted(set(modules) - {row["module"] for row in chosen})
    if missing:
        raise HarnessError(f"no row to recheck for {', '.join(missing)}: measure it whole first")
    for row in chosen:
        if row["run"]["dirty"] or changed_since(row["module"], row["run"]["commit"]):
            raise HarnessError(
                f"{row['module']} is not as its row measured it (commit {row['run']['commit']}): its mutants cannot be "
                f"made again; measure it whole with `make mutation MODULES={row['module']}`"
            )
    targets = {target.module: target for target in TABLE}
    files = tracked_files()
    with tempfile.TemporaryDirectory(prefix="mutation-recheck-") as scratch:
        copies = [Path(scratch) / f"copy-{index}" for index in range(workers_count)]
        for copy in copies:
            make_copy(copy, files)
        planted = planted_tests()
        times = baselines(copies, [tuple(planted)])
        check_planted(copies, planted, timeout_for(times[tuple(planted)]))
        for row in chosen:
            tests = existing_tests(targets[row["module"]])
            survivors = [
                m for m in row["mutants"]
                if m["outcome"] == "survived"
                and accepted_key(m) not in accepted
            ]  # fmt: skip
            times = baselines(copies, [tuple(tests)])
            timeout = timeout_for(times[tuple(tests)])
            outcomes = in_copies(copies, [partial(_run_again, mutant, tests, timeout) for mutant in survivors])
            killed = [
                (m, outcome.split(" ", 1)[0])
                for m, outcome in zip(survivors, outcomes, strict=True)
                if not outcome.startswith("survived")
            ]
            for mutant, outcome in zip(survivors, outcomes, strict=True):
                print(f"{row['module']}:{mutant['line']} `{mutant['mutated']}`: {outcome}", flush=True)
            rechecked_row(row, killed, {"started_at": started_at, "commit": commit[0], "dirty": commit[1]})
            print(f"{row['module']}: {len(killed)} of {len(survivors)} survivors killed on recheck", flush=True)
            # Written after each row, so that a recheck stopped part way keeps the rows it finished.
            record = json.loads((report_dir / "mutation.json").read_text(encoding="utf-8"))
            record["modules"] = merged([row], previous_modules(report_dir))
            apply_accepted(record, accepted)
            write(report_dir, record)
    print(f"wrote {report_dir / 'mutation.md'}")
    return exit_code(record)


def _run_again(mutant: dict[str, Any], tests: list[str], timeout: float, copy: Path) -> str:
    """killed, timeout or survived: one recorded mutant made again in a copy and judged by `tests`.

    A kill counts only when the tests fail on the mutant twice: on a busy machine a test can fail once for
    reasons of its own, and a survivor taken for killed would hide a gap in the tests.
    """
    module = copy / mutant["module"]
    original = module.read_text(encoding="utf-8")
    mutated = reapplied(original, mutant)
    if mutated is None:
        return "survived (could not be made again from its text)"
    module.write_text(mutated, encoding="utf-8")
    try:
        runs = []
        for _ in range(2):
            code, output, _seconds = run_in_copy(copy, test_command(tests, timeout))
            runs.append((code, output))
            if code == 0:
                break
    finally:
        module.write_text(original, encoding="utf-8")
    if runs[-1][0] == 0:
        return "survived" if len(runs) == 1 else "survived (the tests failed once, then passed)"
    failed = sorted({line for _, output in runs for line in output.splitlines() if line.startswith("FAILED ")})
    outcome = "timeout" if all(TIMEOUT_MARKER in output for _, output in runs) else "killed"
    return f"{outcome} ({'; '.join(failed)[:300]})" if failed else outcome
