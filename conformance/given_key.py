"""The API key as the user gives it (a flag, the environment, a file), checked before anything is sent with it.

A key that cannot be one is refused with a line that says what to remove, never showing the key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from conformance.errors import BadInputError
from conformance.redaction import ASSIGNMENT, MIN_KEY_LENGTH

if TYPE_CHECKING:
    from pathlib import Path

# A bearer token is printable ASCII without spaces (RFC 6750's b64token is stricter still).
KEY_CHARACTERS_LOW, KEY_CHARACTERS_HIGH = 0x21, 0x7E


def clean_api_key(raw: str, source: str) -> str:
    """The key without surrounding whitespace; a key that cannot be one is refused without being shown."""
    key = raw.strip()
    if not key:
        raise BadInputError(f"the API key from {source} is empty", "give the whole key")
    if ASSIGNMENT.match(key):
        # A copy of a .env line: sent as it is, it would be refused and the run could not judge anything.
        raise BadInputError(
            f"the API key from {source} looks like a shell assignment (NAME=value), not a key",
            "give only the key, the part after '='",
        )
    _refuse_dressed_key(key, source)
    if any(character.isspace() for character in key):
        raise BadInputError(
            f"the API key from {source} has whitespace or a line break inside it",
            "give the key alone, on one line",
        )
    if not all(KEY_CHARACTERS_LOW <= ord(character) <= KEY_CHARACTERS_HIGH for character in key):
        raise BadInputError(
            f"the API key from {source} has a control character or a character outside printable ASCII",
            "give the key exactly as the dashboard shows it",
        )
    if len(key) < MIN_KEY_LENGTH:
        raise BadInputError(
            f"the API key from {source} is {len(key)} characters long, too short to be a real key",
            "pass the whole key",
        )
    return key


# What a key copied with its surroundings starts with: a byte order mark (an editor's "UTF-8 with BOM"), a
# quote (from a .env or JSON file), or the scheme of the Authorization header it was copied from.
_BOM = "\ufeff"
_QUOTES = "\"'`"
_SCHEME = re.compile(r"bearer(?:\s|:|$)", re.IGNORECASE)


def _refuse_dressed_key(key: str, source: str) -> None:
    """Refuse a key copied with what surrounds it, saying what to remove (never showing the key)."""
    if key.startswith(_BOM):
        raise BadInputError(
            f"the API key from {source} starts with a byte order mark (BOM, U+FEFF), which an editor adds when it "
            "saves 'UTF-8 with BOM'",
            "save the file as UTF-8 without a BOM"
            if source.startswith("--api-key-file")
            else "give the key again without the invisible U+FEFF before it",
        )
    scheme = _SCHEME.match(key)
    if scheme and not any(character.isspace() for character in key[scheme.end() :].strip()):
        raise BadInputError(
            f"the API key from {source} starts with the scheme 'Bearer', which the gate adds itself",
            "drop the 'Bearer ' prefix and give the key alone",
        )
    if any(character.isspace() for character in key):
        return  # whitespace inside (a key and more, two lines of a file) is refused as such by the caller
    if key[0] in _QUOTES or key[-1] in _QUOTES:
        raise BadInputError(
            f"the API key from {source} is wrapped in quotes ({key[0] if key[0] in _QUOTES else key[-1]}), which "
            "would be sent as part of the key",
            "give the key without the quotes around it",
        )


def read_key_file(path: Path) -> str:
    """The key in a file, with surrounding whitespace removed; checked like any key."""
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise BadInputError(
            f"--api-key-file {path} is a directory", "give the path of the file that holds the key"
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(
            f"--api-key-file {path} is not UTF-8 text", "save the key in the file as plain text, on one line"
        ) from None
    except OSError as exc:
        raise BadInputError(
            f"--api-key-file {path} cannot be read ({exc.__class__.__name__})", "fix the path"
        ) from None
    if not text.strip():
        raise BadInputError(f"--api-key-file {path} is empty", "write the key into the file")
    return clean_api_key(text, f"--api-key-file {path}")
