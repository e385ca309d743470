"""Sandboxes with exactly one seeded fault each, and conformant oddities the gate must accept.

Each fault sits where only a thorough suite finds it: one seeded session, some ids, some
requests. The class docstring is the variant's one-line description.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from conformance.sandbox import variants_infra
from conformance.sandbox.server import CREATE_ROUTE, ROUTE_PREFIX, CheckoutApi, Reply
from conformance.sandbox.sessions import CheckoutSession, Product

if TYPE_CHECKING:
    from collections.abc import Mapping

_JSON = {"Content-Type": "application/json"}
# The session each single-session fault breaks: the one in `requires_capture`, deep in the list.
TARGET_STATUS = "requires_capture"


class _Counting(CheckoutApi):
    """Numbers the requests it answers, from 1, safely across the server's threads."""

    def __init__(self, api_key: str, sessions: tuple[CheckoutSession, ...]) -> None:
        super().__init__(api_key, sessions)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def request_number(self) -> int:
        """The number of the request being answered."""
        with self._lock:
            return next(self._counter)


def _is_target(session: CheckoutSession) -> bool:
    return session.payment_status == TARGET_STATUS


class _BodyFault(CheckoutApi):
    """Answers the target session with a changed body; every other session as the reference does."""

    def render(self, session: CheckoutSession) -> Reply:
        if _is_target(session):
            return Reply.json(200, self.broken_body(session.as_json()))
        return super().render(session)

    def broken_body(self, body: dict[str, object]) -> object:
        """The faulty body."""
        return body


class MissingCreatedAt(_BodyFault):
    """One session omits the required created_at."""

    def broken_body(self, body: dict[str, object]) -> object:
        return {key: value for key, value in body.items() if key != "created_at"}


class NullCreatedAt(_BodyFault):
    """One session has null in the required created_at."""

    def broken_body(self, body: dict[str, object]) -> object:
        return {**body, "created_at": None}


class EmailWrongType(_BodyFault):
    """One session's customer_email is a number."""

    def broken_body(self, body: dict[str, object]) -> object:
        return {**body, "customer_email": 42}


class UnknownPaymentStatus(_BodyFault):
    """One session reports the payment status 'paid', which IntentStatus does not list."""

    def broken_body(self, body: dict[str, object]) -> object:
        return {**body, "payment_status": "paid"}


class PaymentStatusWrongCase(_BodyFault):
    """One session reports 'Requires_Capture': an IntentStatus value in the wrong case."""

    def broken_body(self, body: dict[str, object]) -> object:
        return {**body, "payment_status": "Requires_Capture"}


class TimestampWithoutOffset(_BodyFault):
    """One session's created_at lacks a UTC offset, which RFC 3339 requires."""

    def broken_body(self, body: dict[str, object]) -> object:
        return {**body, "created_at": "2026-01-10T09:30:00"}


class TimestampEpoch(_BodyFault):
    """One session's created_at is an epoch number."""

    def broken_body(self, body: dict[str, object]) -> object:
        return {**body, "created_at": 1768037400}


class TimestampDateOnly(_BodyFault):
    """One session's created_at is a date without a time."""

    def broken_body(self, body: dict[str, object]) -> object:
        return {**body, "created_at": "2026-01-10"}


class BodyNotObject(_BodyFault):
    """One session's body is a JSON array holding the session."""

    def broken_body(self, body: dict[str, object]) -> object:
        return [body]


class PaymentFieldsUnpaired(_BodyFault):
    """One session has a payment_id but a null payment_status."""

    def broken_body(self, body: dict[str, object]) -> object:
        return {**body, "payment_status": None}


class BodyNotUtf8(CheckoutApi):
    """One session's body is JSON in Latin-1, not UTF-8: its customer name has a byte that is no UTF-8."""

    def render(self, session: CheckoutSession) -> Reply:
        if _is_target(session):
            body = json.dumps({**session.as_json(), "customer_name": "Zoë"}, ensure_ascii=False)
            return Reply(200, body.encode("latin-1"), {"Content-Type": "application/json"})
        return super().render(session)


class WrongSessionBody(CheckoutApi):
    """One session is answered with another session's body."""

    def render(self, session: CheckoutSession) -> Reply:
        if _is_target(session):
            other = next(item for item in self.sessions.values() if not _is_target(item))
            return super().render(other)
        return super().render(session)


class BodyNotJson(CheckoutApi):
    """One session's body is an HTML page, although it is labelled JSON."""

    def render(self, session: CheckoutSession) -> Reply:
        if _is_target(session):
            return Reply(200, b"<html><body>Checkout</body></html>", {"Content-Type": "application/json"})
        return super().render(session)


class WrongContentType(CheckoutApi):
    """One session is served as text/plain."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        if _is_target(session):
            return replace(reply, headers={"Content-Type": "text/plain"})
        return reply


class UndocumentedSuccess(CheckoutApi):
    """One session is answered 203, a status the operation does not document."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        return replace(reply, status=203) if _is_target(session) else reply


class KnownSessionNotFound(CheckoutApi):
    """One seeded session is answered 404."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        session = super().lookup(checkout_id)
        return None if session is not None and _is_target(session) else session


class NothingFound(CheckoutApi):
    """Every id, seeded or not, is answered 404, as a server with an empty database would."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:  # noqa: ARG002 - the fault
        return None


class DroppedConnection(CheckoutApi):
    """One session's connection is closed without a reply."""

    def render(self, session: CheckoutSession) -> Reply:
        return Reply(200, drop_connection=True) if _is_target(session) else super().render(session)


class ReplyNeverComes(CheckoutApi):
    """One session's reply never comes: the connection stays open and silent, whatever the timeout."""

    holds_replies = True

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        return replace(reply, delay_seconds=math.inf) if _is_target(session) else reply


class CreatedAtChanges(CheckoutApi):
    """Every read reports the time of the request as created_at, so it changes between reads."""

    def render(self, session: CheckoutSession) -> Reply:
        now = datetime.now(tz=UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return super().render(replace(session, created_at=now))


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


class AuthIgnored(CheckoutApi):
    """Requests without a key, or with a wrong one, are served as if the key were right."""

    def authorized(self, header: str | None) -> bool:  # noqa: ARG002 - the fault
        return True


class AnyBearerKey(CheckoutApi):
    """Any bearer key is accepted; only a request without one is rejected."""

    def authorized(self, header: str | None) -> bool:
        return header is not None and header.startswith("Bearer ")


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


# --- keys compared loosely --------------------------------------------------------------


def _token(header: str | None) -> str | None:
    return header[len("Bearer ") :] if header is not None and header.startswith("Bearer ") else None


class KeyPrefixAccepted(CheckoutApi):
    """A bearer token that the key starts with (16 characters or more) is accepted: a truncated key works."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        return token is not None and len(token) >= 16 and self.api_key.startswith(token)


class KeyCaseInsensitive(CheckoutApi):
    """The key is compared without regard to case: the key in other letters' case is accepted."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        return token is not None and token.lower() == self.api_key.lower()


class EmptyBearerAccepted(CheckoutApi):
    """'Authorization: Bearer' with an empty token is taken as a session of the dashboard and accepted."""

    def authorized(self, header: str | None) -> bool:
        return (header is not None and header.strip() == "Bearer") or super().authorized(header)


class SchemeIgnored(CheckoutApi):
    """Only the word after the scheme is compared: 'Token KEY' and 'Basic KEY' are accepted too."""

    def authorized(self, header: str | None) -> bool:
        return header is not None and header.split(" ", 1)[-1] == self.api_key


class KeySecretOnly(CheckoutApi):
    """Only the key's secret, what follows its last '_', is compared: the secret alone, or under any prefix, works."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        return token is not None and token.rsplit("_", 1)[-1] == self.api_key.rsplit("_", 1)[-1]


class KeyAnySuffix(CheckoutApi):
    """The token is matched as starting with the key: the key with anything appended is accepted."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        return token is not None and token.startswith(self.api_key)


class KeyOtherModeAccepted(CheckoutApi):
    """A key of the other mode, sk_live_ for sk_test_ and the same secret, is accepted: the mode is not checked."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        other = self.api_key.replace("_test_", "_live_", 1)
        return token is not None and (token == self.api_key or (other != self.api_key and token == other))


class KeyModeExplained(CheckoutApi):
    """A key of the other mode, or of another kind, is refused with a 401 that says which mode it belongs to."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        token = _token(headers.get("Authorization"))
        if reply.status == 401 and token is not None and "_live_" in token:
            return Reply.error(401, "WRONG_MODE", "This is a live-mode key; test mode takes test-mode keys only")
        return reply


class LookupBeforeAuth(CheckoutApi):
    """The session is looked up before the key is checked: without a key, an unknown id gets 404, a known one 401."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        checkout_id = self.checkout_id_of(target)
        if method == "GET" and checkout_id is not None and self.lookup(checkout_id) is None:
            return Reply.error(404, "NOT_FOUND", "Checkout session not found")
        return super().handle(method, target, headers)


class KeylessAfterMiss(CheckoutApi):
    """The signed-in merchant is kept between requests and cleared only by a 200: after a 404, no key is needed."""

    def __init__(self, api_key: str, sessions: tuple[CheckoutSession, ...]) -> None:
        super().__init__(api_key, sessions)
        self._signed_in = False

    def authorized(self, header: str | None) -> bool:
        if super().authorized(header):
            self._signed_in = True
            return True
        return self._signed_in

    def render(self, session: CheckoutSession) -> Reply:
        self._signed_in = False
        return super().render(session)


class FailOpenUnderLoad(CheckoutApi):
    """Reads that overlap trip a breaker that skips the key check for the next ten seconds (it fails open)."""

    OPEN_SECONDS = 10.0

    def __init__(self, api_key: str, sessions: tuple[CheckoutSession, ...]) -> None:
        super().__init__(api_key, sessions)
        self._in_flight = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    def authorized(self, header: str | None) -> bool:
        return time.monotonic() < self._open_until or super().authorized(header)

    def render(self, session: CheckoutSession) -> Reply:
        with self._lock:
            self._in_flight += 1
            if self._in_flight > 1:
                self._open_until = time.monotonic() + self.OPEN_SECONDS
        try:
            time.sleep(RACE_WINDOW_SECONDS)
            return super().render(session)
        finally:
            with self._lock:
                self._in_flight -= 1


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


# --- error bodies that carry what they refused ---------------------------------------------


class SessionIn401(CheckoutApi):
    """A request without a valid key for a known session gets 401 with the session's JSON and "unauthorized": true."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        checkout_id = self.checkout_id_of(target)
        session = self.lookup(checkout_id) if checkout_id is not None and reply.status == 401 else None
        return reply if session is None else Reply.json(401, {**session.as_json(), "unauthorized": True})


class DidYouMean(CheckoutApi):
    """An unknown id close to a session's gets 404 naming that session with its customer: 'did you mean cks_...'."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        checkout_id = self.checkout_id_of(target)
        if reply.status != 404 or checkout_id is None:
            return reply
        close = difflib.get_close_matches(checkout_id, list(self.sessions), n=1, cutoff=0.8)
        if not close:
            return reply
        match = self.sessions[close[0]]
        message = f"No session {checkout_id!r}: did you mean {match.id} (customer {match.customer_email})?"
        return Reply.error(404, "NOT_FOUND", message)


class ErrorEchoesId(CheckoutApi):
    """A 404 names the id it was asked for: 'Checkout session <id> not found'."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        checkout_id = self.checkout_id_of(target)
        if reply.status != 404 or checkout_id is None:
            return reply
        return Reply.error(404, "NOT_FOUND", f"Checkout session {checkout_id!r} not found")


# --- bodies only a lenient parser reads -------------------------------------------------


class NanInBody(CheckoutApi):
    """One session's body carries an extra field whose value is NaN, which JSON has no way to write."""

    def render(self, session: CheckoutSession) -> Reply:
        if _is_target(session):
            return Reply(200, json.dumps({**session.as_json(), "risk_score": math.nan}).encode(), _JSON)
        return super().render(session)


class BomBody(CheckoutApi):
    """One session's body starts with a UTF-8 byte order mark, which RFC 8259 forbids between systems."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        return replace(reply, body=b"\xef\xbb\xbf" + reply.body) if _is_target(session) else reply


class DuplicateKeys(CheckoutApi):
    """One session's body names payment_status twice: null first, its status second."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        if not _is_target(session):
            return reply
        return replace(reply, body=b'{"payment_status": null, ' + reply.body[1:])


# --- replies that never finish ----------------------------------------------------------


class BodyTrickles(CheckoutApi):
    """One session's headers come at once, then its body one byte every half second, never finishing."""

    holds_replies = True

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        return replace(reply, trickle=True) if _is_target(session) else reply


class ReplySentTwice(CheckoutApi):
    """One session's reply is written twice: on a kept-alive connection the next request gets it again."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        return replace(reply, twice=True) if _is_target(session) else reply


# --- heads that break HTTP/1.1's syntax ------------------------------------------------------


class LengthBesideChunks(CheckoutApi):
    """One session's reply is chunked and carries a Content-Length too, which a server must never send together."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        if not _is_target(session):
            return reply
        return replace(reply, chunked=True, headers={**reply.headers, "Content-Length": str(len(reply.body))})


class FoldedHeader(CheckoutApi):
    """One session's reply has a long trace header folded onto a second line (obs-fold), which servers must not send."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        if not _is_target(session):
            return reply
        trace = f"session={session.id};\r\n region=eu-west-1"
        return replace(reply, headers={**reply.headers, "X-Trace": trace})


class SpaceBeforeColon(CheckoutApi):
    """One session's reply has a field line with a space before its colon ('X-Trace : ...'), which RFC 9112 forbids."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        # Written before Content-Length: a client that stops its head at this line never learns the length.
        return (
            replace(reply, headers={"X-Trace ": f"session={session.id}", **reply.headers})
            if _is_target(session)
            else reply
        )


class TwoContentTypes(CheckoutApi):
    """One session's reply has two Content-Type fields, application/json and text/html, where one is allowed."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        return replace(reply, headers={**reply.headers, "content-type": "text/html"}) if _is_target(session) else reply


class IdEchoedInHeader(CheckoutApi):
    """The id asked for is echoed in a header with line breaks stripped but other control characters kept."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        checkout_id = self.checkout_id_of(target)
        if checkout_id is None:
            return reply
        # The header is written as Latin-1: hand it the id's UTF-8 bytes one to a character.
        echoed = checkout_id.replace("\r", "").replace("\n", "").encode().decode("latin-1")
        return replace(reply, headers={**reply.headers, "X-Checkout-Id": echoed})


# --- state shared between requests -------------------------------------------------------

# How long a racy variant holds its shared state: overlapping requests fall into it, serial ones never do.
RACE_WINDOW_SECONDS = 0.02


class RacySharedSession(CheckoutApi):
    """The session being answered is kept in one shared slot: two reads at once answer with the same session."""

    def __init__(self, api_key: str, sessions: tuple[CheckoutSession, ...]) -> None:
        super().__init__(api_key, sessions)
        self._current: CheckoutSession | None = None

    def render(self, session: CheckoutSession) -> Reply:
        self._current = session
        time.sleep(RACE_WINDOW_SECONDS)
        current = self._current
        return super().render(current if current is not None else session)


class RacyCounter500(CheckoutApi):
    """A request counter shared without a lock fails the second of two overlapping reads with 500."""

    def __init__(self, api_key: str, sessions: tuple[CheckoutSession, ...]) -> None:
        super().__init__(api_key, sessions)
        self._in_flight = 0
        self._lock = threading.Lock()

    def render(self, session: CheckoutSession) -> Reply:
        with self._lock:
            self._in_flight += 1
            clash = self._in_flight > 1
        try:
            time.sleep(RACE_WINDOW_SECONDS)
            return Reply.error(500, "INTERNAL", "request id already in use") if clash else super().render(session)
        finally:
            with self._lock:
                self._in_flight -= 1


# --- sessions created with POST /checkouts (seeded sessions are served as the reference serves them) ---


class _CreatedSessionLag(CheckoutApi):
    """Misses a created session on its first `missed_reads` reads, as a replica behind the primary would."""

    missed_reads: int

    def __init__(
        self, api_key: str, sessions: tuple[CheckoutSession, ...], products: tuple[Product, ...] | None = None
    ) -> None:
        super().__init__(api_key, sessions, products)
        self._misses_left: dict[str, int] = {}
        self._lag_lock = threading.Lock()

    def store(self, session_id: str, session: CheckoutSession) -> None:
        with self._lag_lock:
            self._misses_left[session_id] = self.missed_reads
        super().store(session_id, session)

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        with self._lag_lock:
            left = self._misses_left.get(checkout_id, 0)
            if left:
                self._misses_left[checkout_id] = left - 1
                return None
        return super().lookup(checkout_id)


class CreatedSessionLate(_CreatedSessionLag):
    """A created session is answered 404 for its next 10 reads, as from a replica far behind, then found."""

    missed_reads = 10


class CreatedWith201(CheckoutApi):
    """A create is answered 201 Created with the session, where Dodo's public spec documents 200 for it."""

    def created_reply(self, session: CheckoutSession) -> Reply:
        return replace(super().created_reply(session), status=201)


class CreatedSessionPaid(CheckoutApi):
    """A created session reads as paid (a payment id, status 'succeeded'), though nothing was paid."""

    def new_session(self) -> CheckoutSession:
        return replace(super().new_session(), payment_id=self.fresh_id("pay_"), payment_status="succeeded")


class CreatedUnderAnotherId(CheckoutApi):
    """A created session's id is minted twice, for its key and for its record: reading session_id names another id."""

    # A realistic bug (the handler files the row under the id it answers with, but the row was built with
    # an id of its own). Chosen over a session filed under another id, a 404 forever: that one looks like a
    # replica that never catches up, while this one is a contradiction a single read shows.
    def store(self, session_id: str, session: CheckoutSession) -> None:
        super().store(session_id, replace(session, id=self.fresh_id("cks_")))


class CreateWithoutKey(CheckoutApi):
    """POST /checkouts without an Authorization header creates a session: the create route skips the key check."""

    def create(self, headers: Mapping[str, str], body: bytes) -> Reply:
        if headers.get("Authorization") is None:
            return super().create({**headers, "Authorization": f"Bearer {self.api_key}"}, body)
        return super().create(headers, body)


class CreateForbidden(CheckoutApi):
    """POST /checkouts without the valid key gets 403 with an error body, where a read gets 401."""

    def create(self, headers: Mapping[str, str], body: bytes) -> Reply:
        if not self.authorized(headers.get("Authorization")):
            return Reply.error(403, "FORBIDDEN", "Creating sessions needs a secret key of this account")
        return super().create(headers, body)


# --- conformant oddities --------------------------------------------------------------


class Reference(CheckoutApi):
    """The reference sandbox, as Dodo's test mode behaves for this operation."""


class ExtraFields(CheckoutApi):
    """Bodies carry undocumented extra fields, which the schema allows."""

    def render(self, session: CheckoutSession) -> Reply:
        return Reply.json(200, {**session.as_json(), "checkout_url": "https://example.com/c", "metadata": {}})


class JsonWithCharset(CheckoutApi):
    """Bodies are served as application/json; charset=utf-8."""

    def render(self, session: CheckoutSession) -> Reply:
        return Reply.json(200, session.as_json(), content_type="application/json; charset=utf-8")


class RequiredFieldsOnly(CheckoutApi):
    """Bodies carry only the required id and created_at."""

    def render(self, session: CheckoutSession) -> Reply:
        return Reply.json(200, {"id": session.id, "created_at": session.created_at})


class TimestampForms(CheckoutApi):
    """created_at uses other RFC 3339 forms: extreme offsets, nine-digit fractions, -00:00."""

    FORMS = ("2026-01-10T09:30:00.123456789+14:00", "2026-01-10T09:30:00-12:00", "2026-01-10T09:30:00-00:00")

    def render(self, session: CheckoutSession) -> Reply:
        form = self.FORMS[sorted(self.sessions).index(session.id) % len(self.FORMS)]
        return super().render(replace(session, created_at=form))


class MalformedIds422(_IdFault):
    """Ids with characters other than letters, digits and _ are answered 422, which is documented."""

    pattern = re.compile(r"[^A-Za-z0-9_]")
    reply = Reply.error(422, "INVALID_ID", "Invalid checkout session id")


class SlowWithinTimeout(CheckoutApi):
    """One session takes 0.3 s to answer: slow, but within the timeout."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        return replace(reply, delay_seconds=0.3) if _is_target(session) else reply


class HugeBody(CheckoutApi):
    """One session's body is 20 MB: valid, with a long undocumented field the schema allows."""

    def render(self, session: CheckoutSession) -> Reply:
        if _is_target(session):
            return Reply.json(200, {**session.as_json(), "notes": "x" * 20_000_000})
        return super().render(session)


class Occasional429(_Counting):
    """Every 10th request is answered 429 with Retry-After: 0, and served when retried."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        count = self.request_number()
        if count % 10 == 0:
            reply = Reply.error(429, "RATE_LIMITED", "Slow down")
            return replace(reply, headers={**reply.headers, "Retry-After": "0"})
        return super().handle(method, target, headers)


class BareErrors(CheckoutApi):
    """401 comes with an empty body and 404 with a plain-text one: the spec describes neither body."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        if reply.status == 401:
            return Reply(401, headers={"WWW-Authenticate": "Bearer"})
        if reply.status == 404:
            return Reply(404, b"Not Found", {"Content-Type": "text/plain"})
        return reply


class ForbiddenWrongKey(CheckoutApi):
    """A wrong key gets 403 and a missing one 401."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        if reply.status == 401 and headers.get("Authorization") is not None:
            return Reply.error(403, "FORBIDDEN", "This key may not read this session")
        return reply


class FieldWhitespace(CheckoutApi):
    """Every field value has a tab before it and spaces after it, the optional whitespace RFC 9112 allows."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        return replace(reply, headers={name: f"\t{value}  " for name, value in reply.headers.items()})


class EarlyHints(CheckoutApi):
    """Every answer is preceded by a 103 Early Hints interim response, which a client must skip (RFC 9110)."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        return replace(super().handle(method, target, headers), interim=(103,))


class CreatedAtOffsets(CheckoutApi):
    """Each read writes created_at another way (Z, +00:00, +05:30, lower-case t and z): the same instant."""

    FORMS = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%dt%H:%M:%Sz")

    def __init__(self, api_key: str, sessions: tuple[CheckoutSession, ...]) -> None:
        super().__init__(api_key, sessions)
        self._reads = itertools.count()
        self._lock = threading.Lock()

    def render(self, session: CheckoutSession) -> Reply:
        with self._lock:
            read = next(self._reads)
        instant = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
        if read % 4 == 3:
            written = (instant + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S+05:30")
        else:
            written = instant.strftime(self.FORMS[read % 4])
        return super().render(replace(session, created_at=written))


class GzipBodies(CheckoutApi):
    """Every body is gzip-coded (Content-Encoding: gzip), although the client did not ask for it."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        return replace(super().handle(method, target, headers), gzip=True)


class ChunkedBodies(CheckoutApi):
    """Every body is sent in chunks of seven bytes (Transfer-Encoding: chunked), with no Content-Length."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        return replace(super().handle(method, target, headers), chunked=True)


class CloseDelimitedBodies(CheckoutApi):
    """Every body ends when the server closes the connection: no Content-Length, no chunks."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        return replace(super().handle(method, target, headers), close_delimited=True)


class RetryAfterForms(_Counting):
    """Every 40th request is answered 429, with Retry-After as an HTTP date or with none; a retry is served."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        count = self.request_number()
        if count % 40:
            return super().handle(method, target, headers)
        reply = Reply.error(429, "RATE_LIMITED", "Slow down")
        if count % 80:
            return replace(reply, headers={**reply.headers, "Retry-After": formatdate(time.time(), usegmt=True)})
        return reply


class LeapSecond(CheckoutApi):
    """created_at is the leap second 2016-12-31T23:59:60Z on one session, which RFC 3339 allows."""

    def render(self, session: CheckoutSession) -> Reply:
        if _is_target(session):
            return super().render(replace(session, created_at="2016-12-31T23:59:60Z"))
        return super().render(session)


class CreatedSessionLags(_CreatedSessionLag):
    """A created session is answered 404 for its first 2 reads, then found: a short lag a client may wait out."""

    missed_reads = 2


@dataclass(frozen=True)
class Variant:
    """A named sandbox behaviour and whether a correct gate must pass it."""

    name: str
    api: type[CheckoutApi]
    conformant: bool

    @property
    def description(self) -> str:
        """The one-line description: the class docstring."""
        return (self.api.__doc__ or "").strip()


_FAULTS: dict[str, type[CheckoutApi]] = {
    "missing-created-at": MissingCreatedAt,
    "null-created-at": NullCreatedAt,
    "email-wrong-type": EmailWrongType,
    "unknown-payment-status": UnknownPaymentStatus,
    "payment-status-wrong-case": PaymentStatusWrongCase,
    "timestamp-without-offset": TimestampWithoutOffset,
    "timestamp-epoch": TimestampEpoch,
    "timestamp-date-only": TimestampDateOnly,
    "body-not-object": BodyNotObject,
    "body-not-json": BodyNotJson,
    "body-not-utf8": BodyNotUtf8,
    "wrong-content-type": WrongContentType,
    "undocumented-2xx": UndocumentedSuccess,
    "undocumented-4xx": UndocumentedClientError,
    "server-error-by-character": ServerErrorByCharacter,
    "server-error-by-length": ServerErrorByLength,
    "server-error-intermittent": ServerErrorIntermittent,
    "auth-ignored": AuthIgnored,
    "any-bearer-key": AnyBearerKey,
    "known-session-404": KnownSessionNotFound,
    "nothing-found": NothingFound,
    "wrong-session-body": WrongSessionBody,
    "invented-sessions": InventedSessions,
    "prefix-lookup": PrefixLookup,
    "case-insensitive-lookup": CaseInsensitiveLookup,
    "payment-id-lookup": PaymentIdLookup,
    "payment-fields-unpaired": PaymentFieldsUnpaired,
    "created-at-changes": CreatedAtChanges,
    "reply-never-comes": ReplyNeverComes,
    "connection-dropped": DroppedConnection,
    "whitespace-trimmed-lookup": WhitespaceTrimmedLookup,
    "unicode-folded-lookup": UnicodeFoldedLookup,
    "double-decoded-lookup": DoubleDecodedLookup,
    "wildcard-lookup": WildcardLookup,
    "key-prefix-accepted": KeyPrefixAccepted,
    "key-case-insensitive": KeyCaseInsensitive,
    "empty-bearer-accepted": EmptyBearerAccepted,
    "scheme-ignored": SchemeIgnored,
    "key-secret-only": KeySecretOnly,
    "key-any-suffix": KeyAnySuffix,
    "key-other-mode-accepted": KeyOtherModeAccepted,
    "lookup-before-auth": LookupBeforeAuth,
    "keyless-after-miss": KeylessAfterMiss,
    "fail-open-under-load": FailOpenUnderLoad,
    "nan-in-body": NanInBody,
    "bom-body": BomBody,
    "duplicate-keys": DuplicateKeys,
    "body-trickles": BodyTrickles,
    "reply-sent-twice": ReplySentTwice,
    "length-beside-chunks": LengthBesideChunks,
    "folded-header": FoldedHeader,
    "id-echoed-in-header": IdEchoedInHeader,
    "space-before-colon": SpaceBeforeColon,
    "two-content-types": TwoContentTypes,
    "racy-shared-session": RacySharedSession,
    "racy-counter-500": RacyCounter500,
    "created-session-late": CreatedSessionLate,
    "created-session-paid": CreatedSessionPaid,
    "created-with-201": CreatedWith201,
    "created-under-another-id": CreatedUnderAnotherId,
    "dot-segments-resolved": DotSegmentsResolved,
    "trailing-slash-stripped": TrailingSlashStripped,
    "session-in-401": SessionIn401,
    "did-you-mean": DidYouMean,
    "create-without-key": CreateWithoutKey,
    **variants_infra.FAULTS,
}
_CONFORMANT: dict[str, type[CheckoutApi]] = {
    "reference": Reference,
    "extra-fields": ExtraFields,
    "json-with-charset": JsonWithCharset,
    "required-fields-only": RequiredFieldsOnly,
    "timestamp-forms": TimestampForms,
    "malformed-ids-422": MalformedIds422,
    "slow-within-timeout": SlowWithinTimeout,
    "occasional-429": Occasional429,
    "huge-body": HugeBody,
    "bare-errors": BareErrors,
    "forbidden-wrong-key": ForbiddenWrongKey,
    "key-mode-explained": KeyModeExplained,
    "early-hints": EarlyHints,
    "created-at-offsets": CreatedAtOffsets,
    "gzip-bodies": GzipBodies,
    "chunked-bodies": ChunkedBodies,
    "close-delimited-bodies": CloseDelimitedBodies,
    "retry-after-forms": RetryAfterForms,
    "leap-second": LeapSecond,
    "created-session-lags": CreatedSessionLags,
    "path-syntax-refused": PathSyntaxRefused,
    "error-echoes-id": ErrorEchoesId,
    "create-forbidden": CreateForbidden,
    "field-whitespace": FieldWhitespace,
    **variants_infra.CONFORMANT,
}
VARIANTS = {
    **{name: Variant(name, api, conformant=False) for name, api in _FAULTS.items()},
    **{name: Variant(name, api, conformant=True) for name, api in _CONFORMANT.items()},
}
