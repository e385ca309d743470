"""`conformance`'s entry point in this process: each way it can end is one exit code and at most one line.

Fast on purpose (no subprocess, no server), so that `make mutation` can run them for every mutant of
cli.main and of the guess at what on a command line may be the key.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from conformance import cli
from conformance.errors import BadInputError, OutputNotWrittenError, StoppedBySignal, TargetError

KEY = "sk_test_cli_main_0123456789"
BUG = "conformance: internal error: "
WRITE_FIX = "make it writable (or free space) and run again"
LAST = "this is a bug in the gate, please report it with the command you ran"


def _main_raising(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> int:
    def command(*_: object) -> int:
        raise error

    monkeypatch.setenv("DODO_PAYMENTS_API_KEY", KEY)
    monkeypatch.setattr(cli, "_list_checks", command)
    return cli.main(["checks"])


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (BadInputError(f"the key {KEY} is odd", "fix it"), 2, "conformance: error: the key [REDACTED] is odd; fix it"),
        (TargetError("the target is gone", "start it"), 3, "conformance: error: the target is gone; start it"),
        (KeyboardInterrupt(), 130, "conformance: interrupted"),
        (StoppedBySignal(signal.SIGTERM), 143, "conformance: stopped by SIGTERM"),
        (StoppedBySignal(signal.SIGHUP), 129, "conformance: stopped by SIGHUP"),
        (
            OutputNotWrittenError(Path(f"out/{KEY}.md"), OSError(28, "No space left on device")), 74,
            f"conformance: error: out/[REDACTED].md could not be written (No space left on device); {WRITE_FIX}",
        ),
        (RuntimeError(f"broke on {KEY}\nsecond line"), 3, f"{BUG}RuntimeError: broke on [REDACTED]; {LAST}"),
        (ValueError(), 3, f"{BUG}ValueError: ; {LAST}"),
        (OSError("x" * 5000), 3, f"{BUG}OSError: {'x' * 299}…; {LAST}"),
    ],
    ids=["bad input", "cannot judge", "ctrl-c", "sigterm", "sighup", "an output not written", "a bug",
         "a bug without a message", "a bug with a long message"],
)  # fmt: skip
def test_each_way_a_command_ends_is_one_exit_code_and_one_redacted_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], error: BaseException, code: int, line: str
) -> None:
    assert _main_raising(monkeypatch, error) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [line]


@pytest.mark.parametrize("code", [0, 1, 3])
def test_a_command_that_ends_on_its_own_passes_its_exit_code_on(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    monkeypatch.setattr(cli, "_run", lambda *_: code)
    assert cli.main(["run"]) == code


def test_what_a_command_prints_passes_through_the_redactor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def chatty(*_: object) -> int:
        print(f"out {KEY}")
        print(f"err {KEY}", file=sys.stderr)
        return 0

    monkeypatch.setenv("DODO_PAYMENTS_API_KEY", KEY)
    monkeypatch.setattr(cli, "_list_checks", chatty)
    assert cli.main(["checks"]) == 0
    out, err = capsys.readouterr()
    assert (out, err) == ("out [REDACTED]\n", "err [REDACTED]\n")


# --- what on a command line may be the key ----------------------------------------------------------------------


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DODO_PAYMENTS_API_KEY", raising=False)


@pytest.mark.usefixtures("no_key")
@pytest.mark.parametrize(
    "args",
    [
        ["run", "--api-key", KEY],
        ["run", f"--api-key={KEY}"],
        ["run", "--api-k", KEY],  # abbreviated
        ["run", f"--apikey={KEY}"],
        ["run", "--API_KEY", KEY],
        ["run", "--key", KEY],
        ["run", "--base-url", "http://x", "--api-key", KEY, "--sandbox"],
    ],
)
def test_the_value_of_any_flag_that_may_name_the_key_may_be_the_key(args: list[str]) -> None:
    assert KEY in cli._possible_secrets(args)  # noqa: SLF001 - the policy itself


@pytest.mark.usefixtures("no_key")
@pytest.mark.parametrize(
    "args",
    [
        ["run", "--api-key"],  # no value at all
        ["run", "--api-key", "--sandbox", KEY],  # the next word is a flag, not a value
        ["run", "--base-url", KEY],
        ["run", "api-key", KEY],  # not a flag
        ["run", f"--api-key-file={KEY}/"],  # a path
    ],
)
def test_values_of_other_flags_are_not_taken_for_the_key(args: list[str]) -> None:
    assert KEY not in cli._possible_secrets(args)  # noqa: SLF001


def test_the_key_in_the_environment_is_a_secret_and_short_values_never_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DODO_PAYMENTS_API_KEY", KEY)
    secrets = cli._possible_secrets(["run", "--api-key", "1234567", "--key", "12345678"])  # noqa: SLF001
    assert KEY in secrets
    assert "12345678" in secrets
    # Shorter than any key: refused as one, and redacting it would blot out words of the messages.
    assert "1234567" not in secrets


def test_the_sandbox_commands_own_key_is_printed_on_purpose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DODO_PAYMENTS_API_KEY", KEY)
    secrets = cli._possible_secrets(["sandbox", "--api-key", "sk_sandbox_made_up_key"])  # noqa: SLF001
    assert "sk_sandbox_made_up_key" not in secrets
    assert KEY in secrets
    # Only the command decides: a value "sandbox" elsewhere does not.
    assert "sk_sandbox_made_up_key" in cli._possible_secrets(  # noqa: SLF001
        ["--api-key", "sk_sandbox_made_up_key", "run", "sandbox"]
    )


@pytest.mark.usefixtures("no_key")
def test_each_line_of_a_key_file_and_the_value_of_an_assignment_in_it_may_be_the_key(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(f"  {KEY}  \nexport DODO_PAYMENTS_API_KEY='sk_test_assigned_value_42'\n", encoding="utf-8")
    for args in (["run", "--api-key-file", str(key_file)], ["run", f"--api-key-file={key_file}"]):
        secrets = cli._possible_secrets(args)  # noqa: SLF001
        assert KEY in secrets
        assert "sk_test_assigned_value_42" in secrets
        # The variable's name is in the hints; it must stay readable, so the assignment is not a secret whole.
        assert "export DODO_PAYMENTS_API_KEY='sk_test_assigned_value_42'" not in secrets


@pytest.mark.usefixtures("no_key")
@pytest.mark.parametrize(
    ("value", "secret"),
    [
        ("sk_test_no_such_file_01", True),
        ("sk_test_no/such+file_01", True),  # a key may hold '/'
        ("tests/no-such-file.key", False),  # its folder exists: a path
        ("/no/such/file.key", False),
        ("./no-such-file.key", False),
        ("~/no-such-file.key", False),
    ],
)
def test_an_unreadable_key_file_may_be_the_key_itself_unless_it_reads_as_a_path(value: str, secret: bool) -> None:
    assert (value in cli._possible_secrets(["run", "--api-key-file", value])) is secret  # noqa: SLF001


def test_what_a_command_writes_without_a_newline_still_reaches_the_terminal_redacted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unfinished(*_: object) -> int:
        sys.stdout.write(f"half a line {KEY}")
        sys.stderr.write(f"and {KEY}")
        return 0

    monkeypatch.setenv("DODO_PAYMENTS_API_KEY", KEY)
    monkeypatch.setattr(cli, "_list_checks", unfinished)
    assert cli.main(["checks"]) == 0
    assert capsys.readouterr() == ("half a line [REDACTED]", "and [REDACTED]")


@pytest.mark.usefixtures("no_key")
def test_the_process_arguments_are_read_without_the_program_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["/usr/bin/conformance", "sandbox", "--api-key", "sk_sandbox_made_up_key"])
    assert "sk_sandbox_made_up_key" not in cli._possible_secrets(None)  # noqa: SLF001
    monkeypatch.setattr(sys, "argv", ["/usr/bin/conformance", "--api-key", KEY])
    assert KEY in cli._possible_secrets(None)  # noqa: SLF001


@pytest.mark.usefixtures("no_key")
def test_a_flag_with_nothing_after_it_or_a_flag_after_it_takes_no_value() -> None:
    secrets = cli._possible_secrets(["run", "--api-key", "--allow-live-mode", "--max-time", "--api-key"])  # noqa: SLF001
    assert secrets == []


@pytest.mark.usefixtures("no_key")
def test_a_key_file_path_or_an_assigned_value_holding_equals_signs_is_read_whole(tmp_path: Path) -> None:
    key_file = tmp_path / "a=b.key"
    key_file.write_text("DODO_PAYMENTS_API_KEY=sk_test_with=equals_42\n", encoding="utf-8")
    secrets = cli._possible_secrets(["run", f"--api-key-file={key_file}"])  # noqa: SLF001
    assert "sk_test_with=equals_42" in secrets


@pytest.mark.usefixtures("no_key")
def test_only_the_file_after_api_key_file_is_read(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("sk_not_a_key_but_a_note_42\n", encoding="utf-8")
    for flag in ("--api-key", "--allow-live-mode", "--spec"):
        assert "sk_not_a_key_but_a_note_42" not in cli._possible_secrets(["run", flag, str(other)])  # noqa: SLF001
