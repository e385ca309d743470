"""A second operation is a descriptor: GET /widgets/{id}, judged by the generic checks through the engine's API.

The widget server is a few lines of http.server on 127.0.0.1, started here; its spec is written here too. Nothing
of the gate is changed for it: the test writes one `Operation` and passes it to `engine.run`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from conformance import engine
from conformance.checks import checks_for
from conformance.operation import Operation
from conformance.operations import REGISTRY
from conformance.operations.checkout import CHECKOUT
from conformance.settings import Flags, build_settings

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

CHECKOUT_CHECK_IDS = frozenset(check.id for check in CHECKOUT.checks)
KEY = "sk_test_widget_secret_key_8c1d2e"
KNOWN = ("wid_Known00000000000000001", "wid_Known00000000000000002")
SKU = "sku_Widget0000000000000009"

WIDGET = Operation(
    method="GET",
    path="/widgets/{id}",
    schema="Widget",
    summary="Get Widget",
    noun="widget",
    id_noun="widget id",
    id_prefix="wid_",
    private_data="its owner, its other values",
    related_id_fields=("sku",),
)

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Widgets", "version": "0.1.0"},
    "paths": {
        "/widgets/{id}": {
            "get": {
                "summary": "Get Widget",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "security": [{"API_KEY": []}],
                "responses": {
                    "200": {
                        "description": "The widget",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Widget"}}},
                    },
                    "401": {"description": "No valid key"},
                    "404": {"description": "No such widget"},
                },
            }
        }
    },
    "components": {
        "securitySchemes": {"API_KEY": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Widget": {
                "type": "object",
                "required": ["id", "name", "owner", "created_at"],
                "properties": {
                    "id": {"type": "string"},
                    "name": {"type": "string"},
                    "owner": {"type": "string"},
                    "sku": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            }
        },
    },
}


@dataclass
class Widgets:
    """How the widget server answers: conformant unless one fault is switched on."""

    invented_found: bool = False
    drops_name: bool = False
    found_by_sku: bool = False
    ignores_key: bool = False
    paths: list[str] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.paths.append(path)
            self.keys.append(authorization)
        if not self.ignores_key and authorization != f"Bearer {KEY}":
            return 401, {"code": "UNAUTHORIZED", "message": "a valid key is required"}
        rest = urlsplit(path).path.removeprefix("/widgets/")
        widget_id = unquote(rest) if path.startswith("/widgets/") and "/" not in rest else None
        if widget_id == SKU and self.found_by_sku:
            widget_id = KNOWN[0]
        found = widget_id in KNOWN or (self.invented_found and widget_id is not None and widget_id.startswith("wid_"))
        if widget_id is None or not found:
            return 404, {"code": "NOT_FOUND", "message": "no such widget"}
        body = {
            "id": widget_id,
            "name": "sprocket",
            "owner": f"owner-of-{widget_id}@example.com",
            "sku": SKU,
            "created_at": "2026-01-01T00:00:00Z",
        }
        if self.drops_name:
            del body["name"]
        return 200, body


@pytest.fixture
def widgets() -> Iterator[tuple[Widgets, str]]:
    """A widget server on 127.0.0.1, stopped after the test."""
    state = Widgets()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, body = state.answer(self.path, self.headers.get("Authorization"))
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        # HEAD is GET without the body (RFC 9110 section 9.3.2), the key checked alike.
        do_HEAD = do_GET  # noqa: N815 - the name http.server looks up

        def log_message(self, *args: Any) -> None:
            del args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _run(base_url: str, tmp_path: Path, operation: Operation = WIDGET) -> engine.Outcome:
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = tmp_path / "widgets.yaml"
    spec.write_text(yaml.safe_dump(SPEC), encoding="utf-8")
    settings = build_settings(
        Flags(
            base_url=base_url, api_key=KEY, checkout_ids=KNOWN, spec=spec, report_dir=tmp_path / "reports",
            max_examples=10, request_timeout=60.0,
        ),
        environ={},
    )  # fmt: skip
    return engine.run(settings, say=lambda _: None, operation=operation)


def _failed(outcome: engine.Outcome) -> set[str]:
    return {check.id for check in outcome.record.checks if check.failed}


def _passed(outcome: engine.Outcome, check_id: str) -> int:
    return next(check.passed for check in outcome.record.checks if check.id == check_id)


def test_a_conformant_widget_server_passes_every_generic_check_under_the_widget_s_own_ids(
    widgets: tuple[Widgets, str], tmp_path: Path
) -> None:
    state, base_url = widgets
    outcome = _run(base_url, tmp_path)
    assert outcome.exit_code == 0, outcome.record.result.reason
    ids = [check.id for check in outcome.record.checks]
    assert ids == list(checks_for(WIDGET))
    assert "widget.unknown_not_found" in ids
    assert not [check_id for check_id in ids if check_id in CHECKOUT_CHECK_IDS]
    for check_id in ("response.schema", "widget.known_found", "widget.unknown_not_found", "auth.missing_key"):
        assert _passed(outcome, check_id) > 0, check_id
    # Every request went to the widget's path template, and none to the checkout's.
    assert state.paths
    assert all(path.startswith("/widgets/") for path in state.paths)
    assert outcome.record.run.requests_sent == len(state.paths)


def test_a_widget_server_that_finds_an_invented_id_fails_widget_unknown_not_found(
    widgets: tuple[Widgets, str], tmp_path: Path
) -> None:
    state, base_url = widgets
    state.invented_found = True
    outcome = _run(base_url, tmp_path)
    assert outcome.exit_code == 1
    assert "widget.unknown_not_found" in _failed(outcome)


def test_a_widget_server_that_drops_a_required_field_fails_response_schema(
    widgets: tuple[Widgets, str], tmp_path: Path
) -> None:
    state, base_url = widgets
    state.drops_name = True
    outcome = _run(base_url, tmp_path)
    assert outcome.exit_code == 1
    assert _failed(outcome) == {"response.schema"}
    finding = next(check for check in outcome.record.checks if check.id == "response.schema").findings[0]
    assert "'name' is a required property" in finding.received
    assert finding.expected == "a body valid against #/components/schemas/Widget"


def test_a_widget_server_that_finds_a_widget_by_its_sku_fails_widget_unknown_not_found(
    widgets: tuple[Widgets, str], tmp_path: Path
) -> None:
    # The descriptor's related_id_fields: the sku a known widget's body names is asked for as a widget id.
    state, base_url = widgets
    state.found_by_sku = True
    outcome = _run(base_url, tmp_path)
    assert outcome.exit_code == 1
    finding = next(check for check in outcome.record.checks if check.id == "widget.unknown_not_found").findings[0]
    assert finding.checkout_id == SKU
    assert finding.why == "the sku of a known widget, asked for as a widget id"


def test_a_widget_server_that_ignores_the_key_fails_auth_unless_the_descriptor_says_it_takes_none(
    widgets: tuple[Widgets, str], tmp_path: Path
) -> None:
    state, base_url = widgets
    state.ignores_key = True
    assert {"auth.missing_key", "auth.wrong_key"} <= _failed(_run(base_url, tmp_path / "secured"))
    state.keys.clear()
    outcome = _run(base_url, tmp_path / "open", replace(WIDGET, secured=False))
    assert outcome.exit_code == 0, outcome.record.result.reason
    # An operation that takes no key is sent no request without the valid one.
    assert state.keys
    assert set(state.keys) == {f"Bearer {KEY}"}


def test_the_checkout_s_checks_are_the_generic_ones_then_its_own() -> None:
    own = [check_id for check_id in REGISTRY if check_id in CHECKOUT_CHECK_IDS]
    assert own == [
        "session.payment_fields_paired",
        "session.created",
        "session.created_at_once",
        "session.created_unpaid",
    ]
    assert [check_id for check_id in checks_for(WIDGET) if check_id.startswith("widget.")] == [
        "widget.known_found",
        "widget.id_echoed",
        "widget.stable",
        "widget.unknown_not_found",
    ]
