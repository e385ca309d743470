"""What a run is asked to do, from flags and the environment, checked before any request."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from conformance.errors import BadInputError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

DEFAULT_SPEC = Path("spec/openapi.yaml")
DEFAULT_REPORT_DIR = Path("reports")
DEFAULT_MAX_EXAMPLES = 100
DEFAULT_SEED = 20261128
DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_CASSETTE_DIR = Path("cassettes")

# Shorter keys cannot be real, and redacting them would blot out ordinary text.
MIN_KEY_LENGTH = 8

ENV_BASE_URL = "DODO_PAYMENTS_BASE_URL"
ENV_API_KEY = "DODO_PAYMENTS_API_KEY"
ENV_CHECKOUT_IDS = "CONFORMANCE_CHECKOUT_IDS"


class Mode(StrEnum):
    """Where replies come from."""

    LIVE = "live"
    RECORD = "record"  # live, and every exchange is written to cassettes
    REPLAY = "replay"  # every reply is read from cassettes; no network, no key


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

    @property
    def uses_sandbox(self) -> bool:
        """Whether the run targets the bundled sandbox."""
        return self.base_url is None


def build_settings(  # noqa: PLR0913 - one parameter per flag
    *,
    spec: Path,
    base_url: str | None,
    api_key: str | None,
    checkout_ids: Sequence[str] | None,
    report_dir: Path,
    max_examples: int | None,
    seed: int | None,
    strict: bool,
    request_timeout: float,
    sandbox: bool,
    mode: Mode = Mode.LIVE,
    cassette_dir: Path = DEFAULT_CASSETTE_DIR,
    environ: Mapping[str, str] = os.environ,
) -> Settings:
    """Fill gaps from the environment and check every value; raise BadInputError naming the fix."""
    if mode is Mode.REPLAY:
        return _replay_settings(
            spec=spec,
            explicit_target=bool(base_url or api_key or checkout_ids or sandbox),
            report_dir=report_dir,
            max_examples=max_examples,
            seed=seed,
            strict=strict,
            request_timeout=request_timeout,
            cassette_dir=cassette_dir,
        )
    if sandbox and base_url:
        raise BadInputError("--sandbox and --base-url were both given", "pass one of them")
    return _live_settings(
        spec=spec,
        base_url=None if sandbox else base_url or environ.get(ENV_BASE_URL) or None,
        api_key=api_key or environ.get(ENV_API_KEY) or None,
        ids=list(checkout_ids) if checkout_ids else _ids_from_environment(environ),
        report_dir=report_dir,
        max_examples=DEFAULT_MAX_EXAMPLES if max_examples is None else max_examples,
        seed=DEFAULT_SEED if seed is None else seed,
        strict=strict,
        request_timeout=request_timeout,
        mode=mode,
        cassette_dir=cassette_dir,
    )


def _live_settings(  # noqa: PLR0913 - one parameter per flag
    *,
    spec: Path,
    base_url: str | None,
    api_key: str | None,
    ids: list[str],
    report_dir: Path,
    max_examples: int,
    seed: int,
    strict: bool,
    request_timeout: float,
    mode: Mode,
    cassette_dir: Path,
) -> Settings:
    if base_url is not None:
        _check_base_url(base_url)
        if not api_key:
            raise BadInputError(
                f"no API key was given for {base_url}",
                f"pass --api-key, --api-key-file or set {ENV_API_KEY}",
            )
        if len(api_key) < MIN_KEY_LENGTH:
            raise BadInputError(
                f"the API key is {len(api_key)} characters long, too short to be a real key",
                "pass the whole key",
            )
    for checkout_id in ids:
        if not checkout_id.strip():
            raise BadInputError(
                f"a checkout id in --checkout-id or {ENV_CHECKOUT_IDS} is empty",
                "give ids of existing checkout sessions, e.g. cks_...",
            )
    if max_examples < 1:
        raise BadInputError(f"--max-examples is {max_examples}", "give a positive number of examples")
    if not request_timeout > 0:
        raise BadInputError(f"--request-timeout is {request_timeout:g}", "give a positive number of seconds")
    _check_writable(report_dir)
    return Settings(
        spec=spec,
        base_url=base_url.rstrip("/") if base_url else None,
        api_key=api_key,
        checkout_ids=tuple(dict.fromkeys(checkout_id.strip() for checkout_id in ids)),
        report_dir=report_dir,
        max_examples=max_examples,
        seed=seed,
        strict=strict,
        request_timeout=request_timeout,
        mode=mode,
        cassette_dir=cassette_dir,
    )


def _replay_settings(  # noqa: PLR0913 - the flags a replay accepts
    *,
    spec: Path,
    explicit_target: bool,
    report_dir: Path,
    max_examples: int | None,
    seed: int | None,
    strict: bool,
    request_timeout: float,
    cassette_dir: Path,
) -> Settings:
    # Imported here: cassettes needs vcrpy, which a live run does not load.
    from conformance.cassettes import REPLAY_BASE_URL, REPLAY_KEY, read_recording  # noqa: PLC0415

    if explicit_target:
        raise BadInputError(
            "--replay takes its target, key and checkout ids from the recording",
            "drop --base-url, --api-key, --sandbox and --checkout-id",
        )
    recording = read_recording(cassette_dir)
    for flag, given, recorded in (
        ("--seed", seed, recording.seed),
        ("--max-examples", max_examples, recording.max_examples),
    ):
        if given is not None and given != recorded:
            raise BadInputError(
                f"{flag} {given} differs from the recording's {recorded}, and a replay repeats the recording",
                f"drop {flag}, or re-record with it",
            )
    _check_writable(report_dir)
    return Settings(
        spec=spec,
        base_url=REPLAY_BASE_URL,
        api_key=REPLAY_KEY,
        checkout_ids=recording.checkout_ids,
        report_dir=report_dir,
        max_examples=recording.max_examples,
        seed=recording.seed,
        strict=strict,
        request_timeout=request_timeout,
        mode=Mode.REPLAY,
        cassette_dir=cassette_dir,
    )


def _ids_from_environment(environ: Mapping[str, str]) -> list[str]:
    raw = environ.get(ENV_CHECKOUT_IDS, "")
    if not raw.strip():
        return []
    return raw.split(",")


def _check_base_url(base_url: str) -> None:
    parts = urlsplit(base_url)
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
