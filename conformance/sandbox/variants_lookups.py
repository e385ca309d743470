"""Variants with a fault in finding a session: lenient lookups, ids that break the server, normalised paths."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from conformance.sandbox.server import CREATE_ROUTE, ROUTE_PREFIX, CheckoutApi, Reply
from conformance.sandbox.sessions import CheckoutSession
from conformance.sandbox.variants_base import _Counting, _is_target

if TYPE_CHECKING:
    from collections.abc import Mapping


class KnownSessionNotFound(CheckoutApi):
    """One seeded session is answered 404."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        session = super().lookup(checkout_id)
        return None if session is not None and _is_target(session) else session


class NothingFound(CheckoutApi):
    """Every id, seeded or not, is answered 404, as a server with an empty database would."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:  # noqa: ARG002 - the fault
        return None


class _IdFault(CheckoutApi):
    """Answers ids that match `pattern` with `reply`, whether or not a session has them."""

    pattern: re.Pattern[str]
    reply: Reply

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        checkout_id = self.checkout_id_of(target)
        if reply.status not in (401, 405) and checkout_id is not None and self.pattern.search(checkout_id):
            return self.reply
        return reply


class UndocumentedClientError(_IdFault):
    """Ids with a space or a plus sign are answered 400, a status the operation does not document."""

    pattern = re.compile(r"[ +]")
    reply = Reply.error(400, "BAD_REQUEST", "Malformed id")


class ServerErrorByCharacter(_IdFault):
    """Ids with a character outside ASCII are answered 500."""

    pattern = re.compile(r"[^\x00-\x7f]")
    reply = Reply.error(500, "INTERNAL", "Something went wrong :(")


class ServerErrorByLength(_IdFault):
    """Ids longer than 100 characters are answered 502."""

    pattern = re.compile(r"^.{101,}$", re.DOTALL)
    reply = Reply(502, b"Bad Gateway", {"Content-Type": "text/plain"})


class ServerErrorIntermittent(_Counting):
    """Every 17th request is answered 503, whatever it asks for."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        count = self.request_number()
        if count % 17 == 0:
            return Reply.error(503, "UNAVAILABLE", "Try again")
        return super().handle(method, target, headers)


class InventedSessions(CheckoutApi):
    """Any id shaped like a real one (cks_ and 21 letters or digits) is answered with a made-up session."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        session = super().lookup(checkout_id)
        if session is None and re.fullmatch(r"cks_[A-Za-z0-9]{21}", checkout_id):
            return CheckoutSession(checkout_id, "2026-01-01T00:00:00Z", None, None, None, None)
        return session


class PrefixLookup(CheckoutApi):
    """An id that a session's id starts with finds that session, under the id asked for."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        session = super().lookup(checkout_id)
        if session is None and len(checkout_id) > len("cks_"):
            match = next((item for item in self.sessions.values() if item.id.startswith(checkout_id)), None)
            return replace(match, id=checkout_id) if match is not None else None
        return session


class PaymentIdLookup(CheckoutApi):
    """A session is found by its payment id too (a lookup that also searches payment_id): pay_... gets the session."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        session = super().lookup(checkout_id)
        if session is None and checkout_id:
            return next((item for item in self.sessions.values() if item.payment_id == checkout_id), None)
        return session


class CaseInsensitiveLookup(CheckoutApi):
    """Ids are looked up ignoring case, and answered under the id asked for."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        match = next((item for item in self.sessions.values() if item.id.lower() == checkout_id.lower()), None)
        return replace(match, id=checkout_id) if match is not None else None


# --- lookups that find a session by an id that is not its id ---------------------------


class _LenientLookup(CheckoutApi):
    """Falls back to comparing normalised ids; answers under the id asked for."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        session = super().lookup(checkout_id)
        if session is not None:
            return session
        match = next((item for item in self.sessions.values() if self.same(item.id, checkout_id)), None)
        return replace(match, id=checkout_id) if match is not None else None

    def same(self, session_id: str, asked: str) -> bool:
        """Whether the lenient lookup takes `asked` for `session_id`."""
        return session_id == asked


class WhitespaceTrimmedLookup(_LenientLookup):
    """Ids are trimmed of surrounding whitespace before the lookup: 'cks_... ' finds the session."""

    def same(self, session_id: str, asked: str) -> bool:
        return session_id == asked.strip()


class UnicodeFoldedLookup(_LenientLookup):
    """Ids are NFKC-normalised before the lookup: a full-width letter in the id finds the session."""

    def same(self, session_id: str, asked: str) -> bool:
        return session_id == unicodedata.normalize("NFKC", asked)


class DoubleDecodedLookup(_LenientLookup):
    """The path is percent-decoded a second time before the lookup: '%41' in an id finds the 'A' session."""

    def same(self, session_id: str, asked: str) -> bool:
        return session_id == unquote(asked)


class WildcardLookup(_LenientLookup):
    """Ids are matched with SQL LIKE: '_' in an id stands for any one character, '%' for anything."""

    def same(self, session_id: str, asked: str) -> bool:
        pattern = "".join(".*" if char == "%" else "." if char == "_" else re.escape(char) for char in asked)
        return "_" in asked.removeprefix("cks_") or ("%" in asked and re.fullmatch(pattern, session_id) is not None)


# --- paths routed after normalising them ----------------------------------------------------


def _resolved(path: str, *, trailing_slash_only: bool = False) -> str:
    """The path as a normalising proxy routes it: '%2e' and '%2f' decoded, then dots resolved and slashes merged."""
    decoded = re.sub("%2[fF]", "/", re.sub("%2[eE]", ".", path))
    if trailing_slash_only:
        return decoded.rstrip("/") or "/"
    segments: list[str] = []
    for segment in decoded.split("/"):
        if segment == "..":
            segments = segments[:-1]
        elif segment not in (".", ""):
            segments.append(segment)
    return "/" + "/".join(segments)


class _NormalisingProxy(CheckoutApi):
    """Routes the path as `_resolved` makes it: the root is an HTML page, /checkouts the list of sessions."""

    trailing_slash_only = False

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        path = urlsplit(target).path
        routed = _resolved(path, trailing_slash_only=self.trailing_slash_only)
        if routed == path or method != "GET":
            return super().handle(method, target, headers)
        if routed == "/":
            return Reply(200, b"<html><body>Dodo Payments API</body></html>", {"Content-Type": "text/html"})
        if not self.authorized(headers.get("Authorization")):
            return super().handle(method, target, headers)
        if routed == CREATE_ROUTE:
            return Reply.json(200, [session.as_json() for session in self.sessions.values()])
        return super().handle(method, routed, headers)


class DotSegmentsResolved(_NormalisingProxy):
    """A proxy resolves dot segments, raw or percent-encoded, and merges slashes: /checkouts/x/../{id} serves it."""


class TrailingSlashStripped(_NormalisingProxy):
    """The router strips a trailing slash, '%2F' decoded first: /checkouts/{id}/ serves the session."""

    trailing_slash_only = True


class PathSyntaxRefused(CheckoutApi):
    """A proxy answers 400 to dot segments (raw or encoded), 404 to encoded slashes and 308 to a trailing slash."""

    DOT_SEGMENTS = frozenset({".", "..", "%2e", "%2e%2e", ".%2e", "%2e."})

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        path = urlsplit(target).path
        if any(segment.lower() in self.DOT_SEGMENTS for segment in path.split("/")):
            return Reply(400, b"<html><body>400 Bad Request</body></html>", {"Content-Type": "text/html"})
        if re.search("%2[fF]", path):
            # Apache's answer with AllowEncodedSlashes off.
            return Reply(404, b"<html><body>404 Not Found</body></html>", {"Content-Type": "text/html"})
        if path.endswith("/") and len(path) > len(ROUTE_PREFIX):
            return Reply(308, headers={"Location": path.rstrip("/")})
        return super().handle(method, target, headers)
