"""One run, from settings to exit code. `conformance run` and the pytest plugin are two front ends on it.

prepare() reads what the run needs (the spec, and through target.choose a key file or a recording) and
refuses what must not be judged (a live-mode host), before any request. execute() reaches the target (the
bundled sandbox, a server, the same recorded, or a replay), plays the scenarios in order against it, feeds
the ledger, which decides the run, writes every report, lets the target keep its recording or not, and
returns the outcome.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conformance import determinism
from conformance.checks import Context
from conformance.credentials import Credentials
from conformance.errors import BadInputError, ExitCode, GateError, OutputNotWrittenError, RunStopped, TargetError
from conformance.facts import Facts, build_record
from conformance.files import check_output_file, prove_writable_file, prove_writable_folder, remove_file
from conformance.gate import Gate
from conformance.ledger import Ledger, RunVerdict
from conformance.operation import scenario_names, setup_names
from conformance.operations import DEFAULT
from conformance.progress import Progress
from conformance.record import Result, redacted
from conformance.redaction import Redactor
from conformance.report import REPORT_FILES, render_closing, render_header, write_reports, write_what_can_be_written
from conformance.signals import Stop, ctrl_c_sticks, while_interrupted
from conformance.spec import load_contract, schemathesis_schema
from conformance.target import choose
from conformance.transport import TargetSilent

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from conformance.operation import Operation
    from conformance.record import RunRecord
    from conformance.settings import Settings
    from conformance.spec import Contract
    from conformance.target import Cassette, Target

# The scenarios of the default operation in the order they run; each is one cassette when recording.
SCENARIOS = scenario_names(DEFAULT)


@dataclass(frozen=True)
class Plan:
    """A run ready to start: settings with every gap filled, what was read for it, and its target."""

    settings: Settings
    contract: Contract
    # A live target (the bundled sandbox, a server), the same recorded, or a replay: target.choose.
    target: Target

    @property
    def api_key(self) -> str | None:
        """The key given for the target; None on a replay."""
        return self.target.api_key

    @property
    def seed(self) -> int:
        """The seed of generation; on a replay, the recording's."""
        return self.target.seed

    @property
    def max_examples(self) -> int:
        """Examples per Schemathesis phase; on a replay, the recording's."""
        return self.target.max_examples

    @property
    def checkout_ids(self) -> tuple[str, ...]:
        """The known sessions given; on a replay, the recording's."""
        return self.target.checkout_ids

    @property
    def product_id(self) -> str | None:
        """The product of the session to create (--create-session); None creates none, or lets the sandbox pick."""
        return self.target.product_id

    @property
    def concurrency(self) -> int:
        """Known sessions read at the same moment; on a replay, the recording's."""
        return self.target.concurrency


@dataclass
class Outcome:
    """How a run ended."""

    exit_code: ExitCode
    record: RunRecord
    ledger: Ledger = field(repr=False)


def prepare(settings: Settings, *, claimed: bool = False, operation: Operation = DEFAULT) -> Plan:
    """Read the spec, the key file and the recording, and refuse a live-mode target; raise GateError.

    The report paths are claimed first (claim_reports), unless the front end `claimed` them already from the
    same flags, before the refusals that settings make. `operation` is what the run judges (the checkout's).
    """
    if not claimed:
        claim_reports(settings.report_dir, settings.sarif)
    contract = load_contract(settings.spec, operation)
    return Plan(settings=settings, contract=contract, target=choose(settings, contract))


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


def run(
    settings: Settings, say: Callable[[str], None] = print, command: str = "", *, operation: Operation = DEFAULT
) -> Outcome:
    """Prepare and execute a run of one operation (the checkout's unless another is given)."""
    return execute(prepare(settings, operation=operation), say, command)


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
        # The known sessions judged: the ids given, and the one the gate created, if it created one.
        self.judged_ids = plan.checkout_ids
        rate = plan.settings.rate_per_second
        self.progress = Progress(say, f", paced at {rate * 60:g} requests a minute" if rate else "")
        self.stopped_early: str | None = None
        self.stop = Stop()

    def execute(self) -> Outcome:
        with ctrl_c_sticks() as self.stop, self._target() as (base_url, api_key):
            credentials = Credentials(api_key)
            # The key and its near copies, which the probes send: secrets alike.
            for secret in credentials.secrets():
                self.redact.add(secret)
            schema = schemathesis_schema(self.plan.contract, seed=self.plan.seed, max_examples=self.plan.max_examples)
            described = self.plan.contract.operation
            operation = schema[described.path][described.method]
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
        """(base URL, key) of the target, reached for the run: the bundled sandbox started here, a server, a replay."""
        with self.plan.target.reach() as reached:
            self.target = reached.name
            self.checkout_ids = reached.checkout_ids
            self.product_id = reached.product_id
            yield reached.base_url, reached.api_key

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
        checks = [
            check for check_id, check in self.plan.contract.checks.items() if check_id not in settings.excluded_checks
        ]
        return Gate(
            transport, context, self.ledger, self.checkout_ids, self.plan.seed, checks=checks,
            oracle=operation if settings.oracle else None, concurrency=self.plan.concurrency,
            overlap=self.plan.target.overlap, observed=self.progress.observed, product_id=self.product_id,
            sources=settings.sources,
        )  # fmt: skip

    def _play_all(self, gate: Gate, operation: Any, credentials: Credentials) -> None:  # noqa: ANN401 - an APIOperation
        determinism.fix_generated_data()
        with self._cassettes(gate.transport.base_url, credentials.secrets()) as cassette:
            described = self.plan.contract.operation
            for scenario in scenario_names(described):
                if self.ledger.cannot_judge is not None and scenario in setup_names(described):
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
                gate.play(scenario)
        except TargetError as error:
            self.ledger.cannot_judge = self.ledger.cannot_judge or str(error)
        except _Crash as crash:
            self._gate_failed(scenario, crash.error)
        except Exception as error:  # noqa: BLE001 - the gate's own failure is reported, never read as a pass
            self._gate_failed(scenario, error)

    def _gate_failed(self, scenario: str, error: Exception) -> None:
        if while_interrupted(error):
            # Ctrl-C landed inside a library (Hypothesis, vcrpy), whose own clean-up then failed on the state it
            # left: that error is the interruption's, and the run ends as interrupted (130), not as a broken gate.
            raise KeyboardInterrupt from error
        unjudgeable = self.plan.target.unjudgeable(error)
        if unjudgeable is not None:
            self.ledger.cannot_judge = self.ledger.cannot_judge or unjudgeable
            return
        lines = str(error).strip().splitlines()
        cause = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        self.harness_errors.append(self.redact(f"{scenario}: {cause}"))

    def _generated(self, gate: Gate, operation: Any) -> None:  # noqa: ANN401 - an APIOperation
        self.plan.target.play_generated(gate, operation, _abort_on_crash(gate.generated_case))

    def _cassettes(self, base_url: str, secrets: list[str]) -> AbstractContextManager[Cassette]:
        """A context per scenario: its cassette when recording or replaying, nothing on a live run."""
        return self.plan.target.cassettes(base_url, secrets)

    def _finish(self) -> Outcome:
        ledger, settings = self.ledger, self.settings
        ledger.finished = time.time()
        verdict = self._verdict()
        complete = not self.interrupted and ledger.cannot_judge is None and not self.harness_errors
        # The recording first: the reports then say whether it could be kept.
        not_written = self.plan.target.keep(complete=complete)
        record = self._record(verdict)
        written = None  # all of them
        try:
            if not_written is not None:
                raise not_written
            write_reports(record, settings.report_dir, self.redact, sarif=settings.sarif)
        except OutputNotWrittenError as error:
            # The verdict stands and is printed; the exit code and every report that can still be written
            # say that an output is missing, so that none of them passes for a complete run.
            verdict = self._verdict(not_written=str(error))
            record = self._record(verdict)
            written = write_what_can_be_written(record, settings.report_dir, self.redact, sarif=settings.sarif)
        for line in render_closing(record, settings.report_dir, sarif=settings.sarif, written=written):
            self.say(self.redact(line))
        return Outcome(exit_code=verdict.exit_code, record=record, ledger=ledger)

    def _verdict(self, not_written: str | None = None) -> RunVerdict:
        """The ledger's verdict, told how the run ended."""
        return self.ledger.run_status(
            interrupted=self.interrupted,
            signum=self.stop.signum,
            gate_failed=self.harness_errors[0] if self.harness_errors else None,
            stopped_early=self.stopped_early,
            not_written=not_written,
        )

    def _record(self, verdict: RunVerdict) -> RunRecord:
        settings, target = self.settings, self.plan.target
        facts = Facts(
            target=self.target,
            mode=target.mode,
            command=self.redact(self.command),
            sandbox=target.sandbox,
            spec=str(settings.spec),
            seed=self.plan.seed,
            max_examples=self.plan.max_examples,
            request_timeout_seconds=settings.request_timeout,
            checkout_ids=self.judged_ids,
            strict=settings.strict,
            requests_sent=target.requests_sent(self.requests_sent),
            summary_path=str(settings.report_dir / "summary.json"),
            exchanges_from=target.exchanges_from,
            target_stays=target.stays,
        )
        result = Result(
            status=str(verdict.status), exit_code=int(verdict.exit_code), reason=self.redact(verdict.reason)
        )
        shown: RunRecord = redacted(build_record(self.ledger, facts, result), self.redact)
        return shown


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
