"""What sits in front of the API: HEAD let past the key check, ids read as row numbers, answers cached for anyone."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import KEY, failed_checks, judge

from conformance.sandbox import seeded_sessions
from conformance.sandbox.variants import VARIANTS


@pytest.mark.parametrize(
    ("name", "caught_by"),
    [("head-skips-auth", "auth.missing_key"), ("row-number-lookup", "session.unknown_not_found"),
     ("public-cache", "auth.private_cache")],
)  # fmt: skip
def test_a_fault_of_the_layers_in_front_of_the_api_is_caught(tmp_path: Path, name: str, caught_by: str) -> None:
    outcome = judge(VARIANTS[name].api(KEY, seeded_sessions()), tmp_path)
    assert outcome.exit_code == 1, outcome.record.result.reason
    assert caught_by in failed_checks(outcome)


@pytest.mark.parametrize("name", ["head-served", "public-cache-varying-on-key"])
def test_its_valid_look_alike_passes(tmp_path: Path, name: str) -> None:
    outcome = judge(VARIANTS[name].api(KEY, seeded_sessions()), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason


def test_one_head_is_sent_without_a_key_for_a_known_session(tmp_path: Path) -> None:
    # The reference answers HEAD 405 (GET only), and nothing else of the run gets a 405.
    outcome = judge(VARIANTS["reference"].api(KEY, seeded_sessions()), tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason
    assert outcome.record.exchanges.by_status.get("405") == 1
