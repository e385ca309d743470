"""Bytes a hostile target sends (terminal escapes, NUL, C1 and bidi controls, line separators) are inert everywhere."""

from __future__ import annotations

import html.parser
import io
import itertools
import json
import os
import re
import socketserver
import subprocess
import sys
import threading
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import xmlschema
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from jsonschema.validators import validator_for
from markdown_it import MarkdownIt
from support import KEY, ROOT, conformance, every_string

from conformance import engine
from conformance.neutral import escape_of, neutral
from conformance.record import (
    CheckRecord,
    ExchangeCounts,
    Finding,
    FindingGroup,
    RequestRecord,
    Result,
    RunFacts,
    RunRecord,
    Tool,
    redacted,
)
from conformance.redaction import RedactingStream, Redactor
from conformance.report import FORMATS, render_closing, render_header
from conformance.settings import Flags, build_settings

JUNIT_SCHEMA = xmlschema.XMLSchema(ROOT / "tests" / "data" / "junit.xsd")
SARIF_SCHEMA_FILE = ROOT / "node_modules" / "@microsoft" / "jest-sarif" / "lib" / "schemas" / "sarif-2.1.0-rtm.5.json"
# What a hostile server sends: an OSC title, a bell, clear-screen, red, then a fake verdict on a line of its own.
FAKE_VERDICT = "conformance: CONFORMS (exit 0): all good"
BANNER = f"\x1b]0;pwned\x07\x1b[2J\x1b[31m{FAKE_VERDICT}\x00"
# Written in this test's own words, apart from neutral.py: what no output may hold raw.
ACTIVE_CATEGORIES = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def active(character: str) -> bool:
    """A character a terminal, a Markdown or HTML renderer or an XML parser could act on (or no UTF-8 holds)."""
    code = ord(character)
    return unicodedata.category(character) in ACTIVE_CATEGORIES or 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def raw_active(text: str, allowed: str = "") -> list[str]:
    """The active characters of `text` but those `allowed` (the format's own structure: its line breaks)."""
    return [character for character in text if active(character) and character not in allowed]


# --- the rule on its own -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("character", "shown"),
    [
        ("\x00", "\\x00"),
        ("\x07", "\\x07"),
        ("\x1b", "\\x1b"),
        ("\r", "\\x0d"),
        ("\x7f", "\\x7f"),
        ("\x85", "\\x85"),  # C1 next line
        ("\x9b", "\\x9b"),  # C1 control sequence introducer: the one-byte ESC [
        ("\u2028", "\\u2028"),  # line separator
        ("\u2029", "\\u2029"),  # paragraph separator
        ("\u202e", "\\u202e"),  # right-to-left override
        ("\u2066", "\\u2066"),  # left-to-right isolate
        ("\u200b", "\\u200b"),  # zero-width space
        ("\ufeff", "\\ufeff"),  # byte order mark
        ("\ud800", "\\ud800"),  # a lone surrogate: no UTF-8 file can hold it
        ("\ufffe", "\\ufffe"),  # no XML 1.0 character
        ("\U000e0001", "\\U000e0001"),  # language tag
    ],
)
def test_each_kind_of_active_character_is_shown_as_its_escape(character: str, shown: str) -> None:
    assert neutral(f"a{character}b") == f"a{shown}b"
    assert active(character)


@pytest.mark.parametrize(
    ("character", "active_one"),
    [
        ("\ufdcf", False), ("\ufdd0", True), ("\ufdef", True), ("\ufdf0", False),  # the noncharacters' block
        ("\ufffd", False), ("\ufffe", True), ("\uffff", True), ("\U0001fffe", True), ("\U0010ffff", True),
    ],
)  # fmt: skip
def test_noncharacters_are_escaped_and_their_neighbours_are_not(character: str, active_one: bool) -> None:
    assert (neutral(character) != character) is active_one
    assert active(character) is active_one


@pytest.mark.parametrize(
    ("character", "shown"),
    [("\xff", "\\xff"), ("\u0100", "\\u0100"), ("\uffff", "\\uffff"), ("\U00010000", "\\U00010000")],
)
def test_an_escape_is_as_long_as_the_code_point_needs(character: str, shown: str) -> None:
    # Two hex digits up to U+00FF, four up to U+FFFF, eight beyond: each escape reads back as one character.
    assert escape_of(character) == shown


def test_printable_text_in_any_script_is_left_as_it_is() -> None:
    text = 'GET /checkouts/cks_1 -> 404 {"message": "Not Found"} é ß 日本 \U0001f600 \\x1b'
    assert neutral(text) == text
    # Only what the caller keeps stays raw: a record keeps its line breaks and tabs, a terminal line nothing.
    assert neutral("a\nb\tc", keep="\t\n") == "a\nb\tc"
    assert neutral("a\nb\tc") == "a\\x0ab\\x09c"


TEXTS = st.text(st.characters(exclude_categories=()))


@settings(database=None, max_examples=300)
@given(text=TEXTS, keep=st.sampled_from(["", "\n", "\t\n"]))
def test_the_rule_leaves_nothing_active_and_changes_nothing_the_second_time(text: str, keep: str) -> None:
    once = neutral(text, keep=keep)
    assert raw_active(once, keep) == []
    assert neutral(once, keep=keep) == once
    once.encode("utf-8")  # a lone surrogate would fail here


def test_the_terminal_stream_shows_control_characters_escaped_whoever_writes_them() -> None:
    # The CLI's stdout and stderr: the last guard, for anything printed without a renderer.
    sink = io.StringIO()
    stream = RedactingStream(sink, Redactor([KEY]))
    stream.write(f"{BANNER}\u202e and {KEY}\nnext\r")
    stream.flush()
    assert sink.getvalue() == (
        "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mconformance: CONFORMS (exit 0): all good\\x00\\u202e and [REDACTED]\n"
        "next\\x0d"
    )


# --- every format, from a record of arbitrary text ------------------------------------------

# Stands for a free text in the template record: every one is replaced by a drawn text.
T = "\uf8ff-free-text"


def _finding(outcome: str) -> Finding:
    return Finding(
        outcome=outcome, received=T, expected=T, purpose=T, credential="valid key", checkout_id=T,
        request=RequestRecord(method=T, url=T, headers={T: T, "Authorization": T}), status=500, content_type=T,
        body_excerpt=T, transport_error=T, curl=T, id_sent=T, why=T, location=T,
    )  # fmt: skip


def _template(exit_code: int) -> RunRecord:
    failed, warned = _finding("failed"), _finding("warned")
    checks = (
        CheckRecord("response.schema", "MUST", T, T, "failed", None, 1, 2, 0, (failed, failed), 1),
        CheckRecord("session.created_at_once", "SHOULD", T, T, "warned", None, 1, 0, 1, (warned,)),
        CheckRecord("auth.missing_key", "MUST", T, T, "skipped", T, 0, 0, 0),
        # An id only an edited record can hold (summary.json's schema restricts them), in a table cell.
        CheckRecord(T, "MUST", T, T, "passed", None, 3, 0, 0),
    )
    groups = (
        FindingGroup("F0000001", "response.schema", "MUST", "failed", 500, T, 2, failed, (T, T), 3, T),
        FindingGroup("F0000002", "session.created_at_once", "SHOULD", "warned", None, T, 1, warned, (T,), 0, ""),
    )
    status = {0: "conforms", 1: "non-conformant"}.get(exit_code, "could not judge")
    return RunRecord(
        tool=Tool(T, T),
        run=RunFacts(
            started="2026-12-07T23:00:00+00:00", finished="2026-12-07T23:00:01+00:00", duration_seconds=1.0,
            # The spec's path is the user's, not the target's: SARIF looks it up on disk.
            first_failure_after_seconds=0.5, target=T, sandbox=False, spec="spec/openapi.yaml", spec_version=T, seed=1,
            max_examples=3, strict=False, request_timeout_seconds=10.0, checkout_ids=(T, T), requests_sent=4,
            mode="live", command=T,
        ),
        result=Result(status, exit_code, T),
        exchanges=ExchangeCounts(total=4, by_status={"500": 2, "200": 2}, unjudged=0),
        checks=checks,
        groups=groups,
        spec_gaps=(T, T),
        oracle_disagreements=(T,),
    )  # fmt: skip


def _filled(template: RunRecord, texts: list[str]) -> RunRecord:
    """The template with each free text replaced by the next drawn one, in turn."""
    drawn = itertools.cycle(texts)
    return redacted(template, lambda text: next(drawn) if text == T else text)  # type: ignore[no-any-return]


# What a hostile server sends, beside arbitrary text: escapes, markup of each format, what links.
HOSTILE = st.sampled_from(
    [
        BANNER, "\x00", "\x1b", "\x1b[2J", "\r", "\n", "\r\nconformance: CONFORMS (exit 0)\n", "\t", "\x7f", "\x85",
        "\x9b", "\u2028", "\u2029", "\u202e", "\u2066", "\u200b", "\ufeff", "\ud800", "\udfff", "\ufffe", "\uffff",
        "\U000e0001", "&#27;", "&#x202e;", "<img src=x onerror=alert(1)>", "<script>", "![x](http://evil.example/p)",
        "[click](javascript:alert(1))", "http://evil.example/a", "www.evil.example", "mail@evil.example", "```",
        "`", "|", "]]>", "<![CDATA[", "&", "\\", '"', "'",
    ]
)  # fmt: skip
HOSTILE_TEXT = st.lists(st.one_of(TEXTS, HOSTILE), max_size=6).map("".join)
# Tags and attributes report.html writes itself; a server's text must add none.
PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "span", "p", "code", "nav",
    "label", "input", "select", "option", "main", "section", "article", "details", "summary", "a", "dl", "dt", "dd",
    "pre", "div", "small", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "script", "br",
}  # fmt: skip
# markdown-it tokens that would make summary.md link, embed or run markup of the server's.
MARKDOWN_FORBIDDEN = {"html_inline", "html_block", "link_open", "image", "autolink"}
# What GitHub's Markdown links with no markup at all (GFM's autolink extension); only code may hold it.
BARE_LINK = re.compile(r"[a-z][a-z0-9+.-]*://|www\.|mailto:|xmpp:|[\w.+-]@[\w-]+\.[\w-]", re.IGNORECASE)
# What a file's own structure may hold raw: the whitespace of text. A terminal line holds none.
WHITESPACE = "\t\n"


class _Page(html.parser.HTMLParser):
    """Collects the tags, attributes and text of a page, character references decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_inert_html(page: str) -> None:
    """No raw active character, only the page's own tags, no link off the page, and no active character decoded."""
    assert raw_active(page, WHITESPACE) == []
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert {tag for tag, _ in parser.tags} <= PAGE_TAGS
    for tag, attrs in parser.tags:
        names = {name for name, _ in attrs}
        assert not any(name.startswith("on") for name in names), (tag, attrs)
        if tag == "a":
            assert all(value is not None and value.startswith("#") for name, value in attrs if name == "href")
        assert all(raw_active(value or "", WHITESPACE) == [] for _, value in attrs)
    assert raw_active("".join(parser.text), WHITESPACE) == []


def assert_inert_markdown(text: str) -> None:
    """No raw active character; rendered, no HTML, link or image, no active character, nothing a bare URL links."""
    assert raw_active(text, WHITESPACE) == []
    tokens = MarkdownIt("commonmark", {"html": True}).enable("table").parse(text)
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    assert raw_active(rendered, WHITESPACE) == []
    for token in tokens:
        assert token.type not in MARKDOWN_FORBIDDEN, token
        for child in token.children or []:
            assert child.type not in MARKDOWN_FORBIDDEN, child
            if child.type == "text":
                assert BARE_LINK.search(child.content) is None, child.content


def assert_inert_junit(text: str) -> None:
    """Well-formed XML 1.0 that validates as JUnit, with no active character in any text or attribute."""
    assert raw_active(text, WHITESPACE) == []
    root = ET.fromstring(text)  # noqa: S314 - the gate's own output
    JUNIT_SCHEMA.validate(text)
    for element in root.iter():
        assert raw_active(element.text or "", WHITESPACE) == []
        assert all(raw_active(value, WHITESPACE) == [] for value in element.attrib.values())


def assert_inert_json(text: str) -> None:
    """Valid JSON, no raw active character, and none in any string once decoded (a line break or tab excepted)."""
    assert raw_active(text, WHITESPACE) == []

    for string in every_string(json.loads(text)):
        assert raw_active(string, WHITESPACE) == [], string


def assert_inert_terminal(lines: list[str]) -> None:
    """Each line one line, with no active character; no line of the server's reads as a verdict."""
    for line in lines:
        assert raw_active(line) == [], line
        assert not line.startswith("conformance: CONFORMS") or line is lines[-1]


INERT: dict[str, Callable[[str], None]] = {
    "md": assert_inert_markdown,
    "html": assert_inert_html,
    "junit": assert_inert_junit,
    "json": assert_inert_json,
    "sarif": assert_inert_json,
}


@settings(database=None, max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(HOSTILE_TEXT, min_size=1, max_size=40), exit_code=st.sampled_from([0, 1, 3, 130]))
@example(texts=[BANNER, "\u202e\u2028\x85", "http://evil.example <img src=x> &#27;"], exit_code=3)
# An empty code span (two backticks) would pair with the next one, leaving the text between it as Markdown.
@example(texts=["`&#x202e;<b>", ""], exit_code=0)
# A `|` ends a table cell even inside a code span: the rest of the check's id would be Markdown.
@example(texts=["x|&#27;<img src=x>"], exit_code=1)
def test_a_record_of_any_text_renders_inert_in_every_format(texts: list[str], exit_code: int) -> None:
    record = _filled(_template(exit_code), texts)
    for form, inert in INERT.items():
        text = FORMATS[form](record)
        text.encode("utf-8")  # what is written must be writable: no lone surrogate
        inert(text)
    assert_inert_terminal(render_closing(record, Path("reports"), sarif=Path("f.sarif")))
    run = record.run
    header = render_header(
        target=run.target, spec=run.spec, spec_version=run.spec_version, seed=1, max_examples=1,
        checkout_ids=run.checkout_ids, product_id=texts[0] or None,
    )  # fmt: skip
    assert_inert_terminal(header)


def test_a_saved_summary_edited_to_hold_raw_controls_is_rendered_inert_in_every_format(tmp_path: Path) -> None:
    # A summary.json written by an older version, or edited: JSON escapes decode to the raw characters, and
    # `conformance report` must not trust them.
    record = _filled(_template(1), [BANNER, "\u202e\u2028\x85\ud800", "www.evil.example\r\nx"])
    # Valid against summary.json's schema, which checks the ids: what is left is free text.
    record = replace(record, checks=(*record.checks[:3], replace(record.checks[3], id="session.stable")))
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps(record.to_json()), encoding="utf-8")
    assert "\\u001b" in summary.read_text(encoding="utf-8")
    for form, inert in INERT.items():
        result = conformance("report", str(summary), "--format", form)
        assert result.returncode == 0, result.stderr
        inert(result.stdout)
        output = tmp_path / f"out.{form}"
        written = conformance("report", str(summary), "--format", form, "--output", str(output))
        assert written.returncode == 0, written.stderr
        inert(output.read_text(encoding="utf-8"))


# --- end to end: a server on 127.0.0.1 that answers with the banner everywhere ------------------

KNOWN = "cks_hostile0000000000000001"
PRODUCT = "pdt_hostile"
# The banner as header bytes (Latin-1, as http.client reads them): a C1 CSI too, the one-byte ESC [.
HEADER_BANNER = BANNER.encode("latin-1") + b"\x9b2J"
# In a body: UTF-8, with bidi and line separators, and the fake verdict on lines of its own.
BODY_BANNER = f"{BANNER}\u202e\u2028\x85\r\n{FAKE_VERDICT}\r\n".encode()


def _reply(method: str, path: str, headers: dict[str, str], how: str) -> bytes:
    """The hostile answer to one request: the banner in the reason phrase, a field, the body, and more."""
    if how == "no status line":
        return BODY_BANNER
    json_type = b"application/json"
    if method == "POST":
        return _message(b"400 " + HEADER_BANNER, json_type, b'{"code": "bad", "message": "' + BODY_BANNER + b'"}')
    if headers.get("authorization") != f"Bearer {KEY}":
        return _message(b"401 " + HEADER_BANNER, json_type, b'{"code": "no", "message": "' + BODY_BANNER + b'"}')
    if path == f"/checkouts/{KNOWN}":
        # Not JSON (raw control characters in a string), under a Content-Type that carries the banner too.
        body = b'{"id": "' + KNOWN.encode() + b'", "status": "' + BODY_BANNER + b'"}'
        return _message(b"200 " + HEADER_BANNER, json_type + b"; x=" + HEADER_BANNER, body)
    # Every other id: a redirect to the banner.
    return _message(b"302 Found", b"text/plain", BODY_BANNER, b"Location: /" + HEADER_BANNER + b"\r\n")


def _message(status: bytes, content_type: bytes, body: bytes, fields: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\nX-Banner: " + HEADER_BANNER + b"\r\n" + fields
        + b"Content-Type: " + content_type + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )  # fmt: skip


class _Hostile(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        while True:
            request_line = self.rfile.readline(65537)
            if not request_line.strip():
                return
            headers = {}
            while (line := self.rfile.readline(65537)).strip():
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            self.rfile.read(int(headers.get("content-length", "0")))
            method, target, _ = request_line.decode("latin-1").split(" ", 2)
            how: str = self.server.how  # type: ignore[attr-defined]
            self.wfile.write(_reply(method, target.split("?", 1)[0], headers, how))
            if how == "no status line":
                return


class _HostileServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, how: str) -> None:
        super().__init__(("127.0.0.1", 0), _Hostile)
        self.how = how


def _serve(how: str) -> tuple[_HostileServer, str]:
    server = _HostileServer(how)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.mark.parametrize(
    ("how", "extra", "code"),
    [
        ("banner everywhere", ("--checkout-id", KNOWN, "--oracle"), 1),
        # The server's message goes into the verdict itself.
        ("banner everywhere", ("--checkout-id", KNOWN, "--create-session", "--product-id", PRODUCT), 3),
        # Whatever the verdict on a reply without a status line, its bytes are inert.
        ("no status line", ("--checkout-id", KNOWN), None),
    ],
    ids=["findings", "create refused with the banner", "no status line"],
)
def test_a_server_answering_with_escapes_and_a_nul_reaches_no_output_raw(
    tmp_path: Path, how: str, extra: tuple[str, ...], code: int | None
) -> None:
    server, base_url = _serve(how)
    reports, sarif = tmp_path / "reports", tmp_path / "findings.sarif"
    try:
        result = conformance(
            "run", "--base-url", base_url, "--report-dir", str(reports), "--max-examples", "3", "--sarif", str(sarif),
            *extra, env={"DODO_PAYMENTS_API_KEY": KEY},
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == code if code is not None else result.returncode in (1, 3), result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert_inert_terminal(lines)
    verdict = "NON-CONFORMANT" if result.returncode == 1 else "COULD NOT JUDGE"
    assert lines[-1].startswith(f"conformance: {verdict} (exit {result.returncode})")
    assert raw_active(result.stderr, "\n") == []
    assert_inert_markdown((reports / "summary.md").read_text(encoding="utf-8"))
    assert_inert_html((reports / "report.html").read_text(encoding="utf-8"))
    assert_inert_junit((reports / "junit.xml").read_text(encoding="utf-8"))
    assert_inert_json((reports / "summary.json").read_text(encoding="utf-8"))
    assert_inert_json(sarif.read_text(encoding="utf-8"))
    if SARIF_SCHEMA_FILE.exists():  # it comes with the npm packages (make node)
        schema = json.loads(SARIF_SCHEMA_FILE.read_text(encoding="utf-8"))
        validator_for(schema)(schema).validate(json.loads(sarif.read_text(encoding="utf-8")))
    # The reader still sees what was sent, escaped, where it was sent: the banner reached the record.
    record = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    shown = "\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31m"
    findings = [finding for check in record["checks"] for finding in check["findings"]]
    if how == "no status line":
        errors = [finding["transport_error"] or "" for finding in findings]
        assert any(shown in error for error in [*errors, record["result"]["reason"]])
    elif "--create-session" in extra:
        assert shown in record["result"]["reason"]
    else:
        for field in ("body_excerpt", "content_type", "location", "received"):
            assert any(shown in (finding[field] or "") for finding in findings), field
        # A Location that is not UTF-8 is judged like any other, not a crash of the gate.
        assert record["exchanges"]["by_status"]["302"] > 0


def test_the_record_the_engine_returns_and_the_lines_it_says_are_inert(tmp_path: Path) -> None:
    # A test of the user's own that calls the engine gets the record, not the files: it must be inert too.
    server, base_url = _serve("banner everywhere")
    said: list[str] = []
    try:
        flags = Flags(
            base_url=base_url, api_key=KEY, checkout_ids=(KNOWN,), spec=ROOT / "spec" / "openapi.yaml",
            report_dir=tmp_path, max_examples=3,
        )  # fmt: skip
        outcome = engine.run(build_settings(flags), say=said.append)
    finally:
        server.shutdown()
        server.server_close()
    assert outcome.exit_code == 1, outcome.record.result.reason
    strings = list(every_string(outcome.record))
    assert any("\\x1b]0;pwned" in string for string in strings)
    assert [string for string in strings if raw_active(string, WHITESPACE)] == []
    assert_inert_terminal(said)


def test_the_pytest_front_end_shows_the_servers_bytes_inert(tmp_path: Path) -> None:
    # pytest's terminal is not the CLI's guarded stream: the lines the engine says, and the failure messages
    # the suite builds from the record, are all that stands between the server and the CI log.
    server, base_url = _serve("banner everywhere")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "--base-url", base_url,
             "--checkout-id", KNOWN, "--spec", str(ROOT / "spec" / "openapi.yaml"), "--max-examples", "3",
             "--report-dir", str(tmp_path / "reports")],
            cwd=tmp_path, env={**_clean_environment(), "DODO_PAYMENTS_API_KEY": KEY}, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "\\x1b]0;pwned" in result.stdout  # the findings are shown, escaped
    assert raw_active(result.stdout + result.stderr, "\n") == []
    assert not any(line.startswith(FAKE_VERDICT) for line in result.stdout.splitlines())


def _clean_environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith(("DODO_", "CONFORMANCE_"))}
