"""Reports say what happened, escape what the server sent, keep SHOULD findings, and are written whole."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support import KEY, ROOT, check_status, judge, run_against, summary
from vcr.serializers import yamlserializer

from conformance.cassettes import AtomicPersister
from conformance.files import write_atomically
from conformance.sandbox import CheckoutApi, Reply, seeded_sessions
from conformance.sandbox.variants import VARIANTS

SCRIPT = "<script>alert('pwned')</script>"


class Hostile(CheckoutApi):
    """One session's payment_status is markup, and 404 bodies are plain text (a SHOULD warning)."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        if reply.status == 404:
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        if reply.status == 200 and json.loads(reply.body).get("payment_status") == "requires_capture":
            return Reply.json(200, {**json.loads(reply.body), "payment_status": SCRIPT})
        return reply


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    from conformance.sandbox import Sandbox  # noqa: PLC0415

    report_dir = tmp_path_factory.mktemp("hostile")
    with Sandbox(api=Hostile(KEY, seeded_sessions())) as sandbox:
        return run_against(sandbox, report_dir, max_examples=10), report_dir


def test_server_controlled_text_is_escaped_in_the_html_report(hostile_run: tuple[Any, Path]) -> None:
    result, report_dir = hostile_run
    assert result.returncode == 1, result.stdout + result.stderr
    page = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(" not in page
    assert "&lt;script&gt;alert(" in page
    # The page's own script is the only one.
    assert page.count("<script") == 1


def test_the_markdown_summary_lists_each_finding_with_its_curl(hostile_run: tuple[Any, Path]) -> None:
    _, report_dir = hostile_run
    markdown = (report_dir / "summary.md").read_text(encoding="utf-8")
    findings = markdown.split("## Findings, grouped by cause", 1)[1]
    assert "FAILED `response.schema`" in findings
    assert "is not valid under any of the given schemas" in findings
    assert "curl -sS -i -X GET" in findings
    assert '"Authorization: Bearer $DODO_PAYMENTS_API_KEY"' in findings


def test_should_findings_are_kept_in_the_summary_as_warnings(hostile_run: tuple[Any, Path]) -> None:
    _, report_dir = hostile_run
    errors = next(item for item in summary(report_dir)["checks"] if item["id"] == "errors.json_body")
    assert errors["status"] == "warned"
    assert errors["warned"] > 0
    assert errors["findings"]
    assert {finding["outcome"] for finding in errors["findings"]} == {"warned"}


def test_the_junit_report_fails_the_failed_check_and_only_it(hostile_run: tuple[Any, Path]) -> None:
    _, report_dir = hostile_run
    suite = ET.parse(report_dir / "junit.xml").getroot()  # noqa: S314 - our own file
    failed = {case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None}
    assert failed == {name for name, status in check_status(report_dir).items() if status == "failed"}
    assert "response.schema" in failed
    assert suite.get("failures") == str(len(failed))


def test_strict_turns_should_warnings_into_failures(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(VARIANTS["bare-errors"].api(KEY, seeded_sessions()))
    lenient = run_against(sandbox, tmp_path / "lenient", max_examples=5)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert check_status(tmp_path / "lenient")["errors.json_body"] == "warned"
    strict = run_against(sandbox, tmp_path / "strict", "--strict", max_examples=5)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert check_status(tmp_path / "strict")["errors.json_body"] == "failed"
    assert "errors.json_body" in strict.stdout.splitlines()[-1]


def _failing_fsync(_: int) -> None:
    message = "the disk filled up"
    raise OSError(message)


def test_a_write_that_fails_leaves_the_previous_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "summary.json"
    path.write_text("previous", encoding="utf-8")
    monkeypatch.setattr(os, "fsync", _failing_fsync)
    with pytest.raises(OSError, match="the disk filled up"):
        write_atomically(path, "next " * 10_000)
    assert path.read_text(encoding="utf-8") == "previous"
    assert [item.name for item in tmp_path.iterdir()] == ["summary.json"]


def test_a_cassette_that_fails_to_save_leaves_the_previous_one_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "invented_ids.yaml"
    path.write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    monkeypatch.setattr(os, "fsync", _failing_fsync)
    with pytest.raises(OSError, match="the disk filled up"):
        AtomicPersister.save_cassette(path, {"requests": [], "responses": []}, yamlserializer)
    assert path.read_text(encoding="utf-8") == "interactions: []\nversion: 1\n"
    assert [item.name for item in tmp_path.iterdir()] == [path.name]


def test_a_group_is_summed_up_in_the_words_of_its_first_example(tmp_path: Path) -> None:
    # An id such as '0' also occurs inside '404' and '200': the summary must show the text the check wrote.
    judge(VARIANTS["wildcard-lookup"].api(KEY, seeded_sessions()), tmp_path)
    groups = summary(tmp_path)["groups"]
    assert groups
    for group in groups:
        assert group["summary"] == group["example"]["received"]
        assert "{id}" not in group["summary"]


def test_a_run_without_known_sessions_did_not_stop_its_checks_had_nothing_to_judge(tmp_path: Path) -> None:
    # Exit 3 here means "the 200 contract was never exercised", not "the run was cut short".
    outcome = judge(VARIANTS["reference"].api(KEY, seeded_sessions()), tmp_path, ids=False)
    assert int(outcome.exit_code) == 3
    reasons = {item["id"]: item["skip_reason"] for item in summary(tmp_path)["checks"]}
    assert reasons["session.known_found"] == "no exchange in this run was one it judges"
    assert "stopped" not in " ".join(reason or "" for reason in reasons.values())


@pytest.mark.parametrize(
    ("flags", "said"),
    [({"base_url": "http://127.0.0.1:9", "api_key": KEY}, ("--summary s.json", "this run")),
     ({"sandbox": True}, ("--base-url URL", "this run")),
     ({"sandbox": True, "record": True}, ("--base-url URL", "this run")),
     ({"replay": True, "cassette_dir": ROOT / "cassettes"}, ("--base-url URL", "the recording"))],
)  # fmt: skip
def test_the_replay_line_asks_for_a_server_when_the_run_judged_nothing_that_can_be_asked_again(
    contract: Any, context: Any, flags: dict[str, Any], said: tuple[str, str], tmp_path: Path
) -> None:
    # The bundled sandbox is gone when the run ends, and a recording answers nothing new: each kind of target says.
    from support import make_exchange  # noqa: PLC0415

    from conformance.checks import judge as judge_exchange  # noqa: PLC0415
    from conformance.facts import Facts, build_record  # noqa: PLC0415
    from conformance.ledger import Ledger  # noqa: PLC0415
    from conformance.record import Result  # noqa: PLC0415
    from conformance.settings import Flags, build_settings  # noqa: PLC0415
    from conformance.target import choose  # noqa: PLC0415

    ending, exchanges_from = said
    target = choose(build_settings(Flags(**{"cassette_dir": tmp_path, **flags}), environ={}), contract)
    facts = Facts(
        target="t", mode=target.mode, command="", sandbox=target.sandbox, spec="spec/openapi.yaml", seed=1,
        max_examples=1, request_timeout_seconds=1.0, checkout_ids=(), strict=False, requests_sent=1,
        summary_path="s.json", exchanges_from=target.exchanges_from, target_stays=target.stays,
    )  # fmt: skip
    ledger = Ledger(contract=contract)
    exchange = make_exchange(status=404)
    ledger.record(exchange, judge_exchange(context, exchange))
    record = build_record(ledger, facts, Result(status="non-conformant", exit_code=1, reason="r"))
    assert record.groups
    assert all(group.replay.endswith(ending) for group in record.groups)
    skipped = [item.skip_reason for item in record.checks if item.skip_reason and "excluded" not in item.skip_reason]
    assert skipped
    assert all(exchanges_from in reason for reason in skipped)
