"""The schema rules: what changed between two resolved schema nodes, judged for the side they are on.

Each function compares one aspect of one node and returns the changes it sees; the walk (walk.py) takes
them down into properties, items and branches, and turns them into findings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance.diff.catalogue import BOUNDS
from conformance.diff.load import child
from conformance.diff.model import Side

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from conformance.diff.load import Spec

Schema = dict[str, Any]
UNIONS = ("oneOf", "anyOf")
# The most branch levels a type set is followed through: a union of unions of ... is rare, a loop is not.
MAX_DEPTH = 8


@dataclass(frozen=True)
class Change:
    """One change at a node: `change` is a schema change (`enum-value-added`) or, when `rule` is set, a whole id."""

    change: str
    message: str
    old_pointer: str
    new_pointer: str
    # Below the node the comparison started from: ("metadata", "*"), ("tags", "[]").
    path: tuple[str, ...] = ()
    rule: str | None = None

    def under(self, *tokens: str) -> Change:
        """The same change seen from a node higher up."""
        return Change(self.change, self.message, self.old_pointer, self.new_pointer, (*tokens, *self.path), self.rule)


@dataclass(frozen=True)
class Pair:
    """Two resolved schema nodes at the same place in OLD and NEW, on one side."""

    old: Schema
    old_pointer: str
    new: Schema
    new_pointer: str
    side: Side
    old_spec: Spec
    new_spec: Spec


def as_schema(node: object) -> Schema:
    """A schema as a mapping: `true` accepts anything, `false` nothing."""
    if node is True:
        return {}
    if node is False:
        return {"not": {}}
    return node if isinstance(node, dict) else {}


def shown(value: object) -> str:
    """A JSON value as the findings quote it."""
    return json.dumps(value, sort_keys=True, default=str)


def types_of(schema: Schema, spec: Spec, depth: int = 0) -> frozenset[str] | None:  # noqa: C901 - one case per way to say a type
    """The JSON types a schema admits, through its branches; None when it does not say (anything goes)."""
    declared = schema.get("type")
    found: set[str] | None
    if isinstance(declared, str):
        found = {declared}
    elif isinstance(declared, list):
        found = {item for item in declared if isinstance(item, str)}
    elif depth < MAX_DEPTH and any(isinstance(schema.get(key), list) for key in UNIONS):
        found = set()
        for key in UNIONS:
            for index, branch in enumerate(schema.get(key) or []):
                resolved, _ = spec.resolve(branch, child("#", key, index))
                branch_types = types_of(as_schema(resolved), spec, depth + 1)
                if branch_types is None:
                    return None
                found |= branch_types
    elif depth < MAX_DEPTH and isinstance(schema.get("allOf"), list):
        known = [types_of(as_schema(spec.resolve(branch, "#")[0]), spec, depth + 1) for branch in schema["allOf"]]
        sets = [item for item in known if item is not None]
        if not sets:
            return None
        found = set(sets[0]).intersection(*sets[1:])
    elif isinstance(schema.get("enum"), list) and schema["enum"]:
        found = {json_type(value) for value in schema["enum"]}
    else:
        return None
    if schema.get("nullable") is True:
        # OpenAPI 3.0's way of saying null is allowed too.
        found.add("null")
    return frozenset(found)


def json_type(value: object) -> str:
    """The JSON Schema type of a parsed JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    kinds = {float: "number", str: "string", list: "array", dict: "object"}
    return next((name for kind, name in kinds.items() if isinstance(value, kind)), "string")


def _covers(wider: frozenset[str], narrower: frozenset[str]) -> bool:
    """Whether every type in `narrower` is admitted by `wider` (a number admits every integer)."""
    return all(item in wider or (item == "integer" and "number" in wider) for item in narrower)


def _named(types: frozenset[str] | None) -> str:
    return "any type" if types is None else ", ".join(sorted(types)) or "no type"


def compare_types(pair: Pair) -> list[Change]:
    """Types narrowed, widened or changed, and null gained or lost."""
    old_types = types_of(pair.old, pair.old_spec)
    new_types = types_of(pair.new, pair.new_spec)
    if old_types == new_types:
        return []
    message = f"type {_named(old_types)} -> {_named(new_types)}"
    changes = []
    if old_types is not None and new_types is not None and ("null" in old_types) != ("null" in new_types):
        became = "became-nullable" if "null" in new_types else "became-not-nullable"
        changes.append(
            Change(
                became,
                f"{'null allowed' if 'null' in new_types else 'null no longer allowed'} ({message})",
                pair.old_pointer,
                pair.new_pointer,
            )
        )
    both_unions = any(key in pair.old for key in UNIONS) and any(key in pair.new for key in UNIONS)
    if both_unions:
        # The branches say what changed (one-of-added, ...): the type set would repeat it.
        return changes
    old_values = None if old_types is None else old_types - {"null"}
    new_values = None if new_types is None else new_types - {"null"}
    if old_values == new_values:
        return changes
    if new_values is None or (old_values is not None and _covers(new_values, old_values)):
        kind = "list-of-types-widened"
    elif old_values is None or _covers(old_values, new_values):
        kind = "list-of-types-narrowed"
    else:
        kind = "type-changed"
    changes.append(Change(kind, message, pair.old_pointer, pair.new_pointer))
    return changes


def compare_enum(pair: Pair) -> list[Change]:
    """Enum values added or removed, or the enum itself appearing or going."""
    old_enum, new_enum = pair.old.get("enum"), pair.new.get("enum")
    if not isinstance(old_enum, list) and not isinstance(new_enum, list):
        return []
    if not isinstance(old_enum, list):
        return [
            Change(
                "became-enum",
                f"now limited to {len(new_enum or [])} values",
                pair.old_pointer,
                child(pair.new_pointer, "enum"),
            )
        ]
    if not isinstance(new_enum, list):
        return [
            Change(
                "became-not-enum",
                f"no longer limited to the {len(old_enum)} values of OLD",
                child(pair.old_pointer, "enum"),
                pair.new_pointer,
            )
        ]
    old_keys = {shown(value): value for value in old_enum}
    new_keys = {shown(value): index for index, value in enumerate(new_enum)}
    changes = [
        Change(
            "enum-value-added",
            f"added the enum value {key}",
            child(pair.old_pointer, "enum"),
            child(pair.new_pointer, "enum", index),
        )
        for key, index in new_keys.items()
        if key not in old_keys
    ]
    changes += [
        Change(
            "enum-value-removed",
            f"removed the enum value {key}",
            child(pair.old_pointer, "enum"),
            child(pair.new_pointer, "enum"),
        )
        for key in old_keys
        if key not in new_keys
    ]
    return changes


def compare_keyword_text(pair: Pair) -> list[Change]:
    """`format` and `pattern` set, unset or changed."""
    changes = []
    for keyword in ("format", "pattern"):
        old_value, new_value = pair.old.get(keyword), pair.new.get(keyword)
        if old_value == new_value:
            continue
        if old_value is None:
            kind, message = "added", f"{keyword} {shown(new_value)} set"
        elif new_value is None:
            kind, message = "removed", f"{keyword} {shown(old_value)} removed"
        else:
            kind, message = "changed", f"{keyword} {shown(old_value)} -> {shown(new_value)}"
        changes.append(
            Change(
                f"{keyword}-{kind}",
                message,
                _at(pair.old_pointer, pair.old, keyword),
                _at(pair.new_pointer, pair.new, keyword),
            )
        )
    return changes


def _at(pointer: str, schema: Schema, keyword: str) -> str:
    return child(pointer, keyword) if keyword in schema else pointer


def _number(value: object) -> float | None:
    # OpenAPI 3.0's boolean exclusiveMinimum is a modifier, not a bound.
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def compare_bounds(pair: Pair) -> list[Change]:
    """Every numeric, length, item-count and property-count bound set, unset, raised or lowered."""
    changes = []
    for keyword, name, _upper in BOUNDS:
        old_value, new_value = _number(pair.old.get(keyword)), _number(pair.new.get(keyword))
        if old_value == new_value:
            continue
        if old_value is None:
            kind = "set"
        elif new_value is None:
            kind = "unset"
        else:
            kind = "increased" if new_value > old_value else "decreased"
        message = f"{keyword} {pair.old.get(keyword, 'none')} -> {pair.new.get(keyword, 'none')}"
        changes.append(
            Change(
                f"{name}-{kind}",
                message,
                _at(pair.old_pointer, pair.old, keyword),
                _at(pair.new_pointer, pair.new, keyword),
            )
        )
    return changes


def _properties(schema: Schema) -> dict[str, Any]:
    properties = schema.get("properties")
    return properties if isinstance(properties, dict) else {}


def _required(schema: Schema) -> set[str]:
    required = schema.get("required")
    return {name for name in required if isinstance(name, str)} if isinstance(required, list) else set()


def compare_properties(pair: Pair) -> list[Change]:
    """Properties added or removed, and properties that became required or optional."""
    old_properties, new_properties = _properties(pair.old), _properties(pair.new)
    old_required, new_required = _required(pair.old), _required(pair.new)
    request = pair.side is Side.REQUEST
    changes = []
    for name in new_properties.keys() - old_properties.keys():
        required = name in new_required
        if request:
            rule = "new-required-request-property" if required else "new-optional-request-property"
        else:
            rule = "response-required-property-added" if required else "response-optional-property-added"
        changes.append(
            Change(
                "",
                f"added the {'required' if required else 'optional'} property {name}",
                _at(pair.old_pointer, pair.old, "properties"),
                child(pair.new_pointer, "properties", name),
                (name,),
                rule,
            )
        )
    for name in old_properties.keys() - new_properties.keys():
        required = name in old_required
        if request:
            rule = "request-property-removed"
        else:
            rule = "response-required-property-removed" if required else "response-optional-property-removed"
        changes.append(
            Change(
                "",
                f"removed the {'required' if required else 'optional'} property {name}",
                child(pair.old_pointer, "properties", name),
                _at(pair.new_pointer, pair.new, "properties"),
                (name,),
                rule,
            )
        )
    for name in old_properties.keys() & new_properties.keys():
        if (name in old_required) == (name in new_required):
            continue
        became = "required" if name in new_required else "optional"
        rule = f"{pair.side.value}-property-became-{became}"
        changes.append(
            Change(
                "",
                f"{name} became {became}",
                child(pair.old_pointer, "properties", name),
                child(pair.new_pointer, "properties", name),
                (name,),
                rule,
            )
        )
    return sorted(changes, key=lambda change: (change.path, change.rule or ""))


def additional_kind(schema: Schema) -> str:
    """What `additionalProperties` allows: `any` (absent or true), `none` (false) or `schema`."""
    value = schema.get("additionalProperties", True)
    if value is False:
        return "none"
    return "schema" if isinstance(value, dict) and value else "any"


def compare_additional(pair: Pair) -> list[Change]:
    """`additionalProperties` opened or closed (two schemas are compared by the walk, under `*`)."""
    if not (types_admit_object(pair.old) or types_admit_object(pair.new)):
        return []
    old_kind, new_kind = additional_kind(pair.old), additional_kind(pair.new)
    if old_kind == new_kind:
        return []
    order = {"none": 0, "schema": 1, "any": 2}
    kind = "additional-properties-widened" if order[new_kind] > order[old_kind] else "additional-properties-narrowed"
    return [
        Change(
            kind,
            f"additionalProperties {old_kind} -> {new_kind}",
            _at(pair.old_pointer, pair.old, "additionalProperties"),
            _at(pair.new_pointer, pair.new, "additionalProperties"),
        )
    ]


def types_admit_object(schema: Schema) -> bool:
    """Whether a node describes objects at all: only then does `additionalProperties` matter."""
    declared = schema.get("type")
    return declared == "object" or (isinstance(declared, list) and "object" in declared) or "properties" in schema


def is_union(schema: Schema) -> bool:
    """Whether a node is a oneOf or anyOf."""
    return any(isinstance(schema.get(key), list) for key in UNIONS)


def is_null(schema: Schema) -> bool:
    """Whether a branch is only `null` (how 3.1 documents write an optional object: oneOf [null, X])."""
    return schema.get("type") in ("null", ["null"])


Branch = tuple[Schema, str, object]


def branches(spec: Spec, schema: Schema, pointer: str, keyword: str) -> list[Branch]:
    """A union's branches other than `null`, resolved: (schema, pointer, the raw branch)."""
    found = []
    for index, raw in enumerate(schema.get(keyword) or []):
        resolved, resolved_pointer = spec.resolve(raw, child(pointer, keyword, index))
        node = as_schema(resolved)
        if not is_null(node):
            found.append((node, resolved_pointer, raw))
    return found


def _keys(spec: Spec) -> list[Callable[[Branch], str | None]]:
    def by_ref(branch: Branch) -> str | None:
        raw = branch[2]
        return raw["$ref"] if isinstance(raw, dict) and isinstance(raw.get("$ref"), str) else None

    def by_title(branch: Branch) -> str | None:
        title = branch[0].get("title")
        return title if isinstance(title, str) else None

    def by_types(branch: Branch) -> str | None:
        types = types_of(branch[0], spec)
        return None if types is None else ",".join(sorted(types))

    return [by_ref, by_title, by_types, lambda branch: shown(branch[0])]


def match(
    pair: Pair, old_branches: list[Branch], new_branches: list[Branch]
) -> tuple[list[tuple[Branch, Branch]], list[Branch], list[Branch]]:
    """Pair branches by `$ref`, then title, then types, then equal content: (matched, only in OLD, only in NEW)."""
    old_left, new_left = list(old_branches), list(new_branches)
    matched = []
    for key in _keys(pair.new_spec):
        for old_branch in list(old_left):
            old_key = key(old_branch)
            if old_key is None or sum(1 for item in old_left if key(item) == old_key) != 1:
                continue
            candidates = [item for item in new_left if key(item) == old_key]
            if len(candidates) == 1:
                matched.append((old_branch, candidates[0]))
                old_left.remove(old_branch)
                new_left.remove(candidates[0])
    return matched, old_left, new_left


def _label(branch: Branch) -> str:
    schema, pointer, raw = branch
    if isinstance(raw, dict) and isinstance(raw.get("$ref"), str):
        return str(raw["$ref"]).rsplit("/", 1)[-1]
    title = schema.get("title")
    return (
        str(title)
        if title
        else f"{_named(frozenset([schema['type']]) if isinstance(schema.get('type'), str) else None)} ({pointer})"
    )


def compare_unions(pair: Pair) -> list[Change]:
    """OneOf and anyOf branches added or removed, when both sides are unions of that kind."""
    changes = []
    for keyword, name in (("oneOf", "one-of"), ("anyOf", "any-of")):
        if not (isinstance(pair.old.get(keyword), list) and isinstance(pair.new.get(keyword), list)):
            continue
        _, removed, added = match(
            pair,
            branches(pair.old_spec, pair.old, pair.old_pointer, keyword),
            branches(pair.new_spec, pair.new, pair.new_pointer, keyword),
        )
        changes += [
            Change(
                f"{name}-added", f"{keyword} branch {_label(branch)} added", child(pair.old_pointer, keyword), branch[1]
            )
            for branch in added
        ]
        changes += [
            Change(
                f"{name}-removed",
                f"{keyword} branch {_label(branch)} removed",
                branch[1],
                child(pair.new_pointer, keyword),
            )
            for branch in removed
        ]
    return changes


NODE_RULES: tuple[Callable[[Pair], list[Change]], ...] = (
    compare_types,
    compare_enum,
    compare_keyword_text,
    compare_bounds,
    compare_properties,
    compare_additional,
    compare_unions,
)


def compare_node(pair: Pair) -> Iterator[Change]:
    """Every change at this node itself (not below it)."""
    if is_union(pair.old) != is_union(pair.new):
        # `X` became `oneOf [null, X]` (or back): only the types compare here; the walk compares X with the
        # branch that fits it, where the properties, enum and bounds are.
        yield from compare_types(pair)
        return
    for rule in NODE_RULES:
        yield from rule(pair)
