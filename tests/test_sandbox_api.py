"""The bundled sandbox serves every business GET of Dodo's public spec 1.113.0 from seeded, consistent records."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from support import KEY

from conformance.sandbox import CheckoutApi, Sandbox, resource_lines, seeded_sessions
from conformance.sandbox.catalogue import ROUTES
from conformance.sandbox.reads import business_reads

SPEC = Path(__file__).resolve().parents[1] / "spec" / "dodo-openapi-1.113.0.json"
DOCUMENT: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
DOCUMENT_URI = "urn:dodo-1.113.0"
METHODS = ("get", "put", "post", "delete", "patch", "head", "trace")
INVENTED = "zzz_doesnotexist0000000000"


def _business_gets() -> dict[str, dict[str, Any]]:
    """The rule, applied independently of the sandbox: every GET not tagged "Docs"."""
    return {
        path: item["get"]
        for path, item in DOCUMENT["paths"].items()
        if "get" in item and "Docs" not in item["get"].get("tags", ())
    }


GETS = _business_gets()
SECURED = sorted(path for path, operation in GETS.items() if operation.get("security"))
PAGED = sorted(
    path
    for path, operation in GETS.items()
    if {"page_size", "page_number"} <= {parameter["name"] for parameter in operation.get("parameters", ())}
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(api=CheckoutApi(KEY, seeded_sessions())) as running:
        yield running


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _get(http: requests.Session, sandbox: Sandbox, path: str, key: str | None = KEY) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return http.get(sandbox.base_url + path, headers=headers, timeout=60, allow_redirects=False)


def _json(http: requests.Session, sandbox: Sandbox, path: str) -> Any:
    response = _get(http, sandbox, path)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


def _filled(template: str, values: tuple[str, ...]) -> str:
    """The template with its path parameters replaced, in order, by the values."""
    parts = iter(values)
    return re.sub(r"\{[^}]+\}", lambda _: next(parts), template)


def _known_values(sandbox: Sandbox, template: str) -> list[tuple[str, ...]]:
    """Every parameter tuple the sandbox holds a record for on this read."""
    if template == "/checkouts/{id}":
        return [(checkout_id,) for checkout_id in sandbox.checkout_ids]
    return list(sandbox.api.catalogue.routes[template].bodies)


def _validator(template: str, media_type: str = "application/json") -> Draft202012Validator:
    pointer = "/paths/" + template.replace("~", "~0").replace("/", "~1")
    pointer += "/get/responses/200/content/" + media_type.replace("/", "~1") + "/schema"
    registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(DOCUMENT))
    return Draft202012Validator(
        {"$ref": DOCUMENT_URI + "#" + pointer}, registry=registry, format_checker=FormatChecker()
    )


# --- which reads ---------------------------------------------------------------------------


def test_the_spec_has_115_paths_and_156_operations_of_which_65_are_business_gets() -> None:
    operations = [method for item in DOCUMENT["paths"].values() for method in item if method in METHODS]
    assert (len(DOCUMENT["paths"]), len(operations)) == (115, 156)
    assert operations.count("get") == 80
    assert len(GETS) == 65
    assert sum("{" in path for path in GETS) == 44
    assert len(SECURED) == 61


def test_the_sandbox_reads_exactly_the_business_gets_by_the_stated_rule() -> None:
    reads = business_reads(DOCUMENT)
    assert [read.path for read in reads] == list(GETS)
    assert set(ROUTES) | {"/checkouts/{id}"} == set(GETS)
    assert sorted(read.path for read in reads if not read.secured) == [
        "/checkout/supported_countries",
        "/invoices/payments/{payment_id}",
        "/invoices/payouts/{payout_id}",
        "/invoices/refunds/{refund_id}",
    ]
    media = [read.media_type for read in reads]
    assert (media.count("application/json"), media.count("application/pdf"), media.count("text/csv")) == (61, 3, 1)


# --- every read answers 200 with a valid body -----------------------------------------------


@pytest.mark.parametrize("template", sorted(GETS))
def test_every_business_read_answers_200_with_a_body_valid_against_its_schema(
    sandbox: Sandbox, http: requests.Session, template: str
) -> None:
    media_type = next(iter(GETS[template]["responses"]["200"]["content"]))
    known = _known_values(sandbox, template)
    assert known, f"no seeded record for {template}"
    for values in known:
        response = _get(http, sandbox, _filled(template, values))
        assert response.status_code == 200, (template, values, response.text)
        assert response.headers["Content-Type"] == media_type
        if media_type == "application/pdf":
            assert response.content.startswith(b"%PDF-")
            assert response.content.rstrip().endswith(b"%%EOF")
        elif media_type == "text/csv":
            rows = list(csv.reader(io.StringIO(response.text)))
            assert len(rows) > 1
            assert all(len(row) == len(rows[0]) for row in rows)
        else:
            errors = [error.message for error in _validator(template).iter_errors(response.json())]
            assert errors == [], (template, values, errors[:3])


def test_the_breakup_csv_holds_the_same_rows_as_the_breakup_details(sandbox: Sandbox, http: requests.Session) -> None:
    for payout in _json(http, sandbox, "/payouts?page_size=100")["items"]:
        details = _json(http, sandbox, f"/payouts/{payout['payout_id']}/breakup/details?page_size=100")["items"]
        text = _get(http, sandbox, f"/payouts/{payout['payout_id']}/breakup/details/csv").text
        rows = list(csv.DictReader(io.StringIO(text)))
        assert [row["id"] for row in rows] == [detail["id"] for detail in details]


def test_metadata_values_are_never_whole_numbers_which_the_spec_makes_invalid(
    sandbox: Sandbox, http: requests.Session
) -> None:
    seen: list[object] = []
    for path in ("/payments", "/customers", "/subscriptions", "/refunds", "/discounts"):
        for item in _json(http, sandbox, path + "?page_size=100")["items"]:
            seen.extend(item.get("metadata", {}).values())
    assert seen
    assert not [value for value in seen if isinstance(value, int) and not isinstance(value, bool)]
    assert any(isinstance(value, float) for value in seen)


# --- the records agree with each other ------------------------------------------------------

# A list, the field of its items that names a record, and the read that finds the record by it.
RESOLVING = [
    ("/addons", "items", "id", "/addons/{}"),
    ("/brands", "items", "brand_id", "/brands/{}"),
    ("/credit-entitlements", "items", "id", "/credit-entitlements/{}"),
    ("/customers", "items", "customer_id", "/customers/{}"),
    ("/discounts", "items", "discount_id", "/discounts/{}"),
    ("/discounts", "items", "code", "/discounts/code/{}"),
    ("/disputes", "items", "dispute_id", "/disputes/{}"),
    ("/disputes", "items", "payment_id", "/payments/{}"),
    ("/entitlements", "items", "id", "/entitlements/{}"),
    ("/events", "items", "event_id", "/events/{}"),
    ("/license_key_instances", "items", "id", "/license_key_instances/{}"),
    ("/license_key_instances", "items", "license_key_id", "/license_keys/{}"),
    ("/license_keys", "items", "id", "/license_keys/{}"),
    ("/meters", "items", "id", "/meters/{}"),
    ("/payments", "items", "payment_id", "/payments/{}"),
    ("/payments", "items", "payment_id", "/payments/{}/line-items"),
    ("/payments", "items", "payment_id", "/invoices/payments/{}"),
    ("/payouts", "items", "payout_id", "/payouts/{}/breakup"),
    ("/payouts", "items", "payout_id", "/invoices/payouts/{}"),
    ("/product-collections", "items", "id", "/product-collections/{}"),
    ("/products", "items", "product_id", "/products/{}"),
    ("/products/short_links", "items", "product_id", "/products/{}"),
    ("/refunds", "items", "refund_id", "/refunds/{}"),
    ("/refunds", "items", "refund_id", "/invoices/refunds/{}"),
    ("/refunds", "items", "payment_id", "/payments/{}"),
    ("/subscriptions", "items", "subscription_id", "/subscriptions/{}"),
    ("/webhooks", "data", "id", "/webhooks/{}"),
    ("/webhooks", "data", "id", "/webhooks/{}/secret"),
]


@pytest.mark.parametrize("row", RESOLVING, ids=[f"{row[0]} {row[2]} {row[3]}" for row in RESOLVING])
def test_every_id_a_list_returns_resolves_in_the_matching_read(
    sandbox: Sandbox, http: requests.Session, row: tuple[str, str, str, str]
) -> None:
    listing, array, field, read = row
    items = _json(http, sandbox, listing + ("?page_size=100" if listing in PAGED else ""))[array]
    assert items
    for item in items:
        response = _get(http, sandbox, read.format(item[field]))
        assert response.status_code == 200, (listing, item[field], response.status_code)
        if not read.startswith("/invoices/") and read.endswith("{}"):
            body = response.json()
            assert body[field if field in body else "id"] == item[field]
            # Where the read finds the listed record itself, the two shapes agree on the fields they share.
            if read.removesuffix("/{}").removesuffix("/code") == listing:
                shared = {name for name in item if name in body} & {"created_at", "currency", "name"}
                assert {name: body[name] for name in shared} == {name: item[name] for name in shared}


def test_each_checkout_sessions_payment_is_a_payment_of_that_session(sandbox: Sandbox, http: requests.Session) -> None:
    for session in seeded_sessions():
        if session.payment_id is None:
            continue
        payment = _json(http, sandbox, f"/payments/{session.payment_id}")
        assert (payment["payment_id"], payment["checkout_session_id"]) == (session.payment_id, session.id)
        assert payment.get("status") == session.payment_status


def test_credit_balances_grants_and_ledgers_belong_to_their_entitlement_and_customer(
    sandbox: Sandbox, http: requests.Session
) -> None:
    for entitlement in _json(http, sandbox, "/credit-entitlements")["items"]:
        ce = entitlement["id"]
        balances = _json(http, sandbox, f"/credit-entitlements/{ce}/balances")["items"]
        assert balances
        for balance in balances:
            assert balance["credit_entitlement_id"] == ce
            customer = balance["customer_id"]
            assert _json(http, sandbox, f"/customers/{customer}")["customer_id"] == customer
            one = _json(http, sandbox, f"/credit-entitlements/{ce}/balances/{customer}")
            assert (one["id"], one["credit_entitlement_id"], one["customer_id"]) == (balance["id"], ce, customer)
            rows = [
                row
                for part in ("grants", "ledger")
                for row in _json(http, sandbox, f"/credit-entitlements/{ce}/balances/{customer}/{part}")["items"]
            ]
            assert rows
            assert {(row["credit_entitlement_id"], row["customer_id"]) for row in rows} == {(ce, customer)}


def test_a_customers_grants_wallets_and_ledger_entries_are_that_customers(
    sandbox: Sandbox, http: requests.Session
) -> None:
    for customer in _json(http, sandbox, "/customers")["items"]:
        cid = customer["customer_id"]
        for part in ("entitlement-grants", "wallets", "wallets/ledger-entries"):
            rows = _json(http, sandbox, f"/customers/{cid}/{part}")["items"]
            assert {row["customer_id"] for row in rows} <= {cid}


def test_grants_prices_and_credit_usage_belong_to_their_parent(sandbox: Sandbox, http: requests.Session) -> None:
    for entitlement in _json(http, sandbox, "/entitlements")["items"]:
        grants = _json(http, sandbox, f"/entitlements/{entitlement['id']}/grants")["items"]
        assert grants
        assert {grant["entitlement_id"] for grant in grants} == {entitlement["id"]}
    for product in _json(http, sandbox, "/products")["items"]:
        pid = product["product_id"]
        prices = _json(http, sandbox, f"/products/{pid}/localized-prices")["items"]
        assert prices
        assert {price["product_id"] for price in prices} == {pid}
        for price in prices:
            assert _json(http, sandbox, f"/products/{pid}/localized-prices/{price['id']}")["id"] == price["id"]
    for subscription in _json(http, sandbox, "/subscriptions")["items"]:
        sid = subscription["subscription_id"]
        assert _json(http, sandbox, f"/subscriptions/{sid}/credit-usage")["subscription_id"] == sid


def test_a_nested_record_is_not_found_under_another_parent(sandbox: Sandbox, http: requests.Session) -> None:
    first, second = (product["product_id"] for product in _json(http, sandbox, "/products")["items"][:2])
    price = _json(http, sandbox, f"/products/{first}/localized-prices")["items"][0]["id"]
    assert _get(http, sandbox, f"/products/{second}/localized-prices/{price}").status_code == 404
    ce = _json(http, sandbox, "/credit-entitlements")["items"][0]["id"]
    assert _get(http, sandbox, f"/credit-entitlements/{ce}/balances/{INVENTED}").status_code == 404


# --- pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("template", PAGED)
def test_lists_honour_page_size_and_page_number_within_the_documented_bounds(
    sandbox: Sandbox, http: requests.Session, template: str
) -> None:
    path = _filled(template, _known_values(sandbox, template)[0])
    everything = _json(http, sandbox, f"{path}?page_size=100")["items"]
    assert everything
    pages = [_json(http, sandbox, f"{path}?page_size=2&page_number={number}")["items"] for number in range(6)]
    assert all(len(page) <= 2 for page in pages)
    assert [item for page in pages for item in page] == everything[:12]
    assert _json(http, sandbox, path)["items"] == everything[:10]
    assert _json(http, sandbox, f"{path}?page_size=1&page_number=99")["items"] == []
    # Above the documented maximum of 100 the size is capped, never refused.
    assert _json(http, sandbox, f"{path}?page_size=1000")["items"] == everything[:100]
    for bad in ("page_size=-1", "page_number=x", "page_size="):
        assert _get(http, sandbox, f"{path}?{bad}").status_code == 422


def test_a_list_longer_than_the_default_page_is_cut_at_ten(sandbox: Sandbox, http: requests.Session) -> None:
    everything = _json(http, sandbox, "/payments?page_size=100")["items"]
    assert len(everything) == 11
    assert len(_json(http, sandbox, "/payments")["items"]) == 10
    assert _json(http, sandbox, "/payments?page_number=1")["items"] == everything[10:]


# --- auth and errors ------------------------------------------------------------------------


@pytest.mark.parametrize("template", SECURED)
@pytest.mark.parametrize("key", [None, "sk_test_wrong_key_0000000000"], ids=["no key", "wrong key"])
def test_every_secured_read_answers_401_without_the_key(
    sandbox: Sandbox, http: requests.Session, template: str, key: str | None
) -> None:
    response = _get(http, sandbox, _filled(template, _known_values(sandbox, template)[0]), key)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}


@pytest.mark.parametrize("template", sorted(set(GETS) - set(SECURED)))
def test_the_reads_without_security_answer_without_a_key(
    sandbox: Sandbox, http: requests.Session, template: str
) -> None:
    assert _get(http, sandbox, _filled(template, _known_values(sandbox, template)[0]), None).status_code == 200


@pytest.mark.parametrize("template", sorted(path for path in GETS if "{" in path))
def test_an_unknown_id_in_any_place_is_answered_404(sandbox: Sandbox, http: requests.Session, template: str) -> None:
    known = _known_values(sandbox, template)[0]
    for place in range(len(known)):
        values = (*known[:place], INVENTED, *known[place + 1 :])
        response = _get(http, sandbox, _filled(template, values))
        assert response.status_code == 404, (template, values)
        assert response.json()["code"] == "NOT_FOUND"


def test_a_path_outside_the_spec_is_404_and_other_methods_are_405(sandbox: Sandbox, http: requests.Session) -> None:
    assert _get(http, sandbox, "/payments/extra/segment").status_code == 404
    assert _get(http, sandbox, "/docs").status_code == 404
    response = http.post(sandbox.base_url + "/customers", headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    assert (response.status_code, response.headers["Allow"]) == (405, "GET")


def test_resource_lines_name_ids_that_the_sandbox_serves(sandbox: Sandbox, http: requests.Session) -> None:
    lines = resource_lines(sandbox)
    assert len(lines) > 20
    for line in lines[1:]:
        template, ids = line.strip().split(": ", 1)
        first = ids.split(", ")[0]
        assert _get(http, sandbox, _filled(template, tuple(first.split("/")))).status_code == 200, line


# --- the same every time -------------------------------------------------------------------

# Started in another process (another hash seed, another start time): prints a digest of every body it serves.
_DIGEST_SCRIPT = """
import hashlib, json, re, sys
import requests
from conformance.sandbox import CheckoutApi, Sandbox, seeded_sessions
from conformance.sandbox.catalogue import ROUTES
KEY = sys.argv[1]
cart = {"product_cart": [{"product_id": "%s", "quantity": 1}]}
with Sandbox(api=CheckoutApi(KEY, seeded_sessions())) as sandbox:
    auth = {"Authorization": "Bearer " + KEY}
    digest = hashlib.sha256()
    for template in sorted(ROUTES):
        for values in sandbox.api.catalogue.routes[template].bodies:
            parts = iter(values)
            path = re.sub(r"\\{[^}]+\\}", lambda _: next(parts), template)
            digest.update(path.encode() + requests.get(sandbox.base_url + path, headers=auth, timeout=60).content)
    for _ in range(3):
        created = requests.post(sandbox.base_url + "/checkouts", json=cart, headers=auth, timeout=60).json()
        read = requests.get(sandbox.base_url + "/checkouts/" + created["session_id"], headers=auth, timeout=60)
        digest.update(read.content)
    print(digest.hexdigest())
"""


def _digest_in_a_new_process(hash_seed: str) -> str:
    product = next(iter(CheckoutApi(KEY, seeded_sessions()).products))
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-c", _DIGEST_SCRIPT % product, KEY],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_two_sandboxes_started_apart_serve_identical_bodies_and_create_identical_sessions() -> None:
    first = _digest_in_a_new_process("1")
    second = _digest_in_a_new_process("2")
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first == second


def test_created_sessions_take_the_same_ids_and_times_in_every_sandbox() -> None:
    def created(api: CheckoutApi) -> list[tuple[str, str]]:
        sessions = [api.new_session() for _ in range(3)]
        return [(session.id, session.created_at) for session in sessions]

    first, second = created(CheckoutApi(KEY, seeded_sessions())), created(CheckoutApi(KEY, seeded_sessions()))
    assert first == second
    assert len({session_id for session_id, _ in first}) == 3
    assert [created_at for _, created_at in first] == sorted(created_at for _, created_at in first)


@pytest.mark.parametrize("path", ["/payments/", "/payments//", "/payments/%2F", "/customers//wallets", "/Payments"])
def test_a_path_that_differs_from_a_template_by_its_syntax_is_not_served(
    sandbox: Sandbox, http: requests.Session, path: str
) -> None:
    assert _get(http, sandbox, path).status_code == 404


def test_a_path_no_business_read_has_never_builds_the_records() -> None:
    api = CheckoutApi(KEY, seeded_sessions())
    assert api.handle("GET", "/checkouts/x/../y", {"Authorization": f"Bearer {KEY}"}).status == 404
    assert api._catalogue is None  # noqa: SLF001 - the laziness is the point


def test_sessions_that_no_one_paid_leave_the_payments_empty_and_every_other_read_served() -> None:
    unpaid = tuple(session for session in seeded_sessions() if session.payment_id is None)
    with Sandbox(api=CheckoutApi(KEY, unpaid)) as sandbox, requests.Session() as http:
        assert _json(http, sandbox, "/payments")["items"] == []
        assert _json(http, sandbox, "/customers")["items"]
