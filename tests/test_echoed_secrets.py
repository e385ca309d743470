"""A key (or a near miss of it) echoed transformed, in base64, another case or percent-encoded, reaches no output."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from support import ROOT, conformance, every_string

from conformance import engine
from conformance.redaction import FRAGMENT_CHARS, MIN_KEY_LENGTH, REDACTED, Redactor, derived_forms
from conformance.sandbox import CheckoutApi, Reply, Sandbox, seeded_sessions
from conformance.settings import Flags, build_settings
from conformance.transport import Transport

# Random-looking, as real keys are: none of its runs is a word that ordinary text holds.
KEY = "sk_test_Q7fZ2mXw9LpR4vK8nB3cT6yH"
SPEC = ROOT / "spec" / "openapi.yaml"
# What servers put in front of an echoed credential before encoding it: a scheme, a Basic-auth user.
PREFIXES = ["", "Bearer ", "user:", "Basic ", "x", "xy"]
KEYS = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=MIN_KEY_LENGTH, max_size=48)


def near_misses(key: str) -> list[str]:
    """The credentials the gate derives from the key and sends (the transport's own list)."""
    return Transport("http://127.0.0.1:9", key, 1.0).derived_secrets()


def base64_parts(secret: str, prefix: str = "", suffix: str = "") -> list[str]:
    """What of base64(prefix + secret + suffix), in both alphabets, carries the secret's bytes and no other's.

    Written here apart from redaction.py: character i holds bits 6i to 6i+5 of the encoded bytes.
    """
    before, raw = prefix.encode(), secret.encode()
    parts = []
    for encoded in (base64.b64encode(before + raw + suffix.encode()).decode(),):
        first = -(-8 * len(before) // 6)  # the first character whose bits all come after the prefix
        last = 8 * (len(before) + len(raw)) // 6  # past the last one whose bits all come before the suffix
        parts += [encoded[first:last], encoded[first:last].replace("+", "-").replace("/", "_")]
    return parts


def echoed_forms(secret: str) -> list[str]:
    """Each way a server echoes `secret` that no output may hold: another case, percent-encoded, base64 inside."""
    derived = [secret.upper(), secret.lower(), secret.swapcase()]
    for prefix in PREFIXES[:3]:
        derived += base64_parts(secret, prefix)
    # The rule under test: a derived form as short as a key may be is too little of the secret to redact.
    forms = [secret, *(form for form in derived if len(form) >= MIN_KEY_LENGTH)]
    forms += [quote(form, safe="") for form in list(forms)]
    forms += [re.sub("%[0-9A-F]{2}", lambda escape: escape[0].lower(), form) for form in forms]  # either hex case
    return [form for form in dict.fromkeys(forms) if form]


def leaks(secret: str, text: str) -> list[str]:
    """Every run of FRAGMENT_CHARS characters of an echoed form of `secret` found in `text`."""
    found = []
    for form in echoed_forms(secret):
        size = min(FRAGMENT_CHARS, len(form))
        found += [form[i : i + size] for i in range(len(form) - size + 1) if form[i : i + size] in text]
    return found


def all_leaks(key: str, text: str) -> dict[str, list[str]]:
    """Leaks of the key and of each near miss of it, by secret."""
    return {secret: found for secret in [key, *near_misses(key)] if (found := leaks(secret, text))}


# --- the redactor on its own ----------------------------------------------------------------


@settings(database=None, max_examples=200, deadline=None)
@given(
    key=KEYS,
    prefix=st.sampled_from(PREFIXES),
    suffix=st.sampled_from(["", "!", ":tail", "xyz"]),
    url=st.booleans(),
    padded=st.booleans(),
)
def test_the_key_inside_any_base64_value_is_redacted_at_every_alignment(
    key: str, prefix: str, suffix: str, url: bool, padded: bool
) -> None:
    encoded = base64.b64encode(f"{prefix}{key}{suffix}".encode()).decode()
    if url:
        encoded = encoded.replace("+", "-").replace("/", "_")
    if not padded:
        encoded = encoded.rstrip("=")
    redacted = Redactor([key])(f"X-Debug: {encoded}; end")
    assert REDACTED in redacted
    for part in base64_parts(key, prefix, suffix):
        size = min(FRAGMENT_CHARS, len(part))
        assert not any(part[i : i + size] in redacted for i in range(len(part) - size + 1)), (part, redacted)


@settings(database=None, max_examples=200, deadline=None)
@given(key=KEYS, form=st.integers(min_value=0, max_value=50), before=st.text(max_size=20), after=st.text(max_size=20))
# A key ending in `=`: only base64's padding is no part of the secret, the key's own `=` are.
@example(key="abc=====", form=1, before="", after="")
def test_every_echoed_form_of_the_key_and_of_each_near_miss_is_redacted(
    key: str, form: int, before: str, after: str
) -> None:
    # The engine's redactor: the key, then every credential the gate derives from it.
    redact = Redactor([key, *near_misses(key)])
    for secret in [key, *near_misses(key)]:
        forms = echoed_forms(secret)
        if not forms:  # a near miss too short for any form of it to be redacted (the first half of a short key)
            continue
        text = f"{before}{forms[form % len(forms)]}{after}"
        assert leaks(secret, redact(text)) == [], (secret, text)


@pytest.mark.parametrize(
    "text",
    [
        "Authorization failed: SECRET_KEY is not set; see https://docs.example.com/keys?page=2",
        # base64 of other data, the key's scheme alone, and its prefix: nothing of the key's own.
        base64.b64encode(b"Bearer " + b"0" * 40).decode(),
        "QmVhcmVyIA== sk_test_ SK_TEST_ Bearer sk_",
        "GET /checkouts/cks_abc -> 404 {'code': 'NOT_FOUND', 'message': 'Checkout session not found'}",
    ],
)
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert Redactor([KEY, *near_misses(KEY)])(text) == text


def test_a_derived_form_shorter_than_a_key_is_not_redacted() -> None:
    # The first half of an 8-character key is 4 characters: its other case and its base64 carry too little of
    # the key to matter, and would blot out ordinary text.
    assert derived_forms("sk_T") == set()
    assert Redactor(["sk_T"])("SK_T and c2tfVA in text") == "SK_T and c2tfVA in text"
    assert {len(form) for form in derived_forms("sk_test1")} >= {8}
    assert all(len(form) >= MIN_KEY_LENGTH for form in derived_forms("abcdefgh"))


# --- the whole gate: a server that echoes the credential transformed ------------------------------


class EchoingTransformed(CheckoutApi):
    """A careless server: it echoes the Authorization it got in base64, in another case, percent-encoded..."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        authorization = headers.get("Authorization", "")
        token = authorization.removeprefix("Bearer ")
        echoes = {
            "X-Echo-Authorization": base64.b64encode(authorization.encode()).decode(),
            "X-Echo-Token": base64.urlsafe_b64encode(token.encode()).decode().rstrip("="),
            "X-Echo-Basic": "Basic " + base64.b64encode(f"user:{token}".encode()).decode(),
            "X-Echo-Upper": authorization.upper(),
            "X-Echo-Percent": quote(token.upper(), safe="").lower(),
            "X-Echo-Swapped": token.swapcase(),
        }
        # Every echo in one text, short enough for a finding's excerpt of the body (300 characters).
        echoed = " ".join(echoes.values())
        safe = {name: value.encode("latin-1", "replace").decode("latin-1") for name, value in echoes.items()}
        reply = super().handle(method, target, headers)
        if reply.status == 200:
            # Breaks the schema: the value, echoes and all, is quoted by the finding in every report.
            body = {**json.loads(reply.body), "payment_status": echoed}
            return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json", **safe})
        # Not JSON (a SHOULD warning): the refusal of each near miss, with its echoes, is a finding too.
        return Reply(reply.status, echoed.encode(), {"Content-Type": "text/plain", **safe})


def _outputs(result: Any, *folders: Path) -> str:
    texts = [result.stdout, result.stderr]
    for folder in folders:
        texts += [path.read_bytes().decode("utf-8", "replace") for path in sorted(folder.rglob("*")) if path.is_file()]
    return "\n".join(texts)


def test_a_recorded_run_against_a_server_echoing_the_key_transformed_keeps_no_form_of_it(tmp_path: Path) -> None:
    reports, cassettes = tmp_path / "reports", tmp_path / "cassettes"
    with Sandbox(api=EchoingTransformed(KEY, seeded_sessions())) as sandbox:
        result = conformance(
            "run", "--record", "--base-url", sandbox.base_url, "--report-dir", str(reports),
            "--cassette-dir", str(cassettes), "--sarif", str(reports / "findings.sarif"), "--max-examples", "3",
            "--checkout-id", sandbox.checkout_ids[0], "--checkout-id", sandbox.checkout_ids[1],
            env={"DODO_PAYMENTS_API_KEY": KEY},
        )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert (cassettes / "run.json").exists()
    recorded = "\n".join(path.read_text(encoding="utf-8") for path in sorted(cassettes.glob("*.yaml")))
    # The echoes were recorded, scrubbed: each near miss was sent and came back.
    assert recorded.count("X-Echo-Basic") > len(near_misses(KEY))
    assert all_leaks(KEY, recorded) == {}
    assert all_leaks(KEY, _outputs(result, reports)) == {}
    # The 200 body with the echoes is a finding in every report.
    assert "payment_status" in (reports / "summary.md").read_text(encoding="utf-8")


def test_the_record_the_engine_returns_holds_no_form_of_an_echoed_key(tmp_path: Path) -> None:
    said: list[str] = []
    with Sandbox(api=EchoingTransformed(KEY, seeded_sessions())) as sandbox:
        flags = Flags(
            base_url=sandbox.base_url, api_key=KEY, checkout_ids=tuple(sandbox.checkout_ids[:2]), spec=SPEC,
            report_dir=tmp_path, max_examples=3,
        )  # fmt: skip
        outcome = engine.run(build_settings(flags), say=said.append)
    assert outcome.exit_code == 1, outcome.record.result.reason
    assert any("payment_status" in string for string in every_string(outcome.record))
    assert all_leaks(KEY, "\n".join(every_string(outcome.record))) == {}
    assert all_leaks(KEY, "\n".join(said)) == {}


def test_the_pytest_front_ends_failure_messages_hold_no_form_of_an_echoed_key(tmp_path: Path) -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("DODO_", "CONFORMANCE_"))}
    with Sandbox(api=EchoingTransformed(KEY, seeded_sessions())) as sandbox:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "--base-url", sandbox.base_url,
             "--checkout-id", sandbox.checkout_ids[0], "--spec", str(SPEC), "--max-examples", "3",
             "--report-dir", str(tmp_path / "reports")],
            cwd=tmp_path, env={**environment, "DODO_PAYMENTS_API_KEY": KEY}, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "payment_status" in result.stdout  # the failure message quotes the echoing body's value
    assert all_leaks(KEY, result.stdout + result.stderr) == {}
