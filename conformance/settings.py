"""What a run is asked to do, from flags and the environment, checked before any request.

Building settings reads nothing but its arguments: files (the spec, a key file, a recording) are
read when the engine prepares the run.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from conformance.environment import ENV_API_KEY, ENV_BASE_URL, ENV_CHECKOUT_IDS, ENV_PRODUCT_ID
from conformance.errors import BadInputError
from conformance.given_key import clean_api_key
from conformance.hosts import is_loopback, live_host_named, prepared_url, without_userinfo

if TYPE_CHECKING:
    from collections.abc import Mapping

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
# Known sessions read at the same moment: within the bursts of 10 a second Dodo documents.
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 10
# Above these the socket layer overflows, and no useful run waits that long anyway.
MAX_REQUEST_TIMEOUT_SECONDS = 3600.0
MAX_TIME_SECONDS = 7 * 24 * 3600.0

RATE_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
# The settings a variable may give, by Flags field name.
_VARIABLES = {
    "base_url": ENV_BASE_URL,
    "api_key": ENV_API_KEY,
    "checkout_ids": ENV_CHECKOUT_IDS,
    "product_id": ENV_PRODUCT_ID,
}


class Mode(StrEnum):
    """Where replies come from."""

    LIVE = "live"
    RECORD = "record"  # live, and every exchange is written to cassettes
    REPLAY = "replay"  # every reply is read from cassettes; no network, no key


@dataclass(frozen=True)
class Flags:
    """The flags as given (see options.py), before defaults and the environment fill them in."""

    base_url: str | None = None
    sandbox: bool = False
    api_key: str | None = None
    api_key_file: Path | None = None
    checkout_ids: tuple[str, ...] = ()
    spec: Path = DEFAULT_SPEC
    report_dir: Path = DEFAULT_REPORT_DIR
    max_examples: int | None = None
    seed: int | None = None
    strict: bool = False
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    record: bool = False
    replay: bool = False
    cassette_dir: Path = DEFAULT_CASSETTE_DIR
    allow_live_mode: bool = False
    rate_limit: str | None = None
    max_time: float = DEFAULT_MAX_TIME_SECONDS
    excluded_checks: tuple[str, ...] = ()
    oracle: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    sarif: Path | None = None
    create_session: bool = False
    product_id: str | None = None


@dataclass(frozen=True)
class Settings:
    """A run's settings. `base_url` None means the bundled sandbox; on replay the recording fills the gaps."""

    spec: Path
    base_url: str | None
    api_key: str | None
    checkout_ids: tuple[str, ...]
    report_dir: Path
    # None: the default, or on replay the recording's.
    max_examples: int | None
    seed: int | None
    strict: bool
    request_timeout: float
    mode: Mode = Mode.LIVE
    cassette_dir: Path = DEFAULT_CASSETTE_DIR
    allow_live_mode: bool = False
    # Requests a second; None sends as fast as the target answers.
    rate_per_second: float | None = None
    # The pace as given with --rate-limit; None when it is the default (or there is none).
    rate_limit: str | None = None
    max_time: float = DEFAULT_MAX_TIME_SECONDS
    excluded_checks: tuple[str, ...] = ()
    # Read when the run is prepared, and checked like a key from anywhere else.
    api_key_file: Path | None = None
    # Judge every exchange with Schemathesis' own response checks too, and list where they disagree.
    oracle: bool = False
    # Known sessions read at the same moment; 0 or 1 turns the concurrent reads off.
    concurrency: int = DEFAULT_CONCURRENCY
    # Where to write a SARIF log of the finding groups, if anywhere.
    sarif: Path | None = None
    # Create a checkout session (POST /checkouts) and judge it as a known one; the cart's product, which
    # the bundled sandbox fills in with one of its own when None.
    create_session: bool = False
    product_id: str | None = None
    # Where a value came from, by Flags field name ("base_url": "DODO_PAYMENTS_BASE_URL"), so that a later
    # error names what the user set: a flag, or an environment variable. A value absent here came from its flag.
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def uses_sandbox(self) -> bool:
        """Whether the run targets the bundled sandbox."""
        return self.base_url is None and self.mode is not Mode.REPLAY


def build_settings(flags: Flags, environ: Mapping[str, str] = os.environ) -> Settings:
    """Fill gaps from the environment and check every value; raise BadInputError naming the fix."""
    mode = _mode(flags)
    _check_common(flags)
    if mode is Mode.REPLAY:
        return _replay_settings(flags)
    if flags.sandbox and flags.base_url:
        raise BadInputError("--sandbox and --base-url were both given", "pass one of them")
    if flags.api_key is not None and flags.api_key_file is not None:
        raise BadInputError("--api-key and --api-key-file were both given", "pass one of them")
    if flags.sandbox and (flags.api_key is not None or flags.api_key_file is not None):
        # Silently ignored, it would look as if the sandbox had accepted the key given.
        raise BadInputError(
            "--sandbox makes its own key, so --api-key and --api-key-file cannot be used with it",
            "drop the key flag, or pass --base-url with the server the key is for",
        )
    if flags.sandbox and flags.checkout_ids:
        # The sandbox has its own seeded sessions: another id would be judged as a missing session.
        raise BadInputError(
            "--sandbox reads its own seeded sessions, so --checkout-id cannot be used with it",
            "drop --checkout-id, or pass --base-url with the server that holds those sessions",
        )
    base_url = None if flags.sandbox else _base_url(flags, environ)
    # The sandbox is judged whatever the environment says, CONFORMANCE_CHECKOUT_IDS included.
    ids = () if flags.sandbox else _checkout_ids(flags, environ)
    api_key = None
    if base_url is not None and flags.api_key_file is None:
        api_key = _api_key(flags, environ, base_url)
    product_id = _product_id(flags, environ, base_url)
    # A value the flags did not give came from the environment, by Flags field name.
    from_environment = {
        "base_url": base_url is not None and flags.base_url is None,
        "api_key": api_key is not None and flags.api_key is None,
        "checkout_ids": bool(ids) and not flags.checkout_ids,
        "product_id": product_id is not None and flags.product_id is None,
    }
    rate = flags.rate_limit or default_rate_limit(base_url)
    return Settings(
        spec=flags.spec,
        base_url=base_url,
        api_key=api_key,
        api_key_file=flags.api_key_file if base_url is not None else None,
        checkout_ids=ids,
        report_dir=flags.report_dir,
        max_examples=DEFAULT_MAX_EXAMPLES if flags.max_examples is None else flags.max_examples,
        seed=DEFAULT_SEED if flags.seed is None else flags.seed,
        strict=flags.strict,
        request_timeout=flags.request_timeout,
        mode=mode,
        cassette_dir=flags.cassette_dir,
        allow_live_mode=flags.allow_live_mode,
        rate_per_second=parse_rate(rate) if rate is not None else None,
        rate_limit=flags.rate_limit,
        max_time=flags.max_time,
        excluded_checks=flags.excluded_checks,
        oracle=flags.oracle,
        concurrency=flags.concurrency,
        sarif=flags.sarif,
        create_session=flags.create_session,
        product_id=product_id,
        sources={
            **({"api_key": "--api-key-file"} if flags.api_key_file is not None and base_url is not None else {}),
            **{name: _VARIABLES[name] for name, given in from_environment.items() if given},
        },
    )


def _product_id(flags: Flags, environ: Mapping[str, str], base_url: str | None) -> str | None:
    """The product of the cart a created session holds; None when no session is created, or the sandbox picks."""
    if not flags.create_session:
        if flags.product_id is not None:
            raise BadInputError("--product-id was given without --create-session", "add --create-session")
        return None
    given, source = flags.product_id, "--product-id"
    if given is None and base_url is None:
        return None  # the sandbox sells products of its own; the environment is not read for it
    if given is None:
        if _set_but_empty(ENV_PRODUCT_ID, environ):
            raise BadInputError(
                f"{ENV_PRODUCT_ID} is set but empty",
                "set it to a product of this test-mode account (pdt_...), or unset it",
            )
        if ENV_PRODUCT_ID not in environ:
            raise BadInputError(
                "--create-session needs a product for the session's cart",
                f"pass --product-id pdt_... (or set {ENV_PRODUCT_ID}) with a product of this test-mode account",
            )
        given, source = environ[ENV_PRODUCT_ID], ENV_PRODUCT_ID
    product_id = given.strip()
    if not product_id or any(character.isspace() or not character.isprintable() for character in product_id):
        raise BadInputError(
            f"the product id from {source} is empty or has whitespace inside it", "give one id, pdt_..."
        )
    return product_id


def _mode(flags: Flags) -> Mode:
    if flags.record and flags.replay:
        raise BadInputError("--record and --replay were both given", "pass one of them")
    return Mode.RECORD if flags.record else Mode.REPLAY if flags.replay else Mode.LIVE


def _set_but_empty(name: str, environ: Mapping[str, str]) -> bool:
    return name in environ and not environ[name].strip()


def _base_url(flags: Flags, environ: Mapping[str, str]) -> str:
    if flags.base_url is not None:
        return check_base_url(flags.base_url.strip(), "--base-url")
    if _set_but_empty(ENV_BASE_URL, environ):
        raise BadInputError(
            f"{ENV_BASE_URL} is set but empty, so there is no server to judge",
            "set it to the server's root URL, or unset it and pass --sandbox to judge the bundled sandbox",
        )
    if ENV_BASE_URL in environ:
        return check_base_url(environ[ENV_BASE_URL].strip(), ENV_BASE_URL)
    raise BadInputError(
        "no target was given",
        f"pass --base-url URL (or set {ENV_BASE_URL}), --sandbox for the bundled sandbox, or --replay",
    )


def _checkout_ids(flags: Flags, environ: Mapping[str, str]) -> tuple[str, ...]:
    if flags.checkout_ids:
        given, source = [checkout_id.strip() for checkout_id in flags.checkout_ids], "--checkout-id"
    elif ENV_CHECKOUT_IDS not in environ:
        return ()
    else:
        given = [checkout_id.strip() for checkout_id in environ[ENV_CHECKOUT_IDS].split(",")]
        # A list written `a,b,` (or `,a,b`) is still the list a and b; an empty id between two commas is not.
        given, source = (given[1:] if given[:1] == [""] else given), ENV_CHECKOUT_IDS
        given = given[:-1] if given[-1:] == [""] else given
        if not given:
            raise BadInputError(
                f"{ENV_CHECKOUT_IDS} is set but holds no id",
                "set it to comma-separated ids of existing checkout sessions, or unset it",
            )
    for checkout_id in given:
        if not checkout_id:
            raise BadInputError(
                f"a checkout id in {source} is empty", "give ids of existing checkout sessions, e.g. cks_..."
            )
        if "," in checkout_id or any(character.isspace() for character in checkout_id):
            # Two ids written as one would be sent as one id that no session has, and every check would
            # judge the wrong thing; no checkout id has a comma or whitespace in it.
            fix = "pass --checkout-id once per id" if source == "--checkout-id" else "separate the ids with commas only"
            raise BadInputError(f"the checkout id {checkout_id!r} in {source} has a comma or whitespace inside it", fix)
    return tuple(dict.fromkeys(given))


def _api_key(flags: Flags, environ: Mapping[str, str], base_url: str) -> str:
    if flags.api_key is not None:
        return clean_api_key(flags.api_key, "--api-key")
    if _set_but_empty(ENV_API_KEY, environ):
        raise BadInputError(
            f"{ENV_API_KEY} is set but empty",
            "set it to a test-mode key (in CI, check that the secret is available to this job), or pass --api-key-file",
        )
    if ENV_API_KEY not in environ:
        raise BadInputError(
            f"no API key was given for {without_userinfo(base_url)}",
            f"set {ENV_API_KEY} or pass --api-key-file (or --api-key)",
        )
    return clean_api_key(environ[ENV_API_KEY], ENV_API_KEY)


def _check_common(flags: Flags) -> None:
    if flags.max_examples is not None and flags.max_examples < 1:
        raise BadInputError(f"--max-examples is {flags.max_examples}", "give a positive number of examples")
    if not 0 <= flags.concurrency <= MAX_CONCURRENCY:
        raise BadInputError(
            f"--concurrency is {flags.concurrency}", f"give 0 (no concurrent reads) up to {MAX_CONCURRENCY}"
        )
    check_seconds("--request-timeout", flags.request_timeout, MAX_REQUEST_TIMEOUT_SECONDS)
    check_seconds("--max-time", flags.max_time, MAX_TIME_SECONDS)
    if flags.rate_limit is not None:
        parse_rate(flags.rate_limit)
    _check_check_ids(flags.excluded_checks)


def check_seconds(flag: str, value: float, most: float = MAX_REQUEST_TIMEOUT_SECONDS) -> None:
    """Refuse a number of seconds that is not finite, not above 0, or above `most`."""
    if not (math.isfinite(value) and 0 < value <= most):
        raise BadInputError(f"{flag} is {value:g}", f"give a number of seconds above 0 and at most {most:g}")


def _check_check_ids(check_ids: tuple[str, ...]) -> None:
    if not check_ids:
        return
    # Imported here: the registry loads Schemathesis, which most settings checks do not need.
    from conformance.checks import Level  # noqa: PLC0415
    from conformance.operations import REGISTRY  # noqa: PLC0415

    unknown = [check_id for check_id in check_ids if check_id not in REGISTRY]
    if unknown:
        raise BadInputError(f"--exclude-check {unknown[0]!r} is not a check id", "see 'conformance checks' for the ids")
    if all(check.level is Level.SHOULD or check.id in check_ids for check in REGISTRY.values()):
        # Nothing left could fail the run: it would pass whatever the target did.
        raise BadInputError(
            "--exclude-check leaves no MUST check to run, so the run could not fail",
            "exclude fewer checks; see 'conformance checks'",
        )


def _replay_settings(flags: Flags) -> Settings:
    if flags.base_url or flags.api_key or flags.api_key_file or flags.checkout_ids or flags.sandbox:
        raise BadInputError(
            "--replay takes its target, key and checkout ids from the recording",
            "drop --base-url, --api-key, --api-key-file, --sandbox and --checkout-id",
        )
    if flags.create_session or flags.product_id is not None:
        raise BadInputError(
            "--replay replays the session the recording created, if it created one, and creates none",
            "drop --create-session and --product-id",
        )
    if flags.request_timeout != DEFAULT_REQUEST_TIMEOUT:
        # A short one only cut replies read from disk, which then looked like a recording that lacks them.
        raise BadInputError(
            "--request-timeout limits how long a server takes to reply, and a replay reads every reply from the "
            "cassettes",
            "drop --request-timeout; the recording was judged with its own",
        )
    if flags.rate_limit is not None:
        # Silently ignored, it would look as if the replay had been paced.
        raise BadInputError(
            "--rate-limit paces the requests sent to a server, and a replay sends none: every reply comes from the "
            "cassettes",
            "drop --rate-limit",
        )
    if flags.allow_live_mode:
        # Silently ignored, it would look as if the replay had been let reach a live-mode host.
        raise BadInputError(
            "--allow-live-mode lets requests reach a live-mode host, and a replay sends none: every reply comes from "
            "the cassettes",
            "drop --allow-live-mode",
        )
    return Settings(
        spec=flags.spec,
        base_url=None,
        api_key=None,
        checkout_ids=(),
        report_dir=flags.report_dir,
        max_examples=flags.max_examples,
        seed=flags.seed,
        strict=flags.strict,
        request_timeout=flags.request_timeout,
        mode=Mode.REPLAY,
        cassette_dir=flags.cassette_dir,
        max_time=flags.max_time,
        excluded_checks=flags.excluded_checks,
        oracle=flags.oracle,
        concurrency=flags.concurrency,
        sarif=flags.sarif,
    )


def refuse_live_mode(base_url: str | None, contract: Contract, *, allowed: bool, creates: bool = False) -> None:
    """Stop before any request when the target is a live-mode host and --allow-live-mode is absent.

    Creating a session there is refused whatever the flags: it would be a real checkout page.
    """
    if base_url is None:
        return
    host = live_host_named(base_url, contract.live_hosts)
    if host is not None and creates:
        raise BadInputError(
            f"{host} is Dodo's live mode, where a created checkout session is a real checkout page, so the gate "
            "never creates one there, whatever the flags",
            "create sessions in test mode (https://test.dodopayments.com), or drop --create-session",
        )
    if host is not None and not allowed:
        raise BadInputError(
            f"{host} is Dodo's live mode, where requests act on real money and real customers, so the gate "
            "sends nothing there",
            "judge test mode (https://test.dodopayments.com), or pass --allow-live-mode if you truly mean live",
        )


def default_rate_limit(base_url: str | None) -> str | None:
    """The pace of a target no --rate-limit was given for: none on this machine, Dodo's documented limit elsewhere.

    Every host that is not this machine is paced, a private network's (10/8, 172.16/12, 192.168/16) included:
    such an address may well be a staging API behind the same limits, or a proxy in front of the real one.
    """
    return DEFAULT_REMOTE_RATE_LIMIT if base_url is not None and not is_loopback(base_url) else None


def refuse_unreachable_pace(settings: Settings, fewest: int) -> None:
    """Stop before any request when the pace cannot send `fewest` requests within --max-time.

    Such a run would stop at its time budget as "could not judge" after minutes or hours of waiting:
    whether it can finish is known now.
    """
    rate = settings.rate_per_second
    if rate is None or rate * settings.max_time >= fewest:
        return
    pace = (
        f"--rate-limit {settings.rate_limit.strip()}"
        if settings.rate_limit is not None
        else f"the default pace off this machine ({DEFAULT_REMOTE_RATE_LIMIT})"
    )
    needed_time = math.ceil(fewest / rate)
    longer = f", or --max-time {needed_time} or more" if needed_time <= MAX_TIME_SECONDS else ""
    raise BadInputError(
        f"at {pace} the run can send {math.floor(rate * settings.max_time)} requests within --max-time "
        f"{settings.max_time:g} s, and it sends at least {fewest}",
        f"give --rate-limit {math.ceil(fewest * 60 / settings.max_time)}/m or more{longer}",
    )


def parse_rate(text: str) -> float:
    """Requests a second from '100/m', '10/s' or '3000/h'."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*([smh])\s*", text)
    if match is None or float(match.group(1)) <= 0:
        raise BadInputError(f"--rate-limit {text!r} is not a rate", "write it as requests/unit, e.g. 100/m or 10/s")
    return float(match.group(1)) / RATE_UNITS[match.group(2)]


def check_base_url(base_url: str, source: str = "--base-url") -> str:
    """The base URL without a trailing slash; raise BadInputError for anything the gate cannot send to."""
    shown = without_userinfo(base_url)
    if any(character.isspace() or not character.isprintable() for character in base_url):
        raise BadInputError(
            f"{source} {shown!r} has whitespace or a control character inside it", "pass the URL alone, on one line"
        )
    try:
        parts = urlsplit(base_url)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInputError(
            f"{source} {shown!r} is not an http(s) URL", "pass the server's root, e.g. https://test.dodopayments.com"
        )
    if "@" in parts.netloc:
        # Never printed, and never sent: a 401 would then be blamed on the API key.
        raise BadInputError(
            f"{source} {shown!r} carries a user name or password before the host",
            f"drop 'user:password@'; the gate authenticates with the API key ({ENV_API_KEY}) only",
        )
    if parts.query or parts.fragment:
        raise BadInputError(f"{source} {shown!r} has a query or fragment", "pass the server's root URL only")
    try:
        _ = parts.port
    except ValueError:
        raise BadInputError(f"{source} {shown!r} has an invalid port", "fix the port number") from None
    if parts.path.rstrip("/").rpartition("/")[2].lower() == "checkouts":
        # Requests would go to .../checkouts/checkouts/{id}: every answer a 404, blamed on the server.
        raise BadInputError(
            f"{source} {shown!r} ends in /checkouts, which the gate adds itself",
            "pass the server's root, without /checkouts, e.g. https://test.dodopayments.com",
        )
    prepared_url(base_url, source)
    return base_url.rstrip("/")
