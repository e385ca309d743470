"""A conformance gate for the Dodo Payments Get Checkout Session operation."""

__version__ = "0.1.0"
