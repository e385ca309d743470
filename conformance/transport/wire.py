"""Reading a response off the wire strictly: interim 1xx skipped, framing problems named, codings undone, a size cap."""

from __future__ import annotations

import http.client
import re
import threading
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket

    import requests

# Bodies past this size are not read further, and reported as unjudged rather than held in memory.
BODY_CAP_BYTES = 32 * 1024 * 1024

# Per thread: the framing problems (`framing`) and the Content-Type fields (`content_types`) of the response
# just parsed, seen only on the head as parsed: requests and urllib3 pass the fields on already mended.
PARSED = threading.local()


def forget_parsed() -> None:
    """Clear what the last response parsed on this thread left, before reading the next."""
    PARSED.framing = ()
    PARSED.content_types = None
    # The last status line read (an interim 1xx's included): an error after it means the target did answer.
    PARSED.status_line = None


class FinalResponse(http.client.HTTPResponse):
    """Skips every interim 1xx response before the final one, not only 100 Continue.

    RFC 9110 section 15.2: a client must parse and ignore an unexpected 1xx (103 Early Hints,
    102 Processing). http.client skips only 100, and would take a 103 for the answer. `_read_status`
    is http.client's own step; tests/test_upstream.py fails if a Python release changes it.
    """

    _repaired: tuple[str, ...] = ()

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            PARSED.status_line = f"{version} {status} {reason}".strip()
            if status == 100:
                # 100 Continue: http.client skips it, and its head, itself.
                return version, status, reason
            if not 100 <= status < 200 or status == 101:
                # 101 switches protocols and is final.
                break
            http.client.parse_headers(self.fp)
        # The final head's lines, mended before http.client parses them: it ends the head at a line with
        # whitespace before its colon and reads every field after it as body, so a Content-Length there is lost
        # and the reply reads as one that never ends.
        lines = http.client._read_headers(self.fp)  # type: ignore[attr-defined] # noqa: SLF001 - http.client's step
        mended = [_FIELD_NAME_SPACE.sub(rb"\1:", line) for line in lines]
        self._repaired = tuple(
            f"a field line with whitespace before its colon ({line.split(b':', 1)[0].decode('latin-1')!r}), which "
            "a server must never send and a proxy must remove (RFC 9112 section 5.1)"
            for line, fixed in zip(lines, mended, strict=True)
            if fixed != line
        )
        self.fp = _HeadThen(b"".join(mended), self.fp)  # type: ignore[assignment]
        return version, status, reason

    def begin(self) -> None:
        """Parse the head, and note its framing problems and Content-Type fields for the reader on this thread."""
        super().begin()
        if isinstance(self.fp, _HeadThen):
            self.fp = self.fp.rest
        PARSED.framing = (*self._repaired, *framing_problems(self.msg))
        PARSED.content_types = tuple(self.msg.get_all("Content-Type") or ())


# A field name followed by spaces or tabs before its colon (RFC 9112 section 5.1 allows none).
_FIELD_NAME_SPACE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+:")


class _HeadThen:
    """A response's stream that gives the head's lines as mended first, then the rest as it comes."""

    def __init__(self, head: bytes, rest: Any) -> None:  # noqa: ANN401 - a socket file of http.client's
        self._head = head
        self.rest = rest

    def readline(self, limit: int = -1) -> bytes:
        """The next line of the mended head, then of the stream."""
        if not self._head:
            return bytes(self.rest.readline(limit))
        end = self._head.find(b"\n") + 1 or len(self._head)
        if limit >= 0:
            end = min(end, limit)
        line, self._head = self._head[:end], self._head[end:]
        return line

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - everything else is the stream's
        return getattr(self.rest, name)


def framing_problems(head: http.client.HTTPMessage) -> tuple[str, ...]:
    """How a response's head breaks HTTP/1.1's message syntax: each a MUST a server cannot be excused from.

    Clients mend or drop such fields differently (a proxy may split the response in two at a stray
    line break), so what this client made of the message is not what every client will.
    """
    problems = []
    if head.defects:
        problems.append("a line in the header section that is not a field line (RFC 9112 section 5)")
    for name, value in head.items():
        if "\n" in value or "\r" in value:
            problems.append(f"the field {name!r} folded onto a second line (obs-fold, RFC 9112 section 5.2)")
        elif any((ord(character) < 0x20 and character != "\t") or character == "\x7f" for character in value):
            problems.append(f"the field {name!r} holds a control character (RFC 9110 section 5.5)")
    if head.get("Transfer-Encoding") is not None and head.get("Content-Length") is not None:
        problems.append("both Transfer-Encoding and Content-Length, never sent together (RFC 9112 section 6.1)")
    return tuple(problems)


class UnbufferedResponse(FinalResponse):
    """A final response read straight from the socket, without reading ahead.

    http.client reads each response through a buffer of its own and drops what the buffer held past
    the response's end; reading unbuffered leaves such bytes (a reply written twice) on the connection,
    where the next response on it finds them, as they would in any client that keeps the stream.
    """

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - http.client's
        super().__init__(sock, *args, **kwargs)
        self.fp.close()
        self.fp = sock.makefile("rb", buffering=0)  # type: ignore[assignment]


def read_body(raw: http.client.HTTPResponse) -> tuple[bytes, bool]:
    """Read an http.client response's body whole, up to the cap, and decode it; whether it was cut at the cap."""
    coded = _read_whole(raw)
    cut = len(coded) > BODY_CAP_BYTES
    body = _decoded(coded, raw.getheader("Content-Encoding"), cut=cut)
    truncated = cut or len(body) > BODY_CAP_BYTES
    return body[:BODY_CAP_BYTES], truncated


def _read_whole(raw: http.client.HTTPResponse) -> bytes:
    """The body up to one byte past the cap; raise IncompleteRead when it ends before its declared length."""
    body = bytearray()
    while len(body) <= BODY_CAP_BYTES:
        # Read straight off the socket (see UnbufferedResponse), a read returns what has arrived so far.
        chunk = raw.read(min(64 * 1024, BODY_CAP_BYTES + 1 - len(body)))
        if not chunk:
            break
        body += chunk
    missing = getattr(raw, "length", None)
    if len(body) <= BODY_CAP_BYTES and missing:
        raise http.client.IncompleteRead(bytes(body), missing)
    return bytes(body)


class CodingError(ValueError):
    """A body whose Content-Encoding does not decode."""


def _decoded(body: bytes, header: str | None, *, cut: bool = False) -> bytes:
    """The body without its content codings, last applied first (RFC 9110 section 8.4); at most one byte past the cap.

    Stricter than requests, which also takes raw deflate for `deflate`: RFC 9110 section 8.4.1.2
    defines it as the zlib format. A body `cut` at the cap ends before its coded stream by our doing, not
    the server's: that is no error.
    """
    codings = [coding.strip().lower() for coding in (header or "").split(",") if coding.strip()]
    for coding in reversed(codings):
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            decoder = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        elif coding == "deflate":
            decoder = zlib.decompressobj()
        else:
            message = f"Content-Encoding {coding!r}, which the gate did not ask for (it accepts gzip and deflate)"
            raise CodingError(message)
        try:
            decoded = decoder.decompress(body, BODY_CAP_BYTES + 1)
        except zlib.error as exc:
            message = f"a body that is not valid {coding} ({exc}; RFC 9110 section 8.4.1)"
            raise CodingError(message) from None
        if not decoder.eof and not cut and len(decoded) <= BODY_CAP_BYTES:
            message = f"a {coding} body that ends before its coded stream does"
            raise CodingError(message)
        body = decoded
    return body


def read_capped(raw: requests.Response) -> tuple[bytes, bool]:
    """Read the body as sent, up to the cap, then decode it (the watchdog ends a body that trickles too long)."""
    coded = bytearray()
    for chunk in raw.raw.stream(64 * 1024, decode_content=False):
        coded += chunk
        if len(coded) > BODY_CAP_BYTES:
            break
    cut = len(coded) > BODY_CAP_BYTES
    if raw.request is not None and raw.request.method == "HEAD":
        # A HEAD answer has no content: its Content-Encoding describes the body a GET would get (RFC 9110 9.3.2).
        return bytes(coded), False
    body = _decoded(bytes(coded[: BODY_CAP_BYTES + 1]), raw.headers.get("Content-Encoding"), cut=cut)
    truncated = cut or len(body) > BODY_CAP_BYTES
    return body[:BODY_CAP_BYTES], truncated
