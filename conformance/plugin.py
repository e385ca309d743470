"""The pytest plugin: the run's options, and fixtures that run the engine. Nothing else.

`pytest --sandbox` or `pytest --base-url URL` runs the conformance suite (conformance/suite/): one
engine run, then one test per check reading its verdict. A project's own test can ask for the
`conformance_outcome` fixture, or call `conformance.engine.run` itself. The plugin arrives through the
`pytest11` entry point wherever the package is installed, and does nothing unless a target is given.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conformance.engine import Outcome, Plan, claim_reports, execute, prepare
from conformance.errors import GateError, worse
from conformance.options import add_to_pytest, flags_from
from conformance.settings import build_settings

if TYPE_CHECKING:
    from collections.abc import Callable

SUITE_DIR = Path(__file__).parent / "suite"
PLAN = pytest.StashKey[Plan]()
OUTCOME = pytest.StashKey[Outcome]()
# Options that ask for a conformance run; without one the plugin stays out of the way.
TARGET_OPTIONS = ("sandbox", "base_url", "record", "replay")


def pytest_addoption(parser: pytest.Parser) -> None:
    """The run's options, from the same table as `conformance run`'s."""
    add_to_pytest(parser.getgroup("conformance", "Dodo Payments conformance gate"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Check the settings, read the spec and refuse a live-mode host, before anything runs."""
    if not any(config.getoption(name) for name in TARGET_OPTIONS):
        return
    if config.getoption("numprocesses", None):
        # One engine run judges the whole target; workers would each hold a part of it.
        raise pytest.UsageError("the conformance suite runs in one process; drop -n (pytest-xdist)")
    try:
        flags = flags_from(config.getoption)
        # Before any other refusal: a run refused here leaves no report of an earlier run behind. Only a
        # session that may run the suite starts a run; --collect-only lists it and leaves the last reports.
        runs = not config.getoption("collectonly")
        claim_reports(flags.report_dir, flags.sarif, remove=runs)
        config.stash[PLAN] = prepare(build_settings(flags), claimed=True)
    except GateError as error:
        raise pytest.UsageError(str(error)) from None
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        # `pytest --base-url ...` without paths runs the suite, not the project's own tests (pytest may
        # have read a folder given to --report-dir as its root; the suite is still what was asked for).
        config.args = [str(SUITE_DIR)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The suite collected without a target is one usage error, not a failure per check."""
    if PLAN not in config.stash and any(SUITE_DIR in Path(str(item.path)).parents for item in items):
        raise pytest.UsageError("the conformance suite needs a target: pass --sandbox, --base-url or --replay")


@pytest.fixture(scope="session")
def conformance_outcome(request: pytest.FixtureRequest) -> Outcome:
    """The outcome of one engine run against the target the options name."""
    config = request.config
    plan = config.stash.get(PLAN, None)
    if plan is None:
        pytest.fail("the conformance suite needs a target: pass --sandbox, --base-url or --replay", pytrace=False)
    outcome = config.stash[OUTCOME] = execute(plan, _terminal(config))
    return outcome


def _terminal(config: pytest.Config) -> Callable[[str], None]:
    """Write a line to the terminal as it happens, past pytest's capture."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        if terminal is None:
            print(line, flush=True)
            return
        with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
            terminal.write_line(line)

    return say


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The session ends with the worse of pytest's own status and the run's (errors.SEVERITY).

    A test of the project's own that failed beside a conforming run is never hidden by it, nor is a run
    that could not judge hidden by tests that passed.
    """
    outcome = session.config.stash.get(OUTCOME, None)
    if outcome is not None:
        session.exitstatus = worse(int(outcome.exit_code), int(session.exitstatus))
