"""The mutation run behind `make mutation`: writes reports/mutation.md and reports/mutation.json.

Cosmic Ray mutates copies of the checkout, never the checkout itself: every tracked file (as it is in the
working tree, uncommitted changes included) is copied into one temporary directory per worker. Before any
mutant runs, each module's tests must pass unmutated, and a planted mutant must be killed in every copy,
which proves the tests import the copy's code rather than the checkout the venv's editable install names.

Exit codes: 0 every module meets its target, 1 at least one does not, 2 the run itself could not judge.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ACCEPTED_FILE = ROOT / "mutation" / "accepted.toml"
PYTEST_ARGS = ("-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly")
WORKERS = 2
# Cosmic Ray's http distributor waits at most 300 s for a worker's answer (aiohttp's default).
MAX_TIMEOUT_SECONDS = 280.0
TIMEOUT_MARKER = "mutation-run: timeout"
PLANTED_MODULE = "conformance/redaction.py"
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
# 2: each module keeps the run that measured it, so a run of some modules adds to the report of the others.
FORMAT_VERSION = 2
# Outcomes that are not counted: filtered as noise, or a mutant Cosmic Ray's operator failed to make.
UNCOUNTED = ("filtered", "unmutatable")
UNMUTATABLE = "cosmic_ray/operators/"
# Where the running test runner of a copy notes its pid, so that stopping the run can stop it too.
RUNNER_PID_FILE = ".mutation-runner.pid"


@dataclass(frozen=True)
class Target:
    """A module to mutate, the tests that judge it, and the score it must reach."""

    module: str
    tests: tuple[str, ...]
    target: float = 0.90
    # Functions (Cosmic Ray's enclosing-definition names) whose mutants must all be killed.
    critical: tuple[str, ...] = ()
    # When given, only mutants inside these functions are run; the rest of the module is another row's
    # concern or none (the CLI's argument plumbing, say), and is filtered with that reason.
    only: tuple[str, ...] = ()


# The table to edit: module -> tests (files or node ids) and targets.
TABLE = (
    Target(
        "conformance/redaction.py",
        ("tests/test_redaction.py", "tests/test_secrets.py::test_every_spelling_of_the_key_in_any_text_is_redacted",
         "tests/test_secrets.py::test_every_spelling_of_a_key_dense_with_special_characters_is_redacted",
         "tests/test_secrets.py::test_a_key_shorter_than_a_fragment_is_redacted_whole_and_only_whole",
         "tests/test_secrets.py::test_text_without_the_key_is_left_as_it_is",
         "tests/test_echoed_secrets.py::test_the_key_inside_any_base64_value_is_redacted_at_every_alignment",
         "tests/test_echoed_secrets.py::test_every_echoed_form_of_the_key_and_of_each_near_miss_is_redacted",
         "tests/test_echoed_secrets.py::test_ordinary_text_is_left_as_it_is",
         "tests/test_echoed_secrets.py::test_a_derived_form_shorter_than_a_key_is_not_redacted",
         "tests/test_hostile_bytes.py::test_the_terminal_stream_shows_control_characters_escaped_whoever_writes_them",
         "tests/test_settings.py::test_a_key_of_eight_characters_is_accepted_and_one_of_seven_is_refused_as_too_short"),
        target=1.0,
    ),
    Target(
        "conformance/hosts.py",
        ("tests/test_live_mode.py",
         "tests/test_safety.py::test_a_remote_target_is_paced_at_dodos_documented_limit_and_loopback_is_not",
         "tests/test_one_line.py::test_bad_flags_are_one_line_naming_the_fix",
         "tests/test_cli.py::test_bad_input_is_one_line_with_exit_2"),
        target=1.0,
    ),
    Target(
        "conformance/settings.py",
        ("tests/test_settings.py", "tests/test_live_mode.py",
         "tests/test_one_line.py::test_bad_flags_are_one_line_naming_the_fix",
         "tests/test_cli.py::test_bad_input_is_one_line_with_exit_2",
         "tests/test_safety.py::test_more_bad_input_is_one_line_with_exit_2",
         "tests/test_safety.py::test_rates_are_read_per_unit",
         "tests/test_safety.py::test_a_rate_that_is_no_rate_is_bad_input"),
        critical=("refuse_live_mode",),
    ),
    # The entry point's exit codes and its guess at what may be the key; the rest of cli.py is plumbing of flags
    # into settings.py, whose refusals the settings row judges.
    Target(
        "conformance/cli.py",
        ("tests/test_cli_main.py",
         "tests/test_secrets.py::test_a_key_given_where_its_file_belongs_is_not_echoed_as_a_path",
         "tests/test_one_line.py::test_an_internal_error_is_one_redacted_line_and_never_a_pass"),
        target=1.0,
        only=("main", "_possible_secrets", "_reads_as_a_path", "_flag_values_that_may_be_keys", "_may_name_the_key",
              "_redacted_terminal"),
    ),
    Target("conformance/checks.py", ("tests/test_checks.py", "tests/test_check_edges.py", "tests/test_ledger.py")),
    Target(
        "conformance/ledger.py",
        ("tests/test_ledger.py", "tests/test_checks.py"),
        # The run's verdict, from which the exit code follows (engine.EXIT_CODES maps it one to one).
        critical=("run_status", "_run_status", "status", "check_status"),
    ),
    # Wire-level tests only: test_detection.py's whole-gate runs take 20 s a mutant and judge the same code.
    Target(
        "conformance/transport.py",
        ("tests/test_transport_wire.py", "tests/test_transport.py",
         "tests/test_detection.py::test_each_break_of_http_syntax_in_a_head_is_named",
         "tests/test_detection.py::test_valid_but_unusual_heads_have_no_problem",
         "tests/test_detection.py::test_retry_after_is_read_as_seconds_bounded_and_defaulted",
         "tests/test_detection.py::test_retry_after_as_an_http_date_waits_until_that_date",
         "tests/test_detection.py::test_the_key_probes_never_send_the_key_itself_and_show_no_near_miss",
         # The connection a recording reads through (vcr_patches) is judged by recording a gzip server.
         "tests/test_cassettes.py::test_the_key_is_scrubbed_wherever_the_server_echoes_it"),
    ),
    Target("conformance/cassettes.py", ("tests/test_cassette_units.py", "tests/test_cassettes.py")),
    Target(
        "conformance/report.py",
        ("tests/test_report_record.py", "tests/test_reports.py", "tests/test_report_page.py",
         "tests/test_hostile_bytes.py::test_a_record_of_any_text_renders_inert_in_every_format",
         "tests/test_hostile_bytes.py::test_a_saved_summary_edited_to_hold_raw_controls_is_rendered_inert_in_every_format"),
    ),
    # What a hostile target's bytes become in every output.
    Target(
        "conformance/neutral.py",
        ("tests/test_hostile_bytes.py::test_each_kind_of_active_character_is_shown_as_its_escape",
         "tests/test_hostile_bytes.py::test_noncharacters_are_escaped_and_their_neighbours_are_not",
         "tests/test_hostile_bytes.py::test_an_escape_is_as_long_as_the_code_point_needs",
         "tests/test_hostile_bytes.py::test_printable_text_in_any_script_is_left_as_it_is",
         "tests/test_hostile_bytes.py::test_the_rule_leaves_nothing_active_and_changes_nothing_the_second_time",
         "tests/test_hostile_bytes.py::test_the_terminal_stream_shows_control_characters_escaped_whoever_writes_them"),
        target=1.0,
    ),
    Target(
        "conformance/selftest.py",
        ("tests/test_selftest.py::test_the_printed_table_shows_each_variant_in_aligned_columns_and_the_score",
         "tests/test_selftest.py::test_the_sdk_oracle_lists_each_body_the_spec_and_the_sdk_judge_differently",
         "tests/test_selftest.py::test_a_judged_variant_lists_exactly_the_failed_and_the_warned_checks_of_its_run",
         "tests/test_selftest.py::test_a_conformant_variant_judged_passes_with_nothing_caught",
         "tests/test_selftest.py::test_a_variant_that_breaks_the_gate_is_scored_could_not_judge_never_caught",
         "tests/test_selftest.py::test_a_selftest_of_two_variants_prints_a_line_for_each_and_writes_its_whole_record",
         ("tests/test_selftest.py::"
          "test_only_a_failed_run_catches_a_fault_and_only_a_passing_run_clears_a_conformant_variant"),
         "tests/test_selftest.py::test_the_score_counts_misses_and_false_alarms",
         "tests/test_selftest.py::test_the_kill_rate_is_a_share_kept_to_four_places",
         "tests/test_selftest.py::test_a_conformant_variant_the_gate_fails_is_a_false_alarm_and_fails_the_selftest",
         "tests/test_selftest.py::test_a_fault_the_gate_misses_lowers_the_kill_rate_and_fails_the_selftest",
         "tests/test_selftest.py::test_ctrl_c_stops_the_selftest_without_judging_the_variants_still_queued",
         "tests/test_selftest.py::test_the_schemathesis_oracle_judges_beside_the_gate_in_every_judged_variant",
         "tests/test_selftest.py::test_an_error_while_judging_ends_the_running_variant_at_once",
         "tests/test_selftest.py::test_the_sdk_oracle_lists_a_body_only_the_sdk_rejects_and_reads_only_200_replies"),
        critical=("judged_as_a_correct_gate_would", "score", "passed"),
    ),
)  # fmt: skip

# Cosmic Ray operators left out, as regular expressions over operator names, each with why.
EXCLUDED_OPERATORS = {
    r"core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE)_(Is|IsNot)$": (
        "`==` to `is` against a literal decides by CPython's small-int and string caches, not by our code"
    ),
    r"core/ReplaceComparisonOperator_(Is|IsNot)_(Eq|NotEq)$": (
        "we use `is` only with None, enum members, modules and exceptions, where == is identity"
    ),
}
# Places in the code where no mutant can change behaviour, each with why.
NOISE = {
    "annotation": "a type annotation, never evaluated under `from __future__ import annotations`",
    "type-checking": "an `if TYPE_CHECKING:` block, imports for the type checker only",
}


class HarnessError(Exception):
    """The run cannot judge the tests: a broken baseline, a planted mutant that survives, a worker that fails."""


@dataclass
class Mutant:
    """One mutant and what became of it."""

    module: str
    line: int
    column: int
    operator: str
    function: str | None
    outcome: str  # killed, timeout, survived, error, filtered
    original: str = ""
    mutated: str = ""
    occurrence: int = 1
    note: str = ""  # why it was filtered or accepted, or the error

    @property
    def key(self) -> tuple[str, str, str, int]:
        """What identifies the mutant across unrelated edits: the lines' text, not their numbers."""
        return (self.module, self.original, self.mutated, self.occurrence)


@dataclass
class Score:
    """Counts for a module or a part of one."""

    mutants: int = 0
    killed: int = 0
    timeouts: int = 0
    survived: int = 0
    accepted: int = 0  # set by apply_accepted, from mutation/accepted.toml
    errors: int = 0

    def add(self, mutant: Mutant) -> None:
        """Count one mutant that was run."""
        self.mutants += 1
        if mutant.outcome == "killed":
            self.killed += 1
        elif mutant.outcome == "timeout":
            self.timeouts += 1
        elif mutant.outcome == "error":
            self.errors += 1
        else:
            self.survived += 1

    @property
    def score(self) -> float:
        """(killed + timeouts) / (mutants - accepted); 1.0 when nothing is left to kill."""
        judged = self.mutants - self.accepted
        return (self.killed + self.timeouts) / judged if judged else 1.0


@dataclass
class ModuleResult:
    """A module's mutants, counts and whether it meets its targets."""

    target: Target
    tests: list[str]
    timeout_seconds: float
    baseline_seconds: float
    seconds: float = 0.0
    mutants: list[Mutant] = field(default_factory=list)
    # Mutants that never ran because the run was stopped (Ctrl-C, SIGTERM) while this module was being judged.
    not_run: int = 0
    # Functions Cosmic Ray made no mutant in: it has no operator for calls, strings or whole statements.
    unreached: list[str] = field(default_factory=list)

    def score(self, functions: tuple[str, ...] = ()) -> Score:
        """Counts over every mutant that ran, or only over those inside `functions`."""
        score = Score()
        for mutant in self.mutants:
            if mutant.outcome not in UNCOUNTED and (not functions or mutant.function in functions):
                score.add(mutant)
        return score


# ---------------------------------------------------------------------------------------------------------------------
# The per-mutant test run, inside a copy: `run.py pytest --timeout S -- ARGS`.


def run_pytest(timeout: float, pytest_args: list[str]) -> int:
    """Run pytest on the copy in the current directory; a run past `timeout` is killed with all it started."""
    copy = Path.cwd()
    # A run started in the background (nohup, `&` in a script) inherits SIGINT ignored, and so would every
    # process the tests start; the Ctrl-C tests need it as a terminal delivers it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    # The venv's editable install points at the original checkout; the copy must win every import.
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [os.environ.get("PYTHONPATH")])])
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", *pytest_args],
        cwd=copy,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )

    def stop(_signal: int, _frame: object) -> None:
        # The worker is being stopped: take the tests (in a session of their own) down too.
        _kill_group(process.pid)
        raise SystemExit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    pid_file = copy / RUNNER_PID_FILE
    pid_file.write_text(str(os.getpid()), encoding="utf-8")
    try:
        return _wait(process, timeout)
    finally:
        # Only a runner that is still running may be named there: a stale pid could be anyone's by now.
        pid_file.unlink(missing_ok=True)


def _wait(process: subprocess.Popen[str], timeout: float) -> int:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        output, _ = process.communicate()
        print(output[-3000:])
        print(f"{TIMEOUT_MARKER} after {timeout:g} s")
        return 1
    # Servers or CLI runs a test left behind would slow the next mutant down.
    _kill_group(process.pid)
    print(output[-3000:])
    return process.returncode


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def serve_worker(port: int) -> None:
    """Cosmic Ray's http worker, listening on loopback only (its own `http-worker` listens everywhere)."""
    from aiohttp import web  # noqa: PLC0415 - only the worker process needs it
    from cosmic_ray.distribution.http import handle_mutate_and_test  # noqa: PLC0415

    app = web.Application()
    app.add_routes([web.post("/", handle_mutate_and_test)])
    web.run_app(app, host="127.0.0.1", port=port, print=None)


# ---------------------------------------------------------------------------------------------------------------------
# Copies of the checkout.


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


def test_command(target_tests: list[str], timeout: float) -> list[str]:
    """The command a worker runs for each mutant, in its copy."""
    return [
        sys.executable, str(Path(__file__).resolve()), "pytest", "--timeout", f"{timeout:g}", "--",
        *PYTEST_ARGS, *target_tests,
    ]  # fmt: skip


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


def accepted_key(mutant: dict[str, Any]) -> tuple[str, str, str, int]:
    """A recorded mutant's key in mutation/accepted.toml (Mutant.key, for a mutant read back from a record)."""
    return (mutant["module"], mutant["original"], mutant["mutated"], mutant["occurrence"])


def module_names(values: list[str]) -> list[str]:
    """Module paths from the command line, space- or comma-separated (as MODULES= passes them)."""
    return [name for value in values for name in value.replace(",", " ").split()]


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
                + _tail(output)
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
                f"passes {' '.join(tests)}\n{_tail(output)}"
            )
    print(f"planted mutant (Redactor.__call__ returns its input) killed in all {len(copies)} copies", flush=True)


# ---------------------------------------------------------------------------------------------------------------------
# Cosmic Ray sessions.


def free_port() -> int:
    """A port on loopback that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def workers(copies: list[Path]) -> Iterator[list[str]]:
    """One Cosmic Ray http worker per copy, working in that copy; yields their URLs."""
    started: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for copy in copies:
            port = free_port()
            log = (copy.parent / f"worker-{port}.log").open("wb")
            started.append(
                subprocess.Popen(
                    [sys.executable, str(Path(__file__).resolve()), "worker", "--port", str(port)],
                    cwd=copy,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
            _wait_for_port(port, started[-1])
        yield urls
    finally:
        # SIGTERM first, so that each copy's test runner (in a session of its own) stops the tests it started.
        for copy in copies:
            with contextlib.suppress(OSError, ValueError):
                os.kill(int((copy / RUNNER_PID_FILE).read_text(encoding="utf-8")), signal.SIGTERM)
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            _kill_group(process.pid)
            process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise HarnessError(f"the Cosmic Ray worker for port {port} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise HarnessError(f"the Cosmic Ray worker for port {port} did not listen within 60 s")


def cosmic_ray(*args: str, cwd: Path) -> None:
    """Run a Cosmic Ray command; it failing is a harness error."""
    command = [str(Path(sys.executable).parent / "cosmic-ray"), *args]
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise HarnessError(f"{shlex.join(command)} exited {completed.returncode}\n{_tail(completed.stderr)}")


def session_database(session_dir: Path, target: Target) -> Path:
    """Where Cosmic Ray keeps a module's mutants and their outcomes."""
    return session_dir / f"{target.module.replace('/', '_').removesuffix('.py')}.sqlite"


def run_session(  # noqa: PLR0913 - one session is all of these
    target: Target, *, tests: list[str], timeout: float, copy: Path, urls: list[str], session_dir: Path
) -> Path:
    """Create, filter and execute the Cosmic Ray session of one module; return its database."""
    database = session_database(session_dir, target)
    config = database.with_suffix(".toml")
    settings = {
        "module-path": target.module,
        # Our own runner enforces `timeout` and kills what the tests started; this is only a backstop.
        "timeout": timeout + 60,
        "excluded-modules": [],
        "test-command": shlex.join(test_command(tests, timeout)),
        "distributor": {"name": "http", "http": {"worker-urls": urls}},
    }
    config.write_text(_toml({"cosmic-ray": settings}), encoding="utf-8")
    cosmic_ray("init", str(config), str(database), cwd=copy)
    total, filtered = filter_session(database, copy / target.module, target.only)
    print(
        f"{target.module}: {total - filtered} mutants ({filtered} filtered), {timeout:.0f} s timeout each", flush=True
    )
    started = time.monotonic()
    command = [str(Path(sys.executable).parent / "cosmic-ray"), "exec", str(config), str(database)]
    with subprocess.Popen(command, cwd=copy, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            while True:
                try:
                    output, _ = process.communicate(timeout=60)
                    break
                except subprocess.TimeoutExpired:
                    done = _results_so_far(database) - filtered
                    print(f"  {done}/{total - filtered} after {time.monotonic() - started:.0f} s", flush=True)
        except BaseException:
            # Stopped (Ctrl-C, SIGTERM): do not wait for the rest of the session.
            process.kill()
            raise
    if process.returncode != 0:
        raise HarnessError(f"cosmic-ray exec for {target.module} exited {process.returncode}\n{_tail(output)}")
    return database


def _toml(data: dict[str, Any], prefix: str = "") -> str:
    """Enough TOML for a Cosmic Ray config: strings, numbers, lists of strings and nested tables."""
    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append(_toml(value, f"{prefix}{key}."))
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    header = [f"[{prefix.removesuffix('.')}]"] if prefix else []
    return "\n".join([*header, *lines, "", *tables])


def _results_so_far(database: Path) -> int:
    from cosmic_ray.work_db import WorkDB, use_db  # noqa: PLC0415 - Cosmic Ray loads its plugins on import

    with use_db(str(database), WorkDB.Mode.open) as db:
        count: int = db.num_results
        return count


def noise_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    """(start, end, kind) of every place where a mutant is noise; columns in characters, as Cosmic Ray counts."""
    tree = ast.parse(source)
    lines = source.splitlines()

    def position(line: int, byte_column: int) -> tuple[int, int]:
        # ast counts columns in UTF-8 bytes.
        return line, len(lines[line - 1].encode()[:byte_column].decode(errors="replace"))

    def span(node: ast.AST, kind: str) -> tuple[tuple[int, int], tuple[int, int], str]:
        start = position(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = position(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end, kind

    lazy = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and {a.name for a in node.names} >= {"annotations"}
        for node in tree.body
    )
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            spans.append(span(node, "type-checking"))
        if not lazy:
            continue
        if isinstance(node, ast.arg) and node.annotation is not None:
            spans.append(span(node.annotation, "annotation"))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            spans.append(span(node.returns, "annotation"))
        elif isinstance(node, ast.AnnAssign):
            spans.append(span(node.annotation, "annotation"))
    return spans


def filter_session(database: Path, module: Path, only: tuple[str, ...] = ()) -> tuple[int, int]:
    """Mark noise mutants, excluded operators and mutants outside `only` as skipped; return (all, filtered)."""
    from cosmic_ray.work_db import WorkDB, use_db  # noqa: PLC0415
    from cosmic_ray.work_item import WorkerOutcome, WorkResult  # noqa: PLC0415

    spans = noise_spans(module.read_text(encoding="utf-8"))
    excluded = [(re.compile(pattern), reason) for pattern, reason in EXCLUDED_OPERATORS.items()]
    filtered = 0
    with use_db(str(database), WorkDB.Mode.open) as db:
        items = db.work_items
        for item in items:
            (mutation,) = item.mutations
            why = next((reason for pattern, reason in excluded if pattern.match(mutation.operator_name)), None)
            position = tuple(mutation.start_pos)
            why = why or next((NOISE[kind] for start, end, kind in spans if start <= position < end), None)
            if why is None and only and mutation.definition_name not in only:
                why = f"outside the functions this row judges ({', '.join(only)})"
            if why is not None:
                db.set_result(item.job_id, WorkResult(output=why, worker_outcome=WorkerOutcome.SKIPPED))
                filtered += 1
    return len(items), filtered


def read_session(database: Path, source: str, *, stopped: bool = False) -> tuple[list[Mutant], int]:
    """Every mutant of a session that ran and its outcome, ordered by position, and how many never ran.

    Mutants that never ran are an error of the harness, unless the run was `stopped` on purpose.
    """
    from cosmic_ray.work_db import WorkDB, use_db  # noqa: PLC0415
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome  # noqa: PLC0415

    lines = source.splitlines()
    mutants = []
    with use_db(str(database), WorkDB.Mode.open) as db:
        pending = len(db.pending_work_items)
        if pending and not stopped:
            raise HarnessError(f"{database.name}: {pending} mutants never ran")
        for item, result in db.completed_work_items:
            (mutation,) = item.mutations
            line, column = mutation.start_pos
            mutant = Mutant(
                module=str(mutation.module_path),
                line=line,
                column=column,
                operator=mutation.operator_name,
                function=mutation.definition_name,
                outcome="error",
                original=lines[line - 1].strip(),
            )
            output = result.output or ""
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                mutant.outcome, mutant.note = "filtered", output
            elif result.worker_outcome == WorkerOutcome.EXCEPTION and UNMUTATABLE in output:
                # Cosmic Ray's operator failed to make this mutant (e.g. dotted names in an except tuple).
                mutant.outcome, mutant.note = "unmutatable", _tail(output, 1).strip()
            elif result.worker_outcome != WorkerOutcome.NORMAL or result.test_outcome == TestOutcome.INCOMPETENT:
                mutant.note = f"{result.worker_outcome.value}: {_tail(output, 1).strip()}"
            elif result.test_outcome == TestOutcome.SURVIVED:
                mutant.outcome = "survived"
            else:
                timed_out = TIMEOUT_MARKER in (result.output or "") or result.output == "timeout"
                mutant.outcome = "timeout" if timed_out else "killed"
            if mutant.outcome not in UNCOUNTED:
                mutant.original, mutant.mutated = _changed_lines(result.diff or "", mutant.original)
            mutants.append(mutant)
    mutants.sort(key=lambda mutant: (mutant.line, mutant.column, mutant.operator))
    seen: Counter[tuple[str, str, str]] = Counter()
    for mutant in mutants:
        if mutant.outcome not in UNCOUNTED:
            seen[mutant.module, mutant.original, mutant.mutated] += 1
            mutant.occurrence = seen[mutant.module, mutant.original, mutant.mutated]
    return mutants, pending


def unreached_functions(mutants: list[Mutant], module: Path) -> list[str]:
    """The module's functions, by the innermost name as Cosmic Ray records it, that no mutant ran in."""
    reached = {mutant.function for mutant in mutants if mutant.outcome not in UNCOUNTED}
    tree = ast.parse(module.read_text(encoding="utf-8"))
    names = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
    return sorted({name for name in names if name not in reached})


def _changed_lines(diff: str, fallback: str) -> tuple[str, str]:
    """The removed and added lines of a one-mutant diff, stripped and joined with ' / '."""
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return (" / ".join(removed) or fallback), " / ".join(added)


# ---------------------------------------------------------------------------------------------------------------------
# Accepted survivors and the report.


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


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _commit() -> tuple[str, bool]:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=True)
    return head.stdout.strip(), bool(status.stdout.strip())


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
    _write(report_dir, record)
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


def _write(report_dir: Path, record: dict[str, Any]) -> None:
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
    _write(report_dir, record)
    print(f"rewrote {report_dir / 'mutation.md'} with the accepted survivors as they are now")
    return _exit_code(record)


def _exit_code(record: dict[str, Any]) -> int:
    if any(module["score"]["errors"] for module in record["modules"]):
        return 2
    return 0 if record["ok"] else 1


def mutate(chosen: list[Target], report_dir: Path, workers_count: int) -> int:
    """The whole run; returns the exit code. The reports are rewritten after each module."""
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    started = time.monotonic()
    # What the copies are made from, taken before anything else can change the checkout.
    commit = _commit()
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
    return _exit_code(record)


# ---------------------------------------------------------------------------------------------------------------------
# A recheck: the survivors of a row run again against the tests as they are now.


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
    commit = _commit()
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
            _write(report_dir, record)
    print(f"wrote {report_dir / 'mutation.md'}")
    return _exit_code(record)


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
        print(f"error: not in the table in mutation/run.py: {', '.join(unknown)}", file=sys.stderr)
        return 2
    chosen = [known[name] for name in modules] if modules else list(TABLE)
    return mutate(chosen, args.report_dir, args.workers)


if __name__ == "__main__":
    sys.exit(main())
