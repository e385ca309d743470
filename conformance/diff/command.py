"""The `diff` subcommand: its arguments, and running it to an exit code (0 no error-level change, 1 some, 2 bad input).

cli.py hooks it in with `add_parser(subparsers)` and dispatches to `main(arguments)`; `python -m
conformance.diff OLD NEW` runs it alone.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from conformance.errors import ExitCode, GateError, OutputNotWrittenError, worse
from conformance.options import DIFF, DIFF_FORMATS, add_to_argparse

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conformance.diff.model import DiffResult

PROGRAM = "conformance diff"
FORMATS = DIFF_FORMATS
DESCRIPTION = (
    "Compare two OpenAPI 3.x documents and classify every change as error, warning or info, for the side "
    "(request or response) it is on. Exit 0: no error-level change. 1: at least one (or a warning, with "
    "--strict). 2: bad input. 74: the verdict was reached but --output could not be written. With --replay, "
    "the recorded traffic is also replayed under NEW and the exit code is the worse of the diff's and the "
    "replay's (3: the replay could not judge; 129, 130, 143: stopped)."
)


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the diff's arguments to a parser, from the one option table every subcommand's come from."""
    add_to_argparse(parser, DIFF)
    return parser


def add_parser(subparsers: Any) -> argparse.ArgumentParser:  # noqa: ANN401 - argparse's private subparsers action
    """Add `diff` to the `conformance` command's subcommands."""
    return configure(
        subparsers.add_parser(DIFF, help="classify every change between two OpenAPI documents", description=DESCRIPTION)
    )


def _renderers() -> dict[str, Callable[..., str]]:
    from conformance.diff.render import render_json, render_markdown, render_text  # noqa: PLC0415
    from conformance.diff.sarif import render_sarif  # noqa: PLC0415

    return {"text": render_text, "md": render_markdown, "json": render_json, "sarif": render_sarif}


def run(arguments: argparse.Namespace) -> tuple[DiffResult, int]:
    """Diff (and with --replay, replay), render and write; raise GateError on bad input, OutputNotWrittenError."""
    from conformance.diff import bump, diff_files  # noqa: PLC0415 - jsonschema and YAML only when the command runs
    from conformance.files import prove_writable_file, write_together  # noqa: PLC0415

    cassette_dir, report_dir = _replay_folders(arguments)
    if arguments.output is not None:
        _refuse_output_over_inputs(arguments.output, [arguments.old, arguments.new], cassette_dir, report_dir)
        prove_writable_file(arguments.output, "--output")
    if arguments.replay:
        # Before the documents are read, as `conformance run` claims its reports before any refusal.
        from conformance.engine import claim_reports  # noqa: PLC0415

        claim_reports(report_dir, None)
    result = diff_files(arguments.old, arguments.new)
    code = bump.diff_exit_code(result, strict=arguments.strict)
    side = None
    # A machine-read report on stdout keeps stdout to itself: the replay's lines and the verdict go to stderr.
    to_stderr = arguments.output is None and arguments.format != "text"
    if arguments.replay:
        plan = bump.prepare(arguments.new, cassette_dir, report_dir, strict=arguments.strict)
        say = _printer(sys.stderr if to_stderr else sys.stdout)
        side = bump.replay(plan, say, _command(arguments))
        say("")
        code = bump.joined_exit_code(result, side, strict=arguments.strict)
    text = _renderers()[arguments.format](result, strict=arguments.strict, replay=side)
    if arguments.output is None:
        sys.stdout.write(text)
        if side is not None and to_stderr:
            print(bump.verdict(result, side, strict=arguments.strict), file=sys.stderr, flush=True)
        return result, code
    try:
        write_together({arguments.output: text})
    except OutputNotWrittenError as error:
        if side is None:
            raise
        # The replay's verdict stands and is said; the exit code says an output is missing, unless worse.
        print(f"conformance: error: {error}; make it writable (or free space) and run again", file=sys.stderr)
        code = worse(code, ExitCode.OUTPUT_NOT_WRITTEN)
    if side is not None:
        print(bump.verdict(result, side, strict=arguments.strict), flush=True)
    return result, code


def _replay_folders(arguments: argparse.Namespace) -> tuple[Path, Path]:
    """--cassette-dir and --report-dir with their defaults; either given without --replay is refused, not ignored."""
    from conformance.settings import DEFAULT_CASSETTE_DIR, DEFAULT_REPORT_DIR  # noqa: PLC0415

    if not arguments.replay:
        given = [flag for flag, value in (("--cassette-dir", arguments.cassette_dir),
                                          ("--report-dir", arguments.report_dir)) if value is not None]  # fmt: skip
        if given:
            raise GateError(f"{given[0]} is read only with --replay", f"add --replay, or drop {given[0]}")
    return arguments.cassette_dir or DEFAULT_CASSETTE_DIR, arguments.report_dir or DEFAULT_REPORT_DIR


def _refuse_output_over_inputs(output: Path, documents: list[Path], cassette_dir: Path, report_dir: Path) -> None:
    """--output must not overwrite a document compared, the recording replayed, or a report the replay writes."""
    from conformance.report import REPORT_FILES  # noqa: PLC0415

    target = output.resolve()
    for document in documents:
        if target == document.resolve():
            raise GateError(
                f"--output {output} is {document}, one of the documents compared", "write the report to another file"
            )
    if target.parent == cassette_dir.resolve():
        raise GateError(f"--output {output} is in --cassette-dir {cassette_dir}", "write the report elsewhere")
    if target in {(report_dir / name).resolve() for name in REPORT_FILES}:
        raise GateError(f"--output {output} is where the replay writes its {output.name}", "write it elsewhere")


def _printer(stream: TextIO) -> Callable[[str], None]:
    def say(line: str) -> None:
        print(line, file=stream, flush=True)

    return say


def _command(arguments: argparse.Namespace) -> str:
    """How the command was started, for the replay's record: `conformance diff ...` from either entry point."""
    given: list[str] | None = getattr(arguments, "argv", None)
    args = sys.argv[1:] if given is None else given
    # cli.py's namespace has the subcommand (and its argv names it); `python -m conformance.diff`'s has not.
    return " ".join(["conformance" if hasattr(arguments, "command") else PROGRAM, *args])


def main(arguments: argparse.Namespace) -> int:
    """Run the diff; bad input is one line on stderr and exit 2, never a traceback."""
    try:
        _, code = run(arguments)
    except GateError as error:
        print(f"conformance: error: {error}", file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
    except OutputNotWrittenError as error:
        print(f"conformance: error: {error}; make it writable (or free space) and run again", file=sys.stderr)
        return int(ExitCode.OUTPUT_NOT_WRITTEN)
    return code


class _Parser(argparse.ArgumentParser):
    """Errors in one line with the fix, exit 2, and no abbreviated flags (as the `conformance` command's parser)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - argparse's
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.BAD_INPUT, f"conformance: error: {message}; see '{self.prog} --help'\n")


def standalone(argv: list[str] | None = None) -> int:
    """`python -m conformance.diff OLD NEW ...`: the subcommand without the rest of the CLI."""
    parser = configure(_Parser(prog=PROGRAM, description=DESCRIPTION))
    try:
        arguments = parser.parse_args(argv)
        arguments.argv = argv  # as cli.py keeps it: the replay's record says how the command was started
        return main(arguments)
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
