"""One run, from settings to exit code. `conformance run` and the pytest plugin are two front ends on it.

prepare() reads what the run needs (the spec, a key file, a recording) and refuses what must not be
judged (a live-mode host), before any request. execute() starts the target, plays the scenarios in
order (recording or replaying them through vcrpy), feeds the ledger, writes every report, publishes
or discards the recording and returns the outcome.
"""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance import determinism
from conformance.checks import REGISTRY, Context
from conformance.credentials import Credentials
from conformance.errors import (
    STOPPED_BY,
    BadInputError,
    ExitCode,
    GateError,
    OutputNotWrittenError,
    RunStopped,
    StoppedBySignal,
    TargetError,
    worse,
)
from conformance.files import check_output_file, prove_writable_file, prove_writable_folder, remove_file
from conformance.gate import Gate, fewest_requests
from conformance.ledger import Ledger, RunStatus
from conformance.record import Result, redacted
from conformance.redaction import Redactor
from conformance.report import (
    REPORT_FILES,
    build_record,
    render_closing,
    render_header,
    write_reports,
    write_what_can_be_written,
)
from conformance.settings import (
    DEFAULT_CONCURRENCY,
    Mode,
    read_key_file,
    refuse_live_mode,
    refuse_unreachable_pace,
)
from conformance.spec import load_contract, schemathesis_schema
from conformance.transport import STOP_REQUESTED, TargetSilent

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from types import FrameType

    from conformance.cassettes import Recording
    from conformance.record import RunRecord
    from conformance.settings import Settings
    from conformance.spec import Contract

EXIT_CODES = {
    RunStatus.CONFORMS: ExitCode.CONFORMS,
    RunStatus.NON_CONFORMANT: ExitCode.NON_CONFORMANT,
    RunStatus.CANNOT_JUDGE: ExitCode.CANNOT_JUDGE,
}
# The scenarios in the order they run; each is one cassette when recording.
SCENARIOS = (
    "preflight",
    "created_session",
    "known_sessions",
    "credentials",
    "invented_ids",
    "edge_ids",
    "path_syntax_ids",
    "aliases",
    "reused_connection",
    "concurrent_reads",
    "generated_ids",
)


@dataclass(frozen=True)
class Plan:
    """A run ready to start: settings with every gap filled, and what was read for it."""

    settings: Settings
    contract: Contract
    api_key: str | None
    seed: int
    max_examples: int
    checkout_ids: tuple[str, ...]
    # On replay, what the cassettes were recorded with.
    recording: Recording | None = None
    # The product of the session to create (--create-session); None creates none, or lets the sandbox pick.
    product_id: str | None = None
    # Known sessions read at the same moment; on replay, the recording's.
    concurrency: int = DEFAULT_CONCURRENCY


@dataclass
class Outcome:
    """How a run ended."""

    exit_code: ExitCode
    record: RunRecord
    ledger: Ledger = field(repr=False)


def prepare(settings: Settings, *, claimed: bool = False) -> Plan:
    """Read the spec, the key file and the recording, and refuse a live-mode target; raise GateError.

    The report paths are claimed first (claim_reports), unless the front end `claimed` them already from the
    same flags, before the refusals that settings make.
    """
    if not claimed:
        claim_reports(settings.report_dir, settings.sarif)
    contract = load_contract(settings.spec)
    if settings.mode is Mode.RECORD:
        # Checked before the first request: a recording that cannot be kept is not worth sending.
        prove_writable_folder(settings.cassette_dir, "--cassette-dir")
    if settings.mode is Mode.REPLAY:
        return _replay_plan(settings, contract)
    api_key = read_key_file(settings.api_key_file) if settings.api_key_file is not None else settings.api_key
    refuse_live_mode(settings.base_url, contract, allowed=settings.allow_live_mode, creates=settings.create_session)
    assert settings.seed is not None
    assert settings.max_examples is not None
    refuse_unreachable_pace(settings, fewest_requests(settings.max_examples, len(settings.checkout_ids)))
    return Plan(
        settings=settings,
        contract=contract,
        api_key=api_key,
        seed=settings.seed,
        max_examples=settings.max_examples,
        checkout_ids=settings.checkout_ids,
        product_id=settings.product_id,
        concurrency=settings.concurrency,
    )


def _replay_plan(settings: Settings, contract: Contract) -> Plan:
    # Imported here: vcrpy is needed only with cassettes.
    from conformance.cassettes import read_recording  # noqa: PLC0415

    recording = read_recording(settings.cassette_dir)
    concurrency = None if settings.concurrency == DEFAULT_CONCURRENCY else settings.concurrency
    for flag, given, recorded in (
        ("--seed", settings.seed, recording.seed),
        ("--max-examples", settings.max_examples, recording.max_examples),
        ("--concurrency", concurrency, recording.concurrency),
    ):
        if given is not None and given != recorded:
            raise BadInputError(
                f"{flag} {given} differs from the recording's {recorded}, and a replay repeats the recording",
                f"drop {flag}, or re-record with it",
            )
    return Plan(
        settings=settings,
        contract=contract,
        api_key=None,
        seed=recording.seed,
        max_examples=recording.max_examples,
        checkout_ids=recording.checkout_ids,
        recording=recording,
        product_id=recording.product_id,
        concurrency=recording.concurrency,
    )


def claim_reports(report_dir: Path, sarif: Path | None, *, remove: bool = True) -> None:
    """Prove every report path writable, then remove the reports an earlier run left there; raise BadInputError.

    The first act of a run, before any other refusal where the front end can (the report paths are checked
    on their own, from the flags): from here on no report claims a verdict this run did not reach, whether
    the run is refused, stopped, killed with -9 or crashes. Only the run's own report files are removed.
    """
    own = {(report_dir / name).resolve(): name for name in REPORT_FILES}
    for path, name in own.items():
        if path.is_dir():
            raise BadInputError(
                f"{report_dir / name} is a folder, where the run writes its {name}",
                "remove that folder, or pass another --report-dir",
            )
    if sarif is not None:
        check_output_file(sarif, "--sarif", folder_to_be=report_dir)
        if sarif.resolve() in own:
            raise BadInputError(
                f"--sarif {sarif} is where the run writes its {own[sarif.resolve()]}",
                f"pass another file, e.g. {report_dir / 'findings.sarif'}",
            )
    prove_writable_folder(report_dir, "--report-dir")
    if sarif is not None:
        prove_writable_file(sarif, "--sarif", folder_to_be=report_dir)
    if not remove:
        return
    for path in (*(report_dir / name for name in REPORT_FILES), *([sarif] if sarif is not None else [])):
        remove_file(path, "--sarif" if path == sarif else "--report-dir")


def run(settings: Settings, say: Callable[[str], None] = print, command: str = "") -> Outcome:
    """Prepare and execute a run."""
    return execute(prepare(settings), say, command)


def execute(plan: Plan, say: Callable[[str], None] = print, command: str = "") -> Outcome:
    """Judge the target of a prepared run; every report is written before this returns.

    `command` is how the run was started, for the record (the key is redacted from it like from everything).
    """
    return _Run(plan, say, command).execute()


class _Run:
    """The state of one run while it executes."""

    def __init__(self, plan: Plan, say: Callable[[str], None], command: str) -> None:
        self.plan = plan
        self.command = command
        self.settings = plan.settings
        self.say = say
        self.ledger = Ledger(
            contract=plan.contract, strict=self.settings.strict, excluded=frozenset(self.settings.excluded_checks)
        )
        self.redact = Redactor([plan.api_key or ""])
        self.harness_errors: list[str] = []
        self.interrupted = False
        self.requests_sent = 0
        self.target = ""
        self.checkout_ids = plan.checkout_ids
        self.product_id = plan.product_id
        # The key's prefix of public words, which a recording keeps (credentials.key_prefix).
        self.key_prefix = ""
        # The known sessions judged: the ids given, and the one the gate created, if it created one.
        self.judged_ids = plan.checkout_ids
        self.staging: Path | None = None
        rate = plan.settings.rate_per_second
        self.progress = _Progress(say, f", paced at {rate * 60:g} requests a minute" if rate else "")
        self.stopped_early: str | None = None
        self.stop = _Stop()

    def execute(self) -> Outcome:
        with ctrl_c_sticks() as self.stop, self._target() as (base_url, api_key):
            credentials = Credentials(api_key)
            # The key and its near copies, which the probes send: secrets alike.
            for secret in credentials.secrets():
                self.redact.add(secret)
            schema = schemathesis_schema(self.plan.contract, seed=self.plan.seed, max_examples=self.plan.max_examples)
            operation = schema["/checkouts/{id}"]["GET"]
            for line in render_header(
                target=self.target, spec=str(self.settings.spec), spec_version=self.plan.contract.version,
                seed=self.plan.seed, max_examples=self.plan.max_examples, checkout_ids=self.checkout_ids,
                product_id=self.product_id,
            ):  # fmt: skip
                self.say(line)
            gate = self._gate(base_url, credentials, operation)
            try:
                self._play_all(gate, operation, credentials)
            except KeyboardInterrupt:
                self.interrupted = True
            except RunStopped as stop:
                self.ledger.cannot_judge = self.ledger.cannot_judge or str(stop.error)
            except TargetSilent as silent:
                # The last silent exchange is judged like any other: it is the failure that ends the run.
                gate.observe(silent.exchange)
                self.stopped_early = silent.reason
            finally:
                self.requests_sent = gate.transport.requests_sent
                self.judged_ids = gate.checkout_ids
                gate.transport.close()
        return self._finish()

    @contextmanager
    def _target(self) -> Iterator[tuple[str, str]]:
        """(base URL, key) of the target: the bundled sandbox started here, a remote server, or a replay."""
        settings = self.settings
        if settings.mode is Mode.REPLAY:
            from conformance.cassettes import RECORDED_ORIGIN  # noqa: PLC0415 - only with cassettes

            assert self.plan.recording is not None
            recorded = self.plan.recording.target
            # Requests are answered by the cassettes (and the network is blocked); they name the recorded
            # target, so that every URL and curl line of the reports points where the answers came from.
            base = recorded if recorded.startswith(("http://", "https://")) else RECORDED_ORIGIN
            self.target = f"replay of {settings.cassette_dir}/, recorded from {recorded}"
            # Of the recorded key's shape: the near misses made from its structure are the recorded ones.
            yield base, Credentials.replayed(self.plan.recording.key_prefix).key
            return
        if settings.base_url is not None:
            assert self.plan.api_key is not None
            self.target = settings.base_url
            yield settings.base_url, self.plan.api_key
            return
        from conformance.sandbox import Sandbox  # noqa: PLC0415

        with Sandbox() as sandbox:
            self.target = f"bundled sandbox at {sandbox.base_url}"
            self.checkout_ids = self.checkout_ids or tuple(sandbox.checkout_ids)
            if settings.create_session and self.product_id is None:
                self.product_id = sandbox.product_ids[0]
            yield sandbox.base_url, sandbox.api_key

    def _gate(self, base_url: str, credentials: Credentials, operation: Any) -> Gate:  # noqa: ANN401 - an APIOperation
        from conformance.transport import Transport  # noqa: PLC0415 - imported with the engine anyway

        settings = self.settings
        transport = Transport(
            base_url,
            credentials,
            timeout=settings.request_timeout,
            rate_per_second=settings.rate_per_second,
            max_time=settings.max_time,
            on_wait=self.progress.waiting,
        )
        context = Context(contract=self.plan.contract, known_ids=frozenset(self.checkout_ids))
        checks = [check for check_id, check in REGISTRY.items() if check_id not in settings.excluded_checks]
        return Gate(
            transport, context, self.ledger, self.checkout_ids, self.plan.seed, checks=checks,
            oracle=operation if settings.oracle else None, concurrency=self.plan.concurrency,
            overlap=settings.mode is not Mode.REPLAY, observed=self.progress.observed, product_id=self.product_id,
            sources=settings.sources,
        )  # fmt: skip

    def _play_all(self, gate: Gate, operation: Any, credentials: Credentials) -> None:  # noqa: ANN401 - an APIOperation
        determinism.fix_generated_data()
        self.key_prefix = credentials.prefix
        with self._cassettes(gate.transport.base_url, credentials.secrets()) as cassette:
            for scenario in SCENARIOS:
                if self.ledger.cannot_judge is not None and scenario in ("created_session", "known_sessions"):
                    # The preflight (or the create) said the target cannot be judged: every later request
                    # would fail alike.
                    return
                self.progress.scenario = scenario.replace("_", " ")
                with cassette(scenario):
                    self._play(scenario, gate, operation)

    def _play(self, scenario: str, gate: Gate, operation: Any) -> None:  # noqa: ANN401 - an APIOperation
        try:
            if scenario == "generated_ids":
                self._generated(gate, operation)
            else:
                getattr(gate, scenario)()
        except TargetError as error:
            self.ledger.cannot_judge = self.ledger.cannot_judge or str(error)
        except _Crash as crash:
            self._gate_failed(scenario, crash.error)
        except Exception as error:  # noqa: BLE001 - the gate's own failure is reported, never read as a pass
            self._gate_failed(scenario, error)

    def _gate_failed(self, scenario: str, error: Exception) -> None:
        if _while_interrupted(error):
            # Ctrl-C landed inside a library (Hypothesis, vcrpy), whose own clean-up then failed on the state it
            # left: that error is the interruption's, and the run ends as interrupted (130), not as a broken gate.
            raise KeyboardInterrupt from error
        missing = _missing_recording(error, self.settings.cassette_dir)
        if missing is not None:
            self.ledger.cannot_judge = self.ledger.cannot_judge or missing
            return
        lines = str(error).strip().splitlines()
        cause = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        self.harness_errors.append(self.redact(f"{scenario}: {cause}"))

    def _generated(self, gate: Gate, operation: Any) -> None:  # noqa: ANN401 - an APIOperation
        if self.settings.mode is Mode.REPLAY:
            from conformance.cassettes import recorded_exchanges  # noqa: PLC0415 - only with cassettes

            # Generated requests depend on the spec; judging them as recorded lets a changed spec be
            # gated on the same traffic.
            gate.recorded(recorded_exchanges(self.settings.cassette_dir / "generated_ids.yaml"))
            return
        from conformance.generation import generated_requests  # noqa: PLC0415

        generated_requests(operation, _abort_on_crash(gate.generated_case))()

    @contextmanager
    def _cassettes(self, base_url: str, secrets: list[str]) -> Iterator[Callable[[str], Any]]:
        """A context per scenario: its cassette when recording or replaying, nothing on a live run."""
        mode = self.settings.mode
        if mode is Mode.LIVE:
            yield lambda _: nullcontext()
            return
        from pytest_recording.network import blocking_context  # noqa: PLC0415 - only with cassettes

        from conformance.cassettes import vcr_for  # noqa: PLC0415

        if mode is Mode.RECORD:
            self.settings.cassette_dir.mkdir(parents=True, exist_ok=True)
            self.staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.settings.cassette_dir))
            folder = self.staging
        else:
            folder = self.settings.cassette_dir
        recorder = vcr_for(base_url, secrets, record_mode="all" if mode is Mode.RECORD else "none")
        with ExitStack() as stack:
            if mode is Mode.REPLAY:
                # Nothing may reach the network on a replay, whatever vcrpy does not intercept.
                stack.enter_context(blocking_context())
            yield lambda scenario: recorder.use_cassette(str(folder / f"{scenario}.yaml"))

    def _finish(self) -> Outcome:
        ledger = self.ledger
        ledger.finished = time.time()
        status, reason = ledger.run_status(
            interrupted=self.interrupted,
            stopped_by=None if self.stop.signum == signal.SIGINT else signal.Signals(self.stop.signum).name,
            gate_failed=self.harness_errors[0] if self.harness_errors else None,
            stopped_early=self.stopped_early,
        )
        code = STOPPED_BY[self.stop.signum] if self.interrupted else EXIT_CODES[status]
        settings = self.settings
        complete = not self.interrupted and ledger.cannot_judge is None and not self.harness_errors
        # The recording first: the reports then say whether it could be kept.
        not_written = self._publish_recording(complete=complete)
        record = self._record(status, code, reason)
        try:
            if not_written is not None:
                raise not_written
            write_reports(record, settings.report_dir, self.redact, sarif=settings.sarif)
        except OutputNotWrittenError as error:
            # The verdict stands and is printed; the exit code and every report that can still be written
            # say that an output is missing, so that none of them passes for a complete run.
            code = ExitCode(worse(code, ExitCode.OUTPUT_NOT_WRITTEN))
            reason = f"{reason}; but {error}: make it writable (or free space) and run again"
            record = self._record(status, code, reason)
            write_what_can_be_written(record, settings.report_dir, self.redact, sarif=settings.sarif)
        for line in render_closing(record, settings.report_dir, sarif=settings.sarif):
            self.say(self.redact(line))
        return Outcome(exit_code=code, record=record, ledger=ledger)

    def _record(self, status: RunStatus, code: ExitCode, reason: str) -> RunRecord:
        settings, ledger = self.settings, self.ledger
        record = build_record(
            ledger,
            facts={
                "target": self.target,
                "mode": str(settings.mode),
                "command": self.redact(self.command),
                "sandbox": settings.uses_sandbox,
                "spec": str(settings.spec),
                "seed": self.plan.seed,
                "max_examples": self.plan.max_examples,
                "request_timeout_seconds": settings.request_timeout,
                "checkout_ids": self.judged_ids,
            },
            result=Result(status=str(status), exit_code=int(code), reason=self.redact(reason)),
            strict=settings.strict,
            replaying=settings.mode is Mode.REPLAY,
            requests_sent=0 if settings.mode is Mode.REPLAY else self.requests_sent,
            summary_path=str(settings.report_dir / "summary.json"),
        )
        shown: RunRecord = redacted(record, self.redact)
        return shown

    def _publish_recording(self, *, complete: bool) -> OutputNotWrittenError | None:
        """Move a complete recording over the cassettes; throw away an incomplete one. Say what could not be."""
        if self.staging is None:
            return None
        from conformance.cassettes import new_recording, publish  # noqa: PLC0415 - only with cassettes

        if not complete:
            shutil.rmtree(self.staging, ignore_errors=True)
            return None
        settings = self.settings
        recording = new_recording(
            # Not the sandbox's port: it changes on every start, and would make every re-record a diff.
            target=settings.base_url or "bundled sandbox",
            spec_version=self.plan.contract.version,
            seed=self.plan.seed,
            max_examples=self.plan.max_examples,
            checkout_ids=self.checkout_ids,
            product_id=self.product_id,
            concurrency=self.plan.concurrency,
            key_prefix=self.key_prefix,
        )
        try:
            publish(self.staging, settings.cassette_dir, recording)
        except OSError as error:
            shutil.rmtree(self.staging, ignore_errors=True)
            return OutputNotWrittenError(f"the recording in --cassette-dir {settings.cassette_dir}", error)
        return None


@dataclass
class _Stop:
    """The signal that stopped a run; Ctrl-C unless SIGTERM or SIGHUP came first."""

    signum: int = signal.SIGINT


# Stopped like Ctrl-C: what CI runners send a step they cancel or time out (SIGTERM), and a closed terminal.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def ctrl_c_sticks() -> Iterator[_Stop]:
    """Within a run, Ctrl-C also stops every later request, even where a library swallowed its KeyboardInterrupt.

    SIGTERM and SIGHUP stop the run the same way (StoppedBySignal is a KeyboardInterrupt), and the run ends
    with 128 + the signal. Only where Python's own handling is in place (the main thread, SIGINT's default
    handler, SIGTERM and SIGHUP not ignored nor caught): a caller's own handling is left alone.
    """
    STOP_REQUESTED.clear()
    stop = _Stop()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_stop(signum: int, frame: FrameType | None) -> None:
        if not STOP_REQUESTED.is_set():
            stop.signum = signum
        STOP_REQUESTED.set()
        if signum == signal.SIGINT:
            signal.default_int_handler(signum, frame)
        raise StoppedBySignal(signum)

    previous = {
        signum: handler
        for signum, handler in ((number, signal.getsignal(number)) for number in (signal.SIGINT, *_STOP_SIGNALS))
        if handler is (signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL)
    }
    if not previous:
        yield stop
        return
    previous_hook = sys.unraisablehook

    def quiet_ctrl_c(unraisable: Any) -> None:  # noqa: ANN401 - sys.UnraisableHookArgs, private to typeshed
        # Ctrl-C that lands in a garbage-collector callback (Hypothesis has one) cannot be raised from it:
        # Python would print it as an ignored exception, with a traceback. The next request stops the run.
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and STOP_REQUESTED.is_set():
            return
        previous_hook(unraisable)

    for signum in previous:
        signal.signal(signum, on_stop)
    sys.unraisablehook = quiet_ctrl_c
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook


class _Progress:
    """Says how a long run is going, every few seconds, and when the rate limit or Retry-After holds it."""

    EVERY_SECONDS = 5.0
    # Waits shorter than this are not worth a line.
    NOTICEABLE_WAIT_SECONDS = 2.0

    def __init__(self, say: Callable[[str], None], pace: str = "") -> None:
        self.say = say
        self.pace = pace
        self.scenario = "start"
        self.exchanges = 0
        self.failures = 0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def observed(self, exchange: object, verdicts: list[Any]) -> None:
        """Count a judged exchange; speak when the last line is a few seconds old."""
        del exchange
        with self._lock:
            self.exchanges += 1
            self.failures += sum(1 for verdict in verdicts if str(verdict.outcome) == "failed")
            now = time.monotonic()
            if now - self._last < self.EVERY_SECONDS:
                return
            self._last = now
        self.say(
            f"progress: {self.scenario}: {self.exchanges} exchanges judged, {self.failures} failures so far{self.pace}"
        )

    def waiting(self, seconds: float, why: str) -> None:
        """Say that the run holds, and why, when the wait is long enough to notice."""
        if seconds >= self.NOTICEABLE_WAIT_SECONDS:
            self.say(f"waiting {seconds:.1f} s for {why} ({self.scenario}, {self.exchanges} exchanges so far)")


class _Crash(BaseException):
    """The gate's own failure inside generated requests: a BaseException, so Hypothesis stops at once.

    Hypothesis would otherwise shrink the failing example, sending more requests to find a smaller one.
    """

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _abort_on_crash(send: Callable[[Any], None]) -> Callable[[Any], None]:
    def guarded(case: Any) -> None:  # noqa: ANN401 - a schemathesis.Case
        try:
            send(case)
        except GateError:
            raise
        except Exception as error:
            raise _Crash(error) from error

    return guarded


def _while_interrupted(error: BaseException) -> bool:
    """Whether an error was raised while a KeyboardInterrupt was being handled, however deep."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__
    return False


def _missing_recording(error: Exception, cassette_dir: Path) -> str | None:
    """Why a replayed request could not be judged, when vcrpy had no recording for it."""
    from vcr.errors import CannotOverwriteExistingCassetteException  # noqa: PLC0415 - only on replay

    if not isinstance(error, CannotOverwriteExistingCassetteException):
        return None
    from urllib.parse import urlsplit  # noqa: PLC0415

    request = error.failed_request
    cassette = error.cassette.path
    name = cassette.rsplit("/", 1)[-1] if isinstance(cassette, str) else str(cassette)
    return (
        f"{request.method} {urlsplit(request.uri).path} has no recording in {cassette_dir}/{name}; "
        "re-record with 'conformance run --record' against the target (see cassettes/README.md)"
    )
