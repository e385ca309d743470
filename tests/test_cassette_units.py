"""Cassettes in this process: what a recording's metadata must hold, what is scrubbed before a write, how a
recorded exchange is read back, and what a re-record leaves behind. Fast, for `make mutation`'s cassettes row.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from vcr.request import Request
from vcr.serializers import yamlserializer

from conformance.cassettes import (
    METADATA_FILE,
    METADATA_FORMAT,
    RECORDED_ORIGIN,
    AtomicPersister,
    Recording,
    credential_matcher,
    credential_of,
    load_interactions,
    new_recording,
    publish,
    read_recording,
    recorded_exchanges,
    vcr_config,
)
from conformance.credentials import WRONG_KEY
from conformance.errors import BadInputError
from conformance.model import Credential, Purpose

KEY = "sk_test_cassette_units_0123456789"
BASE = "http://127.0.0.1:8123"
GOOD = {
    "format": METADATA_FORMAT,
    "format_version": 3,
    "target": "bundled sandbox",
    "spec_version": "1.0",
    "seed": 7,
    "max_examples": 5,
    "checkout_ids": ["cks_1", "cks_2"],
    "recorded_at": "2026-11-29T00:00:00+00:00",
    "tool_version": "0.1.0",
    "product_id": None,
    "concurrency": 4,
}


def _recording_in(tmp_path: Path, **changes: Any) -> Path:
    data = {**GOOD, **changes}
    (tmp_path / METADATA_FILE).write_text(json.dumps({k: v for k, v in data.items() if v is not ...}), "utf-8")
    return tmp_path


def test_a_whole_recording_is_read_as_it_was_written(tmp_path: Path) -> None:
    recording = new_recording("t", "1.0", 3, 9, ("cks_1",), product_id="pdt_1", concurrency=2)
    (tmp_path / METADATA_FILE).write_text(recording.to_json(), encoding="utf-8")
    assert read_recording(tmp_path) == recording
    assert read_recording(_recording_in(tmp_path)) == Recording(
        target="bundled sandbox", spec_version="1.0", seed=7, max_examples=5, checkout_ids=("cks_1", "cks_2"),
        recorded_at="2026-11-29T00:00:00+00:00", tool_version="0.1.0", product_id=None, concurrency=4,
    )  # fmt: skip
    assert read_recording(_recording_in(tmp_path, max_examples=1)).max_examples == 1


@pytest.mark.parametrize(
    ("changes", "cause"),
    [
        ({"format": "something/else"}, "is not a recording's metadata (format dodo-conformance/recording)"),
        ({"format": ...}, "is not a recording's metadata (format dodo-conformance/recording)"),
        ({"format_version": 2}, "is a recording of format version 2, and this gate replays version 3 only"),
        ({"format_version": 4}, "is a recording of format version 4, and this gate replays version 3 only"),
        ({"seed": ...}, "is not a recording's metadata ("),
        ({"surprise": 1}, "is not a recording's metadata ("),
        ({"seed": "7"}, "has a value of the wrong kind"),
        ({"max_examples": 0}, "has a value of the wrong kind"),
        ({"max_examples": -1}, "has a value of the wrong kind"),
        ({"max_examples": 2.5}, "has a value of the wrong kind"),
        ({"checkout_ids": ["cks_1", ""]}, "has a value of the wrong kind"),
        ({"checkout_ids": ["cks_1", 3]}, "has a value of the wrong kind"),
        ({"target": None}, "has a value of the wrong kind"),
        ({"spec_version": 1}, "has a value of the wrong kind"),
        ({"recorded_at": None}, "has a value of the wrong kind"),
        ({"product_id": ""}, "has a value of the wrong kind"),
        ({"product_id": 5}, "has a value of the wrong kind"),
        ({"concurrency": "4"}, "has a value of the wrong kind"),
        ({"key_prefix": 5}, "has a value of the wrong kind"),
        # Only public words (data/key_structure.json) may be kept of a key: anything else could be its secret.
        ({"key_prefix": "sk_AbCdEfGh_"}, "has a value of the wrong kind"),
    ],
)
def test_metadata_that_is_not_a_whole_recording_is_refused_naming_the_file(
    tmp_path: Path, changes: dict[str, Any], cause: str
) -> None:
    with pytest.raises(BadInputError) as refused:
        read_recording(_recording_in(tmp_path, **changes))
    assert refused.value.cause.startswith(f"{tmp_path / METADATA_FILE} ")
    assert cause in refused.value.cause


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (b"{not json", "cannot be read (Expecting property name enclosed in double quotes"),
        (b"\xff\xfe", "cannot be read ('utf-8' codec can't decode byte 0xff"),
        (b"[1, 2]", "is not a recording's metadata"),
    ],
)
def test_metadata_that_cannot_be_read_is_named_with_its_first_line(tmp_path: Path, content: bytes, cause: str) -> None:
    (tmp_path / METADATA_FILE).write_bytes(content)
    with pytest.raises(BadInputError) as refused:
        read_recording(tmp_path)
    assert cause in refused.value.cause
    assert "\n" not in str(refused.value)
    assert refused.value.fix == "record cassettes with 'conformance run --record' (see cassettes/README.md)"


def test_a_folder_in_place_of_the_metadata_is_named(tmp_path: Path) -> None:
    (tmp_path / METADATA_FILE).mkdir()
    with pytest.raises(BadInputError) as refused:
        read_recording(tmp_path)
    assert f"{tmp_path / METADATA_FILE} cannot be read (" in refused.value.cause


def test_a_damaged_cassette_beside_good_metadata_is_named(tmp_path: Path) -> None:
    _recording_in(tmp_path)
    (tmp_path / "known_sessions.yaml").write_text("interactions:\n- request: [\n", encoding="utf-8")
    with pytest.raises(BadInputError) as refused:
        read_recording(tmp_path)
    assert refused.value.cause.startswith(f"cassette {tmp_path / 'known_sessions.yaml'} is malformed or truncated (")


# --- what is scrubbed before anything is written ---------------------------------------------------------------


def _request(uri: str, body: Any = None, authorization: str | None = f"Bearer {KEY}") -> Request:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return Request("GET", uri, body, {**headers, "X-Echo": f"id {KEY}"})


def test_a_request_is_recorded_under_the_neutral_origin_without_the_key_anywhere() -> None:
    config = vcr_config(BASE, [KEY])
    recorded = config["before_record_request"](_request(f"{BASE}/checkouts/{KEY}?q={KEY}", body=f"k={KEY}"))
    assert recorded.uri == f"{RECORDED_ORIGIN}/checkouts/[REDACTED]?q=[REDACTED]"
    assert recorded.headers == {"Authorization": "Bearer [REDACTED]", "X-Echo": "id [REDACTED]"}
    assert recorded.body == b"k=[REDACTED]"
    # Another origin is kept as it is, and still scrubbed.
    assert config["before_record_request"](_request(f"http://other:1/{KEY}")).uri == "http://other:1/[REDACTED]"


def test_a_binary_request_body_keeps_every_byte_but_the_key() -> None:
    body = b"\xff\x00" + KEY.encode() + b"\xe9"
    recorded = vcr_config(BASE, [KEY])["before_record_request"](_request(f"{BASE}/checkouts", body=body))
    assert recorded.body == b"\xff\x00[REDACTED]\xe9"
    untouched = b"\xff\x00 no key \xe9"
    assert vcr_config(BASE, [KEY])["before_record_request"](_request(BASE, body=untouched)).body == untouched


def test_a_response_loses_its_volatile_headers_and_the_key_in_headers_and_body() -> None:
    response = {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Date": ["today"], "Set-Cookie": ["s=1"], "X-Request-Id": ["r"], "X-Echo": [f"a {KEY}", "b"],
                    "Content-Type": ["application/json"]},
        "body": {"string": f'{{"echo": "{KEY}"}}'.encode()},
    }  # fmt: skip
    recorded = vcr_config(BASE, [KEY])["before_record_response"](response)
    assert recorded["headers"] == {"X-Echo": ["a [REDACTED]", "b"], "Content-Type": ["application/json"]}
    assert recorded["body"]["string"] == b'{"echo": "[REDACTED]"}'
    as_text = vcr_config(BASE, [KEY])["before_record_response"](
        {"status": {"code": 200}, "headers": {}, "body": {"string": f"echo {KEY}"}}
    )
    assert as_text["body"]["string"] == "echo [REDACTED]"


def test_a_response_loses_the_key_echoed_in_its_reason_phrase_and_field_names_in_any_form() -> None:
    # A server may echo the credential anywhere it writes: the reason phrase and a field's name are recorded too.
    upper, encoded = KEY.upper(), base64.b64encode(f"Bearer {KEY}".encode()).decode()
    response = {
        "status": {"code": 401, "message": f"Unauthorized {upper}"},
        "headers": {f"X-{KEY}": ["1"], "X-Echo": [encoded]},
        "body": {"string": b""},
    }
    recorded = vcr_config(BASE, [KEY])["before_record_response"](response)
    assert recorded["status"] == {"code": 401, "message": "Unauthorized [REDACTED]"}
    assert list(recorded["headers"]) == ["X-[REDACTED]", "X-Echo"]
    assert KEY[:12] not in repr(recorded)
    assert encoded[10:22] not in repr(recorded)


def test_requests_match_only_with_the_same_kind_of_key() -> None:
    valid, missing, wrong = (
        _request(f"{BASE}/x"), _request(f"{BASE}/x", authorization=None),
        _request(f"{BASE}/x", authorization=f"Bearer {WRONG_KEY}"),
    )  # fmt: skip
    assert [credential_of(r) for r in (valid, missing, wrong)] == [Credential.VALID, Credential.MISSING,
                                                                   Credential.WRONG]  # fmt: skip
    credential_matcher(valid, _request(f"{BASE}/y"))
    for first, second in ((valid, missing), (valid, wrong), (missing, wrong)):
        with pytest.raises(AssertionError):
            credential_matcher(first, second)


# --- reading back, and what a re-record leaves --------------------------------------------------------------------


def _cassette(path: Path, uris: list[str]) -> None:
    cassette = {
        "requests": [_request(uri) for uri in uris],
        "responses": [
            {"status": {"code": 404, "message": "Not Found"}, "headers": {"X-A": ["1", "2"]},
             "body": {"string": b'{"code": "NOT_FOUND"}'}}
            for _ in uris
        ],
    }  # fmt: skip
    AtomicPersister.save_cassette(path, cassette, yamlserializer)


def test_recorded_generated_requests_are_read_back_as_exchanges(tmp_path: Path) -> None:
    path = tmp_path / "generated_ids.yaml"
    _cassette(path, [f"{RECORDED_ORIGIN}/checkouts/a%2Fb%20c", f"{RECORDED_ORIGIN}/checkouts/checkouts/x"])
    first, second = recorded_exchanges(path)
    assert first.checkout_id == "a/b c"
    # The id is what follows the last "/checkouts/".
    assert second.checkout_id == "x"
    assert first.purpose is Purpose.GENERATED
    assert first.credential is Credential.VALID
    assert first.response is not None
    assert (first.response.status, first.response.reason) == (404, "Not Found")
    assert first.response.headers["X-A"] == "1, 2"
    assert first.response.body == b'{"code": "NOT_FOUND"}'


def test_concurrent_reads_are_saved_in_a_stable_order_and_others_as_they_came(tmp_path: Path) -> None:
    uris = [f"{RECORDED_ORIGIN}/checkouts/{name}" for name in ("c", "a", "b")]
    _cassette(tmp_path / "concurrent_reads.yaml", uris)
    _cassette(tmp_path / "known_sessions.yaml", uris)
    assert [r.uri for r, _ in load_interactions(tmp_path / "concurrent_reads.yaml")] == sorted(uris)
    assert [r.uri for r, _ in load_interactions(tmp_path / "known_sessions.yaml")] == uris


def test_an_empty_cassette_loads_as_no_interactions_and_a_missing_one_as_not_found(tmp_path: Path) -> None:
    from vcr.persisters.filesystem import CassetteNotFoundError  # noqa: PLC0415

    (tmp_path / "empty.yaml").write_text("  \n", encoding="utf-8")
    assert AtomicPersister.load_cassette(tmp_path / "empty.yaml", yamlserializer) == ([], [])
    with pytest.raises(CassetteNotFoundError):
        AtomicPersister.load_cassette(tmp_path / "none.yaml", yamlserializer)


def test_publishing_a_recording_replaces_the_cassettes_and_removes_stale_ones(tmp_path: Path) -> None:
    staging, target = tmp_path / "staging", tmp_path / "cassettes"
    staging.mkdir()
    target.mkdir()
    (target / "old_scenario.yaml").write_text("old", encoding="utf-8")
    (target / "known_sessions.yaml").write_text("old", encoding="utf-8")
    (target / "README.md").write_text("kept", encoding="utf-8")
    _cassette(staging / "known_sessions.yaml", [f"{RECORDED_ORIGIN}/checkouts/a"])
    recording = new_recording("t", "1.0", 1, 1, ("cks_1",))
    publish(staging, target, recording)
    assert sorted(path.name for path in target.iterdir()) == ["README.md", "known_sessions.yaml", METADATA_FILE]
    assert (target / "README.md").read_text(encoding="utf-8") == "kept"
    assert len(load_interactions(target / "known_sessions.yaml")) == 1
    assert read_recording(target) == recording
    assert not staging.exists()


@pytest.mark.parametrize(
    ("content", "cause"),
    [
        (None, "cannot be read ([Errno 21] Is a directory"),
        (b"\xff\xfe not text", "cannot be read ('utf-8' codec can't decode byte 0xff"),
        # Whole YAML, but a response without a status code a replay could give.
        ((b"interactions:\n- request: {method: GET, uri: 'http://x/checkouts/a', body: null, headers: {}}\n"
          b"  response: {status: {code: abc, message: OK}, headers: {}, body: {string: ''}}\nversion: 1\n"),
         "is malformed or truncated (ValueError: invalid literal for int()"),
    ],
)  # fmt: skip
def test_a_cassette_that_cannot_be_replayed_is_named_with_the_first_line_of_why(
    tmp_path: Path, content: bytes | None, cause: str
) -> None:
    path = tmp_path / "known_sessions.yaml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(BadInputError) as refused:
        load_interactions(path)
    assert refused.value.cause.startswith(f"cassette {path} ")
    assert cause in refused.value.cause
    assert "\n" not in str(refused.value)


def test_a_yaml_error_is_named_by_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "known_sessions.yaml"
    path.write_text("interactions:\n- request: [\n", encoding="utf-8")
    with pytest.raises(BadInputError) as refused:
        load_interactions(path)
    # PyYAML's message runs over several lines, where the first says what went wrong.
    assert refused.value.cause.endswith(" is malformed or truncated (ParserError: while parsing a flow node)")


def test_a_key_that_sorts_before_the_redaction_mark_is_scrubbed_from_a_binary_body_too() -> None:
    # '[REDACTED]' sorts after a key that starts with a capital: a compare by order instead of equality kept
    # the body as sent.
    key = "AKIA_SECRET_0123456789"
    body = b"\x00" + key.encode() + b"\xff"
    config = vcr_config(BASE, [key])
    assert config["before_record_request"](_request(f"{BASE}/checkouts", body=body)).body == b"\x00[REDACTED]\xff"
    response = {"status": {"code": 200}, "headers": {}, "body": {"string": body}}
    assert config["before_record_response"](response)["body"]["string"] == b"\x00[REDACTED]\xff"


def test_a_recording_is_published_into_a_folder_that_does_not_exist_yet(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    _cassette(staging / "known_sessions.yaml", [f"{RECORDED_ORIGIN}/checkouts/a"])
    recording = new_recording("t", "1.0", 1, 1, ("cks_1",))
    publish(staging, tmp_path / "a" / "b" / "cassettes", recording)
    assert read_recording(tmp_path / "a" / "b" / "cassettes") == recording
