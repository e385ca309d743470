"""The `conformance` command: runs the engine, renders saved runs, serves the sandbox, scores the selftest.

Only the standard library is imported at the top: everything heavier is imported inside `main`,
where Ctrl-C and errors become one line instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from conformance import __version__
from conformance.environment import ENV_API_KEY
from conformance.errors import BadInputError, ExitCode, GateError, OutputNotWrittenError, RunStopped, StoppedBySignal
from conformance.redaction import ASSIGNMENT, MIN_KEY_LENGTH, RedactingStream, Redactor

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conformance.sandbox.variants import Variant

PROGRAM = "conformance"
# The most of an unexpected error's message that its one line quotes.
INTERNAL_ERROR_CHARS = 300


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line with the fix, and that takes no abbreviated flag.

    An abbreviation that works today breaks when a flag sharing its start is added, in every CI job
    that used it; and a mistyped `--api-k=KEY` would be echoed, key and all, in the error.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - argparse's
        super().__init__(*args, **{**kwargs, "allow_abbrev": False})

    def error(self, message: str) -> NoReturn:
        if message.endswith("expected one argument"):
            # `--rate-limit -1/s`: argparse takes a value that starts with '-' for another flag.
            message += " (a value that starts with '-' is written --flag=VALUE)"
        self.exit(ExitCode.BAD_INPUT, f"{PROGRAM}: error: {message}; see '{self.prog} --help'\n")


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    # Imported here, inside main's error handling: see the module docstring.
    from conformance.options import (  # noqa: PLC0415
        CHECKS,
        DIFF,
        REPLAY,
        REPORT,
        RUN,
        SANDBOX,
        SELFTEST,
        add_to_argparse,
    )

    parser = _Parser(prog=PROGRAM, description="Conformance gate for Dodo Payments GET /checkouts/{id}.")
    parser.add_argument("--version", action="version", version=f"{PROGRAM} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    subparsers: dict[str, argparse.ArgumentParser] = {
        RUN: commands.add_parser(
            RUN,
            help="run the suite against --base-url, the bundled sandbox (--sandbox) or a recording (--replay)",
            description="Exit 0: conforms. 1: a check failed. 2: bad input. 3: could not judge the target. "
            "74: judged, but an output could not be written. 129, 130, 143: stopped by SIGHUP, Ctrl-C, SIGTERM.",
        ),
        REPORT: commands.add_parser(
            REPORT,
            help="render a saved run (summary.json) again, as Markdown, HTML, JUnit, JSON or SARIF",
            description="Exit 0: rendered. 2: the file is not a summary.json, or --output cannot be written. "
            "74: --output could not be written after all.",
        ),
        REPLAY: commands.add_parser(
            REPLAY,
            help="send a finding group's example request again, exactly, and judge it",
            description="Exit 0: the request passes its check now. 1: it still fails. 2: bad input. "
            "3: could not judge.",
        ),
        CHECKS: commands.add_parser(CHECKS, help="list every check: id, level, requirement, spec reference"),
        SANDBOX: commands.add_parser(SANDBOX, help="run the bundled sandbox alone, in the foreground"),
        SELFTEST: commands.add_parser(
            SELFTEST,
            help="run the suite against every sandbox variant: faults must fail, conformant ones must pass",
            description="Exit 0: every fault caught and every conformant variant passed. 1: otherwise.",
        ),
    }
    for name, subparser in subparsers.items():
        add_to_argparse(subparser, name)
    # The spec diff's parser carries its own description; its options come from the same table.
    from conformance.diff.command import add_parser as add_diff_parser  # noqa: PLC0415

    subparsers[DIFF] = add_diff_parser(commands)
    return parser, subparsers


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser, subparsers = _parser()
    arguments, extra = parser.parse_known_args(argv)
    if extra:
        # Reported by the command's own parser, so that the hint names `conformance run --help`.
        subparsers[arguments.command].error(f"unrecognized arguments: {' '.join(extra)}")
    arguments.argv = argv
    return arguments


def _possible_secrets(argv: list[str] | None) -> list[str]:
    """Every string that may be the key, before the settings are checked: it must not leak from an error."""
    args = sys.argv[1:] if argv is None else argv
    candidates = [os.environ.get(ENV_API_KEY, "")]
    if next((arg for arg in args if not arg.startswith("-")), None) == "sandbox":
        # The sandbox's --api-key is the made-up key it accepts, printed on purpose.
        args = []
    candidates += _flag_values_that_may_be_keys(args)
    key_files = [arg.split("=", 1)[1] for arg in args if arg.startswith("--api-key-file=")]
    key_files += [args[index + 1] for index, arg in enumerate(args[:-1]) if arg == "--api-key-file"]
    for key_file in key_files:
        try:
            candidates.append(Path(key_file).read_text(encoding="utf-8", errors="replace")[:4096])
        except OSError:
            # Not a readable file: perhaps the key itself, given where its file belongs, since the error names
            # the path. Only what reads as a path stays readable in it.
            if not _reads_as_a_path(key_file):
                candidates.append(key_file)
    secrets = []
    for candidate in candidates:
        for line in (candidate, *candidate.splitlines()):
            value = line.strip()
            if ASSIGNMENT.match(value):
                # Only the value of `NAME=value` can be the key: the variable's name is in the hints.
                value = value.split("=", 1)[1].strip().strip("'\"")
            else:
                secrets.append(line)
            secrets.append(value)
    # Shorter strings are refused as keys, and redacting them would blot out words of the messages.
    return [secret for secret in secrets if len(secret) >= MIN_KEY_LENGTH]


def _reads_as_a_path(value: str) -> bool:
    """Whether a value that names no readable file still reads as a path, not as a key (which may hold '/')."""
    if value.startswith(("/", ".", "~")):
        return True
    first, separator, _ = value.partition(os.sep)
    return bool(separator) and Path(first).exists()


def _flag_values_that_may_be_keys(args: list[str]) -> list[str]:
    """The values of `--api-key` and of anything that may be a mistyped one (`--api-k`, `--apikey`, `--key`).

    An error naming an unknown flag echoes its value.
    """
    values = []
    for index, arg in enumerate(args):
        name, equals, value = arg.partition("=")
        if not _may_name_the_key(name):
            continue
        if equals:
            values.append(value)
        elif index + 1 < len(args) and not args[index + 1].startswith("-"):
            values.append(args[index + 1])
    return values


def _may_name_the_key(flag: str) -> bool:
    name = flag.lower().lstrip("-").replace("_", "-")
    if not flag.startswith("-") or not name or name.startswith("api-key-f"):
        return False
    return "key" in name or "api-key".startswith(name)


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
            commands = {
                "checks": _list_checks,
                "sandbox": _sandbox,
                "selftest": _selftest,
                "run": _run,
                "report": _report,
                "replay": _replay,
                "diff": _diff,
            }
            return commands[arguments.command](arguments, redact)
    except GateError as error:
        print(redact(f"{PROGRAM}: error: {error}"), file=sys.stderr)
        return int(error.exit_code)
    except StoppedBySignal as stopped:
        print(f"{PROGRAM}: stopped by {stopped}", file=sys.stderr)
        return int(stopped.exit_code)
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except OutputNotWrittenError as error:
        print(redact(f"{PROGRAM}: error: {error}; make it writable (or free space) and run again"), file=sys.stderr)
        return int(ExitCode.OUTPUT_NOT_WRITTEN)
    except Exception as error:  # noqa: BLE001 - the last line of defence: one line, never a traceback
        first_line = str(error).splitlines()[0] if str(error) else ""
        if len(first_line) > INTERNAL_ERROR_CHARS:
            # A message can quote a whole path or body; the one line must stay one readable line.
            first_line = first_line[: INTERNAL_ERROR_CHARS - 1] + "…"
        print(
            redact(f"{PROGRAM}: internal error: {type(error).__name__}: {first_line}; ")
            + "this is a bug in the gate, please report it with the command you ran",
            file=sys.stderr,
        )
        return int(ExitCode.CANNOT_JUDGE)


def _run(arguments: argparse.Namespace, redact: Redactor) -> int:
    from conformance import engine  # noqa: PLC0415 - see the module docstring
    from conformance.options import flags_from  # noqa: PLC0415
    from conformance.settings import build_settings  # noqa: PLC0415

    flags = flags_from(lambda name: getattr(arguments, name))
    # Before any other refusal: a run refused here leaves no report of an earlier run behind.
    engine.claim_reports(flags.report_dir, flags.sarif)
    settings = build_settings(flags)
    redact.add(settings.api_key or "")
    plan = engine.prepare(settings, claimed=True)
    redact.add(plan.api_key or "")
    given = argv_of(arguments)
    command = " ".join([PROGRAM, *(sys.argv[1:] if given is None else given)])
    return int(engine.execute(plan, say=lambda line: print(line, flush=True), command=redact(command)).exit_code)


def argv_of(arguments: argparse.Namespace) -> list[str] | None:
    """The arguments main() was given, when it was given them (None: the process's own)."""
    given: list[str] | None = getattr(arguments, "argv", None)
    return given


def _replay(arguments: argparse.Namespace, redact: Redactor) -> int:
    from conformance.credentials import Credentials  # noqa: PLC0415
    from conformance.given_key import clean_api_key, read_key_file  # noqa: PLC0415
    from conformance.record import RunRecord  # noqa: PLC0415
    from conformance.reproduce import default_target, find_group, replay  # noqa: PLC0415
    from conformance.settings import (  # noqa: PLC0415
        check_base_url,
        check_seconds,
        default_rate_limit,
        parse_rate,
        refuse_live_mode,
    )
    from conformance.spec import load_contract  # noqa: PLC0415
    from conformance.transport import Transport  # noqa: PLC0415

    check_seconds("--request-timeout", arguments.request_timeout)
    record = RunRecord.read(arguments.summary)
    group = find_group(record, arguments.finding)
    target = arguments.base_url or default_target(record)
    if target is None:
        raise BadInputError(
            f"the run judged {record.run.target}, which cannot be asked again", "pass --base-url of the server to ask"
        )
    # A target read from the summary is named as such: --base-url was not given.
    source = "--base-url" if arguments.base_url else f"the target in {arguments.summary}"
    base_url = check_base_url(target.strip(), source)
    if arguments.api_key_file is not None:
        key = read_key_file(arguments.api_key_file)
    elif os.environ.get(ENV_API_KEY, "").strip():
        key = clean_api_key(os.environ[ENV_API_KEY], ENV_API_KEY)
    else:
        raise BadInputError(f"no API key was given for {base_url}", f"set {ENV_API_KEY} or pass --api-key-file")
    credentials = Credentials(key)
    # The key and its near copies, which the probes send: secrets alike.
    for secret in credentials.secrets():
        redact.add(secret)
    contract = load_contract(Path(record.run.spec))
    refuse_live_mode(base_url, contract, allowed=arguments.allow_live_mode)
    transport = Transport(
        base_url, credentials, timeout=arguments.request_timeout,
        rate_per_second=parse_rate(rate) if (rate := default_rate_limit(base_url)) is not None else None,
    )  # fmt: skip
    try:
        replayed = replay(group, record, transport, contract)
    except RunStopped as stop:
        # What stops a whole run (a proxy's 407) stops this one request too: one line, exit 3.
        raise stop.error from None
    finally:
        transport.close()
    for line in replayed.lines:
        print(line)
    return int(replayed.exit_code)


def _report(arguments: argparse.Namespace, redact: Redactor) -> int:  # noqa: ARG001 - one signature for all
    from conformance.files import prove_writable_file, write_together  # noqa: PLC0415
    from conformance.record import RunRecord  # noqa: PLC0415
    from conformance.report import FORMATS  # noqa: PLC0415

    if arguments.output is not None:
        if arguments.output.resolve() == arguments.summary.resolve():
            raise BadInputError(
                f"--output {arguments.output} is the summary being rendered, which would be lost",
                "write the rendering to another file",
            )
        prove_writable_file(arguments.output, "--output")
    text = FORMATS[arguments.format](RunRecord.read(arguments.summary))
    if arguments.output is None:
        sys.stdout.write(text)
    else:
        write_together({arguments.output: text})
    return int(ExitCode.CONFORMS)


def _list_checks(arguments: argparse.Namespace, redact: Redactor) -> int:  # noqa: ARG001 - one signature for all
    from conformance.operations import REGISTRY  # noqa: PLC0415 - imports Schemathesis, which only this command needs

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


def _diff(arguments: argparse.Namespace, redact: Redactor) -> int:  # noqa: ARG001 - one signature for all
    from conformance.diff.command import main as diff  # noqa: PLC0415 - only this command needs it

    return diff(arguments)


def _serve_sandbox(port: int, api_key: str | None, variant_name: str) -> int:
    import secrets  # noqa: PLC0415

    from conformance.sandbox import Sandbox, resource_lines, seeded_sessions  # noqa: PLC0415

    if not 0 <= port <= 65535:
        raise BadInputError(f"--port {port} is out of range", "give a port from 1 to 65535, or 0 for any free one")
    variant = _variant(variant_name)
    if api_key is not None:
        # Checked as `run` checks a key, so that a key the sandbox accepts is one `run` can send.
        from conformance.given_key import clean_api_key  # noqa: PLC0415

        api_key = clean_api_key(api_key, "--api-key")
    api = variant.api(api_key or f"sk_test_{secrets.token_hex(16)}", seeded_sessions())
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
    print("seeded product ids:")
    for product_id in sandbox.product_ids:
        print(f"  {product_id}")
    print("\n".join(resource_lines(sandbox)))
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
