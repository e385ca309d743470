"""The checkout sessions the sandbox serves (one per stage a session can be in), and the products it sells."""

from __future__ import annotations

import random
import string
from dataclasses import asdict, dataclass
from typing import Any

# The payment statuses Dodo reports (IntentStatus). The sandbox is a server, so it keeps its
# own list; the checks read theirs from spec/.
INTENT_STATUSES = (
    "succeeded",
    "failed",
    "cancelled",
    "processing",
    "requires_customer_action",
    "requires_merchant_action",
    "requires_payment_method",
    "requires_confirmation",
    "requires_capture",
    "partially_captured",
    "partially_captured_and_capturable",
)
# RFC 3339 forms a real server may use; the sandbox cycles through them.
TIMESTAMP_FORMS = (
    "2026-01-{day:02d}T09:30:00Z",
    "2026-01-{day:02d}T09:30:00.123456Z",
    "2026-01-{day:02d}T15:00:00+05:30",
    "2026-01-{day:02d}T04:30:00.5-05:00",
)
ID_ALPHABET = string.ascii_letters + string.digits
SEED = 20261128
# What the seeded products are called and priced in; their ids and prices come from the seed.
PRODUCT_NAMES = ("Sandbox T-shirt", "Sandbox e-book", "Sandbox sticker pack")
PRODUCT_CURRENCIES = ("USD", "EUR", "INR")


@dataclass(frozen=True)
class CheckoutSession:
    """A session as the API returns it."""

    id: str
    created_at: str
    customer_email: str | None
    customer_name: str | None
    payment_id: str | None
    payment_status: str | None
    # The customer fields are optional as well as nullable: some sessions leave them out.
    omit_customer: bool = False

    def as_json(self) -> dict[str, Any]:
        """The 200 body for this session."""
        body = asdict(self)
        del body["omit_customer"]
        if self.omit_customer:
            del body["customer_email"], body["customer_name"]
        return body


@dataclass(frozen=True)
class Product:
    """A product a checkout session can sell."""

    id: str
    name: str
    # In the currency's smallest unit (cents for USD), as Dodo counts money.
    price: int
    currency: str


def _make_id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(ID_ALPHABET) for _ in range(21))


def seeded_sessions(seed: int = SEED) -> tuple[CheckoutSession, ...]:
    """A session at the details stage, then one for each payment status; the same for the same seed."""
    rng = random.Random(seed)  # noqa: S311 - stable ids, not secrets
    stages: list[str | None] = [None, *INTENT_STATUSES]
    sessions = []
    for index, status in enumerate(stages):
        # Customer fields are nullable and optional: null on some sessions, absent on others.
        has_customer = index % 4 in (0, 2)
        sessions.append(
            CheckoutSession(
                id=_make_id(rng, "cks_"),
                created_at=TIMESTAMP_FORMS[index % len(TIMESTAMP_FORMS)].format(day=index + 1),
                customer_email=f"customer{index}@example.com" if has_customer else None,
                customer_name=f"Customer {index}" if has_customer else None,
                payment_id=_make_id(rng, "pay_") if status is not None else None,
                payment_status=status,
                omit_customer=index % 4 == 3,
            )
        )
    return tuple(sessions)


def seeded_products(seed: int = SEED) -> tuple[Product, ...]:
    """Three products a cart may hold; the same for the same seed."""
    # A generator of their own, salted apart from the sessions', so that the session ids stay what they were.
    rng = random.Random(f"products:{seed}")  # noqa: S311 - stable ids, not secrets
    return tuple(
        Product(id=_make_id(rng, "pdt_"), name=name, price=rng.randrange(100, 10_000), currency=currency)
        for name, currency in zip(PRODUCT_NAMES, PRODUCT_CURRENCIES, strict=True)
    )
