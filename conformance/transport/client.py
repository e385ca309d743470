"""The client the gate sends through: each request with its credential, made an exchange under the run's policy."""

from __future__ import annotations

import json
import time
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from conformance.credentials import Credentials, KeyProbe
from conformance.model import Credential, Exchange, Purpose, SentRequest
from conformance.transport.policy import Policy, RetryPolicy
from conformance.transport.sending import Sender

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from conformance.transport.failures import Attempt

USER_AGENT = "dodo-conformance"


class Transport:
    """Sends GET /checkouts/{id} with the valid key, without one, or with a key that must be refused."""

    def __init__(  # noqa: PLR0913 - each is a separate limit on what is sent
        self,
        base_url: str,
        api_key: str | Credentials,
        timeout: float,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rate_per_second: float | None = None,
        max_time: float | None = None,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = api_key if isinstance(api_key, Credentials) else Credentials(api_key)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._on_wait = on_wait
        self._sleep = sleep
        self._policy = Policy(
            self.retry, sleep=sleep, rate_per_second=rate_per_second, max_time=max_time, on_wait=on_wait
        )
        self._sender = Sender()

    @property
    def requests_sent(self) -> int:
        """Requests sent so far by this transport and its clones, retries included."""
        return self._policy.requests_sent

    def clone(self) -> Transport:
        """A transport of its own connections and deadlines, sharing this one's pace and time budget."""
        twin = Transport(
            self.base_url, self.credentials, self.timeout, retry=self.retry, sleep=self._sleep, on_wait=self._on_wait
        )
        twin._policy.share_pace(self._policy)
        return twin

    def burst(self, size: int) -> AbstractContextManager[None]:
        """Let `size` requests leave at once, paid for in advance at the rate limit, so that they overlap."""
        return self._policy.burst(size)

    def close(self) -> None:
        """Release pooled connections and stop the watchdog."""
        self._sender.close()

    def url_for(self, checkout_id: str) -> str:
        """The URL of a checkout id, with every reserved character escaped."""
        return f"{self.base_url}/checkouts/{quote(checkout_id, safe='')}"

    def key_probes(self) -> list[KeyProbe]:
        """Authorization headers a server must refuse: near misses of the valid key, and no usable key at all."""
        return self.credentials.probes()

    def derived_secrets(self) -> list[str]:
        """Every near copy of the key this transport sends: outputs must redact them like the key."""
        return self.credentials.near_misses()

    def get_checkout(  # noqa: PLR0913 - an exchange is described by all of these
        self,
        checkout_id: str,
        purpose: Purpose,
        credential: Credential = Credential.VALID,
        previous: Exchange | None = None,
        *,
        probe: KeyProbe | None = None,
        why: str | None = None,
    ) -> Exchange:
        """GET one checkout id."""
        path = self.url_for(checkout_id).removeprefix(self.base_url)
        return self.get_path(path, checkout_id, purpose, credential, previous=previous, probe=probe, why=why)

    def get_path(  # noqa: PLR0913 - an exchange is described by all of these
        self,
        path: str,
        checkout_id: str,
        purpose: Purpose,
        credential: Credential = Credential.VALID,
        *,
        previous: Exchange | None = None,
        probe: KeyProbe | None = None,
        why: str | None = None,
    ) -> Exchange:
        """GET a path exactly as given (already encoded): a recorded request sent again, or path syntax as such."""
        return self._send(
            "GET", self.base_url + path, checkout_id, purpose=purpose,
            credential=probe.credential if probe is not None else credential, previous=previous, probe=probe,
            why=probe.why if probe is not None else why,
        )  # fmt: skip

    def head_path(self, path: str, resource_id: str, why: str) -> Exchange:
        """HEAD a path exactly as given (already encoded), without a key."""
        return self._send(
            "HEAD", self.base_url + path, resource_id, purpose=Purpose.HEAD, credential=Credential.MISSING, why=why
        )

    def read_on_one_connection(
        self, checkout_ids: list[str], why: str, path_for: Callable[[str], str] | None = None
    ) -> list[Exchange]:
        """Read the ids one after another on a single kept-alive connection, with the valid key.

        Pooling clients reuse connections; a server that writes a reply twice then shifts every later
        answer on that connection by one, which separate connections never show.
        """
        connection = self._sender.connection(self.base_url, self.timeout)
        headers = {**self._headers(Credential.VALID, None)[0], "Accept-Encoding": "gzip, deflate"}
        exchanges = []
        try:
            for checkout_id in checkout_ids:
                url = self.url_for(checkout_id) if path_for is None else self.base_url + path_for(checkout_id)
                path = urlsplit(url).path
                exchanges.append(
                    self._send(
                        "GET",
                        url,
                        checkout_id,
                        purpose=Purpose.KNOWN,
                        credential=Credential.VALID,
                        why=why,
                        attempt=partial(self._sender.send_on, connection, path, headers, deadline=self._deadline),
                    )
                )
        finally:
            connection.close()
        return exchanges

    def create_checkout(self, product_id: str, credential: Credential = Credential.VALID) -> Exchange:
        """POST /checkouts with a cart of one product, quantity 1, and the valid key, none, or a wrong one.

        With the valid key, retried only after a 429, which a server sends instead of acting on the request: a
        retry after a timeout or a dropped connection could create a second session (there is no idempotency
        key). Without it, sent once and never again, not even after a 429: it is sent to be refused, and a 429
        is no create.
        """
        url = f"{self.base_url}/checkouts"
        body = json.dumps({"product_cart": [{"product_id": product_id, "quantity": 1}]}).encode()
        why = None if credential is Credential.VALID else f"a create sent with {credential}, which must be refused"
        return self._send(
            "POST",
            url,
            "",
            purpose=Purpose.CREATE,
            credential=credential,
            body=body,
            extra_headers={"Content-Type": "application/json"},
            why=why,
            attempts=self.retry.attempts if credential is Credential.VALID else 1,
        )

    def send_case(self, case: Any, id_in_path: Callable[[str], str] | None = None) -> Exchange:  # noqa: ANN401
        """Send a Schemathesis-generated case with the valid key; `id_in_path` reads the id from its path."""
        kwargs = case.as_transport_kwargs(base_url=self.base_url)
        url = kwargs["url"]
        # Schemathesis percent-encodes the generated value into the path.
        path = urlsplit(url).path
        checkout_id = unquote(path.rsplit("/checkouts/", 1)[-1]) if id_in_path is None else id_in_path(path)
        return self._send(
            kwargs["method"], url, checkout_id, purpose=Purpose.GENERATED, credential=Credential.VALID, case=case
        )

    def _headers(self, credential: Credential, probe: KeyProbe | None) -> tuple[dict[str, str], dict[str, str]]:
        """Return the headers to send and the same headers as they may be shown."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        shown = dict(headers)
        authorization = self.credentials.authorization(credential, probe)
        if authorization is not None:
            headers["Authorization"], shown["Authorization"] = authorization
        return headers, shown

    def _send(  # noqa: PLR0913 - an exchange is described by all of these
        self,
        method: str,
        url: str,
        checkout_id: str,
        *,
        purpose: Purpose,
        credential: Credential,
        previous: Exchange | None = None,
        case: Any = None,  # noqa: ANN401 - a schemathesis.Case
        probe: KeyProbe | None = None,
        why: str | None = None,
        attempt: Callable[[], Attempt] | None = None,
        body: bytes = b"",
        extra_headers: dict[str, str] | None = None,
        attempts: int | None = None,
    ) -> Exchange:
        headers, shown = self._headers(credential, probe)
        headers, shown = {**headers, **(extra_headers or {})}, {**shown, **(extra_headers or {})}
        request = SentRequest(method=method, url=url, headers=shown, body=body)
        send = attempt or partial(self._attempt, method, url, headers, body or None, exact=case is None)
        response, error = self._policy.attempts(send, self.retry.attempts if attempts is None else attempts)
        exchange = Exchange(
            purpose=purpose,
            credential=credential,
            checkout_id=checkout_id,
            request=request,
            response=response,
            transport_error=error,
            rate_limited=response is not None and response.status == 429,
            previous=previous,
            why=why,
            case=case,
        )
        # A GET the target answers is the one asked again should it fall silent (sent as written, like a probe).
        resend = partial(self._attempt, method, url, headers) if attempt is None and method == "GET" else None
        self._policy.after(exchange, self.timeout, resend)
        return exchange

    def _attempt(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None = None, *, exact: bool = True
    ) -> Attempt:
        """One attempt at a request, at the request timeout of the moment it leaves."""
        return self._sender.send(method, url, headers, body, exact=exact, timeout=self.timeout, deadline=self._deadline)

    def _deadline(self) -> tuple[float, Callable[[], Attempt]]:
        return self._policy.deadline(self.timeout)
