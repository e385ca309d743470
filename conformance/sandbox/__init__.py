"""The bundled sandbox: a local stand-in for Dodo's test-mode server."""

from conformance.sandbox.overview import resource_lines
from conformance.sandbox.server import CheckoutApi, Reply, Sandbox
from conformance.sandbox.sessions import CheckoutSession, Product, seeded_products, seeded_sessions

__all__ = [
    "CheckoutApi",
    "CheckoutSession",
    "Product",
    "Reply",
    "Sandbox",
    "resource_lines",
    "seeded_products",
    "seeded_sessions",
]
