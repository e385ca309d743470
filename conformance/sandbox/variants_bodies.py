"""Variants with a fault in a body: schema faults, bodies only a lenient parser reads, error bodies that tell."""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from conformance.sandbox.server import CheckoutApi, Reply
from conformance.sandbox.variants_base import _JSON, _is_target

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conformance.sandbox.sessions import CheckoutSession


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


class CreatedAtChanges(CheckoutApi):
    """Every read reports the time of the request as created_at, so it changes between reads."""

    def render(self, session: CheckoutSession) -> Reply:
        now = datetime.now(tz=UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return super().render(replace(session, created_at=now))


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
