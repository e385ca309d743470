r"""Makes text from the target inert: every character a terminal, a renderer or a parser could act on, escaped.

A hostile server can answer with terminal escapes (clear the CI log, print a fake verdict), a NUL (which
no XML 1.0 document may hold), bidi overrides (text that reads otherwise than it is), line separators
(a line that some viewers split) or a lone surrogate (which no UTF-8 file can hold). Each is shown as
its escape, `\x1b` or `\u202e`, so that a reader sees what was sent and nothing acts on it.
"""

from __future__ import annotations

import re
import unicodedata

# Control (C0, DEL, C1), format (bidi controls, zero-width characters, the BOM...), surrogate, and the
# Unicode line and paragraph separators.
_ACTIVE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# What a record keeps raw: the whitespace that structures text (a body's lines and indentation). Each
# renderer decides what a line break means in its own syntax.
TEXT_WHITESPACE = "\t\n"
# Printable ASCII never needs a look: text from the target is mostly that, and stays fast to check.
_CANDIDATE = re.compile(r"[^\x20-\x7e]")


def _is_noncharacter(code: int) -> bool:
    # U+FFFE and U+FFFF are no XML 1.0 character; the other noncharacters are escaped alike.
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def is_active(character: str, keep: str = "") -> bool:
    """Whether `character` would be escaped (outside `keep`)."""
    if character in keep:
        return False
    code = ord(character)
    return unicodedata.category(character) in _ACTIVE_CATEGORIES or _is_noncharacter(code)


def escape_of(character: str) -> str:
    r"""How an active character is shown: `\x1b`, `\u202e`, `\U000e0001`."""
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def neutral(text: str, keep: str = "") -> str:
    r"""`text` with every active character but those in `keep` shown as its escape.

    Idempotent: what it returns holds nothing it would change, so every renderer can apply it again to a
    record that was neutralised when built. A backslash is left as it is for that reason (`\x1b` sent as
    four characters reads like an escaped ESC, which is harmless).
    """
    return _CANDIDATE.sub(lambda match: escape_of(match[0]) if is_active(match[0], keep) else match[0], text)
