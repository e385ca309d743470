"""`conformance replay FINDING-ID`: one finding's request sent again, as a developer checks a fix."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from support import KEY, conformance, run_against, summary

from conformance.sandbox import CheckoutApi, Reply, seeded_sessions


class Fixable(CheckoutApi):
    """Answers every known session but the first 404 until it is fixed (all of them 404 would be stale ids: exit 3)."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self.fixed = False

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        if self.fixed or reply.status != 200 or self.checkout_id_of(target) == self.seeded_ids[0]:
            return reply
        return Reply(404, body=b'{"message": "not found"}')


def _replay(finding: str, report_dir: Path, *extra: str) -> Any:
    return conformance(
        "replay", finding, "--summary", str(report_dir / "summary.json"), *extra, env={"DODO_PAYMENTS_API_KEY": KEY}
    )


def test_a_finding_replays_as_failed_then_as_passed_once_fixed_and_unjudged_once_the_server_is_gone(
    tmp_path: Path, serve: Any
) -> None:
    api = Fixable()
    sandbox = serve(api)
    assert run_against(sandbox, tmp_path, max_examples=5).returncode == 1
    group = next(item for item in summary(tmp_path)["groups"] if item["check"] == "session.known_found")

    still = _replay(group["id"], tmp_path)
    assert still.returncode == 1, still.stdout + still.stderr
    assert f"{group['id']}: session.known_found still failed" in still.stdout
    assert "Received: status 404 for the known session" in still.stdout

    api.fixed = True
    fixed = _replay(group["id"], tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.strip().splitlines()[-1] == f"{group['id']}: session.known_found passes now"

    sandbox.stop()
    gone = _replay(group["id"], tmp_path)
    assert gone.returncode == 3, gone.stdout + gone.stderr
    assert gone.stdout.strip().splitlines()[-1] == (
        f"{group['id']}: the target did not answer, so nothing was judged; check that {sandbox.base_url} is running"
    )
    assert KEY not in still.stdout + fixed.stdout + gone.stdout + gone.stderr


def test_a_finding_id_the_run_does_not_have_is_refused_with_the_ids_it_has(tmp_path: Path, serve: Any) -> None:
    api = Fixable()
    assert run_against(serve(api), tmp_path, max_examples=5).returncode == 1
    ids = [item["id"] for item in summary(tmp_path)["groups"]]
    result = _replay("F0000000", tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"conformance: error: the run has no finding group 'F0000000'; give one of its groups ({', '.join(ids)})\n"
    )


# A session id with a control character in it: the record shows it escaped, and the replay must ask for (and
# compare with) the id as it was sent, not as it reads.
ODD_ID = "cks_\x1bodd000000000000001"


class EchoesAnotherIdUntilFixed(CheckoutApi):
    """Answers the odd session with another session's id until it is fixed."""

    def __init__(self) -> None:
        sessions = seeded_sessions()
        super().__init__(KEY, (replace(sessions[0], id=ODD_ID), *sessions[1:]))
        self.fixed = False

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        if self.fixed or reply.status != 200 or self.checkout_id_of(target) != ODD_ID:
            return reply
        return Reply.json(200, {**json.loads(reply.body), "id": "cks_someone_else_0000001"})


def test_a_finding_on_an_id_with_a_control_character_replays_with_the_id_as_it_was_sent(
    tmp_path: Path, serve: Any
) -> None:
    api = EchoesAnotherIdUntilFixed()
    sandbox = serve(api)
    result = conformance(
        "run", "--base-url", sandbox.base_url, "--report-dir", str(tmp_path), "--max-examples", "3",
        "--checkout-id", ODD_ID, env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    group = next(item for item in summary(tmp_path)["groups"] if item["check"] == "session.id_echoed")
    assert group["example"]["checkout_id"] == "cks_\\x1bodd000000000000001"  # shown escaped
    still = _replay(group["id"], tmp_path)
    assert still.returncode == 1, still.stdout + still.stderr
    assert "\x1b" not in still.stdout  # the server's id, in what the replay prints, is inert too
    api.fixed = True
    fixed = _replay(group["id"], tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr


class HeadFixable(CheckoutApi):
    """HEAD reads a session without the key until it is fixed; then HEAD gets the 401 a GET would."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self.fixed = False

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        session = self.lookup(self.checkout_id_of(target) or "")
        if method == "HEAD" and not self.fixed and session is not None:
            return self.render(session)
        return super().handle("GET" if method == "HEAD" else method, target, headers)


def test_a_finding_of_a_keyless_head_replays_as_head_and_passes_once_the_head_asks_for_the_key(
    tmp_path: Path, serve: Any
) -> None:
    api = HeadFixable()
    sandbox = serve(api)
    assert run_against(sandbox, tmp_path, max_examples=5).returncode == 1
    group = next(item for item in summary(tmp_path)["groups"] if item["example"]["request"]["method"] == "HEAD")
    assert group["check"] == "auth.missing_key"

    still = _replay(group["id"], tmp_path)
    assert still.returncode == 1, still.stdout + still.stderr
    assert "sent: HEAD " in still.stdout

    api.fixed = True
    fixed = _replay(group["id"], tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert fixed.stdout.strip().splitlines()[-1] == f"{group['id']}: auth.missing_key passes now"
