"""Fixtures shared by the project's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support import CREATED_ID, KNOWN_ID, SPEC

from conformance.checks import Context
from conformance.sandbox import CheckoutApi, Sandbox
from conformance.spec import Contract, load_contract, schemathesis_schema

# Files whose tests share one long run (the whole selftest: minutes on a busy machine), scheduled first: with
# `make test`'s --dist loadfile --no-loadscope-reorder a worker starts on them at once while the other takes the
# rest, instead of one worker running them alone at the end (xdist's own reorder goes by number of tests).
LONGEST_FIRST = ("test_selftest.py",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, put the files of LONGEST_FIRST first, keeping every other test in its order.

    Only there: a run in one process (make mutation's, whose rows list their fast tests first) keeps its order.
    """
    if hasattr(config, "workerinput"):
        items.sort(key=lambda item: item.path.name not in LONGEST_FIRST)


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(SPEC)


@pytest.fixture(scope="session")
def context(contract: Contract) -> Context:
    # What errors.no_disclosure's cases look for: values read from the known session's body.
    values = (
        ("ana@example.com", f"customer_email of the session {KNOWN_ID!r}"),
        ("pay_distinct00001", f"payment_id of the session {KNOWN_ID!r}"),
    )
    return Context(
        contract=contract,
        known_ids=frozenset({KNOWN_ID, CREATED_ID}),
        created_ids=frozenset({CREATED_ID}),
        session_values=values,
    )


@pytest.fixture(scope="session")
def operation(contract: Contract) -> Any:
    """The operation as Schemathesis sees it."""
    return schemathesis_schema(contract, seed=1, max_examples=10)["/checkouts/{id}"]["GET"]


@pytest.fixture
def serve() -> Iterator[Callable[[CheckoutApi], Sandbox]]:
    """Start sandboxes on 127.0.0.1 for one test; each is stopped after it."""
    started: list[Sandbox] = []

    def start(api: CheckoutApi) -> Sandbox:
        sandbox = Sandbox(api=api).start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in started:
        sandbox.stop()
