"""The conformance suite for GET /checkouts/{id}: scenarios first, then one verdict per check.

The scenario tests send requests and record what every check concludes; they fail only when
the gate itself breaks. The verdict tests, one per registered check, pass or fail on the ledger.
"""

from typing import Any

import pytest
import schemathesis

from conformance.cassettes import recorded_exchanges
from conformance.gate import Gate
from conformance.plugin import Run, preflight, verdict

schema = schemathesis.pytest.from_fixture("conformance_schema")


def test_target_can_be_judged(conformance_run: Run, conformance_gate: Gate) -> None:
    preflight(conformance_run, conformance_gate)


def test_known_sessions_are_read_twice(conformance_gate: Gate) -> None:
    conformance_gate.known_sessions()


def test_requests_without_a_valid_key(conformance_gate: Gate) -> None:
    conformance_gate.credentials()


def test_invented_ids(conformance_gate: Gate) -> None:
    conformance_gate.unknown_ids()


def test_edge_case_ids(conformance_gate: Gate) -> None:
    conformance_gate.edge_ids()


@pytest.mark.conformance_live_only
@schema.parametrize()
def test_generated_ids(case: schemathesis.Case[Any], conformance_gate: Gate) -> None:
    conformance_gate.generated_case(case)


@pytest.mark.conformance_replay_only
def test_recorded_generated_ids(conformance_run: Run, conformance_gate: Gate) -> None:
    # Generated requests depend on the spec; judging them as recorded lets a changed spec be
    # gated on the same traffic.
    conformance_gate.recorded(recorded_exchanges(conformance_run.cassette_dir / "test_generated_ids.yaml"))


@pytest.mark.usefixtures("conformance_gate")
@pytest.mark.conformance_verdict
def test_check(check_id: str, conformance_run: Run) -> None:
    verdict(conformance_run, check_id)
