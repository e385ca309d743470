"""Settings from flags and the environment: what is refused before any request, and what is read as meant."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from conformance.errors import BadInputError
from conformance.settings import Flags, build_settings

KEY = "sk_test_settings_key"
TARGET = {"base_url": "http://127.0.0.1:9", "api_key": KEY}


def _settings(environ: dict[str, str] | None = None, **flags: Any) -> Any:
    return build_settings(Flags(**{**TARGET, **flags}), environ=environ or {})


@pytest.mark.parametrize(
    ("value", "ids"),
    [("a,b", ("a", "b")), ("a,b,", ("a", "b")), (",a", ("a",)), (" a , b ", ("a", "b")), ("a,a", ("a",))],
)
def test_checkout_ids_from_the_environment_are_read_as_meant(value: str, ids: tuple[str, ...]) -> None:
    assert _settings({"CONFORMANCE_CHECKOUT_IDS": value}).checkout_ids == ids


@pytest.mark.parametrize(
    ("environ", "flags", "cause"),
    [
        ({"CONFORMANCE_CHECKOUT_IDS": ""}, {}, "CONFORMANCE_CHECKOUT_IDS is set but holds no id"),
        ({"CONFORMANCE_CHECKOUT_IDS": " , "}, {}, "CONFORMANCE_CHECKOUT_IDS is set but holds no id"),
        ({"CONFORMANCE_CHECKOUT_IDS": "a,,b"}, {}, "a checkout id in CONFORMANCE_CHECKOUT_IDS is empty"),
        (
            {"CONFORMANCE_CHECKOUT_IDS": "a b,c"},
            {},
            (
                "the checkout id 'a b' in CONFORMANCE_CHECKOUT_IDS has a comma or whitespace inside it; "
                "separate the ids with commas only"
            ),
        ),
        (
            {},
            {"checkout_ids": ("cks_a, cks_b",)},
            (
                "the checkout id 'cks_a, cks_b' in --checkout-id has a comma or whitespace inside it; "
                "pass --checkout-id once per id"
            ),
        ),
        ({}, {"checkout_ids": ("cks_a\tcks_b",)}, "in --checkout-id has a comma or whitespace inside it"),
        (
            {},
            {"base_url": "http://127.0.0.1:9/v1/checkouts/"},
            "--base-url 'http://127.0.0.1:9/v1/checkouts/' ends in /checkouts, which the gate adds itself",
        ),
        ({}, {"base_url": "http://127.0.0.1:9/CHECKOUTS"}, "ends in /checkouts"),
        (
            {},
            {"base_url": None, "api_key": None, "sandbox": True, "api_key_file": "key"},
            "--sandbox makes its own key, so --api-key and --api-key-file cannot be used with it",
        ),
        ({}, {"base_url": None, "sandbox": True}, "--sandbox makes its own key"),
        ({"DODO_PAYMENTS_BASE_URL": " "}, {"base_url": None}, "DODO_PAYMENTS_BASE_URL is set but empty"),
        ({"DODO_PAYMENTS_API_KEY": ""}, {"api_key": None}, "DODO_PAYMENTS_API_KEY is set but empty"),
    ],
)
def test_input_that_would_judge_the_wrong_thing_is_refused(
    environ: dict[str, str], flags: dict[str, Any], cause: str
) -> None:
    with pytest.raises(BadInputError) as refused:
        _settings(environ, **flags)
    assert cause in str(refused.value)


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:9/checkouts-api", "http://127.0.0.1:9/checkouts/v1"])
def test_a_base_path_that_only_contains_checkouts_is_accepted(base_url: str) -> None:
    # A gateway may mount the API under such a path; only a path that ends at the operation's own is a mistake.
    assert _settings(base_url=base_url).base_url == base_url


def test_a_key_of_eight_characters_is_accepted_and_one_of_seven_is_refused_as_too_short() -> None:
    # Seven characters cannot be a real key; refusing eight would turn away a short test key someone uses.
    assert _settings(api_key=" sk_45678 ").api_key == "sk_45678"
    with pytest.raises(BadInputError) as refused:
        _settings(api_key="sk_4567")
    assert str(refused.value).startswith("the API key from --api-key is 7 characters long, too short")
    assert "sk_4567" not in str(refused.value)


def test_the_sandbox_reads_only_its_own_sessions_whatever_the_environment_says() -> None:
    sandbox = build_settings(Flags(sandbox=True), environ={"CONFORMANCE_CHECKOUT_IDS": "cks_on_test_mode"})
    assert sandbox.checkout_ids == ()  # the sandbox's seeded ids are filled in when it starts
    with pytest.raises(BadInputError) as refused:
        build_settings(Flags(sandbox=True, checkout_ids=("cks_on_test_mode",)), environ={})
    assert str(refused.value).startswith("--sandbox reads its own seeded sessions, so --checkout-id cannot be used")


def test_excluding_every_must_check_is_refused_but_excluding_some_is_not() -> None:
    from conformance.checks import Level  # noqa: PLC0415 - the registry loads Schemathesis
    from conformance.operations import REGISTRY  # noqa: PLC0415 - the registry loads Schemathesis

    must = tuple(check.id for check in REGISTRY.values() if check.level is Level.MUST)
    assert _settings(excluded_checks=must[1:]).excluded_checks == must[1:]
    with pytest.raises(BadInputError) as refused:
        _settings(excluded_checks=must)
    assert str(refused.value).startswith("--exclude-check leaves no MUST check to run")


def test_a_key_file_that_is_not_utf8_is_named_as_such_not_as_a_wrong_path(tmp_path: Any) -> None:
    from conformance.given_key import read_key_file  # noqa: PLC0415

    key_file = tmp_path / "key"
    key_file.write_bytes("sk_test_in_utf16_0123".encode("utf-16"))
    with pytest.raises(BadInputError) as refused:
        read_key_file(key_file)
    assert (
        str(refused.value)
        == f"--api-key-file {key_file} is not UTF-8 text; save the key in the file as plain text, on one line"
    )


# --- defaults as the README's flag table states them -----------------------------------------------------------


def _readme_defaults() -> dict[str, str]:
    from support import ROOT  # noqa: PLC0415

    table = (ROOT / "README.md").read_text(encoding="utf-8").split("| `--base-url URL` |", 1)[1].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in ("| `--base-url URL` |" + table).splitlines()]
    return {cells[0].strip().strip("`").split(" ")[0]: cells[2].strip() for cells in rows}


def test_a_run_given_only_a_target_uses_the_defaults_the_readme_states() -> None:
    from conformance.cli import _parse  # noqa: PLC0415
    from conformance.options import flags_from  # noqa: PLC0415
    from conformance.settings import Mode  # noqa: PLC0415

    readme = _readme_defaults()
    arguments = _parse(["run", "--base-url", "http://127.0.0.1:9"])
    settings = build_settings(flags_from(lambda name: getattr(arguments, name)), environ={"DODO_PAYMENTS_API_KEY": KEY})
    remote = build_settings(
        flags_from(lambda name: getattr(_parse(["run", "--base-url", "https://test.example"]), name)),
        environ={"DODO_PAYMENTS_API_KEY": KEY},
    )
    assert readme["--max-examples"] == str(settings.max_examples) == "100"
    assert readme["--seed"] == str(settings.seed)
    assert readme["--request-timeout"] == f"{settings.request_timeout:g}"
    assert readme["--max-time"] == f"{settings.max_time:g}"
    assert readme["--concurrency"] == str(settings.concurrency)
    assert readme["--spec"] == f"`{settings.spec}`"
    assert readme["--report-dir"] == f"`{settings.report_dir}`"
    assert readme["--cassette-dir"] == f"`{settings.cassette_dir}`"
    assert readme["--rate-limit"] == "`100/m` off this machine, none on loopback"
    assert settings.rate_per_second is None
    assert remote.rate_per_second == 100 / 60
    assert {readme[flag] for flag in ("--strict", "--record", "--replay", "--oracle", "--allow-live-mode")} == {"off"}
    assert (settings.strict, settings.oracle, settings.allow_live_mode, settings.mode) == (
        False,
        False,
        False,
        Mode.LIVE,
    )
    assert settings.create_session is False
    assert settings.excluded_checks == ()
    assert settings.sarif is None
    # Flags made in code (the selftest, the plugin's tests) start from the same defaults.
    in_code = build_settings(Flags(base_url=TARGET["base_url"], api_key=KEY), environ={})
    assert settings.sources == {"api_key": "DODO_PAYMENTS_API_KEY"}
    assert in_code == dataclasses.replace(settings, api_key=KEY, sources={})


@pytest.mark.parametrize("key", ["sk_test_!bang_ok", "sk_test_~tilde_ok", "!!!!!!!!", "~~~~~~~~"])
def test_every_printable_ascii_character_but_space_may_be_in_a_key(key: str) -> None:
    assert _settings(api_key=key).api_key == key


@pytest.mark.parametrize("key", ["sk_test_\x7fdel_key", "sk_test_\x01soh_key", "sk_test_caf\u00e9_key"])
def test_a_key_with_a_control_or_non_ascii_character_is_refused_unshown(key: str) -> None:
    with pytest.raises(BadInputError) as refused:
        _settings(api_key=key)
    assert "has a control character or a character outside printable ASCII" in refused.value.cause
    assert key not in str(refused.value)


@pytest.mark.parametrize(("concurrency", "ok"), [(-1, False), (0, True), (10, True), (11, False)])
def test_concurrency_runs_from_0_to_10(concurrency: int, ok: bool) -> None:
    if ok:
        assert _settings(concurrency=concurrency).concurrency == concurrency
    else:
        with pytest.raises(BadInputError, match=f"--concurrency is {concurrency}; give 0"):
            _settings(concurrency=concurrency)


@pytest.mark.parametrize(
    "given",
    [{"base_url": "http://127.0.0.1:9"}, {"api_key": "sk_test_settings_key"}, {"api_key_file": "key.txt"},
     {"checkout_ids": ("cks_1",)}, {"sandbox": True}],
)  # fmt: skip
def test_a_replay_takes_no_target_key_or_ids_of_its_own(given: dict[str, Any]) -> None:
    with pytest.raises(BadInputError, match="--replay takes its target, key and checkout ids from the recording"):
        build_settings(Flags(replay=True, **given), environ={})


@pytest.mark.parametrize("timeout", [0.001, 9.0, 11.0, 3600.0])
def test_a_replay_refuses_any_request_timeout_but_the_default(timeout: float) -> None:
    with pytest.raises(BadInputError, match="a replay reads every reply from the cassettes"):
        build_settings(Flags(replay=True, request_timeout=timeout), environ={})
    assert build_settings(Flags(replay=True), environ={}).request_timeout == 10.0


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/?a=1", "http://127.0.0.1:9/#top", "http://127.0.0.1:9?a"])
def test_a_base_url_with_a_query_or_a_fragment_is_refused(url: str) -> None:
    with pytest.raises(BadInputError, match="has a query or fragment"):
        _settings(base_url=url)


# --- the live-mode refusal, called as the engine calls it ------------------------------------------------------


LIVE = "https://live.dodopayments.com"


@pytest.mark.parametrize(
    ("base_url", "allowed", "creates", "refused"),
    [
        (LIVE, False, False, "is Dodo's live mode, where requests act on real money and real customers"),
        (LIVE, True, False, None),
        (LIVE, True, True, "is Dodo's live mode, where a created checkout session is a real checkout page"),
        (LIVE, False, True, "is Dodo's live mode, where a created checkout session is a real checkout page"),
        ("https://test.dodopayments.com", False, True, None),
        ("http://127.0.0.1:9", False, True, None),
        (None, False, True, None),  # the bundled sandbox
    ],
)
def test_a_live_host_is_refused_unless_allowed_and_a_create_there_whatever_the_flags(
    contract: Any, base_url: str | None, allowed: bool, creates: bool, refused: str | None
) -> None:
    from conformance.settings import refuse_live_mode  # noqa: PLC0415

    if refused is None:
        refuse_live_mode(base_url, contract, allowed=allowed, creates=creates)
        return
    with pytest.raises(BadInputError) as error:
        refuse_live_mode(base_url, contract, allowed=allowed, creates=creates)
    assert error.value.cause == f"live.dodopayments.com {refused}" + (
        ", so the gate sends nothing there"
        if "real money" in refused
        else ", so the gate never creates one there, whatever the flags"
    )


def test_reading_a_live_host_when_allowed_creates_nothing_unless_asked(contract: Any) -> None:
    from conformance.settings import refuse_live_mode  # noqa: PLC0415

    refuse_live_mode(LIVE, contract, allowed=True)


# --- the product of a created session -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "environ", "product"),
    [
        ({"create_session": True, "product_id": "  pdt_1 "}, {}, "pdt_1"),
        ({"create_session": True}, {"CONFORMANCE_PRODUCT_ID": " pdt_env "}, "pdt_env"),
        ({"create_session": True, "product_id": "pdt_flag"}, {"CONFORMANCE_PRODUCT_ID": "pdt_env"}, "pdt_flag"),
        ({}, {"CONFORMANCE_PRODUCT_ID": "pdt_env"}, None),  # no session created: the variable is not read
    ],
)
def test_the_product_of_a_created_session_comes_from_the_flag_then_the_environment(
    flags: dict[str, Any], environ: dict[str, str], product: str | None
) -> None:
    assert _settings(environ, **flags).product_id == product


def test_the_sandbox_picks_its_own_product_whatever_the_environment_says() -> None:
    sandbox = build_settings(Flags(sandbox=True, create_session=True), environ={"CONFORMANCE_PRODUCT_ID": "pdt_x"})
    assert sandbox.product_id is None
    assert (
        build_settings(Flags(sandbox=True, create_session=True, product_id="pdt_1"), environ={}).product_id == "pdt_1"
    )


@pytest.mark.parametrize(
    ("flags", "environ", "cause"),
    [
        ({"product_id": "pdt_1"}, {}, "--product-id was given without --create-session"),
        ({"create_session": True}, {}, "--create-session needs a product for the session's cart"),
        ({"create_session": True}, {"CONFORMANCE_PRODUCT_ID": " "}, "CONFORMANCE_PRODUCT_ID is set but empty"),
        (
            {"create_session": True, "product_id": " "},
            {},
            "the product id from --product-id is empty or has whitespace",
        ),
        ({"create_session": True, "product_id": "pdt 1"}, {}, "the product id from --product-id is empty or has"),
        ({"create_session": True, "product_id": "pdt_\x00"}, {}, "the product id from --product-id is empty or has"),
        ({"create_session": True, "product_id": "pdt_\x7f"}, {}, "the product id from --product-id is empty or has"),
        ({"create_session": True}, {"CONFORMANCE_PRODUCT_ID": "a b"}, "the product id from CONFORMANCE_PRODUCT_ID"),
    ],
)
def test_a_product_that_cannot_be_one_is_refused_naming_where_it_came_from(
    flags: dict[str, Any], environ: dict[str, str], cause: str
) -> None:
    with pytest.raises(BadInputError) as refused:
        _settings(environ, **flags)
    assert refused.value.cause.startswith(cause)


@pytest.mark.parametrize("given", [{"create_session": True}, {"product_id": "pdt_1"}])
def test_a_replay_creates_no_session(given: dict[str, Any]) -> None:
    with pytest.raises(BadInputError, match="--replay replays the session the recording created"):
        build_settings(Flags(replay=True, **given), environ={})


# --- smaller boundaries ----------------------------------------------------------------------------------------


def test_which_runs_use_the_bundled_sandbox() -> None:
    assert build_settings(Flags(sandbox=True), environ={}).uses_sandbox
    assert not _settings().uses_sandbox
    replay = build_settings(Flags(replay=True), environ={})
    assert not replay.uses_sandbox
    assert (replay.allow_live_mode, replay.create_session, replay.product_id) == (False, False, None)


def test_the_target_may_come_from_the_environment() -> None:
    settings = build_settings(Flags(api_key=KEY), environ={"DODO_PAYMENTS_BASE_URL": " http://127.0.0.1:9/ "})
    assert settings.base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(("flags", "ok"), [({"max_examples": 1}, True), ({"max_examples": 0}, False),
                                           ({"max_time": 7 * 24 * 3600.0}, True),
                                           ({"max_time": 7 * 24 * 3600.0 + 1}, False),
                                           ({"rate_limit": "1/s"}, True), ({"rate_limit": "0.5/m"}, True),
                                           ({"rate_limit": "0/s"}, False)])  # fmt: skip
def test_limits_are_accepted_up_to_their_bound_and_refused_past_it(flags: dict[str, Any], ok: bool) -> None:
    if ok:
        _settings(**flags)
    else:
        with pytest.raises(BadInputError):
            _settings(**flags)


def test_the_first_unknown_check_id_is_named() -> None:
    with pytest.raises(BadInputError, match=r"--exclude-check 'first\.unknown' is not a check id"):
        _settings(excluded_checks=("first.unknown", "second.unknown"))


def test_a_base_url_with_a_control_character_that_is_not_whitespace_is_refused() -> None:
    with pytest.raises(BadInputError, match="has whitespace or a control character inside it"):
        _settings(base_url="http://127.0.0.1:9/\x7f")


@pytest.mark.parametrize("text", ["", "  \n"])
def test_an_empty_key_file_is_named_as_empty(tmp_path: Any, text: str) -> None:
    from conformance.given_key import read_key_file  # noqa: PLC0415

    key_file = tmp_path / "key"
    key_file.write_text(text, encoding="utf-8")
    with pytest.raises(BadInputError, match=f"--api-key-file {key_file} is empty"):
        read_key_file(key_file)
    key_file.write_text(f"{KEY}\n", encoding="utf-8")
    assert read_key_file(key_file) == KEY
