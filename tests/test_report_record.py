"""The record a run leaves and every text rendering of it, built from a real ledger fed with judged exchanges."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from support import CREATED_ID, KNOWN_ID, make_exchange

from conformance.checks import CheckFailure, Context, Outcome, Verdict, judge
from conformance.errors import ExitCode
from conformance.facts import Facts, build_record
from conformance.ledger import Ledger
from conformance.operations import REGISTRY
from conformance.record import Result, RunRecord
from conformance.report import (
    check_record,
    render_closing,
    render_groups,
    render_header,
    render_table,
    write_reports,
)
from conformance.report_junit import render_junit
from conformance.report_markdown import render_markdown
from conformance.report_words import partial_note
from conformance.spec import Contract

# 2023-11-14T22:13:20Z: a real clock's reading, so that a run's length is tiny beside it.
STARTED = 1_700_000_000.0
SUMMARY_PATH = "reports/summary.json"
FACTS: dict[str, Any] = {
    "target": "http://127.0.0.1:9",
    "mode": "live",
    "command": "conformance run",
    "sandbox": False,
    "spec": "spec/openapi.yaml",
    "seed": 7,
    "max_examples": 25,
    "request_timeout_seconds": 5.0,
    "checkout_ids": (KNOWN_ID,),
}
NON_CONFORMANT = Result(status="non-conformant", exit_code=int(ExitCode.NON_CONFORMANT), reason="checks failed")
INTERRUPTED = Result(
    status="could not judge", exit_code=int(ExitCode.INTERRUPTED), reason="the run was interrupted before it finished"
)
CURL = "curl -sS -i -X GET http://127.0.0.1:9/checkouts/"
SERVER_ERROR: dict[str, Any] = {"status": 500, "body_text": "x"}
PLAIN_NOT_FOUND: dict[str, Any] = {"status": 404, "body_text": "Not Found", "headers": {"Content-Type": "text/plain"}}


def _feed(ledger: Ledger, context: Context, exchanges: list[dict[str, Any]], *check_ids: str) -> Ledger:
    """Judge each exchange (by the named checks only, when named) and record it."""
    checks = [REGISTRY[check_id] for check_id in check_ids] if check_ids else None
    for item in exchanges:
        exchange = make_exchange(**item)
        ledger.record(exchange, judge(context, exchange, checks))
    return ledger


def _ledger(contract: Contract, context: Context, exchanges: list[dict[str, Any]], *check_ids: str) -> Ledger:
    return _feed(Ledger(contract=contract, started=STARTED), context, exchanges, *check_ids)


def _record(ledger: Ledger, result: Result = NON_CONFORMANT) -> RunRecord:
    facts = Facts(**FACTS, strict=False, requests_sent=ledger.exchanges, summary_path=SUMMARY_PATH)
    return build_record(ledger, facts, result)


def _said(ledger: Ledger, *received: str) -> Ledger:
    """Record one 500 per text, each found by response.no_server_error in exactly those words."""
    check = REGISTRY["response.no_server_error"]
    for text in received:
        exchange = make_exchange(status=500)
        ledger.record(exchange, [Verdict(check, Outcome.FAILED, exchange, CheckFailure(text, "a status below 500"))])
    return ledger


def _server_errors(contract: Contract, context: Context, count: int) -> RunRecord:
    """A run with `count` distinct causes: 500, 501, ... each once."""
    exchanges = [{"status": 500 + offset} for offset in range(count)]
    return _record(_ledger(contract, context, exchanges, "response.no_server_error"))


def _oracle_record(contract: Contract, context: Context, disagreements: int) -> RunRecord:
    ledger = _ledger(contract, context, [SERVER_ERROR], "response.no_server_error")
    for number in range(1, disagreements + 1):
        ledger.oracle_disagreements[f"disagreement {number}"] += 1
    return _record(ledger)


# --- summary.json: the record ---------------------------------------------------------


def test_the_run_s_length_and_its_first_failure_are_seconds_rounded_to_milliseconds(
    contract: Contract, context: Context
) -> None:
    ledger = _ledger(contract, context, [SERVER_ERROR])
    ledger.first_failure_at = STARTED + 1.23456
    ledger.finished = STARTED + 12.3456
    run = _record(ledger).run
    assert (run.started, run.finished) == ("2023-11-14T22:13:20+00:00", "2023-11-14T22:13:32+00:00")
    assert run.duration_seconds == 12.346
    assert run.first_failure_after_seconds == 1.235


def test_a_run_without_a_failure_has_no_first_failure_time(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [PLAIN_NOT_FOUND | {"purpose": "invented id", "checkout_id": "cks_x"}])
    ledger.finished = STARTED + 0.5
    run = _record(ledger).run
    assert run.duration_seconds == 0.5
    assert run.first_failure_after_seconds is None


def test_findings_beyond_those_kept_are_counted_as_dropped(contract: Contract, context: Context) -> None:
    failures = [SERVER_ERROR] * 53
    warnings = [PLAIN_NOT_FOUND | {"purpose": "invented id", "checkout_id": f"cks_x{n}"} for n in range(52)]
    record = _record(_ledger(contract, context, failures + warnings, "response.no_server_error", "errors.json_body"))
    server_error, json_body = check_record(record, "response.no_server_error"), check_record(record, "errors.json_body")
    assert (server_error.failed, server_error.warned, len(server_error.findings)) == (53, 0, 50)
    assert server_error.findings_dropped == 3
    assert (json_body.failed, json_body.warned, len(json_body.findings)) == (0, 52, 50)
    assert json_body.findings_dropped == 2
    assert check_record(record, "transport.reply").findings_dropped == 0


def test_check_record_finds_the_named_check(contract: Contract, context: Context) -> None:
    record = _record(_ledger(contract, context, [SERVER_ERROR]))
    assert check_record(record, "response.schema").id == "response.schema"
    assert check_record(record, "response.no_server_error").failed == 1


def test_a_finding_without_a_response_has_no_status_type_or_body(contract: Contract, context: Context) -> None:
    record = _record(_ledger(contract, context, [{"status": None, "transport_error": "connection refused"}]))
    [group] = record.groups
    assert (group.check, group.status, group.summary) == ("transport.reply", None, "connection refused")
    example = group.example
    assert (example.status, example.content_type, example.body_excerpt, example.location) == (None, None, None, None)
    assert example.transport_error == "connection refused"


def test_a_finding_with_a_response_keeps_its_status_type_and_body(contract: Contract, context: Context) -> None:
    exchange = {"status": 500, "body_text": "boom", "headers": {"Content-Type": "text/plain"}}
    record = _record(_ledger(contract, context, [exchange], "response.no_server_error"))
    [group] = record.groups
    assert group.status == 500
    example = group.example
    assert (example.status, example.content_type, example.body_excerpt) == (500, "text/plain", "boom")
    assert example.transport_error is None


@pytest.mark.parametrize(
    ("status", "location"),
    [(200, None), (299, None), (300, "/elsewhere"), (302, "/elsewhere"), (399, "/elsewhere"), (400, None),
     (404, None)],
)  # fmt: skip
def test_a_finding_keeps_where_a_3xx_pointed_and_only_a_3xx(
    contract: Contract, context: Context, status: int, location: str | None
) -> None:
    record = _record(_ledger(contract, context, [{"status": status, "headers": {"Location": "/elsewhere"}}]))
    assert record.groups
    assert {group.example.location for group in record.groups} == {location}


def test_a_created_session_has_no_replay_line_and_one_just_created_has_one(
    contract: Contract, context: Context
) -> None:
    exchanges = [
        {"status": 500, "purpose": "session created by the gate", "checkout_id": ""},
        {"status": 503, "purpose": "session just created", "checkout_id": CREATED_ID},
    ]
    record = _record(_ledger(contract, context, exchanges, "response.no_server_error"))
    replays = {group.example.purpose: group.replay for group in record.groups}
    created = next(group for group in record.groups if group.status == 503)
    assert replays == {
        "session created by the gate": "",
        "session just created": f"conformance replay {created.id} --summary {SUMMARY_PATH}",
    }


def test_an_oracle_disagreement_seen_more_than_once_says_how_often(contract: Contract, context: Context) -> None:
    ledger = _ledger(contract, context, [SERVER_ERROR])
    ledger.oracle_disagreements["schemathesis passes a 500"] += 1
    ledger.oracle_disagreements["schemathesis fails a 404"] += 2
    assert _record(ledger).oracle_disagreements == (
        "schemathesis passes a 500",
        "schemathesis fails a 404 (2 exchanges)",
    )


def test_groups_list_failures_before_warnings_and_the_most_frequent_cause_first(
    contract: Contract, context: Context
) -> None:
    warnings = [PLAIN_NOT_FOUND | {"purpose": "invented id", "checkout_id": f"cks_x{n}"} for n in range(3)]
    ledger = _ledger(contract, context, warnings, "errors.json_body")
    _feed(ledger, context, [{"status": 500}, {"status": 503}, {"status": 503}], "response.no_server_error")
    record = _record(ledger)
    assert [(group.outcome, group.status, group.count) for group in record.groups] == [
        ("failed", 503, 2),
        ("failed", 500, 1),
        ("warned", 404, 3),
    ]


@pytest.mark.parametrize(
    ("result", "cannot_judge", "reason"),
    [
        (INTERRUPTED, None, "the run stopped before this check judged anything"),
        (Result("could not judge", 3, "target unreachable"), "target unreachable",
         "the run stopped before this check judged anything"),
        (Result("could not judge", 3, "no 200"), None, "no exchange in this run was one it judges"),
    ],
)  # fmt: skip
def test_a_check_that_judged_nothing_says_whether_the_run_stopped_first(
    contract: Contract, context: Context, result: Result, cannot_judge: str | None, reason: str
) -> None:
    ledger = _ledger(contract, context, [SERVER_ERROR], "response.no_server_error")
    ledger.cannot_judge = cannot_judge
    assert check_record(_record(ledger, result), "session.stable").skip_reason == reason


# --- the terminal -----------------------------------------------------------------------


def test_the_header_lists_the_known_sessions() -> None:
    lines = render_header(
        target="http://127.0.0.1:9", spec="spec/openapi.yaml", spec_version="1.105.0", seed=7, max_examples=25,
        checkout_ids=("cks_a", "cks_b"),
    )  # fmt: skip
    assert lines == [
        "target: http://127.0.0.1:9",
        "spec: spec/openapi.yaml (version 1.105.0); seed 7; 25 generated ids",
        "known sessions (2): cks_a, cks_b",
    ]


@pytest.mark.parametrize(
    ("product_id", "tail"),
    [
        (None, ["known sessions (0): none (the 200 contract cannot be judged without one)"]),
        ("pdt_1", ["known sessions (0): none given",
                   "and one the gate creates first: POST /checkouts with product pdt_1, quantity 1"]),
    ],
)  # fmt: skip
def test_the_header_says_what_a_run_without_known_sessions_judges(product_id: str | None, tail: list[str]) -> None:
    lines = render_header(
        target="t", spec="s", spec_version="1", seed=1, max_examples=1, checkout_ids=(), product_id=product_id
    )
    assert lines[2:] == tail


@pytest.mark.parametrize("exit_code", [ExitCode.CONFORMS, ExitCode.NON_CONFORMANT])
def test_only_an_interrupted_run_s_table_is_marked_partial(
    contract: Contract, context: Context, exit_code: ExitCode
) -> None:
    ledger = _ledger(contract, context, [SERVER_ERROR, SERVER_ERROR])
    interrupted = _record(ledger, INTERRUPTED)
    finished = _record(ledger, Result("any", int(exit_code), "r"))
    note = "partial: interrupted after 2 exchanges; counts are what was judged"
    assert partial_note(interrupted) == note
    assert render_table(interrupted)[-1] == f"({note})"
    assert partial_note(finished) == ""
    assert render_table(finished) == render_table(interrupted)[:-1]
    assert render_table(finished)[:2] == [
        "RESULT  LEVEL   CHECK                          PASSED  FAILED  WARNED",
        "PASS    MUST    transport.reply                2       0       0",
    ]


def test_each_group_is_one_line_with_its_count_then_its_curl(contract: Contract, context: Context) -> None:
    warning = PLAIN_NOT_FOUND | {"purpose": "invented id", "checkout_id": "cks_x"}
    ledger = _ledger(contract, context, [SERVER_ERROR, SERVER_ERROR, warning], "response.no_server_error")
    _feed(ledger, context, [warning], "errors.json_body")
    failed, warned = _record(ledger).groups
    assert render_groups(_record(ledger)) == [
        f"FAIL response.no_server_error x2 [{failed.id}]: status 500 with body 'x'",
        f"     {CURL}{KNOWN_ID}",
        f"WARN errors.json_body x1 [{warned.id}]: status 404 with body 'Not Found'",
        f"     {CURL}cks_x",
    ]


@pytest.mark.parametrize(
    ("length", "shown"), [(159, "a" * 159), (160, "a" * 160), (161, "a" * 159 + "…"), (400, "a" * 159 + "…")]
)
def test_a_group_s_summary_is_cut_at_160_characters(contract: Contract, length: int, shown: str) -> None:
    record = _record(_said(Ledger(contract=contract), "a" * length))
    assert render_groups(record)[0] == f"FAIL response.no_server_error x1 [{record.groups[0].id}]: {shown}"


def test_a_group_s_summary_is_one_line(contract: Contract) -> None:
    record = _record(_said(Ledger(contract=contract), "status 500\n  with\tbody"))
    assert render_groups(record)[0].endswith("]: status 500 with body")


@pytest.mark.parametrize(("groups", "more"), [(1, None), (20, None), (21, 1), (41, 21)])
def test_the_terminal_shows_the_first_20_groups_and_counts_the_rest(
    contract: Contract, context: Context, groups: int, more: int | None
) -> None:
    lines = render_groups(_server_errors(contract, context, groups))
    summaries = [line.split("]: ", 1)[1] for line in lines if line.startswith("FAIL ")]
    assert summaries == [f"status {500 + offset} with body ''" for offset in range(min(groups, 20))]
    cut = [f"... and {more} more groups in summary.json and report.html"] if more else []
    assert lines[2 * len(summaries) :] == cut


@pytest.mark.parametrize(("disagreements", "more"), [(0, None), (5, None), (6, 1), (11, 6)])
def test_the_closing_prints_five_oracle_disagreements_and_counts_the_rest(
    contract: Contract, context: Context, disagreements: int, more: int | None
) -> None:
    lines = render_closing(_oracle_record(contract, context, disagreements), Path("reports"))
    oracle = [line for line in lines if line.startswith("schemathesis oracle: ")]
    shown = [f"schemathesis oracle: disagreement {number}" for number in range(1, min(disagreements, 5) + 1)]
    assert oracle == shown + ([f"schemathesis oracle: {more} more in summary.md"] if more else [])


def test_the_closing_shows_the_table_groups_gaps_and_where_the_reports_are(
    contract: Contract, context: Context
) -> None:
    ledger = _ledger(contract, context, [SERVER_ERROR], "response.no_server_error")
    _feed(ledger, context, [{"status": 401, "credential": "no key", "purpose": "invented id", "checkout_id": "c"}])
    record = _record(ledger)
    lines = render_closing(record, Path("reports"), sarif=Path("out.sarif"))
    table, groups = render_table(record), render_groups(record)
    assert lines[: len(table)] == table
    assert lines[len(table) : len(table) + len(groups) + 2] == ["", *groups, ""]
    assert lines[len(table) + len(groups) + 2 :] == [
        (
            "spec gap: The server answers 401 to requests with no key, as the operation's security requirement "
            "implies, but GET /checkouts/{id} documents no 401 response."
        ),
        "reports: reports/ (junit.xml, summary.json, summary.md, report.html), SARIF: out.sarif",
        "conformance: NON-CONFORMANT (exit 1): checks failed",
    ]


def test_the_closing_of_a_run_without_exchanges_is_where_the_reports_are_and_the_verdict(contract: Contract) -> None:
    record = _record(Ledger(contract=contract), Result("could not judge", 3, "target unreachable"))
    assert render_closing(record, Path("reports")) == [
        "reports: reports/ (junit.xml, summary.json, summary.md, report.html)",
        "conformance: COULD NOT JUDGE (exit 3): target unreachable",
    ]


def test_the_closing_names_only_the_reports_that_were_written_when_not_all_were(contract: Contract) -> None:
    record = _record(Ledger(contract=contract), Result("conforms", 74, "but an output could not be written"))
    reports, sarif = Path("reports"), Path("out.sarif")
    only_markdown = render_closing(record, reports, sarif=sarif, written=[reports / "summary.md"])
    assert only_markdown[-2] == "reports: reports/ (summary.md)"
    only_sarif = render_closing(record, reports, sarif=sarif, written=[sarif])
    assert only_sarif[-2] == "reports: none written to reports/, SARIF: out.sarif"
    every_one = render_closing(record, reports, sarif=sarif, written=[reports / "summary.json", sarif])
    assert every_one[-2] == "reports: reports/ (summary.json), SARIF: out.sarif"


# --- summary.md -------------------------------------------------------------------------


def _findings_section(markdown: str) -> str:
    return markdown.split("## Findings, grouped by cause\n\n", 1)[1].split("\n## Checks\n", 1)[0]


def test_the_markdown_lists_each_group_with_how_often_where_it_pointed_and_how_to_reproduce_it(
    contract: Contract, context: Context
) -> None:
    exchanges = [
        {"status": 302, "headers": {"Location": "/elsewhere"}},
        {"status": 302, "headers": {"Location": "/elsewhere"}},
        {"status": 500, "purpose": "session created by the gate", "checkout_id": "", "why": "to have a session"},
    ]
    record = _record(_ledger(contract, context, exchanges, "response.status_documented", "response.no_server_error"))
    redirect, create = record.groups
    assert _findings_section(render_markdown(record)) == (
        f"### FAILED `response.status_documented`, 2 times ({redirect.id})\n"
        "\n"
        "- Received: status 302\n"
        # Brackets escaped: a received or expected text must not make a link in a CI step summary.
        "- Expected: one of the documented statuses \\[200, 404, 422, 500\\]\n"
        # The URL as code: GitHub's Markdown would link a bare one.
        f"- Request: GET `http://127.0.0.1:9/checkouts/{KNOWN_ID}` (known session, valid key)\n"
        f"- Ids: `{KNOWN_ID}`\n"
        "- Location: `/elsewhere`\n"
        "\n"
        "```sh\n"
        f"{CURL}{KNOWN_ID}\n"
        f"conformance replay {redirect.id} --summary {SUMMARY_PATH}\n"
        "```\n"
        "\n"
        f"### FAILED `response.no_server_error`, once ({create.id})\n"
        "\n"
        "- Received: status 500 with body ''\n"
        f"- Expected: {create.example.expected}\n"
        "- Request: GET `http://127.0.0.1:9/checkouts/` (session created by the gate, valid key)\n"
        "- Why this request: to have a session\n"
        "\n"
        "```sh\n"
        f"{CURL}\n"
        "```\n"
        "\n"
    )


@pytest.mark.parametrize(
    ("ids", "dropped", "more"), [(1, 0, ""), (5, 0, ""), (6, 0, " and 1 more"), (53, 3, " and 48 more")]
)
def test_the_markdown_names_five_ids_of_a_group_and_counts_the_rest(
    contract: Contract, context: Context, ids: int, dropped: int, more: str
) -> None:
    exchanges = [{"status": 500, "purpose": "invented id", "checkout_id": f"cks_{n:02}"} for n in range(ids)]
    record = _record(_ledger(contract, context, exchanges, "response.no_server_error"))
    assert record.groups[0].ids_dropped == dropped
    shown = ", ".join(f"`cks_{n:02}`" for n in range(min(ids, 5)))
    assert f"\n- Ids: {shown}{more}\n" in render_markdown(record)


@pytest.mark.parametrize(("lines", "shown"), [(5, 5), (6, 6), (7, 6)])
def test_the_markdown_shows_the_first_six_lines_of_a_body(
    contract: Contract, context: Context, lines: int, shown: int
) -> None:
    body = "\n".join(f"line {n}" for n in range(1, lines + 1))
    record = _record(_ledger(contract, context, [{"status": 500, "body_text": body}], "response.no_server_error"))
    excerpt = "\n".join(f"line {n}" for n in range(1, shown + 1))
    assert f"\n\n```\n{excerpt}\n```\n\n```sh\n" in render_markdown(record)


def test_the_markdown_shows_no_body_block_for_an_empty_body(contract: Contract, context: Context) -> None:
    record = _record(_ledger(contract, context, [{"status": 500}], "response.no_server_error"))
    assert "\n```\n" not in _findings_section(render_markdown(record)).split("```sh")[0]


@pytest.mark.parametrize(("groups", "more"), [(1, None), (20, None), (21, 1), (41, 21)])
def test_the_markdown_shows_the_first_20_groups_and_counts_the_rest(
    contract: Contract, context: Context, groups: int, more: int | None
) -> None:
    markdown = render_markdown(_server_errors(contract, context, groups))
    assert markdown.count("\n### FAILED `response.no_server_error`") == min(groups, 20)
    cut = f"\n_{more} more groups are cut here; summary.json holds them all._\n"
    if more:
        assert cut in markdown
    else:
        assert "more groups are cut here" not in markdown


def test_the_markdown_ends_with_the_partial_note_spec_gaps_and_oracle_disagreements(
    contract: Contract, context: Context
) -> None:
    ledger = _ledger(contract, context, [{"status": 401, "credential": "no key", "purpose": "invented id"}])
    ledger.oracle_disagreements["schemathesis fails a 404"] += 1
    markdown = render_markdown(_record(ledger, INTERRUPTED))
    last_check_row = f"| {REGISTRY['errors.json_body'].requirement} |"
    assert markdown.split(last_check_row, 1)[1] == (
        "\n"
        "\n"
        "_partial: interrupted after 1 exchanges; counts are what was judged._\n"
        "\n"
        "## Spec gaps\n"
        "\n"
        "- The server answers 401 to requests with no key, as the operation's security requirement implies, but "
        "GET /checkouts/{id} documents no 401 response.\n"
        "\n"
        "## Where Schemathesis judged otherwise\n"
        "\n"
        "- schemathesis fails a 404\n"
    )


def test_the_markdown_of_a_finished_run_without_gaps_or_disagreements_ends_with_the_check_table(
    contract: Contract, context: Context
) -> None:
    markdown = render_markdown(_record(_ledger(contract, context, [SERVER_ERROR])))
    requirement = REGISTRY["errors.json_body"].requirement
    assert markdown.endswith(
        f"| SKIP | SHOULD | `errors.json_body` | 0 | 0 | 0 | {requirement} "
        "(skipped: no exchange in this run was one it judges) |\n"
    )
    assert "partial:" not in markdown


# --- junit.xml --------------------------------------------------------------------------


def _junit(record: RunRecord) -> ET.Element:
    return ET.fromstring(render_junit(record))  # noqa: S314 - our own rendering


def _case(suite: ET.Element, name: str) -> ET.Element:
    return next(case for case in suite.iter("testcase") if case.get("name") == name)


def _statuses(record: RunRecord) -> list[str]:
    return [item.status for item in record.checks]


def _mixed(contract: Contract, context: Context) -> Ledger:
    """A 500 and a 302 for the known session, and a plain-text 404 for an invented id."""
    exchanges = [SERVER_ERROR, {"status": 302}, PLAIN_NOT_FOUND | {"purpose": "invented id", "checkout_id": "cks_x"}]
    return _ledger(contract, context, exchanges)


def test_the_junit_counts_one_case_per_check(contract: Contract, context: Context) -> None:
    record = _record(_mixed(contract, context))
    suite = _junit(record)
    failed, skipped = _statuses(record).count("failed"), _statuses(record).count("skipped")
    assert (failed, skipped) == (3, 13)
    counts = {name: suite.get(name) for name in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": str(len(REGISTRY)), "failures": str(failed), "errors": "0", "skipped": str(skipped)}
    assert [case.get("name") for case in suite] == list(REGISTRY)


def test_the_junit_adds_a_case_in_error_for_an_interrupted_run(contract: Contract, context: Context) -> None:
    record = _record(_mixed(contract, context), INTERRUPTED)
    suite = _junit(record)
    failed, skipped = _statuses(record).count("failed"), _statuses(record).count("skipped")
    counts = {name: suite.get(name) for name in ("tests", "failures", "errors", "skipped")}
    assert counts == {"tests": str(len(REGISTRY) + 1), "failures": str(failed), "errors": "1", "skipped": str(skipped)}
    error = _case(suite, "run").find("error")
    assert error is not None
    assert (error.get("message"), error.text) == (
        "could not judge (exit 130)",
        "the run was interrupted before it finished",
    )


def test_a_failed_check_s_junit_case_details_its_own_groups_only(contract: Contract, context: Context) -> None:
    record = _record(_mixed(contract, context))
    [group] = [group for group in record.groups if group.check == "response.no_server_error"]
    failure = _case(_junit(record), "response.no_server_error").find("failure")
    assert failure is not None
    requirement = REGISTRY["response.no_server_error"].requirement
    assert failure.get("message") == f"{requirement} (1 failed, 0 warned, 2 passed)"
    assert failure.text == (
        f"{group.id}: 1 x status 500 with body 'x'\n"
        f"First: GET http://127.0.0.1:9/checkouts/{KNOWN_ID} (known session, valid key)\n"
        f"Received: status 500 with body 'x'\nExpected: {group.example.expected}\n"
        f"Reproduce: {CURL}{KNOWN_ID}\n"
        f"Replay: conformance replay {group.id} --summary {SUMMARY_PATH}"
    )


def test_a_created_session_s_junit_detail_has_no_replay_line(contract: Contract, context: Context) -> None:
    exchange = {"status": 500, "purpose": "session created by the gate", "checkout_id": ""}
    record = _record(_ledger(contract, context, [exchange], "response.no_server_error"))
    failure = _case(_junit(record), "response.no_server_error").find("failure")
    assert failure is not None
    assert failure.text is not None
    assert failure.text.endswith(f"\nReproduce: {CURL}")


def test_the_junit_marks_warned_skipped_and_passed_checks_apart(contract: Contract, context: Context) -> None:
    suite = _junit(_record(_mixed(contract, context)))
    warned = _case(suite, "errors.json_body")
    assert [child.tag for child in warned] == ["system-out"]
    assert warned[0].text is not None
    assert warned[0].text.startswith(
        f"WARNED (SHOULD): {REGISTRY['errors.json_body'].requirement} (0 failed, 1 warned, 0 passed)\n"
    )
    skipped = _case(suite, "session.created")
    assert [(child.tag, child.get("message")) for child in skipped] == [
        ("skipped", "this run created no session of its own (--create-session)")
    ]
    assert list(_case(suite, "transport.reply")) == []


# --- the files ------------------------------------------------------------------------


def test_every_report_is_redacted_once_more_as_a_whole(contract: Contract, context: Context, tmp_path: Path) -> None:
    refused = {"status": None, "transport_error": "the proxy refused key sk_live_secret"}
    record = _record(_ledger(contract, context, [refused]))
    written = write_reports(record, tmp_path, lambda text: text.replace("sk_live_secret", "[redacted]"))
    assert sorted(path.name for path in written) == ["junit.xml", "report.html", "summary.json", "summary.md"]
    for path in written:
        text = path.read_text(encoding="utf-8")
        assert "sk_live_secret" not in text, path.name
        assert "[redacted]" in text, path.name


def test_a_whole_text_redaction_that_would_break_summary_json_is_left_out_of_it(
    contract: Contract, context: Context, tmp_path: Path
) -> None:
    # The record is redacted field by field before; this last pass must never leave the file unreadable.
    result = Result("non-conformant", 1, "the key sk_live_secret was echoed")
    record = _record(_ledger(contract, context, [SERVER_ERROR]), result)
    write_reports(record, tmp_path, lambda text: text.replace("sk_live_secret", '"[redacted]"'))
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["result"]["reason"] == (
        "the key sk_live_secret was echoed"
    )
    assert '**non-conformant** (exit 1): the key "[redacted]" was echoed' in (tmp_path / "summary.md").read_text(
        encoding="utf-8"
    )


def test_server_controlled_text_cannot_link_embed_or_leave_its_block_in_the_markdown(
    contract: Contract, context: Context
) -> None:
    # A CI step summary renders summary.md: a body that closed its code fence could show an image from
    # anywhere, and an id or Location with a backtick broke out of its code span.
    body = "line one\n```\n![pixel](http://tracker.example/p.png)\n<img src=x>"
    exchanges = [
        {"status": 500, "body_text": body, "headers": {"Content-Type": "text/plain"}, "checkout_id": "cks_`tick"},
        {"status": 500, "body_text": body, "headers": {"Content-Type": "text/plain"}, "checkout_id": "`lead"},
        {"status": 302, "headers": {"Location": "/a`b"}},
    ]
    record = _record(_ledger(contract, context, exchanges, "response.status_documented", "response.no_server_error"))
    section = _findings_section(render_markdown(record))
    assert "````\nline one\n```\n![pixel](http://tracker.example/p.png)\n<img src=x>\n````\n" in section
    # A span whose text starts or ends with a backtick is padded with a space inside (CommonMark 6.1).
    assert "- Ids: ``cks_`tick``, `` `lead ``\n" in section
    assert "- Location: ``/a`b``\n" in section
    # Outside the blocks, the excerpt quoted in a line is escaped: it renders as the text it is.
    received = next(line for line in section.splitlines() if line.startswith("- Received: status 500"))
    # The URL's start is code: a bare URL would be a link in GitHub's Markdown.
    assert "\\!\\[pixel\\](`http://tracker.example/p.png`)" in received
    assert "\\<img src=x\\>" in received
    assert "\\`\\`\\`" in received
