"""A schema wrong in itself: found by trying ordinary values against it with jsonschema, never by its name.

Three defects: a `oneOf` whose branches overlap, so a value two branches describe is rejected (the
Dodo `Metadata` since 1.105.23: `integer` and `number` both accept 5, so no integer validates); a schema
no value of any JSON type passes; and a schema that rejects its own enum value, default or example.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from conformance.diff.catalogue import RULES
from conformance.diff.load import child
from conformance.diff.model import Finding, Level
from conformance.diff.rules import UNIONS, as_schema, json_type, shown, types_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conformance.diff.load import Spec

# One ordinary value of each JSON type (an integer and a float apart: JSON Schema tells them apart).
PROBES: tuple[Any, ...] = (5, 5.5, "x", True, None, {}, [])
_URI = "urn:conformance:diff"
# Keywords whose values are schemas, and those whose values are maps or lists of schemas.
_ONE = ("items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else")
_MAP = ("properties", "patternProperties", "$defs", "definitions")
_LIST = ("oneOf", "anyOf", "allOf", "prefixItems")
# The most levels `_shape` inlines: deeper than any real union, and a loop of unions ends.
MAX_DEPTH = 8


@dataclass(frozen=True)
class Defect:
    """A schema wrong in itself, at one pointer of one document."""

    rule: str
    pointer: str
    message: str


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    names = {str: "a string", type(None): "null", dict: "an empty object", list: "an empty array"}
    return names.get(type(value), "a value")


class _Prober:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        resource = Resource.from_contents(spec.root, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(_URI, resource)
        self._validators: dict[str, Draft202012Validator] = {}

    def accepts(self, pointer: str, value: object) -> bool:
        validator = self._validators.get(pointer)
        if validator is None:
            validator = Draft202012Validator({"$ref": f"{_URI}{pointer}"}, registry=self.registry)
            self._validators[pointer] = validator
        return bool(validator.is_valid(value))

    def schemas(self) -> Iterator[tuple[dict[str, Any], str]]:
        """Every schema node of the document, each once: components, and those inline in operations."""
        roots = [
            child("#/components/schemas", name)
            for name in _mapping(_mapping(self.spec.root.get("components")).get("schemas"))
        ]
        roots += list(_inline_roots(self.spec.root, "#"))
        seen: set[str] = set()
        stack = list(reversed(roots))
        while stack:
            pointer = stack.pop()
            node, pointer = self.spec.resolve(self.spec.at(pointer), pointer)
            if pointer in seen or not isinstance(node, dict):
                continue
            seen.add(pointer)
            yield node, pointer
            stack.extend(child(pointer, key) for key in _ONE if isinstance(node.get(key), dict))
            for key in _MAP:
                stack.extend(child(pointer, key, name) for name in _mapping(node.get(key)))
            for key in _LIST:
                if isinstance(node.get(key), list):
                    stack.extend(child(pointer, key, index) for index in range(len(node[key])))

    def defects(self) -> Iterator[Defect]:
        for node, pointer in self.schemas():
            if isinstance(node.get("oneOf"), list):
                yield from self._overlap(node, pointer)
            if any(isinstance(node.get(key), list) for key in (*UNIONS, "allOf")):
                yield from self._unsatisfiable(node, pointer)
            yield from self._own_values(node, pointer)

    def _overlap(self, node: dict[str, Any], pointer: str) -> Iterator[Defect]:
        branches = [child(pointer, "oneOf", index) for index in range(len(node["oneOf"]))]
        types = [
            types_of(as_schema(self.spec.resolve(self.spec.at(branch), branch)[0]), self.spec) for branch in branches
        ]
        for value in PROBES:
            # Only a value at least two branches admit by type can be accepted by two (saves most of the time:
            # the usual oneOf is [null, an object]).
            admitting = [branch for branch, admitted in zip(branches, types, strict=True) if _admits(admitted, value)]
            if len(admitting) < 2:
                continue
            accepting = [branch for branch in admitting if self.accepts(branch, value)]
            if len(accepting) >= 2:
                names = " and ".join(self._name(branch) for branch in accepting)
                quantity = "both" if len(accepting) == 2 else "all"
                yield Defect(
                    "schema-one-of-overlap",
                    pointer,
                    f"oneOf branches {names} {quantity} accept {shown(value)} ({_kind(value)}), so the oneOf "
                    f"rejects it and every value they share",
                )

    def _name(self, branch: str) -> str:
        raw = self.spec.at(branch)
        if isinstance(raw, dict) and isinstance(raw.get("$ref"), str):
            return str(raw["$ref"]).rsplit("/", 1)[-1]
        node, _ = self.spec.resolve(raw, branch)
        title = node.get("title") if isinstance(node, dict) else None
        return f"{title!r}" if title else f"#{branch.rsplit('/', 1)[-1]}"

    def _unsatisfiable(self, node: dict[str, Any], pointer: str) -> Iterator[Defect]:
        shape = self._shape(node, 0)
        validator = Draft202012Validator(shape)
        if not any(validator.is_valid(value) for value in PROBES):
            yield Defect(
                "schema-unsatisfiable",
                pointer,
                "no value of any JSON type passes its types and branches (tried "
                f"{', '.join(shown(value) for value in PROBES)})",
            )

    def _shape(self, node: object, depth: int) -> dict[str, Any] | bool:
        """The node's types and branches only, inlined; every value constraint dropped.

        It admits at least what the node admits, so a probe it refuses for its type is refused by the
        node too: when it admits none of the seven, no JSON value passes the node at all.
        """
        if depth > MAX_DEPTH or not isinstance(node, dict):
            return node if isinstance(node, bool) else True
        node, _ = self.spec.resolve(node, "#")
        node = as_schema(node)
        shape: dict[str, Any] = {}
        if isinstance(node.get("type"), str | list):
            shape["type"] = node["type"]
            if node.get("nullable") is True:
                shape["type"] = [*([node["type"]] if isinstance(node["type"], str) else node["type"]), "null"]
        if node.get("enum") == []:
            return False
        conjuncts: list[dict[str, Any] | bool] = [
            {"anyOf": [self._shape(branch, depth + 1) for branch in node[key]]}
            for key in UNIONS
            if isinstance(node.get(key), list) and node[key]
        ]
        if isinstance(node.get("allOf"), list):
            conjuncts += [self._shape(branch, depth + 1) for branch in node["allOf"]]
        if conjuncts:
            shape["allOf"] = conjuncts
        return shape

    def _own_values(self, node: dict[str, Any], pointer: str) -> Iterator[Defect]:
        values: list[tuple[str, Any]] = []
        if isinstance(node.get("enum"), list):
            values += [(child(pointer, "enum", index), value) for index, value in enumerate(node["enum"])]
        for key in ("default", "example", "const"):
            if key in node:
                values.append((child(pointer, key), node[key]))
        if isinstance(node.get("examples"), list):
            values += [(child(pointer, "examples", index), value) for index, value in enumerate(node["examples"])]
        for where, value in values:
            if not self.accepts(pointer, value):
                keyword = where.rsplit("/", 2)[-2] if where.rsplit("/", 1)[-1].isdigit() else where.rsplit("/", 1)[-1]
                yield Defect(
                    "schema-rejects-own-example",
                    where,
                    f"the schema rejects its own {keyword} value {shown(value)[:80]}",
                )


def _mapping(node: object) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _admits(types: frozenset[str] | None, value: object) -> bool:
    kind = json_type(value)
    return types is None or kind in types or (kind == "integer" and "number" in types)


def _inline_roots(node: object, pointer: str) -> Iterator[str]:
    """Every `schema` under paths and webhooks (parameters, bodies, responses, headers)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "components" and pointer == "#":
                continue
            if key == "schema" and isinstance(value, dict | bool):
                yield child(pointer, key)
            else:
                yield from _inline_roots(value, child(pointer, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _inline_roots(value, child(pointer, index))


def defects(spec: Spec) -> list[Defect]:
    """Every schema of a document that is wrong in itself."""
    return list(_Prober(spec).defects())


def _users(spec: Spec, pointer: str) -> list[str]:
    """The component schemas whose own text refers to the component the pointer is in."""
    parts = pointer.split("/")
    if parts[:3] != ["#", "components", "schemas"] or len(parts) < 4:
        return []
    target = "/".join(parts[:4])
    users = []
    for name, schema in _mapping(_mapping(spec.root.get("components")).get("schemas")).items():
        if f'"{target}"' in shown(schema) and child("#/components/schemas", name) != target:
            users.append(name)
    return users


def findings(old: Spec, new: Spec) -> list[Finding]:
    """NEW's defects: at their rule's level when NEW brings them, one level lower when OLD had them already."""
    before = {(defect.rule, defect.pointer) for defect in defects(old)}
    found = []
    for defect in defects(new):
        rule = RULES[defect.rule]
        carried = (defect.rule, defect.pointer) in before
        level = (
            {Level.ERROR: Level.WARNING, Level.WARNING: Level.INFO}.get(rule.level, rule.level)
            if carried
            else rule.level
        )
        users = _users(new, defect.pointer)
        message = defect.message + (" (OLD had it too)" if carried else " (not in OLD)")
        if users:
            more = f", and {len(users) - 5} more" if len(users) > 5 else ""
            message += f"; used by {len(users)} schemas: {', '.join(users[:5])}{more}"
        found.append(
            Finding(
                rule=defect.rule,
                level=level,
                side=rule.side,
                message=message,
                why=rule.reason,
                where="schema",
                old_pointer=defect.pointer if carried else None,
                new_pointer=defect.pointer,
            )
        )
    return found
