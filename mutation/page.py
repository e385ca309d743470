"""reports/mutation.md, rendered from the record in reports/mutation.json."""

from __future__ import annotations

from collections import Counter
from typing import Any

from targets import PYTEST_ARGS

# The columns of the score table in mutation.md.
COLUMNS = [
    "module",
    "mutants",
    "killed",
    "timeouts",
    "survived",
    "accepted",
    "errors",
    "score",
    "target",
    "met",
    "time",
    "measured",
]


def render(record: dict[str, Any]) -> str:
    """reports/mutation.md from the record."""
    dirty = " with uncommitted changes" if record["dirty"] else ""
    status = "every module meets its target" if record["ok"] else "NOT every module meets its target"
    if record["pending"]:
        status = f"incomplete, still to run: {', '.join(record['pending'])}"
    elif record["unmeasured"]:
        status = f"incomplete, never measured: {', '.join(record['unmeasured'])}"
    lines = [
        "# Mutation testing",
        "",
        (
            f"Last run: **{record['wall_seconds'] / 60:.1f} min** ({record['wall_seconds']:.0f} s) on "
            f"{record['workers']} workers, {record['started_at']}, commit {record['commit']}{dirty}, {record['tool']}."
        ),
        "Rows of modules that run did not cover are kept from the earlier run named in their last column",
        "(its commit, `+` when it had uncommitted changes, and when it started).",
        "",
        f"Result: **{status}**.",
        "Score = (killed + timeouts) / (mutants - accepted). Filtered mutants are not counted (see below).",
        "",
        f"| {' | '.join(COLUMNS)} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for module in record["modules"]:
        lines += _score_rows(module)
    lines += ["", "## Surviving mutants not accepted", ""]
    survivors = [_survivor_lines(module) for module in record["modules"]]
    lines += [line for block in survivors for line in block] or ["None.", ""]
    rechecked = [
        f"- {module['module']}:{mutant['line']} `{mutant['original']}` -> `{mutant['mutated']}`"
        for module in record["modules"]
        for mutant in module.get("rechecked", {}).get("killed", [])
    ]
    if any("rechecked" in module for module in record["modules"]):
        lines += [
            "## Survivors killed when run again",
            "",
            "`mutation/run.py recheck` ran a row's survivors again, on the same source, against the tests of the",
            "commit its last column names; the mutants that row's run had killed were not run again.",
            "",
            *(rechecked or ["None."]),
            "",
        ]
    lines += ["## Accepted survivors", ""]
    lines += [
        f"- {mutant['module']}:{mutant['line']} `{mutant['original']}` -> `{mutant['mutated']}`: {mutant['accepted']}"
        for module in record["modules"]
        for mutant in module["mutants"]
        if mutant["accepted"]
    ] or ["None."]
    if record["stale_accepted"]:
        lines += ["", "Entries in mutation/accepted.toml that match no survivor (remove them):", ""]
        lines += [f"- {entry}" for entry in record["stale_accepted"]]
    lines += [
        "",
        "## Functions with no mutant",
        "",
        "Cosmic Ray mutates operators, comparisons, numbers, booleans, decorators, `except` clauses and loops;",
        "it has no operator for calls, string literals or whole statements, so these functions are not judged:",
        "",
    ]
    lines += [
        f"- {module['module']}: {', '.join(module['unreached_functions'])}"
        for module in record["modules"]
        if module["unreached_functions"]
    ] or ["None."]
    unmutatable = [
        f"- {m['module']}:{m['line']} `{m['original']}`, {m['operator']} occurrence {m['occurrence']}: {m['note']}"
        for module in record["modules"]
        for m in module["mutants"]
        if m["outcome"] == "unmutatable"
    ]
    if unmutatable:
        lines += ["", "## Mutants Cosmic Ray failed to make (not counted)", "", *unmutatable]
    lines += ["", "## Filtered", ""]
    filtered = Counter(
        m["note"] for module in record["modules"] for m in module["mutants"] if m["outcome"] == "filtered"
    )
    lines += [f"- {count} mutants: {why}" for why, count in sorted(filtered.items())]
    lines += [
        "",
        "## Per-mutant runs",
        "",
        f"`pytest {' '.join(PYTEST_ARGS)} TESTS` in a copy of the checkout; a run past the module's timeout is",
        "killed with everything it started and counts as a timeout (killed). Tests and timeouts per module:",
        "",
    ]
    lines += [
        f"- {module['module']}: {' '.join(module['tests'])} (baseline {module['baseline_seconds']:.0f} s, "
        f"timeout {module['timeout_seconds']:.0f} s)"
        for module in record["modules"]
    ]
    return "\n".join(lines) + "\n"


def _score_rows(module: dict[str, Any]) -> list[str]:
    run = module["run"]
    measured = f"{run['commit']}{'+' if run['dirty'] else ''}, {run['started_at'].removesuffix(' UTC')}"
    if "rechecked" in module:
        again = module["rechecked"]
        measured += f"; survivors run again at {again['commit']}{'+' if again['dirty'] else ''}"
    name = module["module"]
    if module.get("not_run", 0):
        name += f" (stopped: {module['not_run']} of {module['score']['mutants'] + module['not_run']} not run)"
    rows = [(name, module["score"], module["target"], module["meets_target"], module["seconds"], measured)]
    rows += [
        (f"{module['module']} :: {', '.join(part['functions'])}", part["score"], 1.0, part["score"]["score"] >= 1,
         None, "")
        for part in module["critical"]
    ]  # fmt: skip
    return [
        f"| {name} | {score['mutants']} | {score['killed']} | {score['timeouts']} | {score['survived']} "
        f"| {score['accepted']} | {score['errors']} | {score['score']:.1%} | {target:.0%} "
        f"| {'yes' if met else '**no**'} | {'' if seconds is None else f'{seconds / 60:.1f} min'} | {when} |"
        for name, score, target, met, seconds, when in rows
    ]


def _survivor_lines(module: dict[str, Any]) -> list[str]:
    survivors = [m for m in module["mutants"] if m["outcome"] in ("survived", "error") and not m["accepted"]]
    if not survivors:
        return []
    lines = [f"### {module['module']} ({len(survivors)})", ""]
    for mutant in survivors:
        inside = f" in `{mutant['function']}`" if mutant["function"] else ""
        error = f" (harness error: {mutant['note']})" if mutant["outcome"] == "error" else ""
        where = f"{mutant['module']}:{mutant['line']}{inside}"
        lines += [
            f"{where}, {mutant['operator']}, occurrence {mutant['occurrence']}{error}",
            "```diff",
            f"- {mutant['original']}",
            f"+ {mutant['mutated']}",
            "```",
        ]
    return [*lines, ""]
