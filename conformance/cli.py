"""The `conformance` command: a thin layer over the pytest suite and the sandbox.

Only the standard library is imported at the top: everything heavier is imported inside `main`,
where Ctrl-C and errors become one line instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from conformance import __version__
from conformance.errors import BadInputError, ExitCode, GateError
from conformance.redaction import RedactingStream, Redactor

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conformance.sandbox.variants import Variant

PROGRAM = "conformance"
ENV_API_KEY = "DODO_PAYMENTS_API_KEY"
# Where the suite lives; the plugin is not imported here, so that pytest can rewrite what it loads.
SUITE_DIR = Path(__file__).parent / "suite"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line with the fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.BAD_INPUT, f"{PROGRAM}: error: {message}; see '{self.prog} --help'\n")


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    from conformance import settings  # noqa: PLC0415 - inside main's error handling, see the module docstring

    parser = _Parser(prog=PROGRAM, description="Conformance gate for Dodo Payments GET /checkouts/{id}.")
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser(
        "run",
        help="run the suite against --base-url, the bundled sandbox (--sandbox) or a recording (--replay)",
        description="Exit 0: conforms. 1: a check failed. 2: bad input. 3: could not judge the target. "
        "130: interrupted.",
    )
    run.add_argument("--base-url", help=f"server to judge (env {settings.ENV_BASE_URL})")
    run.add_argument("--sandbox", action="store_true", help="judge the bundled sandbox, whatever the environment says")
    run.add_argument("--api-key", help=f"bearer key (env {ENV_API_KEY}; prefer the environment or --api-key-file)")
    run.add_argument("--api-key-file", type=Path, help="read the bearer key from this file")
    run.add_argument(
        "--checkout-id",
        action="append",
        dest="checkout_ids",
        help=f"id of an existing session; repeatable (env {settings.ENV_CHECKOUT_IDS}, comma-separated)",
    )
    run.add_argument("--spec", type=Path, default=settings.DEFAULT_SPEC, help="OpenAPI document (default %(default)s)")
    run.add_argument("--report-dir", type=Path, default=settings.DEFAULT_REPORT_DIR, help="default %(default)s")
    run.add_argument("--max-examples", type=int, help=f"ids to generate (default {settings.DEFAULT_MAX_EXAMPLES})")
    run.add_argument("--seed", type=int, help=f"seed of the generated requests (default {settings.DEFAULT_SEED})")
    run.add_argument("--strict", action="store_true", dest="conformance_strict", help="SHOULD warnings fail the run")
    run.add_argument(
        "--request-timeout", type=float, default=settings.DEFAULT_REQUEST_TIMEOUT, help="seconds (default %(default)g)"
    )
    modes = run.add_mutually_exclusive_group()
    modes.add_argument("--record", action="store_true", help="run live and write every exchange to the cassettes")
    modes.add_argument("--replay", action="store_true", help="serve every reply from the cassettes: no network, no key")
    run.add_argument("--cassette-dir", type=Path, default=settings.DEFAULT_CASSETTE_DIR, help="default %(default)s")
    run.add_argument("--allow-live-mode", action="store_true", help="allow a live-mode target, where money is real")
    run.add_argument(
        "--rate-limit", help=f"e.g. 100/m or 10/s (default {settings.DEFAULT_REMOTE_RATE_LIMIT} off this machine)"
    )
    run.add_argument(
        "--max-time",
        type=float,
        default=settings.DEFAULT_MAX_TIME_SECONDS,
        help="time budget, seconds (default %(default)g)",
    )
    run.add_argument(
        "--exclude-check", action="append", dest="excluded_checks", help="a check id not to run; repeatable"
    )

    checks = commands.add_parser("checks", help="list every check: id, level, requirement, spec reference")

    sandbox = commands.add_parser("sandbox", help="run the bundled sandbox alone, in the foreground")
    sandbox.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    sandbox.add_argument("--api-key", help="the key to accept (default: a random one)")
    sandbox.add_argument("--variant", default="reference", help="a broken or odd variant (see --list-variants)")
    sandbox.add_argument("--list-variants", action="store_true", help="list the variants and exit")

    selftest = commands.add_parser(
        "selftest",
        help="run the suite against every sandbox variant: faults must fail, conformant ones must pass",
        description="Exit 0: every fault caught and every conformant variant passed. 1: otherwise.",
    )
    selftest.add_argument(
        "--spec", type=Path, default=settings.DEFAULT_SPEC, help="OpenAPI document (default %(default)s)"
    )
    selftest.add_argument("--report-dir", type=Path, default=settings.DEFAULT_REPORT_DIR, help="default %(default)s")
    selftest.add_argument("--jobs", type=int, default=2, help="variants judged at once (default %(default)s)")
    selftest.add_argument("--max-examples", type=int, default=settings.DEFAULT_MAX_EXAMPLES, help="default %(default)s")
    selftest.add_argument("--variant", action="append", dest="variants", help="judge only this variant; repeatable")
    return parser, {"run": run, "checks": checks, "sandbox": sandbox, "selftest": selftest}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser, subparsers = _parser()
    arguments, extra = parser.parse_known_args(argv)
    if extra:
        # Reported by the command's own parser, so that the hint names `conformance run --help`.
        subparsers[arguments.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return arguments


def _possible_secrets(argv: list[str] | None) -> list[str]:
    """Every string that may be the key, before the settings are checked: it must not leak from an error."""
    args = sys.argv[1:] if argv is None else argv
    candidates = [os.environ.get(ENV_API_KEY, "")]
    if next((arg for arg in args if not arg.startswith("-")), None) == "sandbox":
        # The sandbox's --api-key is the made-up key it accepts, printed on purpose.
        args = []
    for index, arg in enumerate(args):
        if arg.startswith("--api-key="):
            candidates.append(arg.split("=", 1)[1])
        elif arg == "--api-key" and index + 1 < len(args):
            candidates.append(args[index + 1])
    key_files = [arg.split("=", 1)[1] for arg in args if arg.startswith("--api-key-file=")]
    key_files += [args[index + 1] for index, arg in enumerate(args[:-1]) if arg == "--api-key-file"]
    for key_file in key_files:
        try:
            candidates.append(Path(key_file).read_text(encoding="utf-8", errors="replace")[:4096])
        except OSError:
            continue
    secrets = []
    for candidate in candidates:
        secrets += [candidate, candidate.strip(), *(line.strip() for line in candidate.splitlines())]
    return [secret for secret in secrets if len(secret) >= 4]


@contextmanager
def _redacted_terminal(redact: Redactor) -> Iterator[None]:
    """Whatever reaches the terminal, a traceback included, passes through the redactor first."""
    streams = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(sys.stdout, redact), RedactingStream(sys.stderr, redact)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(BrokenPipeError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = streams


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    redact = Redactor(_possible_secrets(argv))
    try:
        with _redacted_terminal(redact):
            arguments = _parse(argv)
            commands = {"checks": _list_checks, "sandbox": _sandbox, "selftest": _selftest, "run": _run}
            return commands[arguments.command](arguments, redact)
    except BrokenPipeError:
        # The reader went away (`conformance checks | head`); point stdout at nothing so exit stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(ExitCode.CONFORMS)
    except GateError as error:
        print(redact(f"{PROGRAM}: error: {error}"), file=sys.stderr)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        first_line = str(error).splitlines()[0] if str(error) else ""
        print(
            redact(f"{PROGRAM}: internal error: {type(error).__name__}: {first_line}; ")
            + "this is a bug in the gate, please report it with the command you ran",
            file=sys.stderr,
        )
        return int(ExitCode.CANNOT_JUDGE)


def _run(arguments: argparse.Namespace, redact: Redactor) -> int:
    # Imported only now: the plugin loads Schemathesis and Hypothesis, which pytest should import itself.
    import pytest  # noqa: PLC0415

    from conformance.settings import Mode, build_settings, flags_from, refuse_live_mode  # noqa: PLC0415
    from conformance.spec import load_contract  # noqa: PLC0415

    mode = Mode.RECORD if arguments.record else Mode.REPLAY if arguments.replay else Mode.LIVE
    settings = build_settings(flags_from(lambda name: getattr(arguments, name), mode))
    redact.add(settings.api_key or "")
    refuse_live_mode(settings, load_contract(settings.spec))
    from conformance.plugin import Preset  # noqa: PLC0415

    args = [
        str(SUITE_DIR),
        "-p",
        "conformance.plugin",
        "-p",
        "no:cacheprovider",
        # The gate prints its own header, progress and verdict; pytest's report would repeat them
        # in pytest's words (tracebacks of harness errors included).
        "-p",
        "no:terminal",
        # ... and prints them as they happen, so nothing is held back by pytest's capture.
        "--capture=no",
        # The suite's own configuration, not that of the folder the user runs in.
        "-c",
        str(SUITE_DIR / "pytest.ini"),
        f"--rootdir={Path.cwd()}",
        # The suite's verdicts never rely on assert rewriting, and rewriting every module of the
        # plugins pytest loads (Schemathesis' among them) costs a second whenever bytecode
        # caching is off (PYTHONDONTWRITEBYTECODE).
        "--assert=plain",
        # Plugins other dependencies bring in, which the suite does not use.
        "-p",
        "no:anyio",
        "-p",
        "no:xdist",
    ]
    # The settings travel whole, key included, in this process: never through argv or the environment.
    code = int(pytest.main(args, plugins=[Preset(settings)]))
    if code in set(ExitCode):
        return code
    print(
        f"{PROGRAM}: error: pytest ended with code {code}; rerun with 'pytest --sandbox' to see why",
        file=sys.stderr,
    )
    return int(ExitCode.CANNOT_JUDGE)


def _list_checks(arguments: argparse.Namespace, redact: Redactor) -> int:  # noqa: ARG001 - one signature for all
    from conformance.checks import REGISTRY  # noqa: PLC0415 - imports Schemathesis, which only this command needs

    width = max(len(check_id) for check_id in REGISTRY)
    for check in REGISTRY.values():
        print(f"{check.id.ljust(width)}  {check.level:<6}  {check.requirement}")
        print(f"{' ' * width}  {'':<6}  spec: {check.spec_ref}")
    return int(ExitCode.CONFORMS)


def _sandbox(arguments: argparse.Namespace, redact: Redactor) -> int:  # noqa: ARG001 - one signature for all
    if arguments.list_variants:
        return _list_variants()
    return _serve_sandbox(arguments.port, arguments.api_key, arguments.variant)


def _variant(name: str) -> Variant:
    from conformance.sandbox.variants import VARIANTS  # noqa: PLC0415

    if name not in VARIANTS:
        raise BadInputError(f"there is no variant {name!r}", "see 'conformance sandbox --list-variants'")
    return VARIANTS[name]


def _list_variants() -> int:
    from conformance.sandbox.variants import VARIANTS  # noqa: PLC0415

    width = max(len(name) for name in VARIANTS)
    for variant in VARIANTS.values():
        kind = "conformant" if variant.conformant else "fault"
        print(f"{variant.name.ljust(width)}  {kind:<10}  {variant.description}")
    return int(ExitCode.CONFORMS)


def _serve_sandbox(port: int, api_key: str | None, variant_name: str) -> int:
    import secrets  # noqa: PLC0415

    from conformance.sandbox import Sandbox, seeded_sessions  # noqa: PLC0415

    if not 0 <= port <= 65535:
        raise BadInputError(f"--port {port} is out of range", "give a port from 1 to 65535, or 0 for any free one")
    variant = _variant(variant_name)
    api = variant.api(api_key or f"sk_sandbox_{secrets.token_hex(16)}", seeded_sessions())
    try:
        sandbox = Sandbox(api=api, port=port)
    except OSError as exc:
        raise BadInputError(
            f"port {port} on 127.0.0.1 cannot be used ({exc.strerror})", "pick another --port"
        ) from None
    print(f"sandbox listening on {sandbox.base_url} (variant {variant.name}: {variant.description})")
    print(f"api key: {sandbox.api_key}")
    print("seeded checkout ids:")
    for checkout_id in sandbox.checkout_ids:
        print(f"  {checkout_id}")
    print("press Ctrl-C to stop", flush=True)
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        print("sandbox stopped")
    return int(ExitCode.CONFORMS)


def _selftest(arguments: argparse.Namespace, redact: Redactor) -> int:  # noqa: ARG001 - one signature for all
    from conformance.selftest import passed, render, run_selftest  # noqa: PLC0415 - only this command needs it
    from conformance.spec import load_contract  # noqa: PLC0415

    for name in arguments.variants or []:
        _variant(name)
    if arguments.jobs < 1 or arguments.max_examples < 1:
        raise BadInputError("--jobs and --max-examples must be positive", "give numbers of 1 or more")
    load_contract(arguments.spec)
    record = run_selftest(
        arguments.spec, arguments.report_dir, arguments.jobs, arguments.max_examples, arguments.variants
    )
    for line in render(record):
        print(line)
    print(f"selftest: {arguments.report_dir}/selftest.json")
    return int(ExitCode.CONFORMS if passed(record) else ExitCode.NON_CONFORMANT)


if __name__ == "__main__":
    raise SystemExit(main())
