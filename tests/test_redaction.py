"""The redactor on its own: what it replaces, exactly, and what it leaves alone."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest

from conformance.model import SentRequest
from conformance.redaction import FRAGMENT_CHARS, REDACTED, RedactingStream, Redactor, curl_line

KEY = "sk_live_0123456789abcdefXYZ"


def test_a_run_of_exactly_fragment_chars_of_the_key_is_redacted_and_one_less_is_not() -> None:
    redact = Redactor([KEY])
    inside = KEY[3 : 3 + FRAGMENT_CHARS]
    assert redact(f"<{inside}>") == f"<{REDACTED}>"
    assert redact(f"<{inside[:-1]}>") == f"<{inside[:-1]}>"
    assert FRAGMENT_CHARS == 10


def test_each_occurrence_is_one_marker_and_overlapping_runs_merge() -> None:
    redact = Redactor([KEY])
    assert redact(f"a {KEY} b {KEY} c") == f"a {REDACTED} b {REDACTED} c"
    # Two windows of the key that overlap in the text are one span, one marker.
    assert redact(f"x{KEY[:14]}y") == f"x{REDACTED}y"
    assert redact(f"{KEY}{KEY}") == REDACTED
    assert redact(KEY[:5]) == KEY[:5]


def test_nothing_to_redact_leaves_the_text_as_it_is() -> None:
    assert Redactor([])("text") == "text"
    assert not Redactor([""])
    assert Redactor([KEY])
    assert Redactor([KEY])("") == ""
    assert Redactor(["", KEY])(KEY) == REDACTED


def test_secrets_added_later_are_redacted_too() -> None:
    redact = Redactor([])
    redact.add("")
    assert not redact
    redact.add(KEY)
    assert redact(f"k={KEY}") == f"k={REDACTED}"


def test_the_terminal_stream_redacts_whole_lines_even_when_the_key_arrives_in_pieces() -> None:
    sink = io.StringIO()
    stream = RedactingStream(sink, Redactor([KEY]))
    assert stream.write(f"key {KEY[:6]}") == len(f"key {KEY[:6]}")
    assert sink.getvalue() == ""
    stream.write(f"{KEY[6:]} end\nnext")
    assert sink.getvalue() == f"key {REDACTED} end\n"
    stream.write(f" {KEY}")
    stream.flush()
    assert sink.getvalue() == f"key {REDACTED} end\nnext {REDACTED}"
    assert stream.getvalue() == sink.getvalue()  # everything else is the stream's


class _GoneReader(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(text)


def _closed() -> io.StringIO:
    sink = io.StringIO()
    sink.close()
    return sink


@pytest.mark.parametrize("sink", [_GoneReader, _closed], ids=["reader-went-away", "closed"])
def test_a_stream_that_fails_under_the_terminal_swallows_the_output_and_not_the_run(
    sink: Callable[[], io.StringIO],
) -> None:
    # `conformance run | head -1`, or stdout closed under the run: what is left to print goes nowhere.
    stream = RedactingStream(sink(), Redactor([KEY]))
    assert stream.write(f"one {KEY}\n") == len(f"one {KEY}\n")
    stream.write("two\n")
    stream.write("pending")
    stream.flush()
    assert stream.closed is False  # what is now written to is an open stream, not the failed one


def test_a_curl_line_reads_the_key_from_the_environment_and_quotes_the_rest() -> None:
    request = SentRequest(
        "GET",
        "http://127.0.0.1:9/checkouts/cks_a'b",
        {"Authorization": f"Bearer {REDACTED}", "Accept": "application/json", "X-Odd": "it's"},
    )
    line = curl_line(request)
    assert line == (
        'curl -sS -i -X GET -H "Authorization: Bearer $DODO_PAYMENTS_API_KEY" '
        "-H 'Accept: application/json' -H 'X-Odd: it'\"'\"'s' 'http://127.0.0.1:9/checkouts/cks_a'\"'\"'b'"
    )
    wrong = curl_line(SentRequest("GET", "http://h/c", {"Authorization": "Bearer made-up"}))
    assert "-H 'Authorization: Bearer made-up'" in wrong


def test_the_first_and_last_run_of_the_key_are_redacted_at_either_end_of_a_text() -> None:
    # A report cuts a body anywhere: what is left of the key may open or close the text.
    redact = Redactor([KEY])
    head, tail = KEY[:FRAGMENT_CHARS], KEY[-FRAGMENT_CHARS:]
    for text in (head, tail, f"cut…{tail}", f"{head}…cut", f"cut…{head}", f"{tail}…cut"):
        assert REDACTED in redact(text), text
        assert head not in redact(text)
        assert tail not in redact(text)
    # One character short of a run is left alone at the ends too.
    assert redact(KEY[-FRAGMENT_CHARS + 1 :]) == KEY[-FRAGMENT_CHARS + 1 :]
    assert redact(KEY[: FRAGMENT_CHARS - 1]) == KEY[: FRAGMENT_CHARS - 1]


# Each escaped spelling must be the only one that matches some key: `a"b/cdef` has a JSON spelling unlike its
# raw and `\\/` spellings, `a'b"cdef` a repr spelling unlike every other.
@pytest.mark.parametrize("key", ['ab"cdefg', "ab\\cdefg", "ab/cdefg", 'a"b/cdef', "a'b\"cdef"])
def test_a_key_shorter_than_a_run_is_redacted_in_each_escaped_spelling_and_only_there(key: str) -> None:
    # Shorter than FRAGMENT_CHARS, a spelling is matched whole, so each must be exactly the escaped key.
    redact = Redactor([key])
    spellings = {json.dumps(key)[1:-1], json.dumps(key)[1:-1].replace("/", "\\/"), repr(key)[1:-1]}
    for spelling in spellings:
        assert redact(f"token={spelling}&") == f"token={REDACTED}&", spelling
        assert redact(f"{spelling}") == REDACTED


def test_a_short_secret_inside_a_long_one_does_not_cut_the_long_ones_marker_short() -> None:
    # The short one's span ends before the long one's: merging must keep the farther end.
    short = KEY[-9:-1]
    redact = Redactor([KEY, short])
    assert redact(f"{KEY} and {KEY}!") == f"{REDACTED} and {REDACTED}!"
    assert redact(f"<{short}>") == f"<{REDACTED}>"


def test_only_the_authorization_header_is_rewritten_to_read_the_key_from_the_environment() -> None:
    request = SentRequest(
        "GET", "http://127.0.0.1:9/c", {"Accept": REDACTED, "X-Echo": f"a {REDACTED}", "Authorization": REDACTED}
    )
    # The key was sent without a scheme: so does the curl.
    assert curl_line(request) == (
        "curl -sS -i -X GET -H 'Accept: [REDACTED]' -H 'X-Echo: a [REDACTED]' "
        '-H "Authorization: $DODO_PAYMENTS_API_KEY" http://127.0.0.1:9/c'
    )


@pytest.mark.parametrize(
    ("shown", "header"),
    [
        (f"Token {REDACTED}", '-H "Authorization: Token $DODO_PAYMENTS_API_KEY"'),
        (f"Basic {REDACTED}", '-H "Authorization: Basic $DODO_PAYMENTS_API_KEY"'),
        # A near miss must never become the key: a correct server accepts the key, so that curl reproduces nothing.
        (
            f"Bearer {REDACTED} (the key without its last character)",
            "-H 'Authorization: Bearer [REDACTED] (the key without its last character)'",
        ),
    ],
)
def test_a_curl_line_sends_the_key_only_where_the_key_was_sent(shown: str, header: str) -> None:
    line = curl_line(SentRequest("GET", "http://127.0.0.1:9/c", {"Authorization": shown}))
    assert line == f"curl -sS -i -X GET {header} http://127.0.0.1:9/c"
