"""Every way a run can end badly ends in one line that names the cause, the right exit code, and no traceback."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import (
    KEY,
    ROOT,
    SPEC,
    conformance,
    id_args,
    run_against,
    start,
    start_until_import,
    summary,
    wait_for,
)

from conformance import cli
from conformance.sandbox import CheckoutApi, Reply, seeded_sessions


class Counting(CheckoutApi):
    """The reference behaviour, counting what it is asked."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(KEY, seeded_sessions())
        self.count = 0
        self.delay = delay

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        self.count += 1
        reply = super().handle(method, target, headers)
        return Reply(reply.status, reply.body, reply.headers, delay_seconds=self.delay)


class Always429(CheckoutApi):
    """Every request is rate limited."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:  # noqa: ARG002
        return Reply(429, headers={"Retry-After": "0"})


def _no_traceback(result: subprocess.CompletedProcess[str] | tuple[str, str]) -> None:
    out, err = (result.stdout, result.stderr) if isinstance(result, subprocess.CompletedProcess) else result
    assert "Traceback" not in out + err, out + err
    assert 'File "' not in out + err, out + err


def _verdict_is_last(stdout: str, code: int) -> str:
    last = stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("conformance: "), stdout
    assert f"(exit {code})" in last, last
    return last


def _one_line_error(result: subprocess.CompletedProcess[str], code: int, cause: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert cause in lines[0]
    _no_traceback(result)


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--request-timeout", "inf"], "--request-timeout is inf; give a number of seconds above 0 and at most 3600"),
        (["--request-timeout", "1e10"], "--request-timeout is 1e+10"),
        (["--request-timeout", "nan"], "--request-timeout is nan"),
        (["--max-time", "inf"], "--max-time is inf"),
        (["--spec", "spec"], "--spec spec is a directory"),
        (["--bogus"], "unrecognized arguments: --bogus; see 'conformance run --help'"),
        (["--seed", "x"], "see 'conformance run --help'"),
        (["--rate-limit", "-1/s"], "expected one argument (a value that starts with '-' is written --flag=VALUE)"),
        (["--rate-limit=-1/s"], "--rate-limit '-1/s' is not a rate"),
    ],
)
def test_bad_flags_are_one_line_naming_the_fix(args: list[str], cause: str) -> None:
    _one_line_error(conformance("run", "--sandbox", *args), 2, cause)


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--report-dir", ""], "argument --report-dir: an empty path; give a path"),
        (["--record", "--cassette-dir", ""], "argument --cassette-dir: an empty path; give a path"),
        (["--sarif", ""], "argument --sarif: an empty path; give a path"),
        (["--sarif", "{tmp}"], "--sarif {tmp} is a folder, not a file"),
        (["--report-dir", "{tmp}", "--sarif", "{tmp}/summary.json"], "is where the run writes its summary.json"),
        (["--report-dir", "{tmp}/taken"], "{tmp}/taken/report.html is a folder, where the run writes its report.html"),
        (["--report-dir", "{tmp}/new", "--sarif", "{tmp}/new"], "--sarif {tmp}/new is a folder, not a file"),
    ],
)
def test_output_paths_that_would_lose_or_misplace_a_report_are_refused_before_any_request(
    tmp_path: Path, args: list[str], cause: str
) -> None:
    # An empty --report-dir wrote into the current folder; the rest failed as "a bug in the gate" after the run.
    (tmp_path / "taken" / "report.html").mkdir(parents=True)
    spec = ["--spec", str(ROOT / "spec" / "openapi.yaml")]
    result = conformance("run", "--sandbox", *spec, *(arg.format(tmp=tmp_path) for arg in args), cwd=tmp_path)
    _one_line_error(result, 2, cause.format(tmp=tmp_path))
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]  # nothing was written


def test_an_output_inside_a_file_is_refused_before_the_run_and_the_rendering(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("", encoding="utf-8")
    cause = f"is inside {afile}, which is a file; pass a path in a folder for"
    _one_line_error(conformance("run", "--sandbox", "--sarif", str(afile / "x.sarif")), 2, cause + " --sarif")
    _one_line_error(conformance("report", "reports/summary.json", "--output", str(afile / "x")), 2, cause + " --output")


def test_a_rendering_never_overwrites_the_summary_it_reads(tmp_path: Path) -> None:
    summary = tmp_path / "summary.json"
    assert conformance("run", "--sandbox", "--report-dir", str(tmp_path), "--max-examples", "5").returncode == 0
    before = summary.read_bytes()
    _one_line_error(
        conformance("report", str(summary), "--format", "md", "--output", str(summary)), 2, "is the summary being"
    )
    _one_line_error(conformance("report", str(summary), "--output", str(tmp_path)), 2, "is a folder, not a file")
    assert summary.read_bytes() == before


@pytest.mark.parametrize("timeout", ["0", "-1", "nan"])
def test_a_replay_of_a_finding_refuses_a_timeout_a_run_would_refuse(timeout: str) -> None:
    result = conformance("replay", "Fdeadbeef", "--request-timeout", timeout)
    _one_line_error(result, 2, f"--request-timeout is {float(timeout):g}; give a number of seconds above 0")


def test_a_swagger_2_document_is_refused_as_not_openapi_3(tmp_path: Path) -> None:
    swagger = tmp_path / "swagger.json"
    swagger.write_text(json.dumps({"swagger": "2.0", "info": {}, "paths": {}}), encoding="utf-8")
    _one_line_error(
        conformance("run", "--sandbox", "--spec", str(swagger)), 2, "is a Swagger 2.0 document, not an OpenAPI 3.x"
    )


def test_version_prints_the_version() -> None:
    result = conformance("--version")
    assert result.returncode == 0
    assert result.stdout.strip().startswith("conformance 0.")


def test_a_run_past_its_time_budget_ends_with_the_verdict(tmp_path: Path, serve: Any) -> None:
    result = run_against(serve(Counting(delay=0.05)), tmp_path, "--max-time", "1", max_examples=50)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "time budget of 1 s ran out" in _verdict_is_last(result.stdout, 3)
    _no_traceback(result)


def test_a_target_that_keeps_answering_429_ends_with_the_verdict(tmp_path: Path, serve: Any) -> None:
    result = run_against(serve(Always429(KEY, seeded_sessions())), tmp_path, max_examples=5)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "answered 429 to 3 requests in a row" in _verdict_is_last(result.stdout, 3)
    _no_traceback(result)


def test_a_missing_recording_is_one_verdict_line(tmp_path: Path) -> None:
    cassettes = tmp_path / "cassettes"
    shutil.copytree(ROOT / "cassettes", cassettes)
    edges = cassettes / "edge_ids.yaml"
    document = yaml.safe_load(edges.read_text(encoding="utf-8"))
    document["interactions"] = document["interactions"][:3]
    edges.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = conformance("run", "--replay", "--cassette-dir", str(cassettes), "--report-dir", str(tmp_path / "r"))
    assert result.returncode == 3, result.stdout + result.stderr
    last = _verdict_is_last(result.stdout, 3)
    assert "has no recording in" in last
    assert "conformance run --record" in last
    _no_traceback(result)


def _start(args: list[str], cwd: Path = ROOT) -> subprocess.Popen[str]:
    return start(args, cwd=cwd, env={"DODO_PAYMENTS_API_KEY": KEY, "PATH": "/usr/bin:/bin"})


def test_ctrl_c_during_the_generated_requests_is_exit_130_with_whole_reports(tmp_path: Path, serve: Any) -> None:
    api = Counting()
    sandbox = serve(api)
    report_dir = tmp_path / "reports"
    # One known session keeps the fixed scenarios short; 150 requests are past them, into the generated ones.
    process = _start(
        ["run", "--base-url", sandbox.base_url, "--report-dir", str(report_dir), "--max-examples", "5000",
         *id_args(sandbox.checkout_ids[:1])],
    )  # fmt: skip
    wait_for(lambda: api.count >= 150 or process.poll() is not None, "the run to reach its generated requests")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stdout + stderr
    assert "interrupted" in _verdict_is_last(stdout, 130)
    _no_traceback((stdout, stderr))
    record = summary(report_dir)
    assert record["result"]["exit_code"] == 130
    partial = f"partial: interrupted after {record['exchanges']['total']} exchanges; counts are what was judged"
    assert f"({partial})" in stdout.splitlines()
    # The files say so too, beside their check tables: a PASS there is not a finished run's PASS.
    assert f"_{partial}._" in (report_dir / "summary.md").read_text(encoding="utf-8").splitlines()
    assert f'<p class="partial">{partial}.</p>' in (report_dir / "report.html").read_text(encoding="utf-8")


class HeldAfterFirst(Counting):
    """The reference, holding every reply after the first until released: the run cannot end before the Ctrl-C."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        if self.count >= 1:
            self.release.wait(240)
        return super().handle(method, target, headers)


# The moments a Ctrl-C lands: as the entry point starts to import the CLI (argparse and the redactor, then
# everything a run needs), and once the first request has arrived. Before the entry point's first line the
# interrupt is the interpreter's (a traceback from `site`, or -2): no test sends one there.
AT_START_UP = pytest.mark.parametrize("moment", ["importing the CLI", "the first request"])


@AT_START_UP
def test_ctrl_c_at_start_up_is_one_line_and_exit_130(tmp_path: Path, serve: Any, moment: str) -> None:
    api = HeldAfterFirst()
    sandbox = serve(api)
    args = ["run", "--base-url", sandbox.base_url, "--report-dir", str(tmp_path), *id_args(sandbox.checkout_ids)]
    environment = {"DODO_PAYMENTS_API_KEY": KEY, "PATH": "/usr/bin:/bin"}
    try:
        if moment == "importing the CLI":
            process = start_until_import(args, "conformance.cli", cwd=ROOT, env=environment)
        else:
            process = start(args, cwd=ROOT, env=environment)
            wait_for(lambda: api.count >= 1 or process.poll() is not None, "the first request")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=240)
    finally:
        api.release.set()
    _no_traceback((stdout, stderr))
    assert process.returncode == 130, stdout + stderr
    if stdout:  # the run had begun (on a busy machine, even when the signal was sent during the imports)
        assert "interrupted" in _verdict_is_last(stdout, 130)
    else:
        assert stderr == "conformance: interrupted\n"


def test_the_installed_command_is_the_entry_point_that_turns_ctrl_c_into_one_line() -> None:
    # The Ctrl-C tests start `conformance.__main__:main`; the script pip writes must call that one, not cli.main,
    # whose module is imported before any handler is in place.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["conformance"] == "conformance.__main__:main"


def test_a_reader_that_goes_away_does_not_break_the_checks_list() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "conformance", "checks"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    process.stdout.readline()
    process.stdout.close()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0
    assert b"Traceback" not in stderr
    assert b"BrokenPipeError" not in stderr


def test_pytest_collect_only_leaves_the_last_reports_alone(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    report_dir.mkdir()
    (report_dir / "summary.json").write_text("{}", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--sandbox", f"--report-dir={report_dir}", "--collect-only", "-q",
         "-p", "no:cacheprovider"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_check[response.schema]" in result.stdout
    assert [path.name for path in report_dir.iterdir()] == ["summary.json"]
    assert (report_dir / "summary.json").read_text(encoding="utf-8") == "{}"


def test_an_internal_error_is_one_redacted_line_and_never_a_pass(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*_: object, **__: object) -> None:
        message = f"something broke while holding {KEY}"
        raise RuntimeError(message)

    monkeypatch.setenv("DODO_PAYMENTS_API_KEY", KEY)
    monkeypatch.setattr("conformance.settings.build_settings", broken)
    code = cli.main(["run", "--base-url", "http://127.0.0.1:9"])
    out, err = capsys.readouterr()
    assert code == 3
    assert out == ""
    assert err.splitlines() == [
        (
            "conformance: internal error: RuntimeError: something broke while holding [REDACTED]; this is a bug in the "
            "gate, please report it with the command you ran"
        )
    ]


def test_a_scenario_that_crashes_is_could_not_judge_never_a_pass(tmp_path: Path) -> None:
    broken = (
        "import sys\n"
        "import conformance.gate\n"
        "def crash(self):\n"
        "    raise RuntimeError('the edge-case ids could not be sent')\n"
        "conformance.gate.Gate.edge_ids = crash\n"
        "from conformance.cli import main\n"
        "raise SystemExit(main(sys.argv[1:]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", broken, "run", "--sandbox", "--report-dir", str(tmp_path), "--max-examples", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    last = _verdict_is_last(result.stdout, 3)
    assert "the gate itself failed" in last
    assert "the edge-case ids could not be sent" in last
    _no_traceback(result)
    assert summary(tmp_path)["result"]["status"] == "could not judge"


def test_a_default_path_missing_from_another_folder_names_the_folder_and_the_fix(tmp_path: Path) -> None:
    # A newcomer running from outside the project sees where the gate looked, not just a relative path.
    spec = conformance("run", "--sandbox", cwd=tmp_path)
    _one_line_error(
        spec, 2,
        f"spec file spec/openapi.yaml does not exist in {tmp_path}; run from the project's folder, or pass --spec",
    )  # fmt: skip
    replay = conformance("run", "--replay", "--spec", str(SPEC), cwd=tmp_path)
    _one_line_error(
        replay, 2,
        f"cassettes/run.json does not exist in {tmp_path}, so there is nothing to replay; run from the project's "
        "folder, pass --cassette-dir, or record",
    )  # fmt: skip


@pytest.mark.parametrize("flag", ["--report-dir", "--cassette-dir"])
def test_an_output_folder_that_is_a_file_is_named_as_a_file(tmp_path: Path, flag: str) -> None:
    taken = tmp_path / "taken"
    taken.write_text("someone's file\n", encoding="utf-8")
    result = conformance("run", "--sandbox", "--record", "--report-dir", str(tmp_path / "reports"), flag, str(taken))
    _one_line_error(result, 2, f"{flag} {taken} is a file, not a folder; pass a folder for {flag} (made if missing)")
    assert taken.read_text(encoding="utf-8") == "someone's file\n"
