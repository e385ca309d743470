"""The flags of a run, declared once: `conformance run` (argparse) and the pytest plugin both read this table."""

from __future__ import annotations

from argparse import ArgumentTypeError
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.settings import (
    DEFAULT_CASSETTE_DIR,
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_MAX_TIME_SECONDS,
    DEFAULT_REMOTE_RATE_LIMIT,
    DEFAULT_REPORT_DIR,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SEED,
    DEFAULT_SPEC,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_CHECKOUT_IDS,
    ENV_PRODUCT_ID,
    Flags,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    import pytest


def path(text: str) -> Path:
    """A path flag's value; an empty one would silently mean the current folder."""
    if not text.strip():
        message = "an empty path; give a path"
        raise ArgumentTypeError(message)
    return Path(text)


@dataclass(frozen=True)
class Option:
    """One flag: its name, what it holds, its default and where else its value may come from."""

    flag: str
    help: str
    dest: str
    # How the text is read; None for an on/off switch.
    kind: Callable[[str], Any] | None = str
    default: Any = None
    # What the help says the default is, where the default is worked out later (None: no default).
    shown_default: str | None = None
    environment: str | None = None
    repeatable: bool = False
    metavar: str | None = None
    # Under pytest, where pytest already owns the name.
    pytest_flag: str | None = None
    # Options of one group exclude each other.
    exclusive_group: str | None = None

    @property
    def full_help(self) -> str:
        """The help text with the environment variable and the default."""
        extras = []
        if self.environment:
            extras.append(f"env {self.environment}")
        default = self.shown_default if self.shown_default is not None else self.default
        if default not in (None, False):
            extras.append(f"default {default}")
        return f"{self.help} ({'; '.join(extras)})" if extras else self.help

    def argparse_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `add_argument` / pytest's `addoption` for this option."""
        kwargs: dict[str, Any] = {"dest": self.dest, "help": self.full_help}
        if self.kind is None:
            kwargs["action"] = "store_true"
            return kwargs
        kwargs["type"] = self.kind
        kwargs["metavar"] = self.metavar
        if self.repeatable:
            kwargs["action"] = "append"
        else:
            kwargs["default"] = self.default
        return kwargs


RUN_OPTIONS: tuple[Option, ...] = (
    Option("--base-url", "the server to judge: its root, without /checkouts", "base_url",
           environment=ENV_BASE_URL, metavar="URL"),
    Option("--sandbox", "judge the bundled sandbox, whatever the environment says", "sandbox", kind=None),
    Option("--api-key", "the bearer key; prefer the environment or --api-key-file, which stay out of the process list",
           "api_key", environment=ENV_API_KEY, metavar="KEY"),
    Option("--api-key-file", "read the bearer key from this file (one line)", "api_key_file", kind=path,
           metavar="PATH"),
    Option("--checkout-id", "the id of an existing session to read; repeatable", "checkout_ids",
           environment=f"{ENV_CHECKOUT_IDS}, comma-separated", repeatable=True, metavar="ID"),
    Option("--create-session", "create a checkout session (POST /checkouts, one product, quantity 1) and judge "
           "it as a known session; never on a live-mode host", "create_session", kind=None),
    Option("--product-id", "the product of a created session's cart (the sandbox picks one of its own)",
           "product_id", environment=ENV_PRODUCT_ID, metavar="ID"),
    Option("--spec", "the OpenAPI document to judge against", "spec", kind=path, default=DEFAULT_SPEC,
           metavar="PATH"),
    Option("--report-dir", "where junit.xml, summary.json, summary.md and report.html go", "report_dir", kind=path,
           default=DEFAULT_REPORT_DIR, metavar="DIR"),
    Option("--max-examples", "how many ids Schemathesis generates", "max_examples", kind=int,
           shown_default=str(DEFAULT_MAX_EXAMPLES), metavar="N"),
    Option("--seed", "the seed of the generated requests: same seed, same requests", "seed", kind=int,
           shown_default=str(DEFAULT_SEED), metavar="N"),
    Option("--strict", "SHOULD warnings fail the run", "strict", kind=None, pytest_flag="--conformance-strict"),
    Option("--request-timeout", "seconds for a whole response, at most 3600; no reply in time is a failure",
           "request_timeout", kind=float, default=DEFAULT_REQUEST_TIMEOUT, metavar="S"),
    Option("--record", "run live and write every exchange to the cassettes", "record", kind=None,
           exclusive_group="mode"),
    Option("--replay", "serve every reply from the cassettes: no network, no key", "replay", kind=None,
           exclusive_group="mode"),
    Option("--cassette-dir", "where cassettes are read and written", "cassette_dir", kind=path,
           default=DEFAULT_CASSETTE_DIR, metavar="DIR"),
    Option("--allow-live-mode", "allow a live-mode target, where money is real", "allow_live_mode", kind=None),
    Option("--rate-limit", "requests per unit, e.g. 100/m or 10/s", "rate_limit",
           shown_default=f"{DEFAULT_REMOTE_RATE_LIMIT} off this machine, none on it", metavar="R"),
    Option("--max-time", "the run's time budget in seconds; past it the run stops as could not judge", "max_time",
           kind=float, default=DEFAULT_MAX_TIME_SECONDS, metavar="S"),
    Option("--exclude-check", "a check id not to run (reported as skipped); repeatable", "excluded_checks",
           repeatable=True, metavar="ID"),
    Option("--concurrency", "known sessions read at the same moment, in 3 bursts paced by --rate-limit; 0 turns "
           "the concurrent reads off", "concurrency", kind=int, default=DEFAULT_CONCURRENCY, metavar="N"),
    Option("--sarif", "also write the finding groups as a SARIF 2.1.0 log here, located at the spec's lines",
           "sarif", kind=path, metavar="PATH"),
    Option("--oracle", "also judge every exchange with Schemathesis' own response checks, and list where they "
           "disagree with the gate's", "oracle", kind=None),
)  # fmt: skip


def add_to_argparse(parser: argparse.ArgumentParser) -> None:
    """Declare every run option on an argparse parser."""
    groups: dict[str, Any] = {}
    for option in RUN_OPTIONS:
        target: Any = parser
        if option.exclusive_group is not None:
            if option.exclusive_group not in groups:
                groups[option.exclusive_group] = parser.add_mutually_exclusive_group()
            target = groups[option.exclusive_group]
        target.add_argument(option.flag, **option.argparse_kwargs())


def add_to_pytest(group: pytest.OptionGroup) -> None:
    """Declare every run option on pytest's parser, under the same names (pytest keeps its own --strict)."""
    for option in RUN_OPTIONS:
        group.addoption(option.pytest_flag or option.flag, **option.argparse_kwargs())


def flags_from(value: Callable[[str], Any]) -> Flags:
    """Flags from an option getter (argparse's namespace, pytest's config), by each option's dest."""
    given = {option.dest: value(option.dest) for option in RUN_OPTIONS}
    for name in ("checkout_ids", "excluded_checks"):
        given[name] = tuple(given[name] or ())
    for option in RUN_OPTIONS:
        if option.kind is None:
            given[option.dest] = bool(given[option.dest])
    return Flags(**given)
