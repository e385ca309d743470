"""The gate catches every seeded fault and passes every conformant variant."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import conformance

from conformance.sandbox.variants import VARIANTS

# The classes of fault the catalogue must cover, each with a variant that shows it.
FAULT_CLASSES = {
    "missing required field": "missing-created-at",
    "wrong type": "email-wrong-type",
    "value outside the enum": "unknown-payment-status",
    "enum value in the wrong case": "payment-status-wrong-case",
    "created_at without offset": "timestamp-without-offset",
    "created_at as epoch": "timestamp-epoch",
    "created_at as a date": "timestamp-date-only",
    "null in a required field": "null-created-at",
    "body not an object": "body-not-object",
    "body not JSON": "body-not-json",
    "wrong content type": "wrong-content-type",
    "undocumented 2xx": "undocumented-2xx",
    "undocumented 4xx": "undocumented-4xx",
    "5xx by character": "server-error-by-character",
    "5xx by length": "server-error-by-length",
    "5xx intermittently": "server-error-intermittent",
    "auth ignored": "auth-ignored",
    "any bearer key accepted": "any-bearer-key",
    "known session answered 404": "known-session-404",
    "another session's body": "wrong-session-body",
    "sessions invented": "invented-sessions",
    "payment fields not null together": "payment-fields-unpaired",
    "created_at changing between reads": "created-at-changes",
    "a reply that never comes": "reply-never-comes",
    "a dropped connection": "connection-dropped",
}
CONFORMANT = {
    "extra undocumented fields": "extra-fields",
    "application/json; charset=utf-8": "json-with-charset",
    "only the required fields": "required-fields-only",
    "RFC 3339 offsets and fractions": "timestamp-forms",
    "422 for malformed ids": "malformed-ids-422",
    "slow but within the timeout": "slow-within-timeout",
    "429 with Retry-After now and then": "occasional-429",
    "401/404 without JSON bodies": "bare-errors",
    "403 for a wrong key": "forbidden-wrong-key",
}


@pytest.fixture(scope="module")
def selftest(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any]]:
    report_dir = tmp_path_factory.mktemp("selftest")
    result = conformance("selftest", "--report-dir", str(report_dir))
    record = json.loads((report_dir / "selftest.json").read_text(encoding="utf-8"))
    return result.returncode, result.stdout, record


def test_the_catalogue_covers_every_fault_class_and_conformant_oddity() -> None:
    faults = [variant for variant in VARIANTS.values() if not variant.conformant]
    assert len(faults) >= 25
    for name in FAULT_CLASSES.values():
        assert not VARIANTS[name].conformant, name
    for name in CONFORMANT.values():
        assert VARIANTS[name].conformant, name
    for variant in VARIANTS.values():
        assert variant.description.endswith("."), variant.name
        assert "\n" not in variant.description


def test_every_fault_is_caught_and_no_conformant_variant_fails(selftest: tuple[int, str, dict[str, Any]]) -> None:
    code, stdout, record = selftest
    missed = [item["name"] for item in record["variants"] if not item["as_expected"]]
    assert missed == [], stdout
    assert code == 0
    assert record["kill_rate"] == 1.0
    assert record["false_alarms"] == 0
    assert record["faults"] == len([variant for variant in VARIANTS.values() if not variant.conformant])
    assert f"kill rate: {record['faults']}/{record['faults']} faults caught (100%)" in stdout


def test_each_fault_is_caught_by_the_check_made_for_it(selftest: tuple[int, str, dict[str, Any]]) -> None:
    _, _, record = selftest
    caught = {item["name"]: item["caught_by"] for item in record["variants"]}
    assert "response.schema" in caught["unknown-payment-status"]
    assert caught["any-bearer-key"] == ["auth.wrong_key"]
    assert caught["prefix-lookup"] == ["session.unknown_not_found"]
    assert caught["created-at-changes"] == ["session.stable"]
    assert caught["reply-never-comes"] == ["transport.reply"]
    assert caught["payment-fields-unpaired"] == ["session.payment_fields_paired"]
    for item in record["variants"]:
        if item["expected"] == "fails":
            assert item["first_detection_seconds"] is not None


def test_conformant_oddities_may_warn_but_never_fail(selftest: tuple[int, str, dict[str, Any]]) -> None:
    _, _, record = selftest
    bare = next(item for item in record["variants"] if item["name"] == "bare-errors")
    assert bare["caught_by"] == []
    assert bare["warned"] == ["errors.json_body"]


def test_the_report_says_where_the_sdk_and_the_spec_disagree(selftest: tuple[int, str, dict[str, Any]]) -> None:
    _, stdout, record = selftest
    assert record["sdk_oracle"] is True
    disagreements = {item["name"]: item["oracle_disagreements"] for item in record["variants"]}
    assert any("the spec rejects it, the SDK accepts it" in text for text in disagreements["timestamp-without-offset"])
    assert disagreements["reference"] == []
    assert "oracle: timestamp-without-offset:" in stdout


def test_selftest_rejects_an_unknown_variant(tmp_path: Path) -> None:
    result = conformance("selftest", "--variant", "nope", "--report-dir", str(tmp_path))
    assert result.returncode == 2
    assert "there is no variant 'nope'" in result.stderr
