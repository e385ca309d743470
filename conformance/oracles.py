"""Independent opinions on the same exchanges: Schemathesis' own response checks, and the official SDK.

Neither decides a run. Where one judges a requirement otherwise than the gate's check for it, the
disagreement is listed, so that the gate's verdicts are never only its own opinion.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
import schemathesis
import schemathesis.checks
from schemathesis.errors import FailureGroup

from conformance.checks import Outcome, judge
from conformance.model import Credential

if TYPE_CHECKING:
    from schemathesis.schemas import APIOperation

    from conformance.checks import Context
    from conformance.model import Exchange, ReceivedResponse

# Schemathesis' checks that judge only the response in hand, each with the gate's check for the same
# requirement. Those that send requests of their own (ignored_auth, unsupported_method, ...) are left
# out: only the transport sends.
SCHEMATHESIS_COUNTERPARTS = {
    "not_a_server_error": "response.no_server_error",
    "status_code_conformance": "response.status_documented",
    "content_type_conformance": "response.content_type",
    "response_schema_conformance": "response.schema",
}


def judged_by_schemathesis(exchange: Exchange) -> bool:
    """Whether Schemathesis' checks can judge this exchange: a whole response to the valid key, not a 429."""
    response = exchange.response
    # Schemathesis knows nothing of the gate's missing and wrong keys, and cannot judge a body cut at the cap.
    return not (
        response is None or exchange.rate_limited or response.truncated or exchange.credential is not Credential.VALID
    )


def schemathesis_disagreements(
    ctx: Context, operation: APIOperation[Any, Any, Any, Any], exchange: Exchange
) -> list[str]:
    """Where Schemathesis' checks judge this exchange otherwise than the gate's counterpart checks."""
    response = exchange.response
    if response is None or not judged_by_schemathesis(exchange):
        return []
    case = exchange.case or operation.Case(path_parameters={ctx.operation.id_parameter: exchange.checkout_id})
    converted = _as_schemathesis_response(exchange, response)
    ours = {verdict.check.id: verdict.outcome for verdict in judge(ctx, exchange)}
    failed_elsewhere = any(outcome is Outcome.FAILED for outcome in ours.values())
    disagreements = []
    for name, counterpart in SCHEMATHESIS_COUNTERPARTS.items():
        if counterpart not in ours:
            continue
        we_fail = ours[counterpart] is not Outcome.PASSED
        theirs = _schemathesis_failure(case, converted, name)
        if theirs is not None and not we_fail and failed_elsewhere:
            # Schemathesis bundles requirements the gate judges apart (a schema check that also wants a
            # Content-Type): the gate failed the exchange under another check, so nothing was missed.
            continue
        if we_fail != (theirs is not None):
            verdicts = f"{counterpart} {'fails' if we_fail else 'passes'} it, Schemathesis' {name} " + (
                f"fails it ({theirs})" if theirs else "passes it"
            )
            disagreements.append(f"{exchange.request.method} {exchange.request.url} -> {response.status}: {verdicts}")
    return disagreements


def _schemathesis_failure(case: Any, response: schemathesis.Response, name: str) -> str | None:  # noqa: ANN401
    """The title of Schemathesis' finding, or None when its check passes."""
    try:
        case.validate_response(response, checks=[getattr(schemathesis.checks, name)])
    except FailureGroup as group:
        return str(getattr(group.exceptions[0], "title", group))
    except AssertionError as failure:
        # Schemathesis' failures are AssertionErrors with a title.
        return str(getattr(failure, "title", failure))
    return None


def _as_schemathesis_response(exchange: Exchange, response: ReceivedResponse) -> schemathesis.Response:
    prepared = requests.Request(
        method=exchange.request.method, url=exchange.request.url, headers=exchange.request.headers
    ).prepare()
    return schemathesis.Response(
        status_code=response.status,
        headers={key.lower(): [value] for key, value in response.headers.items()},
        content=response.body,
        request=prepared,
        elapsed=response.elapsed_ms / 1000,
        verify=True,
        message=response.reason,
    )


def sdk_accepts(body: Any) -> bool:  # noqa: ANN401 - any JSON value
    """Whether the official SDK, with _strict_response_validation=True, parses this body.

    Strict mode validates a body with the model's pydantic `model_validate`; calling it directly judges a
    body the gate already holds without sending the request again.
    """
    import pydantic  # noqa: PLC0415 - the SDK is an optional oracle
    from dodopayments.types import CheckoutSessionStatus  # noqa: PLC0415

    try:
        CheckoutSessionStatus.model_validate(body)
    except pydantic.ValidationError:
        return False
    return True
