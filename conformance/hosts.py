"""What a target URL names: the host the HTTP client will reach, and whether it is live mode or this machine."""

from __future__ import annotations

import ipaddress
from contextlib import suppress
from urllib.parse import unquote, urlsplit

import requests

from conformance.errors import BadInputError

# Named here as well as read from the spec, so that a spec without a described live server still
# cannot send real-money traffic by accident.
KNOWN_LIVE_HOSTS = frozenset({"live.dodopayments.com"})


def prepared_url(url: str, source: str = "--base-url") -> str:
    """The URL exactly as the transport's HTTP client will use it (host IDNA-encoded and percent-decoded).

    `source` is where the URL came from (a flag or an environment variable), for the error.
    """
    prepared = requests.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, UnicodeError, ValueError) as exc:
        reason = (str(exc) or type(exc).__name__).partition("\n")[0]
        raise BadInputError(
            f"{source} {without_userinfo(url)!r} is not a URL the HTTP client can send to ({reason})",
            "pass the server's root, e.g. https://test.dodopayments.com",
        ) from None
    assert prepared.url is not None
    return prepared.url


def host_spellings(url: str) -> frozenset[str]:
    """Every normal form of the URL's host: as the client will reach it, and as IDNA 2003 reads it.

    A host is compared in all of them, so that case, a trailing dot, percent-escapes, full-width
    letters or ideographic dots cannot make a live-mode host look like another one.
    """
    spellings = set()
    raw = urlsplit(url).hostname or ""
    for host in (raw, unquote(raw)):
        spellings.add(_fold(host))
        with suppress(UnicodeError):
            spellings.add(_fold(host.encode("idna").decode("ascii")))
    with suppress(BadInputError):
        spellings.add(_fold(urlsplit(prepared_url(url)).hostname or ""))
    spellings.discard("")
    return frozenset(spellings)


def _fold(host: str) -> str:
    return host.lower().rstrip(".")


def live_host_named(url: str, spec_live_hosts: frozenset[str]) -> str | None:
    """The live-mode host `url` points at, if it points at one."""
    live = KNOWN_LIVE_HOSTS | {spelling for host in spec_live_hosts for spelling in host_spellings(f"https://{host}")}
    return next(iter(sorted(host_spellings(url) & live)), None)


def is_loopback(url: str) -> bool:
    """Whether the target is on this machine, and so may be sent to at full speed."""
    spellings = host_spellings(url)
    if not spellings:
        return False
    return all(_loopback_host(host) for host in spellings)


def _loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def without_userinfo(url: str) -> str:
    """The URL with any user:password@ removed, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()
