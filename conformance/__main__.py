"""The `conformance` command's entry point (and `python -m conformance`): Ctrl-C from here on is one line, exit 130.

It imports nothing but `sys` before its handler is in place: a Ctrl-C while the CLI itself is still being
imported (argparse, the redactor, then everything a run needs) would otherwise end in a traceback.
"""

import sys

# ExitCode.INTERRUPTED and cli.py's own line, written out here: importing them is what this handler covers.
INTERRUPTED = 130


def main() -> int:
    """Run the CLI with the process's arguments; a Ctrl-C before the CLI's own handler is one line too."""
    try:
        from conformance.cli import main as cli_main  # noqa: PLC0415 - inside the handler on purpose

        return cli_main()
    except KeyboardInterrupt:
        sys.stderr.write("conformance: interrupted\n")
        return INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(main())
