"""The verdict never lies: no stale report outlives a run that starts, and every ending has its own exit code.

A run removes its own reports once their paths are proven writable; SIGTERM and SIGHUP end it like
Ctrl-C (partial reports, 143 and 129); an output that cannot be written is refused before the first
request, and one that still fails at the end is exit 74 after the verdict; pytest ends with the worse
of its own status and the gate's.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from support import KEY, ROOT, SPEC, conformance, id_args, run_against, start, summary, wait_for

from conformance import files
from conformance.errors import SEVERITY, worse
from conformance.sandbox import CheckoutApi, Reply, seeded_sessions
from conformance.sandbox.variants import VARIANTS

REPORTS = ("junit.xml", "summary.json", "summary.md", "report.html")
STALE = "CONFORMS (exit 0): a run before this one"


class SlowCounting(CheckoutApi):
    """The reference behaviour, a little slow, counting the requests it answers."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self.count = 0

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        self.count += 1
        return Reply(**{**super().handle(method, target, headers).__dict__, "delay_seconds": 0.01})


def _stale_reports(report_dir: Path, sarif: Path | None = None) -> None:
    """A green run's reports, as an earlier run left them, and a file of the user's beside them."""
    report_dir.mkdir(parents=True, exist_ok=True)
    for name in REPORTS:
        (report_dir / name).write_text(STALE, encoding="utf-8")
    if sarif is not None:
        sarif.write_text(STALE, encoding="utf-8")
    (report_dir / "notes.txt").write_text("mine", encoding="utf-8")


def _no_stale_report(report_dir: Path, sarif: Path | None = None) -> None:
    for path in [*(report_dir / name for name in REPORTS), *([sarif] if sarif is not None else [])]:
        assert not path.exists() or STALE not in path.read_text(encoding="utf-8"), path
    # Only the run's own files are ever removed.
    assert (report_dir / "notes.txt").read_text(encoding="utf-8") == "mine"


@pytest.fixture
def unwritable_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder in which no one can make a file, root included: immutable where the file system allows it."""
    folder = tmp_path / "immutable"
    folder.mkdir()
    made_immutable = shutil.which("chattr") is not None and subprocess.run(
        ["chattr", "+i", str(folder)], capture_output=True, check=False
    ).returncode == 0  # fmt: skip
    if not made_immutable:
        # sysfs takes no new file, whoever asks.
        folder = Path("/sys/kernel")
    try:
        try:
            (folder / "probe").write_text("x", encoding="utf-8")
        except OSError:
            pass
        else:
            (folder / "probe").unlink()
            pytest.fail(f"{folder} takes new files: no folder here refuses them, and the tests need one")
        yield folder
    finally:
        if made_immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)


# --- pytest: the worse of its own status and the gate's --------------------------------------------


def test_severity_orders_every_code_of_both_front_ends_once() -> None:
    ranked = [code for codes in SEVERITY for code in codes]
    assert sorted(ranked) == sorted({*ranked})
    assert {0, 1, 2, 3, 4, 5, 74, 129, 130, 143} == set(ranked)
    # Interrupted > could not judge > output not written > usage error > failed > no tests > passed.
    order = [130, 3, 74, 4, 1, 5, 0]
    for better, worst in zip(order[1:], order, strict=False):
        assert worse(better, worst) == worst
        assert worse(worst, better) == worst
    assert worse(143, 2) == 143  # a tie keeps the first: the gate's own code
    assert worse(2, 143) == 2


@pytest.mark.parametrize(
    ("target", "ours_pass", "expected"),
    [
        ("sandbox", False, 1),
        ("non-conformant", True, 1),
        ("unreachable", True, 3),
        ("unreachable", False, 3),
    ],
    ids=["own test fails, gate conforms", "own test passes, gate fails", "own test passes, gate cannot judge",
         "own test fails, gate cannot judge"],
)  # fmt: skip
def test_pytest_ends_with_the_worse_of_its_own_status_and_the_gates(
    tmp_path: Path, serve: Any, target: str, ours_pass: bool, expected: int
) -> None:
    shutil.copy(SPEC, tmp_path / "openapi.yaml")
    (tmp_path / "test_both.py").write_text(
        "def test_something_of_ours():\n"
        f"    assert {ours_pass}\n\n\n"
        "def test_the_gate_ran(conformance_outcome):\n"
        "    assert conformance_outcome.record is not None\n",
        encoding="utf-8",
    )
    if target == "sandbox":
        where = ["--sandbox"]
    elif target == "non-conformant":
        sandbox = serve(VARIANTS["unknown-payment-status"].api(KEY, seeded_sessions()))
        where = ["--base-url", sandbox.base_url, *id_args(sandbox.checkout_ids)]
    else:
        where = ["--base-url", "http://127.0.0.1:9", "--checkout-id", "cks_known0000000000000000"]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "test_both.py", "-q", "-p", "no:cacheprovider", "--spec", "openapi.yaml",
         "--report-dir", "reports", "--max-examples", "5", *where],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == expected, result.stdout + result.stderr
    assert ("1 failed, 1 passed" if not ours_pass else "2 passed") in result.stdout
    assert summary(tmp_path / "reports")["result"]["exit_code"] == (0 if target == "sandbox" else expected)


# --- a run that starts: no stale verdict, whatever ends it ----------------------------------------


def _start_slow(sandbox: Any, report_dir: Path, sarif: Path) -> subprocess.Popen[str]:
    return start(
        ["run", "--base-url", sandbox.base_url, "--report-dir", str(report_dir), "--sarif", str(sarif),
         "--max-examples", "5000", *id_args(sandbox.checkout_ids[:1])],
        env={"DODO_PAYMENTS_API_KEY": KEY, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def _signals_as_a_terminal_leaves_them() -> None:
    # A test run under nohup or a CI runner may hand its children SIGHUP or SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_a_run_like_ctrl_c_with_partial_reports_and_128_plus_the_signal(
    tmp_path: Path, serve: Any, signum: int, code: int
) -> None:
    api = SlowCounting()
    sandbox = serve(api)
    report_dir, sarif = tmp_path / "reports", tmp_path / "findings.sarif"
    _stale_reports(report_dir, sarif)
    process = _start_slow(sandbox, report_dir, sarif)
    wait_for(lambda: api.count >= 50 or process.poll() is not None, "the run to be under way")
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stdout + stderr
    name = signal.Signals(signum).name
    assert stdout.strip().splitlines()[-1].startswith(f"conformance: COULD NOT JUDGE (exit {code}): the run was stopped"
                                                      f" by {name}")  # fmt: skip
    assert "Traceback" not in stdout + stderr
    _no_stale_report(report_dir, sarif)
    record = summary(report_dir)
    assert record["result"]["exit_code"] == code
    partial = f"partial: interrupted after {record['exchanges']['total']} exchanges; counts are what was judged"
    assert f"_{partial}._" in (report_dir / "summary.md").read_text(encoding="utf-8").splitlines()
    assert f'<p class="partial">{partial}.</p>' in (report_dir / "report.html").read_text(encoding="utf-8")
    junit = ET.fromstring((report_dir / "junit.xml").read_text(encoding="utf-8"))  # noqa: S314 - our own file
    assert junit.find("testcase[@name='run']/error") is not None
    assert json.loads(sarif.read_text(encoding="utf-8"))["runs"][0]["properties"]["exit_code"] == code


def test_sigterm_under_pytest_ends_the_session_143_with_partial_reports(tmp_path: Path, serve: Any) -> None:
    api = SlowCounting()
    sandbox = serve(api)
    report_dir, sarif = tmp_path / "reports", tmp_path / "findings.sarif"
    _stale_reports(report_dir, sarif)
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--base-url", sandbox.base_url,
         "--report-dir", str(report_dir), "--sarif", str(sarif), "--max-examples", "5000",
         *id_args(sandbox.checkout_ids[:1])],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "DODO_PAYMENTS_API_KEY": KEY},
        preexec_fn=_signals_as_a_terminal_leaves_them,  # noqa: PLW1509 - only resets signal dispositions
    )  # fmt: skip
    wait_for(lambda: api.count >= 50 or process.poll() is not None, "the run to be under way")
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stdout + stderr
    _no_stale_report(report_dir, sarif)
    assert summary(report_dir)["result"]["exit_code"] == 143


def test_a_run_killed_with_sigkill_leaves_no_report_of_an_earlier_run(tmp_path: Path, serve: Any) -> None:
    api = SlowCounting()
    sandbox = serve(api)
    report_dir, sarif = tmp_path / "reports", tmp_path / "findings.sarif"
    _stale_reports(report_dir, sarif)
    process = _start_slow(sandbox, report_dir, sarif)
    wait_for(lambda: api.count >= 1 or process.poll() is not None, "the first request")
    process.kill()
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    _no_stale_report(report_dir, sarif)
    assert sorted(path.name for path in report_dir.iterdir()) == ["notes.txt"]
    assert not sarif.exists()


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--rate-limit", "lots"], "--rate-limit 'lots' is not a rate"),
        (["--api-key-file", "/nonexistent/key"], "--api-key-file"),
        (["--spec", "/nonexistent/spec.yaml"], "spec.yaml"),
    ],
    ids=["a flag", "the key file", "the spec"],
)
def test_a_run_refused_with_exit_2_leaves_no_report_of_an_earlier_run(
    tmp_path: Path, args: list[str], cause: str
) -> None:
    report_dir, sarif = tmp_path / "reports", tmp_path / "findings.sarif"
    _stale_reports(report_dir, sarif)
    result = conformance(
        "run", "--base-url", "http://127.0.0.1:9", "--checkout-id", "cks_known0000000000000000",
        "--report-dir", str(report_dir), "--sarif", str(sarif), *args, env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert cause in result.stderr
    _no_stale_report(report_dir, sarif)
    assert sorted(path.name for path in report_dir.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    "refused", [["--rate-limit", "lots"], ["--api-key-file", "/nonexistent/key"]], ids=["a flag", "the key file"]
)
def test_a_pytest_run_refused_as_a_usage_error_leaves_no_report_of_an_earlier_run(
    tmp_path: Path, refused: list[str]
) -> None:
    report_dir = tmp_path / "reports"
    _stale_reports(report_dir)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--base-url", "http://127.0.0.1:9",
         "--report-dir", str(report_dir), *refused],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={key: value for key, value in os.environ.items() if not key.startswith(("DODO_", "CONFORMANCE_"))},
    )  # fmt: skip
    assert result.returncode == 4, result.stdout + result.stderr
    _no_stale_report(report_dir)


def test_a_report_dir_that_is_itself_the_bad_input_is_left_as_it_is(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    _stale_reports(report_dir)
    (report_dir / "summary.json").unlink()
    (report_dir / "summary.json").mkdir()
    result = conformance(
        "run", "--sandbox", "--report-dir", str(report_dir), "--max-examples", "5",
    )  # fmt: skip
    assert result.returncode == 2
    assert "is a folder, where the run writes its summary.json" in result.stderr
    assert (report_dir / "summary.md").read_text(encoding="utf-8") == STALE


# --- outputs that cannot be written ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "place"),
    [("--sarif", "{folder}/findings.sarif"), ("--report-dir", "{folder}/reports"), ("--report-dir", "{folder}"),
     ("--cassette-dir", "{folder}")],
)  # fmt: skip
def test_an_output_that_cannot_be_written_is_refused_before_the_first_request(
    tmp_path: Path, serve: Any, unwritable_folder: Path, flag: str, place: str
) -> None:
    api = SlowCounting()
    sandbox = serve(api)
    path = place.format(folder=unwritable_folder)
    extra = [flag, path] if flag != "--cassette-dir" else ["--record", flag, path]
    if flag != "--report-dir":
        extra += ["--report-dir", str(tmp_path / "reports")]
    result = conformance(
        "run", "--base-url", sandbox.base_url, *id_args(sandbox.checkout_ids), "--max-examples", "5", *extra,
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"conformance: error: {flag} {path}")
    assert "cannot be written" in result.stderr
    assert api.count == 0


def test_report_output_that_cannot_be_written_is_one_line_with_exit_2(tmp_path: Path, unwritable_folder: Path) -> None:
    saved = tmp_path / "summary.json"
    assert conformance("run", "--sandbox", "--report-dir", str(tmp_path), "--max-examples", "5").returncode == 0
    result = conformance("report", str(saved), "--format", "md", "--output", str(unwritable_folder / "summary.md"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1
    assert "--output" in result.stderr
    assert "cannot be written" in result.stderr


def _failing_for(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Writes of files called `name` fail as a full disk would, after the run proved the folder writable."""
    stage = files._stage  # noqa: SLF001 - the one place every write passes

    def full(path: Path, text: str) -> Path:
        if path.name == name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return stage(path, text)

    monkeypatch.setattr(files, "_stage", full)


def test_a_write_that_fails_at_the_end_prints_the_verdict_and_findings_then_exits_74(
    tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox = serve(VARIANTS["unknown-payment-status"].api(KEY, seeded_sessions()))
    report_dir, sarif = tmp_path / "reports", tmp_path / "out" / "findings.sarif"
    _failing_for(monkeypatch, "findings.sarif")
    result = run_against(sandbox, report_dir, "--sarif", str(sarif), max_examples=5)
    assert result.returncode == 74, result.stdout + result.stderr
    assert "internal error" not in result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    # The check table and the findings still print, and the verdict is the last line, naming what is missing.
    assert any(line.startswith("FAIL ") and "response.schema" in line for line in lines)
    assert lines[-1].startswith("conformance: NON-CONFORMANT (exit 74): ")
    assert f"but {sarif} could not be written (No space left on device)" in lines[-1]
    # Every report that could be written agrees with the exit code: none passes for a complete run.
    record = summary(report_dir)
    assert record["result"]["exit_code"] == 74
    assert record["result"]["status"] == "non-conformant"
    assert "(exit 74)" in (report_dir / "summary.md").read_text(encoding="utf-8")
    junit = ET.fromstring((report_dir / "junit.xml").read_text(encoding="utf-8"))  # noqa: S314 - our own file
    assert junit.find("testcase[@name='run']/error") is not None
    assert not sarif.exists()
    assert not list(sarif.parent.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("failing", "named"),
    [
        ("findings.sarif", "(junit.xml, summary.json, summary.md, report.html)"),
        ("summary.json", "(junit.xml, summary.md, report.html), SARIF: {sarif}"),
    ],
    ids=["the SARIF log", "summary.json"],
)
def test_the_closing_of_a_run_ended_by_a_failed_write_names_only_the_reports_written(
    tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch, failing: str, named: str
) -> None:
    sandbox = serve(VARIANTS["unknown-payment-status"].api(KEY, seeded_sessions()))
    report_dir, sarif = tmp_path / "reports", tmp_path / "out" / "findings.sarif"
    _failing_for(monkeypatch, failing)
    result = run_against(sandbox, report_dir, "--sarif", str(sarif), max_examples=5)
    assert result.returncode == 74, result.stdout + result.stderr
    where = [line for line in result.stdout.splitlines() if line.startswith("reports: ")]
    assert where == [f"reports: {report_dir}/ {named.format(sarif=sarif)}"]
    assert not (report_dir / failing).exists()
    assert not sarif.exists() if failing == sarif.name else sarif.exists()


def test_a_summary_that_cannot_be_written_leaves_no_other_report_saying_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _failing_for(monkeypatch, "summary.json")
    result = conformance("run", "--sandbox", "--report-dir", str(tmp_path), "--max-examples", "5")
    assert result.returncode == 74, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("conformance: CONFORMS (exit 74): ")
    assert not (tmp_path / "summary.json").exists()
    assert "(exit 74)" in (tmp_path / "summary.md").read_text(encoding="utf-8")


def test_a_rendering_that_cannot_be_written_at_the_end_is_exit_74(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert conformance("run", "--sandbox", "--report-dir", str(tmp_path), "--max-examples", "5").returncode == 0
    _failing_for(monkeypatch, "again.md")
    result = conformance("report", str(tmp_path / "summary.json"), "--output", str(tmp_path / "again.md"))
    assert result.returncode == 74, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        (
            f"conformance: error: {tmp_path / 'again.md'} could not be written (No space left on device); "
            "make it writable (or free space) and run again"
        )
    ]


def test_a_recording_that_cannot_be_published_is_exit_74_and_the_old_cassettes_stay(
    tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    cassettes = tmp_path / "cassettes"
    shutil.copytree(ROOT / "cassettes", cassettes)
    before = {path.name: path.read_bytes() for path in cassettes.iterdir()}
    _failing_for(monkeypatch, "run.json")
    sandbox = serve(CheckoutApi(KEY, seeded_sessions()))
    result = run_against(sandbox, tmp_path / "reports", "--record", "--cassette-dir", str(cassettes), max_examples=5)
    assert result.returncode == 74, result.stdout + result.stderr
    assert f"the recording in --cassette-dir {cassettes} could not be written" in result.stdout.splitlines()[-1]
    assert summary(tmp_path / "reports")["result"]["exit_code"] == 74
    assert {path.name: path.read_bytes() for path in cassettes.iterdir() if not path.name.startswith(".")} == before


# --- second routes --------------------------------------------------------------------------------


def test_junit_shows_an_error_when_the_run_could_not_judge(tmp_path: Path) -> None:
    result = conformance(
        "run", "--base-url", "http://127.0.0.1:9", "--checkout-id", "cks_known0000000000000000",
        "--report-dir", str(tmp_path), env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    for junit_text in (
        (tmp_path / "junit.xml").read_text(encoding="utf-8"),
        conformance("report", str(tmp_path / "summary.json"), "--format", "junit").stdout,
    ):
        suite = ET.fromstring(junit_text)  # noqa: S314 - our own file
        error = suite.find("testcase[@name='run']/error")
        assert error is not None
        assert error.get("message") == "could not judge (exit 3)"
        assert int(suite.get("errors", "0")) >= 1


def test_a_recording_run_that_crashes_leaves_the_previous_cassettes_byte_for_byte(
    tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance.gate import Gate  # noqa: PLC0415

    def broken(self: Gate) -> None:
        del self
        message = "a bug of the gate"
        raise RuntimeError(message)

    cassettes = tmp_path / "cassettes"
    shutil.copytree(ROOT / "cassettes", cassettes)
    before = {path.relative_to(cassettes): path.read_bytes() for path in cassettes.rglob("*") if path.is_file()}
    monkeypatch.setattr(Gate, "aliases", broken)
    sandbox = serve(CheckoutApi(KEY, seeded_sessions()))
    result = run_against(sandbox, tmp_path / "reports", "--record", "--cassette-dir", str(cassettes), max_examples=5)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the gate itself failed: aliases: RuntimeError: a bug of the gate" in result.stdout.splitlines()[-1]
    after = {path.relative_to(cassettes): path.read_bytes() for path in cassettes.rglob("*") if path.is_file()}
    assert after == before


def test_the_engine_called_from_a_test_of_your_own_clears_the_last_reports_before_it_refuses(tmp_path: Path) -> None:
    from conformance import engine  # noqa: PLC0415
    from conformance.errors import BadInputError  # noqa: PLC0415
    from conformance.settings import Flags, build_settings  # noqa: PLC0415

    report_dir, sarif = tmp_path / "reports", tmp_path / "findings.sarif"
    _stale_reports(report_dir, sarif)
    settings = build_settings(
        Flags(base_url="http://127.0.0.1:9", api_key_file=tmp_path / "no-such-key", report_dir=report_dir, sarif=sarif),
        environ={},
    )
    with pytest.raises(BadInputError, match="no-such-key"):
        engine.run(settings)
    _no_stale_report(report_dir, sarif)
    assert sorted(path.name for path in report_dir.iterdir()) == ["notes.txt"]


def test_a_report_of_an_earlier_run_that_cannot_be_replaced_is_refused_before_the_first_request(
    tmp_path: Path, serve: Any
) -> None:
    api = SlowCounting()
    sandbox = serve(api)
    report_dir = tmp_path / "reports"
    _stale_reports(report_dir)
    stuck = report_dir / "junit.xml"
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True, check=False).returncode != 0:
        pytest.skip("chattr +i is not available here (it is, as root, on ext4)")
    try:
        result = run_against(sandbox, report_dir, max_examples=5)
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert result.returncode == 2, result.stdout + result.stderr
    cause = f"--report-dir: {stuck}, from an earlier run, cannot be removed (Operation not permitted)"
    assert result.stderr.splitlines() == [f"conformance: error: {cause}; remove it, or pass another --report-dir"]
    assert api.count == 0


def test_a_run_whose_target_fails_a_check_and_whose_gate_breaks_says_both_and_ends_with_the_worse_code(
    tmp_path: Path, serve: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A failure the target earned must not hide that the gate broke (its later scenarios judged nothing), nor the
    # other way round: the reason says both, and the exit code is the worse of 1 and 3 (errors.SEVERITY).
    from support import check_status, judge  # noqa: PLC0415

    from conformance.errors import ExitCode  # noqa: PLC0415
    from conformance.gate import Gate  # noqa: PLC0415

    def broken(self: Gate) -> None:
        del self
        message = "a bug of the gate"
        raise RuntimeError(message)

    monkeypatch.setattr(Gate, "aliases", broken)
    expected = worse(ExitCode.NON_CONFORMANT, ExitCode.CANNOT_JUDGE)
    assert expected == ExitCode.CANNOT_JUDGE
    said = "the gate itself failed: aliases: RuntimeError: a bug of the gate; besides, "
    # The engine, as a test of your own or the pytest plugin calls it.
    outcome = judge(VARIANTS["unknown-payment-status"].api(KEY, seeded_sessions()), tmp_path / "engine")
    assert outcome.exit_code == expected
    assert outcome.record.result.reason.startswith(said)
    assert "check(s) failed: response.schema" in outcome.record.result.reason
    # The command, and every report it wrote.
    sandbox = serve(VARIANTS["unknown-payment-status"].api(KEY, seeded_sessions()))
    report_dir = tmp_path / "cli"
    result = run_against(sandbox, report_dir, max_examples=5)
    assert result.returncode == expected, result.stdout + result.stderr
    last = result.stdout.splitlines()[-1]
    assert said in last
    assert "response.schema" in last
    record = summary(report_dir)
    assert (record["result"]["exit_code"], record["result"]["status"]) == (expected, "could not judge")
    assert record["result"]["reason"].startswith(said)
    assert check_status(report_dir)["response.schema"] == "failed"
    for name in ("summary.md", "report.html", "junit.xml"):
        assert "a bug of the gate" in (report_dir / name).read_text(encoding="utf-8"), name
