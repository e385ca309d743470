"""Proves the gate can fail: runs the whole suite against every sandbox variant and scores it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from conformance.errors import ExitCode
from conformance.files import write_atomically
from conformance.model import Credential, Purpose
from conformance.sandbox import Sandbox, seeded_sessions
from conformance.sandbox.variants import VARIANTS, Variant
from conformance.settings import DEFAULT_REQUEST_TIMEOUT, ENV_API_KEY
from conformance.spec import Contract, load_contract
from conformance.transport import Transport

if TYPE_CHECKING:
    from pathlib import Path

# The oracle's second reads judge bodies, not delivery (the judged runs use the default flags).
ORACLE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class VariantResult:
    """How the suite judged one variant, and whether that is what a correct gate does."""

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


def run_selftest(
    spec: Path, report_dir: Path, jobs: int, max_examples: int, variants: list[str] | None = None
) -> dict[str, Any]:
    """Judge every variant; return the selftest record (also written to report_dir/selftest.json)."""
    contract = load_contract(spec)
    chosen = [VARIANTS[name] for name in variants] if variants else list(VARIANTS.values())
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(lambda variant: _judge(variant, contract, spec, report_dir, max_examples), chosen))
    record = {
        "format": "dodo-conformance/selftest",
        "format_version": 1,
        "max_examples": max_examples,
        "request_timeout_seconds": DEFAULT_REQUEST_TIMEOUT,
        "duration_seconds": round(time.perf_counter() - started, 3),
        **score(results),
        "sdk_oracle": _sdk_available(),
        "variants": [asdict(result) for result in results],
    }
    write_atomically(report_dir / "selftest.json", json.dumps(record, indent=2) + "\n")
    return record


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


def _judge(variant: Variant, contract: Contract, spec: Path, report_dir: Path, max_examples: int) -> VariantResult:
    key = f"sk_selftest_{secrets.token_hex(12)}"
    out = report_dir / "selftest" / variant.name
    with Sandbox(api=variant.api(key, seeded_sessions())) as sandbox:
        ids = [arg for checkout_id in sandbox.checkout_ids for arg in ("--checkout-id", checkout_id)]
        environment = {name: value for name, value in os.environ.items() if not name.startswith("CONFORMANCE_")}
        environment[ENV_API_KEY] = key
        started = time.perf_counter()
        completed = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [
                sys.executable, "-m", "conformance", "run", "--base-url", sandbox.base_url, "--spec", str(spec),
                "--report-dir", str(out), "--max-examples", str(max_examples), *ids,
            ],
            # Default flags otherwise: each variant must be what its class says as a user would run it.
            env=environment, capture_output=True, text=True, check=False,
        )  # fmt: skip
        duration = time.perf_counter() - started
        disagreements = _oracle_disagreements(sandbox, key, contract)
    summary = _read_summary(out)
    checks = summary.get("checks", [])
    return VariantResult(
        name=variant.name,
        description=variant.description,
        expected="passes" if variant.conformant else "fails",
        exit_code=completed.returncode,
        status=summary.get("result", {}).get("status", f"no summary ({completed.stderr.strip()[-200:]})"),
        caught_by=[item["id"] for item in checks if item["status"] == "failed"],
        warned=[item["id"] for item in checks if item["status"] == "warned"],
        first_detection_seconds=summary.get("run", {}).get("first_failure_after_seconds"),
        duration_seconds=round(duration, 3),
        as_expected=judged_as_a_correct_gate_would(conformant=variant.conformant, exit_code=completed.returncode),
        oracle_disagreements=disagreements,
    )


def _read_summary(report_dir: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return loaded


def _sdk_available() -> bool:
    try:
        import dodopayments  # noqa: F401, PLC0415 - an optional oracle
    except ImportError:
        return False
    return True


def _oracle_disagreements(sandbox: Sandbox, key: str, contract: Contract) -> list[str]:
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


def render(record: dict[str, Any]) -> list[str]:
    """The selftest table and its score, as terminal lines."""
    rows = [("VARIANT", "EXPECTED", "RESULT", "OK", "CAUGHT BY", "FIRST (s)")]
    rows += [
        (
            item["name"],
            item["expected"],
            f"{item['status']} ({item['exit_code']})",
            "yes" if item["as_expected"] else "NO",
            ", ".join(item["caught_by"][:2]) + (" ..." if len(item["caught_by"]) > 2 else "") or "-",
            f"{item['first_detection_seconds']:.2f}" if item["first_detection_seconds"] is not None else "-",
        )
        for item in record["variants"]
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    kill_rate = record["kill_rate"]
    lines += [
        "",
        f"kill rate: {record['caught']}/{record['faults']} faults caught"
        + (f" ({kill_rate:.0%})" if kill_rate is not None else ""),
        f"false alarms: {record['false_alarms']}/{record['conformant']} conformant variants failed",
    ]
    lines += [f"oracle: {item['name']}: {text}" for item in record["variants"] for text in item["oracle_disagreements"]]
    if not record["sdk_oracle"]:
        lines.append("oracle: the dodopayments SDK is not installed, so no body was compared with it")
    return lines
