"""Live mode moves real money: the gate sends nothing there, whichever way it is started or the host is spelled."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import KEY, SPEC, run_resolving

from conformance.errors import BadInputError
from conformance.hosts import is_loopback, live_host_named, prepared_url, without_userinfo
from conformance.sandbox import CheckoutApi, Reply, seeded_sessions
from conformance.settings import Flags, build_settings, refuse_live_mode
from conformance.spec import load_contract

LIVE = "live.dodopayments.com"


class Counting(CheckoutApi):
    """The reference behaviour, counting every request that reaches it."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self.seen: list[str] = []

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        self.seen.append(target)
        return super().handle(method, target, headers)

    def create(self, headers: Mapping[str, str], body: bytes) -> Reply:
        self.seen.append(f"POST /checkouts with {headers.get('Authorization', 'no key')}")
        return super().create(headers, body)


@pytest.fixture
def spec_naming_no_live_host(tmp_path: Path) -> Path:
    """The bundled spec without its servers: the refusal must not depend on the spec naming the live host."""
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    del document["servers"]
    path = tmp_path / "no-servers.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "url",
    [
        "https://live.dodopayments.com",
        "https://LIVE.DodoPayments.com",
        "https://live.dodopayments.com.",
        "https://live.dodopayments.com:443",
        "http://live.dodopayments.com:80/",
        "https://live.dodopayments.com:8443/api",
        "https://live%2Edodopayments.com",
        "https://live.dodopayments.com.:443",
        "https://\uff4c\uff49\uff56\uff45.dodopayments.com",  # full-width letters
        "https://live\u3002dodopayments\u3002com",  # ideographic full stops
    ],
)
def test_every_spelling_of_the_live_host_names_it(url: str) -> None:
    assert live_host_named(url, frozenset()) == LIVE


@pytest.mark.parametrize(
    "url", ["https://test.dodopayments.com", "https://live.dodopayments.com.evil.example", "http://127.0.0.1:8000"]
)
def test_other_hosts_are_not_live(url: str) -> None:
    assert live_host_named(url, frozenset()) is None


def test_a_host_the_spec_calls_live_is_compared_in_every_spelling_too() -> None:
    assert live_host_named("https://API.Example.COM.:443", frozenset({"api.example.com"})) == "api.example.com"
    # The shipped spec names Dodo's live host too: named twice, it is still live (a union, not a toggle).
    assert live_host_named("https://live.dodopayments.com", frozenset({LIVE})) == LIVE
    assert live_host_named("https://live.dodopayments.com", frozenset({"api.example.com"})) == LIVE


def test_a_url_with_no_host_is_not_loopback() -> None:
    # No spelling at all must not count as "every spelling is loopback" (all() of nothing is True).
    assert not is_loopback("http:///checkouts")
    assert not is_loopback("")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pass@127.0.0.1:9/x", "http://127.0.0.1:9/x"),
        ("http://us@er:p@ss@127.0.0.1:9/x", "http://127.0.0.1:9/x"),  # '@' in the password too
        ("http://127.0.0.1:9/x", "http://127.0.0.1:9/x"),
        ("http://[::1", "<unparsable URL>"),
    ],
)
def test_a_url_is_shown_without_its_user_and_password(url: str, shown: str) -> None:
    assert without_userinfo(url) == shown


def test_a_url_the_http_client_refuses_is_one_line_with_the_clients_reason() -> None:
    with pytest.raises(BadInputError) as refused:
        prepared_url("http://exa%zzmple.com")
    assert str(refused.value).startswith(
        "--base-url 'http://exa%zzmple.com' is not a URL the HTTP client can send to (Failed to parse: "
    )
    assert "\n" not in str(refused.value)


def test_the_refusal_raises_before_settings_reach_the_transport(spec_naming_no_live_host: Path) -> None:
    settings = build_settings(Flags(base_url="https://Live.DodoPayments.com.", api_key=KEY))
    with pytest.raises(BadInputError, match="is Dodo's live mode"):
        refuse_live_mode(settings.base_url, load_contract(spec_naming_no_live_host), allowed=False)


def test_loopback_is_recognised_only_when_every_spelling_is_loopback() -> None:
    assert is_loopback("http://LOCALHOST.:8000")
    assert is_loopback("http://[::1]:8000")
    assert not is_loopback("http://localhost.example.com")


@pytest.mark.parametrize(
    ("entry", "args", "code"),
    [
        ("conformance", ["run"], 2),
        ("conformance", ["run", "--record"], 2),
        # pytest's own exit code for a usage error.
        ("pytest", ["-p", "no:cacheprovider"], 4),
    ],
    ids=["conformance run", "conformance run --record", "pytest --base-url"],
)
def test_the_live_host_is_refused_on_every_entry_path_before_any_request(  # noqa: PLR0917 - fixtures and parameters
    tmp_path: Path, serve: Any, spec_naming_no_live_host: Path, entry: str, args: list[str], code: int
) -> None:
    counting = Counting()
    sandbox = serve(counting)
    port = sandbox.base_url.rsplit(":", 1)[1]
    cassettes = tmp_path / "cassettes"
    result = run_resolving(
        entry, {LIVE: "127.0.0.1"}, *args, f"--base-url=http://{LIVE}.:{port}", f"--spec={spec_naming_no_live_host}",
        f"--report-dir={tmp_path / 'reports'}", f"--cassette-dir={cassettes}", "--checkout-id", sandbox.checkout_ids[0],
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == code, result.stdout + result.stderr
    assert f"{LIVE} is Dodo's live mode" in result.stdout + result.stderr
    assert counting.seen == []
    assert not cassettes.exists() or not any(cassettes.iterdir())


def test_with_allow_live_mode_the_same_run_does_reach_the_server(
    tmp_path: Path, serve: Any, spec_naming_no_live_host: Path
) -> None:
    counting = Counting()
    sandbox = serve(counting)
    port = sandbox.base_url.rsplit(":", 1)[1]
    result = run_resolving(
        "conformance", {LIVE: "127.0.0.1"}, "run", "--allow-live-mode", "--base-url", f"http://{LIVE}:{port}",
        "--spec", str(spec_naming_no_live_host), "--report-dir", str(tmp_path), "--max-examples", "5",
        "--rate-limit", "1000/s", "--checkout-id", sandbox.checkout_ids[0],
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert counting.seen != []


def test_no_write_leaves_for_a_live_host_with_a_key_without_one_or_with_a_wrong_one(
    tmp_path: Path, serve: Any, spec_naming_no_live_host: Path
) -> None:
    # --create-session also sends a create without a key and one with a wrong key: the live refusal covers them.
    counting = Counting()
    sandbox = serve(counting)
    port = sandbox.base_url.rsplit(":", 1)[1]
    result = run_resolving(
        "conformance", {LIVE: "127.0.0.1"}, "run", "--allow-live-mode", "--create-session",
        "--product-id", sandbox.product_ids[0], "--base-url", f"http://{LIVE}:{port}",
        "--spec", str(spec_naming_no_live_host), "--report-dir", str(tmp_path), "--rate-limit", "1000/s",
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "never creates one there" in result.stdout + result.stderr
    assert counting.seen == []
