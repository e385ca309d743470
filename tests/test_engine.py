"""One engine behind both front ends: callable from a test, its record re-renderable, its options declared once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, conformance

from conformance import engine
from conformance.options import RUN_OPTIONS
from conformance.record import RunRecord
from conformance.settings import Flags, build_settings
from conformance.signals import ctrl_c_sticks


def test_the_engine_runs_in_process_from_a_test_of_your_own(tmp_path: Path) -> None:
    lines: list[str] = []
    outcome = engine.run(build_settings(Flags(sandbox=True, report_dir=tmp_path, max_examples=5)), say=lines.append)
    assert outcome.exit_code == 0, outcome.record.result.reason
    assert outcome.record.result.status == "conforms"
    assert lines[0].startswith("target: bundled sandbox at http://127.0.0.1:")
    assert lines[-1].startswith("conformance: CONFORMS (exit 0)")
    assert RunRecord.read(tmp_path / "summary.json") == outcome.record


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    report_dir = tmp_path_factory.mktemp("saved")
    result = conformance("run", "--sandbox", "--report-dir", str(report_dir), "--max-examples", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    return report_dir


@pytest.mark.parametrize(("form", "written"), [("md", "summary.md"), ("html", "report.html"), ("junit", "junit.xml"),
                                                ("json", "summary.json")])  # fmt: skip
def test_a_saved_run_renders_again_exactly_as_the_run_wrote_it(saved_run: Path, form: str, written: str) -> None:
    result = conformance("report", str(saved_run / "summary.json"), "--format", form)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (saved_run / written).read_text(encoding="utf-8")


def test_a_file_that_is_not_a_summary_is_one_line_naming_it(tmp_path: Path) -> None:
    bogus = tmp_path / "summary.json"
    bogus.write_text('{"format": "something else"}', encoding="utf-8")
    result = conformance("report", str(bogus))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"{bogus}: the file is not a summary.json" in result.stderr


def test_every_option_is_declared_once_and_offered_by_both_front_ends() -> None:
    flags = [option.flag for option in RUN_OPTIONS]
    assert len(flags) == len(set(flags))
    cli_help = conformance("run", "--help").stdout
    pytest_help = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    for option in RUN_OPTIONS:
        assert option.flag in cli_help, option.flag
        assert (option.pytest_flag or option.flag) in pytest_help, option.flag
    assert set(Flags.__dataclass_fields__) == {option.dest for option in RUN_OPTIONS}


def test_an_error_raised_while_ctrl_c_is_handled_ends_the_run_as_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C inside a library can make its own clean-up fail: that error is the interruption's (130), while
    # the same error on its own is the gate's failure (3).
    from support import KEY, judge  # noqa: PLC0415

    from conformance.gate import Gate  # noqa: PLC0415
    from conformance.sandbox import CheckoutApi, seeded_sessions  # noqa: PLC0415

    def interrupted(self: Gate) -> None:
        del self
        try:
            raise KeyboardInterrupt  # noqa: TRY301 - Ctrl-C as it lands, inside the scenario
        except KeyboardInterrupt:
            message = "state the interrupt left behind"
            raise AssertionError(message) from None

    def broken(self: Gate) -> None:
        del self
        message = "a bug of the gate"
        raise AssertionError(message)

    monkeypatch.setattr(Gate, "edge_ids", interrupted)
    assert judge(CheckoutApi(KEY, seeded_sessions()), tmp_path / "interrupted").exit_code == 130
    monkeypatch.setattr(Gate, "edge_ids", broken)
    outcome = judge(CheckoutApi(KEY, seeded_sessions()), tmp_path / "broken")
    assert outcome.exit_code == 3
    assert outcome.record.result.reason == "the gate itself failed: edge_ids: AssertionError: a bug of the gate"


def test_ctrl_c_during_a_run_also_stops_every_later_request() -> None:
    # Hypothesis can swallow a KeyboardInterrupt that lands in its own code and go on generating: the
    # next request must raise it again, and nothing is sent.
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from conformance.model import Purpose  # noqa: PLC0415
    from conformance.transport import STOP_REQUESTED, Transport  # noqa: PLC0415

    def press_ctrl_c_during_a_run() -> None:
        with ctrl_c_sticks():
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            press_ctrl_c_during_a_run()
        assert STOP_REQUESTED.is_set()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the caller's handler is back
        transport = Transport("http://127.0.0.1:9", "sk_test_engine_000000", timeout=1)
        with pytest.raises(KeyboardInterrupt):
            transport.get_checkout("cks_x", Purpose.UNKNOWN)
        assert transport.requests_sent == 0
        transport.close()
        with ctrl_c_sticks():  # a new run starts with no stop asked for
            assert not STOP_REQUESTED.is_set()
    finally:
        signal.signal(signal.SIGINT, before)
        STOP_REQUESTED.clear()


def test_sigterm_and_sighup_stop_a_run_like_ctrl_c_unless_something_else_handles_them() -> None:
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from conformance.errors import StoppedBySignal  # noqa: PLC0415
    from conformance.transport import STOP_REQUESTED  # noqa: PLC0415

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # As nohup leaves it: the caller chose to ignore a closed terminal, and the run keeps that choice.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with ctrl_c_sticks() as stop:
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            with pytest.raises(StoppedBySignal) as stopped:
                os.kill(os.getpid(), signal.SIGTERM)
            assert stopped.value.exit_code == 143
            assert stop.signum == signal.SIGTERM
            assert STOP_REQUESTED.is_set()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the caller's handling is back
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        STOP_REQUESTED.clear()


def test_ctrl_c_inside_a_garbage_collector_callback_prints_no_traceback_and_still_stops_the_run(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # Hypothesis times the collector with a gc callback; a Ctrl-C landing there was printed as "Exception
    # ignored in: <function gc_callback>" with a traceback, under a run that then ended 130 anyway.
    import gc  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from conformance.model import Purpose  # noqa: PLC0415
    from conformance.transport import STOP_REQUESTED, Transport  # noqa: PLC0415

    def press_ctrl_c(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            signal.raise_signal(signal.SIGINT)

    before, hook_before = signal.getsignal(signal.SIGINT), sys.unraisablehook
    signal.signal(signal.SIGINT, signal.default_int_handler)
    transport = Transport("http://127.0.0.1:9", "sk_test_engine_000000", timeout=1)
    try:
        with ctrl_c_sticks():
            gc.callbacks.append(press_ctrl_c)
            try:
                gc.collect()
            finally:
                gc.callbacks.remove(press_ctrl_c)
            assert STOP_REQUESTED.is_set()
            with pytest.raises(KeyboardInterrupt):
                transport.get_checkout("cks_x", Purpose.UNKNOWN)
        assert transport.requests_sent == 0
        assert capfd.readouterr().err == ""
        # Outside a run, ignored exceptions are reported by whoever reported them before (here pytest).
        assert sys.unraisablehook is hook_before
    finally:
        transport.close()
        signal.signal(signal.SIGINT, before)
        STOP_REQUESTED.clear()
