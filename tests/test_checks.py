"""Every check, shown passing and failing on handmade exchanges described in tests/cases/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import make_exchange

from conformance.checks import CheckFailure, Context, Level, NotApplicable, Outcome, judge
from conformance.gate import invented_ids
from conformance.model import Exchange
from conformance.operations import REGISTRY
from conformance.sandbox.sessions import SEED, seeded_sessions

CASES_DIR = Path(__file__).parent / "cases"
# Outcomes of the check function itself; a SHOULD check's "failed" is reported as a warning.
OUTCOMES = ("passed", "failed", "not applicable")


def _load_cases() -> list[Any]:
    return [
        pytest.param(path.stem, case, id=f"{path.stem}: {case['description']}")
        for path in sorted(CASES_DIR.glob("*.json"))
        for case in json.loads(path.read_text(encoding="utf-8"))
    ]


def _run(check_id: str, context: Context, exchange: Exchange) -> tuple[str, CheckFailure | None]:
    try:
        REGISTRY[check_id].function(context, exchange)
    except NotApplicable:
        return "not applicable", None
    except CheckFailure as failure:
        return "failed", failure
    return "passed", None


@pytest.mark.parametrize(("check_id", "case"), _load_cases())
def test_case(check_id: str, case: dict[str, Any], context: Context) -> None:
    assert case["outcome"] in OUTCOMES
    outcome, failure = _run(check_id, context, make_exchange(**case["exchange"]))
    assert outcome == case["outcome"], failure
    if failure is not None:
        assert failure.received
        assert failure.expected


def test_every_check_has_cases_that_pass_and_fail() -> None:
    seen: dict[str, set[str]] = {}
    for path in CASES_DIR.glob("*.json"):
        seen[path.stem] = {case["outcome"] for case in json.loads(path.read_text(encoding="utf-8"))}
    assert set(seen) == set(REGISTRY), "case files and the registry disagree"
    for check_id, outcomes in seen.items():
        assert {"passed", "failed"} <= outcomes, check_id


def test_check_ids_are_the_function_names_with_a_dot() -> None:
    for check_id, check in REGISTRY.items():
        assert "." in check_id
        assert check.requirement.endswith(".")
        assert check.spec_ref
        assert check.function.__name__ == check_id.replace(".", "_", 1)


def test_a_should_failure_is_a_warning_and_a_must_failure_fails(context: Context) -> None:
    exchange = make_exchange(status=404, body_text="")
    verdicts = {verdict.check.id: verdict for verdict in judge(context, exchange)}
    assert REGISTRY["errors.json_body"].level is Level.SHOULD
    assert verdicts["errors.json_body"].outcome is Outcome.WARNED
    assert verdicts["session.known_found"].outcome is Outcome.FAILED


def test_findings_say_what_was_received_and_expected(context: Context) -> None:
    exchange = make_exchange(body={"id": "cks_known0000000000000000", "created_at": "2026-01-01T00:00:00"})
    _, failure = _run("response.schema", context, exchange)
    assert failure is not None
    assert "/created_at" in failure.received
    assert "date-time" in failure.received
    assert "GetCheckoutSessionsStatus" in failure.expected


def test_invented_ids_never_name_a_known_session() -> None:
    known = tuple(session.id for session in seeded_sessions())
    for seed in (SEED, 1, 2, 3):
        invented = invented_ids(seed, known)
        assert not set(invented) & set(known)
        assert invented == invented_ids(seed, known)
        # Were the ids the seed draws first all known sessions, others are drawn in their place.
        drawn_first = invented_ids(seed, ())
        assert not set(invented_ids(seed, drawn_first)) & set(drawn_first)
        assert len(invented_ids(seed, drawn_first)) == len(drawn_first)
