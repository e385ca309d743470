"""Exit codes as the README's table gives them: 3 when the gate could not judge, whenever that shows, and 1 only
for the target's own faults; each against a real server on 127.0.0.1, through the CLI and the engine."""

from __future__ import annotations

import math
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from support import KEY, conformance, id_args, run_against, summary

from conformance import engine
from conformance.sandbox import CheckoutApi, Reply, Sandbox, seeded_products, seeded_sessions
from conformance.settings import Flags, build_settings

STALE_IDS = ("cks_StaleSession000000000001", "cks_StaleSession000000000002")


def verdict_line(result: Any) -> str:
    """The verdict, the last line a run prints."""
    lines = [line for line in result.stdout.splitlines() if line.startswith("conformance: ")]
    assert len(lines) == 1, result.stdout + result.stderr
    return str(lines[0])


def run_engine(sandbox: Sandbox, report_dir: Path, **flags: Any) -> Any:
    """The engine in this process against a running server, as a test of the user's own would call it."""
    settings = build_settings(
        Flags(**{"base_url": sandbox.base_url, "api_key": KEY, "report_dir": report_dir, "max_examples": 10, **flags}),
        environ={},
    )
    return engine.run(settings, say=lambda _: None)


class Counting(CheckoutApi):
    """The reference behaviour, counting requests; `after(n)` may change the answer from the n-th request on."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self.requests = 0
        self._count_lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        with self._count_lock:
            self.requests += 1
            number = self.requests
        return self.after(number, method, target, headers) or super().handle(method, target, headers)

    def after(self, number: int, method: str, target: str, headers: Mapping[str, str]) -> Reply | None:
        """None answers as the reference does."""
        del number, method, target, headers
        return None


# --- every known session answered 404 -----------------------------------------------------


def test_stale_ids_exit_3_with_the_hint_that_the_ids_are_the_cause(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(CheckoutApi(KEY, seeded_sessions()))
    result = conformance(
        "run", "--base-url", sandbox.base_url, "--report-dir", str(tmp_path), "--max-examples", "10",
        *id_args(STALE_IDS), env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    verdict = verdict_line(result)
    assert "every known session was answered 404, so the 200 contract was never exercised" in verdict
    assert "so the known ids are the likely cause: give ids of sessions that exist for this key" in verdict
    assert summary(tmp_path)["result"]["exit_code"] == 3


def test_a_base_url_with_a_path_exits_3_with_the_hint_that_the_path_is_the_cause(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(CheckoutApi(KEY, seeded_sessions()))
    result = conformance(
        "run", "--base-url", sandbox.base_url + "/v1", "--report-dir", str(tmp_path), "--max-examples", "10",
        *id_args(sandbox.checkout_ids), env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert "so the base URL's path is the likely cause" in verdict_line(result)
    outcome = run_engine(sandbox, tmp_path / "engine", base_url=sandbox.base_url + "/v1", checkout_ids=STALE_IDS)
    assert outcome.exit_code == 3, outcome.record.result.reason
    assert "so the base URL's path is the likely cause" in outcome.record.result.reason


class CreatesButNeverFinds(CheckoutApi):
    """Answers a create 201 with a session_id, then never finds that session: the server's fault, not the input's."""

    def create(self, headers: Mapping[str, str], body: bytes) -> Reply:
        del headers, body
        return Reply.json(201, {"session_id": "cks_NeverStored00000000001"})


def test_a_session_the_gate_created_and_cannot_read_fails_the_run(tmp_path: Path, serve: Any) -> None:
    # Nothing is answered 200 (the create is a 201), as with stale ids: the session the gate made is what differs.
    sandbox = serve(CreatesButNeverFinds(KEY, seeded_sessions()))
    result = conformance(
        "run", "--base-url", sandbox.base_url, "--report-dir", str(tmp_path), "--max-examples", "10",
        "--create-session", "--product-id", seeded_products()[0].id, env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "session.known_found" in verdict_line(result)


# --- a target that stops accepting connections ------------------------------------------------


class GoesAway(Counting):
    """Answers the first `last` requests, then closes its listening socket: every later connection is refused."""

    def __init__(self, last: int) -> None:
        super().__init__()
        self.last = last
        self.stop: Callable[[], None] = lambda: None

    def after(self, number: int, method: str, target: str, headers: Mapping[str, str]) -> Reply | None:
        if number != self.last:
            return None
        # Stopped before this answer leaves, and the connection closed after it: the next request finds no one.
        stopper = threading.Thread(target=self.stop)
        stopper.start()
        stopper.join()
        reply = CheckoutApi.handle(self, method, target, headers)
        return Reply(**{**reply.__dict__, "close_delimited": True})


@pytest.fixture
def going_away() -> Iterator[Callable[[int], tuple[GoesAway, Sandbox]]]:
    started: list[Sandbox] = []

    def start(last: int) -> tuple[GoesAway, Sandbox]:
        api = GoesAway(last)
        sandbox = Sandbox(api=api).start()
        api.stop = sandbox.stop
        started.append(sandbox)
        return api, sandbox

    yield start
    for sandbox in started:
        sandbox.stop()


@pytest.mark.parametrize("last", [5, 60])
def test_a_target_that_stops_accepting_connections_mid_run_exits_3_after_three_refusals(
    tmp_path: Path, going_away: Callable[[int], tuple[GoesAway, Sandbox]], last: int
) -> None:
    api, sandbox = going_away(last)
    result = run_against(sandbox, tmp_path, max_examples=10)
    assert result.returncode == 3, result.stdout + result.stderr
    assert api.requests == last, result.stdout
    verdict = verdict_line(result)
    assert f"the target stopped accepting connections: from request {last + 1} of the run on, 3 requests" in verdict
    # Three refused requests end it, not hundreds.
    assert summary(tmp_path)["run"]["requests_sent"] == last + 3


def test_the_engine_reports_a_target_gone_mid_run_as_could_not_judge(
    tmp_path: Path, going_away: Callable[[int], tuple[GoesAway, Sandbox]]
) -> None:
    _, sandbox = going_away(5)
    outcome = run_engine(sandbox, tmp_path, checkout_ids=tuple(sandbox.checkout_ids))
    assert outcome.exit_code == 3, outcome.record.result.reason
    assert outcome.record.result.reason.startswith("the target stopped accepting connections")


class FallsSilent(Counting):
    """Answers the first `last` requests, then holds every later one unanswered (a hung process, a dead link)."""

    def __init__(self, last: int) -> None:
        super().__init__()
        self.last = last

    def after(self, number: int, method: str, target: str, headers: Mapping[str, str]) -> Reply | None:
        del method, target, headers
        return Reply(200, delay_seconds=math.inf) if number > self.last else None


class HangsOnOddIds(CheckoutApi):
    """Never answers an id that is not shaped like a session's: the server's own fault, whatever else it answers."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        checkout_id = self.checkout_id_of(target) or ""
        if not checkout_id.startswith("cks_") or len(checkout_id) > 40:  # longer than any real id
            return Reply(200, delay_seconds=math.inf)
        return super().handle(method, target, headers)


def test_a_target_that_falls_silent_for_good_exits_3_saying_from_when(tmp_path: Path, serve: Any) -> None:
    api = FallsSilent(30)
    # 2 s: long enough that no answered request of a busy machine reads as silence, short enough to wait four times.
    result = run_against(serve(api), tmp_path, "--request-timeout", "2", max_examples=10)
    assert result.returncode == 3, result.stdout + result.stderr
    verdict = verdict_line(result)
    assert "the target stopped answering: from request 31 of the run on, 3 requests in a row got no reply within" in (
        verdict
    )
    assert "and a request it had answered before, sent again, got none either" in verdict
    # Three unanswered, and the one sent again.
    assert api.requests == 30 + 4


def test_a_target_that_hangs_on_some_ids_only_fails_the_run(tmp_path: Path, serve: Any) -> None:
    result = run_against(serve(HangsOnOddIds(KEY, seeded_sessions())), tmp_path, "--request-timeout", "2")
    assert result.returncode == 1, result.stdout + result.stderr
    verdict = verdict_line(result)
    assert "transport.reply" in verdict
    assert "(the target stopped answering: 3 requests in a row got no reply within 2 s" in verdict


# --- the key refused ------------------------------------------------------------------------


class RevokesTheKey(Counting):
    """Answers as the reference does, then refuses the key for every request from the `first`-th on."""

    def __init__(self, first: int) -> None:
        super().__init__()
        self.first = first

    def after(self, number: int, method: str, target: str, headers: Mapping[str, str]) -> Reply | None:
        del method, target, headers
        return Reply.error(401, "UNAUTHORIZED", "API key revoked") if number >= self.first else None


class RefusesUnknownIds(CheckoutApi):
    """Looks the session up before it checks the key: an id no session has is refused 401 even with the key."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        checkout_id = self.checkout_id_of(target)
        if checkout_id is not None and self.lookup(checkout_id) is None:
            return Reply.error(401, "UNAUTHORIZED", "Missing or invalid bearer token")
        return super().handle(method, target, headers)


@pytest.mark.parametrize("first", [1, 30, 150])
def test_a_key_refused_for_everything_from_some_request_on_exits_3_saying_when(
    tmp_path: Path, serve: Any, first: int
) -> None:
    api = RevokesTheKey(first)
    result = run_against(serve(api), tmp_path, max_examples=10)
    assert result.returncode == 3, result.stdout + result.stderr
    verdict = verdict_line(result)
    if first == 1:
        assert "rejected the API key with 401 at the first request, and for the known session" in verdict
    else:
        refused_at = int(verdict.split("then refused it at request ", 1)[1].split(" ", 1)[0])
        assert refused_at >= first
        assert "and at every request with the key since" in verdict
        assert "which it had answered 200 with the same key, and for an id never asked before (401): the key was " in (
            verdict
        )
        assert verdict.endswith("revoked or expired mid-run; pass a valid test-mode key and rerun")
    # Refused three times, asked once more, stopped: not hundreds of requests with a key that no longer works
    # (requests without the key say nothing about it, and go on in between).
    assert api.requests <= first + 50, api.requests


def test_a_key_refused_only_for_ids_no_session_has_is_the_servers_fault(tmp_path: Path, serve: Any) -> None:
    sandbox = serve(RefusesUnknownIds(KEY, seeded_sessions()))
    result = run_against(sandbox, tmp_path, max_examples=10)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "response.status_documented" in verdict_line(result)
    outcome = run_engine(sandbox, tmp_path / "engine", checkout_ids=tuple(sandbox.checkout_ids))
    assert outcome.exit_code == 1, outcome.record.result.reason


# --- answers that are not the target's ----------------------------------------------------------


class ProxyDemandsAuth(Counting):
    """A proxy in between that starts demanding its own credentials from the `first`-th request on."""

    def __init__(self, first: int) -> None:
        super().__init__()
        self.first = first

    def after(self, number: int, method: str, target: str, headers: Mapping[str, str]) -> Reply | None:
        del method, target, headers
        if number < self.first:
            return None
        return Reply(407, b"proxy auth", {"Proxy-Authenticate": 'Basic realm="egress"', "Content-Type": "text/plain"})


@pytest.mark.parametrize("first", [1, 40])
def test_a_proxys_407_exits_3_with_a_hint_about_proxies(tmp_path: Path, serve: Any, first: int) -> None:
    api = ProxyDemandsAuth(first)
    result = run_against(serve(api), tmp_path, max_examples=10)
    assert result.returncode == 3, result.stdout + result.stderr
    verdict = verdict_line(result)
    assert f"request {first} (GET " in verdict
    assert "was answered 407 Proxy Authentication Required: a proxy between the gate and the target" in verdict
    assert "run from a network with a direct route to the target" in verdict
    assert api.requests == first


@pytest.fixture
def raw_server() -> Iterator[Callable[[bytes], str]]:
    """A server on 127.0.0.1 that reads a request and writes `reply`, whatever was asked; returns its base URL."""
    listeners: list[socket.socket] = []

    def start(reply: bytes) -> str:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)

        def serve() -> None:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return
                with connection:
                    connection.recv(65536)
                    connection.sendall(reply)

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{listener.getsockname()[1]}"

    yield start
    for listener in listeners:
        listener.close()


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (b'{"id": "cks_1"}\n', "its reply has no HTTP status line (an HTTP/0.9 style reply, or another protocol)"),
        # A TLS alert record: what a TLS-only port answers to a plain-text request.
        (b"\x15\x03\x01\x00\x02\x02\x46", "it answered in TLS, so the port speaks https"),
    ],
    ids=["HTTP/0.9", "TLS on a plain-http URL"],
)
def test_a_reply_that_is_not_http_is_said_to_be_an_answer_not_an_unreachable_target(
    tmp_path: Path, raw_server: Callable[[bytes], str], reply: bytes, said: str
) -> None:
    result = conformance(
        "run", "--base-url", raw_server(reply), "--report-dir", str(tmp_path), env={"DODO_PAYMENTS_API_KEY": KEY}
    )
    assert result.returncode == 3, result.stdout + result.stderr
    verdict = verdict_line(result)
    assert "cannot be reached" not in verdict
    assert "the target answered, but not in HTTP: " in verdict
    assert said in verdict


class CachesRefusals(CheckoutApi):
    """A cache in front keeps every 401 by URL and serves it to whoever asks next, key or not: the server's fault."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self.cached: dict[str, Reply] = {}
        self._cache_lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        with self._cache_lock:
            if method == "GET" and target in self.cached:
                return self.cached[target]
        reply = super().handle(method, target, headers)
        if method == "GET" and reply.status == 401:
            with self._cache_lock:
                self.cached[target] = reply
        return reply


def test_refusals_a_cache_serves_by_url_are_the_servers_fault_not_a_revoked_key(tmp_path: Path, serve: Any) -> None:
    # Every known session is asked for without a key, so its URL's 401 is cached, and later reads with the key
    # get it: refused three times in a row, and again for a URL the key had read. A URL never asked before
    # shows the key still works.
    result = run_against(serve(CachesRefusals()), tmp_path, max_examples=10)
    assert result.returncode == 1, result.stdout + result.stderr
    verdict = verdict_line(result)
    assert "session.known_found" in verdict
    assert "revoked" not in verdict
