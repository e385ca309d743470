"""The record of one run, as summary.json holds it; every report renders this model.

Its JSON form is specified by conformance/data/summary.schema.json: a record written by one version
can be read back and rendered again later (`conformance report`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar

from jsonschema import Draft202012Validator, FormatChecker

from conformance.errors import BadInputError
from conformance.neutral import TEXT_WHITESPACE, neutral

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

# A record, or any part of one.
Part = TypeVar("Part")
FORMAT = "dodo-conformance/summary"
# 2: findings grouped by root cause; what a finding sent and why; the exact command and the mode.
FORMAT_VERSION = 2


@dataclass(frozen=True)
class RequestRecord:
    """A request as sent, the key already redacted."""

    method: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Finding:
    """One exchange that broke (or, for a SHOULD check, strained) a requirement."""

    outcome: str  # "failed" or "warned"
    received: str
    expected: str
    purpose: str
    credential: str
    checkout_id: str
    request: RequestRecord
    status: int | None
    content_type: str | None
    body_excerpt: str | None
    transport_error: str | None
    curl: str
    # The id as it went on the wire (percent-encoded), beside `checkout_id` decoded for reading.
    id_sent: str = ""
    # Why an edge-case id, an alias or a key near miss was sent.
    why: str | None = None
    # Where a 3xx pointed.
    location: str | None = None


@dataclass(frozen=True)
class CheckRecord:
    """What one check concluded over the run."""

    id: str
    level: str
    requirement: str
    spec_ref: str
    status: str  # passed, failed, warned, skipped
    skip_reason: str | None
    passed: int
    failed: int
    warned: int
    findings: tuple[Finding, ...] = ()
    # Findings counted but not kept (failed + warned = kept + dropped).
    findings_dropped: int = 0


@dataclass(frozen=True)
class FindingGroup:
    """Findings of one check that share a root cause; reports show these first."""

    id: str
    check: str
    level: str
    outcome: str
    status: int | None
    summary: str
    count: int
    example: Finding
    checkout_ids: tuple[str, ...]
    ids_dropped: int
    # The command that sends the example again and judges it.
    replay: str


@dataclass(frozen=True)
class RunFacts:
    """What was judged, with what, and when."""

    started: str
    finished: str
    duration_seconds: float
    first_failure_after_seconds: float | None
    target: str
    sandbox: bool
    spec: str
    spec_version: str
    seed: int
    max_examples: int
    strict: bool
    request_timeout_seconds: float
    checkout_ids: tuple[str, ...]
    # Over the network, each retry of a 429 included; 0 on a replay.
    requests_sent: int = 0
    mode: str = "live"
    # How the run was started, the key redacted.
    command: str = ""


@dataclass(frozen=True)
class Result:
    """How the run ended."""

    status: str  # conforms, non-conformant, could not judge
    exit_code: int
    reason: str


@dataclass(frozen=True)
class ExchangeCounts:
    """How many exchanges, by status."""

    total: int
    by_status: dict[str, int]
    unjudged: int


@dataclass(frozen=True)
class Tool:
    """The gate that wrote the record."""

    name: str
    version: str


@dataclass(frozen=True)
class OracleCounts:
    """How Schemathesis' own response checks (--oracle) judged the run beside the gate's."""

    # Exchanges it could judge (whole responses to the valid key), and those where it agreed with every check.
    judged: int
    agreed: int


@dataclass(frozen=True)
class RunRecord:
    """The whole run."""

    tool: Tool
    run: RunFacts
    result: Result
    exchanges: ExchangeCounts
    checks: tuple[CheckRecord, ...]
    groups: tuple[FindingGroup, ...] = ()
    spec_gaps: tuple[str, ...] = ()
    # Where an independent opinion (Schemathesis' own checks) judged an exchange otherwise.
    oracle_disagreements: tuple[str, ...] = field(default=())
    # None: the run had no oracle (and records written before this field was added).
    oracle: OracleCounts | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as summary.json holds it."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}

    def to_text(self) -> str:
        """summary.json's text."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: Any) -> RunRecord:  # noqa: ANN401 - any parsed JSON, checked against the schema here
        """A record read back from summary.json; raise BadInputError when it is not one."""
        errors = sorted(_validator().iter_errors(data), key=lambda error: list(error.path))
        if errors:
            where = "/".join(str(part) for part in errors[0].path) or "the top level"
            raise BadInputError(
                f"the file is not a summary.json of format {FORMAT} {FORMAT_VERSION} ({where}: {errors[0].message})",
                "give the summary.json a run wrote",
            )
        return cls(
            tool=Tool(**data["tool"]),
            run=RunFacts(**{**data["run"], "checkout_ids": tuple(data["run"]["checkout_ids"])}),
            result=Result(**data["result"]),
            exchanges=ExchangeCounts(**data["exchanges"]),
            checks=tuple(
                CheckRecord(**{**item, "findings": tuple(_finding(finding) for finding in item["findings"])})
                for item in data["checks"]
            ),
            groups=tuple(
                FindingGroup(
                    **{**group, "example": _finding(group["example"]), "checkout_ids": tuple(group["checkout_ids"])}
                )
                for group in data["groups"]
            ),
            spec_gaps=tuple(data["spec_gaps"]),
            oracle_disagreements=tuple(data.get("oracle_disagreements", ())),
            oracle=OracleCounts(**data["oracle"]) if data.get("oracle") is not None else None,
        )

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        """Read summary.json; raise BadInputError naming the file when it cannot be used."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInputError(f"{path} does not exist", "give the summary.json a run wrote") from None
        except IsADirectoryError:
            raise BadInputError(f"{path} is a directory", "give the summary.json inside it") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadInputError(
                f"{path} cannot be read as JSON ({reason})", "give the summary.json a run wrote"
            ) from None
        try:
            return cls.from_json(data)
        except BadInputError as error:
            raise BadInputError(f"{path}: {error.cause}", error.fix) from None


def _finding(data: dict[str, Any]) -> Finding:
    return Finding(**{**data, "request": RequestRecord(**data["request"])})


@cache
def _validator() -> Draft202012Validator:
    text = resources.files("conformance.data").joinpath("summary.schema.json").read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text), format_checker=FormatChecker())


def neutralised(value: Part) -> Part:
    """A copy of a record (or any part of one) whose every string is inert: only tabs and line breaks are kept raw.

    Every byte of a record may have come from the target (a body, a header, a reason phrase), and a saved
    record may have been edited: the record is neutralised when built, and each renderer does it again.
    """
    inert: Part = redacted(value, _keep_line_breaks)
    return inert


def _keep_line_breaks(text: str) -> str:
    return neutral(text, keep=TEXT_WHITESPACE)


def redacted(value: Any, redact: Callable[[str], str]) -> Any:  # noqa: ANN401 - any part of a record
    """A copy of a record (or any part of one) with every string passed through `redact`, field by field.

    Field by field, not on the serialized text: a secret replaced inside a JSON escape sequence would
    leave summary.json unreadable.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple):
        return tuple(redacted(item, redact) for item in value)
    if isinstance(value, list):
        return [redacted(item, redact) for item in value]
    if isinstance(value, dict):
        return {redacted(key, redact): redacted(item, redact) for key, item in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return replace(value, **{item.name: redacted(getattr(value, item.name), redact) for item in fields(value)})
    return value
