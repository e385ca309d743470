"""The `diff` subcommand: its arguments, and running it to an exit code (0 no error-level change, 1 some, 2 bad input).

cli.py hooks it in with `add_parser(subparsers)` and dispatches to `main(arguments)`; `python -m
conformance.diff OLD NEW` runs it alone.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from conformance.errors import ExitCode, GateError, OutputNotWrittenError
from conformance.options import DIFF, DIFF_FORMATS, add_to_argparse

if TYPE_CHECKING:
    from collections.abc import Callable

    from conformance.diff.model import DiffResult

PROGRAM = "conformance diff"
FORMATS = DIFF_FORMATS
DESCRIPTION = (
    "Compare two OpenAPI 3.x documents and classify every change as error, warning or info, for the side "
    "(request or response) it is on. Exit 0: no error-level change. 1: at least one (or a warning, with "
    "--strict). 2: bad input. 74: the verdict was reached but --output could not be written."
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
    """Diff, render and write; raise GateError on bad input, OutputNotWrittenError when the output fails."""
    from conformance.diff import diff_files  # noqa: PLC0415 - jsonschema and YAML only when the command runs
    from conformance.files import prove_writable_file, write_together  # noqa: PLC0415

    if arguments.output is not None:
        for document in (arguments.old, arguments.new):
            if arguments.output.resolve() == document.resolve():
                raise GateError(
                    f"--output {arguments.output} is {document}, one of the documents compared",
                    "write the report to another file",
                )
        prove_writable_file(arguments.output, "--output")
    result = diff_files(arguments.old, arguments.new)
    text = _renderers()[arguments.format](result, strict=arguments.strict)
    if arguments.output is None:
        sys.stdout.write(text)
    else:
        write_together({arguments.output: text})
    return result, int(ExitCode.NON_CONFORMANT if result.fails(strict=arguments.strict) else ExitCode.CONFORMS)


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
        return main(parser.parse_args(argv))
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
