"""Conformant oddities: sandboxes that stretch what the spec allows, which a correct gate must accept."""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from typing import TYPE_CHECKING

from conformance.sandbox.server import CheckoutApi, Reply
from conformance.sandbox.variants_base import _Counting, _is_target
from conformance.sandbox.variants_created import _CreatedSessionLag
from conformance.sandbox.variants_lookups import _IdFault

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conformance.sandbox.sessions import CheckoutSession


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
