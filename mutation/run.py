"""The mutation run behind `make mutation`: writes reports/mutation.md and reports/mutation.json.

Cosmic Ray mutates copies of the checkout, never the checkout itself: every tracked file (as it is in the
working tree, uncommitted changes included) is copied into one temporary directory per worker. Before any
mutant runs, each module's tests must pass unmutated, and a planted mutant must be killed in every copy,
which proves the tests import the copy's code rather than the checkout the venv's editable install names.

Exit codes: 0 every module meets its target, 1 at least one does not, 2 the run itself could not judge.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from copies import (
    baselines,
    check_planted,
    checkout_commit,
    existing_tests,
    make_copy,
    planted_tests,
    timeout_for,
    tracked_files,
)
from outcomes import HarnessError, ModuleResult
from recheck import recheck
from record import exit_code, load_accepted, rejudge, write_reports
from runner import run_pytest, serve_worker
from sessions import read_session, run_session, session_database, unreached_functions, workers
from targets import ROOT, TABLE, WORKERS, Target


def module_names(values: list[str]) -> list[str]:
    """Module paths from the command line, space- or comma-separated (as MODULES= passes them)."""
    return [name for value in values for name in value.replace(",", " ").split()]


def mutate(chosen: list[Target], report_dir: Path, workers_count: int) -> int:
    """The whole run; returns the exit code. The reports are rewritten after each module."""
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()
    # What the copies are made from, taken before anything else can change the checkout.
    commit = checkout_commit()
    load_accepted()  # a malformed file stops the run before hours are spent, not after
    tests = {target.module: existing_tests(target) for target in chosen}
    files = tracked_files()
    results: list[ModuleResult] = []
    with tempfile.TemporaryDirectory(prefix="mutation-") as scratch:
        copies = [Path(scratch) / f"copy-{index}" for index in range(workers_count)]
        for copy in copies:
            make_copy(copy, files)
        test_sets = list(dict.fromkeys(tuple(tests[target.module]) for target in chosen))
        planted = planted_tests()
        times = baselines(copies, list(dict.fromkeys([*test_sets, tuple(planted)])))
        check_planted(copies, planted, timeout_for(times[tuple(planted)]))
        session_dir = Path(scratch) / "sessions"
        session_dir.mkdir()
        with workers(copies) as urls:
            for index, target in enumerate(chosen):
                module_tests = tests[target.module]
                baseline = times[tuple(module_tests)]
                result = ModuleResult(target, module_tests, timeout_for(baseline), baseline)
                module_started = time.monotonic()
                stopped: BaseException | None = None
                try:
                    database = run_session(
                        target,
                        tests=module_tests,
                        timeout=result.timeout_seconds,
                        copy=copies[0],
                        urls=urls,
                        session_dir=session_dir,
                    )
                except (KeyboardInterrupt, SystemExit) as stop:
                    # Stopped mid-module: what ran is kept in the report, with how many never ran.
                    database, stopped = session_database(session_dir, target), stop
                    if not database.is_file():
                        raise
                source = (copies[0] / target.module).read_text(encoding="utf-8")
                result.mutants, result.not_run = read_session(database, source, stopped=stopped is not None)
                result.unreached = unreached_functions(result.mutants, copies[0] / target.module)
                result.seconds = time.monotonic() - module_started
                score = result.score()
                print(
                    f"{target.module}: {score.killed} killed, {score.timeouts} timeouts, {score.survived} survived, "
                    f"{score.errors} errors in {result.seconds / 60:.1f} min",
                    flush=True,
                )
                results.append(result)
                record = write_reports(
                    report_dir,
                    results,
                    pending=[target.module for target in chosen[index + 1 :]],
                    started_at=started_at,
                    seconds=time.monotonic() - started,
                    workers_count=workers_count,
                    commit=commit,
                )
                if stopped is not None:
                    print(f"stopped: wrote what ran to {report_dir / 'mutation.md'}", flush=True)
                    raise stopped
    print(f"wrote {report_dir / 'mutation.md'} in {record['wall_seconds'] / 60:.1f} min")
    return exit_code(record)


def _terminate(_signal: int, _frame: object) -> None:
    raise SystemExit(128 + signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    run_parser = sub.add_parser("run", help="mutate and write the reports (the default)")
    run_parser.add_argument("--modules", nargs="*", default=[], help="module paths from the table (default: all)")
    run_parser.add_argument("--workers", type=int, default=WORKERS)
    run_parser.add_argument("--report-dir", type=Path, default=ROOT / "reports")
    pytest_parser = sub.add_parser("pytest", help="one mutant's test run, inside a copy (used by the workers)")
    pytest_parser.add_argument("--timeout", type=float, required=True)
    pytest_parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    worker_parser = sub.add_parser("worker", help="a Cosmic Ray http worker on loopback, in the current directory")
    worker_parser.add_argument("--port", type=int, required=True)
    recheck_parser = sub.add_parser("recheck", help="run the survivors of the last run again against today's tests")
    recheck_parser.add_argument("--modules", nargs="*", default=[], help="module paths (default: every row)")
    recheck_parser.add_argument("--workers", type=int, default=WORKERS)
    recheck_parser.add_argument("--report-dir", type=Path, default=ROOT / "reports")
    report_parser = sub.add_parser("report", help="re-judge the last run with mutation/accepted.toml as it is now")
    report_parser.add_argument("--report-dir", type=Path, default=ROOT / "reports")
    arguments = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(arguments if arguments and arguments[0] in sub.choices else ["run", *arguments])
    if args.command == "pytest":
        return run_pytest(args.timeout, args.pytest_args[1:] if args.pytest_args[:1] == ["--"] else args.pytest_args)
    if args.command == "worker":
        serve_worker(args.port)
        return 0
    # Stopped from outside, the run still stops its workers and removes its copies (the `finally`s).
    signal.signal(signal.SIGTERM, _terminate)
    try:
        if args.command == "recheck":
            return recheck(module_names(args.modules), args.report_dir, args.workers)
        return rejudge(args.report_dir) if args.command == "report" else _run(args)
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    known = {target.module: target for target in TABLE}
    modules = module_names(args.modules)
    unknown = [name for name in modules if name not in known]
    if unknown:
        print(f"error: not in the table in mutation/targets.py: {', '.join(unknown)}", file=sys.stderr)
        return 2
    chosen = [known[name] for name in modules] if modules else list(TABLE)
    return mutate(chosen, args.report_dir, args.workers)


if __name__ == "__main__":
    sys.exit(main())
