"""Every rule of the diff, once: its id, level, side and why the change matters.

Ids and categories follow oasdiff's public checks where one fits (`request-property-enum-value-removed`,
`response-success-status-removed`, ...); levels follow it too, except where the Dodo API says otherwise
(a response enum value added, below). A schema rule's id is `{side}-{place}-{change}`, where the place
is `body` (the body's own schema), `property` (anything inside it) or `parameter`.
"""

from __future__ import annotations

from dataclasses import dataclass

from conformance.diff.model import Level, Side

ERROR, WARNING, INFO = Level.ERROR, Level.WARNING, Level.INFO
REQUEST, RESPONSE = Side.REQUEST, Side.RESPONSE


@dataclass(frozen=True)
class Rule:
    """One kind of change: its stable id, its level, the side it judges, and the one sentence of why."""

    id: str
    level: Level
    side: Side
    reason: str
    # The README and `--format md` list a family of schema rules once: `request-{body,property,parameter}-...`.
    family: str


RULES: dict[str, Rule] = {}


def _add(rule_id: str, level: Level, side: Side, reason: str, family: str | None = None) -> None:
    RULES[rule_id] = Rule(rule_id, level, side, reason, family or rule_id)


_API = [
    ("endpoint-added", INFO, "a new operation; no existing caller uses it"),
    ("api-removed-without-deprecation", ERROR, "callers of the operation now fail, with no deprecation first"),
    ("api-removed-with-deprecation", WARNING, "OLD deprecated the operation, but callers still using it now fail"),
    ("webhook-added", INFO, "a new event sent to the client's server; receivers ignore what they do not know"),
    ("webhook-removed", WARNING, "receivers waiting for the event never get it again"),
    ("api-security-added", INFO, "another way to authenticate is accepted; the old ones still work"),
    ("api-security-removed", ERROR, "callers authenticating that way are now refused"),
    ("api-security-added-to-open-operation", ERROR, "an operation callable without credentials now requires them"),
    ("api-security-removed-from-operation", INFO, "the operation no longer requires credentials"),
    ("api-security-scope-added", ERROR, "a token without the new scope is now refused"),
    ("api-security-scope-removed", INFO, "a scope is no longer needed; existing tokens still work"),
]
_REQUEST = [
    ("new-required-request-parameter", ERROR, "requests without the new required parameter are now refused"),
    ("new-optional-request-parameter", INFO, "callers may send it; requests without it still work"),
    ("request-parameter-removed", WARNING, "callers still sending it may be refused, or have it silently ignored"),
    ("request-parameter-became-required", ERROR, "requests that leave it out are now refused"),
    ("request-parameter-became-optional", INFO, "requests may now leave it out; those that send it still work"),
    ("request-body-added-required", ERROR, "requests without a body are now refused"),
    ("request-body-added-optional", INFO, "callers may send a body; requests without one still work"),
    ("request-body-removed", ERROR, "callers still sending a body may be refused, or have it ignored"),
    ("request-body-became-required", ERROR, "requests without a body are now refused"),
    ("request-body-became-optional", INFO, "the body may now be left out"),
    ("request-body-media-type-added", INFO, "callers may send the new media type; the old ones still work"),
    ("request-body-media-type-removed", ERROR, "callers sending that media type are now refused"),
    ("new-required-request-property", ERROR, "requests without the new required property are now refused"),
    ("new-optional-request-property", INFO, "callers may send it; requests without it still work"),
    ("request-property-removed", WARNING, "callers still sending it may be refused, or have it silently ignored"),
    ("request-property-became-required", ERROR, "requests that leave it out are now refused"),
    ("request-property-became-optional", INFO, "requests may now leave it out"),
]
_RESPONSE = [
    ("response-success-status-added", INFO, "a new success status; a client that only knows the old ones may not"),
    ("response-success-status-removed", ERROR, "clients handling that success status never see it again"),
    ("response-non-success-status-added", INFO, "a new error status; clients handle unknown errors generically"),
    ("response-non-success-status-removed", INFO, "an error status is no longer documented"),
    ("response-media-type-added", INFO, "the server may answer in a new media type to clients that ask for it"),
    ("response-media-type-removed", ERROR, "clients asking for that media type no longer get it"),
    ("response-required-property-added", INFO, "clients get a new property; existing ones are unaffected"),
    ("response-optional-property-added", INFO, "clients may get a new property; existing ones are unaffected"),
    ("response-required-property-removed", ERROR, "clients reading a property the server promised always find it gone"),
    ("response-optional-property-removed", WARNING, "clients that read the property when present never find it"),
    ("response-property-became-required", INFO, "the server now always sends it"),
    ("response-property-became-optional", ERROR, "clients that rely on it being present may now find it missing"),
]

# change: (request level, request reason, response level, response reason); the request side reads what
# callers send (NEW must accept all OLD accepted), the response side what they receive.
_SCHEMA: dict[str, tuple[Level, str, Level, str]] = {
    "list-of-types-widened": (
        INFO,
        "more types are accepted; what callers send still fits",
        ERROR,
        "the server may send a type clients were not built to parse",
    ),
    "list-of-types-narrowed": (
        ERROR,
        "callers sending a type that is no longer listed are refused",
        INFO,
        "the server sends fewer types than before",
    ),
    "type-changed": (
        ERROR,
        "what callers send in the old type is refused",
        ERROR,
        "clients parsing the old type fail on the new one",
    ),
    "became-nullable": (
        INFO,
        "null is accepted as well",
        ERROR,
        "clients that do not expect null fail when it arrives",
    ),
    "became-not-nullable": (ERROR, "callers sending null are refused", INFO, "the server no longer sends null"),
    "enum-value-added": (
        INFO,
        "callers may send the new value; the old ones still work",
        ERROR,
        (
            "the official Dodo SDKs validate enums strictly, so a response with the new value fails to parse "
            "in every SDK built before it"
        ),
    ),
    "enum-value-removed": (
        ERROR,
        "callers sending the removed value are refused",
        INFO,
        "the server no longer sends that value",
    ),
    "became-enum": (
        ERROR,
        "only the listed values are accepted; others callers sent before are refused",
        INFO,
        "the server sends only the listed values",
    ),
    "became-not-enum": (
        INFO,
        "any value is accepted, not only the listed ones",
        ERROR,
        "the server may send values outside the old list, which strict clients reject",
    ),
    "format-added": (
        WARNING,
        "a validating server refuses values that do not match the new format",
        INFO,
        "the server's values now follow a format",
    ),
    "format-removed": (
        INFO,
        "values no longer need to match a format",
        WARNING,
        "clients parsing the old format may fail on values that no longer follow it",
    ),
    "format-changed": (
        ERROR,
        "values in the old format are refused by a validating server",
        ERROR,
        "clients parsing the old format fail on the new one",
    ),
    "pattern-added": (
        ERROR,
        "values that do not match the new pattern are refused",
        INFO,
        "the server's values now follow a pattern",
    ),
    "pattern-changed": (
        WARNING,
        "values matching only the old pattern are refused",
        INFO,
        "the server's values follow another pattern",
    ),
    "pattern-removed": (
        INFO,
        "values no longer need to match a pattern",
        WARNING,
        "clients relying on the old pattern may get values outside it",
    ),
    "one-of-added": (
        INFO,
        "callers may send the new shape; the old ones still work",
        ERROR,
        "the server may send a shape clients were not built to parse",
    ),
    "one-of-removed": (
        ERROR,
        "callers sending the removed shape are refused",
        INFO,
        "the server no longer sends that shape",
    ),
    "any-of-added": (
        INFO,
        "callers may send the new shape; the old ones still work",
        ERROR,
        "the server may send a shape clients were not built to parse",
    ),
    "any-of-removed": (
        ERROR,
        "callers sending the removed shape are refused",
        INFO,
        "the server no longer sends that shape",
    ),
    "additional-properties-narrowed": (
        ERROR,
        "keys or values that were allowed beside the declared properties are refused",
        INFO,
        "the server sends fewer undeclared keys",
    ),
    "additional-properties-widened": (
        INFO,
        "more undeclared keys or values are accepted",
        WARNING,
        "the server may send undeclared keys or values that strict clients reject",
    ),
}
# Bounds: (keyword, name, is an upper bound).
BOUNDS = (
    ("maximum", "max", True),
    ("exclusiveMaximum", "exclusive-max", True),
    ("maxLength", "max-length", True),
    ("maxItems", "max-items", True),
    ("maxProperties", "max-properties", True),
    ("minimum", "min", False),
    ("exclusiveMinimum", "exclusive-min", False),
    ("minLength", "min-length", False),
    ("minItems", "min-items", False),
    ("minProperties", "min-properties", False),
)
for _keyword, _name, _upper in BOUNDS:
    _tight = "decreased" if _upper else "increased"
    _loose = "increased" if _upper else "decreased"
    _SCHEMA[f"{_name}-set"] = (
        WARNING,
        f"values past the new {_keyword} are refused",
        INFO,
        f"the server's values now keep within a {_keyword}",
    )
    _SCHEMA[f"{_name}-{_tight}"] = (
        ERROR,
        f"values OLD accepted beyond the new {_keyword} are refused",
        INFO,
        f"the server's values keep within a tighter {_keyword}",
    )
    _SCHEMA[f"{_name}-{_loose}"] = (
        INFO,
        f"a looser {_keyword}: what callers sent still fits",
        ERROR,
        f"the server may send values beyond the old {_keyword}, which clients may reject",
    )
    _SCHEMA[f"{_name}-unset"] = (
        INFO,
        f"no {_keyword} any more: what callers sent still fits",
        ERROR,
        f"the server may send values beyond the old {_keyword}, which clients may reject",
    )

PLACES = {REQUEST: ("body", "property", "parameter"), RESPONSE: ("body", "property")}
_SOUNDNESS = [
    (
        "schema-one-of-overlap",
        ERROR,
        (
            "a value two oneOf branches both accept is rejected by the oneOf, although the schema describes it: a "
            "correct body fails validation (a warning when OLD already had it)"
        ),
    ),
    (
        "schema-unsatisfiable",
        ERROR,
        (
            "no JSON value of any type passes the schema, so no body using it can be valid "
            "(a warning when OLD already had it)"
        ),
    ),
    (
        "schema-rejects-own-example",
        WARNING,
        (
            "the schema rejects its own enum value, default or example, so the document contradicts itself "
            "(info when OLD already had it)"
        ),
    ),
]

for _id, _level, _reason in _API:
    _add(_id, _level, Side.API, _reason)
for _id, _level, _reason in _REQUEST:
    _add(_id, _level, REQUEST, _reason)
for _id, _level, _reason in _RESPONSE:
    _add(_id, _level, RESPONSE, _reason)
for _change, (_req_level, _req_reason, _resp_level, _resp_reason) in _SCHEMA.items():
    for _side, _level, _reason in ((REQUEST, _req_level, _req_reason), (RESPONSE, _resp_level, _resp_reason)):
        _places = PLACES[_side]
        for _place in _places:
            _add(
                f"{_side.value}-{_place}-{_change}",
                _level,
                _side,
                _reason,
                f"{_side.value}-{{{','.join(_places)}}}-{_change}",
            )
for _id, _level, _reason in _SOUNDNESS:
    _add(_id, _level, Side.SPEC, _reason)


def schema_rule(side: Side, place: str, change: str) -> str:
    """The id of a schema change at a place on a side; KeyError for a combination that has no rule."""
    rule_id = f"{side.value}-{place}-{change}"
    RULES[rule_id]
    return rule_id


def families() -> list[Rule]:
    """One rule per family, in catalogue order: what the README and the list of rules show."""
    seen: dict[str, Rule] = {}
    for rule in RULES.values():
        seen.setdefault(rule.family, rule)
    return list(seen.values())
