"""The commands run.py runs inside a copy of the checkout: one mutant's tests, and a Cosmic Ray http worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from targets import PYTEST_ARGS

# The entry point whose `pytest` and `worker` subcommands land here (not this module: it has no command line).
ENTRY_POINT = Path(__file__).resolve().parent / "run.py"
TIMEOUT_MARKER = "mutation-run: timeout"
# Where the running test runner of a copy notes its pid, so that stopping the run can stop it too.
RUNNER_PID_FILE = ".mutation-runner.pid"


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
        kill_group(process.pid)
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
        kill_group(process.pid)
        output, _ = process.communicate()
        print(output[-3000:])
        print(f"{TIMEOUT_MARKER} after {timeout:g} s")
        return 1
    # Servers or CLI runs a test left behind would slow the next mutant down.
    kill_group(process.pid)
    print(output[-3000:])
    return process.returncode


def kill_group(pid: int) -> None:
    """SIGKILL the process group `pid` leads, if it is still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def serve_worker(port: int) -> None:
    """Cosmic Ray's http worker, listening on loopback only (its own `http-worker` listens everywhere)."""
    from aiohttp import web  # noqa: PLC0415 - only the worker process needs it
    from cosmic_ray.distribution.http import handle_mutate_and_test  # noqa: PLC0415

    app = web.Application()
    app.add_routes([web.post("/", handle_mutate_and_test)])
    web.run_app(app, host="127.0.0.1", port=port, print=None)


def test_command(target_tests: list[str], timeout: float) -> list[str]:
    """The command a worker runs for each mutant, in its copy."""
    return [
        sys.executable, str(ENTRY_POINT), "pytest", "--timeout", f"{timeout:g}", "--",
        *PYTEST_ARGS, *target_tests,
    ]  # fmt: skip
