"""Variants with a fault on the wire: replies dropped, never finished, or outside HTTP/1.1's syntax; races."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from conformance.sandbox.server import CheckoutApi, Reply
from conformance.sandbox.variants_base import RACE_WINDOW_SECONDS, _is_target

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conformance.sandbox.sessions import CheckoutSession


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
