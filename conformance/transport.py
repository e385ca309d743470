"""The only module that sends requests to the target."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import requests

from conformance.errors import RunStopped, TargetError
from conformance.model import Credential, Exchange, Purpose, ReceivedResponse, SentRequest
from conformance.redaction import REDACTED

if TYPE_CHECKING:
    from collections.abc import Callable

USER_AGENT = "dodo-conformance"
# Bodies past this size are not read further, and reported as unjudged rather than held in memory.
BODY_CAP_BYTES = 32 * 1024 * 1024
# A key no server can have issued; sent to prove wrong keys are rejected.
WRONG_KEY = "conformance_wrong_key_0000000000000000"
CONNECT_TIMEOUT_SECONDS = 5.0
# Exchanges in a row still answered 429 after their retries before the run stops.
RATE_LIMITED_IN_A_ROW = 3


@dataclass(frozen=True)
class RetryPolicy:
    """How 429 answers are retried: bounded in count and in each wait."""

    attempts: int = 3
    max_wait_seconds: float = 10.0
    default_wait_seconds: float = 1.0


class Transport:
    """Sends GET /checkouts/{id} with one of three credentials and records the exchange."""

    def __init__(  # noqa: PLR0913 - each is a separate limit on what is sent
        self,
        base_url: str,
        api_key: str,
        timeout: float,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rate_per_second: float | None = None,
        max_time: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._interval = 1 / rate_per_second if rate_per_second else 0.0
        self._next_send = time.monotonic()
        self._max_time = max_time
        self._deadline = time.monotonic() + max_time if max_time is not None else None
        self._limited_in_a_row = 0
        self._session = requests.Session()
        # The environment must not redirect test traffic through a proxy.
        self._session.trust_env = False
        self.requests_sent = 0

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    def url_for(self, checkout_id: str) -> str:
        """The URL of a checkout id, with every reserved character escaped."""
        return f"{self.base_url}/checkouts/{quote(checkout_id, safe='')}"

    def get_checkout(
        self,
        checkout_id: str,
        purpose: Purpose,
        credential: Credential = Credential.VALID,
        previous: Exchange | None = None,
    ) -> Exchange:
        """GET one checkout id."""
        return self._send(
            "GET", self.url_for(checkout_id), checkout_id, purpose=purpose, credential=credential, previous=previous
        )

    def send_case(self, case: Any) -> Exchange:  # noqa: ANN401 - a schemathesis.Case
        """Send a Schemathesis-generated case with the valid key."""
        kwargs = case.as_transport_kwargs(base_url=self.base_url)
        url = kwargs["url"]
        # Schemathesis percent-encodes the generated value into the path.
        checkout_id = unquote(urlsplit(url).path.rsplit("/checkouts/", 1)[-1])
        return self._send(
            kwargs["method"], url, checkout_id, purpose=Purpose.GENERATED, credential=Credential.VALID, case=case
        )

    def _headers(self, credential: Credential) -> tuple[dict[str, str], dict[str, str]]:
        """Return the headers to send and the same headers as they may be shown."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        shown = dict(headers)
        if credential is Credential.VALID:
            headers["Authorization"] = f"Bearer {self._api_key}"
            shown["Authorization"] = f"Bearer {REDACTED}"
        elif credential is Credential.WRONG:
            headers["Authorization"] = f"Bearer {WRONG_KEY}"
            shown["Authorization"] = headers["Authorization"]
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
    ) -> Exchange:
        headers, shown = self._headers(credential)
        request = SentRequest(method=method, url=url, headers=shown)
        response: ReceivedResponse | None = None
        error: str | None = None
        for attempt in range(1, self.retry.attempts + 1):
            self._pace()
            response, error = self._attempt(method, url, headers)
            if response is None or response.status != 429 or attempt == self.retry.attempts:
                break
            self._sleep(self._retry_after(response))
        rate_limited = response is not None and response.status == 429
        self._limited_in_a_row = self._limited_in_a_row + 1 if rate_limited else 0
        if self._limited_in_a_row >= RATE_LIMITED_IN_A_ROW:
            raise RunStopped(
                TargetError(
                    f"the target answered 429 to {self._limited_in_a_row} requests in a row, each retried "
                    f"{self.retry.attempts - 1} times after Retry-After",
                    "rerun later, or with a lower --rate-limit",
                )
            )
        return Exchange(
            purpose=purpose,
            credential=credential,
            checkout_id=checkout_id,
            request=request,
            response=response,
            transport_error=error,
            rate_limited=rate_limited,
            previous=previous,
            case=case,
        )

    def _pace(self) -> None:
        """Keep to the rate limit and the run's time budget."""
        now = time.monotonic()
        if self._deadline is not None and now + self._interval > self._deadline:
            raise RunStopped(
                TargetError(
                    f"the run's time budget of {self._max_time:g} s ran out after {self.requests_sent} requests",
                    "raise --max-time, or lower --max-examples",
                )
            )
        if self._next_send > now:
            self._sleep(self._next_send - now)
        self._next_send = max(now, self._next_send) + self._interval

    def _attempt(self, method: str, url: str, headers: dict[str, str]) -> tuple[ReceivedResponse | None, str | None]:
        self.requests_sent += 1
        started = time.perf_counter()
        try:
            with self._session.request(
                method,
                url,
                headers=headers,
                timeout=(min(CONNECT_TIMEOUT_SECONDS, self.timeout), self.timeout),
                allow_redirects=False,
                stream=True,
            ) as raw:
                body, truncated = _read_capped(raw, started, self.timeout)
                elapsed_ms = (time.perf_counter() - started) * 1000
                return (
                    ReceivedResponse(
                        status=raw.status_code,
                        reason=raw.reason or "",
                        headers=dict(raw.headers),
                        body=body,
                        elapsed_ms=elapsed_ms,
                        truncated=truncated,
                    ),
                    None,
                )
        except requests.Timeout:
            return None, f"no complete response within the {self.timeout:g} s request timeout"
        except requests.ConnectionError as exc:
            return None, f"the connection failed or was dropped before a complete response ({_reason(exc)})"
        except requests.RequestException as exc:
            return None, f"the response could not be read ({_reason(exc)})"

    def _retry_after(self, response: ReceivedResponse) -> float:
        value = response.header("retry-after")
        try:
            wait = float(value) if value is not None else self.retry.default_wait_seconds
        except ValueError:
            # An HTTP-date or garbage: fall back to the default rather than guess a clock skew.
            wait = self.retry.default_wait_seconds
        return min(max(wait, 0.0), self.retry.max_wait_seconds)


def _read_capped(raw: requests.Response, started: float, timeout: float) -> tuple[bytes, bool]:
    """Read the body up to the cap, and within the timeout overall (a trickling body is a timeout)."""
    body = bytearray()
    for chunk in raw.iter_content(chunk_size=256 * 1024):
        body += chunk
        if len(body) > BODY_CAP_BYTES:
            del body[BODY_CAP_BYTES:]
            return bytes(body), True
        if time.perf_counter() - started > timeout:
            raise requests.Timeout
    return bytes(body), False


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests error, in a few words."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
