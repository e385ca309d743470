"""Fixtures shared by the project's tests."""

from __future__ import annotations

import pytest
from support import KNOWN_ID, SPEC

from conformance.checks import Context
from conformance.spec import Contract, load_contract, schemathesis_schema


@pytest.fixture(scope="session")
def contract() -> Contract:
    return load_contract(SPEC)


@pytest.fixture(scope="session")
def context(contract: Contract) -> Context:
    schema = schemathesis_schema(contract, seed=1, max_examples=10)
    return Context(contract=contract, known_ids=frozenset({KNOWN_ID}), operation=schema["/checkouts/{id}"]["GET"])
