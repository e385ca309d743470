"""Cassettes: record once with the key filtered, replay offline, and gate spec changes on the recording."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import KEY, ROOT, SPEC, check_status, conformance, id_args, spec_with, summary

from conformance.cassettes import METADATA_FILE, load_interactions
from conformance.credentials import REPLAY_KEY
from conformance.errors import BadInputError
from conformance.sandbox import CheckoutApi, Reply, Sandbox, seeded_sessions
from conformance.sandbox.variants import VARIANTS

GENERATED = "generated_ids.yaml"
KNOWN = "known_sessions.yaml"
EDGES = "edge_ids.yaml"
RECORDED_SEED = 7
# Besides the timings, the command names the report folder each replay wrote to.
TIMINGS = ("started", "finished", "duration_seconds", "first_failure_after_seconds", "command")


def record(cassette_dir: Path, report_dir: Path) -> subprocess.CompletedProcess[str]:
    """Record a live run against a sandbox started here with a known key, then stop the sandbox."""
    with Sandbox(api=VARIANTS["reference"].api(KEY, seeded_sessions())) as sandbox:
        return conformance(
            "run", "--record", "--base-url", sandbox.base_url, "--cassette-dir", str(cassette_dir),
            # Not the default seed: a replay must repeat the recording's seed, not fall back to its own.
            "--report-dir", str(report_dir), "--max-examples", "30", "--seed", str(RECORDED_SEED),
            *id_args(sandbox.checkout_ids),
            env={"DODO_PAYMENTS_API_KEY": KEY},
        )  # fmt: skip


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("recorded")
    result = record(base / "cassettes", base / "reports")
    assert result.returncode == 0, result.stdout + result.stderr
    return base


@pytest.fixture
def cassettes(recorded: Path, tmp_path: Path) -> Path:
    """A private copy of the recording, free to tamper with."""
    copy = tmp_path / "cassettes"
    shutil.copytree(recorded / "cassettes", copy)
    return copy


def replay(
    cassette_dir: Path, report_dir: Path, *extra: str, offline: bool = False
) -> subprocess.CompletedProcess[str]:
    if not offline:
        return conformance(
            "run", "--replay", "--cassette-dir", str(cassette_dir), "--report-dir", str(report_dir), *extra
        )
    # A new network namespace with no interfaces but a down loopback: nothing can be reached.
    return subprocess.run(
        ["unshare", "-rn", sys.executable, "-m", "conformance", "run", "--replay", "--cassette-dir", str(cassette_dir),
         "--report-dir", str(report_dir), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_recording_writes_one_readable_cassette_per_scenario_and_the_run_metadata(recorded: Path) -> None:
    names = {path.name for path in (recorded / "cassettes").iterdir()}
    assert names == {
        METADATA_FILE,
        "preflight.yaml",
        KNOWN,
        "credentials.yaml",
        "invented_ids.yaml",
        EDGES,
        "path_syntax_ids.yaml",
        "aliases.yaml",
        "reused_connection.yaml",
        "concurrent_reads.yaml",
        GENERATED,
    }
    document = yaml.safe_load((recorded / "cassettes" / KNOWN).read_text(encoding="utf-8"))
    first = document["interactions"][0]
    assert first["request"]["uri"].startswith("http://recorded-target/checkouts/cks_")
    assert first["response"]["body"]["string"].startswith('{"id": "cks_')
    assert "Date" not in first["response"]["headers"]
    metadata = json.loads((recorded / "cassettes" / METADATA_FILE).read_text(encoding="utf-8"))
    assert metadata["max_examples"] == 30
    assert len(metadata["checkout_ids"]) == 12
    # The key's public prefix, never more of it: a replay then sends the near misses of its structure again.
    assert metadata["key_prefix"] == "sk_test_"


def test_the_key_is_in_no_cassette_and_no_report(recorded: Path) -> None:
    files = [path for path in recorded.rglob("*") if path.is_file()]
    assert len(files) >= 11
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path
    known = yaml.safe_load((recorded / "cassettes" / KNOWN).read_text(encoding="utf-8"))
    assert known["interactions"][0]["request"]["headers"]["Authorization"] == ["Bearer [REDACTED]"]


def test_replay_with_the_server_stopped_and_no_network_judges_the_recording(recorded: Path, tmp_path: Path) -> None:
    result = replay(recorded / "cassettes", tmp_path, offline=True)
    assert result.returncode == 0, result.stdout + result.stderr
    live, replayed = summary(recorded / "reports"), summary(tmp_path)
    assert replayed["exchanges"] == live["exchanges"]
    assert replayed["run"]["target"].startswith("replay of ")
    live_counts = {item["id"]: item["passed"] for item in live["checks"]}
    for item in replayed["checks"]:
        if item["id"] != "schemathesis.positive_data_acceptance":
            assert item["passed"] == live_counts[item["id"]], item["id"]
    assert REPLAY_KEY not in (tmp_path / "summary.json").read_text(encoding="utf-8")


def _without_timings(record: dict[str, Any]) -> dict[str, Any]:
    run = {key: value for key, value in record["run"].items() if key not in TIMINGS}
    return {**record, "run": run}


def test_two_replays_give_the_same_summary_apart_from_timings(recorded: Path, tmp_path: Path) -> None:
    first = replay(recorded / "cassettes", tmp_path / "a")
    second = replay(recorded / "cassettes", tmp_path / "b")
    assert first.returncode == second.returncode == 0
    assert _without_timings(summary(tmp_path / "a")) == _without_timings(summary(tmp_path / "b"))


def test_a_tampered_response_fails_the_replay_and_names_the_check(cassettes: Path, tmp_path: Path) -> None:
    _rewrite(cassettes / KNOWN, '"payment_status": "succeeded"', '"payment_status": "paid"')
    result = replay(cassettes, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert check_status(tmp_path)["response.schema"] == "failed"
    finding = next(item for item in summary(tmp_path)["checks"] if item["id"] == "response.schema")["findings"][0]
    assert "'paid'" in finding["received"]
    # The URL names the target the answers were recorded from, not a placeholder.
    recorded = json.loads((cassettes / METADATA_FILE).read_text(encoding="utf-8"))["target"]
    assert finding["request"]["url"].startswith(f"{recorded}/checkouts/cks_")
    assert finding["curl"].endswith(f"{recorded}/checkouts/cks_4FmErxTM1cHho4PAAANvk") or recorded in finding["curl"]


def test_a_replay_says_its_answers_came_from_the_recording_and_asks_a_server_to_send_a_finding_again(
    recorded: Path, cassettes: Path, tmp_path: Path
) -> None:
    # What a replay differs in, each said once by its kind of target: nothing sent, the recording named in why a
    # check judged nothing, and a finding's replay line asking for a server, since a recording answers nothing new.
    _rewrite(cassettes / KNOWN, '"payment_status": "succeeded"', '"payment_status": "paid"')
    result = replay(cassettes, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    replayed, live = summary(tmp_path), summary(recorded / "reports")
    assert (replayed["run"]["mode"], replayed["run"]["requests_sent"], replayed["run"]["sandbox"]) == (
        "replay",
        0,
        False,
    )
    assert (live["run"]["mode"], live["run"]["sandbox"]) == ("record", False)
    assert live["run"]["requests_sent"] >= live["exchanges"]["total"] > 0
    assert replayed["groups"]
    assert all(group["replay"].endswith(" --base-url URL") for group in replayed["groups"])
    skipped = [item["skip_reason"] for item in replayed["checks"] if item["skip_reason"]]
    assert skipped
    assert all(reason.startswith("the recording ") for reason in skipped), skipped


def test_a_tampered_generated_response_fails_too(cassettes: Path, tmp_path: Path) -> None:
    _rewrite(cassettes / GENERATED, "code: 404", "code: 503")
    result = replay(cassettes, tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert check_status(tmp_path)["response.no_server_error"] == "failed"


def test_a_request_without_a_recording_cannot_be_judged_and_says_how_to_re_record(
    cassettes: Path, tmp_path: Path
) -> None:
    document = yaml.safe_load((cassettes / EDGES).read_text(encoding="utf-8"))
    dropped = document["interactions"].pop()
    (cassettes / EDGES).write_text(yaml.safe_dump(document), encoding="utf-8")
    result = replay(cassettes, tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    verdict = next(line for line in result.stdout.splitlines() if line.startswith("conformance: "))
    path = dropped["request"]["uri"].removeprefix("http://recorded-target")
    assert f"GET {path} has no recording in {cassettes}/{EDGES}" in verdict
    assert "conformance run --record" in verdict


@pytest.mark.parametrize(
    ("damage", "cause"),
    [
        (lambda text: text[: len(text) // 2], "is malformed or truncated"),
        (lambda _: "interactions: [{request: 5}]\n", "is malformed or truncated"),
        (lambda _: "\x00\x01not yaml: [", "is malformed or truncated"),
    ],
    ids=["truncated", "wrong shape", "garbage"],
)
def test_a_damaged_cassette_is_a_one_line_error_naming_the_file(
    cassettes: Path, tmp_path: Path, damage: Any, cause: str
) -> None:
    path = cassettes / KNOWN
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    result = replay(cassettes, tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert str(path) in result.stderr
    assert cause in result.stderr


def test_a_damaged_cassette_raises_bad_input_when_loaded(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("interactions:\n- request: {method: GET\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"broken\.yaml is malformed"):
        load_interactions(path)


def test_a_replay_repeats_the_recordings_seed(recorded: Path, tmp_path: Path) -> None:
    result = replay(recorded / "cassettes", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(recorded / "reports")["run"]["seed"] == RECORDED_SEED
    assert summary(tmp_path)["run"]["seed"] == RECORDED_SEED
    assert f"seed {RECORDED_SEED};" in result.stdout


def test_a_replayed_request_matches_only_a_recording_with_the_same_kind_of_key(cassettes: Path, tmp_path: Path) -> None:
    credentials = cassettes / "credentials.yaml"
    document = yaml.safe_load(credentials.read_text(encoding="utf-8"))
    keyless = next(item for item in document["interactions"] if "Authorization" not in item["request"]["headers"])
    keyless["request"]["headers"]["Authorization"] = ["Bearer [REDACTED]"]
    credentials.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = replay(cassettes, tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "has no recording in" in result.stdout.splitlines()[-1]


def test_re_recording_removes_cassettes_of_scenarios_that_no_longer_exist(cassettes: Path, tmp_path: Path) -> None:
    (cassettes / "a_scenario_since_removed.yaml").write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    result = record(cassettes, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (cassettes / "a_scenario_since_removed.yaml").exists()
    assert (cassettes / KNOWN).exists()


def test_a_recording_that_cannot_finish_leaves_the_old_cassettes_untouched(cassettes: Path, tmp_path: Path) -> None:
    before = {path.name: path.read_bytes() for path in cassettes.iterdir()}
    result = conformance(
        "run", "--record", "--base-url", "http://127.0.0.1:9", "--cassette-dir", str(cassettes),
        "--report-dir", str(tmp_path), env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 3
    assert {path.name: path.read_bytes() for path in cassettes.iterdir()} == before


def test_re_recording_an_unchanged_server_changes_only_the_metadata(recorded: Path, tmp_path: Path) -> None:
    result = record(tmp_path / "cassettes", tmp_path / "reports")
    assert result.returncode == 0
    for path in (recorded / "cassettes").iterdir():
        old, new = path.read_text(encoding="utf-8"), (tmp_path / "cassettes" / path.name).read_text(encoding="utf-8")
        changed = [pair for pair in zip(old.splitlines(), new.splitlines(), strict=True) if pair[0] != pair[1]]
        if path.name == METADATA_FILE:
            # The time, and the port of this test's server, which a real target keeps.
            assert [old.split(":")[0] for old, _ in changed] == ['  "target"', '  "recorded_at"']
        else:
            assert changed == [], (path.name, changed[:3])


def _drop_succeeded(schemas: dict[str, Any]) -> None:
    schemas["IntentStatus"]["enum"].remove("succeeded")


def _require_customer_name(schemas: dict[str, Any]) -> None:
    schemas["GetCheckoutSessionsStatus"]["required"].append("customer_name")


def _add_optional_field(schemas: dict[str, Any]) -> None:
    schemas["GetCheckoutSessionsStatus"]["properties"]["checkout_url"] = {"type": ["string", "null"]}


def _add_enum_value(schemas: dict[str, Any]) -> None:
    schemas["IntentStatus"]["enum"].append("expired")


@pytest.mark.parametrize(
    ("change", "expected"),
    [(_drop_succeeded, 1), (_require_customer_name, 1), (_add_optional_field, 0), (_add_enum_value, 0)],
    ids=["enum value removed", "field made required", "optional field added", "enum value added"],
)
def test_a_spec_change_is_judged_against_the_recorded_responses(
    recorded: Path, tmp_path: Path, change: Any, expected: int
) -> None:
    result = replay(recorded / "cassettes", tmp_path, "--spec", str(spec_with(tmp_path, change)))
    assert result.returncode == expected, result.stdout + result.stderr
    if expected:
        assert check_status(tmp_path)["response.schema"] == "failed"


def test_a_spec_whose_generated_requests_differ_still_judges_the_recording(recorded: Path, tmp_path: Path) -> None:
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    document["paths"]["/checkouts/{id}"]["get"]["parameters"][0]["schema"]["minLength"] = 30
    path = tmp_path / "longer-ids.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    result = replay(recorded / "cassettes", tmp_path, "--spec", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary(tmp_path)["exchanges"] == summary(recorded / "reports")["exchanges"]


def test_a_replay_judges_the_recorded_bursts_one_answer_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A recording has no overlap to show: its answers are read one at a time, in order.
    from conformance.gate import Gate  # noqa: PLC0415

    def no_overlap(*_: object, **__: object) -> None:
        message = "a replay sent a burst, as if it had a server"
        raise AssertionError(message)

    monkeypatch.setattr(Gate, "_burst", no_overlap)
    result = replay(ROOT / "cassettes", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    recording = json.loads((ROOT / "cassettes" / METADATA_FILE).read_text(encoding="utf-8"))
    assert recording["concurrency"] >= 2  # the recording has bursts, which this replay read one at a time
    assert summary(tmp_path)["exchanges"]["total"] > 0


def test_nothing_a_replay_does_reaches_the_network_even_what_vcrpy_does_not_intercept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A connection vcrpy knows nothing of (a raw socket), made during a replay to a server listening on this
    # machine: pytest-recording's network block refuses it, and the server never sees it.
    import socket  # noqa: PLC0415

    from conformance.gate import Gate  # noqa: PLC0415

    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)  # noqa: FBT003
    port = listener.getsockname()[1]

    def escape(self: Gate) -> None:
        del self
        with socket.create_connection(("127.0.0.1", port), timeout=60):
            pass

    monkeypatch.setattr(Gate, "reused_connection", escape)
    with listener:
        result = replay(ROOT / "cassettes", tmp_path)
        with pytest.raises(BlockingIOError):
            listener.accept()
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the gate itself failed: reused_connection: " in result.stdout.splitlines()[-1]


def test_the_shipped_cassettes_replay_offline(tmp_path: Path) -> None:
    result = replay(ROOT / "cassettes", tmp_path, offline=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (ROOT / "cassettes" / "README.md").exists()


class KeyReflector(CheckoutApi):
    """A server that repeats the key it was sent in a header and in the body, as a careless one might."""

    gzip = False

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        echoed = headers.get("Authorization", "")
        if reply.status != 200:
            return replace(reply, headers={**reply.headers, "X-Echo": echoed})
        body = {**json.loads(reply.body), "debug": f"authorized as {echoed}"}
        answer = Reply.json(200, body) if not echoed else replace(Reply.json(200, body), headers={
            "Content-Type": "application/json", "X-Echo": echoed})  # fmt: skip
        return replace(answer, gzip=self.gzip)


class GzipKeyReflector(KeyReflector):
    """The same, with every 200 body gzip-coded: a key inside a coded body is scrubbed too."""

    gzip = True


@pytest.mark.parametrize("reflector", [KeyReflector, GzipKeyReflector], ids=["plain", "gzip"])
def test_the_key_is_scrubbed_wherever_the_server_echoes_it(tmp_path: Path, reflector: type[KeyReflector]) -> None:
    with Sandbox(api=reflector(KEY, seeded_sessions())) as sandbox:
        result = conformance(
            "run", "--record", "--base-url", sandbox.base_url, "--cassette-dir", str(tmp_path / "cassettes"),
            "--report-dir", str(tmp_path / "reports"), "--max-examples", "5", *id_args(sandbox.checkout_ids),
            env={"DODO_PAYMENTS_API_KEY": KEY},
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    known = (tmp_path / "cassettes" / KNOWN).read_text(encoding="utf-8")
    assert "authorized as Bearer [REDACTED]" in known
    assert "X-Echo:\n      - Bearer [REDACTED]" in known
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    replayed = replay(tmp_path / "cassettes", tmp_path / "replayed")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr


def test_a_replay_reads_as_many_sessions_at_once_as_the_recording_did(tmp_path: Path) -> None:
    # The bursts' requests are in the recording: another --concurrency asks for requests it does not hold.
    cassettes = tmp_path / "cassettes"
    recorded = conformance(
        "run", "--sandbox", "--record", "--concurrency", "2", "--max-examples", "5",
        "--cassette-dir", str(cassettes), "--report-dir", str(tmp_path / "recorded"),
    )  # fmt: skip
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    replayed = conformance("run", "--replay", "--cassette-dir", str(cassettes), "--report-dir", str(tmp_path / "a"))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    other = conformance(
        "run", "--replay", "--concurrency", "8", "--cassette-dir", str(cassettes), "--report-dir", str(tmp_path / "b")
    )
    assert other.returncode == 2
    assert other.stderr == (
        "conformance: error: --concurrency 8 differs from the recording's 2, and a replay repeats the recording; "
        "drop --concurrency, or re-record with it\n"
    )
