"""The generic checks, and how an operation's checks are registered. Every check judges one exchange; no I/O.

A check is a function `(ctx, exchange) -> None` registered with `@check`. Its id is its
name with the first underscore read as a dot (`response_schema` is `response.schema`).
It passes by returning, fails by raising `CheckFailure` with what was received and what the
spec expects, and raises `NotApplicable` when the exchange is not one it judges. The operation it
judges is `ctx.operation`; its texts name the operation through placeholders (`Operation.words`), and
the checks of the resource family (`resource_*`) take the operation's noun as their family
(`session.known_found` for the checkout).

The registry is `registry.py`; each family of generic checks is a module, imported here in the order the
reports list them, since a check's place in every report is the order it was registered in.
"""

# Each module registers its checks as it is imported: this order is the order of every report.
from conformance.checks import response  # noqa: F401 - imported for its checks

# isort: split
from conformance.checks import auth  # noqa: F401 - the same

# isort: split
from conformance.checks import resource  # noqa: F401 - the same

# isort: split
from conformance.checks import errors  # noqa: F401 - the same

# isort: split
from conformance.checks.registry import (
    GENERIC,
    HEAD_CHECKS,
    KNOWN_PURPOSES,
    LISTED_AFTER_OWN,
    PATH_SYNTAX_STATUSES,
    RESOURCE_FAMILY,
    Check,
    CheckFailure,
    CheckFunction,
    Context,
    Level,
    NotApplicable,
    Outcome,
    Verdict,
    check,
    checks_for,
    is_success,
    json_object,
    judge,
    response_of,
)

__all__ = [
    "GENERIC",
    "HEAD_CHECKS",
    "KNOWN_PURPOSES",
    "LISTED_AFTER_OWN",
    "PATH_SYNTAX_STATUSES",
    "RESOURCE_FAMILY",
    "Check",
    "CheckFailure",
    "CheckFunction",
    "Context",
    "Level",
    "NotApplicable",
    "Outcome",
    "Verdict",
    "check",
    "checks_for",
    "is_success",
    "json_object",
    "judge",
    "response_of",
]
