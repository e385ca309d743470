"""The gate catches every seeded fault and passes every conformant variant."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from support import KEY, SPEC, conformance, spec_with, start, wait_for

from conformance.checks import Level
from conformance.operations import REGISTRY
from conformance.oracles import sdk_accepts
from conformance.sandbox import CheckoutApi, Reply, Sandbox, seeded_sessions
from conformance.sandbox.variants import VARIANTS, BareErrors, UnknownPaymentStatus, Variant
from conformance.selftest import (
    VariantResult,
    _judge,
    _sdk_disagreements,
    judged_as_a_correct_gate_would,
    passed,
    render,
    run_selftest,
    score,
)
from conformance.spec import Contract


@pytest.fixture(scope="module")
def selftest(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any]]:
    report_dir = tmp_path_factory.mktemp("selftest")
    result = conformance("selftest", "--report-dir", str(report_dir), isolated=True)
    record = json.loads((report_dir / "selftest.json").read_text(encoding="utf-8"))
    return result.returncode, result.stdout, record


def test_every_variant_is_described_in_one_sentence() -> None:
    assert len([variant for variant in VARIANTS.values() if not variant.conformant]) >= 25
    descriptions = [variant.description for variant in VARIANTS.values()]
    assert len(set(descriptions)) == len(descriptions)
    for variant in VARIANTS.values():
        assert variant.description.endswith("."), variant.name
        assert "\n" not in variant.description


@pytest.mark.catalogue
def test_every_must_check_of_the_gate_catches_some_fault_of_the_catalogue(
    selftest: tuple[int, str, dict[str, Any]],
) -> None:
    # A check that no fault ever fails could be one that cannot fail.
    _, _, record = selftest
    caught = {check_id for item in record["variants"] if item["expected"] == "fails" for check_id in item["caught_by"]}
    ours = {
        check.id
        for check in REGISTRY.values()
        if check.level is Level.MUST and not check.id.startswith("schemathesis.")
    }
    assert ours - caught == set()


@pytest.mark.catalogue
def test_every_fault_is_caught_and_no_conformant_variant_fails(selftest: tuple[int, str, dict[str, Any]]) -> None:
    code, stdout, record = selftest
    missed = [item["name"] for item in record["variants"] if not item["as_expected"]]
    assert missed == [], stdout
    assert code == 0
    assert record["kill_rate"] == 1.0
    assert record["false_alarms"] == 0
    assert record["faults"] == len([variant for variant in VARIANTS.values() if not variant.conformant])
    assert f"kill rate: {record['faults']}/{record['faults']} faults caught (100%)" in stdout


@pytest.mark.catalogue
def test_each_fault_is_caught_by_the_check_made_for_it(selftest: tuple[int, str, dict[str, Any]]) -> None:
    _, _, record = selftest
    caught = {item["name"]: item["caught_by"] for item in record["variants"]}
    assert "response.schema" in caught["unknown-payment-status"]
    assert "auth.wrong_key" in caught["any-bearer-key"]
    assert caught["prefix-lookup"] == ["session.unknown_not_found"]
    assert caught["created-at-changes"] == ["session.stable"]
    # Under the default flags a user runs with (10 s timeout), not a shortened one.
    assert caught["reply-never-comes"] == ["transport.reply"]
    assert caught["body-trickles"] == ["transport.reply"]
    assert caught["reply-sent-twice"] == ["session.id_echoed"] or "session.id_echoed" in caught["reply-sent-twice"]
    assert caught["payment-fields-unpaired"] == ["session.payment_fields_paired"]
    for item in record["variants"]:
        if item["expected"] == "fails":
            assert item["first_detection_seconds"] is not None


@pytest.mark.catalogue
def test_conformant_oddities_may_warn_but_never_fail(selftest: tuple[int, str, dict[str, Any]]) -> None:
    _, _, record = selftest
    bare = next(item for item in record["variants"] if item["name"] == "bare-errors")
    assert bare["caught_by"] == []
    assert bare["warned"] == ["errors.json_body"]


@pytest.mark.catalogue
def test_the_report_says_where_the_sdk_and_the_spec_disagree(selftest: tuple[int, str, dict[str, Any]]) -> None:
    # Whatever the SDK decides (it may fix its date-time parsing one day), the selftest must report it.
    _, stdout, record = selftest
    assert record["sdk_oracle"] is True
    disagreements = {item["name"]: item["oracle_disagreements"] for item in record["variants"]}
    assert disagreements["reference"] == []
    without_offset = {"id": "cks_1", "created_at": "2026-01-10T09:30:00"}
    listed = any(
        "the spec rejects it, the SDK accepts it" in text for text in disagreements["timestamp-without-offset"]
    )
    assert listed is sdk_accepts(without_offset)
    assert ("oracle: timestamp-without-offset:" in stdout) is listed


def test_selftest_rejects_an_unknown_variant(tmp_path: Path) -> None:
    result = conformance("selftest", "--variant", "nope", "--report-dir", str(tmp_path))
    assert result.returncode == 2
    assert "there is no variant 'nope'" in result.stderr


@pytest.mark.parametrize(
    ("conformant", "exit_code", "expected"),
    [(False, 1, True), (False, 0, False), (False, 3, False), (False, 2, False), (False, 130, False),
     (True, 0, True), (True, 1, False), (True, 3, False)],
)  # fmt: skip
def test_only_a_failed_run_catches_a_fault_and_only_a_passing_run_clears_a_conformant_variant(
    conformant: bool, exit_code: int, expected: bool
) -> None:
    assert judged_as_a_correct_gate_would(conformant=conformant, exit_code=exit_code) is expected


def _result(name: str, expected: str, *, as_expected: bool) -> VariantResult:
    return VariantResult(name, "", expected, 0, "", [], [], None, 0.0, as_expected, [], [])


def test_the_score_counts_misses_and_false_alarms() -> None:
    record = score(
        [_result("a", "fails", as_expected=True), _result("b", "fails", as_expected=False),
         _result("c", "passes", as_expected=True), _result("d", "passes", as_expected=False)]
    )  # fmt: skip
    assert record == {"faults": 2, "caught": 1, "kill_rate": 0.5, "conformant": 2, "false_alarms": 1}
    assert not passed(record)
    assert not passed({**record, "caught": 2})
    assert passed({**record, "caught": 2, "false_alarms": 0})


def test_the_kill_rate_is_a_share_kept_to_four_places() -> None:
    record = score([_result("a", "fails", as_expected=True)] + [_result(n, "fails", as_expected=False) for n in "bc"])
    assert record["kill_rate"] == 0.3333
    assert score([_result("a", "passes", as_expected=True)])["kill_rate"] is None  # no fault: no rate


def test_a_conformant_variant_the_gate_fails_is_a_false_alarm_and_fails_the_selftest(tmp_path: Path) -> None:
    # A spec without the status the reference's sessions report makes the gate reject a correct server.
    spec = spec_with(tmp_path, lambda schemas: schemas["IntentStatus"]["enum"].remove("succeeded"))
    result = conformance(
        "selftest", "--variant", "reference", "--spec", str(spec), "--report-dir", str(tmp_path), isolated=True
    )
    record = json.loads((tmp_path / "selftest.json").read_text(encoding="utf-8"))
    assert (record["false_alarms"], record["conformant"]) == (1, 1)
    assert result.returncode == 1, result.stdout
    assert "false alarms: 1/1 conformant variants failed" in result.stdout


def test_a_fault_the_gate_misses_lowers_the_kill_rate_and_fails_the_selftest(tmp_path: Path) -> None:
    # A spec that lists 'paid' turns the variant's fault into conformant behaviour: the gate passes it.
    spec = spec_with(tmp_path, lambda schemas: schemas["IntentStatus"]["enum"].append("paid"))
    result = conformance(
        "selftest", "--variant", "unknown-payment-status", "--spec", str(spec), "--report-dir", str(tmp_path),
        isolated=True,
    )  # fmt: skip
    record = json.loads((tmp_path / "selftest.json").read_text(encoding="utf-8"))
    assert (record["caught"], record["faults"], record["kill_rate"]) == (0, 1, 0.0)
    assert result.returncode == 1, result.stdout
    assert "kill rate: 0/1 faults caught (0%)" in result.stdout


def _descendants(root: int) -> list[int]:
    """The processes below `root`, from /proc (Linux)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with suppress(OSError):
            # The command name, in parentheses, may hold spaces: the fields after it are split safely.
            parents[int(stat.parent.name)] = int(stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _ignores_ctrl_c(pid: int) -> bool:
    """Whether the process ignores SIGINT (True also for one that has ended since: it can print nothing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return True
    ignored = next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:"))
    return bool(int(ignored, 16) & (1 << (signal.SIGINT - 1)))


def test_ctrl_c_stops_the_selftest_without_judging_the_variants_still_queued(tmp_path: Path) -> None:
    # Waiting for every queued variant after Ctrl-C made the selftest take a minute to stop.
    quick = [name for name, variant in VARIANTS.items() if not variant.api.holds_replies][:12]
    process = start(
        ["selftest", "--jobs", "1", "--max-examples", "5", "--report-dir", str(tmp_path),
         *(arg for name in quick for arg in ("--variant", name))],
        process_group=0,
    )  # fmt: skip
    judged = tmp_path / "selftest"
    wait_for(lambda: any(judged.glob("*/summary.json")) or process.poll() is not None, "a first variant judged")
    # Only the selftest's own process answers Ctrl-C: a worker that took it between two variants (or in a
    # callback of Hypothesis's) printed a traceback, at a moment no timing of this test could choose.
    helpers = _descendants(process.pid)
    assert helpers, "the selftest started no worker"
    assert [pid for pid in helpers if not _ignores_ctrl_c(pid)] == []
    os.killpg(process.pid, signal.SIGINT)  # the terminal's Ctrl-C reaches the whole group
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stdout + stderr
    assert stderr.strip().splitlines()[-1] == "conformance: interrupted"
    assert "Traceback" not in stdout + stderr
    assert not (tmp_path / "selftest.json").exists()
    assert len(list(judged.iterdir())) < len(quick) - 2

    def group_gone() -> bool:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(group_gone, "every worker of the selftest to end")


# --- one variant judged in this process, and the table the selftest prints ---------------------------------------


class BrokenBodyAndBareErrors(UnknownPaymentStatus, BareErrors):
    """A fault (a status IntentStatus does not list) beside a mere warning (error bodies the spec leaves open)."""


def test_a_judged_variant_lists_exactly_the_failed_and_the_warned_checks_of_its_run(tmp_path: Path) -> None:
    variant = Variant("broken-and-bare", BrokenBodyAndBareErrors, conformant=False)
    started = time.perf_counter()
    result = _judge(variant, SPEC, tmp_path, max_examples=5)
    took = time.perf_counter() - started
    summary = json.loads((tmp_path / "selftest" / "broken-and-bare" / "summary.json").read_text(encoding="utf-8"))
    statuses = {item["id"]: item["status"] for item in summary["checks"]}
    assert result.caught_by == [name for name, status in statuses.items() if status == "failed"] == ["response.schema"]
    assert result.warned == [name for name, status in statuses.items() if status == "warned"] == ["errors.json_body"]
    assert "passed" in statuses.values()
    assert (result.name, result.expected, result.exit_code, result.status) == (
        "broken-and-bare", "fails", 1, "non-conformant",
    )  # fmt: skip
    assert result.as_expected
    assert (
        result.description == "A fault (a status IntentStatus does not list) beside a mere warning (error bodies"
        " the spec leaves open)."
    )
    assert result.requests_sent == summary["run"]["requests_sent"] > 0
    assert result.first_detection_seconds == summary["run"]["first_failure_after_seconds"]
    assert result.first_detection_seconds is not None
    assert 0 < result.duration_seconds <= took
    assert result.duration_seconds == round(result.duration_seconds, 3)


def test_a_conformant_variant_judged_passes_with_nothing_caught(tmp_path: Path) -> None:
    result = _judge(VARIANTS["reference"], SPEC, tmp_path, max_examples=5)
    assert (result.expected, result.exit_code, result.status, result.as_expected) == ("passes", 0, "conforms", True)
    assert result.caught_by == result.warned == []
    assert result.first_detection_seconds is None
    assert result.oracle_disagreements == []


def test_a_variant_that_breaks_the_gate_is_scored_could_not_judge_never_caught(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conformance import engine  # noqa: PLC0415 - the module _judge imports

    def broken(*_: object, **__: object) -> None:
        message = "boom"
        raise RuntimeError(message)

    monkeypatch.setattr(engine, "run", broken)
    result = _judge(VARIANTS["unknown-payment-status"], SPEC, tmp_path, max_examples=5)
    assert (result.exit_code, result.status) == (3, "the gate broke: RuntimeError: boom")
    assert not result.as_expected
    assert (result.caught_by, result.warned, result.requests_sent) == ([], [], 0)
    assert result.first_detection_seconds is None
    assert result.schemathesis_disagreements == []


class SomeSessionsUnreadable(CheckoutApi):
    """The first seeded session is a 404, the second not JSON, the third without its offset, the rest as they are."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        first, second, third = self.seeded_ids[:3]
        if target.endswith(first):
            return Reply.error(404, "NOT_FOUND", "gone")
        if target.endswith(second):
            return Reply(200, b"{not json", {"Content-Type": "application/json"})
        if reply.status == 200 and target.endswith(third):
            body = json.loads(reply.body)
            return Reply.json(200, {**body, "created_at": body["created_at"][:19]})
        return reply


def test_the_sdk_oracle_lists_each_body_the_spec_and_the_sdk_judge_differently(contract: Contract) -> None:
    api = SomeSessionsUnreadable(KEY, seeded_sessions())
    with Sandbox(api=api) as sandbox:
        disagreements = _sdk_disagreements(sandbox, KEY, contract)
        without_offset = json.loads(
            api.handle("GET", f"/checkouts/{api.seeded_ids[2]}", {"Authorization": f"Bearer {KEY}"}).body
        )
    assert not contract.validator.is_valid(without_offset)
    if sdk_accepts(without_offset):
        # Whatever the SDK decides one day, a disagreement is listed with both verdicts and the body.
        assert len(disagreements) == 1
        assert disagreements[0].startswith(f"{api.seeded_ids[2]}: the spec rejects it, the SDK accepts it: {{")
    else:
        assert disagreements == []


def _row(name: str, *, expected: str = "fails", as_expected: bool = True, **fields: Any) -> dict[str, Any]:
    result = VariantResult(name, "", expected, 1, "non-conformant", [], [], None, 1.0, as_expected, [], [])
    return {**asdict(result), **fields}


def test_the_printed_table_shows_each_variant_in_aligned_columns_and_the_score() -> None:
    record = {
        **score([]),
        "faults": 3, "caught": 2, "kill_rate": 0.6667, "conformant": 1, "false_alarms": 1, "sdk_oracle": True,
        "variants": [
            _row("three-checks", caught_by=["a.one", "b.two", "c.three"], first_detection_seconds=0.123),
            _row("two", caught_by=["a.one", "b.two"]),
            _row("missed", as_expected=False, exit_code=0, status="conforms"),
            _row("alarm", expected="passes", as_expected=False, schemathesis_disagreements=["s1", "s2", "s3", "s4"],
                 oracle_disagreements=["o1"]),
        ],
    }  # fmt: skip
    assert render(record) == [
        "VARIANT       EXPECTED  RESULT              OK   FIRST s  CAUGHT BY",
        "three-checks  fails     non-conformant (1)  yes  0.12     a.one +2",
        "two           fails     non-conformant (1)  yes  -        a.one +1",
        "missed        fails     conforms (0)        NO   -        -",
        "alarm         passes    non-conformant (1)  NO   -        -",
        "",
        "kill rate: 2/3 faults caught (67%)",
        "false alarms: 1/1 conformant variants failed",
        "oracle: alarm: o1",
        "schemathesis oracle: alarm: s1",
        "schemathesis oracle: alarm: s2",
        "schemathesis oracle: alarm: s3",
    ]
    without_sdk = render({**record, "sdk_oracle": False, "kill_rate": None, "variants": []})
    assert without_sdk[-3:] == [
        "kill rate: 2/3 faults caught",
        "false alarms: 1/1 conformant variants failed",
        "oracle: the dodopayments SDK is not installed, so no body was compared with it",
    ]


def test_the_printed_table_fits_in_100_columns_whatever_the_variants_and_their_checks() -> None:
    # The longest names there are, the widest result, every check catching, and a slow first detection.
    longest_checks = sorted(REGISTRY, key=len, reverse=True)
    record = {
        **score([]), "sdk_oracle": True,
        "variants": [
            _row(name, exit_code=3, status="could not judge", caught_by=longest_checks, first_detection_seconds=1234.5)
            for name in VARIANTS
        ],
    }  # fmt: skip
    table = render(record)[: len(VARIANTS) + 1]
    assert max(len(line) for line in table) <= 100
    # Every variant keeps its name, verdict and the first check that caught it; only the count of the rest is cut.
    for line, name in zip(table[1:], VARIANTS, strict=True):
        assert line.startswith(name)
        assert "could not judge (3)" in line
        assert longest_checks[0][:20] in line
    typical = render({**record, "variants": [_row(name, caught_by=["response.schema"]) for name in VARIANTS]})
    assert all(line.endswith("response.schema") for line in typical[1 : len(VARIANTS) + 1])


def test_a_selftest_of_two_variants_prints_a_line_for_each_and_writes_its_whole_record(tmp_path: Path) -> None:
    # Without 'succeeded' in IntentStatus the reference's sessions break the spec: a false alarm, beside a fault
    # that is still caught.
    spec = spec_with(tmp_path, lambda schemas: schemas["IntentStatus"]["enum"].remove("succeeded"))
    lines: list[str] = []
    started = time.perf_counter()
    record = run_selftest(
        spec, tmp_path / "out", jobs=2, max_examples=5, variants=["unknown-payment-status", "reference"],
        progress=lines.append,
    )  # fmt: skip
    took = time.perf_counter() - started
    assert (record["format"], record["format_version"]) == ("dodo-conformance/selftest", 2)
    assert (record["max_examples"], record["request_timeout_seconds"]) == (5, 10.0)
    assert [item["name"] for item in record["variants"]] == ["unknown-payment-status", "reference"]
    assert (record["faults"], record["caught"], record["conformant"], record["false_alarms"]) == (1, 1, 1, 1)
    assert record["sdk_oracle"] is True
    assert max(item["duration_seconds"] for item in record["variants"]) < record["duration_seconds"] <= took
    assert (tmp_path / "out" / "selftest.json").read_text(encoding="utf-8") == json.dumps(record, indent=2) + "\n"
    assert sorted(line.split("] ", 1)[0] for line in lines) == ["[ 1/2", "[ 2/2"]
    shown = {line.split("] ", 1)[1].rsplit(", ", 1)[0] for line in lines}
    assert shown == {
        "unknown-payment-status: non-conformant (exit 1), as expected",
        "reference: non-conformant (exit 1), NOT as expected",
    }
    assert all(re.fullmatch(r"\[ [12]/2\] .*, \d+\.\d s", line) for line in lines)


def test_the_schemathesis_oracle_judges_beside_the_gate_in_every_judged_variant(tmp_path: Path) -> None:
    # NaN in a body: the gate's strict JSON reading fails it, Schemathesis' looser one passes it. Each variant is
    # judged with the oracle on, so that the selftest's record shows where the two differ.
    result = _judge(VARIANTS["nan-in-body"], SPEC, tmp_path, max_examples=5)
    assert result.exit_code == 1
    assert result.schemathesis_disagreements
    assert all(
        "response.schema fails it, Schemathesis' response_schema_conformance passes it" in text
        for text in result.schemathesis_disagreements
    )


def test_an_error_while_judging_ends_the_running_variant_at_once(tmp_path: Path) -> None:
    # The error (Ctrl-C, or a crash) comes as the first variant is reported. The second is already running in the
    # one worker: it is ended, not waited for, so no report of it is written.
    quick = [name for name, variant in VARIANTS.items() if not variant.api.holds_replies][:3]

    def fail(_line: str) -> None:
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        run_selftest(SPEC, tmp_path, jobs=1, max_examples=5, variants=quick, progress=fail)
    assert len(list((tmp_path / "selftest").glob("*/summary.json"))) == 1
    assert not (tmp_path / "selftest.json").exists()


class SeededAnsweredWith201(CheckoutApi):
    """Every seeded session comes whole and valid, but with 201 Created rather than 200."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        return Reply(201, reply.body, reply.headers) if reply.status == 200 else reply


@pytest.mark.parametrize(("api", "listed"), [(CheckoutApi, True), (SeededAnsweredWith201, False)])
def test_the_sdk_oracle_lists_a_body_only_the_sdk_rejects_and_reads_only_200_replies(
    contract: Contract, monkeypatch: pytest.MonkeyPatch, api: type[CheckoutApi], *, listed: bool
) -> None:
    # The seeded bodies are valid per the spec; an SDK that rejects every body stands in for a stricter one, so that
    # the other direction of a disagreement shows. Only a 200 is a session read: a 201's body is not compared.
    monkeypatch.setattr("conformance.oracles.sdk_accepts", lambda _body: False)
    served = api(KEY, seeded_sessions())
    with Sandbox(api=served) as sandbox:
        disagreements = _sdk_disagreements(sandbox, KEY, contract)
    if listed:
        assert len(disagreements) == len(served.seeded_ids)
        assert all(": the spec accepts it, the SDK rejects it: {" in text for text in disagreements)
    else:
        assert disagreements == []
