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


class Purpose(StrEnum):
    """Why a request was sent; checks use it to know what to expect."""

    KNOWN = "known session"
    REREAD = "second read of a known session"
    UNKNOWN = "invented id"
    EDGE = "edge-case id"
    GENERATED = "generated id"


@dataclass(frozen=True)
class SentRequest:
    """A request as sent, with any secret already redacted."""

    method: str
    url: str
    headers: dict[str, str]


@dataclass(frozen=True)
class ReceivedResponse:
    """A response as received; `body` holds at most the transport's cap."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    elapsed_ms: float
    truncated: bool = False

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
        """Return (True, value) when the body is JSON, else (False, why)."""
        if self.truncated:
            return False, f"the body is larger than the {len(self.body)}-byte cap"
        try:
            return True, json.loads(self.body)
        except UnicodeDecodeError:
            return False, "the body is not UTF-8"
        except json.JSONDecodeError as exc:
            return False, f"the body is not JSON ({exc.msg} at position {exc.pos})"

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
    # The Schemathesis case that produced a generated request.
    case: Any = field(default=None, compare=False, repr=False)
    # What checks derive from the exchange once and share (a parsed form, a converted response).
    memo: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def label(self) -> str:
        """A short description for reports."""
        status = self.response.status if self.response is not None else "no response"
        return f"{self.request.method} {self.request.url} ({self.purpose}, {self.credential}) -> {status}"
