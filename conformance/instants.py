"""Instants of RFC 3339 date-times: one instant is written many ways, and a second read may write it another."""

from __future__ import annotations

import calendar
import re
from decimal import Decimal


def same_value(name: str, first: object, second: object) -> bool:
    """Whether two reads of a field agree; a created_at agrees when both name the same instant."""
    if first == second:
        return True
    if name != "created_at" or not isinstance(first, str) or not isinstance(second, str):
        return False
    # RFC 3339 writes one instant many ways (Z or +00:00, other offsets, t and z): compare instants.
    instants = rfc3339_instant(first), rfc3339_instant(second)
    return None not in instants and instants[0] == instants[1]


_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))")


def rfc3339_instant(text: str) -> Decimal | None:
    """Seconds since the epoch, exactly, of an RFC 3339 date-time; None when the text is not one.

    Leap seconds (second 60) count as one more second, which is all a comparison of instants needs.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    fraction = Decimal(match.group(7) or 0)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) + fraction
    if match.group(8) is None:
        sign = 1 if match.group(9) == "+" else -1
        seconds -= sign * (int(match.group(10)) * 3600 + int(match.group(11)) * 60)
    return seconds
