"""The seams of mutation/: the commands the harness's modules start in a copy reach run.py's subcommands."""

from __future__ import annotations

import importlib
import socket
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def harness() -> SimpleNamespace:
    # The harness's modules import each other as siblings of mutation/run.py, the script `make mutation` runs.
    sys.path.insert(0, str(ROOT / "mutation"))
    try:
        return SimpleNamespace(**{name: importlib.import_module(name) for name in ("copies", "runner", "sessions")})
    finally:
        sys.path.remove(str(ROOT / "mutation"))


def _copy(tmp_path: Path, test: str) -> Path:
    """A copy of a checkout holding one test file and a module only the copy has."""
    copy = tmp_path / "copy"
    (copy / "tests").mkdir(parents=True)
    (copy / "only_in_the_copy.py").write_text("", encoding="utf-8")
    (copy / "tests" / "test_probe.py").write_text(textwrap.dedent(test), encoding="utf-8")
    return copy


def test_a_mutants_tests_run_in_the_copy_through_run_py_and_a_failure_reads_as_killed(
    harness: SimpleNamespace, tmp_path: Path
) -> None:
    copy = _copy(
        tmp_path,
        """
        def test_the_copy_is_imported():
            import only_in_the_copy

        def test_fails():
            raise AssertionError("a mutant's test fails")
        """,
    )
    command = harness.runner.test_command(["tests/test_probe.py::test_the_copy_is_imported"], 120)
    assert Path(command[1]).name == "run.py"
    code, output, _ = harness.copies.run_in_copy(copy, command)
    assert code == 0, output
    code, output, _ = harness.copies.run_in_copy(copy, harness.runner.test_command(["tests/test_probe.py"], 120))
    assert code == 1, output
    assert "a mutant's test fails" in output


def test_a_mutants_tests_that_run_past_the_timeout_are_stopped_and_marked_as_a_timeout(
    harness: SimpleNamespace, tmp_path: Path
) -> None:
    copy = _copy(
        tmp_path,
        """
        import threading

        def test_never_ends():
            threading.Event().wait()
        """,
    )
    code, output, _ = harness.copies.run_in_copy(copy, harness.runner.test_command(["tests/test_probe.py"], 3))
    assert code == 1
    assert f"{harness.runner.TIMEOUT_MARKER} after 3 s" in output


def test_a_cosmic_ray_worker_listens_on_loopback_in_its_copy_and_is_gone_when_the_run_ends(
    harness: SimpleNamespace, tmp_path: Path
) -> None:
    copy = _copy(tmp_path, "def test_passes():\n    pass\n")
    with harness.sessions.workers([copy]) as urls:
        (url,) = urls
        port = int(url.rsplit(":", 1)[1])
        assert url == f"http://127.0.0.1:{port}"
        with socket.create_connection(("127.0.0.1", port), timeout=60):
            pass
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
