"""Deliberately broken sandboxes, one fault each, that prove the gate can fail."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from conformance.sandbox.server import CheckoutApi, Reply

if TYPE_CHECKING:
    from collections.abc import Callable

    from conformance.sandbox.sessions import CheckoutSession


class UnknownPaymentStatus(CheckoutApi):
    """One seeded session reports a payment status that IntentStatus does not list."""

    def render(self, session: CheckoutSession) -> Reply:
        if session.payment_status == "succeeded":
            return Reply.json(200, {**session.as_json(), "payment_status": "paid"})
        return super().render(session)


class NothingFound(CheckoutApi):
    """Every id, seeded or not, is answered 404: the 200 contract is never exercised."""

    def lookup(self, checkout_id: str) -> CheckoutSession | None:  # noqa: ARG002 - the fault
        return None


class AuthIgnored(CheckoutApi):
    """Requests without a key, or with a wrong one, are served as if the key were right."""

    def authorized(self, header: str | None) -> bool:  # noqa: ARG002 - the fault
        return True


class TimestampWithoutOffset(CheckoutApi):
    """created_at of one session lacks a UTC offset, which RFC 3339 requires."""

    def render(self, session: CheckoutSession) -> Reply:
        if session.payment_status == "processing":
            return super().render(replace(session, created_at="2026-01-05T09:30:00"))
        return super().render(session)


@dataclass(frozen=True)
class Variant:
    """A named sandbox behaviour and whether a correct gate must pass it."""

    name: str
    description: str
    api: Callable[[str, tuple[CheckoutSession, ...]], CheckoutApi]
    conformant: bool


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant("reference", "The reference sandbox, conformant.", CheckoutApi, conformant=True),
        Variant(
            "unknown-payment-status",
            UnknownPaymentStatus.__doc__ or "",
            UnknownPaymentStatus,
            conformant=False,
        ),
        Variant("nothing-found", NothingFound.__doc__ or "", NothingFound, conformant=False),
        Variant("auth-ignored", AuthIgnored.__doc__ or "", AuthIgnored, conformant=False),
        Variant(
            "timestamp-without-offset",
            TimestampWithoutOffset.__doc__ or "",
            TimestampWithoutOffset,
            conformant=False,
        ),
    )
}
