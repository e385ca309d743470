"""Helpers for the project's tests: handmade exchanges and the CLI run as a user runs it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from conformance.model import Credential, Exchange, Purpose, ReceivedResponse, SentRequest
from conformance.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec" / "openapi.yaml"
KNOWN_ID = "cks_known0000000000000000"
# A session the gate created itself (--create-session), for the checks that judge only those.
CREATED_ID = "cks_CreatedByTheGate0000001"
KEY = "sk_test_e2e_secret_key_5f2b9c41d7"


def conformance(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, isolated: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would, in a clean environment.

    In this process by default: the same parser, settings, engine and terminal, without paying for a new
    interpreter each time. `isolated` runs it in a subprocess, for what needs one of its own (signals,
    Hypothesis inside a Hypothesis test, process pools).
    """
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DODO_", "CONFORMANCE_"))}
    environment.update(env or {})
    if isolated:
        return subprocess.run(
            [sys.executable, "-m", "conformance", *args],
            cwd=cwd, env=environment, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    return _in_process(list(args), cwd, environment)


# The `conformance` command (its entry point, as the installed script calls it) with Ctrl-C restored first: a
# shell that started pytest in the background (as CI runners and `make test &` do) hands its children SIGINT
# ignored, and a Ctrl-C test would then wait forever.
_MAIN_WITH_CTRL_C = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); {before_main}"
    "from conformance.__main__ import main; sys.exit(main())"
)


def _ctrl_c_as_a_terminal_leaves_it() -> None:
    # Run in the child before Python starts: a Ctrl-C that arrives before the interpreter installs its
    # handler then ends the process (-2), as it would from a terminal, instead of being ignored. SIGTERM
    # and SIGHUP too: a test run under nohup (or a CI runner) may hand its children SIGHUP ignored.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def start(args: list[str], *, before_main: str = "", **popen: Any) -> subprocess.Popen[str]:
    """Start the CLI in its own process, as a terminal would, with text pipes for stdout and stderr."""
    return subprocess.Popen(
        [sys.executable, "-c", _MAIN_WITH_CTRL_C.format(before_main=before_main), *args],
        **{"cwd": ROOT, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True,
           "preexec_fn": _ctrl_c_as_a_terminal_leaves_it, **popen},
    )  # fmt: skip


def start_until_import(args: list[str], module: str, **popen: Any) -> subprocess.Popen[str]:
    """Start the CLI as `start` does; return once it begins to import `module` (or has ended before it).

    The child says so on a pipe from an audit hook, at the moment the import starts: what the test does next
    provably happens while that import or a later line runs, however slowly a busy machine starts the process.
    """
    read_end, write_end = os.pipe()
    hook = (
        f"import os; sys.addaudithook(lambda event, args: event == 'import' and args[0] == {module!r} "
        f"and os.write({write_end}, b'!') and None); "
    )
    try:
        process = start(args, before_main=hook, pass_fds=(write_end,), **popen)
    finally:
        os.close(write_end)  # the child's copy is the only one left: the pipe ends when the child does
    try:
        readable, _, _ = select.select([read_end], [], [], 240)
        assert readable, f"gave up waiting for the CLI to import {module} after 240 s"
        os.read(read_end, 1)  # b"!", or b"" when the child ended without importing it
    finally:
        os.close(read_end)
    return process


def _in_process(args: list[str], cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    from conformance import cli  # noqa: PLC0415 - the CLI under test, imported where it runs

    out, err = io.StringIO(), io.StringIO()
    saved_environment, saved_cwd = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(args)
            except SystemExit as exit_:
                # argparse's --help, --version and usage errors end the way a process would.
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        os.chdir(saved_cwd)
    return subprocess.CompletedProcess(["conformance", *args], code, out.getvalue(), err.getvalue())


def id_args(checkout_ids: list[str] | tuple[str, ...]) -> list[str]:
    """`--checkout-id` once per id."""
    return [arg for checkout_id in checkout_ids for arg in ("--checkout-id", checkout_id)]


def run_against(
    sandbox: Sandbox, report_dir: Path, *extra: str, ids: bool = True, max_examples: int = 25
) -> subprocess.CompletedProcess[str]:
    """`conformance run` against a running sandbox, with the key from the environment."""
    return conformance(
        "run", "--base-url", sandbox.base_url, "--report-dir", str(report_dir), "--max-examples", str(max_examples),
        *(id_args(sandbox.checkout_ids) if ids else []), *extra,
        env={"DODO_PAYMENTS_API_KEY": KEY},
    )  # fmt: skip


def summary(report_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    return loaded


def check_status(report_dir: Path) -> dict[str, str]:
    return {item["id"]: item["status"] for item in summary(report_dir)["checks"]}


def make_exchange(
    *,
    status: int | None = 200,
    body: Any = None,
    body_text: str | None = None,
    headers: dict[str, str] | None = None,
    purpose: str = Purpose.KNOWN.value,
    credential: str = Credential.VALID.value,
    checkout_id: str = KNOWN_ID,
    transport_error: str | None = None,
    rate_limited: bool = False,
    previous: dict[str, Any] | None = None,
    encoding: str = "utf-8",
    why: str | None = None,
) -> Exchange:
    """An exchange as a case file describes it; `status` None means no response came."""
    response = None
    if status is not None:
        if body_text is not None:
            raw = body_text.encode(encoding)
        elif body is not None:
            raw = json.dumps(body).encode()
        else:
            raw = b""
        default_headers = {"Content-Type": "application/json"} if raw else {}
        response = ReceivedResponse(
            status=status,
            reason="",
            headers=headers if headers is not None else default_headers,
            body=raw,
            elapsed_ms=1.0,
        )
    return Exchange(
        purpose=Purpose(purpose),
        credential=Credential(credential),
        checkout_id=checkout_id,
        request=SentRequest("GET", f"http://127.0.0.1:9/checkouts/{checkout_id}", {}),
        response=response,
        transport_error=transport_error,
        rate_limited=rate_limited,
        previous=make_exchange(**previous) if previous is not None else None,
        why=why,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 240.0) -> None:
    """Poll until `condition` holds; the timeout only stops a test that would otherwise hang forever."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            message = f"gave up waiting for {what} after {timeout:g} s"
            raise AssertionError(message)
        time.sleep(0.01)


# Runs an entry point in a fresh interpreter whose name lookups go through a table first: a test can
# point a real hostname (Dodo's live host, say) at a server of its own, and no lookup of a Dodo host
# ever reaches the network, whatever the code under test does.
_RESOLVING = """
import json, socket, sys
aliases = json.loads(sys.argv.pop(1))
real = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    name = (host.decode() if isinstance(host, bytes) else host or "").lower().rstrip(".")
    if name in aliases:
        return real(aliases[name], *args, **kwargs)
    if name.endswith("dodopayments.com"):
        raise socket.gaierror(socket.EAI_NONAME, "tests never look up a Dodo host")
    return real(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
"""
ENTRY_POINTS = {
    "conformance": "from conformance.cli import main; raise SystemExit(main(sys.argv[1:]))",
    "pytest": "import pytest; raise SystemExit(pytest.main(sys.argv[1:]))",
}


def run_resolving(
    entry: str, aliases: dict[str, str], *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `conformance` or `pytest` with `aliases` (host -> address) in front of every name lookup."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("DODO_", "CONFORMANCE_"))}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", _RESOLVING + ENTRY_POINTS[entry], json.dumps(aliases), *args],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def judge(api: Any, report_dir: Path, *, ids: bool = True, lines: list[str] | None = None, **flags: Any) -> Any:
    """Run the engine in this process against `api` served on 127.0.0.1, as `conformance run` would."""
    from conformance import engine  # noqa: PLC0415
    from conformance.settings import Flags, build_settings  # noqa: PLC0415

    with Sandbox(api=api) as sandbox:
        settings = build_settings(
            Flags(
                base_url=sandbox.base_url, api_key=api.api_key, report_dir=report_dir,
                checkout_ids=tuple(sandbox.checkout_ids) if ids else (), **{"max_examples": 10, **flags},
            ),
            environ={},
        )  # fmt: skip
        said: list[str] = [] if lines is None else lines
        return engine.run(settings, say=said.append)


def failed_checks(outcome: Any) -> set[str]:
    return {item.id for item in outcome.record.checks if item.status == "failed"}


def spec_with(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    """A copy of the bundled spec with its component schemas changed, written under tmp_path."""
    import yaml  # noqa: PLC0415

    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    change(document["components"]["schemas"])
    path = tmp_path / "changed-spec.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def every_string(value: Any) -> Iterator[str]:
    """Every string of a record or of parsed JSON, the names of its dicts' fields included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from every_string(item)
    elif isinstance(value, dict):
        for name, item in value.items():
            yield name
            yield from every_string(item)
    elif is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            yield from every_string(getattr(value, item.name))
