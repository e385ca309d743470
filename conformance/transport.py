"""The only module that sends requests to the target."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

import requests

from conformance.model import Credential, Exchange, Purpose, ReceivedResponse, SentRequest
from conformance.redaction import REDACTED

if TYPE_CHECKING:
    from collections.abc import Callable

USER_AGENT = "dodo-conformance"
# Bodies past this size are cut and judged as too large rather than held in memory.
BODY_CAP_BYTES = 16 * 1024 * 1024
# A key no server can have issued; sent to prove wrong keys are rejected.
WRONG_KEY = "conformance_wrong_key_0000000000000000"
CONNECT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class RetryPolicy:
    """How 429 answers are retried: bounded in count and in each wait."""

    attempts: int = 3
    max_wait_seconds: float = 10.0
    default_wait_seconds: float = 1.0


class Transport:
    """Sends GET /checkouts/{id} with one of three credentials and records the exchange."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout: float,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
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
            response, error = self._attempt(method, url, headers)
            if response is None or response.status != 429 or attempt == self.retry.attempts:
                break
            self._sleep(self._retry_after(response))
        rate_limited = response is not None and response.status == 429
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
    chunks: list[bytes] = []
    size = 0
    for chunk in raw.iter_content(chunk_size=64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > BODY_CAP_BYTES:
            return b"".join(chunks)[:BODY_CAP_BYTES], True
        if time.perf_counter() - started > timeout:
            raise requests.Timeout
    return b"".join(chunks), False


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests error, in a few words."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
