"""The data every module shares: what was sent, what came back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

# How much of a body a finding quotes.
EXCERPT_CHARS = 300


class Credential(StrEnum):
    """Which key a request carried."""

    VALID = "valid key"
    MISSING = "no key"
    WRONG = "wrong key"
    # Derived from the valid key (a prefix of it, the key with another case...): never shown or recorded.
    NEAR_MISS = "near miss of the key"
    # No usable bearer key at all: an empty token, another scheme.
    MALFORMED = "malformed Authorization"


class Purpose(StrEnum):
    """Why a request was sent; checks use it to know what to expect."""

    KNOWN = "known session"
    REREAD = "second read of a known session"
    # A known session read while others are read at the same moment.
    CONCURRENT = "known session read concurrently"
    UNKNOWN = "invented id"
    EDGE = "edge-case id"
    # An id that is not a known session's id but looks like one to a lenient lookup.
    ALIAS = "alias of a known id"
    # A path after /checkouts/ made of dot segments, slashes and their escapes (data/path_ids.json).
    PATH = "id that is path syntax"
    GENERATED = "generated id"
    # POST /checkouts: the session the gate creates for itself (--create-session).
    CREATE = "session created by the gate"
    # That session read again until it appears, within a short bound; a 404 then is a lag, not yet a failure.
    FRESH = "session just created"
    # HEAD of a known session without a key: HEAD is GET without the body (RFC 9110 section 9.3.2), so its
    # status tells who exists and what they hold just as well, and an auth layer that checks only GET lets it by.
    HEAD = "known session asked with HEAD"


@dataclass(frozen=True)
class SentRequest:
    """A request as sent, with any secret already redacted."""

    method: str
    url: str
    headers: dict[str, str]
    # The body sent, for the one request that has one (creating a session).
    body: bytes = b""


@dataclass(frozen=True)
class ReceivedResponse:
    """A response as received; `body` holds at most the transport's cap."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float
    truncated: bool = False
    # How the message broke HTTP/1.1's framing or field syntax, as its head was parsed off the wire (empty when
    # replayed: a recording keeps the parsed fields, not the bytes).
    framing: tuple[str, ...] = ()
    # Every Content-Type field of the head as received, in order; None when not seen (replayed).
    content_types: tuple[str, ...] | None = None

    def header(self, name: str) -> str | None:
        """Return a header's value, case-insensitively."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    @property
    def media_type(self) -> str | None:
        """The Content-Type without parameters, lowercased."""
        content_type = self.header("content-type")
        return content_type.split(";", 1)[0].strip().lower() if content_type is not None else None

    @cached_property
    def parsed(self) -> tuple[bool, Any]:
        """Return (True, value) when the body is JSON as RFC 8259 defines it between systems, else (False, why).

        Stricter than Python's json.loads, which takes a byte order mark, UTF-16 and UTF-32,
        NaN and Infinity, and silently keeps the last of two values for one name.
        """
        if self.truncated:
            return False, f"the body is larger than the {len(self.body)}-byte cap"
        try:
            return True, strict_json(self.body)
        except NotJsonError as exc:
            return False, str(exc)

    def text_field(self, name: str) -> str | None:
        """The non-empty string under `name` in a body that is a JSON object; None for anything else."""
        ok, body = self.parsed
        value = body.get(name) if ok and isinstance(body, dict) else None
        return value if isinstance(value, str) and value else None

    def excerpt(self) -> str:
        """A printable start of the body for findings."""
        text = self.body[:EXCERPT_CHARS].decode("utf-8", errors="replace")
        suffix = "..." if len(self.body) > EXCERPT_CHARS or self.truncated else ""
        return text + suffix


@dataclass(frozen=True)
class Exchange:
    """One request and its outcome: a response, or why none came."""

    purpose: Purpose
    credential: Credential
    checkout_id: str
    request: SentRequest
    response: ReceivedResponse | None
    # Set when no usable response came: a timeout, a dropped connection, endless 429s.
    transport_error: str | None = None
    # The target kept answering 429 past the retry budget: nothing about it can be judged.
    rate_limited: bool = False
    # The earlier read of the same session, for checks that compare two reads.
    previous: Exchange | None = None
    # Why an edge-case id, an alias or a key near miss was sent.
    why: str | None = None
    # The Schemathesis case that produced a generated request.
    case: Any = field(default=None, compare=False, repr=False)
    # What checks derive from the exchange once and share (a parsed form, a converted response).
    memo: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def label(self) -> str:
        """A short description for reports."""
        status = self.response.status if self.response is not None else "no response"
        return f"{self.request.method} {self.request.url} ({self.purpose}, {self.credential}) -> {status}"


class NotJsonError(ValueError):
    """A body that is not JSON as RFC 8259 requires between systems; the message says why."""


_UTF_16_32_MARKS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def strict_json(body: bytes) -> Any:  # noqa: ANN401 - any JSON value
    """Parse a body as RFC 8259 JSON exchanged between systems; raise NotJsonError naming what is wrong."""
    if body.startswith(b"\xef\xbb\xbf"):
        raise NotJsonError("the body starts with a UTF-8 byte order mark, which RFC 8259 section 8.1 forbids")
    if body.startswith(_UTF_16_32_MARKS) or (len(body) >= 2 and 0 in body[:2]):
        raise NotJsonError("the body is UTF-16 or UTF-32; JSON between systems must be UTF-8 (RFC 8259 section 8.1)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotJsonError(f"the body is not UTF-8 (byte {exc.start}); RFC 8259 section 8.1 requires it") from None
    try:
        return json.loads(text, parse_constant=_no_constant, object_pairs_hook=_one_value_per_name)
    except json.JSONDecodeError as exc:
        raise NotJsonError(f"the body is not JSON ({exc.msg} at position {exc.pos})") from None


def _no_constant(name: str) -> Any:  # noqa: ANN401 - json's hook signature
    message = f"the body holds {name}, which is no JSON number (RFC 8259 section 6)"
    raise NotJsonError(message)


def _one_value_per_name(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object; a name given twice with different values makes the body mean different things to different parsers."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result and result[name] != value:
            message = (
                f"the body gives {name!r} twice with different values ({result[name]!r}, then {value!r}); "
                "RFC 8259 section 4 warns that receivers then disagree"
            )
            raise NotJsonError(message)
        result[name] = value
    return result
