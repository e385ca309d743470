"""Keeps secrets out of everything the gate writes or prints."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from conformance.model import SentRequest

REDACTED = "[REDACTED]"
KEY_VARIABLE = "DODO_PAYMENTS_API_KEY"


class Redactor:
    """Replaces every known secret in a text with a marker."""

    def __init__(self, secrets: list[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return `text` with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class RedactingStream:
    """A text stream that redacts what is written through it, for the terminal."""

    def __init__(self, stream: TextIO, redact: Redactor) -> None:
        self._stream = stream
        self._redact = redact

    def write(self, text: str) -> int:
        """Write `text` with every secret replaced."""
        self._stream.write(self._redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - everything else is the stream's
        return getattr(self._stream, name)


def curl_line(request: SentRequest) -> str:
    """A curl command that reproduces a request; the key is read from the environment."""
    parts = ["curl", "-sS", "-i", "-X", request.method]
    for name, value in request.headers.items():
        if name.lower() == "authorization" and REDACTED in value:
            # Double quotes so the shell expands the variable and the key is never written down.
            parts.append(f'-H "Authorization: Bearer ${KEY_VARIABLE}"')
        else:
            parts.append("-H " + shlex.quote(f"{name}: {value}"))
    parts.append(shlex.quote(request.url))
    return " ".join(parts)
