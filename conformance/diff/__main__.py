"""`python -m conformance.diff OLD NEW [--format ...] [--strict] [--output FILE]`."""

from conformance.diff.command import standalone

if __name__ == "__main__":
    raise SystemExit(standalone())
