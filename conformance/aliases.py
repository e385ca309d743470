"""Aliases of known ids: ids that are not a session's id, but that a lenient lookup resolves to it.

The rules are data (data/aliases.json), each with the reason it is sent; this module only applies them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

# The known ids that get every rule; the others get only the rules marked every_id.
FULL_FAMILY_IDS = 2


@dataclass(frozen=True)
class Alias:
    """An id to send instead of a known one, and why."""

    id: str
    of: str
    why: str


@cache
def _rules() -> tuple[dict[str, Any], ...]:
    text = resources.files("conformance.data").joinpath("aliases.json").read_text(encoding="utf-8")
    return tuple(json.loads(text)["rules"])


def aliases(known_ids: tuple[str, ...]) -> tuple[Alias, ...]:
    """Every alias of the known ids, none of them a known id, each once."""
    made: dict[str, Alias] = {}
    for position, known in enumerate(known_ids):
        for rule in _rules():
            if position >= FULL_FAMILY_IDS and not rule.get("every_id", False):
                continue
            alias = apply(rule, known)
            if alias is not None and alias != known and alias not in known_ids and alias not in made:
                made[alias] = Alias(alias, known, f"{known}: {rule['why']}")
    return tuple(made.values())


def apply(rule: dict[str, Any], known: str) -> str | None:
    """The alias a rule makes of an id; None when the id has nothing the rule could change."""
    op = rule["op"]
    if op not in _OPERATIONS:
        message = f"unknown alias rule {op!r} in data/aliases.json"
        raise ValueError(message)
    return _OPERATIONS[op](known, rule)


def _replace_last(known: str, rule: dict[str, Any]) -> str | None:
    return known[:-1] + rule["arg"] if known[-1] != rule["arg"] else None


def _truncate_then(known: str, rule: dict[str, Any]) -> str | None:
    return known[: rule["arg"]] + rule["suffix"] if len(known) > rule["arg"] else None


def _percent_one(known: str, rule: dict[str, Any]) -> str | None:
    index = _letter_or_digit_at(known, rule["arg"])
    return None if index is None else f"{known[:index]}%{ord(known[index]):02X}{known[index + 1 :]}"


def _fullwidth_one(known: str, rule: dict[str, Any]) -> str | None:
    # Full-width forms of ASCII letters and digits are U+FF10..U+FF5A, 0xFEE0 above their ASCII ones.
    index = _letter_or_digit_at(known, rule["arg"])
    return None if index is None else f"{known[:index]}{chr(ord(known[index]) + 0xFEE0)}{known[index + 1 :]}"


def _swap_adjacent(known: str, rule: dict[str, Any]) -> str | None:
    # The first two different neighbours from the rule's place on, else the last before it: giving up on two
    # equal ones made the number of requests depend on the characters of an id the server picked (a created
    # session's), so that two runs with the same seed sent different numbers of requests.
    begin = rule["arg"] if rule["arg"] >= 0 else max(len(known) + rule["arg"], 0)
    pairs = [index for index in range(len(known) - 1) if _swappable(known, index)]
    index = next((index for index in pairs if index >= begin), pairs[-1] if pairs else None)
    if index is None:
        return None
    return known[:index] + known[index + 1] + known[index] + known[index + 2 :]


def _swappable(known: str, index: int) -> bool:
    return known[index].isascii() and known[index].isalnum() and known[index + 1] != known[index]


_OPERATIONS: dict[str, Callable[[str, dict[str, Any]], str | None]] = {
    "append": lambda known, rule: known + rule["arg"],
    "prepend": lambda known, rule: rule["arg"] + known,
    "drop_last": lambda known, _: known[:-1],
    "replace_last": _replace_last,
    "truncate_then": _truncate_then,
    "swapcase": lambda known, _: known.swapcase(),
    "upper": lambda known, _: known.upper(),
    "lower": lambda known, _: known.lower(),
    "percent_one": _percent_one,
    "fullwidth_one": _fullwidth_one,
    "swap_adjacent": _swap_adjacent,
}


def _letter_or_digit_at(known: str, start: int) -> int | None:
    """The first ASCII letter or digit at or after `start` (negative counts from the end)."""
    begin = start if start >= 0 else max(len(known) + start, 0)
    return next(
        (index for index in range(begin, len(known)) if known[index].isascii() and known[index].isalnum()), None
    )
