"""The gate is safe to point at a payments API: it never hangs, crashes, leaks the key or follows money."""

from __future__ import annotations

import json
import signal
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from support import KEY, SPEC, check_status, conformance, id_args, run_against, start, summary, wait_for

from conformance.errors import BadInputError
from conformance.gate import derived_edge_ids, load_edge_ids
from conformance.hosts import is_loopback
from conformance.sandbox import CheckoutApi, Reply, Sandbox, seeded_sessions
from conformance.sandbox.variants import VARIANTS
from conformance.settings import Flags, build_settings, parse_rate

REPORTS = ("junit.xml", "summary.json", "summary.md", "report.html")


class Recorder(CheckoutApi):
    """The reference behaviour, remembering when each request came and what it asked."""

    def __init__(self, api_key: str = KEY) -> None:
        super().__init__(api_key, seeded_sessions())
        self.seen: list[tuple[float, str, str]] = []

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        self.seen.append((time.monotonic(), target, headers.get("Authorization", "")))
        return super().handle(method, target, headers)


class Always429(CheckoutApi):
    """Every request is rate limited."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:  # noqa: ARG002
        return Reply(429, headers={"Retry-After": "0"})


class Slow(CheckoutApi):
    """Every answer takes a while."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        return Reply(**{**super().handle(method, target, headers).__dict__, "delay_seconds": 0.15})


class RedirectElsewhere(CheckoutApi):
    """One session is answered 302 to another host."""

    elsewhere = ""

    def render(self, session: Any) -> Reply:
        if session.payment_status == "succeeded":
            return Reply(302, headers={"Location": f"{self.elsewhere}/steal/{session.id}"})
        return super().render(session)


# --- live mode ------------------------------------------------------------------------


def _spec_calling_live(tmp_path: Path, sandbox: Sandbox) -> Path:
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    document["servers"] = [{"url": sandbox.base_url, "description": "Live Mode Server Host"}]
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_a_live_mode_host_is_refused_before_any_request(tmp_path: Path, serve: Any) -> None:
    recorder = Recorder()
    sandbox = serve(recorder)
    result = run_against(sandbox, tmp_path, "--spec", str(_spec_calling_live(tmp_path, sandbox)), max_examples=20)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is Dodo's live mode, where requests act on real money" in result.stderr
    assert "--allow-live-mode" in result.stderr
    assert recorder.seen == []


def test_live_mode_runs_only_when_allowed(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(Recorder())
    spec = _spec_calling_live(tmp_path, sandbox)
    result = run_against(sandbox, tmp_path, "--spec", str(spec), "--allow-live-mode", max_examples=20)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_known_live_host_is_refused_even_when_the_spec_does_not_name_it() -> None:
    result = conformance("run", "--base-url", "https://live.dodopayments.com", env={"DODO_PAYMENTS_API_KEY": KEY})
    assert result.returncode == 2
    assert "live.dodopayments.com is Dodo's live mode" in result.stderr


# --- pacing and budgets ---------------------------------------------------------------


def test_a_remote_target_is_paced_at_dodos_documented_limit_and_loopback_is_not() -> None:
    remote = build_settings(Flags(base_url="https://test.dodopayments.com", api_key=KEY))
    assert remote.rate_per_second == pytest.approx(100 / 60)
    local = build_settings(Flags(base_url="http://127.0.0.1:8000", api_key=KEY))
    assert local.rate_per_second is None
    assert is_loopback("http://localhost:1")
    assert is_loopback("http://[::1]:2")
    assert not is_loopback("https://10.0.0.1")


@pytest.mark.parametrize(("text", "per_second"), [("100/m", 100 / 60), ("10/s", 10), ("3600/h", 1), ("2.5/s", 2.5)])
def test_rates_are_read_per_unit(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["100", "fast", "0/s", "-1/m", "10/d"])
def test_a_rate_that_is_no_rate_is_bad_input(text: str) -> None:
    with pytest.raises(BadInputError, match="is not a rate"):
        parse_rate(text)


def test_the_rate_limit_spaces_requests_apart(tmp_path: Path, serve: Any) -> None:
    recorder = Recorder()
    sandbox = serve(recorder)
    result = run_against(sandbox, tmp_path, "--rate-limit", "40/s", max_examples=5)
    assert result.returncode == 0, result.stdout + result.stderr
    times = [seen[0] for seen in recorder.seen]
    assert len(times) > 50
    # Measured where the requests arrive, so each gap jitters; the span cannot shrink.
    assert times[-1] - times[0] >= (len(times) - 1) / 40 * 0.95


def test_a_run_past_its_time_budget_cannot_be_judged_and_stops(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(Slow(KEY, seeded_sessions()))
    result = run_against(sandbox, tmp_path, "--max-time", "1.5", max_examples=20)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "time budget of 1.5 s ran out" in result.stdout
    # Generous for a busy machine, and still far below the 37 s the run takes when the budget is ignored.
    assert summary(tmp_path)["run"]["duration_seconds"] < 1.5 + 20


def test_a_reply_in_flight_when_the_time_budget_ends_stops_the_run_then_not_at_its_timeout(
    tmp_path: Path, serve: Any
) -> None:
    # A body that trickles for the whole 60 s request timeout: the 3 s budget must hold anyway, and the
    # budget running out is the gate's limit, never the target's failure.
    sandbox = serve(VARIANTS["body-trickles"].api(KEY, seeded_sessions()))
    result = run_against(sandbox, tmp_path, "--max-time", "3", "--request-timeout", "60", max_examples=5)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "time budget of 3 s ran out" in result.stdout
    assert summary(tmp_path)["run"]["duration_seconds"] < 30
    assert "FAIL    MUST    transport.reply" not in result.stdout


def test_a_target_that_keeps_answering_429_cannot_be_judged(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(Always429(KEY, seeded_sessions()))
    result = run_against(sandbox, tmp_path, max_examples=20)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "answered 429 to 3 requests in a row" in result.stdout
    # No check row and no finding marked FAIL (the table's note may name FAIL rows to say what they are not).
    assert [line for line in result.stdout.splitlines() if line.startswith("FAIL ")] == []


# --- the key --------------------------------------------------------------------------


def test_the_key_can_come_from_a_file_and_is_never_printed(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(Recorder())
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n", encoding="utf-8")
    result = conformance(
        "run", "--base-url", sandbox.base_url, "--api-key-file", str(key_file), "--report-dir", str(tmp_path / "r"),
        "--max-examples", "5", *id_args(sandbox.checkout_ids),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert KEY not in result.stdout + result.stderr


def test_the_key_is_redacted_from_error_messages_too(tmp_path: Path) -> None:
    result = conformance(
        "run", "--base-url", f"http://127.0.0.1:9/{KEY}", "--report-dir", str(tmp_path),
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 3
    assert "cannot be reached" in result.stdout
    assert KEY not in result.stdout + result.stderr
    assert "[REDACTED]" in result.stdout
    for name in REPORTS:
        assert KEY not in (tmp_path / name).read_text(encoding="utf-8"), name


def test_a_redirect_to_another_host_is_not_followed(tmp_path: Path, serve: Any) -> None:
    elsewhere = Recorder(api_key="sk_elsewhere_0000000")
    other = serve(elsewhere)
    redirecting = RedirectElsewhere(KEY, seeded_sessions())
    redirecting.elsewhere = other.base_url
    result = run_against(serve(redirecting), tmp_path, max_examples=20)
    assert result.returncode == 1, result.stdout + result.stderr
    assert check_status(tmp_path)["response.status_documented"] == "failed"
    assert elsewhere.seen == []


# --- targets that misbehave -----------------------------------------------------------


def test_plain_http_behind_an_https_url_cannot_be_judged_and_says_so(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(Recorder())
    result = conformance(
        "run", "--base-url", sandbox.base_url.replace("http://", "https://"), "--report-dir", str(tmp_path),
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 3
    verdict = [line for line in result.stdout.splitlines() if line.startswith("conformance: ")]
    assert len(verdict) == 1
    assert "the target answered, but not in TLS: it answered the TLS handshake in plain text" in verdict[0]
    assert "the URL should start with http://" in verdict[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_a_huge_body_is_judged_and_one_past_the_cap_is_reported_unjudged(tmp_path: Path, serve: Any) -> None:
    result = run_against(serve(VARIANTS["huge-body"].api(KEY, seeded_sessions())), tmp_path / "huge", max_examples=20)
    assert result.returncode == 0, result.stdout + result.stderr

    class Enormous(CheckoutApi):
        def render(self, session: Any) -> Reply:
            if session.payment_status == "failed":
                return Reply(200, b'{"id": "' + b"x" * (40 * 1024 * 1024) + b'"}', {"Content-Type": "application/json"})
            return super().render(session)

    result = run_against(serve(Enormous(KEY, seeded_sessions())), tmp_path / "enormous", max_examples=20)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "answered a body larger than the 33554432 bytes the gate reads" in result.stdout


def test_a_body_that_is_not_utf8_is_a_failure_not_a_crash(tmp_path: Path, serve: Any) -> None:
    result = run_against(serve(VARIANTS["body-not-utf8"].api(KEY, seeded_sessions())), tmp_path, max_examples=20)
    assert result.returncode == 1, result.stdout + result.stderr
    finding = next(item for item in summary(tmp_path)["checks"] if item["id"] == "response.schema")["findings"][0]
    assert "not UTF-8" in finding["received"]


# --- interruption ---------------------------------------------------------------------


def _complete_or_absent(report_dir: Path) -> None:
    for name in REPORTS:
        path = report_dir / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        if name == "summary.json":
            json.loads(text)
        elif name == "junit.xml":
            ET.fromstring(text)  # noqa: S314 - our own file
        else:
            assert text.rstrip().endswith(("</html>", "```", "|")) or text.endswith("\n"), name
    assert not list(report_dir.glob(".*.tmp"))


def test_ctrl_c_leaves_reports_and_cassettes_whole_or_untouched(tmp_path: Path, serve: Any) -> None:
    recorder = Recorder()
    sandbox = serve(recorder)
    cassettes = tmp_path / "cassettes"
    cassettes.mkdir()
    (cassettes / "invented_ids.yaml").write_text("interactions: []\nversion: 1\n", encoding="utf-8")
    before = {path.name: path.read_bytes() for path in cassettes.iterdir()}
    process = start(
        ["run", "--record", "--base-url", sandbox.base_url,
         "--cassette-dir", str(cassettes), "--report-dir", str(tmp_path / "reports"), "--max-examples", "5000",
         *id_args(sandbox.checkout_ids)],
        env={"DODO_PAYMENTS_API_KEY": KEY, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    # Past the fixed scenarios (some cassettes are already written in staging) and into the generated ids.
    wait_for(lambda: len(recorder.seen) >= 200 or process.poll() is not None, "the recording to be under way")
    process.send_signal(signal.SIGINT)
    stdout, _ = process.communicate(timeout=120)
    assert process.returncode == 130, stdout
    assert {path.name: path.read_bytes() for path in cassettes.iterdir()} == before
    _complete_or_absent(tmp_path / "reports")
    assert summary(tmp_path / "reports")["result"]["exit_code"] == 130


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["run", "--exclude-check", "response.nope"], "--exclude-check 'response.nope' is not a check id"),
        (["run", "--rate-limit", "lots"], "--rate-limit 'lots' is not a rate"),
        (["run", "--max-time", "0"], "--max-time is 0"),
        (["run", "--base-url", "http://127.0.0.1:99999"], "has an invalid port"),
        (["run", "--base-url", "http://[::1"], "is not an http(s) URL"),
    ],
)
def test_more_bad_input_is_one_line_with_exit_2(args: list[str], cause: str) -> None:
    result = conformance(*args, env={"DODO_PAYMENTS_API_KEY": KEY})
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1
    assert cause in result.stderr


def test_an_excluded_check_is_reported_skipped_with_why(tmp_path: Path) -> None:
    result = conformance("run", "--sandbox", "--exclude-check", "errors.json_body", "--report-dir", str(tmp_path))
    assert result.returncode == 0
    check = next(item for item in summary(tmp_path)["checks"] if item["id"] == "errors.json_body")
    assert check["status"] == "skipped"
    assert check["skip_reason"] == "excluded with --exclude-check"
    assert check["passed"] == 0


def test_proxy_variables_in_the_environment_never_carry_the_key(tmp_path: Path, serve: Any) -> None:
    proxy = Recorder(api_key="sk_proxy_000000000000")
    proxy_url = serve(proxy).base_url
    sandbox = serve(Recorder())
    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    result = conformance(
        "run", "--base-url", sandbox.base_url, "--report-dir", str(tmp_path), "--max-examples", "5",
        *id_args(sandbox.checkout_ids[:1]),
        env={"DODO_PAYMENTS_API_KEY": KEY, **dict.fromkeys(names, proxy_url)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert proxy.seen == []


def test_every_edge_case_id_and_every_near_miss_of_a_known_id_is_sent(tmp_path: Path, serve: Any) -> None:
    recorder = Recorder()
    sandbox = serve(recorder)
    known = sandbox.checkout_ids[:1]
    result = run_against(sandbox, tmp_path, *id_args(known), ids=False, max_examples=5)
    assert result.returncode == 0, result.stdout + result.stderr
    asked = {unquote(target.rsplit("/checkouts/", 1)[1]) for _, target, _ in recorder.seen}
    expected = {edge.id for edge in (*load_edge_ids(), *derived_edge_ids(tuple(known)))}
    assert expected - asked == set()


def test_a_run_of_more_than_a_few_seconds_says_how_it_is_going(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(Recorder())
    # About 80 requests at 10 a second: some 8 s, past the 5 s between progress lines.
    result = run_against(sandbox, tmp_path, "--rate-limit", "10/s", *id_args(sandbox.checkout_ids[:1]), ids=False,
                         max_examples=5)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    progress = [line for line in result.stdout.splitlines() if line.startswith("progress: ")]
    assert progress, result.stdout
    assert "exchanges judged" in progress[0]
    assert "paced at 600 requests a minute" in progress[0]
    assert result.stdout.rstrip().splitlines()[-1].startswith("conformance: CONFORMS")


class RetryAfterOnce(CheckoutApi):
    """The first request waits for a Retry-After of 3 seconds; the rest are served."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self.answered = 0

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        self.answered += 1
        if self.answered == 1:
            return Reply(429, headers={"Retry-After": "3"})
        return super().handle(method, target, headers)


def test_a_run_held_by_retry_after_says_so(tmp_path: Path, serve: Any) -> None:
    result = run_against(serve(RetryAfterOnce()), tmp_path, max_examples=5)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "waiting 3.0 s for the target's Retry-After" in result.stdout
