"""pytest-recording's fixtures, pointed at the gate's cassettes and secret filters."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.cassettes import vcr_config as gate_vcr_config
from conformance.plugin import Run


@pytest.fixture(scope="module")
def vcr_cassette_dir(conformance_run: Run) -> str:
    return str(conformance_run.cassette_dir)


@pytest.fixture
def vcr_config(conformance_target: tuple[str, str, tuple[str, ...]]) -> dict[str, Any]:
    base_url, api_key, _ = conformance_target
    return gate_vcr_config(base_url, [api_key])
