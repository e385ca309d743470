"""What the sandbox answers to each business read: bodies built once from the seeded records, found by path."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, unquote

from conformance.sandbox.documents import breakup_csv, invoice_pdf
from conformance.sandbox.generator import Generator
from conformance.sandbox.reads import BusinessRead, bundled_document, business_reads
from conformance.sandbox.records import Record, Records, link_name, seeded_records

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conformance.sandbox.sessions import CheckoutSession, Product

Shape = Literal["list", "one", "about", "pdf", "csv", "countries"]
# Dodo's documented page bounds: "Page size default is 10 max is 100", "Page number default is 0".
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
# Served by CheckoutApi itself, from the checkout sessions.
CHECKOUT_READ = "/checkouts/{id}"
DETAILS_READ = "/payouts/{payout_id}/breakup/details"

# Each business read but the checkout's: its shape, the kind of record it serves, and for each path parameter in
# order, the link that a record must carry with the parameter's value.
ROUTES: dict[str, tuple[Shape, str, tuple[str, ...]]] = {
    "/addons": ("list", "addon", ()),
    "/addons/{id}": ("one", "addon", ("addon_id",)),
    "/balances/ledger": ("list", "balance_ledger_entry", ()),
    "/brands": ("list", "brand", ()),
    "/brands/{id}": ("one", "brand", ("brand_id",)),
    "/checkout/supported_countries": ("countries", "", ()),
    "/credit-entitlements": ("list", "credit_entitlement", ()),
    "/credit-entitlements/{credit_entitlement_id}/balances": ("list", "credit_balance", ("credit_entitlement_id",)),
    "/credit-entitlements/{credit_entitlement_id}/balances/{customer_id}": (
        "one",
        "credit_balance",
        ("credit_entitlement_id", "customer_id"),
    ),
    "/credit-entitlements/{credit_entitlement_id}/balances/{customer_id}/grants": (
        "list",
        "credit_grant",
        ("credit_entitlement_id", "customer_id"),
    ),
    "/credit-entitlements/{credit_entitlement_id}/balances/{customer_id}/ledger": (
        "list",
        "credit_ledger_entry",
        ("credit_entitlement_id", "customer_id"),
    ),
    "/credit-entitlements/{id}": ("one", "credit_entitlement", ("credit_entitlement_id",)),
    "/customers": ("list", "customer", ()),
    "/customers/{customer_id}": ("one", "customer", ("customer_id",)),
    "/customers/{customer_id}/credit-entitlements": ("about", "customer", ("customer_id",)),
    "/customers/{customer_id}/entitlement-grants": ("list", "entitlement_grant", ("customer_id",)),
    "/customers/{customer_id}/entitlements": ("about", "customer", ("customer_id",)),
    "/customers/{customer_id}/payment-methods": ("about", "customer", ("customer_id",)),
    "/customers/{customer_id}/wallets": ("about", "customer", ("customer_id",)),
    "/customers/{customer_id}/wallets/ledger-entries": ("list", "wallet_ledger_entry", ("customer_id",)),
    "/discounts": ("list", "discount", ()),
    "/discounts/code/{code}": ("one", "discount", ("code",)),
    "/discounts/{discount_id}": ("one", "discount", ("discount_id",)),
    "/discounts/{discount_id}/customers": ("list", "discount_customer", ("discount_id",)),
    "/disputes": ("list", "dispute", ()),
    "/disputes/{dispute_id}": ("one", "dispute", ("dispute_id",)),
    "/entitlements": ("list", "entitlement", ()),
    "/entitlements/{id}": ("one", "entitlement", ("entitlement_id",)),
    "/entitlements/{id}/grants": ("list", "entitlement_grant", ("entitlement_id",)),
    "/events": ("list", "event", ()),
    "/events/{event_id}": ("one", "event", ("event_id",)),
    "/invoices/payments/{payment_id}": ("pdf", "payment", ("payment_id",)),
    "/invoices/payouts/{payout_id}": ("pdf", "payout", ("payout_id",)),
    "/invoices/refunds/{refund_id}": ("pdf", "refund", ("refund_id",)),
    "/license_key_instances": ("list", "license_key_instance", ()),
    "/license_key_instances/{id}": ("one", "license_key_instance", ("license_key_instance_id",)),
    "/license_keys": ("list", "license_key", ()),
    "/license_keys/{id}": ("one", "license_key", ("license_key_id",)),
    "/meters": ("list", "meter", ()),
    "/meters/{id}": ("one", "meter", ("meter_id",)),
    "/payments": ("list", "payment", ()),
    "/payments/{payment_id}": ("one", "payment", ("payment_id",)),
    "/payments/{payment_id}/line-items": ("about", "payment", ("payment_id",)),
    "/payouts": ("list", "payout", ()),
    "/payouts/{payout_id}/breakup": ("about", "payout", ("payout_id",)),
    "/payouts/{payout_id}/breakup/details": ("list", "payout_breakup_detail", ("payout_id",)),
    "/payouts/{payout_id}/breakup/details/csv": ("csv", "payout", ("payout_id",)),
    "/product-collections": ("list", "product_collection", ()),
    "/product-collections/{id}": ("one", "product_collection", ("product_collection_id",)),
    "/products": ("list", "product", ()),
    "/products/short_links": ("list", "short_link", ()),
    "/products/{id}": ("one", "product", ("product_id",)),
    "/products/{product_id}/localized-prices": ("list", "localized_price", ("product_id",)),
    "/products/{product_id}/localized-prices/{id}": ("one", "localized_price", ("product_id", "localized_price_id")),
    "/refunds": ("list", "refund", ()),
    "/refunds/{refund_id}": ("one", "refund", ("refund_id",)),
    "/subscriptions": ("list", "subscription", ()),
    "/subscriptions/{subscription_id}": ("one", "subscription", ("subscription_id",)),
    "/subscriptions/{subscription_id}/credit-usage": ("about", "subscription", ("subscription_id",)),
    "/subscriptions/{subscription_id}/usage-history": ("list", "usage_history", ("subscription_id",)),
    "/webhooks": ("list", "webhook", ()),
    "/webhooks/{webhook_id}": ("one", "webhook", ("webhook_id",)),
    "/webhooks/{webhook_id}/headers": ("about", "webhook", ("webhook_id",)),
    "/webhooks/{webhook_id}/secret": ("about", "webhook", ("webhook_id",)),
}

# The record that owns a nested list, by the links its path parameters name.
OWNERS = {
    ("customer_id",): "customer",
    ("credit_entitlement_id",): "credit_entitlement",
    ("credit_entitlement_id", "customer_id"): "credit_balance",
    ("entitlement_id",): "entitlement",
    ("discount_id",): "discount",
    ("payout_id",): "payout",
    ("product_id",): "product",
    ("subscription_id",): "subscription",
}


@dataclass(frozen=True)
class Listing:
    """A list's items, each serialised, and the body around them (the items' array first, so it splits cleanly)."""

    head: bytes
    items: tuple[bytes, ...]
    tail: bytes

    def page(self, size: int, number: int) -> bytes:
        """The body of one page."""
        return self.head + b",".join(self.items[size * number : size * (number + 1)]) + self.tail


@dataclass(frozen=True)
class Route:
    """A business read and everything the sandbox answers on it, by the values of its path parameters."""

    read: BusinessRead
    shape: Shape
    kind: str
    bodies: Mapping[tuple[str, ...], bytes | Listing]

    @property
    def noun(self) -> str:
        """What a 404 says was not found."""
        return self.kind.replace("_", " ").capitalize() or "Resource"


def _templates_by_length() -> dict[int, list[tuple[str, tuple[str, ...]]]]:
    by_length: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
    # A literal segment wins over a parameter: /products/short_links is not the product "short_links".
    for template in sorted(ROUTES, key=lambda template: [part.startswith("{") for part in template.split("/")]):
        segments = tuple(template[1:].split("/"))
        by_length.setdefault(len(segments), []).append((template, segments))
    return by_length


_TEMPLATES_BY_LENGTH = _templates_by_length()


def match(path: str) -> tuple[str, tuple[str, ...]] | None:
    """The template a request path matches, segment by segment as sent, and its decoded parameters; or None."""
    segments = path[1:].split("/") if path.startswith("/") else []
    for template, parts in _TEMPLATES_BY_LENGTH.get(len(segments), ()):
        values = []
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{"):
                if not segment:
                    break
                values.append(unquote(segment))
            elif part != segment:
                break
        else:
            return template, tuple(values)
    return None


class PageError(ValueError):
    """A page_size or page_number outside the documented bounds."""


class Catalogue:
    """Every business read's route, by path template; built once per process from the seeded records."""

    def __init__(self, records: Records, document: dict[str, Any]) -> None:
        self.records = records
        self._generator = Generator(document["components"]["schemas"], seed="sandbox")
        self.routes: dict[str, Route] = {}
        # The CSV download repeats the details list, so that is built first.
        reads = [read for read in business_reads(document) if read.path != CHECKOUT_READ]
        for read in sorted(reads, key=lambda read: ROUTES[read.path][0] == "csv"):
            self.routes[read.path] = self._route(read)

    def body(self, route: Route, values: tuple[str, ...], query: str) -> bytes | None:
        """The 200 body for these parameters; None when no record has them. Raises PageError for a bad page."""
        found = route.bodies.get(values)
        if not isinstance(found, Listing):
            return found
        if not route.read.paged:
            return found.page(len(found.items), 0)
        size, number = _page(query)
        return found.page(size, number)

    def _route(self, read: BusinessRead) -> Route:
        shape, kind, fields = ROUTES[read.path]
        if shape == "countries":
            enum = self._generator.resolve(read.schema["items"] if read.schema else {})["enum"]
            return Route(read, shape, kind, {(): json.dumps(enum).encode()})
        if shape == "list":
            # Every owner has a list, if an empty one: a customer without grants has grants, none of them.
            owners = {_values(owner, fields): owner for owner in self.records.by_kind.get(OWNERS.get(fields, ""), ())}
            groups: dict[tuple[str, ...], list[Record]] = {values: [] for values in owners} if fields else {(): []}
            for record in self.records.by_kind[kind]:
                groups.setdefault(_values(record, fields), []).append(record)
            return Route(
                read,
                shape,
                kind,
                {values: self._listing(read, items, owners.get(values)) for values, items in groups.items()},
            )
        bodies: dict[tuple[str, ...], bytes | Listing] = {}
        for record in self.records.by_kind[kind]:
            bodies[_values(record, fields)] = self._single(read, shape, record)
        return Route(read, shape, kind, bodies)

    def _single(self, read: BusinessRead, shape: Shape, record: Record) -> bytes:
        if shape == "pdf":
            return invoice_pdf(f"Invoice for {record.kind.replace('_', ' ')} {record.key}")
        if shape == "csv":
            # The download repeats the payout's detail rows, all of them.
            details = self.routes[DETAILS_READ].bodies[(record.key,)]
            assert isinstance(details, Listing)
            return breakup_csv([json.loads(item) for item in details.items])
        return json.dumps(self._render(read.schema or {}, record)).encode()

    def _listing(self, read: BusinessRead, records: list[Record], owner: Record | None) -> Listing:
        field, item_schema = self._items_schema(read)
        items = tuple(json.dumps(self._render(item_schema, record)).encode() for record in records)
        # The envelope's other fields (a wallet's total, a webhook list's iterator), its items left to the records.
        schema = self._generator.resolve(read.schema or {})
        others = {
            **schema,
            "properties": {name: value for name, value in schema["properties"].items() if name != field},
        }
        others["required"] = [name for name in schema.get("required", ()) if name != field]
        rest = json.dumps(self._generator.value(others, f"{read.path}/{owner.key if owner else ''}"))
        head = f'{{"{field}": ['.encode()
        tail = b"]" + (b"}" if rest == "{}" else b", " + rest[1:].encode())
        return Listing(head, items, tail)

    def _items_schema(self, read: BusinessRead) -> tuple[str, Any]:
        """The name of the array property a list's items fill, and the schema of one item."""
        envelope = self._generator.resolve(read.schema or {})
        for name in ("items", "data"):
            if name in envelope.get("properties", {}):
                return name, self._generator.resolve(envelope["properties"][name])["items"]
        message = f"{read.path}: no items or data array in its 200 schema"
        raise LookupError(message)

    def _render(self, schema: Any, record: Record) -> object:  # noqa: ANN401 - a JSON Schema
        place = f"{record.kind}/{record.links[link_name(record.kind)]}"
        return self._generator.value(schema, place, fixed=record.links, top=record.top)


def _values(record: Record, fields: tuple[str, ...]) -> tuple[str, ...]:
    """The path parameter values that find a record: its links, or top-level fields (a discount's code)."""
    return tuple(str(record.links.get(name, record.top.get(name))) for name in fields)


def _page(query: str) -> tuple[int, int]:
    """page_size (at most 100) and page_number of a query; PageError for a value that is not a whole number >= 0."""
    parameters = parse_qs(query, keep_blank_values=True)
    chosen = []
    for name, default in (("page_size", DEFAULT_PAGE_SIZE), ("page_number", 0)):
        text = parameters.get(name, [str(default)])[-1]
        if not text.isascii() or not text.isdigit():
            message = f"{name} must be a whole number of 0 or more, not {text!r}"
            raise PageError(message)
        chosen.append(int(text))
    return min(chosen[0], MAX_PAGE_SIZE), chosen[1]


_LOCK = threading.Lock()
_BUILT: dict[tuple[object, ...], Catalogue] = {}


def seeded_catalogue(seed: int, sessions: tuple[CheckoutSession, ...], products: tuple[Product, ...]) -> Catalogue:
    """The catalogue for these sessions and products, built on first use and shared: it never changes."""
    cache_key = (seed, sessions, products)
    with _LOCK:
        if cache_key not in _BUILT:
            _BUILT[cache_key] = Catalogue(seeded_records(seed, sessions, products), bundled_document())
        return _BUILT[cache_key]


def known_ids(catalogue: Catalogue, per_route: int = 3) -> dict[str, list[str]]:
    """A few path parameter values per set of parameters ("/" between several), by the route that reads one."""
    known: dict[str, list[str]] = {}
    seen: set[tuple[str, ...]] = set()
    for path, route in sorted(catalogue.routes.items(), key=lambda item: (item[1].shape != "one", item[0])):
        fields = ROUTES[path][2]
        if fields and fields not in seen:
            seen.add(fields)
            known[path] = ["/".join(values) for values in list(route.bodies)[:per_route]]
    return dict(sorted(known.items()))
