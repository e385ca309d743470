"""The key never reaches the terminal, a report or a cassette, in any spelling, on any exit path."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support import KEY, conformance, id_args

from conformance.redaction import FRAGMENT_CHARS, Redactor
from conformance.sandbox import CheckoutApi, Reply, Sandbox, seeded_sessions

# Bearer keys the gate accepts: printable ASCII without spaces, at least 8 characters.
KEYS = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=8, max_size=48)
NASTY_KEY = "sk_test_\"quote'back\\slash%2Fpct<&>|pipe"
FUZZ = settings(derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Each of these examples runs the whole gate in a subprocess: one drawn key per exit path, plus the nasty one.
END_TO_END = settings(FUZZ, max_examples=1)


def spellings(secret: str) -> list[str]:
    """How an output may spell the key: the test's own list, written apart from the redactor's."""
    percent = quote(secret, safe="")
    return [
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret)[1:-1].replace("/", "\\/"),
        repr(secret)[1:-1],
        html.escape(secret),
        html.escape(secret, quote=False),
        secret.replace("|", "\\|"),
        percent,
        quote(secret, safe="/"),
        re.sub("%[0-9A-F]{2}", lambda match: match.group().lower(), percent),
    ]


def leaks(secret: str, text: str) -> list[str]:
    """Every run of FRAGMENT_CHARS characters of a spelling of `secret` found in `text`."""
    found = []
    for spelling in spellings(secret):
        size = min(FRAGMENT_CHARS, len(spelling))
        found += [spelling[i : i + size] for i in range(len(spelling) - size + 1) if spelling[i : i + size] in text]
    return found


def outputs(result: Any, *folders: Path) -> str:
    """The terminal and every file the run wrote, as one text."""
    texts = [result.stdout, result.stderr]
    for folder in folders:
        texts += [path.read_bytes().decode("utf-8", errors="replace") for path in folder.rglob("*") if path.is_file()]
    return "\n".join(texts)


# --- the redactor on its own ----------------------------------------------------------


@FUZZ
@given(
    key=KEYS,
    before=st.text(max_size=40),
    after=st.text(max_size=40),
    spelling=st.integers(min_value=0, max_value=9),
    cut=st.integers(min_value=0, max_value=60),
)
def test_every_spelling_of_the_key_in_any_text_is_redacted(
    key: str, before: str, after: str, spelling: int, cut: int
) -> None:
    redact = Redactor([key])
    text = before + spellings(key)[spelling] + after
    assert leaks(key, redact(text)) == []
    # A report may cut a text anywhere, in the middle of the key too.
    assert leaks(key, redact(text[: len(before) + cut])) == []


def test_text_without_the_key_is_left_as_it_is() -> None:
    redact = Redactor([KEY])
    text = "GET /checkouts/cks_abc -> 404 (sk_test_ but not the key)"
    assert redact(text) == text


# --- the whole gate, through every way a run can end -----------------------------------


class Echoing(CheckoutApi):
    """A careless server: it repeats the Authorization header in bodies and headers, spelled several ways."""

    def __init__(self, api_key: str, *, conformant: bool = True, rejects_all: bool = False) -> None:
        super().__init__(api_key, seeded_sessions())
        self.conformant = conformant
        self.rejects_all = rejects_all

    def authorized(self, header: str | None) -> bool:
        return not self.rejects_all and super().authorized(header)

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        echoed = headers.get("Authorization", "")
        reply = super().handle(method, target, headers)
        body = json.loads(reply.body) if reply.body else {}
        debug = f"as {echoed} / {quote(echoed)} / {html.escape(echoed)}"
        body["debug"] = debug
        if not self.conformant and body.get("payment_status") == "requires_capture":
            body["payment_status"] = echoed
        return (
            Reply.json(reply.status, body)
            if reply.status != 200
            else Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json", "X-Debug": quote(echoed)})
        )


def _run(tmp_path: Path, key: str, api: CheckoutApi, *extra: str) -> tuple[Any, Path, Path]:
    reports, cassettes = tmp_path / "reports", tmp_path / "cassettes"
    with Sandbox(api=api) as sandbox:
        result = conformance(
            "run", "--base-url", sandbox.base_url, "--report-dir", str(reports), "--cassette-dir", str(cassettes),
            "--max-examples", "3", *id_args(sandbox.checkout_ids), *extra,
            env={"DODO_PAYMENTS_API_KEY": f"  {key}\n"}, isolated=True,
        )  # fmt: skip
    return result, reports, cassettes


@END_TO_END
@given(key=KEYS)
@example(key=NASTY_KEY)
@pytest.mark.parametrize(
    ("variant", "code"),
    [("conformant, recorded", 0), ("non-conformant", 1), ("every key rejected", 3)],
)
def test_the_key_echoed_by_the_server_reaches_no_output(
    tmp_path_factory: pytest.TempPathFactory, variant: str, code: int, key: str
) -> None:
    tmp_path = tmp_path_factory.mktemp("echo")
    api = Echoing(key, conformant=variant != "non-conformant", rejects_all=variant == "every key rejected")
    extra = ("--record",) if variant == "conformant, recorded" else ()
    result, reports, cassettes = _run(tmp_path, key, api, *extra)
    assert result.returncode == code, result.stdout + result.stderr
    if extra:
        assert (cassettes / "run.json").exists()
    assert leaks(key, outputs(result, reports, cassettes)) == []


@settings(FUZZ, max_examples=3)
@given(key=KEYS, junk=KEYS)
@example(key=NASTY_KEY, junk="second-line-of-the-file")
def test_a_key_that_is_refused_is_never_shown(tmp_path_factory: pytest.TempPathFactory, key: str, junk: str) -> None:
    tmp_path = tmp_path_factory.mktemp("refused")
    key_file = tmp_path / "key"
    key_file.write_text(f"{key}\n{junk}\n", encoding="utf-8")
    from_file = conformance("run", "--base-url", "http://127.0.0.1:9", "--api-key-file", str(key_file))
    from_env = conformance("run", "--base-url", "http://127.0.0.1:9", env={"DODO_PAYMENTS_API_KEY": f"{key} {junk}"})
    for result in (from_file, from_env):
        assert result.returncode == 2, result.stderr
        assert "whitespace or a line break inside it" in result.stderr
        assert leaks(key, outputs(result)) == []
        assert leaks(junk, outputs(result)) == []


@END_TO_END
@given(key=KEYS)
@example(key=NASTY_KEY)
def test_a_key_in_an_unreachable_url_is_redacted(tmp_path_factory: pytest.TempPathFactory, key: str) -> None:
    tmp_path = tmp_path_factory.mktemp("url")
    result = conformance(
        "run", "--base-url", f"http://127.0.0.1:9/{quote(key, safe='')}", "--report-dir", str(tmp_path),
        env={"DODO_PAYMENTS_API_KEY": key}, isolated=True,
    )  # fmt: skip
    assert result.returncode == 3, result.stdout + result.stderr
    assert "cannot be reached" in result.stdout
    assert leaks(key, outputs(result, tmp_path)) == []


# Keys whose escaped spellings share no run of 10 characters with the key itself: only the redactor's
# list of spellings catches them, not its fragment matching.
DENSE_KEYS = [
    'k"e"y"w"i"t"h"q"u"o"t"e"s',
    "k\\e\\y\\w\\i\\t\\h\\b\\s\\l\\s",
    "k<e>y&w<i>t&h<a>m&p",
    "k'e'y'w'i't'h'a'p'o's",
    "k|e|y|w|i|t|h|p|i|p|e|s",
    "k%e%y/w?i#t&h=u+r+l",
    'k"e/y"w/i"t/h"q/u"o',
    "k'e\"y'w\"i't\"h'a\"p",
    'k&e"y<w"i>t"h&a"b',
    'k"e\\y&w|i%t"h\\a&b|c%d',
]


@pytest.mark.parametrize("key", DENSE_KEYS)
def test_every_spelling_of_a_key_dense_with_special_characters_is_redacted(key: str) -> None:
    redact = Redactor([key])
    for spelling in spellings(key):
        # The whole spelling, and nothing around it, becomes one marker.
        assert redact(f"before {spelling} after") == "before [REDACTED] after", spelling


def test_a_key_shorter_than_a_fragment_is_redacted_whole_and_only_whole() -> None:
    key = "sk_short"
    redact = Redactor([key])
    assert redact(f"x {key} y") == "x [REDACTED] y"
    assert redact("sk_shor") == "sk_shor"


@pytest.mark.parametrize("line", ["DODO_PAYMENTS_API_KEY={key}", "export DODO_PAYMENTS_API_KEY='{key}'"])
def test_a_copied_env_line_is_refused_by_name_and_its_value_never_shown(tmp_path: Path, line: str) -> None:
    # The value is the key; the variable's name is not, and the hints that name it must stay readable.
    key = "sk_test_from_a_dotenv_line_42"
    key_file = tmp_path / "key"
    key_file.write_text(line.format(key=key) + "\n", encoding="utf-8")
    from_file = conformance("run", "--base-url", "http://127.0.0.1:9", "--api-key-file", str(key_file))
    from_env = conformance(
        "run", "--base-url", "http://127.0.0.1:9", env={"DODO_PAYMENTS_API_KEY": line.format(key=key)}
    )
    for result, source in ((from_file, f"--api-key-file {key_file}"), (from_env, "DODO_PAYMENTS_API_KEY")):
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"conformance: error: the API key from {source} looks like a shell assignment (NAME=value), not a key; "
            "give only the key, the part after '='\n"
        )
        assert leaks(key, outputs(result)) == []


@pytest.mark.parametrize(
    "spelling", ["--api-k={key}", "--api={key}", "--apikey {key}", "--api_key={key}", "--key {key}"]
)
def test_a_mistyped_key_flag_is_refused_without_echoing_its_value(spelling: str) -> None:
    # argparse names an unknown (or, with abbreviations, ambiguous) flag with its value in the error.
    key = "sk_test_typed_after_a_typo_0042"
    result = conformance("run", "--base-url", "http://127.0.0.1:9", *spelling.format(key=key).split(" "), env={})
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("conformance: error: unrecognized arguments: ")
    assert leaks(key, outputs(result)) == []


@pytest.mark.parametrize("path", ["/nonexistent/key", "./missing.key", "tests/missing.key", "~/missing.key"])
def test_a_key_file_path_that_cannot_be_read_is_named(path: str) -> None:
    result = conformance("run", "--base-url", "http://127.0.0.1:9", "--api-key-file", path, env={})
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == f"conformance: error: --api-key-file {Path(path)} cannot be read (FileNotFoundError); fix the path\n"
    )


@pytest.mark.parametrize("spelling", ["--api-key-file {key}", "--api-key-file={key}"])
# A key may hold '/' (base64 does): only a value that reads as a path is shown as one.
@pytest.mark.parametrize("key", ["sk_test_given_as_a_path_0042", "sk_test_given/as+a/path_0042"])
def test_a_key_given_where_its_file_belongs_is_not_echoed_as_a_path(spelling: str, key: str) -> None:
    result = conformance("run", "--base-url", "http://127.0.0.1:9", *spelling.format(key=key).split(" "), env={})
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == "conformance: error: --api-key-file [REDACTED] cannot be read (FileNotFoundError); fix the path\n"
    )
    assert leaks(key, outputs(result)) == []
