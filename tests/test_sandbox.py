"""The bundled sandbox is a real server on 127.0.0.1 that behaves as Dodo's test mode would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from dodopayments import DodoPayments, NotFoundError

from conformance.sandbox import Sandbox
from conformance.sandbox.sessions import INTENT_STATUSES
from conformance.spec import Contract


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def _get(sandbox: Sandbox, path: str, key: str | None = None, method: str = "GET") -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return requests.request(method, sandbox.base_url + path, headers=headers, timeout=60)


def test_sandbox_listens_on_loopback_only(sandbox: Sandbox) -> None:
    assert sandbox.base_url.startswith("http://127.0.0.1:")


def test_seeded_sessions_cover_the_details_stage_and_every_payment_status(sandbox: Sandbox) -> None:
    statuses = [
        _get(sandbox, f"/checkouts/{i}", sandbox.api_key).json()["payment_status"] for i in sandbox.checkout_ids
    ]
    assert statuses.count(None) == 1
    assert sorted(status for status in statuses if status is not None) == sorted(INTENT_STATUSES)


def test_every_seeded_session_validates_against_the_spec(sandbox: Sandbox, contract: Contract) -> None:
    for checkout_id in sandbox.checkout_ids:
        response = _get(sandbox, f"/checkouts/{checkout_id}", sandbox.api_key)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "application/json"
        errors = list(contract.validator.iter_errors(response.json()))
        assert errors == [], errors
        assert response.json()["id"] == checkout_id


@pytest.mark.parametrize("key", [None, "sk_wrong_key_123456"], ids=["no key", "wrong key"])
def test_a_missing_or_wrong_key_is_answered_401_with_a_json_error(sandbox: Sandbox, key: str | None) -> None:
    response = _get(sandbox, f"/checkouts/{sandbox.checkout_ids[0]}", key)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message"}


def test_an_unknown_id_is_answered_404(sandbox: Sandbox) -> None:
    response = _get(sandbox, "/checkouts/cks_doesnotexist000000000", sandbox.api_key)
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "TRACE", "QUERY"])
def test_any_other_method_is_answered_405(sandbox: Sandbox, method: str) -> None:
    response = _get(sandbox, f"/checkouts/{sandbox.checkout_ids[0]}", sandbox.api_key, method=method)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_the_official_sdk_in_strict_mode_retrieves_every_seeded_session(sandbox: Sandbox) -> None:
    client = DodoPayments(
        bearer_token=sandbox.api_key,
        base_url=sandbox.base_url,
        max_retries=0,
        _strict_response_validation=True,
    )
    for checkout_id in sandbox.checkout_ids:
        status = client.checkout_sessions.retrieve(checkout_id)
        assert status.id == checkout_id
        assert (status.payment_id is None) == (status.payment_status is None)


def test_the_official_sdk_sees_an_unknown_id_as_not_found(sandbox: Sandbox) -> None:
    client = DodoPayments(bearer_token=sandbox.api_key, base_url=sandbox.base_url, max_retries=0)
    with pytest.raises(NotFoundError):
        client.checkout_sessions.retrieve("cks_doesnotexist000000000")


def test_seeded_ids_are_the_same_on_every_start() -> None:
    with Sandbox() as first, Sandbox() as second:
        assert first.checkout_ids == second.checkout_ids
        assert first.api_key != second.api_key
