"""The conformance suite for GET /checkouts/{id}: scenarios first, then one verdict per check.

The scenario tests send requests and record what every check concludes; they fail only when
the gate itself breaks. The verdict tests, one per registered check, pass or fail on the ledger.
"""

from typing import Any

import pytest
import schemathesis

from conformance.gate import Gate
from conformance.plugin import Run, verdict

schema = schemathesis.pytest.from_fixture("conformance_schema")


def test_known_sessions_are_read_twice(conformance_gate: Gate) -> None:
    conformance_gate.known_sessions()


def test_requests_without_a_valid_key(conformance_gate: Gate) -> None:
    conformance_gate.credentials()


def test_invented_ids(conformance_gate: Gate) -> None:
    conformance_gate.unknown_ids()


def test_edge_case_ids(conformance_gate: Gate) -> None:
    conformance_gate.edge_ids()


@schema.parametrize()
def test_generated_ids(case: Any, conformance_gate: Gate) -> None:
    conformance_gate.generated_case(case)


@pytest.mark.usefixtures("conformance_gate")
@pytest.mark.conformance_verdict
def test_check(check_id: str, conformance_run: Run) -> None:
    verdict(conformance_run, check_id)
