"""The seeded records behind the business reads: which exist, their ids, and which records each one refers to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conformance.sandbox.generator import Draw

if TYPE_CHECKING:
    from conformance.sandbox.sessions import CheckoutSession, Product


@dataclass(frozen=True)
class Kind:
    """A kind of record: its id's prefix, how many a parent (or the account) has, and the field its id fills."""

    name: str
    prefix: str
    count: int
    # The field of the record's own schema that carries its id ("id" for many, "payment_id" for payments).
    id_field: str
    parent: str | None = None
    # Only the first this many parents have children of this kind (None: every parent).
    parents: int | None = None


# Parents before children. A child inherits its parent's references, so a refund's customer is its payment's.
KINDS = (
    Kind("brand", "bnd_", 2, "brand_id"),
    Kind("customer", "cus_", 3, "customer_id"),
    Kind("product", "pdt_", 3, "product_id"),
    Kind("product_collection", "pdc_", 2, "id"),
    Kind("addon", "adn_", 2, "id"),
    Kind("meter", "mtr_", 2, "id"),
    Kind("credit_entitlement", "cde_", 2, "id"),
    Kind("entitlement", "ent_", 2, "id"),
    Kind("discount", "dsc_", 2, "discount_id"),
    Kind("subscription", "sub_", 2, "subscription_id"),
    Kind("payment", "pay_", 0, "payment_id"),
    Kind("refund", "ref_", 1, "refund_id", parent="payment", parents=3),
    Kind("dispute", "dsp_", 1, "dispute_id", parent="payment", parents=2),
    Kind("license_key", "lic_", 2, "id"),
    Kind("license_key_instance", "lki_", 2, "id", parent="license_key"),
    Kind("event", "evt_", 3, "event_id"),
    Kind("payout", "pout_", 2, "payout_id"),
    Kind("webhook", "wh_", 2, "id"),
    Kind("balance_ledger_entry", "ble_", 3, "id"),
    Kind("localized_price", "lpr_", 2, "id", parent="product"),
    Kind("short_link", "shl_", 1, "id", parent="product"),
    # A customer's balance of a credit entitlement is found by the customer's id.
    Kind("credit_balance", "ccb_", 2, "id", parent="credit_entitlement"),
    Kind("credit_grant", "cgr_", 2, "id", parent="credit_balance"),
    Kind("credit_ledger_entry", "cle_", 2, "id", parent="credit_balance"),
    Kind("entitlement_grant", "egr_", 2, "id", parent="entitlement"),
    Kind("wallet_ledger_entry", "wle_", 3, "id", parent="customer"),
    Kind("discount_customer", "dcu_", 2, "customer_id", parent="discount"),
    Kind("usage_history", "ush_", 3, "id", parent="subscription"),
    Kind("payout_breakup_detail", "pbd_", 3, "id", parent="payout"),
)
KIND_BY_NAME = {kind.name: kind for kind in KINDS}
# Kinds whose records any other record may refer to (a payment's brand, a license key's product).
REFERABLE = tuple(kind.name for kind in KINDS if kind.parent is None)
# A payment refers to a refund or a dispute of its own, never to another payment's.
NOT_INHERITED = frozenset({"refund_id", "dispute_id"})
# Children that are a customer's share of their parent, found by the customer's id.
CUSTOMER_KEYED = frozenset({"credit_balance", "discount_customer"})
# Children that each belong to a different customer.
PER_CUSTOMER = CUSTOMER_KEYED | {"entitlement_grant"}


def link_name(kind: str) -> str:
    """The field by which other records refer to a record of this kind."""
    return f"{kind}_id"


@dataclass(frozen=True)
class Record:
    """One seeded record: the id a path finds it by, and the ids of the records it refers to."""

    kind: str
    key: str
    # Field name -> id, applied wherever the field appears in the record's bodies.
    links: dict[str, str]
    # Field name -> value, applied to the outermost object of its bodies only.
    top: dict[str, object] = field(default_factory=dict)
    parent: Record | None = None


@dataclass(frozen=True)
class Records:
    """Every seeded record, by kind, in a stable order."""

    business_id: str
    by_kind: dict[str, tuple[Record, ...]]


def seeded_records(seed: int, sessions: tuple[CheckoutSession, ...], products: tuple[Product, ...]) -> Records:
    """The same records for the same seed: payments are the seeded sessions' and products the cart's."""
    draw = Draw(f"records:{seed}")
    business_id = f"bus_{draw.token(21)}"
    keys: dict[str, list[str]] = {}
    for kind in KINDS:
        if kind.name == "product":
            keys[kind.name] = [product.id for product in products]
        elif kind.name == "payment":
            keys[kind.name] = [session.payment_id for session in sessions if session.payment_id is not None]
        elif kind.parent is None:
            keys[kind.name] = [_new_id(kind, draw) for _ in range(kind.count)]
    by_kind: dict[str, list[Record]] = {kind.name: [] for kind in KINDS}
    for kind in KINDS:
        if kind.parent is None:
            for index, key in enumerate(keys[kind.name]):
                # A kind with no records (sessions none of which were paid: no payments) is referred to by no one.
                references = {
                    link_name(name): keys[name][draw.below(len(keys[name]))] for name in REFERABLE if keys[name]
                }
                links = _own_links(kind, key, {"business_id": business_id, **references})
                by_kind[kind.name].append(Record(kind.name, key, links, _top(kind, index, key, sessions)))
            continue
        for parent in by_kind[kind.parent][: kind.parents]:
            inherited = {name: value for name, value in parent.links.items() if name not in NOT_INHERITED}
            for index in range(kind.count):
                customer = keys["customer"][index % len(keys["customer"])]
                base = {**inherited, "customer_id": customer} if kind.name in PER_CUSTOMER else inherited
                # A customer's share of its parent is found by the customer's id; other children by their own.
                own_id = customer if kind.id_field == "customer_id" else _new_id(kind, draw)
                key = customer if kind.name in CUSTOMER_KEYED else own_id
                links = _own_links(kind, own_id, base)
                by_kind[kind.name].append(Record(kind.name, key, links, {kind.id_field: own_id}, parent))
    return Records(business_id, {name: tuple(records) for name, records in by_kind.items()})


def _new_id(kind: Kind, draw: Draw) -> str:
    return f"{kind.prefix}{draw.token(21)}"


def _own_links(kind: Kind, own_id: str, links: dict[str, str]) -> dict[str, str]:
    """The links with the record's own id under its kind's name (and its id field, unless that is a bare "id")."""
    own = {**links, link_name(kind.name): own_id}
    if kind.id_field != "id":
        own[kind.id_field] = own_id
    return own


def _top(kind: Kind, index: int, key: str, sessions: tuple[CheckoutSession, ...]) -> dict[str, object]:
    """Fields of a record's own object that agree with other data: its id, a discount's code, a payment's session."""
    top: dict[str, object] = {kind.id_field: key}
    if kind.name == "discount":
        top["code"] = f"SANDBOX{index + 1}0"
    if kind.name == "payment":
        session = next(session for session in sessions if session.payment_id == key)
        top.update(status=session.payment_status, checkout_session_id=session.id)
    return top
