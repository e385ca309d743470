"""The official SDK in strict mode, an oracle independent of the spec, reads the sandbox's business records."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dodopayments import APIResponseValidationError, DodoPayments
from support import KEY

from conformance.sandbox import CheckoutApi, Sandbox, seeded_sessions


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(api=CheckoutApi(KEY, seeded_sessions())) as running:
        yield running


@pytest.fixture(scope="module")
def client(sandbox: Sandbox) -> DodoPayments:
    return DodoPayments(bearer_token=KEY, base_url=sandbox.base_url, max_retries=0, _strict_response_validation=True)


def _ids(sandbox: Sandbox, template: str) -> list[str]:
    return [values[-1] for values in sandbox.api.catalogue.routes[template].bodies]


# The SDK's call, and the read whose every record it makes.
READS: dict[str, tuple[str, Callable[[DodoPayments, str], Any]]] = {
    "customers": ("/customers/{customer_id}", lambda sdk, key: sdk.customers.retrieve(key)),
    "refunds": ("/refunds/{refund_id}", lambda sdk, key: sdk.refunds.retrieve(key)),
    "disputes": ("/disputes/{dispute_id}", lambda sdk, key: sdk.disputes.retrieve(key)),
    "products": ("/products/{id}", lambda sdk, key: sdk.products.retrieve(key)),
    "addons": ("/addons/{id}", lambda sdk, key: sdk.addons.retrieve(key)),
    "brands": ("/brands/{id}", lambda sdk, key: sdk.brands.retrieve(key)),
    "discounts": ("/discounts/{discount_id}", lambda sdk, key: sdk.discounts.retrieve(key)),
    "license keys": ("/license_keys/{id}", lambda sdk, key: sdk.license_keys.retrieve(key)),
    "meters": ("/meters/{id}", lambda sdk, key: sdk.meters.retrieve(key)),
    "webhooks": ("/webhooks/{webhook_id}", lambda sdk, key: sdk.webhooks.retrieve(key)),
    "webhook secrets": ("/webhooks/{webhook_id}", lambda sdk, key: sdk.webhooks.retrieve_secret(key)),
    "usage events": ("/events/{event_id}", lambda sdk, key: sdk.usage_events.retrieve(key)),
}
LISTS: dict[str, Callable[[DodoPayments], Any]] = {
    "customers": lambda sdk: list(sdk.customers.list()),
    "refunds": lambda sdk: list(sdk.refunds.list()),
    "disputes": lambda sdk: list(sdk.disputes.list()),
    "products": lambda sdk: list(sdk.products.list()),
    "addons": lambda sdk: list(sdk.addons.list()),
    "discounts": lambda sdk: list(sdk.discounts.list()),
    "license keys": lambda sdk: list(sdk.license_keys.list()),
    "license key instances": lambda sdk: list(sdk.license_key_instances.list()),
    "meters": lambda sdk: list(sdk.meters.list()),
    "payouts": lambda sdk: list(sdk.payouts.list()),
    "webhooks": lambda sdk: list(sdk.webhooks.list()),
    "usage events": lambda sdk: list(sdk.usage_events.list()),
    "entitlements": lambda sdk: list(sdk.entitlements.list()),
    "credit entitlements": lambda sdk: list(sdk.credit_entitlements.list()),
    "product collections": lambda sdk: list(sdk.product_collections.list()),
    "balance ledger": lambda sdk: list(sdk.balances.retrieve_ledger()),
    "supported countries": lambda sdk: sdk.misc.list_supported_countries(),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_the_sdk_in_strict_mode_reads_every_record(sandbox: Sandbox, client: DodoPayments, name: str) -> None:
    template, call = READS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK deprecates its license key methods
        for key in _ids(sandbox, template):
            assert call(client, key) is not None


@pytest.mark.parametrize("name", sorted(LISTS))
def test_the_sdk_in_strict_mode_reads_every_list(client: DodoPayments, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert LISTS[name](client)


# SDK 1.123.0 requires fields the API gained after 1.113.0 (the spec the sandbox follows): the two disagree here.
NEWER_THAN_THE_SPEC: dict[str, tuple[str, Callable[[DodoPayments, str], Any], str]] = {
    "payment": ("/payments/{payment_id}", lambda sdk, key: sdk.payments.retrieve(key), "includes_usage"),
    "payment line items": (
        "/payments/{payment_id}",
        lambda sdk, key: sdk.payments.retrieve_line_items(key),
        "partial_refund_allowed",
    ),
    "subscription": (
        "/subscriptions/{subscription_id}",
        lambda sdk, key: sdk.subscriptions.retrieve(key),
        "has_payment_method",
    ),
}


@pytest.mark.parametrize("name", sorted(NEWER_THAN_THE_SPEC))
def test_the_sdk_requires_fields_that_1_113_0_does_not_have(sandbox: Sandbox, client: DodoPayments, name: str) -> None:
    template, call, field = NEWER_THAN_THE_SPEC[name]
    with pytest.raises(APIResponseValidationError) as refused:
        call(client, _ids(sandbox, template)[0])
    assert field in str(refused.value.__cause__)
