"""A request that got no complete response, in words: what it met (a timeout, a refusal, no HTTP), and tests of each."""

from __future__ import annotations

import http.client
import ssl

from conformance.model import ReceivedResponse

# One attempt at a request: the response, or None and why none came.
Attempt = tuple[ReceivedResponse | None, str | None]

# What a request that got no complete response in time is said to have got.
_TIMED_OUT = "no complete response within the {seconds:g} s request timeout"
# What a request met that got no HTTP answer because nothing accepted its connection.
_REFUSED = "the connection was refused: nothing accepts connections at that address and port"
# What a request met that was answered, but not with an HTTP message: a caller must not call such a target silent.
_NOT_HTTP = "the target answered, but not in"


def timed_out_after(seconds: float) -> Attempt:
    """The attempt of a request that got no complete response within the request timeout of `seconds`."""
    return None, _TIMED_OUT.format(seconds=seconds)


def timed_out(transport_error: str | None) -> bool:
    """Whether an exchange's transport error is its request timing out."""
    return transport_error is not None and transport_error.startswith(_TIMED_OUT.partition("{")[0])


def refused_connection(transport_error: str | None) -> bool:
    """Whether an exchange's transport error is its connection being refused."""
    return transport_error is not None and transport_error.startswith(_REFUSED)


def answered_without_http(transport_error: str | None) -> bool:
    """Whether the target did answer, in bytes that are no HTTP response (HTTP/0.9 style, TLS, another protocol)."""
    return transport_error is not None and transport_error.startswith(_NOT_HTTP)


# What a request met that was answered with a status line and then not with a whole message: the target is there
# and answers, so it is judged (a framing or coding fault), never taken for silence or for an unreachable target.
_BROKE_OFF = "the target answered with the status line "


def broke_off(transport_error: str | None) -> bool:
    """Whether the target sent a status line and then no complete, decodable HTTP message."""
    return transport_error is not None and transport_error.startswith(_BROKE_OFF)


def stalled(transport_error: str | None) -> bool:
    """Whether the target sent a status line and then ran out the request timeout: it costs a timeout each time."""
    return broke_off(transport_error) and _TIMED_OUT.partition("{")[0] in (transport_error or "")


def after_status_line(attempt: Attempt, status_line: str | None) -> Attempt:
    """An error met after a status line arrived says so: the server answered, with a message it did not complete."""
    response, error = attempt
    if response is not None or error is None or status_line is None or broke_off(error):
        return attempt
    return None, f"{_BROKE_OFF}{status_line!r}, then {error}"


def failure(exc: BaseException, status_line: str | None = None) -> str:
    """Why a request got no complete response, naming the cause where the error chain shows it.

    `status_line` is the last status line read for the request, if one was: an interim 1xx's, say.
    """
    chain = _chain(exc)
    if any(isinstance(cause, ConnectionRefusedError) for cause in chain):
        return _REFUSED
    # RemoteDisconnected is a BadStatusLine too, but it means the server closed without a byte.
    bad = next(
        (
            cause
            for cause in chain
            if isinstance(cause, http.client.BadStatusLine) and not isinstance(cause, http.client.RemoteDisconnected)
        ),
        None,
    )
    if bad is not None:
        line = str(bad.args[0]) if bad.args else ""
        if status_line is not None:
            # A 1xx response ends at its header section: bytes after it are read as the next status line.
            return (
                f"{_BROKE_OFF}{status_line!r}, then {line[:60]!r} where the next status line belongs: an interim "
                "1xx response has no content (RFC 9110 section 15.2), so bytes sent after it break the message"
            )
        if line[:2] in ("\x15\x03", "\x16\x03"):
            # A TLS record (an alert, a handshake) where an HTTP status line belongs.
            return (
                f"{_NOT_HTTP} HTTP: it answered in TLS, so the port speaks https and the URL should start with https://"
            )
        return (
            f"{_NOT_HTTP} HTTP: its reply has no HTTP status line (an HTTP/0.9 style reply, or another protocol) and "
            f"began {line[:60]!r}"
        )
    if any(isinstance(cause, ssl.SSLError) and "WRONG_VERSION_NUMBER" in str(cause) for cause in chain):
        return (
            f"{_NOT_HTTP} TLS: it answered the TLS handshake in plain text, so the port speaks http and the URL "
            "should start with http://"
        )
    return f"the connection failed or was dropped before a complete response ({reason(exc)})"


def _chain(exc: BaseException) -> list[BaseException]:
    """The error and every error it was raised from or while handling, innermost last."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and all(cause is not seen for seen in chain):
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    # urllib3 keeps the reason of a failed connection in an attribute, not in the chain.
    chain += [why for error in list(chain) if isinstance(why := getattr(error, "reason", None), BaseException)]
    return chain


def reason(exc: BaseException) -> str:
    """The innermost cause of a requests error, in a few words."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
