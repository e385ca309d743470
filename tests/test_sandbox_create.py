"""The sandbox creates checkout sessions with POST /checkouts, as Dodo's public spec describes it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
import requests
from dodopayments import AuthenticationError, DodoPayments, UnprocessableEntityError
from support import KEY

from conformance.sandbox import CheckoutApi, Sandbox, seeded_products, seeded_sessions
from conformance.sandbox.server import CREATED_EPOCH
from conformance.sandbox.variants import VARIANTS
from conformance.spec import Contract

SESSION_ID = re.compile(r"cks_[A-Za-z0-9]{21}")
PRODUCT = seeded_products()[0].id
VALID_CART = {"product_cart": [{"product_id": PRODUCT, "quantity": 1}]}
NEW_VARIANTS = ("created-session-late", "created-session-paid", "created-under-another-id", "created-session-lags")


def variant(name: str) -> CheckoutApi:
    return VARIANTS[name].api(KEY, seeded_sessions())


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(api=variant("reference")) as running:
        yield running


def _create(sandbox: Sandbox, body: object, key: str | None = KEY, path: str = "/checkouts") -> requests.Response:
    """POST a body (bytes as they are, anything else as JSON) to the sandbox."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return requests.post(sandbox.base_url + path, data=data, headers=headers, timeout=60)


def _read(sandbox: Sandbox, checkout_id: str) -> requests.Response:
    return requests.get(
        f"{sandbox.base_url}/checkouts/{checkout_id}", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    )


def _created_id(sandbox: Sandbox) -> str:
    response = _create(sandbox, VALID_CART)
    assert response.status_code == 200, response.text
    session_id: str = response.json()["session_id"]
    return session_id


def _sdk(sandbox: Sandbox, key: str = KEY) -> DodoPayments:
    return DodoPayments(bearer_token=key, base_url=sandbox.base_url, max_retries=0, _strict_response_validation=True)


# --- the seeded products ---------------------------------------------------------------


def test_three_products_are_seeded_the_same_on_every_call() -> None:
    products = seeded_products()
    assert len(products) == 3
    assert products == seeded_products()
    assert all(re.fullmatch(r"pdt_[A-Za-z0-9]{21}", product.id) for product in products)
    assert len({product.id for product in products}) == 3
    assert all(product.price > 0 and product.name and product.currency for product in products)


def test_another_seed_gives_other_products_and_leaves_the_sessions_alone() -> None:
    assert {product.id for product in seeded_products(1)}.isdisjoint(product.id for product in seeded_products())
    # The products draw from a generator of their own: the session ids are what they were before products existed.
    sessions = seeded_sessions()
    assert (sessions[0].id, sessions[-1].id) == ("cks_DhU4XgaOzyx7J3SdoVwgP", "cks_xomRXKdaoNLTAfmlKj4hq")


def test_the_sandbox_sells_the_seeded_products(sandbox: Sandbox) -> None:
    assert sandbox.product_ids == [product.id for product in seeded_products()]


# --- a valid cart ------------------------------------------------------------------------


def test_a_valid_cart_creates_a_session_at_the_details_stage(sandbox: Sandbox) -> None:
    response = _create(sandbox, VALID_CART)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"session_id", "checkout_url", "client_secret", "payment_id", "publishable_key"}
    assert SESSION_ID.fullmatch(body["session_id"])
    assert body["checkout_url"] == f"https://checkout.sandbox.invalid/session/{body['session_id']}"
    assert (body["client_secret"], body["payment_id"], body["publishable_key"]) == (None, None, None)


def test_a_created_session_is_readable_at_once_and_valid_against_the_spec(sandbox: Sandbox, contract: Contract) -> None:
    session_id = _created_id(sandbox)
    response = _read(sandbox, session_id)
    assert response.status_code == 200
    body = response.json()
    assert list(contract.validator.iter_errors(body)) == []
    assert body["id"] == session_id
    assert body["payment_id"] is None
    assert body["payment_status"] is None
    assert body["customer_email"] is None
    assert body["customer_name"] is None
    assert body["created_at"].endswith("Z")
    # Stamped by the sandbox's seeded clock, a whole second after its epoch per session created before it, so
    # that a recording made again does not change (issue 22).
    offset = (datetime.fromisoformat(body["created_at"]) - CREATED_EPOCH).total_seconds()
    assert offset.is_integer()
    assert 0 <= offset < len(sandbox.api.sessions)


def test_every_create_makes_a_new_session(sandbox: Sandbox) -> None:
    first, second = _created_id(sandbox), _created_id(sandbox)
    assert first != second
    assert _read(sandbox, first).json()["id"] == first
    assert _read(sandbox, second).json()["id"] == second


def test_sessions_created_at_once_from_many_threads_are_all_kept(sandbox: Sandbox) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        session_ids = list(pool.map(lambda _: _created_id(sandbox), range(40)))
    assert len(set(session_ids)) == 40
    assert all(session_id in sandbox.api.sessions for session_id in session_ids)
    assert all(_read(sandbox, session_id).status_code == 200 for session_id in session_ids)


def test_created_sessions_are_not_counted_among_the_seeded_ids(sandbox: Sandbox) -> None:
    session_id = _created_id(sandbox)
    assert sandbox.checkout_ids == [session.id for session in seeded_sessions()]
    assert session_id not in sandbox.checkout_ids


@pytest.mark.parametrize(
    "body",
    [
        # ProductItemReq's quantity has minimum 0, so an empty line is still a valid item.
        {"product_cart": [{"product_id": PRODUCT, "quantity": 0}]},
        {"product_cart": [{"product_id": product.id, "quantity": 3} for product in seeded_products()]},
        # Optional fields the sandbox does not act on are accepted, as unknown ones are.
        {**VALID_CART, "return_url": "https://example.com/back", "metadata": {"order": "42"}, "unheard_of": True},
    ],
    ids=["quantity zero", "every product", "other fields"],
)
def test_other_valid_carts_are_accepted(sandbox: Sandbox, body: dict[str, Any]) -> None:
    assert _create(sandbox, body).status_code == 200


def test_the_query_string_is_ignored(sandbox: Sandbox) -> None:
    response = _create(sandbox, VALID_CART, path="/checkouts?source=test")
    assert response.status_code == 200
    assert _read(sandbox, response.json()["session_id"]).status_code == 200


# --- requests that create nothing -------------------------------------------------------


@pytest.mark.parametrize("key", [None, "sk_wrong_key_123456"], ids=["no key", "wrong key"])
def test_a_missing_or_wrong_key_is_answered_401_and_creates_nothing(sandbox: Sandbox, key: str | None) -> None:
    stored = len(sandbox.api.sessions)
    response = _create(sandbox, VALID_CART, key=key)
    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHORIZED"
    assert len(sandbox.api.sessions) == stored


def test_a_wrong_key_is_refused_before_the_body_is_judged(sandbox: Sandbox) -> None:
    assert _create(sandbox, b"not json", key=None).status_code == 401


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
        (b"", "not JSON"),
        ([VALID_CART], "JSON object"),
        ({}, "product_cart is required"),
        ({"product_cart": None}, "product_cart must be an array"),
        ({"product_cart": {"product_id": PRODUCT, "quantity": 1}}, "product_cart must be an array"),
        ({"product_cart": []}, "at least one item"),
        ({"product_cart": [PRODUCT]}, "product_cart[0] must be an object"),
        ({"product_cart": [{"quantity": 1}]}, "product_cart[0].product_id must be a string"),
        ({"product_cart": [{"product_id": 42, "quantity": 1}]}, "product_cart[0].product_id must be a string"),
        ({"product_cart": [{"product_id": PRODUCT}]}, "product_cart[0].quantity is required"),
        ({"product_cart": [{"product_id": PRODUCT, "quantity": -1}]}, "product_cart[0].quantity must be an integer"),
        ({"product_cart": [{"product_id": PRODUCT, "quantity": 1.5}]}, "product_cart[0].quantity must be an integer"),
        ({"product_cart": [{"product_id": PRODUCT, "quantity": "1"}]}, "product_cart[0].quantity must be an integer"),
        ({"product_cart": [{"product_id": PRODUCT, "quantity": True}]}, "product_cart[0].quantity must be an integer"),
        ({"product_cart": [{"product_id": PRODUCT, "quantity": 2**31}]}, "product_cart[0].quantity must be an integer"),
        ({"product_cart": [VALID_CART["product_cart"][0], {"product_id": PRODUCT}]}, "product_cart[1].quantity"),
    ],
    ids=[
        "truncated JSON", "not UTF-8", "empty body", "array body", "no cart", "null cart", "object cart", "empty cart",
        "item not object", "no product_id", "product_id not string", "no quantity", "negative quantity",
        "fractional quantity", "quantity as string", "quantity true", "quantity beyond int32", "second item bad",
    ],
)  # fmt: skip
def test_an_invalid_cart_is_answered_422_naming_what_is_wrong(sandbox: Sandbox, body: object, named: str) -> None:
    stored = len(sandbox.api.sessions)
    response = _create(sandbox, body)
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_REQUEST_BODY"
    assert named in response.json()["message"]
    assert len(sandbox.api.sessions) == stored


def test_an_unknown_product_is_answered_422_naming_it(sandbox: Sandbox) -> None:
    stored = len(sandbox.api.sessions)
    unknown = "pdt_doesnotexist00000000"
    cart = {"product_cart": [VALID_CART["product_cart"][0], {"product_id": unknown, "quantity": 1}]}
    response = _create(sandbox, cart)
    assert response.status_code == 422
    assert response.json()["code"] == "PRODUCT_NOT_FOUND"
    assert unknown in response.json()["message"]
    assert "product_cart[1]" in response.json()["message"]
    assert len(sandbox.api.sessions) == stored


@pytest.mark.parametrize(("method", "path"), [("GET", "/checkouts"), ("PUT", "/checkouts"), ("POST", "/checkout")])
def test_only_post_to_checkouts_creates(sandbox: Sandbox, method: str, path: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    response = requests.request(method, sandbox.base_url + path, json=VALID_CART, headers=headers, timeout=60)
    assert response.status_code == 404


def test_a_post_to_a_session_is_still_answered_405(sandbox: Sandbox) -> None:
    response = _create(sandbox, VALID_CART, path=f"/checkouts/{sandbox.checkout_ids[0]}")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


# --- the official SDK ------------------------------------------------------------------


def test_the_official_sdk_in_strict_mode_creates_a_session_and_retrieves_it(sandbox: Sandbox) -> None:
    client = _sdk(sandbox)
    created = client.checkout_sessions.create(product_cart=[{"product_id": PRODUCT, "quantity": 1}])
    assert SESSION_ID.fullmatch(created.session_id)
    assert created.payment_id is None
    status = client.checkout_sessions.retrieve(created.session_id)
    assert status.id == created.session_id
    assert status.payment_id is None
    assert status.payment_status is None


def test_the_official_sdk_sees_an_unknown_product_as_unprocessable(sandbox: Sandbox) -> None:
    with pytest.raises(UnprocessableEntityError):
        _sdk(sandbox).checkout_sessions.create(product_cart=[{"product_id": "pdt_nope", "quantity": 1}])


def test_the_official_sdk_sees_a_wrong_key_as_an_authentication_error(sandbox: Sandbox) -> None:
    with pytest.raises(AuthenticationError):
        _sdk(sandbox, key="sk_wrong_key_123456").checkout_sessions.create(
            product_cart=[{"product_id": PRODUCT, "quantity": 1}]
        )


# --- the variants about created sessions ---------------------------------------------------


def _statuses_until_found(sandbox: Sandbox, checkout_id: str, most: int = 50) -> list[int]:
    """Read the session until it is found (at most `most` reads): the status of every read, in order."""
    statuses: list[int] = []
    while len(statuses) < most and 200 not in statuses:
        statuses.append(_read(sandbox, checkout_id).status_code)
    return statuses


def test_a_late_replica_answers_a_created_session_404_for_ten_reads_then_finds_it(serve: Any) -> None:
    sandbox = serve(variant("created-session-late"))
    session_id = _created_id(sandbox)
    assert _statuses_until_found(sandbox, session_id) == [404] * 10 + [200]
    assert _read(sandbox, session_id).json()["id"] == session_id


def test_a_short_lag_answers_a_created_session_404_twice_then_finds_it(serve: Any) -> None:
    sandbox = serve(variant("created-session-lags"))
    session_id = _created_id(sandbox)
    assert _statuses_until_found(sandbox, session_id) == [404, 404, 200]
    assert _read(sandbox, session_id).status_code == 200


def test_each_created_session_lags_on_its_own_reads(serve: Any) -> None:
    sandbox = serve(variant("created-session-lags"))
    first, second = _created_id(sandbox), _created_id(sandbox)
    assert _statuses_until_found(sandbox, first) == [404, 404, 200]
    assert _statuses_until_found(sandbox, second) == [404, 404, 200]


def test_a_created_session_that_reads_as_paid_has_both_payment_fields(serve: Any, contract: Contract) -> None:
    sandbox = serve(variant("created-session-paid"))
    response = _create(sandbox, VALID_CART)
    assert response.json()["payment_id"] is None
    body = _read(sandbox, response.json()["session_id"]).json()
    assert list(contract.validator.iter_errors(body)) == []
    assert body["payment_id"].startswith("pay_")
    assert body["payment_status"] == "succeeded"


def test_a_session_created_under_another_id_reads_with_a_body_naming_another_id(serve: Any, contract: Contract) -> None:
    sandbox = serve(variant("created-under-another-id"))
    session_id = _created_id(sandbox)
    response = _read(sandbox, session_id)
    assert response.status_code == 200
    body = response.json()
    assert list(contract.validator.iter_errors(body)) == []
    assert SESSION_ID.fullmatch(body["id"])
    assert body["id"] != session_id
    assert _read(sandbox, body["id"]).status_code == 404


@pytest.mark.parametrize("name", NEW_VARIANTS)
def test_the_created_session_variants_serve_seeded_sessions_as_the_reference_does(
    sandbox: Sandbox, serve: Any, name: str
) -> None:
    other = serve(variant(name))
    for checkout_id in [*sandbox.checkout_ids, "cks_doesnotexist000000000"]:
        ours, reference = _read(other, checkout_id), _read(sandbox, checkout_id)
        assert (ours.status_code, ours.content, ours.headers["Content-Type"]) == (
            reference.status_code,
            reference.content,
            reference.headers["Content-Type"],
        )


@pytest.mark.parametrize("name", NEW_VARIANTS)
def test_the_created_session_variants_are_registered_with_their_verdict(name: str) -> None:
    assert VARIANTS[name].conformant is (name == "created-session-lags")
    assert VARIANTS[name].description.endswith(".")
