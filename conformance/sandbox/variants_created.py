"""Variants with a fault in sessions created with POST /checkouts; seeded ones are served as the reference."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from conformance.sandbox.server import CheckoutApi, Reply

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conformance.sandbox.sessions import CheckoutSession, Product


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
