"""Values that validate against a response schema, drawn deterministically from a seed and the value's place."""

from __future__ import annotations

import hashlib
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

# Every seeded instant falls in 2026, after the seeded checkout sessions' January.
EPOCH = datetime(2026, 2, 1, tzinfo=UTC)
SPAN_SECONDS = 300 * 24 * 3600
ID_ALPHABET = string.ascii_letters + string.digits
INT_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
# Amounts and counts stay small and non-negative unless a schema says otherwise.
DEFAULT_INT_RANGE = (0, 100_000)
LOCAL_REF = "#/components/schemas/"
# Below this many levels, recursive schemas take their shortest way out.
MAX_DEPTH = 8
WORDS = ("amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper")
Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Pins:
    """Values some properties must take: `top` in the outermost object only, `fixed` at any depth."""

    fixed: Mapping[str, object]
    top: Mapping[str, object]

    @property
    def inner(self) -> Pins:
        """The pins below the outermost object."""
        return Pins(self.fixed, {})


class Draw:
    """Numbers drawn from a hash of the seed and a place, so a value depends on nothing generated before it."""

    def __init__(self, seed: str) -> None:
        self._seed = seed.encode()
        self._count = 0

    def below(self, bound: int) -> int:
        """A number from 0 to bound - 1."""
        self._count += 1
        digest = hashlib.blake2b(b"%s#%d" % (self._seed, self._count), digest_size=8).digest()
        return int.from_bytes(digest) % max(bound, 1)

    def chance(self, percent: int) -> bool:
        """True about `percent` times in a hundred."""
        return self.below(100) < percent

    def token(self, length: int) -> str:
        """Letters and digits (at most 64), from one hash."""
        self._count += 1
        digest = hashlib.blake2b(b"%s#%d" % (self._seed, self._count), digest_size=min(length, 64)).digest()
        return "".join(ID_ALPHABET[byte % len(ID_ALPHABET)] for byte in digest)


def seeded_instant(draw: Draw) -> str:
    """An RFC 3339 instant in UTC, to the second."""
    moment = EPOCH + timedelta(seconds=draw.below(SPAN_SECONDS))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Generator:
    """Makes values for the schemas of one document, each drawn from the seed and its place in the value."""

    def __init__(self, schemas: Mapping[str, Schema], seed: str) -> None:
        self.schemas = schemas
        self.seed = seed

    def resolve(self, schema: Schema) -> Schema:
        """The schema a local `$ref` names (refs to refs followed)."""
        while "$ref" in schema:
            schema = self.schemas[str(schema["$ref"])[len(LOCAL_REF) :]]
        return schema

    def value(
        self, schema: Schema, place: str, fixed: Mapping[str, object] = {}, top: Mapping[str, object] = {}
    ) -> object:
        """A valid value for `schema`: `top` fixes properties of the outermost object, `fixed` those at any depth."""
        return self._value(schema, place, Pins(fixed, top))

    def _value(self, schema: Schema, place: str, pins: Pins) -> object:
        schema = self.resolve(schema)
        draw = Draw(f"{self.seed}/{place}")
        if "allOf" in schema:
            return self._object(self._merged(schema), place, draw, pins)
        if "anyOf" in schema:
            return self._value(self._branch(schema["anyOf"], draw, deep=place.count(".") > MAX_DEPTH), place, pins)
        if "oneOf" in schema:
            return self._one_of(schema["oneOf"], place, draw, pins)
        if "enum" in schema:
            return schema["enum"][draw.below(len(schema["enum"]))]
        kinds = schema.get("type", "object" if "properties" in schema else "string")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        if "null" in kinds and (len(kinds) == 1 or draw.chance(25)):
            return None
        kind = next(kind for kind in kinds if kind != "null")
        return self._typed(kind, schema, place, draw, pins)

    def _typed(self, kind: str, schema: Schema, place: str, draw: Draw, pins: Pins) -> object:
        if kind == "object":
            return self._object(schema, place, draw, pins)
        if kind == "array":
            low, high = schema.get("minItems", 1), schema.get("maxItems", 2)
            count = low if place.count(".") > MAX_DEPTH else low + draw.below(max(min(high, 2) - low, 0) + 1)
            return [self._value(schema.get("items", {}), f"{place}.{index}", pins.inner) for index in range(count)]
        if kind == "integer":
            return self._integer(schema, draw)
        if kind == "number":
            # Never a whole number: in Dodo's Metadata a whole number matches both `integer` and `number`,
            # so it validates against neither branch of the oneOf.
            return draw.below(10_000) + (1 + draw.below(3)) / 4
        if kind == "boolean":
            return draw.chance(50)
        return self._string(schema, place.rsplit(".", 1)[-1], draw)

    def _object(self, schema: Schema, place: str, draw: Draw, pins: Pins) -> dict[str, object]:
        required = set(schema.get("required", ()))
        body: dict[str, object] = {}
        for name, prop in sorted(schema.get("properties", {}).items()):
            pinned = pins.top.get(name, pins.fixed.get(name, _UNSET))
            if pinned is not _UNSET and self.admits(prop, pinned):
                body[name] = pinned
            elif name in required or draw.chance(75):
                body[name] = self._value(prop, f"{place}.{name}", pins.inner)
        extra = schema.get("additionalProperties")
        if not schema.get("properties") and isinstance(extra, dict):
            for index in range(1 + draw.below(3)):
                key = f"{WORDS[draw.below(len(WORDS))]}_{index}"
                body[key] = self._value(extra, f"{place}.{key}", pins.inner)
        return body

    def _merged(self, schema: Schema) -> Schema:
        """One object schema with the properties and requirements of every allOf part."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for part in (self.resolve(part) for part in schema["allOf"]):
            inner = self._merged(part) if "allOf" in part else part
            properties.update(inner.get("properties", {}))
            required.extend(inner.get("required", ()))
        return {"type": "object", "properties": properties, "required": required}

    def _one_of(self, branches: list[Schema], place: str, draw: Draw, pins: Pins) -> object:
        """A value of one branch that no other branch matches, trying the branches from a drawn one on."""
        chosen = self._branch(branches, draw, deep=place.count(".") > MAX_DEPTH)
        if chosen.get("type") == "null":
            return None
        resolved = [self.resolve(branch) for branch in branches]
        start = resolved.index(chosen)
        value: object = None
        for branch in resolved[start:] + resolved[:start]:
            if branch.get("type") == "null" or (branch.get("type") == "integer" and chosen.get("type") == "number"):
                continue
            value = self._value(branch, place, pins)
            if not any(self.matches(other, value) for other in resolved if other is not branch):
                return value
        return value

    def _branch(self, branches: list[Schema], draw: Draw, *, deep: bool = False) -> Schema:
        """A drawn branch; never `integer` beside `number`, which every whole number matches too."""
        resolved = [self.resolve(branch) for branch in branches]
        has_number = any(branch.get("type") == "number" for branch in resolved)
        usable = [branch for branch in resolved if not (has_number and branch.get("type") == "integer")]
        real = [branch for branch in usable if branch.get("type") != "null"]
        # Null now and then, where it is a branch: both kinds of answer are seen.
        if len(real) < len(usable) and (deep or draw.chance(25)):
            return {"type": "null"}
        # Deep down, the first branch: recursive schemas (a meter filter's nested clauses) list the flat one first.
        return real[0] if deep else real[draw.below(len(real))]

    def matches(self, schema: Schema, value: object) -> bool:  # noqa: PLR0911 - one return per kind of keyword
        """Whether the value plainly validates against the schema: types, enums, required and declared properties."""
        schema = self.resolve(schema)
        if "allOf" in schema:
            return all(self.matches(part, value) for part in schema["allOf"])
        if "oneOf" in schema or "anyOf" in schema:
            return any(self.matches(branch, value) for branch in schema.get("oneOf", schema.get("anyOf", ())))
        if not self.admits(schema, value):
            return False
        if isinstance(value, dict):
            properties = schema.get("properties", {})
            if not set(schema.get("required", ())) <= value.keys():
                return False
            if schema.get("additionalProperties") is False and not value.keys() <= properties.keys():
                return False
            return all(self.matches(properties[name], item) for name, item in value.items() if name in properties)
        if isinstance(value, list):
            return all(self.matches(schema.get("items", {}), item) for item in value)
        return True

    def _integer(self, schema: Schema, draw: Draw) -> int:
        # Within the format's range, the schema's bounds, and (where those allow) the small default range.
        low, high = INT_BOUNDS.get(str(schema.get("format")), INT_BOUNDS["int64"])
        floor = max(int(schema.get("minimum", DEFAULT_INT_RANGE[0])), low)
        ceiling = min(int(schema.get("maximum", DEFAULT_INT_RANGE[1])), high)
        return floor + draw.below(max(ceiling - floor, 0) + 1)

    def _string(self, schema: Schema, name: str, draw: Draw) -> str:
        fmt = schema.get("format")
        if fmt == "date-time":
            return seeded_instant(draw)
        if fmt == "date":
            return seeded_instant(draw)[:10]
        if fmt == "uuid":
            return str(uuid.UUID(int=draw.below(2**64) << 64 | draw.below(2**64), version=4))
        if fmt == "email" or "email" in name:
            return f"{WORDS[draw.below(len(WORDS))]}.{draw.below(1000)}@example.com"
        if fmt in ("uri", "url") or any(word in name for word in ("url", "image", "link")):
            return f"https://sandbox.example/{name}/{draw.token(12)}"
        text = _named_text(name, draw)
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        text = text.ljust(low, "x")
        return text if high is None else text[:high]

    def admits(self, schema: Schema, value: object) -> bool:
        """Whether `value` is plainly one the schema allows: by enum, by type, or through a branch."""
        schema = self.resolve(schema)
        if "oneOf" in schema or "anyOf" in schema:
            return any(self.admits(branch, value) for branch in schema.get("oneOf", schema.get("anyOf", ())))
        if "enum" in schema:
            return value in schema["enum"]
        if "allOf" in schema:
            return isinstance(value, dict)
        kinds = schema.get("type")
        if kinds is None:
            return True
        kinds = [kinds] if isinstance(kinds, str) else kinds
        return any(_is_type(value, kind) for kind in kinds)


def _named_text(name: str, draw: Draw) -> str:  # noqa: PLR0911 - one return per kind of field
    """Text that reads like the field it fills."""
    if name == "id" or name.endswith("_id"):
        stem = name.removesuffix("_id").replace("_", "")[:4] or "obj"
        return f"{stem}_{draw.token(16)}"
    if "currency" in name:
        return ("USD", "EUR", "INR")[draw.below(3)]
    if "country" in name:
        return ("US", "IN", "DE")[draw.below(3)]
    if "phone" in name:
        return f"+1555555{draw.below(10_000):04d}"
    if any(word in name for word in ("amount", "balance", "overage", "price")):
        return f"{draw.below(10_000)}.{draw.below(100):02d}"
    if name == "secret":
        return f"whsec_{draw.token(32)}"
    if name == "key":
        return "-".join(draw.token(4).upper() for _ in range(4))
    return f"{name.replace('_', ' ')} {WORDS[draw.below(len(WORDS))]}"


def _is_type(value: object, kind: str) -> bool:
    checks: dict[str, bool] = {
        "null": value is None,
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }
    return checks.get(kind, False)


class _Unset:
    """No pinned value for a property."""


_UNSET = _Unset()
