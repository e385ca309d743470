"""The conformance suite for GET /checkouts/{id}: one engine run, then one test per check reading its verdict."""

import warnings

import pytest

from conformance.engine import Outcome
from conformance.operations import REGISTRY


def test_the_target_could_be_judged(conformance_outcome: Outcome) -> None:
    result = conformance_outcome.record.result
    if result.exit_code not in (0, 1):
        pytest.fail(f"{result.status} (exit {result.exit_code}): {result.reason}", pytrace=False)


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_check(check_id: str, conformance_outcome: Outcome) -> None:
    check = next(item for item in conformance_outcome.record.checks if item.id == check_id)
    findings = "\n\n".join(
        f"{finding.request.method} {finding.request.url} ({finding.purpose}, {finding.credential})\n"
        f"Received: {finding.received}\nExpected: {finding.expected}\nReproduce: {finding.curl}"
        for finding in check.findings[:3]
    )
    message = (
        f"{check.id} ({check.level}): {check.requirement}\n"
        f"{check.failed} failed, {check.warned} warned, {check.passed} passed\n\n{findings}"
    )
    if check.status == "failed":
        pytest.fail(message, pytrace=False)
    if check.status == "warned":
        warnings.warn(message, UserWarning, stacklevel=1)
    elif check.status == "skipped":
        pytest.skip(f"{check.id}: {check.skip_reason}")
