"""Canaries: each place the gate leans on a dependency's undocumented behaviour fails here first on an upgrade."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import schemathesis.checks
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from support import ROOT

from conformance.generation import generated_requests
from conformance.oracles import SCHEMATHESIS_COUNTERPARTS
from conformance.spec import Contract, schemathesis_schema


def _draw_with_schemathesis_pytest_builder(operation: Any) -> list[str]:
    urls: list[str] = []

    def test(case: Any) -> None:
        urls.append(case.as_transport_kwargs(base_url="http://target")["url"])

    build_operation_test(
        config=operation.schema.config, operation=operation, test_func=test, given_kwargs={}, feedback=FeedbackSources()
    )()
    return urls


@pytest.mark.parametrize("seed", [20261128, 7])
def test_the_engine_draws_exactly_what_schemathesis_pytest_integration_draws(contract: Contract, seed: int) -> None:
    operation = schemathesis_schema(contract, seed=seed, max_examples=50)["/checkouts/{id}"]["GET"]
    ours: list[Any] = []
    generated_requests(operation, ours.append)()
    theirs = _draw_with_schemathesis_pytest_builder(operation)
    assert [case.as_transport_kwargs(base_url="http://target")["url"] for case in ours] == theirs
    # Schemathesis' coverage phase is part of what is drawn, not lost outside its pytest integration.
    assert any(case.meta is not None and case.meta.phase.name.value == "coverage" for case in ours)


def test_schemathesis_still_has_the_checks_the_oracle_runs() -> None:
    for name in SCHEMATHESIS_COUNTERPARTS:
        assert callable(getattr(schemathesis.checks, name, None)), name


PROBE = """
import sys
sys.path.insert(0, ".")
import local_module  # noqa: F401 - a module under the working directory, holding a literal
if sys.argv[1] == "fixed":
    from conformance import determinism
    determinism.fix_generated_data()
from hypothesis import given, settings, strategies as st
found = []
@settings(max_examples=3000, database=None, derandomize=True)
@given(st.text())
def draw(text):
    if "{marker}" in text:
        found.append(text)
draw()
print(len(found))
"""


def test_local_literals_never_reach_generated_data(tmp_path: Path) -> None:
    marker = "zqxjcanaryliteral"
    (tmp_path / "local_module.py").write_text(f"MARK = {marker!r}\n", encoding="utf-8")
    probe = tmp_path / "probe.py"
    probe.write_text(textwrap.dedent(PROBE).replace("{marker}", marker[:10]), encoding="utf-8")

    def found(mode: str) -> int:
        result = subprocess.run(
            [sys.executable, str(probe), mode], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=True,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        return int(result.stdout.strip())

    if found("plain") == 0:
        pytest.skip("Hypothesis no longer mixes local literals into generated data (#4627): determinism.py can go")
    assert found("fixed") == 0
