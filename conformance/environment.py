"""The environment variables the gate reads, each named once for the flags' help, the errors and the curl lines."""

from __future__ import annotations

ENV_BASE_URL = "DODO_PAYMENTS_BASE_URL"
ENV_API_KEY = "DODO_PAYMENTS_API_KEY"
ENV_CHECKOUT_IDS = "CONFORMANCE_CHECKOUT_IDS"
ENV_PRODUCT_ID = "CONFORMANCE_PRODUCT_ID"
