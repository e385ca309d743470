"""Variants of what sits in front of the API or under it: caches, auth layers, id lookups.

Each breaks (or, for the conformant ones, stretches) one thing a CDN, an API gateway or an ORM does to
GET /checkouts/{id}, in the same way as the other variants (variants_*.py): one step of CheckoutApi overridden.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conformance.sandbox.server import CheckoutApi, Reply

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conformance.sandbox.sessions import CheckoutSession


class HeadSkipsAuth(CheckoutApi):
    """The auth layer guards GET only: HEAD is routed to the same lookup with no key asked, and shows who exists."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        checkout_id = self.checkout_id_of(target)
        if method != "HEAD" or checkout_id is None:
            return super().handle(method, target, headers)
        session = self.lookup(checkout_id)
        return Reply.error(404, "NOT_FOUND", "Checkout session not found") if session is None else self.render(session)


class HeadServed(CheckoutApi):
    """HEAD is answered as GET would be, key check included (RFC 9110 section 9.3.2), where the reference says 405."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        return super().handle("GET" if method == "HEAD" else method, target, headers)


class RowNumberLookup(CheckoutApi):
    """An ORM casts a numeric id to the integer primary key: /checkouts/1 reads the first row."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:
        if checkout_id.isascii() and checkout_id.isdigit() and 1 <= int(checkout_id) <= len(self.seeded_ids):
            return super().lookup(self.seeded_ids[int(checkout_id) - 1])
        return super().lookup(checkout_id)


class PublicCache(CheckoutApi):
    """The CDN in front is told every session read may be cached for anyone: Cache-Control: public, max-age=300."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        return Reply(reply.status, reply.body, {**reply.headers, "Cache-Control": "public, max-age=300"})


class PublicCacheVaryingOnKey(CheckoutApi):
    """Session reads are cacheable by shared caches, but keyed on Authorization (Vary), so no one reads another's."""

    def render(self, session: CheckoutSession) -> Reply:
        reply = super().render(session)
        headers = {**reply.headers, "Cache-Control": "public, s-maxage=60", "Vary": "Accept-Encoding, Authorization"}
        return Reply(reply.status, reply.body, headers)


FAULTS: dict[str, type[CheckoutApi]] = {
    "head-skips-auth": HeadSkipsAuth,
    "row-number-lookup": RowNumberLookup,
    "public-cache": PublicCache,
}
CONFORMANT: dict[str, type[CheckoutApi]] = {
    "head-served": HeadServed,
    "public-cache-varying-on-key": PublicCacheVaryingOnKey,
}
