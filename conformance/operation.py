"""The operation descriptor: everything the gate knows of one get-by-id operation, in one typed value.

The generic scenarios (gate.py) and checks (checks/) read the operation from here, never from constants
of their own, the way Schemathesis hands each check the APIOperation it judges. An operation adds its own
scenarios and its own deep checks; `conformance/operations/checkout.py` is the first descriptor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

if TYPE_CHECKING:
    from collections.abc import Callable

    from conformance.checks import Check
    from conformance.gate import Gate

# Shorter values are too likely to occur in any text; longer ones (a long note) are no one's identity.
MIN_DISTINCTIVE_CHARS = 6
MAX_DISTINCTIVE_CHARS = 320


@dataclass(frozen=True)
class Scenario:
    """A scenario of one operation's own, played after the preflight and before the known ids are read."""

    # Its cassette's name, and how a finding of the gate's own failure names where it happened.
    name: str
    play: Callable[[Gate], None]


@dataclass(frozen=True)
class Operation:
    """A get-by-id operation: where it lives in the spec, what it answers, and what is its own."""

    method: str
    # The path template as the spec keys it, with the id parameter in braces.
    path: str
    # The component schema a success's body must reference (read from the spec at `success_status`, `media_type`).
    schema: str
    # The operation's name in the spec, for the hints of a spec that lacks it.
    summary: str
    # Words the generic checks and scenarios speak of it with: "session", "checkout id".
    noun: str
    id_noun: str
    # How its ids begin, so that invented ids look like real ones.
    id_prefix: str
    # What of a resource an error body must not carry, as errors.no_disclosure's requirement says it.
    private_data: str
    id_parameter: str = "id"
    success_status: int = 200
    media_type: str = "application/json"
    # Whether the operation takes a key: without one, no request is sent without or with a wrong one.
    secured: bool = True
    # Body fields of a known resource holding other ids, each then asked for as this operation's id: a lookup
    # that also searches another column finds a resource by an id that is not its own.
    related_id_fields: tuple[str, ...] = ()
    # Body fields whose values say nothing of the resource (its id, a timestamp, an enum word): an error body
    # may carry them.
    undistinctive_fields: frozenset[str] = frozenset({"id"})
    scenarios: tuple[Scenario, ...] = ()
    # Its own deep checks, in the order the reports list them (after the generic checks of the resource).
    checks: tuple[Check, ...] = ()
    # The only checks that judge the answer to a write its own scenarios send, which is none of this operation's.
    write_checks: frozenset[str] = frozenset()

    @property
    def label(self) -> str:
        """`GET /checkouts/{id}`."""
        return f"{self.method.upper()} {self.path}"

    @property
    def ref(self) -> str:
        """Where the operation lives in the spec, as a JSON pointer."""
        return f"#/paths/{self.path.replace('~', '~0').replace('/', '~1')}/{self.method.lower()}"

    @property
    def schema_ref(self) -> str:
        """Where the schema of a success's body lives in the spec."""
        return f"#/components/schemas/{self.schema}"

    @property
    def _placeholder(self) -> str:
        return "{" + self.id_parameter + "}"

    def path_for(self, resource_id: str) -> str:
        """The path of one id, with every reserved character of it escaped."""
        return self.raw_path(quote(resource_id, safe=""))

    def raw_path(self, encoded: str) -> str:
        """The path with `encoded` put in place of the id exactly as given (path syntax is sent as such)."""
        return self.path.replace(self._placeholder, encoded)

    def id_in_path(self, path: str) -> str:
        """The id a request path names, decoded as a server decodes it (a base URL's own path may come first)."""
        prefix = self.path.split(self._placeholder, 1)[0]
        return unquote(path.rsplit(prefix, 1)[-1])

    def distinctive_values(self, resource_id: str, body: dict[str, Any]) -> list[tuple[str, str]]:
        """The values of a resource's body that name it or its customer, each with where it was read."""
        return [
            (value, f"{name} of the {self.noun} {resource_id!r}")
            for name, value in body.items()
            if name not in self.undistinctive_fields
            and isinstance(value, str)
            and MIN_DISTINCTIVE_CHARS <= len(value) <= MAX_DISTINCTIVE_CHARS
        ]

    def words(self, text: str) -> str:
        """A generic check's text about this operation, with its placeholders filled in."""
        for placeholder, value in (
            ("{operation}", self.ref),
            ("{schema}", self.schema_ref),
            ("{schema_name}", self.schema),
            ("{noun}", self.noun),
            ("{id_noun}", self.id_noun),
            ("{private_data}", self.private_data),
        ):
            text = text.replace(placeholder, value)
        return text


def scenario_names(operation: Operation) -> tuple[str, ...]:
    """The scenarios of a run over `operation`, in order; each is one cassette when recording."""
    return ("preflight", *setup_names(operation)[:-1], *GENERIC_SCENARIOS)


def setup_names(operation: Operation) -> tuple[str, ...]:
    """The scenarios not worth playing once the target cannot be judged: every later request would fail alike."""
    return (*(scenario.name for scenario in operation.scenarios), GENERIC_SCENARIOS[0])


# The gate's scenarios for any get-by-id operation, in the order they run after the operation's own.
GENERIC_SCENARIOS = (
    "known_sessions",
    "credentials",
    "invented_ids",
    "edge_ids",
    "path_syntax_ids",
    "aliases",
    "reused_connection",
    "concurrent_reads",
    "generated_ids",
)


def own_scenario(operation: Operation, name: str) -> Scenario | None:
    """The operation's own scenario of that name; None for a generic one."""
    return next((scenario for scenario in operation.scenarios if scenario.name == name), None)
