"""Every subcommand's flags, each declared once with the subcommands it belongs to.

argparse (`conformance run`, `replay`, `report`, `sandbox`, `selftest`) and the pytest plugin (run's
options) are both built from this table.
"""

from __future__ import annotations

from argparse import ArgumentTypeError
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conformance.environment import ENV_API_KEY, ENV_BASE_URL, ENV_CHECKOUT_IDS, ENV_PRODUCT_ID
from conformance.report import FORMATS
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
    Flags,
)

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Mapping

    import pytest

# The subcommands; `checks` takes no option. The pytest plugin offers run's.
RUN, REPLAY, REPORT, CHECKS, SANDBOX, SELFTEST = "run", "replay", "report", "checks", "sandbox", "selftest"
DIFF = "diff"
# The renderings of `conformance diff` (conformance/diff/render.py, sarif.py).
DIFF_FORMATS = ("text", "md", "json", "sarif")
DEFAULT_SELFTEST_JOBS = 2


def path(text: str) -> Path:
    """A path flag's value; an empty one would silently mean the current folder."""
    if not text.strip():
        message = "an empty path; give a path"
        raise ArgumentTypeError(message)
    return Path(text)


@dataclass(frozen=True)
class Option:
    """One flag: its name, what it holds, its default, where else its value may come from, and who takes it."""

    flag: str  # a name without dashes is a positional argument
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
    choices: tuple[str, ...] | None = None
    # Under pytest, where pytest already owns the name.
    pytest_flag: str | None = None
    # Options of one group exclude each other.
    exclusive_group: str | None = None
    commands: tuple[str, ...] = (RUN,)
    # Where a subcommand reads the option otherwise (another help, default or variable): the fields that differ.
    differs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def within(self, command: str) -> Option:
        """The option as `command` reads it."""
        return replace(self, **self.differs.get(command, {}), differs={})

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
        # A positional argument's name is its dest, which argparse refuses to be given twice.
        kwargs: dict[str, Any] = {"help": self.full_help}
        if not self.positional:
            kwargs["dest"] = self.dest
        if self.kind is None:
            kwargs["action"] = "store_true"
            return kwargs
        kwargs["type"] = self.kind
        kwargs["metavar"] = self.metavar
        if self.choices is not None:
            kwargs["choices"] = self.choices
        if self.repeatable:
            kwargs["action"] = "append"
        elif not self.positional:
            kwargs["default"] = self.default
        return kwargs

    @property
    def positional(self) -> bool:
        """Whether the option is given without a flag."""
        return not self.flag.startswith("-")


OPTIONS: tuple[Option, ...] = (
    Option("--base-url", "the server to judge: its root, without /checkouts", "base_url",
           environment=ENV_BASE_URL, metavar="URL", commands=(RUN, REPLAY),
           differs={REPLAY: {"help": "where to send it", "environment": None,
                             "shown_default": "the run's own target, when it was a server"}}),
    Option("--sandbox", "judge the bundled sandbox, whatever the environment says", "sandbox", kind=None),
    Option("--api-key", "the bearer key; prefer the environment or --api-key-file, which stay out of the process list",
           "api_key", environment=ENV_API_KEY, metavar="KEY", commands=(RUN, SANDBOX),
           differs={SANDBOX: {"help": "the key to accept", "environment": None, "shown_default": "a random one"}}),
    Option("--api-key-file", "read the bearer key from this file (one line)", "api_key_file", kind=path,
           metavar="PATH", commands=(RUN, REPLAY),
           differs={REPLAY: {"help": f"read the bearer key from this file (one line), or set {ENV_API_KEY}"}}),
    Option("--checkout-id", "the id of an existing session to read; repeatable", "checkout_ids",
           environment=f"{ENV_CHECKOUT_IDS}, comma-separated", repeatable=True, metavar="ID"),
    Option("--create-session", "create a checkout session (POST /checkouts, one product, quantity 1) and judge "
           "it as a known session; never on a live-mode host", "create_session", kind=None),
    Option("--product-id", "the product of a created session's cart (the sandbox picks one of its own)",
           "product_id", environment=ENV_PRODUCT_ID, metavar="ID"),
    Option("--spec", "the OpenAPI document to judge against", "spec", kind=path, default=DEFAULT_SPEC,
           metavar="PATH", commands=(RUN, SELFTEST)),
    Option("--report-dir", "where junit.xml, summary.json, summary.md and report.html go", "report_dir", kind=path,
           default=DEFAULT_REPORT_DIR, metavar="DIR", commands=(RUN, SELFTEST, DIFF),
           differs={SELFTEST: {"help": "where selftest.json goes, and each variant's reports under selftest/"},
                    # None until given, so that one given without --replay is refused rather than ignored.
                    DIFF: {"help": "with --replay, where the replay's junit.xml, summary.json, summary.md and "
                                   "report.html go", "default": None, "shown_default": str(DEFAULT_REPORT_DIR)}}),
    Option("--max-examples", "how many ids Schemathesis generates", "max_examples", kind=int,
           shown_default=str(DEFAULT_MAX_EXAMPLES), metavar="N", commands=(RUN, SELFTEST),
           # A run leaves it unset so that a replay takes the recording's; the selftest always records anew.
           differs={SELFTEST: {"default": DEFAULT_MAX_EXAMPLES}}),
    Option("--seed", "the seed of the generated requests: same seed, same requests", "seed", kind=int,
           shown_default=str(DEFAULT_SEED), metavar="N"),
    Option("--strict", "SHOULD warnings fail the run", "strict", kind=None, pytest_flag="--conformance-strict",
           commands=(RUN, DIFF),
           differs={DIFF: {"help": "warnings fail too (exit 1), and with --replay the replay's SHOULD warnings"}}),
    Option("--request-timeout", "seconds for a whole response, at most 3600; no reply in time is a failure",
           "request_timeout", kind=float, default=DEFAULT_REQUEST_TIMEOUT, metavar="S", commands=(RUN, REPLAY)),
    Option("--record", "run live and write every exchange to the cassettes", "record", kind=None,
           exclusive_group="mode"),
    Option("--replay", "serve every reply from the cassettes: no network, no key", "replay", kind=None,
           exclusive_group="mode", commands=(RUN, DIFF),
           differs={DIFF: {"help": "also replay the recorded traffic (--cassette-dir) under NEW, as 'run --replay "
                                   "--spec NEW' does, and give one verdict: the worse exit code of the two",
                           "exclusive_group": None}}),
    Option("--cassette-dir", "where cassettes are read and written", "cassette_dir", kind=path,
           default=DEFAULT_CASSETTE_DIR, metavar="DIR", commands=(RUN, DIFF),
           differs={DIFF: {"help": "with --replay, the recording replayed under NEW", "default": None,
                           "shown_default": str(DEFAULT_CASSETTE_DIR)}}),
    Option("--allow-live-mode", "allow a live-mode target, where money is real", "allow_live_mode", kind=None,
           commands=(RUN, REPLAY)),
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
    # replay: one finding group's example, sent again.
    Option("finding", "a finding group's id, e.g. F3a9c2e1", "finding", metavar="FINDING_ID", commands=(REPLAY,)),
    Option("--summary", "the summary.json of the run that found it", "summary", kind=path,
           default=DEFAULT_REPORT_DIR / "summary.json", metavar="PATH", commands=(REPLAY,)),
    # report: a saved run rendered again.
    Option("summary", "a summary.json a run wrote", "summary", kind=path, metavar="SUMMARY_JSON", commands=(REPORT,)),
    Option("--format", "the rendering", "format", default="md", choices=tuple(FORMATS), commands=(REPORT, DIFF),
           differs={DIFF: {"default": "text", "choices": DIFF_FORMATS}}),
    Option("--output", "write here instead of to the terminal", "output", kind=path, metavar="PATH",
           commands=(REPORT, DIFF), differs={DIFF: {"metavar": "FILE"}}),
    # diff: two documents compared.
    Option("old", "the OpenAPI document before the change (JSON or YAML)", "old", kind=path, metavar="OLD",
           commands=(DIFF,)),
    Option("new", "the OpenAPI document after it", "new", kind=path, metavar="NEW", commands=(DIFF,)),
    # sandbox and selftest.
    Option("--port", "port on 127.0.0.1", "port", kind=int, default=0, shown_default="a free one",
           metavar="PORT", commands=(SANDBOX,)),
    Option("--variant", "a broken or odd variant (see --list-variants)", "variant", default="reference",
           metavar="NAME", commands=(SANDBOX, SELFTEST),
           differs={SELFTEST: {"help": "judge only this variant; repeatable", "dest": "variants", "default": None,
                               "repeatable": True}}),
    Option("--list-variants", "list the variants and exit", "list_variants", kind=None, commands=(SANDBOX,)),
    Option("--jobs", "variants judged at once", "jobs", kind=int, default=DEFAULT_SELFTEST_JOBS, metavar="N",
           commands=(SELFTEST,)),
)  # fmt: skip


def options_of(command: str) -> tuple[Option, ...]:
    """The options `command` takes, as it reads them, in the table's order."""
    return tuple(option.within(command) for option in OPTIONS if command in option.commands)


# What `conformance run` and the pytest plugin take.
RUN_OPTIONS = options_of(RUN)


def add_to_argparse(parser: argparse.ArgumentParser, command: str = RUN) -> None:
    """Declare every option of `command` on its argparse parser."""
    groups: dict[str, Any] = {}
    for option in options_of(command):
        target: Any = parser
        if option.exclusive_group is not None:
            if option.exclusive_group not in groups:
                groups[option.exclusive_group] = parser.add_mutually_exclusive_group()
            target = groups[option.exclusive_group]
        names = (option.dest,) if option.positional else (option.flag,)
        target.add_argument(*names, **option.argparse_kwargs())


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
