"""The pytest plugin: options, fixtures and the hooks that turn a session into a verdict."""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from conformance import determinism
from conformance.checks import REGISTRY, Context
from conformance.errors import ExitCode, GateError, RunStopped
from conformance.gate import Gate
from conformance.ledger import CheckStatus, Ledger, RunStatus
from conformance.redaction import Redactor
from conformance.report import build_summary, render_closing, render_header, write_reports
from conformance.sandbox import Sandbox
from conformance.settings import (
    DEFAULT_CASSETTE_DIR,
    DEFAULT_MAX_TIME_SECONDS,
    DEFAULT_REPORT_DIR,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SPEC,
    Mode,
    Settings,
    build_settings,
    flags_from,
    refuse_live_mode,
)
from conformance.spec import Contract, load_contract, schemathesis_schema
from conformance.transport import Transport

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    from _pytest.terminal import TerminalReporter
    from schemathesis.schemas import BaseSchema

SUITE_DIR = Path(__file__).parent / "suite"
VERDICT_MARKER = "conformance_verdict"
LIVE_ONLY_MARKER = "conformance_live_only"
REPLAY_ONLY_MARKER = "conformance_replay_only"
MARKERS = {
    VERDICT_MARKER: "a test that reports one check's verdict",
    LIVE_ONLY_MARKER: "a scenario that generates requests, so it is not replayed but judged as recorded",
    REPLAY_ONLY_MARKER: "a scenario that judges recorded exchanges without sending them",
}
EXIT_CODES = {
    RunStatus.CONFORMS: ExitCode.CONFORMS,
    RunStatus.NON_CONFORMANT: ExitCode.NON_CONFORMANT,
    RunStatus.CANNOT_JUDGE: ExitCode.CANNOT_JUDGE,
}


class Run:
    """The state of one conformance session, kept in the pytest config."""

    def __init__(self, settings: Settings, contract: Contract) -> None:
        self.settings = settings
        self.contract = contract
        self.ledger = Ledger(contract=contract, strict=settings.strict, excluded=frozenset(settings.excluded_checks))
        self.target = settings.base_url or "bundled sandbox"
        self.redact = Redactor([settings.api_key or ""])
        self.checkout_ids = settings.checkout_ids
        self.harness_errors: list[str] = []
        self.summary: dict[str, Any] | None = None
        # Where the gate's own lines go: pytest's terminal when it has one, else stdout (`conformance run`).
        self.say: Callable[[str], None] = _print
        # Where a recording is written until the run ends; then it replaces cassettes/ file by file.
        self.staging: Path | None = None
        self.recording_complete = False
        if settings.mode is Mode.RECORD:
            self.staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=_ensure_dir(settings.cassette_dir)))
        if settings.mode is Mode.REPLAY:
            self.target = f"replay of {settings.cassette_dir}/"

    @property
    def cassette_dir(self) -> Path:
        """Where cassettes are read from, or written to while recording."""
        return self.staging or self.settings.cassette_dir


def _print(line: str) -> None:
    print(line, flush=True)


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


RUN_KEY = pytest.StashKey[Run]()


class Preset:
    """Settings the CLI has already resolved and checked, handed to the plugin whole."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


def _preset(config: pytest.Config) -> Settings | None:
    return next((plugin.settings for plugin in config.pluginmanager.get_plugins() if isinstance(plugin, Preset)), None)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The suite's options; each has an environment fallback where the SDK has one."""
    group = parser.getgroup("conformance", "Dodo Payments conformance gate")
    group.addoption("--sandbox", action="store_true", help="Run the suite against the bundled sandbox.")
    group.addoption("--base-url", help="Server to judge (env DODO_PAYMENTS_BASE_URL).")
    group.addoption("--api-key", help="Bearer key for the server (env DODO_PAYMENTS_API_KEY).")
    group.addoption("--api-key-file", type=Path, help="Read the bearer key from this file.")
    group.addoption(
        "--checkout-id",
        action="append",
        dest="checkout_ids",
        help="Id of an existing session; repeatable (env CONFORMANCE_CHECKOUT_IDS, comma-separated).",
    )
    group.addoption("--spec", type=Path, default=DEFAULT_SPEC, help="OpenAPI document (default %(default)s).")
    group.addoption("--report-dir", type=Path, default=DEFAULT_REPORT_DIR, help="Where reports go.")
    group.addoption("--max-examples", type=int, help="Generated ids per run (default 100).")
    group.addoption("--seed", type=int, help="Seed of the generated requests (default 20261128).")
    group.addoption("--record", action="store_true", help="Write every exchange to cassettes.")
    group.addoption("--replay", action="store_true", help="Serve every reply from cassettes; no network, no key.")
    group.addoption("--cassette-dir", type=Path, default=DEFAULT_CASSETTE_DIR, help="Where cassettes live.")
    group.addoption("--allow-live-mode", action="store_true", help="Allow a live-mode (real money) target.")
    group.addoption("--rate-limit", help="Requests per time unit, e.g. 100/m (default: 100/m off this machine).")
    group.addoption("--max-time", type=float, default=DEFAULT_MAX_TIME_SECONDS, help="Time budget in seconds.")
    group.addoption(
        "--exclude-check", action="append", dest="excluded_checks", help="A check id not to run; repeatable."
    )
    group.addoption(
        # pytest owns --strict; `conformance run --strict` maps to this.
        "--conformance-strict",
        action="store_true",
        help="SHOULD warnings fail the run.",
    )
    group.addoption("--request-timeout", type=float, default=DEFAULT_REQUEST_TIMEOUT, help="Seconds per request.")


def _suite_requested(config: pytest.Config) -> bool:
    if _preset(config) is not None:
        return True
    return any(config.getoption(name) for name in ("sandbox", "base_url", "record", "replay"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Check the settings and the spec before anything runs; point pytest at the suite."""
    for marker, description in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {description}")
    if not _suite_requested(config):
        return
    if config.getoption("record") and config.getoption("replay"):
        raise pytest.UsageError("--record and --replay were both given; pass one of them")
    if config.getoption("numprocesses", None):
        # One ledger judges the whole run; workers would each hold a part of it.
        raise pytest.UsageError("the conformance suite runs in one process; drop -n (pytest-xdist)")
    mode = Mode.RECORD if config.getoption("record") else Mode.REPLAY if config.getoption("replay") else Mode.LIVE
    try:
        settings = _preset(config) or build_settings(flags_from(config.getoption, mode))
        contract = load_contract(settings.spec)
        refuse_live_mode(settings, contract)
    except GateError as error:
        raise pytest.UsageError(str(error)) from None
    run = config.stash[RUN_KEY] = Run(settings, contract)
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        run.say = terminal.write_line
    if config.args_source is pytest.Config.ArgsSource.TESTPATHS:
        # `pytest --base-url ...` without paths runs the suite, not the project's own tests.
        config.args = [str(SUITE_DIR)]
    if settings.mode is not Mode.LIVE:
        # pytest-recording's own options: a fresh staging folder records everything; a replay
        # plays back only, and any connection attempt fails.
        config.option.record_mode = "all" if settings.mode is Mode.RECORD else "none"
        config.option.block_network = settings.mode is Mode.REPLAY
    determinism.fix_generated_data()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Record or replay the scenarios; generated requests are judged as recorded on replay."""
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        if any(SUITE_DIR in Path(str(item.path)).parents for item in items):
            raise pytest.UsageError("the conformance suite needs a target: pass --sandbox, --base-url or --replay")
        return
    replaying = run.settings.mode is Mode.REPLAY
    dropped = REPLAY_ONLY_MARKER if not replaying else LIVE_ONLY_MARKER
    kept = [item for item in items if item.get_closest_marker(dropped) is None]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept
    if run.settings.mode is Mode.LIVE:
        return
    for item in items:
        if item.get_closest_marker(VERDICT_MARKER) is None and item.get_closest_marker(REPLAY_ONLY_MARKER) is None:
            item.add_marker(pytest.mark.vcr)


def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:  # noqa: ANN401 - a vcr.VCR
    """Register the gate's request matcher and a persister that writes whole cassettes only."""
    from conformance.cassettes import AtomicPersister, credential_matcher  # noqa: PLC0415 - only with cassettes

    del config
    vcr.register_matcher("credential", credential_matcher)
    vcr.register_persister(AtomicPersister)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give every registered check its own verdict test, with the check id as the test id."""
    if metafunc.definition.get_closest_marker(VERDICT_MARKER) is not None:
        metafunc.parametrize("check_id", list(REGISTRY), ids=list(REGISTRY))


@pytest.fixture(scope="session")
def conformance_run(request: pytest.FixtureRequest) -> Run:
    """The state of this conformance session."""
    run = request.config.stash.get(RUN_KEY, None)
    if run is None:
        pytest.fail("the conformance suite needs --sandbox, --base-url or --replay", pytrace=False)
    return run


@pytest.fixture(scope="session")
def conformance_target(conformance_run: Run) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    """(base URL, key, known ids), starting the bundled sandbox when no target was given."""
    settings = conformance_run.settings
    if settings.base_url is not None:
        assert settings.api_key is not None
        yield settings.base_url, settings.api_key, settings.checkout_ids
        return
    with Sandbox() as sandbox:
        conformance_run.target = f"bundled sandbox at {sandbox.base_url}"
        conformance_run.redact = Redactor([sandbox.api_key])
        conformance_run.checkout_ids = settings.checkout_ids or tuple(sandbox.checkout_ids)
        yield sandbox.base_url, sandbox.api_key, conformance_run.checkout_ids


@pytest.fixture(scope="session")
def conformance_schema(conformance_run: Run) -> BaseSchema:
    """The spec as Schemathesis sees it, configured for deterministic generation."""
    settings = conformance_run.settings
    return schemathesis_schema(conformance_run.contract, seed=settings.seed, max_examples=settings.max_examples)


@pytest.fixture(scope="session")
def conformance_gate(
    conformance_run: Run, conformance_target: tuple[str, str, tuple[str, ...]], conformance_schema: BaseSchema
) -> Iterator[Gate]:
    """The gate: the transport, the checks to run, and the ledger they report to."""
    base_url, api_key, checkout_ids = conformance_target
    settings = conformance_run.settings
    transport = Transport(
        base_url,
        api_key,
        timeout=settings.request_timeout,
        rate_per_second=settings.rate_per_second,
        max_time=settings.max_time,
    )
    context = Context(
        contract=conformance_run.contract,
        known_ids=frozenset(checkout_ids),
        operation=conformance_schema["/checkouts/{id}"]["GET"],
    )
    checks = [check for check_id, check in REGISTRY.items() if check_id not in settings.excluded_checks]
    # Said before the first request: what is judged, against which contract, with which data.
    for line in render_header(
        target=conformance_run.target,
        spec=str(settings.spec),
        spec_version=conformance_run.contract.version,
        seed=settings.seed,
        max_examples=settings.max_examples,
        checkout_ids=checkout_ids,
    ):
        conformance_run.say(line)
    yield Gate(transport, context, conformance_run.ledger, checkout_ids, settings.seed, checks=checks)
    transport.close()


def preflight(run: Run, gate: Gate) -> None:
    """Stop the whole run when the target cannot be judged: every later request would fail alike."""
    try:
        gate.preflight()
    except GateError as error:
        run.ledger.cannot_judge = str(error)
        pytest.exit("stopped: the target cannot be judged (see the verdict above)")


def verdict(run: Run, check_id: str) -> None:
    """Pass, fail, warn or skip one check's verdict test from the ledger."""
    tally = run.ledger.tallies[check_id]
    status = tally.status(run.settings.strict)
    findings = "\n\n".join(
        f"{item.exchange.request.method} {item.exchange.request.url} ({item.exchange.purpose}, "
        f"{item.exchange.credential})\n{item.failure}"
        for item in tally.findings[:3]
        if item.failure is not None
    )
    header = f"{check_id} ({tally.check.level}): {tally.check.requirement}"
    counts = f"{tally.failed} failed, {tally.warned} warned, {tally.passed} passed"
    if status is CheckStatus.FAILED:
        pytest.fail(run.redact(f"{header}\n{counts}\n\n{findings}"), pytrace=False)
    if status is CheckStatus.WARNED:
        warnings.warn(run.redact(f"{header}\n{counts}\n\n{findings}"), UserWarning, stacklevel=1)
    elif status is CheckStatus.SKIPPED:
        pytest.skip(f"{check_id}: {tally.skip_reason(run.settings.strict, replaying=run.settings.mode is Mode.REPLAY)}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep harness errors (a scenario that crashed) apart from check failures and missing recordings."""
    report: pytest.TestReport = yield
    run = item.config.stash.get(RUN_KEY, None)
    if run is None:
        return report
    _redact_report(run, report)
    if not report.failed or item.get_closest_marker(VERDICT_MARKER) is not None:
        return report
    if call.excinfo is not None and isinstance(call.excinfo.value, RunStopped):
        if run.ledger.cannot_judge is None:
            run.ledger.cannot_judge = str(call.excinfo.value.error)
        item.session.shouldstop = "stopped: the target can no longer be judged (see the verdict)"
        report.longrepr = run.redact(str(call.excinfo.value.error))
        return report
    missing = _missing_recording(run, call)
    if missing is not None:
        if run.ledger.cannot_judge is None:
            run.ledger.cannot_judge = missing
        report.longrepr = missing
        return report
    if call.excinfo is not None:
        message = str(call.excinfo.value).strip().splitlines()
        cause = f"{call.excinfo.typename}: {message[0]}" if message else call.excinfo.typename
    else:
        cause = (report.longreprtext.strip().splitlines() or ["no detail"])[-1]
    run.harness_errors.append(run.redact(f"{item.name}: {cause}"))
    return report


def _redact_report(run: Run, report: pytest.TestReport) -> None:
    """What pytest would print of a test (its failure and captured output) never holds the key."""
    if report.longrepr is not None and not isinstance(report.longrepr, tuple):
        text = str(report.longrepr)
        redacted = run.redact(text)
        if redacted != text:
            report.longrepr = redacted
    report.sections = [(title, run.redact(content)) for title, content in report.sections]


def _missing_recording(run: Run, call: pytest.CallInfo[None]) -> str | None:
    """Why a replayed request could not be judged, when vcrpy had no recording for it."""
    if run.settings.mode is not Mode.REPLAY or call.excinfo is None:
        return None
    from vcr.errors import CannotOverwriteExistingCassetteException  # noqa: PLC0415 - only on replay

    error = call.excinfo.value
    if not isinstance(error, CannotOverwriteExistingCassetteException):
        return None
    request = error.failed_request
    cassette = Path(error.cassette._path).name  # noqa: SLF001 - vcrpy exposes no public path
    return (
        f"{request.method} {urlsplit(request.uri).path} has no recording in {run.settings.cassette_dir}/{cassette}; "
        "re-record with 'conformance run --record' against the target (see cassettes/README.md)"
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Decide the run's verdict, write the reports and set the exit code."""
    run = session.config.stash.get(RUN_KEY, None)
    if run is None or session.config.option.collectonly:
        # Collecting judges nothing, so it must not replace the last run's reports.
        return
    ledger = run.ledger
    ledger.finished = time.time()
    status, reason = ledger.run_status()
    interrupted = exitstatus == pytest.ExitCode.INTERRUPTED and ledger.cannot_judge is None
    if interrupted:
        status, reason = RunStatus.CANNOT_JUDGE, "the run was interrupted before it finished"
    elif run.harness_errors and status is not RunStatus.NON_CONFORMANT:
        status, reason = RunStatus.CANNOT_JUDGE, f"the gate itself failed: {run.harness_errors[0]}"
    code = ExitCode.INTERRUPTED if interrupted else EXIT_CODES[status]
    run.recording_complete = not interrupted and ledger.cannot_judge is None and not run.harness_errors
    run.summary = build_summary(
        ledger, run.settings, target=run.target, exit_code=int(code), status=str(status), reason=run.redact(reason)
    )
    write_reports(run.summary, run.settings.report_dir, run.redact)
    session.exitstatus = int(code)


def _finish_recording(run: Run, *, complete: bool) -> None:
    """Publish a complete recording over cassettes/; throw away an incomplete one."""
    if run.staging is None:
        return
    from conformance.cassettes import new_recording, publish  # noqa: PLC0415 - only with cassettes

    if complete:
        settings = run.settings
        recording = new_recording(
            # Not the sandbox's port: it changes on every start, and would make every re-record a diff.
            target=settings.base_url or "bundled sandbox",
            spec_version=run.contract.version,
            seed=settings.seed,
            max_examples=settings.max_examples,
            checkout_ids=run.checkout_ids,
        )
        publish(run.staging, settings.cassette_dir, recording)
    else:
        shutil.rmtree(run.staging, ignore_errors=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Publish or discard the recording; then, for `conformance run`, print how the run ended."""
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return
    # Here, not at session finish: an interrupted test's cassette is saved when its fixtures are
    # torn down, which happens after the session-finish hooks.
    _finish_recording(run, complete=run.recording_complete)
    if run.summary is not None and config.pluginmanager.get_plugin("terminalreporter") is None:
        # Without pytest's terminal (`conformance run`), the verdict is the last line printed.
        for line in render_closing(run.summary, run.settings.report_dir):
            run.say(line)


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    """Print the per-check table and the verdict (under `pytest`; `conformance run` prints them itself)."""
    run = terminalreporter.config.stash.get(RUN_KEY, None)
    if run is None or run.summary is None:
        return
    terminalreporter.section("conformance")
    for line in render_closing(run.summary, run.settings.report_dir):
        terminalreporter.write_line(line)
