"""Cosmic Ray sessions: its http workers, one session per module, what is filtered, and what each mutant became."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from outcomes import UNCOUNTED, HarnessError, Mutant, tail
from runner import ENTRY_POINT, RUNNER_PID_FILE, TIMEOUT_MARKER, kill_group, test_command
from targets import EXCLUDED_OPERATORS, NOISE, Target

# Cosmic Ray's own code in a worker's traceback: its operator, not the tests, failed on the mutant.
UNMUTATABLE = "cosmic_ray/operators/"


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
                    [sys.executable, str(ENTRY_POINT), "worker", "--port", str(port)],
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
            kill_group(process.pid)
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
        raise HarnessError(f"{shlex.join(command)} exited {completed.returncode}\n{tail(completed.stderr)}")


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
        raise HarnessError(f"cosmic-ray exec for {target.module} exited {process.returncode}\n{tail(output)}")
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
                mutant.outcome, mutant.note = "unmutatable", tail(output, 1).strip()
            elif result.worker_outcome != WorkerOutcome.NORMAL or result.test_outcome == TestOutcome.INCOMPETENT:
                mutant.note = f"{result.worker_outcome.value}: {tail(output, 1).strip()}"
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
