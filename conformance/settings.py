"""What a run is asked to do, from flags and the environment, checked before any request."""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from conformance.errors import BadInputError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from conformance.spec import Contract

DEFAULT_SPEC = Path("spec/openapi.yaml")
DEFAULT_REPORT_DIR = Path("reports")
DEFAULT_CASSETTE_DIR = Path("cassettes")
DEFAULT_MAX_EXAMPLES = 100
DEFAULT_SEED = 20261128
DEFAULT_REQUEST_TIMEOUT = 10.0
# Dodo documents 100 requests a minute per key (an older changelog says 20 a second): the
# stricter one is the default for any target that is not on this machine.
DEFAULT_REMOTE_RATE_LIMIT = "100/m"
DEFAULT_MAX_TIME_SECONDS = 900.0
# The live host is named here as well as read from the spec, so that a spec without a
# described live server still cannot send real-money traffic by accident.
KNOWN_LIVE_HOSTS = frozenset({"live.dodopayments.com"})
# Shorter keys cannot be real, and redacting them would blot out ordinary text.
MIN_KEY_LENGTH = 8

ENV_BASE_URL = "DODO_PAYMENTS_BASE_URL"
ENV_API_KEY = "DODO_PAYMENTS_API_KEY"
ENV_CHECKOUT_IDS = "CONFORMANCE_CHECKOUT_IDS"
RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class Mode(StrEnum):
    """Where replies come from."""

    LIVE = "live"
    RECORD = "record"  # live, and every exchange is written to cassettes
    REPLAY = "replay"  # every reply is read from cassettes; no network, no key


@dataclass(frozen=True)
class Flags:
    """The flags as given, before defaults and the environment fill them in."""

    spec: Path = DEFAULT_SPEC
    base_url: str | None = None
    api_key: str | None = None
    checkout_ids: tuple[str, ...] = ()
    report_dir: Path = DEFAULT_REPORT_DIR
    max_examples: int | None = None
    seed: int | None = None
    strict: bool = False
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    sandbox: bool = False
    mode: Mode = Mode.LIVE
    cassette_dir: Path = DEFAULT_CASSETTE_DIR
    allow_live_mode: bool = False
    rate_limit: str | None = None
    max_time: float = DEFAULT_MAX_TIME_SECONDS
    excluded_checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """A run's settings; `base_url` None means the bundled sandbox."""

    spec: Path
    base_url: str | None
    api_key: str | None
    checkout_ids: tuple[str, ...]
    report_dir: Path
    max_examples: int
    seed: int
    strict: bool
    request_timeout: float
    mode: Mode = Mode.LIVE
    cassette_dir: Path = DEFAULT_CASSETTE_DIR
    allow_live_mode: bool = False
    # Requests a second; None sends as fast as the target answers.
    rate_per_second: float | None = None
    max_time: float = DEFAULT_MAX_TIME_SECONDS
    excluded_checks: tuple[str, ...] = field(default=())

    @property
    def uses_sandbox(self) -> bool:
        """Whether the run targets the bundled sandbox."""
        return self.base_url is None


def flags_from(option: Callable[[str], Any], mode: Mode, api_key: str | None = None) -> Flags:
    """Flags from an option getter (the CLI's and pytest's options share their names)."""
    return Flags(
        spec=option("spec"),
        base_url=option("base_url"),
        api_key=api_key or option("api_key"),
        checkout_ids=tuple(option("checkout_ids") or ()),
        report_dir=option("report_dir"),
        max_examples=option("max_examples"),
        seed=option("seed"),
        strict=option("conformance_strict"),
        request_timeout=option("request_timeout"),
        sandbox=option("sandbox"),
        mode=mode,
        cassette_dir=option("cassette_dir"),
        allow_live_mode=option("allow_live_mode"),
        rate_limit=option("rate_limit"),
        max_time=option("max_time"),
        excluded_checks=tuple(option("excluded_checks") or ()),
    )


def build_settings(flags: Flags, environ: Mapping[str, str] = os.environ) -> Settings:
    """Fill gaps from the environment and check every value; raise BadInputError naming the fix."""
    _check_common(flags)
    if flags.mode is Mode.REPLAY:
        return _replay_settings(flags)
    if flags.sandbox and flags.base_url:
        raise BadInputError("--sandbox and --base-url were both given", "pass one of them")
    base_url = None if flags.sandbox else flags.base_url or environ.get(ENV_BASE_URL) or None
    api_key = flags.api_key or environ.get(ENV_API_KEY) or None
    ids = list(flags.checkout_ids) if flags.checkout_ids else _ids_from_environment(environ)
    if base_url is not None:
        _check_base_url(base_url)
        if not api_key:
            raise BadInputError(
                f"no API key was given for {base_url}", f"pass --api-key, --api-key-file or set {ENV_API_KEY}"
            )
        if len(api_key) < MIN_KEY_LENGTH:
            raise BadInputError(
                f"the API key is {len(api_key)} characters long, too short to be a real key", "pass the whole key"
            )
    for checkout_id in ids:
        if not checkout_id.strip():
            raise BadInputError(
                f"a checkout id in --checkout-id or {ENV_CHECKOUT_IDS} is empty",
                "give ids of existing checkout sessions, e.g. cks_...",
            )
    remote = base_url is not None and not is_loopback(base_url)
    rate = flags.rate_limit or (DEFAULT_REMOTE_RATE_LIMIT if remote else None)
    return Settings(
        spec=flags.spec,
        base_url=base_url.rstrip("/") if base_url else None,
        api_key=api_key,
        checkout_ids=tuple(dict.fromkeys(checkout_id.strip() for checkout_id in ids)),
        report_dir=flags.report_dir,
        max_examples=DEFAULT_MAX_EXAMPLES if flags.max_examples is None else flags.max_examples,
        seed=DEFAULT_SEED if flags.seed is None else flags.seed,
        strict=flags.strict,
        request_timeout=flags.request_timeout,
        mode=flags.mode,
        cassette_dir=flags.cassette_dir,
        allow_live_mode=flags.allow_live_mode,
        rate_per_second=parse_rate(rate) if rate is not None else None,
        max_time=flags.max_time,
        excluded_checks=flags.excluded_checks,
    )


def _check_common(flags: Flags) -> None:
    if flags.max_examples is not None and flags.max_examples < 1:
        raise BadInputError(f"--max-examples is {flags.max_examples}", "give a positive number of examples")
    if not flags.request_timeout > 0:
        raise BadInputError(f"--request-timeout is {flags.request_timeout:g}", "give a positive number of seconds")
    if not flags.max_time > 0:
        raise BadInputError(f"--max-time is {flags.max_time:g}", "give a positive number of seconds")
    if flags.rate_limit is not None:
        parse_rate(flags.rate_limit)
    _check_check_ids(flags.excluded_checks)
    _check_writable(flags.report_dir)


def _check_check_ids(check_ids: tuple[str, ...]) -> None:
    if not check_ids:
        return
    # Imported here: the registry loads Schemathesis, which most settings checks do not need.
    from conformance.checks import REGISTRY  # noqa: PLC0415

    unknown = [check_id for check_id in check_ids if check_id not in REGISTRY]
    if unknown:
        raise BadInputError(f"--exclude-check {unknown[0]!r} is not a check id", "see 'conformance checks' for the ids")


def _replay_settings(flags: Flags) -> Settings:
    # Imported here: cassettes needs vcrpy, which a live run does not load.
    from conformance.cassettes import REPLAY_BASE_URL, REPLAY_KEY, read_recording  # noqa: PLC0415

    if flags.base_url or flags.api_key or flags.checkout_ids or flags.sandbox:
        raise BadInputError(
            "--replay takes its target, key and checkout ids from the recording",
            "drop --base-url, --api-key, --sandbox and --checkout-id",
        )
    recording = read_recording(flags.cassette_dir)
    for flag, given, recorded in (
        ("--seed", flags.seed, recording.seed),
        ("--max-examples", flags.max_examples, recording.max_examples),
    ):
        if given is not None and given != recorded:
            raise BadInputError(
                f"{flag} {given} differs from the recording's {recorded}, and a replay repeats the recording",
                f"drop {flag}, or re-record with it",
            )
    return Settings(
        spec=flags.spec,
        base_url=REPLAY_BASE_URL,
        api_key=REPLAY_KEY,
        checkout_ids=recording.checkout_ids,
        report_dir=flags.report_dir,
        max_examples=recording.max_examples,
        seed=recording.seed,
        strict=flags.strict,
        request_timeout=flags.request_timeout,
        mode=Mode.REPLAY,
        cassette_dir=flags.cassette_dir,
        max_time=flags.max_time,
        excluded_checks=flags.excluded_checks,
    )


def refuse_live_mode(settings: Settings, contract: Contract) -> None:
    """Stop before any request when the target is a live-mode host and --allow-live-mode is absent."""
    if settings.base_url is None or settings.mode is Mode.REPLAY or settings.allow_live_mode:
        return
    host = (urlsplit(settings.base_url).hostname or "").lower()
    if host in KNOWN_LIVE_HOSTS | contract.live_hosts:
        raise BadInputError(
            f"{host} is Dodo's live mode, where requests act on real money and real customers, so the gate "
            "sends nothing there",
            "judge test mode (https://test.dodopayments.com), or pass --allow-live-mode if you truly mean live",
        )


def is_loopback(base_url: str) -> bool:
    """Whether the target is on this machine, and so may be sent to at full speed."""
    host = urlsplit(base_url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_rate(text: str) -> float:
    """Requests a second from '100/m', '10/s' or '3000/h'."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*([smh])\s*", text)
    if match is None or float(match.group(1)) <= 0:
        raise BadInputError(f"--rate-limit {text!r} is not a rate", "write it as requests/unit, e.g. 100/m or 10/s")
    return float(match.group(1)) / RATE_UNITS[match.group(2)]


def _ids_from_environment(environ: Mapping[str, str]) -> list[str]:
    raw = environ.get(ENV_CHECKOUT_IDS, "")
    if not raw.strip():
        return []
    return raw.split(",")


def _check_base_url(base_url: str) -> None:
    try:
        parts = urlsplit(base_url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInputError(
            f"--base-url {base_url!r} is not an http(s) URL",
            "pass the server's root, e.g. https://test.dodopayments.com",
        )
    if parts.query or parts.fragment:
        raise BadInputError(f"--base-url {base_url!r} has a query or fragment", "pass the server's root URL only")
    try:
        _ = parts.port
    except ValueError:
        raise BadInputError(f"--base-url {base_url!r} has an invalid port", "fix the port number") from None


def _check_writable(report_dir: Path) -> None:
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=report_dir, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise BadInputError(
            f"the report directory {report_dir} cannot be written ({exc.strerror or exc})",
            "pass a writable --report-dir",
        ) from None
