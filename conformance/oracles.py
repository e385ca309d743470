"""Independent opinions on a response body: the official Dodo Payments SDK in strict mode."""

from __future__ import annotations

from typing import Any

import pydantic
from dodopayments._models import validate_type
from dodopayments.types import CheckoutSessionStatus


def sdk_accepts(body: Any) -> bool:  # noqa: ANN401 - any JSON value
    """Whether the official SDK, with _strict_response_validation=True, parses this body.

    `validate_type` is what the SDK's client calls in strict mode; calling it directly judges a body
    we already hold without sending the request again.
    """
    try:
        validate_type(type_=CheckoutSessionStatus, value=body)
    except pydantic.ValidationError:
        return False
    return True
