"""A selftest killed from outside leaves none of its worker processes behind, whichever process ran it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from contextlib import suppress
from pathlib import Path

import pytest
from support import ROOT, SPEC, start, wait_for

# Two variants that hold their replies until the request times out: both workers are busy when the kill comes.
SLOW = ("reply-never-comes", "body-trickles")

PYTEST_FILE = """
from pathlib import Path

from conformance.selftest import run_selftest


def test_selftest():
    run_selftest(Path({spec!r}), Path({report_dir!r}), jobs=2, max_examples=5, variants={variants!r})
"""


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None once the process is gone."""
    try:
        # The command name, in parentheses, may hold spaces: the fields after it are split safely.
        return Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
    except OSError:
        return None


def _descendants(root: int) -> dict[int, str]:
    """The processes below `root`, each with its start time (which tells it from a later process of its pid)."""
    parents = {int(path.name): stat for path in Path("/proc").glob("[0-9]*") if (stat := _stat(int(path.name)))}
    found: dict[int, str] = {}
    frontier = {root}
    while frontier:
        children = {pid for pid, stat in parents.items() if int(stat[1]) in frontier}
        found.update({pid: parents[pid][19] for pid in children})
        frontier = children
    return found


def _alive(pid: int, started: str) -> bool:
    """Whether that process still runs: not gone, not a zombie, and not a later process given the same pid."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z" and stat[19] == started


def _kill_and_wait_for_every_worker_to_end(process: subprocess.Popen[str], report_dir: Path, signum: int) -> None:
    judged = report_dir / "selftest"
    wait_for(
        lambda: (judged.is_dir() and len(list(judged.iterdir())) == len(SLOW)) or process.poll() is not None,
        "both workers to begin a variant",
    )
    assert process.poll() is None, process.communicate()
    helpers = _descendants(process.pid)
    assert len(helpers) >= len(SLOW), "the selftest started no workers"
    try:
        process.send_signal(signum)
        # wait, not communicate: a worker left running would hold the output pipes open for as long as it runs.
        process.wait(timeout=240)
        assert process.returncode in {-signum, 128 + signum}
        wait_for(
            lambda: not any(_alive(pid, started) for pid, started in helpers.items()),
            "every process the selftest started to end with it",
        )
    finally:
        # A failure here must not leave the workers running for the rest of the suite.
        for pid, started in helpers.items():
            if _alive(pid, started):
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_selftest_command_leaves_no_worker_running(tmp_path: Path, signum: int) -> None:
    process = start(
        ["selftest", "--jobs", "2", "--max-examples", "5", "--report-dir", str(tmp_path),
         *(arg for name in SLOW for arg in ("--variant", name))],
    )  # fmt: skip
    _kill_and_wait_for_every_worker_to_end(process, tmp_path, signum)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_pytest_running_the_selftest_leaves_no_worker_running(tmp_path: Path, signum: int) -> None:
    test_file = tmp_path / "test_selftest_run.py"
    report_dir = tmp_path / "reports"
    test_file.write_text(
        textwrap.dedent(PYTEST_FILE).format(spec=str(SPEC), report_dir=str(report_dir), variants=list(SLOW)),
        encoding="utf-8",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    _kill_and_wait_for_every_worker_to_end(process, report_dir, signum)
