"""Bad input names where it came from (a flag or an environment variable) and what to remove, never the key."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support import KEY, ROOT, SPEC, conformance

from conformance.errors import BadInputError
from conformance.given_key import read_key_file
from conformance.sandbox import CheckoutApi, Sandbox, seeded_sessions
from conformance.settings import Flags, build_settings

KEY_SHAPED = "sk_test_input_sources_0123456789"


def _refusal(environ: dict[str, str], **flags: Any) -> str:
    with pytest.raises(BadInputError) as raised:
        build_settings(Flags(**flags), environ=environ)
    return str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://exa mple.com",  # whitespace
        "ftp://example.com",  # not http(s)
        "http://user:pw@127.0.0.1:9",  # a user name
        "http://127.0.0.1:9/?a=1",  # a query
        "http://127.0.0.1:99999",  # a port out of range
        "http://127.0.0.1:9/v1/checkouts",  # the operation's own path
        "http://*.com",  # a host the HTTP client cannot send to
        "http://a\u2024b.com",  # a host IDNA refuses
    ],
)
def test_a_bad_base_url_from_the_environment_names_the_variable_not_the_flag(url: str) -> None:
    message = _refusal({"DODO_PAYMENTS_BASE_URL": url, "DODO_PAYMENTS_API_KEY": KEY_SHAPED})
    assert message.startswith("DODO_PAYMENTS_BASE_URL ")
    assert "--base-url" not in message
    # The same URL given by the flag is named by the flag.
    assert _refusal({"DODO_PAYMENTS_API_KEY": KEY_SHAPED}, base_url=url).startswith("--base-url ")


@pytest.mark.parametrize(
    ("environ", "flags", "named", "not_named"),
    [
        ({"CONFORMANCE_CHECKOUT_IDS": "cks_a cks_b"}, {}, "CONFORMANCE_CHECKOUT_IDS", "--checkout-id"),
        ({"CONFORMANCE_CHECKOUT_IDS": "cks_a,,cks_b"}, {}, "CONFORMANCE_CHECKOUT_IDS", "--checkout-id"),
        ({"CONFORMANCE_PRODUCT_ID": "pdt a"}, {"create_session": True}, "CONFORMANCE_PRODUCT_ID", "--product-id"),
        ({"DODO_PAYMENTS_API_KEY": "short"}, {}, "DODO_PAYMENTS_API_KEY", "--api-key"),
    ],
)
def test_every_other_value_from_the_environment_is_named_by_its_variable(
    environ: dict[str, str], flags: dict[str, Any], named: str, not_named: str
) -> None:
    message = _refusal({"DODO_PAYMENTS_API_KEY": KEY_SHAPED, **environ}, base_url="http://127.0.0.1:9", **flags)
    assert named in message
    assert not_named not in message


def test_the_cli_names_the_variable_that_held_a_bad_base_url() -> None:
    result = conformance("run", env={"DODO_PAYMENTS_BASE_URL": "http://*.com", "DODO_PAYMENTS_API_KEY": KEY_SHAPED})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        (
            "conformance: error: DODO_PAYMENTS_BASE_URL 'http://*.com' is not a URL the HTTP client can send to "
            "(URL has an invalid label.); pass the server's root, e.g. https://test.dodopayments.com"
        )
    ]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_target_from_the_environment_is_named_by_its_variable(tmp_path: Path) -> None:
    result = conformance(
        "run", "--report-dir", str(tmp_path),
        env={"DODO_PAYMENTS_BASE_URL": f"http://127.0.0.1:{_closed_port()}", "DODO_PAYMENTS_API_KEY": KEY_SHAPED},
    )  # fmt: skip
    verdict = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 3, verdict
    assert "DODO_PAYMENTS_BASE_URL" in verdict
    assert "--base-url" not in verdict


def test_a_rejected_key_and_a_refused_product_name_the_variables_that_held_them(tmp_path: Path, serve: Any) -> None:
    sandbox: Sandbox = serve(CheckoutApi(KEY, seeded_sessions()))
    target = {"DODO_PAYMENTS_BASE_URL": sandbox.base_url}
    rejected = conformance("run", "--report-dir", str(tmp_path), env={**target, "DODO_PAYMENTS_API_KEY": KEY_SHAPED})
    verdict = rejected.stdout.strip().splitlines()[-1]
    assert rejected.returncode == 3, verdict
    assert "DODO_PAYMENTS_API_KEY" in verdict
    assert "--api-key" not in verdict
    refused = conformance(
        "run", "--report-dir", str(tmp_path), "--create-session",
        env={**target, "DODO_PAYMENTS_API_KEY": KEY, "CONFORMANCE_PRODUCT_ID": "pdt_no_such_product"},
    )  # fmt: skip
    verdict = refused.stdout.strip().splitlines()[-1]
    assert refused.returncode == 3, verdict
    assert "CONFORMANCE_PRODUCT_ID" in verdict
    assert "--product-id" not in verdict


# What a key copied with its surroundings looks like, and what the error must say to remove.
DRESSED_KEYS = [
    ("\ufeff" + KEY_SHAPED, "byte order mark (BOM"),
    (f'"{KEY_SHAPED}"', "wrapped in quotes"),
    (f"'{KEY_SHAPED}'", "wrapped in quotes"),
    (f"Bearer {KEY_SHAPED}", "drop the 'Bearer ' prefix"),
    (f"bearer:{KEY_SHAPED}", "drop the 'Bearer ' prefix"),
]


@pytest.mark.parametrize(("key", "cause"), DRESSED_KEYS)
def test_a_key_copied_with_a_bom_quotes_or_its_scheme_says_what_to_remove_from_every_source(
    tmp_path: Path, key: str, cause: str
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n", encoding="utf-8")
    messages = {
        "DODO_PAYMENTS_API_KEY": _refusal({"DODO_PAYMENTS_API_KEY": key}, base_url="http://127.0.0.1:9"),
        "--api-key": _refusal({}, base_url="http://127.0.0.1:9", api_key=key),
    }
    with pytest.raises(BadInputError) as raised:
        read_key_file(key_file)
    messages["--api-key-file"] = str(raised.value)
    for source, message in messages.items():
        assert f"the API key from {source}" in message
        assert cause in message
        assert KEY_SHAPED[4:14] not in message


def test_a_key_file_saved_with_a_bom_is_refused_by_the_cli_as_such_and_unshown(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"\xef\xbb\xbf" + KEY_SHAPED.encode() + b"\n")
    result = conformance(
        "run", "--base-url", "http://127.0.0.1:9", "--api-key-file", str(key_file), "--report-dir", str(tmp_path)
    )
    assert result.returncode == 2
    assert "starts with a byte order mark (BOM" in result.stderr
    assert "save the file as UTF-8 without a BOM" in result.stderr
    assert KEY_SHAPED[4:14] not in result.stderr + result.stdout


@pytest.mark.parametrize("rate", ["0.0001/s", "5/m"])
def test_a_pace_that_cannot_send_the_run_within_its_time_budget_is_refused_before_any_request(
    tmp_path: Path, rate: str
) -> None:
    # A short budget, so that a run that is not refused ends soon (as could not judge) instead of pacing for hours.
    result = conformance("run", "--sandbox", "--report-dir", str(tmp_path), "--rate-limit", rate, "--max-time", "30")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"at --rate-limit {rate} the run can send" in lines[0]
    assert "within --max-time 30 s, and it sends at least 128; give --rate-limit 256/m or more" in lines[0]
    assert result.stdout == ""


def test_a_pace_that_can_send_the_run_in_time_is_accepted() -> None:
    from conformance.engine import prepare  # noqa: PLC0415 - the refusal is the engine's, before any request

    settings = build_settings(Flags(sandbox=True, rate_limit="9/m", spec=SPEC), environ={})
    assert prepare(settings).settings.rate_per_second == pytest.approx(9 / 60)


def test_the_default_remote_pace_names_itself_and_asks_for_more_time() -> None:
    from conformance.engine import prepare  # noqa: PLC0415

    settings = build_settings(
        Flags(base_url="http://192.0.2.1", api_key=KEY_SHAPED, max_time=60, spec=SPEC), environ={}
    )  # never sent: the refusal comes first
    with pytest.raises(BadInputError) as raised:
        prepare(settings)
    assert str(raised.value) == (
        "at the default pace off this machine (100/m) the run can send 100 requests within --max-time 60 s, and it "
        "sends at least 128; give --rate-limit 128/m or more, or --max-time 77 or more"
    )


def test_a_replay_refuses_a_rate_limit_it_could_not_apply() -> None:
    result = conformance("run", "--replay", "--rate-limit", "10/s")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        (
            "conformance: error: --rate-limit paces the requests sent to a server, and a replay sends none: every "
            "reply comes from the cassettes; drop --rate-limit"
        )
    ]


def test_a_replay_refuses_allow_live_mode_which_it_could_not_apply(tmp_path: Path) -> None:
    # A replay sends nothing: the flag, silently dropped, would read as if a live-mode target had been allowed.
    result = conformance("run", "--replay", "--allow-live-mode", "--report-dir", str(tmp_path / "reports"))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        (
            "conformance: error: --allow-live-mode lets requests reach a live-mode host, and a replay sends none: "
            "every reply comes from the cassettes; drop --allow-live-mode"
        )
    ]
    assert result.stdout == ""
    assert not (tmp_path / "reports" / "summary.json").exists()


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (["--sandbox", "--rate-limit", "0.0001/s", "--max-time", "30"], "at --rate-limit 0.0001/s the run can send 0"),
        (["--replay", "--rate-limit", "10/s"], "--rate-limit paces the requests sent to a server, and a replay"),
    ],
    ids=["unreachable pace", "pace on a replay"],
)
def test_the_pytest_front_end_refuses_the_same_paces_as_a_usage_error(
    tmp_path: Path, args: list[str], cause: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--spec", str(SPEC),
         "--report-dir", str(tmp_path / "reports"), "--cassette-dir", str(ROOT / "cassettes"), *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 4, result.stdout[-2000:] + result.stderr[-2000:]
    assert cause in result.stderr
    assert not (tmp_path / "reports" / "summary.json").exists()


def test_the_pytest_front_end_refuses_allow_live_mode_on_a_replay_as_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--spec", str(SPEC), "--replay", "--allow-live-mode",
         "--report-dir", str(tmp_path / "reports"), "--cassette-dir", str(ROOT / "cassettes")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 4, result.stdout[-2000:] + result.stderr[-2000:]
    assert "--allow-live-mode lets requests reach a live-mode host, and a replay sends none" in result.stderr
    assert not (tmp_path / "reports" / "summary.json").exists()
