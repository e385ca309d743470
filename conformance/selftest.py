"""Proves the gate can fail: runs the whole engine against every sandbox variant and scores it.

Each variant is judged in a worker process of its own (a fresh Hypothesis, a fresh sandbox), by the
same engine `conformance run` drives, with the default flags a user would use.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import secrets
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from conformance.errors import ExitCode
from conformance.files import write_atomically
from conformance.model import Credential, Purpose
from conformance.sandbox import Sandbox, seeded_sessions
from conformance.sandbox.variants import VARIANTS, Variant
from conformance.settings import DEFAULT_REQUEST_TIMEOUT, Flags, build_settings
from conformance.spec import Contract, load_contract
from conformance.transport import Transport

if TYPE_CHECKING:
    from collections.abc import Callable
    from multiprocessing.connection import Connection
    from pathlib import Path

# The SDK oracle's second reads judge bodies, not delivery (the judged runs use the default flags).
ORACLE_TIMEOUT_SECONDS = 2.0
# Loaded once in the server the workers fork from, so that a variant costs its run, not the imports.
PRELOADED = ["conformance.engine", "conformance.oracles", "conformance.generation", "conformance.cassettes"]


@dataclass(frozen=True)
class VariantResult:
    """How the engine judged one variant, and whether that is what a correct gate does."""

    name: str
    description: str
    expected: str  # "fails" or "passes"
    exit_code: int
    status: str
    caught_by: list[str]
    warned: list[str]
    first_detection_seconds: float | None
    duration_seconds: float
    as_expected: bool
    # Bodies our schema check and the official SDK (strict mode) judge differently.
    oracle_disagreements: list[str]
    # Exchanges Schemathesis' own checks judged otherwise than the gate's check for the same requirement.
    schemathesis_disagreements: list[str]
    requests_sent: int = 0


def _start_worker(selftest_alive: Connection) -> None:
    """In a worker: leave Ctrl-C to the selftest's process, and end when that process ends, however it ends.

    Ctrl-C is ignored because the terminal sends it to the whole group: a KeyboardInterrupt in a worker between
    two variants, or in a garbage-collector callback of Hypothesis's after a run, printed a traceback beside the
    selftest's one line. A selftest killed (SIGKILL, or SIGTERM, which Python's default ends without cleanup)
    cannot stop its pool, and the workers, children of the fork server, would judge on with no one to report to.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_end_with_the_selftest, args=(selftest_alive,), name="selftest-alive", daemon=True).start()


def _end_with_the_selftest(selftest_alive: Connection) -> None:
    """Wait for the selftest's end of the pipe to close, then end this worker at once."""
    # Only the selftest's process holds the writing end (pipes are not inherited across exec, and the fork
    # server closes what it passes on), so end of file means that process has ended; nothing is ever sent.
    with contextlib.suppress(EOFError, OSError):
        selftest_alive.recv_bytes()
    os._exit(128 + signal.SIGTERM)


def run_selftest(  # noqa: PLR0913, PLR0917 - the selftest's knobs
    spec: Path,
    report_dir: Path,
    jobs: int,
    max_examples: int,
    variants: list[str] | None = None,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Judge every variant; return the selftest record (also written to report_dir/selftest.json)."""
    chosen = [VARIANTS[name] for name in variants] if variants else list(VARIANTS.values())
    started = time.perf_counter()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOADED)
    by_name: dict[str, VariantResult] = {}
    # The variants that hold replies until the timeout go first, so that the others fill the wait.
    order = sorted(chosen, key=lambda variant: not variant.api.holds_replies)
    # Held open by this process alone for as long as it runs: each worker ends when it closes (_start_worker).
    selftest_alive, alive_while_open = context.Pipe(duplex=False)
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_start_worker, initargs=(selftest_alive,)
    )
    try:
        pending = {pool.submit(_judge, variant, spec, report_dir, max_examples): variant for variant in order}
        for future in as_completed(pending):
            result = future.result()
            by_name[result.name] = result
            verdict = "as expected" if result.as_expected else "NOT as expected"
            progress(
                f"[{len(by_name):>2}/{len(chosen)}] {result.name}: {result.status} (exit {result.exit_code}), "
                f"{verdict}, {result.duration_seconds:.1f} s"
            )
        pool.shutdown(wait=True)
    except BaseException:
        # Ctrl-C, or a variant that crashed: stop now rather than wait for every queued variant to finish.
        # Each worker writes its reports atomically, so ending one mid-run leaves nothing half-written.
        # (Python 3.14 has pool.terminate_workers() for this; 3.11 has only the pool's own table.)
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        # After the shutdown, when every worker has ended: closing it earlier would end a worker mid-variant.
        selftest_alive.close()
        alive_while_open.close()
    results = [by_name[variant.name] for variant in chosen]
    record = {
        "format": "dodo-conformance/selftest",
        "format_version": 2,
        "max_examples": max_examples,
        "request_timeout_seconds": DEFAULT_REQUEST_TIMEOUT,
        "duration_seconds": round(time.perf_counter() - started, 3),
        **score(results),
        "sdk_oracle": _sdk_available(),
        "variants": [asdict(result) for result in results],
    }
    write_atomically(report_dir / "selftest.json", json.dumps(record, indent=2) + "\n")
    return record


def _caught_by(check_ids: list[str]) -> str:
    """The first check that caught a fault, and how many more did."""
    if not check_ids:
        return "-"
    return check_ids[0] + (f" +{len(check_ids) - 1}" if len(check_ids) > 1 else "")


def _fitted(line: str) -> str:
    # The last column (the checks) gives way: the rest of a row is what the reader compares.
    return line if len(line) <= TABLE_WIDTH else line[: TABLE_WIDTH - 1] + "…"


def judged_as_a_correct_gate_would(*, conformant: bool, exit_code: int) -> bool:
    """A fault counts as caught only when the run fails (exit 1), never when it could not judge (exit 3)."""
    return exit_code == (ExitCode.CONFORMS if conformant else ExitCode.NON_CONFORMANT)


def score(results: list[VariantResult]) -> dict[str, Any]:
    """The kill rate over the faults and the false alarms over the conformant variants."""
    faults = [result for result in results if result.expected == "fails"]
    conformant = [result for result in results if result.expected == "passes"]
    caught = sum(result.as_expected for result in faults)
    return {
        "faults": len(faults),
        "caught": caught,
        "kill_rate": round(caught / len(faults), 4) if faults else None,
        "conformant": len(conformant),
        "false_alarms": sum(not result.as_expected for result in conformant),
    }


def passed(record: dict[str, Any]) -> bool:
    """Whether the selftest passes: every fault caught and no false alarm."""
    return bool(record["caught"] == record["faults"] and record["false_alarms"] == 0)


def _judge(variant: Variant, spec: Path, report_dir: Path, max_examples: int) -> VariantResult:
    """Judge one variant with the engine, in this (worker) process."""
    from conformance import engine  # noqa: PLC0415 - preloaded in the fork server

    key = f"sk_test_{secrets.token_hex(12)}"
    contract = load_contract(spec)
    with Sandbox(api=variant.api(key, seeded_sessions())) as sandbox:
        settings = build_settings(
            Flags(
                base_url=sandbox.base_url, api_key=key, checkout_ids=tuple(sandbox.checkout_ids), spec=spec,
                report_dir=report_dir / "selftest" / variant.name, max_examples=max_examples, oracle=True,
                # As a user with a test-mode key would: the gate makes a session of its own too.
                create_session=True, product_id=sandbox.product_ids[0],
            ),
            environ={},
        )  # fmt: skip
        started = time.perf_counter()
        try:
            outcome = engine.run(settings, say=lambda _: None)
        except Exception as error:  # noqa: BLE001 - a variant that breaks the gate is scored, not fatal
            exit_code, status, record = ExitCode.CANNOT_JUDGE, f"the gate broke: {type(error).__name__}: {error}", None
        else:
            exit_code, status, record = outcome.exit_code, outcome.record.result.status, outcome.record
        duration = time.perf_counter() - started
        sdk_disagreements = _sdk_disagreements(sandbox, key, contract)
    checks = record.checks if record is not None else ()
    return VariantResult(
        name=variant.name,
        description=variant.description,
        expected="passes" if variant.conformant else "fails",
        exit_code=int(exit_code),
        status=status,
        caught_by=[item.id for item in checks if item.status == "failed"],
        warned=[item.id for item in checks if item.status == "warned"],
        first_detection_seconds=record.run.first_failure_after_seconds if record is not None else None,
        duration_seconds=round(duration, 3),
        as_expected=judged_as_a_correct_gate_would(conformant=variant.conformant, exit_code=exit_code),
        oracle_disagreements=sdk_disagreements,
        schemathesis_disagreements=list(record.oracle_disagreements) if record is not None else [],
        requests_sent=record.run.requests_sent if record is not None else 0,
    )


def _sdk_available() -> bool:
    try:
        import dodopayments  # noqa: F401, PLC0415 - an optional oracle
    except ImportError:
        return False
    return True


def _sdk_disagreements(sandbox: Sandbox, key: str, contract: Contract) -> list[str]:
    """Read every seeded session once more and compare our schema verdict with the SDK's strict parse."""
    if not _sdk_available():
        return []
    from conformance.oracles import sdk_accepts  # noqa: PLC0415 - needs the optional SDK

    transport = Transport(sandbox.base_url, key, timeout=ORACLE_TIMEOUT_SECONDS)
    disagreements = []
    try:
        for checkout_id in sandbox.checkout_ids:
            exchange = transport.get_checkout(checkout_id, Purpose.KNOWN, Credential.VALID)
            response = exchange.response
            if response is None or response.status != 200 or not response.parsed[0]:
                continue
            body = response.parsed[1]
            ours = contract.validator.is_valid(body)
            sdk = sdk_accepts(body)
            if ours != sdk:
                verdicts = (
                    f"the spec {'accepts' if ours else 'rejects'} it, the SDK {'accepts' if sdk else 'rejects'} it"
                )
                disagreements.append(f"{checkout_id}: {verdicts}: {response.excerpt()}")
    finally:
        transport.close()
    return disagreements


# The table fits a terminal (and a CI log) of this many columns; selftest.json has every check in full.
TABLE_WIDTH = 100


def render(record: dict[str, Any]) -> list[str]:
    """The selftest table and its score, as terminal lines."""
    rows = [("VARIANT", "EXPECTED", "RESULT", "OK", "FIRST s", "CAUGHT BY")]
    rows += [
        (
            item["name"],
            item["expected"],
            f"{item['status']} ({item['exit_code']})",
            "yes" if item["as_expected"] else "NO",
            f"{item['first_detection_seconds']:.2f}" if item["first_detection_seconds"] is not None else "-",
            _caught_by(item["caught_by"]),
        )
        for item in record["variants"]
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        _fitted("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()) for row in rows
    ]
    kill_rate = record["kill_rate"]
    lines += [
        "",
        f"kill rate: {record['caught']}/{record['faults']} faults caught"
        + (f" ({kill_rate:.0%})" if kill_rate is not None else ""),
        f"false alarms: {record['false_alarms']}/{record['conformant']} conformant variants failed",
    ]
    lines += [f"oracle: {item['name']}: {text}" for item in record["variants"] for text in item["oracle_disagreements"]]
    lines += [
        f"schemathesis oracle: {item['name']}: {text}"
        for item in record["variants"]
        for text in item["schemathesis_disagreements"][:3]
    ]
    if not record["sdk_oracle"]:
        lines.append("oracle: the dodopayments SDK is not installed, so no body was compared with it")
    return lines
