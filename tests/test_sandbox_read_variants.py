"""Each read fault shows on the wire in the one read it breaks, and each look-alike stays valid."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from support import KEY

from conformance.sandbox import CheckoutApi, Sandbox, seeded_sessions
from conformance.sandbox.read_variants import READ_FAULTS, READ_LOOK_ALIKES

SPEC = Path(__file__).resolve().parents[1] / "spec" / "dodo-openapi-1.113.0.json"
DOCUMENT: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
REGISTRY: Registry[Any] = Registry().with_resource("urn:dodo", DRAFT202012.create_resource(DOCUMENT))
AUTH = {"Authorization": f"Bearer {KEY}"}


def _errors(template: str, body: object) -> list[str]:
    pointer = "/paths/" + template.replace("/", "~1") + "/get/responses/200/content/application~1json/schema"
    validator = Draft202012Validator({"$ref": f"urn:dodo#{pointer}"}, registry=REGISTRY, format_checker=FormatChecker())
    return [error.message for error in validator.iter_errors(body)]


def _serve(variant: type[CheckoutApi]) -> Sandbox:
    return Sandbox(api=variant(KEY, seeded_sessions()))


@pytest.fixture(scope="module")
def reference() -> Iterator[Sandbox]:
    with _serve(CheckoutApi) as sandbox:
        yield sandbox


def _filled(template: str, values: tuple[str, ...]) -> str:
    parts = iter(values)
    return re.sub(r"\{[^}]+\}", lambda _: next(parts), template)


def _bodies(sandbox: Sandbox, template: str, *, auth: bool = True) -> list[requests.Response]:
    """The answers to the read of every seeded record of a template."""
    headers = AUTH if auth else {}
    return [
        requests.get(sandbox.base_url + _filled(template, values), headers=headers, timeout=60)
        for values in sandbox.api.catalogue.routes[template].bodies
    ]


@pytest.mark.parametrize(
    ("name", "template"),
    [("payment-without-currency", "/payments/{payment_id}"), ("customer-created-at-epoch", "/customers/{customer_id}")],
)
def test_a_body_fault_makes_exactly_one_record_of_its_read_invalid(
    reference: Sandbox, name: str, template: str
) -> None:
    with _serve(READ_FAULTS[name]) as sandbox:
        invalid = [answer for answer in _bodies(sandbox, template) if _errors(template, answer.json())]
    assert len(invalid) == 1
    assert not [answer for answer in _bodies(reference, template) if _errors(template, answer.json())]


def test_the_server_error_fault_answers_500_for_one_refund() -> None:
    with _serve(READ_FAULTS["refund-server-error"]) as sandbox:
        statuses = [answer.status_code for answer in _bodies(sandbox, "/refunds/{refund_id}")]
    assert statuses.count(500) == 1
    assert set(statuses) == {200, 500}


def test_the_any_id_fault_answers_200_for_a_dispute_never_issued(reference: Sandbox) -> None:
    path = "/disputes/dsp_neverissued00000000000"
    assert requests.get(reference.base_url + path, headers=AUTH, timeout=60).status_code == 404
    with _serve(READ_FAULTS["dispute-for-any-id"]) as sandbox:
        assert requests.get(sandbox.base_url + path, headers=AUTH, timeout=60).status_code == 200


def test_the_list_without_auth_fault_answers_the_customers_without_a_key() -> None:
    with _serve(READ_FAULTS["customer-list-without-key"]) as sandbox:
        assert requests.get(sandbox.base_url + "/customers", timeout=60).status_code == 200
        assert requests.get(sandbox.base_url + "/payments", timeout=60).status_code == 401


def test_the_unresolvable_listing_fault_lists_a_key_it_cannot_read() -> None:
    with _serve(READ_FAULTS["license-key-listed-not-readable"]) as sandbox:
        listed = requests.get(sandbox.base_url + "/license_keys", headers=AUTH, timeout=60).json()["items"]
        statuses = [
            requests.get(f"{sandbox.base_url}/license_keys/{item['id']}", headers=AUTH, timeout=60).status_code
            for item in listed
        ]
    assert sorted(statuses) == [200] * (len(statuses) - 1) + [404]


@pytest.mark.parametrize("name", sorted(READ_LOOK_ALIKES))
def test_a_look_alike_answers_every_json_read_with_a_valid_body(name: str) -> None:
    with _serve(READ_LOOK_ALIKES[name]) as sandbox:
        for template, route in sandbox.api.catalogue.routes.items():
            for answer in _bodies(sandbox, template, auth=route.read.secured):
                assert answer.status_code == 200
                if answer.headers["Content-Type"].startswith("application/json"):
                    assert _errors(template, answer.json()) == [], template
