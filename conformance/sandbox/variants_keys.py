"""Variants with a fault in the key: auth ignored, keys compared loosely, auth judged after the lookup."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from conformance.sandbox.server import CheckoutApi, Reply
from conformance.sandbox.variants_base import RACE_WINDOW_SECONDS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from conformance.sandbox.sessions import CheckoutSession


class AuthIgnored(CheckoutApi):
    """Requests without a key, or with a wrong one, are served as if the key were right."""

    def authorized(self, header: str | None) -> bool:  # noqa: ARG002 - the fault
        return True


class AnyBearerKey(CheckoutApi):
    """Any bearer key is accepted; only a request without one is rejected."""

    def authorized(self, header: str | None) -> bool:
        return header is not None and header.startswith("Bearer ")


# --- keys compared loosely --------------------------------------------------------------


def _token(header: str | None) -> str | None:
    return header[len("Bearer ") :] if header is not None and header.startswith("Bearer ") else None


class KeyPrefixAccepted(CheckoutApi):
    """A bearer token that the key starts with (16 characters or more) is accepted: a truncated key works."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        return token is not None and len(token) >= 16 and self.api_key.startswith(token)


class KeyCaseInsensitive(CheckoutApi):
    """The key is compared without regard to case: the key in other letters' case is accepted."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        return token is not None and token.lower() == self.api_key.lower()


class EmptyBearerAccepted(CheckoutApi):
    """'Authorization: Bearer' with an empty token is taken as a session of the dashboard and accepted."""

    def authorized(self, header: str | None) -> bool:
        return (header is not None and header.strip() == "Bearer") or super().authorized(header)


class SchemeIgnored(CheckoutApi):
    """Only the word after the scheme is compared: 'Token KEY' and 'Basic KEY' are accepted too."""

    def authorized(self, header: str | None) -> bool:
        return header is not None and header.split(" ", 1)[-1] == self.api_key


class KeySecretOnly(CheckoutApi):
    """Only the key's secret, what follows its last '_', is compared: the secret alone, or under any prefix, works."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        return token is not None and token.rsplit("_", 1)[-1] == self.api_key.rsplit("_", 1)[-1]


class KeyAnySuffix(CheckoutApi):
    """The token is matched as starting with the key: the key with anything appended is accepted."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        return token is not None and token.startswith(self.api_key)


class KeyOtherModeAccepted(CheckoutApi):
    """A key of the other mode, sk_live_ for sk_test_ and the same secret, is accepted: the mode is not checked."""

    def authorized(self, header: str | None) -> bool:
        token = _token(header)
        other = self.api_key.replace("_test_", "_live_", 1)
        return token is not None and (token == self.api_key or (other != self.api_key and token == other))


class KeyModeExplained(CheckoutApi):
    """A key of the other mode, or of another kind, is refused with a 401 that says which mode it belongs to."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        reply = super().handle(method, target, headers)
        token = _token(headers.get("Authorization"))
        if reply.status == 401 and token is not None and "_live_" in token:
            return Reply.error(401, "WRONG_MODE", "This is a live-mode key; test mode takes test-mode keys only")
        return reply


class LookupBeforeAuth(CheckoutApi):
    """The session is looked up before the key is checked: without a key, an unknown id gets 404, a known one 401."""

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        checkout_id = self.checkout_id_of(target)
        if method == "GET" and checkout_id is not None and self.lookup(checkout_id) is None:
            return Reply.error(404, "NOT_FOUND", "Checkout session not found")
        return super().handle(method, target, headers)


class KeylessAfterMiss(CheckoutApi):
    """The signed-in merchant is kept between requests and cleared only by a 200: after a 404, no key is needed."""

    def __init__(self, api_key: str, sessions: tuple[CheckoutSession, ...]) -> None:
        super().__init__(api_key, sessions)
        self._signed_in = False

    def authorized(self, header: str | None) -> bool:
        if super().authorized(header):
            self._signed_in = True
            return True
        return self._signed_in

    def render(self, session: CheckoutSession) -> Reply:
        self._signed_in = False
        return super().render(session)


class FailOpenUnderLoad(CheckoutApi):
    """Reads that overlap trip a breaker that skips the key check for the next ten seconds (it fails open)."""

    OPEN_SECONDS = 10.0

    def __init__(self, api_key: str, sessions: tuple[CheckoutSession, ...]) -> None:
        super().__init__(api_key, sessions)
        self._in_flight = 0
        self._open_until = 0.0
        self._lock = threading.Lock()

    def authorized(self, header: str | None) -> bool:
        return time.monotonic() < self._open_until or super().authorized(header)

    def render(self, session: CheckoutSession) -> Reply:
        with self._lock:
            self._in_flight += 1
            if self._in_flight > 1:
                self._open_until = time.monotonic() + self.OPEN_SECONDS
        try:
            time.sleep(RACE_WINDOW_SECONDS)
            return super().render(session)
        finally:
            with self._lock:
                self._in_flight -= 1
