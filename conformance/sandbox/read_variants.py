"""Sandboxes with one fault in a business read other than the checkout's, and look-alikes the gate must accept.

Not in the selftest's catalogue yet: the gate judges only GET /checkouts/{id} until it judges every business read
(issue 22), and a fault it cannot see would count as missed. Each fault sits in one record of one read.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from conformance.sandbox.catalogue import match
from conformance.sandbox.server import CheckoutApi, Reply

if TYPE_CHECKING:
    from collections.abc import Mapping


class _OneRecordFault(CheckoutApi):
    """Changes the 200 of one read for its last seeded record; every other answer is the reference's."""

    template: str

    def read(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().read(method, target, headers)
        matched = match(urlsplit(target).path)
        if matched is None or matched[0] != self.template or reply.status != 200:
            return reply
        if matched[1] != list(self.catalogue.routes[self.template].bodies)[-1]:
            return reply
        return self.broken(reply)

    def broken(self, reply: Reply) -> Reply:
        """The faulty reply in place of the right one."""
        return reply


class PaymentWithoutCurrency(_OneRecordFault):
    """One payment omits the required currency."""

    template = "/payments/{payment_id}"

    def broken(self, reply: Reply) -> Reply:
        """The body without its currency."""
        body = json.loads(reply.body)
        del body["currency"]
        return replace(reply, body=json.dumps(body).encode())


class CustomerCreatedAtEpoch(_OneRecordFault):
    """One customer's created_at is an epoch number, not an RFC 3339 string."""

    template = "/customers/{customer_id}"

    def broken(self, reply: Reply) -> Reply:
        """The body with a number for created_at."""
        return replace(reply, body=json.dumps({**json.loads(reply.body), "created_at": 1772366400}).encode())


class RefundServerError(_OneRecordFault):
    """Reading one refund fails with a 500."""

    template = "/refunds/{refund_id}"

    def broken(self, reply: Reply) -> Reply:  # noqa: ARG002 - the fault replaces it
        """A 500 instead."""
        return Reply.error(500, "INTERNAL", "Something went wrong")


class LicenseKeyListedNotReadable(_OneRecordFault):
    """/license_keys lists a key that /license_keys/{id} does not find."""

    template = "/license_keys/{id}"

    def broken(self, reply: Reply) -> Reply:  # noqa: ARG002 - the fault replaces it
        """A 404 instead."""
        return Reply.error(404, "NOT_FOUND", "License key not found")


class DisputeForAnyId(CheckoutApi):
    """Any dispute id, even one never issued, reads as the first dispute."""

    def read(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        """A 404 for a dispute id becomes the first dispute."""
        reply = super().read(method, target, headers)
        matched = match(urlsplit(target).path)
        if reply.status == 404 and matched is not None and matched[0] == "/disputes/{dispute_id}":
            first = next(iter(self.catalogue.routes["/disputes/{dispute_id}"].bodies))
            return super().read(method, f"/disputes/{first[0]}", headers)
        return reply


class CustomerListWithoutKey(CheckoutApi):
    """/customers answers without a key, or with a wrong one."""

    def read(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        """The customer list is read as if the key were sent."""
        if match(urlsplit(target).path) == ("/customers", ()):
            headers = {**headers, "Authorization": f"Bearer {self.api_key}"}
        return super().read(method, target, headers)


class ReadsWithExtraFields(CheckoutApi):
    """Every JSON object a business read answers has a field the spec does not name, which it allows."""

    def read(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        """The body with one field more."""
        reply = super().read(method, target, headers)
        if reply.status != 200 or not reply.body.startswith(b"{"):
            return reply
        return replace(reply, body=json.dumps({**json.loads(reply.body), "livemode": False}).encode())


class ReadsWithCharset(CheckoutApi):
    """Business reads of text (JSON, CSV) say charset=utf-8 beside their media type."""

    def read(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        """The media type with a charset."""
        reply = super().read(method, target, headers)
        media_type = reply.headers.get("Content-Type", "")
        if reply.status != 200 or media_type == "application/pdf":
            return reply
        return replace(reply, headers={**reply.headers, "Content-Type": f"{media_type}; charset=utf-8"})


READ_FAULTS: dict[str, type[CheckoutApi]] = {
    "payment-without-currency": PaymentWithoutCurrency,
    "customer-created-at-epoch": CustomerCreatedAtEpoch,
    "refund-server-error": RefundServerError,
    "dispute-for-any-id": DisputeForAnyId,
    "customer-list-without-key": CustomerListWithoutKey,
    "license-key-listed-not-readable": LicenseKeyListedNotReadable,
}
READ_LOOK_ALIKES: dict[str, type[CheckoutApi]] = {
    "reads-with-extra-fields": ReadsWithExtraFields,
    "reads-with-charset": ReadsWithCharset,
}
