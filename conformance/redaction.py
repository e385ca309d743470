"""Keeps secrets out of everything the gate writes or prints."""

from __future__ import annotations

import base64
import contextlib
import html
import json
import os
import re
import shlex
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import quote

from conformance.environment import ENV_API_KEY
from conformance.neutral import neutral

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from conformance.model import SentRequest

REDACTED = "[REDACTED]"
# What a curl line reads the key from, so that the line works as it is printed.
KEY_VARIABLE = ENV_API_KEY
# Shorter keys cannot be real, and redacting them would blot out ordinary text.
MIN_KEY_LENGTH = 8
# `NAME=value` or `export NAME=value`, as a .env file or a shell profile holds a key.
ASSIGNMENT = re.compile(r"(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=")
# A run of this many characters of a secret (in any of its forms) is redacted wherever it appears:
# a report may cut a body or a URL in the middle of an echoed key. Shorter runs carry too little of a
# random key to matter, and matching them would blot out ordinary text.
FRAGMENT_CHARS = 10
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
# An Authorization value that carried the key itself, under a scheme or none.
_KEY_SENT = re.compile(r"(?P<scheme>[A-Za-z]+ )?" + re.escape(REDACTED))


def secret_forms(secret: str) -> set[str]:
    """Every spelling of `secret`, and of each form a server may echo it in, that the gate's outputs can hold."""
    forms = _spellings(secret)
    for derived in derived_forms(secret):
        forms |= _spellings(derived)
    return forms


def derived_forms(secret: str) -> set[str]:
    """What a server that echoes `secret` transformed sends: base64, base64url, another letter case.

    Servers echo credentials so (a debug header with the Authorization value, a Basic-auth echo of
    `user:KEY`). In base64 the secret may sit inside a longer value (`Bearer KEY`, `user:KEY`) at any of
    three byte alignments: for each, the characters that depend on the secret's bytes alone, which any
    such value holds. A form shorter than MIN_KEY_LENGTH is left out: as short as that, it carries too
    little of the secret to matter and would blot out ordinary text.
    """
    cased = {secret.upper(), secret.lower(), secret.swapcase()}
    raw = secret.encode("utf-8")
    whole = base64.b64encode(raw).decode("ascii")
    # The secret alone, to its end: with its padding, and without (base64url usually drops it).
    encoded = {whole, whole.rstrip("=")}
    for alignment, mixed in _ALIGNMENTS:
        aligned = base64.b64encode(bytes(alignment) + raw).decode("ascii")
        # The first `mixed` characters hold bits of the bytes before the secret; those from 8 * length // 6
        # on, bits of the bytes after it (or padding).
        encoded.add(aligned[mixed : 8 * (alignment + len(raw)) // 6])
    encoded |= {form.translate(_BASE64URL) for form in encoded}
    # Padding is no part of the secret.
    long_enough = {form for form in cased if len(form) >= MIN_KEY_LENGTH}
    long_enough |= {form for form in encoded if len(form.rstrip("=")) >= MIN_KEY_LENGTH}
    return long_enough - {secret}


# (bytes before the secret, modulo 3; leading base64 characters that mix those bytes with the secret's)
_ALIGNMENTS = ((0, 0), (1, 2), (2, 3))
_BASE64URL = str.maketrans("+/", "-_")


def _spellings(secret: str) -> set[str]:
    """Every spelling of `secret` the gate's outputs can hold; each is the only one that matches some key.

    Raw (the terminal, YAML); JSON, with and without `/` escaped (summary.json, bodies echoed); Python's
    repr (findings quote values with it); HTML (report.html escapes quotes too) and XML text (junit.xml
    does not); Markdown table cells (`|` escaped); a URL path segment, percent-encoded with `/` kept or
    not, in either case of hex digit.
    """
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        repr(secret)[1:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
        secret.replace("|", "\\|"),
    }
    for encoded in (quote(secret, safe=""), quote(secret, safe="/")):
        forms.add(encoded)
        forms.add(_PERCENT_ESCAPE.sub(lambda match: match.group().lower(), encoded))
    return forms


class Redactor:
    """Replaces every known secret in a text, in any of its forms or any long enough part of one, with a marker."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Every run of FRAGMENT_CHARS characters of every form (a shorter form is its own only run). A form
        # is the union of its runs, so finding the runs finds whole forms too.
        self._fragments: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Redact `secret` too from now on."""
        if not secret:
            return
        for form in secret_forms(secret):
            size = min(FRAGMENT_CHARS, len(form))
            self._fragments.update(form[start : start + size] for start in range(len(form) - size + 1))

    def __bool__(self) -> bool:
        return bool(self._fragments)

    def __call__(self, text: str) -> str:
        """Return `text` with every secret replaced."""
        spans = self._spans(text)
        if not spans:
            return text
        pieces, position = [], 0
        for start, end in spans:
            pieces += [text[position:start], REDACTED]
            position = end
        pieces.append(text[position:])
        return "".join(pieces)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Merged [start, end) ranges of `text` covered by fragments of a secret."""
        covered = sorted(
            (start, start + size)
            for size in {len(fragment) for fragment in self._fragments}
            # A window cut short by the end of the text can only match a fragment of its own, shorter size,
            # which that size's pass finds too: no need to stop each pass early.
            for start in range(len(text))
            if text[start : start + size] in self._fragments
        )
        merged: list[tuple[int, int]] = []
        for start, end in covered:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged


class RedactingStream:
    """A text stream that redacts what is written through it, a whole line at a time, for the terminal.

    It also makes every line inert (control characters, bidi controls... shown escaped, see neutral.py),
    whatever wrote it: the last guard between bytes a server sent and the terminal of a CI log.

    A reader that goes away (`conformance run ... | head`) or a stream that was never open (`>&-`) must
    not change the outcome of a run: from then on the output goes nowhere and the run carries on to
    its real exit code.
    """

    def __init__(self, stream: TextIO | None, redact: Redactor) -> None:
        self._stream: TextIO = stream if stream is not None else _nowhere()
        self._redact = redact
        # Held until its line ends, so that a secret written in two pieces is still seen whole.
        self._pending = ""

    def write(self, text: str) -> int:
        """Write every complete line of `text`, with secrets replaced; keep the rest for later."""
        self._pending += text
        complete, newline, rest = self._pending.rpartition("\n")
        if newline:
            self._pending = rest
            self._guarded(lambda: self._stream.write(self._shown(complete) + newline))
        return len(text)

    def flush(self) -> None:
        """Write what is pending, redacted, and flush the stream."""
        pending, self._pending = self._pending, ""
        if pending:
            self._guarded(lambda: self._stream.write(self._shown(pending)))
        self._guarded(self._stream.flush)

    def _shown(self, text: str) -> str:
        # Made inert first, then redacted: an escape written out could otherwise complete a spelling of the key.
        return self._redact(neutral(text, keep="\n"))

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except (BrokenPipeError, ValueError):
            # ValueError: the stream was closed under us. Point its descriptor at nothing too, so that
            # the interpreter's own flush at exit does not fail on the same closed pipe.
            with contextlib.suppress(OSError, ValueError, AttributeError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
            self._stream = _nowhere()

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - everything else is the stream's
        return getattr(self._stream, name)


def _nowhere() -> TextIO:
    return open(os.devnull, "w", encoding="utf-8")  # noqa: PTH123 - lives as long as the process


def curl_line(request: SentRequest) -> str:
    """A curl command that reproduces a request; the key is read from the environment."""
    parts = ["curl", "-sS", "-i", "-X", request.method]
    for name, value in request.headers.items():
        key_sent = _KEY_SENT.fullmatch(value) if name.lower() == "authorization" else None
        if key_sent is not None:
            # Double quotes so the shell expands the variable and the key is never written down; the scheme
            # as sent (none, Bearer, Token, Basic). A near miss of the key is shown as described, never as
            # the key itself: the server must refuse it, and would accept the key.
            parts.append(f'-H "Authorization: {key_sent["scheme"] or ""}${KEY_VARIABLE}"')
        else:
            parts.append("-H " + shlex.quote(f"{name}: {value}"))
    if request.body:
        parts += ["--data-binary", shlex.quote(request.body.decode("utf-8", errors="replace"))]
    parts.append(shlex.quote(request.url))
    return " ".join(parts)
