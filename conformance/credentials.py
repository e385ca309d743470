"""The key and all that is made of it: the probes a server must refuse, and every secret no output may hold.

The probes are data: near misses of the key's characters and malformed headers (data/key_probes.json), near
misses of its structure (data/key_structure.json). The transport sends them; the redactor and the cassettes
scrub the same list, so what is sent and what is hidden cannot drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from conformance.model import Credential
from conformance.redaction import REDACTED

if TYPE_CHECKING:
    from collections.abc import Callable

# A key no server can have issued; sent to prove wrong keys are rejected.
WRONG_KEY = "conformance_wrong_key_0000000000000000"
# What a replay sends after the recorded key's prefix: the answers come from the cassettes, so it is no secret.
REPLAY_KEY = "replay-key-not-a-secret"
# A secret shorter than this is no secret: the key has no usable structure.
_MIN_SECRET = 8


@dataclass(frozen=True)
class KeyProbe:
    """An Authorization header that is not the valid key, and why it is sent."""

    credential: Credential
    why: str
    header: str = ""
    # How the header may be shown: a near miss of the key is a near copy of a secret.
    shown: str = ""


@dataclass(frozen=True)
class Credentials:
    """The valid key, the probes made from it, and the secrets they are."""

    key: str

    @classmethod
    def replayed(cls, recorded_prefix: str) -> Credentials:
        """What a replay sends: a key of the recorded key's shape, whose structural near misses were recorded."""
        return cls(recorded_prefix + REPLAY_KEY)

    @property
    def prefix(self) -> str:
        """The key's prefix of public words, which a recording keeps (see key_prefix)."""
        return key_prefix(self.key)

    def probes(self) -> list[KeyProbe]:
        """Authorization headers a server must refuse: near misses of the valid key, and no usable key at all."""
        key = self.key
        near_misses = [*_character_near_misses(key), *structural_near_misses(key)]
        # One probe a near miss; two rules that make the same one send it once, with the later rule's reason.
        probes = [
            KeyProbe(Credential.NEAR_MISS, why, f"Bearer {near}", f"Bearer {REDACTED} ({why.split(' (')[0]})")
            for near, why in dict(near_misses).items()
            if near != key
        ]
        for rule in _probe_data()["malformed"]:
            header = str(rule["header"]).format(key=key)
            shown = header.replace(key, REDACTED) if key in header else header
            probes.append(KeyProbe(Credential.MALFORMED, str(rule["why"]), header, shown))
        return probes

    def near_misses(self) -> list[str]:
        """Every near copy of the key the probes send: outputs must redact them like the key."""
        return [
            probe.header.removeprefix("Bearer ") for probe in self.probes() if probe.credential is Credential.NEAR_MISS
        ]

    def secrets(self) -> list[str]:
        """The key and its near misses: what the redactor and the cassettes scrub."""
        return [self.key, *self.near_misses()]

    def authorization(self, credential: Credential, probe: KeyProbe | None = None) -> tuple[str, str] | None:
        """The Authorization header a request carries, as sent and as it may be shown; None: it carries none."""
        if probe is not None:
            return probe.header, probe.shown
        if credential is Credential.VALID:
            return f"Bearer {self.key}", f"Bearer {REDACTED}"
        if credential is Credential.WRONG:
            return f"Bearer {WRONG_KEY}", f"Bearer {WRONG_KEY}"
        return None


def key_prefix(key: str) -> str:
    """The key's prefix of public words (data/key_structure.json): a kind ('sk_'), a mode ('test_'), or both.

    Only those words: a prefix of any letters could be part of the secret. It is not secret, so a recording
    keeps it, and a replay probes a key of the same shape.
    """
    data = _key_structure()
    segments = key.split("_")
    prefix = []
    if segments[0].lower() in data["kinds"] and len(segments) > 1:
        prefix.append(segments.pop(0))
    if segments[0].lower() in data["modes"] and len(segments) > 1:
        prefix.append(segments.pop(0))
    text = "".join(f"{segment}_" for segment in prefix)
    return text if len(key) - len(text) >= _MIN_SECRET else ""


def key_parts(key: str) -> tuple[list[str], str] | None:
    """The key's prefix segments (without their '_') and its secret; None for a key without such a prefix."""
    prefix = key_prefix(key)
    return (prefix.split("_")[:-1], key[len(prefix) :]) if prefix else None


def structural_near_misses(key: str) -> list[tuple[str, str]]:
    """Near misses of the key made from its structure (data/key_structure.json says why each), with their reasons."""
    data = _key_structure()
    parts = key_parts(key)
    made = []
    for rule in data["rules"]:
        near = _apply_structure_rule(rule, key, parts, data)
        if near is not None and near != key:
            made.append((near, rule["why"]))
    return made


def _character_near_misses(key: str) -> list[tuple[str, str]]:
    """Near misses of the key made from its characters (data/key_probes.json says why each), with their reasons."""
    made = []
    for rule in _probe_data()["near_misses"]:
        change = _CHARACTER_RULES.get(rule["op"])
        if change is None:
            message = f"unknown key rule {rule['op']!r} in data/key_probes.json"
            raise ValueError(message)
        made.append((change(key, rule.get("arg")), str(rule["why"])))
    return made


def _other(character: str, choices: list[str]) -> str:
    """The first of `choices` that is not `character`: a change that cannot give the key back."""
    return next(choice for choice in choices if choice != character)


def _middle(key: str) -> int:
    return len(key) // 2


_CHARACTER_RULES: dict[str, Callable[[str, Any], str]] = {
    "drop_last": lambda key, _: key[:-1],
    "append": lambda key, arg: key + str(arg),
    "change_last": lambda key, arg: key[:-1] + _other(key[-1], arg),
    "change_middle": lambda key, arg: key[: _middle(key)] + _other(key[_middle(key)], arg) + key[_middle(key) + 1 :],
    "first_half": lambda key, _: key[: _middle(key)],
    "swapcase": lambda key, _: key.swapcase(),
    "replace_last": lambda key, arg: key[:-1] + str(arg),
}


def _apply_structure_rule(
    rule: dict[str, Any], key: str, parts: tuple[list[str], str] | None, data: dict[str, Any]
) -> str | None:
    op = rule["op"]
    if op == "append":
        return key + str(rule["arg"])
    if parts is None:
        return None
    segments, secret = parts
    if op == "secret_only":
        return secret
    if op == "prefix_doubled":
        return key[: len(key) - len(secret)] * 2 + secret
    if op == "other_mode":
        swapped = [data["modes"].get(segment.lower(), segment) for segment in segments]
        return None if swapped == segments else "".join(f"{segment}_" for segment in swapped) + secret
    if op == "other_kind":
        kind = data["kinds"].get(segments[0].lower())
        return None if kind is None else "".join(f"{segment}_" for segment in [kind, *segments[1:]]) + secret
    message = f"unknown key rule {op!r} in data/key_structure.json"
    raise ValueError(message)


@cache
def _key_structure() -> dict[str, Any]:
    return _data("key_structure.json")


@cache
def _probe_data() -> dict[str, Any]:
    return _data("key_probes.json")


def _data(name: str) -> dict[str, Any]:
    return dict(json.loads(resources.files("conformance.data").joinpath(name).read_text(encoding="utf-8")))
