"""The ledger decides a run from its verdicts: which outcome wins, what a check's status is, how findings group."""

from __future__ import annotations

import dataclasses
import signal
from typing import Any

import pytest
from support import KNOWN_ID, make_exchange

from conformance.checks import Context, judge
from conformance.errors import ExitCode, worse
from conformance.ledger import IDS_KEPT_PER_GROUP, CheckStatus, Ledger, RunStatus
from conformance.operations import REGISTRY
from conformance.spec import Contract

GOOD_BODY = {"id": KNOWN_ID, "created_at": "2026-01-01T00:00:00Z"}
ERROR_BODY = {"code": "NOT_FOUND", "message": "no such session"}


def _ledger(contract: Contract, context: Context, exchanges: list[dict[str, Any]], **options: Any) -> Ledger:
    ledger = Ledger(contract=contract, **options)
    for item in exchanges:
        exchange = make_exchange(**item)
        ledger.record(exchange, judge(context, exchange))
    return ledger


def test_a_run_with_a_200_and_no_failure_conforms(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}])
    status, reason, _ = ledger.run_status()
    assert status is RunStatus.CONFORMS
    assert reason.startswith("all ")
    assert reason.endswith("applicable MUST checks passed over 1 exchanges")


def test_a_run_where_no_must_check_applied_cannot_judge(contract: Contract, context: Context) -> None:
    # Only SHOULD checks ran (every MUST excluded): a 200 and no failure must not read as a pass.
    ledger = Ledger(contract=contract)
    exchange = make_exchange(body=GOOD_BODY)
    ledger.record(exchange, judge(context, exchange, [check for check in REGISTRY.values() if check.level == "SHOULD"]))
    status, reason, _ = ledger.run_status()
    assert status is RunStatus.CANNOT_JUDGE
    assert reason == "no MUST check applied to any exchange, so nothing was judged"


def test_without_any_200_the_run_cannot_judge_the_200_contract(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [{"status": 404, "purpose": "invented id", "checkout_id": "cks_x"}])
    status, reason, _ = ledger.run_status()
    assert status is RunStatus.CANNOT_JUDGE
    assert "200 contract was never exercised" in reason


def test_a_must_failure_makes_the_run_non_conformant_and_names_the_check(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}, {"status": 500, "body_text": "x"}])
    status, reason, _ = ledger.run_status()
    assert status is RunStatus.NON_CONFORMANT
    assert reason.startswith("2 check(s) failed: ")
    assert "response.no_server_error" in reason


def test_could_not_judge_wins_over_failures(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}, {"status": 500}])
    ledger.cannot_judge = "the target stopped"
    assert ledger.run_status() == (RunStatus.CANNOT_JUDGE, "the target stopped", ExitCode.CANNOT_JUDGE)


def test_an_unjudged_exchange_makes_an_otherwise_clean_run_could_not_judge(
    contract: Contract, context: Context
) -> None:
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}, {"status": 429, "rate_limited": True}])
    status, reason, _ = ledger.run_status()
    assert status is RunStatus.CANNOT_JUDGE
    assert reason.startswith("1 request(s) could not be judged: GET ")
    assert "kept answering 429 past the retry budget" in reason


def test_a_should_failure_warns_and_fails_only_when_strict(contract: Contract, context: Context) -> None:
    exchanges: list[dict[str, Any]] = [
        {"body": GOOD_BODY},
        {"status": 404, "purpose": "invented id", "checkout_id": "cks_x", "body_text": "no"},
    ]
    lenient = _ledger(contract, context, exchanges)
    assert lenient.check_status("errors.json_body") is CheckStatus.WARNED
    assert lenient.run_status()[0] is RunStatus.CONFORMS
    strict = _ledger(contract, context, exchanges, strict=True)
    assert strict.check_status("errors.json_body") is CheckStatus.FAILED
    assert strict.run_status()[0] is RunStatus.NON_CONFORMANT


def test_an_excluded_check_is_skipped_and_says_why(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}], excluded=frozenset({"response.schema"}))
    tally = ledger.tallies["response.schema"]
    assert tally.status(strict=False) is CheckStatus.SKIPPED
    assert tally.skip_reason(strict=False) == "excluded with --exclude-check"
    unused = ledger.tallies["session.stable"]
    assert unused.skip_reason(strict=False) == "no exchange in this run was one it judges"
    assert unused.skip_reason(strict=False, source="the recording") == "no exchange in the recording was one it judges"
    assert unused.skip_reason(strict=False, stopped=True) == ("the run stopped before this check judged anything")
    assert ledger.tallies["response.content_type"].skip_reason(strict=False) is None


def test_when_every_request_got_404_the_run_cannot_judge_and_blames_the_base_urls_path(
    contract: Contract, context: Context
) -> None:
    ledger = _ledger(
        contract, context, [{"status": 404}, {"status": 404, "purpose": "invented id", "checkout_id": "x"}]
    )
    status, reason, _ = ledger.run_status()
    assert status is RunStatus.CANNOT_JUDGE
    assert reason.startswith("no request was answered 200 and every known session was answered 404")
    assert reason.endswith(
        "every request was answered 404, known sessions included, so the base URL's path is the likely cause: "
        "give the server's root (e.g. https://test.dodopayments.com), without /checkouts"
    )
    mixed = _ledger(contract, context, [{"status": 404}, {"status": 200, "body": GOOD_BODY}])
    assert "base URL's path" not in mixed.run_status()[1]
    assert mixed.run_status()[0] is RunStatus.NON_CONFORMANT
    keyless_404 = _ledger(contract, context, [{"status": 404}, {"status": 404, "credential": "no key"}])
    assert "base URL's path is the likely cause" in keyless_404.run_status()[1]


def test_when_only_requests_with_the_key_got_404_the_run_cannot_judge_and_blames_the_ids(
    contract: Contract, context: Context
) -> None:
    # A server that refuses requests without the key has the operation at that path: the sessions are missing.
    ledger = _ledger(contract, context, [{"status": 404}, {"status": 401, "credential": "no key"}])
    status, reason, _ = ledger.run_status()
    assert status is RunStatus.CANNOT_JUDGE
    assert "base URL" not in reason
    assert reason.endswith(
        "every read of a known session with the key was answered 404, while other requests were answered otherwise, "
        "so the known ids are the likely cause: give ids of sessions that exist for this key "
        "(test and live mode have separate sessions)"
    )


INVENTED = {"purpose": "invented id", "checkout_id": "cks_x"}
CREATE = {"status": 201, "purpose": "session created by the gate", "checkout_id": "", "body": {"session_id": "cks_n"}}


@pytest.mark.parametrize(
    ("also", "status"),
    [
        ([], RunStatus.CANNOT_JUDGE),
        # A session the gate created and then cannot read is the server's fault, not the input's.
        ([CREATE], RunStatus.NON_CONFORMANT),
        # A 5xx is a fault no stale id or wrong path explains.
        ([{**INVENTED, "status": 500, "body": ERROR_BODY}], RunStatus.NON_CONFORMANT),
        # A 200 anywhere (here to an id no session has) exercised the 200 contract: what failed is judged.
        ([{**INVENTED, "status": 200, "body": GOOD_BODY}], RunStatus.NON_CONFORMANT),
        # Not every known session 404: the ids found something, so the 404s are the server's.
        ([{"status": 401, "checkout_id": KNOWN_ID}], RunStatus.NON_CONFORMANT),
    ],
    ids=["nothing else", "a session it created", "a 5xx", "a 200 elsewhere", "a known session answered otherwise"],
)
def test_known_sessions_all_404_cannot_judge_only_when_nothing_else_explains_them(
    contract: Contract, context: Context, also: list[dict[str, Any]], status: RunStatus
) -> None:
    ledger = _ledger(contract, context, [{"status": 404, "body": ERROR_BODY}, *also])
    assert ledger.run_status()[0] is status, ledger.run_status()[1]


def test_one_fault_is_one_group_with_every_id_that_hit_it(contract: Contract, context: Context) -> None:
    ids = [f"cks_id{number:04d}" for number in range(IDS_KEPT_PER_GROUP + 3)]
    exchanges = [
        {"status": 500, "purpose": "edge-case id", "checkout_id": checkout_id, "body_text": "boom"}
        for checkout_id in ids
    ]
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}, *exchanges, *exchanges[:2]])
    groups = [group for group in ledger.groups.values() if group.first.check.id == "response.no_server_error"]
    assert len(groups) == 1
    group = groups[0]
    assert group.count == len(ids) + 2
    assert group.checkout_ids == ids[:IDS_KEPT_PER_GROUP]
    assert group.ids_dropped == 3
    assert group.id.startswith("F")
    assert len(group.id) == 8


def test_different_answers_are_different_groups(contract: Contract, context: Context) -> None:
    ledger = _ledger(
        contract, context,
        [{"body": GOOD_BODY}, {"status": 500, "body_text": "a"}, {"status": 502, "body_text": "a"},
         {"status": 500, "credential": "no key", "body_text": "a"}],
    )  # fmt: skip
    server_errors = [group for group in ledger.groups.values() if group.first.check.id == "response.no_server_error"]
    assert len(server_errors) == 3


def test_why_a_request_was_sent_does_not_split_one_cause(contract: Contract, context: Context) -> None:
    # A lookup that finds every id is one fault, whichever edge case each id was chosen to probe.
    found = [
        {"status": 200, "body": GOOD_BODY, "purpose": "edge-case id", "checkout_id": checkout_id, "why": why}
        for checkout_id, why in (("cks_ab", "a short id"), ("0", "a lone digit"), ("%2e%2e", "an encoded dot segment"))
    ]
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}, *found])
    groups = [group for group in ledger.groups.values() if group.first.check.id == "session.unknown_not_found"]
    assert [group.count for group in groups] == [3]
    assert groups[0].checkout_ids == ["cks_ab", "0", "%2e%2e"]


def test_a_401_to_a_request_without_the_key_is_a_spec_gap_not_a_failure(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}, {"status": 401, "credential": "no key"}])
    assert list(ledger.spec_gaps) == ["undocumented-401"]
    assert ledger.run_status()[0] is RunStatus.CONFORMS


@pytest.mark.parametrize("check_id", list(REGISTRY))
def test_every_check_starts_with_nothing_counted(contract: Contract, check_id: str) -> None:
    tally = Ledger(contract=contract).tallies[check_id]
    assert (tally.passed, tally.failed, tally.warned, tally.findings) == (0, 0, 0, [])


# --- the counts every report is built from, exactly ---------------------------------------------------


def test_every_verdict_and_status_is_counted_once(contract: Contract, context: Context) -> None:
    ledger = _ledger(
        contract,
        context,
        [
            {"body": GOOD_BODY},
            {"body": GOOD_BODY},
            {"status": 404, "body": ERROR_BODY},  # a known session not found: session.known_found fails
            {"status": 401, "body": ERROR_BODY, "credential": "wrong key"},
            {"status": 401, "body": ERROR_BODY, "credential": "no key"},
            {"status": 404, "body_text": "nope", "purpose": "invented id", "checkout_id": "cks_x"},  # warns
        ],
    )
    assert ledger.statuses == {200: 2, 404: 2, 401: 2}
    assert ledger.valid_key_statuses == {200: 2, 404: 2}
    assert ledger.keyless_statuses == {401: 2}
    assert sum(ledger.known_statuses.values()) == 3
    known = ledger.tallies["session.known_found"]
    assert (known.passed, known.failed, known.warned, known.applied) == (2, 1, 0, 3)
    errors = ledger.tallies["errors.json_body"]
    assert (errors.passed, errors.failed, errors.warned, errors.applied) == (3, 0, 1, 4)
    assert errors.skip_reason(strict=False) is None  # warned is not skipped
    assert ledger.tallies["session.stable"].skip_reason(strict=False) == ("no exchange in this run was one it judges")


def test_the_verdict_counts_exactly_the_must_checks_that_judged_something(contract: Contract, context: Context) -> None:
    # A SHOULD check judged something too (the 404's error body): it is not counted among the MUST checks.
    unknown: dict[str, Any] = {"status": 404, "body": ERROR_BODY, "purpose": "invented id", "checkout_id": "cks_x"}
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}, unknown])
    assert ledger.tallies["errors.json_body"].passed == 1
    applied = {
        verdict.check.id
        for exchange in (make_exchange(body=GOOD_BODY), make_exchange(**unknown))
        for verdict in judge(context, exchange)
        if verdict.check.level == "MUST"
    }
    assert ledger.run_status()[1] == f"all {len(applied)} applicable MUST checks passed over 2 exchanges"


def test_the_first_failure_is_timed_once(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}, {"status": 404}])
    first = ledger.first_failure_at
    assert first is not None
    exchange = make_exchange(status=404)
    ledger.record(exchange, judge(context, exchange))
    assert ledger.first_failure_at == first


@pytest.mark.parametrize(("failures", "kept"), [(49, 49), (50, 50), (51, 50)])
def test_findings_are_kept_up_to_fifty_a_check_and_every_one_is_counted(
    contract: Contract, context: Context, failures: int, kept: int
) -> None:
    ledger = _ledger(contract, context, [{"body": GOOD_BODY}] + [{"status": 404}] * failures)
    tally = ledger.tallies["session.known_found"]
    assert (tally.failed, len(tally.findings)) == (failures, kept)


@pytest.mark.parametrize(("ids", "kept"), [(50, 50), (51, 50)])
def test_a_group_keeps_fifty_ids_and_counts_the_rest(contract: Contract, ids: int, kept: int) -> None:
    names = [f"cks_{number:021d}" for number in range(ids)]
    context = Context(contract=contract, known_ids=frozenset(names))
    ledger = _ledger(contract, context, [{"status": 404, "checkout_id": name} for name in names])
    (group,) = [group for group in ledger.groups.values() if group.first.check.id == "session.known_found"]
    assert (group.count, len(group.checkout_ids), group.ids_dropped) == (ids, kept, ids - kept)


def test_the_first_unjudged_exchange_is_the_one_named(contract: Contract, context: Context) -> None:
    ledger = _ledger(
        contract,
        context,
        [
            {"body": GOOD_BODY},
            {"status": 429, "rate_limited": True, "checkout_id": "cks_first0000000000000000"},
            {"status": 429, "rate_limited": True, "checkout_id": "cks_second000000000000000"},
        ],
    )
    status, reason, _ = ledger.run_status()
    assert status is RunStatus.CANNOT_JUDGE
    assert reason.startswith("2 request(s) could not be judged: GET http://127.0.0.1:9/checkouts/cks_first")


def test_a_body_too_large_to_read_is_unjudged(contract: Contract) -> None:
    ledger = Ledger(contract=contract)
    exchange = make_exchange(body=GOOD_BODY)
    ledger.record(exchange, [])
    large = make_exchange(body=GOOD_BODY)
    assert large.response is not None
    size = len(large.response.body)
    large = dataclasses.replace(large, response=dataclasses.replace(large.response, truncated=True))
    ledger.record(large, [])
    assert [why for _, why in ledger.unjudged] == [f"answered a body larger than the {size} bytes the gate reads"]


@pytest.mark.parametrize(
    ("exchange", "gap"),
    [
        ({"status": 401, "credential": "wrong key"}, "undocumented-401"),
        ({"status": 403, "credential": "no key"}, "undocumented-403"),
        ({"status": 400, "credential": "no key"}, None),
        ({"status": 404, "credential": "no key"}, None),
        ({"status": 401}, None),  # the valid key refused is a failure, not a gap in the spec
        ({"status": None, "transport_error": "dropped", "credential": "no key"}, None),
    ],
)
def test_only_a_refusal_of_a_missing_or_wrong_key_is_a_spec_gap(
    contract: Contract, context: Context, exchange: dict[str, Any], gap: str | None
) -> None:
    ledger = _ledger(contract, context, [exchange])
    assert list(ledger.spec_gaps) == ([gap] if gap else [])


def test_a_could_not_judge_run_where_every_read_got_404_still_names_the_likely_cause(
    contract: Contract, context: Context
) -> None:
    ledger = _ledger(contract, context, [{"status": 404}, {"status": 404, "credential": "no key"}])
    ledger.cannot_judge = "the target stopped answering"
    status, reason, _ = ledger.run_status()
    assert status is RunStatus.CANNOT_JUDGE
    assert "so the base URL's path is the likely cause" in reason


def test_without_known_sessions_a_404_everywhere_blames_nothing(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [{"status": 404, "purpose": "invented id", "checkout_id": "cks_x"}])
    assert "likely cause" not in ledger.run_status()[1]


def test_a_check_nobody_excluded_is_not_reported_as_excluded(contract: Contract) -> None:
    ledger = Ledger(contract=contract, excluded=frozenset({"session.stable"}))
    assert ledger.tallies["session.stable"].excluded
    assert not ledger.tallies["session.known_found"].excluded
    assert ledger.tallies["session.known_found"].skip_reason(strict=False, source="the recording") == (
        "no exchange in the recording was one it judges"
    )


def test_how_the_run_ended_is_decided_by_the_ledger_too(contract: Contract, context: Context) -> None:
    failing = _ledger(contract, context, [{"body": GOOD_BODY}, {"status": 500, "body_text": "x"}])
    clean = _ledger(contract, context, [{"body": GOOD_BODY}])
    assert clean.run_status(interrupted=True) == (
        RunStatus.CANNOT_JUDGE, "the run was interrupted before it finished", ExitCode.INTERRUPTED,
    )  # fmt: skip
    # The gate's own failure hides a pass.
    assert clean.run_status(gate_failed="edge_ids: KeyError: 'x'") == (
        RunStatus.CANNOT_JUDGE,
        "the gate itself failed: edge_ids: KeyError: 'x'",
        ExitCode.CANNOT_JUDGE,
    )
    status, reason, _ = failing.run_status(stopped_early="the target stopped answering")
    assert status is RunStatus.NON_CONFORMANT
    assert reason.endswith(" (the target stopped answering)")


def test_a_failure_the_target_earned_and_the_gate_s_own_failure_are_both_said_and_the_worse_code_wins(
    contract: Contract, context: Context
) -> None:
    failing = _ledger(contract, context, [{"body": GOOD_BODY}, {"status": 500, "body_text": "x"}])
    status, reason, code = failing.run_status(gate_failed="edge_ids: KeyError: 'x'")
    assert code == worse(ExitCode.NON_CONFORMANT, ExitCode.CANNOT_JUDGE) == ExitCode.CANNOT_JUDGE
    assert status is RunStatus.CANNOT_JUDGE
    assert reason.startswith("the gate itself failed: edge_ids: KeyError: 'x'; besides, ")
    assert reason.endswith(failing.run_status()[1])
    assert "check(s) failed: " in reason
    assert "response.no_server_error" in reason


@pytest.mark.parametrize(
    ("signum", "code", "said"),
    [(signal.SIGINT, ExitCode.INTERRUPTED, "interrupted"), (signal.SIGTERM, ExitCode.TERMINATED, "stopped by SIGTERM"),
     (signal.SIGHUP, ExitCode.HANGUP, "stopped by SIGHUP")],
)  # fmt: skip
def test_a_stopped_run_ends_with_its_signal_s_code_whatever_the_exchanges_said(
    contract: Contract, context: Context, signum: int, code: ExitCode, said: str
) -> None:
    failing = _ledger(contract, context, [{"body": GOOD_BODY}, {"status": 500, "body_text": "x"}])
    assert failing.run_status(interrupted=True, signum=signum, gate_failed="edge_ids: KeyError: 'x'") == (
        RunStatus.CANNOT_JUDGE, f"the run was {said} before it finished", code,
    )  # fmt: skip
    failing.cannot_judge = "the target stopped"
    assert failing.run_status(interrupted=True, signum=signum)[2] is code


def test_an_output_not_written_keeps_the_verdict_and_ends_with_the_worse_code(
    contract: Contract, context: Context
) -> None:
    clean = _ledger(contract, context, [{"body": GOOD_BODY}])
    status, reason, code = clean.run_status(not_written="summary.json could not be written (No space left)")
    assert (status, code) == (RunStatus.CONFORMS, ExitCode.OUTPUT_NOT_WRITTEN)
    assert reason.endswith("; but summary.json could not be written (No space left): make it writable (or free space) "
                           "and run again")  # fmt: skip
    stopped = clean.run_status(interrupted=True, signum=signal.SIGTERM, not_written="x")
    assert stopped.exit_code is ExitCode.TERMINATED
