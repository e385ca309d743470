"""Behaviours a user relies on that a second route reaches: a replay to live mode, pacing of private networks,
a created session that appears after a moment, sessions lost only when reads overlap."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support import KEY, conformance, failed_checks, id_args, judge, run_against, summary

from conformance import transport
from conformance.sandbox import CheckoutApi, Reply, seeded_products, seeded_sessions
from conformance.sandbox.sessions import CheckoutSession
from conformance.settings import Flags, build_settings, default_rate_limit, parse_rate

PRODUCT = seeded_products()[0].id
DODOS_LIMIT = 100 / 60


class SomeNotFound(CheckoutApi):
    """Answers every known session but the first 404: a run with findings to send again."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        if reply.status != 200 or self.checkout_id_of(target) == self.seeded_ids[0]:
            return reply
        return Reply.error(404, "NOT_FOUND", "no such session")


@pytest.fixture
def finding(tmp_path_factory: pytest.TempPathFactory, serve: Any) -> tuple[str, Path]:
    """A finding group's id and the summary.json of the run that found it (against 127.0.0.1)."""
    report_dir = tmp_path_factory.mktemp("found")
    assert run_against(serve(SomeNotFound(KEY, seeded_sessions())), report_dir, max_examples=5).returncode == 1
    group = next(item for item in summary(report_dir)["groups"] if item["check"] == "session.known_found")
    return str(group["id"]), report_dir / "summary.json"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way this process could open a connection or look a name up raises, and is recorded."""
    attempts: list[str] = []

    def refuse(name: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{name}{args[1:] if name.startswith('socket.') else args} {kwargs}")
            message = f"a test allows no network: {name}"
            raise OSError(message)

        return refused

    for owner, name in ((socket.socket, "connect"), (socket.socket, "connect_ex")):
        monkeypatch.setattr(owner, name, refuse(f"socket.{name}"))
    for name in ("create_connection", "getaddrinfo"):
        monkeypatch.setattr(socket, name, refuse(name))
    return attempts


# --- conformance replay to a live-mode host ----------------------------------------------------------


@pytest.mark.parametrize("url", ["https://live.dodopayments.com", "https://LIVE.dodopayments.com.:443/"])
def test_replaying_a_finding_to_a_live_mode_host_is_refused_before_any_connection(
    finding: tuple[str, Path], no_network: list[str], url: str
) -> None:
    group, summary_path = finding
    result = conformance(
        "replay", group, "--summary", str(summary_path), "--base-url", url, env={"DODO_PAYMENTS_API_KEY": KEY}
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "live.dodopayments.com is Dodo's live mode" in result.stderr
    assert "--allow-live-mode" in result.stderr
    assert no_network == []


class BehindAProxy(CheckoutApi):
    """Every request is answered by a proxy on the way that wants its own credentials."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        del method, target, headers
        return Reply(407, b"", {"Proxy-Authenticate": 'Basic realm="egress"'})


def test_replaying_a_finding_through_a_proxy_that_wants_credentials_is_one_line_and_exit_3(
    finding: tuple[str, Path], serve: Any
) -> None:
    group, summary_path = finding
    proxy = serve(BehindAProxy(KEY, seeded_sessions()))
    result = conformance(
        "replay", group, "--summary", str(summary_path), "--base-url", proxy.base_url,
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.startswith("conformance: error: request 1 (GET ")
    assert "was answered 407 Proxy Authentication Required" in result.stderr
    assert len(result.stderr.splitlines()) == 1


# --- private networks are paced like any remote target -------------------------------------------------

PRIVATE = ["http://10.1.2.3:8000", "https://172.16.0.1", "https://172.31.255.254:8443/", "http://192.168.1.20"]


@pytest.mark.parametrize("url", PRIVATE)
def test_a_private_network_target_is_paced_at_dodos_limit(url: str) -> None:
    assert build_settings(Flags(base_url=url, api_key=KEY), environ={}).rate_per_second == pytest.approx(DODOS_LIMIT)
    rate = default_rate_limit(url)
    assert rate is not None
    assert parse_rate(rate) == pytest.approx(DODOS_LIMIT)


@pytest.mark.parametrize("url", PRIVATE)
def test_replaying_a_finding_to_a_private_network_target_is_paced_too(
    finding: tuple[str, Path], no_network: list[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    paces: list[float | None] = []

    class Watched(transport.Transport):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            paces.append(kwargs.get("rate_per_second"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(transport, "Transport", Watched)
    group, summary_path = finding
    result = conformance(
        "replay", group, "--summary", str(summary_path), "--base-url", url, env={"DODO_PAYMENTS_API_KEY": KEY}
    )
    # Nothing left this process (every connection raised): the replay found no one to answer.
    assert result.returncode == 3, result.stdout + result.stderr
    assert no_network != []
    assert paces == [pytest.approx(DODOS_LIMIT)]


# --- a created session that appears after a moment -----------------------------------------------------

APPEARS_AFTER_SECONDS = 0.6


class AppearsAfterAMoment(CheckoutApi):
    """A created session is answered 404 until 0.6 s after its create was answered, however often it is read."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self._stored_at: dict[str, float] = {}
        self.misses = 0
        self._moment_lock = threading.Lock()

    def store(self, session_id: str, session: CheckoutSession) -> None:
        with self._moment_lock:
            self._stored_at[session_id] = time.monotonic()
        super().store(session_id, session)

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        with self._moment_lock:
            stored = self._stored_at.get(checkout_id)
            if stored is not None and time.monotonic() - stored < APPEARS_AFTER_SECONDS:
                self.misses += 1
                return None
        return super().lookup(checkout_id)


def test_a_created_session_that_appears_after_a_moment_is_a_should_warning_not_a_failure(
    tmp_path: Path, serve: Any
) -> None:
    api = AppearsAfterAMoment()
    result = run_against(serve(api), tmp_path, "--create-session", "--product-id", PRODUCT, max_examples=5)
    assert result.returncode == 0, result.stdout + result.stderr
    assert api.misses >= 1
    checks = {item["id"]: item for item in summary(tmp_path)["checks"]}
    assert checks["session.created_at_once"]["status"] == "warned"
    assert checks["session.known_found"]["status"] == "passed"
    outcome = judge(AppearsAfterAMoment(), tmp_path / "engine", create_session=True, product_id=PRODUCT)
    assert outcome.exit_code == 0, outcome.record.result.reason
    assert "session.created_at_once" in {item.id for item in outcome.record.checks if item.status == "warned"}


# --- sessions lost only when reads overlap ------------------------------------------------------------

# Long enough that reads sent at the same moment overlap on a busy machine, short enough for serial reads.
OVERLAP_SECONDS = 0.2


class LosesSessionsUnderOverlap(CheckoutApi):
    """A session read while another read is in flight is answered 404 (a lookup cache evicted by the other)."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self._in_flight = 0
        self._flight_lock = threading.Lock()
        self.lost = 0

    def render(self, session: CheckoutSession) -> Reply:
        with self._flight_lock:
            self._in_flight += 1
        try:
            time.sleep(OVERLAP_SECONDS)
            with self._flight_lock:
                clash = self._in_flight > 1
                self.lost += clash
            return Reply.error(404, "NOT_FOUND", "no such session") if clash else super().render(session)
        finally:
            with self._flight_lock:
                self._in_flight -= 1


def test_known_sessions_lost_only_when_reads_overlap_fail_known_found(tmp_path: Path, serve: Any) -> None:
    api = LosesSessionsUnderOverlap()
    sandbox = serve(api)
    result = conformance(
        "run", "--base-url", sandbox.base_url, "--report-dir", str(tmp_path), "--max-examples", "5",
        *id_args(sandbox.checkout_ids[:2]), env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert api.lost >= 1
    known = next(item for item in summary(tmp_path)["checks"] if item["id"] == "session.known_found")
    assert known["status"] == "failed"
    assert known["findings"]
    assert {finding["purpose"] for finding in known["findings"]} == {"known session read concurrently"}
    outcome = judge(LosesSessionsUnderOverlap(), tmp_path / "engine", max_examples=5)
    assert "session.known_found" in failed_checks(outcome)
