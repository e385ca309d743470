"""The record behind the reports: scores from the results, accepted survivors applied, earlier rows kept."""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from outcomes import HarnessError, ModuleResult
from page import render
from targets import ROOT, TABLE

ACCEPTED_FILE = ROOT / "mutation" / "accepted.toml"
# 2: each module keeps the run that measured it, so a run of some modules adds to the report of the others.
FORMAT_VERSION = 2


def accepted_key(mutant: dict[str, Any]) -> tuple[str, str, str, int]:
    """A recorded mutant's key in mutation/accepted.toml (Mutant.key, for a mutant read back from a record)."""
    return (mutant["module"], mutant["original"], mutant["mutated"], mutant["occurrence"])


def load_accepted() -> dict[tuple[str, str, str, int], str]:
    """Accepted survivors by key, with their reasons."""
    if not ACCEPTED_FILE.is_file():
        return {}
    entries = tomllib.loads(ACCEPTED_FILE.read_text(encoding="utf-8")).get("mutant", [])
    accepted = {}
    for entry in entries:
        if not entry.get("reason", "").strip():
            raise HarnessError(f"{ACCEPTED_FILE.name}: every accepted mutant needs a reason: {entry}")
        key = (entry["module"], entry["original"], entry["mutated"], int(entry.get("occurrence", 1)))
        accepted[key] = entry["reason"]
    return accepted


def summarise(results: list[ModuleResult]) -> dict[str, Any]:
    """The record the reports are written from, before accepted survivors are applied to it."""
    return {
        "format": "dodo-conformance/mutation",
        "format_version": FORMAT_VERSION,
        "tool": f"cosmic-ray {metadata.version('cosmic-ray')}",
        "modules": [
            {
                "module": result.target.module,
                "tests": result.tests,
                "target": result.target.target,
                "timeout_seconds": round(result.timeout_seconds, 1),
                "baseline_seconds": round(result.baseline_seconds, 1),
                "seconds": round(result.seconds, 1),
                "not_run": result.not_run,
                "score": {**asdict(result.score()), "score": round(result.score().score, 4)},
                "critical": [
                    {
                        "functions": list(result.target.critical),
                        "score": {
                            **asdict(result.score(result.target.critical)),
                            "score": round(result.score(result.target.critical).score, 4),
                        },
                    }
                ]
                if result.target.critical
                else [],
                "unreached_functions": result.unreached,
                "mutants": [
                    {
                        **{k: v for k, v in asdict(mutant).items() if k != "note"},
                        "accepted": None,
                        "note": mutant.note if mutant.outcome in ("filtered", "unmutatable", "error") else None,
                    }
                    for mutant in result.mutants
                    if mutant.outcome != "killed"
                ],
            }
            for result in results
        ],
    }


def apply_accepted(record: dict[str, Any], accepted: dict[tuple[str, str, str, int], str]) -> None:
    """Mark accepted survivors, score every module, decide `ok` and whether every row of the table is there.

    A record can be re-judged this way later.
    """
    used = set()
    for module in record["modules"]:
        for mutant in module["mutants"]:
            key = accepted_key(mutant)
            mutant["accepted"] = accepted.get(key) if mutant["outcome"] == "survived" else None
            if mutant["accepted"]:
                used.add(key)
        parts = [
            (module["score"], module["target"], None),
            *((p["score"], 1.0, p["functions"]) for p in module["critical"]),
        ]
        # A module whose run was stopped part way has not been judged whole.
        module["meets_target"] = module["score"]["errors"] == 0 and not module.get("not_run", 0)
        for score, target, functions in parts:
            score["accepted"] = sum(
                1 for m in module["mutants"] if m["accepted"] and (functions is None or m["function"] in functions)
            )
            judged = score["mutants"] - score["accepted"]
            exact = (score["killed"] + score["timeouts"]) / judged if judged else 1.0
            score["score"] = round(exact, 4)
            module["meets_target"] = module["meets_target"] and exact >= target
    names = [module["module"] for module in record["modules"]]
    record["stale_accepted"] = [" | ".join(map(str, key)) for key in accepted if key not in used and key[0] in names]
    record["ok"] = all(module["meets_target"] for module in record["modules"])
    record["unmeasured"] = [target.module for target in TABLE if target.module not in names]
    record["complete"] = not record["pending"] and not record["unmeasured"]


def write_reports(  # noqa: PLR0913 - the record is all of these
    report_dir: Path,
    results: list[ModuleResult],
    *,
    pending: list[str],
    started_at: str,
    seconds: float,
    workers_count: int,
    commit: tuple[str, bool],
) -> dict[str, Any]:
    """Write mutation.json and mutation.md, each whole (temporary file, then rename); return the record."""
    record = {
        **summarise(results),
        "pending": pending,
        "started_at": started_at,
        "wall_seconds": round(seconds, 1),
        "workers": workers_count,
        "commit": commit[0],
        "dirty": commit[1],
    }
    for module in record["modules"]:
        module["run"] = {"started_at": started_at, "commit": commit[0], "dirty": commit[1]}
    record["modules"] = merged(record["modules"], previous_modules(report_dir))
    # Read afresh each time, so that what is accepted during a long run counts in its report.
    apply_accepted(record, load_accepted())
    write(report_dir, record)
    return record


def previous_modules(report_dir: Path) -> list[dict[str, Any]]:
    """The modules of the last record in report_dir, each with the run that measured it; none if unreadable.

    A run of some modules keeps the others' rows: `make mutation MODULES=...` adds to the report, it does
    not wipe what earlier runs measured. Each row says which commit it measured.
    """
    source = report_dir / "mutation.json"
    try:
        record = json.loads(source.read_text(encoding="utf-8"))
        modules: list[dict[str, Any]] = record["modules"]
        for module in modules:
            # Records before format 2 kept the run once, for all modules.
            module.setdefault("run", {key: record[key] for key in ("started_at", "commit", "dirty")})
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if record.get("format") != "dodo-conformance/mutation":
        return []
    return modules


def merged(fresh: list[dict[str, Any]], earlier: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The modules just measured and the earlier rows of the table's other modules, in the table's order."""
    by_name = {module["module"]: module for module in earlier}
    by_name.update({module["module"]: module for module in fresh})
    order = [target.module for target in TABLE]
    return [by_name[name] for name in order if name in by_name]


def write(report_dir: Path, record: dict[str, Any]) -> None:
    """Write mutation.json and mutation.md from the record, each whole (temporary file, then rename)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    for name, text in (("mutation.json", json.dumps(record, indent=2) + "\n"), ("mutation.md", render(record))):
        partial = report_dir / f".{name}.partial"
        partial.write_text(text, encoding="utf-8")
        partial.replace(report_dir / name)


def rejudge(report_dir: Path) -> int:
    """Apply mutation/accepted.toml as it is now to the last run's record and render it again."""
    source = report_dir / "mutation.json"
    if not source.is_file():
        raise HarnessError(f"{source} does not exist: run `make mutation` first")
    record: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    record["modules"] = previous_modules(report_dir)
    apply_accepted(record, load_accepted())
    write(report_dir, record)
    print(f"rewrote {report_dir / 'mutation.md'} with the accepted survivors as they are now")
    return exit_code(record)


def exit_code(record: dict[str, Any]) -> int:
    """0 every module meets its target, 1 one does not, 2 a mutant's run was a harness error."""
    if any(module["score"]["errors"] for module in record["modules"]):
        return 2
    return 0 if record["ok"] else 1
