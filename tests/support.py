"""Helpers for the project's tests: handmade exchanges."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.model import Credential, Exchange, Purpose, ReceivedResponse, SentRequest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec" / "openapi.yaml"
KNOWN_ID = "cks_known0000000000000000"


def make_exchange(
    *,
    status: int | None = 200,
    body: Any = None,
    body_text: str | None = None,
    headers: dict[str, str] | None = None,
    purpose: str = Purpose.KNOWN.value,
    credential: str = Credential.VALID.value,
    checkout_id: str = KNOWN_ID,
    transport_error: str | None = None,
    rate_limited: bool = False,
    previous: dict[str, Any] | None = None,
) -> Exchange:
    """An exchange as a case file describes it; `status` None means no response came."""
    response = None
    if status is not None:
        if body_text is not None:
            raw = body_text.encode()
        elif body is not None:
            raw = json.dumps(body).encode()
        else:
            raw = b""
        default_headers = {"Content-Type": "application/json"} if raw else {}
        response = ReceivedResponse(
            status=status,
            reason="",
            headers=headers if headers is not None else default_headers,
            body=raw,
            elapsed_ms=1.0,
        )
    return Exchange(
        purpose=Purpose(purpose),
        credential=Credential(credential),
        checkout_id=checkout_id,
        request=SentRequest("GET", f"http://127.0.0.1:9/checkouts/{checkout_id}", {}),
        response=response,
        transport_error=transport_error,
        rate_limited=rate_limited,
        previous=make_exchange(**previous) if previous is not None else None,
    )
