"""Generated requests: Schemathesis' strategies for the operation, run under Hypothesis with all of its phases.

This is what Schemathesis' pytest integration builds for a test (explicit examples, the coverage phase,
then fuzzing), built here without pytest so that the engine drives it. The modules imported from
Schemathesis are not part of its documented API; tests/test_upstream.py fails loudly if an upgrade
changes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import hypothesis
from hypothesis import HealthCheck
from schemathesis.generation import derive_operation_seed, overrides
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test

if TYPE_CHECKING:
    from collections.abc import Callable

    from schemathesis.schemas import APIOperation

# Phases in the order Schemathesis' own integrations enable them.
_MODES = (
    ("examples", HypothesisTestMode.EXAMPLES),
    ("fuzzing", HypothesisTestMode.FUZZING),
    ("coverage", HypothesisTestMode.COVERAGE),
)


def generated_requests(operation: APIOperation[Any, Any, Any, Any], send: Callable[[Any], None]) -> Callable[[], None]:
    """A callable that draws every generated case of the operation, in order, and hands each to `send`."""
    config = operation.schema.config
    phases = config.phases_for(operation=operation)
    modes = [mode for name, mode in _MODES if getattr(phases, name).enabled]
    # Only fuzzing draws max_examples.
    phase = "fuzzing" if HypothesisTestMode.FUZZING in modes else None
    # A loaded machine must not turn slow generation into a failed run.
    settings = hypothesis.settings(
        config.get_hypothesis_settings(operation=operation, phase=phase), suppress_health_check=list(HealthCheck)
    )

    def test(case: Any) -> None:  # noqa: ANN401 - a schemathesis.Case
        send(case)

    built: Callable[[], None] = create_test(
        operation=operation,
        test_func=test,
        config=HypothesisTestConfig(
            settings=settings,
            explicit_setting_names=config.explicit_hypothesis_settings(operation=operation, phase=phase),
            modes=modes,
            seed=derive_operation_seed(config.seed, operation.label),
            project=config,
            override=overrides.with_config_headers(config, operation=operation),
            feedback=FeedbackSources(),
        ),
    )
    return built
