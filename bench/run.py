"""The benchmark behind `make bench`: writes its results (medians over several runs) as Markdown.

By default into reports/bench.md, which git ignores: bench/results.md, the measurement the README quotes,
changes only on purpose (`make bench BENCH_OUTPUT=bench/results.md`).

Every server it measures against is the bundled sandbox, started here on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import jsonschema_rs
import requests

from conformance.checks import Context, judge
from conformance.model import Credential, Exchange, Purpose, ReceivedResponse, SentRequest
from conformance.oracles import schemathesis_disagreements
from conformance.sandbox import CheckoutApi, Reply, Sandbox, seeded_sessions
from conformance.spec import load_contract, schemathesis_schema

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec" / "openapi.yaml"
KEY = "sk_bench_key_0123456789abcdef"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
EXAMPLES = int(os.environ.get("BENCH_EXAMPLES", "300"))
SEED = 20261128
BIN = Path(sys.executable).parent


class Counting(CheckoutApi):
    """The reference sandbox, counting the requests it answers."""

    def __init__(self) -> None:
        super().__init__(KEY, seeded_sessions())
        self.count = 0
        self._lock = threading.Lock()

    def handle(self, method: str, target: str, headers: Mapping[str, str]) -> Reply:
        with self._lock:
            self.count += 1
        return super().handle(method, target, headers)


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        msg = f"{' '.join(command[:4])} ... exited {result.returncode}:\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        raise SystemExit(msg)
    return elapsed


def live_comparison(report_dir: Path) -> dict[str, Any]:
    """The same spec, seed and number of examples through `conformance run` and `st run`."""
    api = Counting()
    results: dict[str, list[tuple[float, int]]] = {"conformance": [], "st": []}
    env = {**os.environ, "DODO_PAYMENTS_API_KEY": KEY}
    with Sandbox(api=api) as sandbox:
        ids = [arg for checkout_id in sandbox.checkout_ids for arg in ("--checkout-id", checkout_id)]
        commands = {
            "conformance": [
                str(BIN / "conformance"), "run", "--base-url", sandbox.base_url, "--max-examples", str(EXAMPLES),
                "--seed", str(SEED), "--report-dir", str(report_dir), *ids,
            ],
            "st": [
                str(BIN / "st"), "run", str(SPEC), "--url", sandbox.base_url, "-H", f"Authorization: Bearer {KEY}",
                "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--generation-database", "none",
                "--phases", "examples,coverage,fuzzing", "--no-color",
            ],
        }  # fmt: skip
        for _ in range(RUNS):
            for name, command in commands.items():
                before = api.count
                elapsed = timed(command, env)
                results[name].append((elapsed, api.count - before))
    summary = {}
    for name, runs in results.items():
        wall = statistics.median(elapsed for elapsed, _ in runs)
        sent = statistics.median(count for _, count in runs)
        summary[name] = {"wall_s": wall, "requests": sent, "rps": sent / wall, "per_request_ms": wall / sent * 1000}
    summary["ratio"] = summary["conformance"]["per_request_ms"] / summary["st"]["per_request_ms"]
    summary["commands"] = {name: _shown(command, sandbox.base_url) for name, command in commands.items()}
    return summary


def _shown(command: list[str], base_url: str) -> str:
    """A command as a reader can rerun it: relative paths, the key and the port as placeholders."""
    text = " ".join(f'"{part}"' if " " in part else part for part in command)
    text = text.replace(str(BIN) + "/", ".venv/bin/").replace(str(ROOT) + "/", "").replace(KEY, "$KEY")
    text = text.replace(base_url, "http://127.0.0.1:$PORT")
    return re.sub(r"--report-dir \S+", "--report-dir $TMP", text)


def replay(report_dir: Path) -> dict[str, Any]:
    """The shipped cassettes replayed offline; the in-run part comes from summary.json."""
    interpreter = statistics.median(timed([sys.executable, "-c", "pass"]) for _ in range(RUNS))
    walls, in_run = [], []
    for _ in range(RUNS):
        walls.append(timed([str(BIN / "conformance"), "run", "--replay", "--report-dir", str(report_dir)]))
        in_run.append(json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))["run"]["duration_seconds"])
    wall = statistics.median(walls)
    return {
        "wall_s": wall,
        "interpreter_s": interpreter,
        "beyond_interpreter_s": wall - interpreter,
        "in_run_s": statistics.median(in_run),
        "startup_s": wall - statistics.median(in_run),
    }


def make_run() -> dict[str, Any]:
    """`make run` end to end, with .venv already set up."""
    walls = [timed(["make", "--no-print-directory", "run"]) for _ in range(RUNS)]
    return {"wall_s": statistics.median(walls)}


def _micro(function: Callable[[], object], repeat: int = 2000) -> float:
    """Median seconds per call over batches."""
    batches = []
    for _ in range(7):
        started = time.perf_counter()
        for _ in range(repeat):
            function()
        batches.append((time.perf_counter() - started) / repeat)
    return statistics.median(batches)


def _bodies() -> list[Any]:
    """Valid and invalid 200 bodies: every seeded session, and every broken variant's."""
    from conformance.sandbox.variants import VARIANTS  # noqa: PLC0415

    bodies = []
    for variant in VARIANTS.values():
        api = variant.api(KEY, seeded_sessions())
        for session in api.sessions.values():
            reply = api.render(session)
            if reply.status == 200 and not reply.delay_seconds and not reply.drop_connection:
                try:
                    bodies.append(json.loads(reply.body))
                except ValueError:
                    continue
    return bodies


def judging() -> dict[str, Any]:
    """Cost of judging one 200 response with every check, and of schema validation alone."""
    contract = load_contract(SPEC)
    context = Context(contract=contract, known_ids=frozenset())
    operation = schemathesis_schema(contract, seed=SEED, max_examples=1)["/checkouts/{id}"]["GET"]
    session = seeded_sessions()[3]
    body = json.dumps(session.as_json()).encode()
    exchange = Exchange(
        purpose=Purpose.KNOWN,
        credential=Credential.VALID,
        checkout_id=session.id,
        request=SentRequest("GET", f"http://127.0.0.1:9/checkouts/{session.id}", {}),
        response=ReceivedResponse(200, "OK", {"Content-Type": "application/json"}, body, 1.0),
    )
    document = contract.document
    standalone = {"$ref": "#/components/schemas/GetCheckoutSessionsStatus", "components": document["components"]}
    rs = jsonschema_rs.validator_for(standalone, validate_formats=True)
    instance = session.as_json()
    bodies = _bodies()
    agree = sum(contract.validator.is_valid(item) == rs.is_valid(item) for item in bodies)
    return {
        # A fresh exchange each call: the built-in checks share work per exchange, as in a run.
        "all_checks_us": _micro(lambda: judge(context, replace(exchange))) * 1e6,
        # With --oracle: Schemathesis' own checks on the same exchange, beside the gate's.
        "oracle_us": _micro(lambda: schemathesis_disagreements(context, operation, replace(exchange)), 200) * 1e6,
        "jsonschema_us": _micro(lambda: contract.validator.is_valid(instance)) * 1e6,
        "jsonschema_rs_us": _micro(lambda: rs.is_valid(instance), 20000) * 1e6,
        "bodies_compared": len(bodies),
        "bodies_agreeing": agree,
        "bodies_invalid": sum(not contract.validator.is_valid(item) for item in bodies),
    }


def sandbox_throughput() -> dict[str, Any]:
    """Requests a second the sandbox answers, to show it is never the bottleneck."""
    count = 3000
    with Sandbox(api=CheckoutApi(KEY, seeded_sessions())) as sandbox:
        url = f"{sandbox.base_url}/checkouts/{sandbox.checkout_ids[0]}"
        headers = {"Authorization": f"Bearer {KEY}"}

        def client(n: int) -> None:
            with requests.Session() as http:
                for _ in range(n):
                    http.get(url, headers=headers, timeout=5)

        rates = {}
        for clients in (1, 2):
            started = time.perf_counter()
            threads = [threading.Thread(target=client, args=(count // clients,)) for _ in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            rates[clients] = count / (time.perf_counter() - started)
    return {"rps_1_client": rates[1], "rps_2_clients": rates[2]}


def _peak_rss_mb(command: list[str], env: dict[str, str]) -> float:
    """Peak resident memory of one command, measured in a fresh parent so no other child counts."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True, check=False); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, *command], env=env, capture_output=True, text=True, check=True
    )
    return int(result.stdout.strip()) / 1024


def memory(report_dir: Path) -> dict[str, Any]:
    """Peak memory of a run against the reference sandbox and against one serving a 20 MB body."""
    from conformance.sandbox.variants import VARIANTS  # noqa: PLC0415

    env = {**os.environ, "DODO_PAYMENTS_API_KEY": KEY}
    peaks = {}
    for name in ("reference", "huge-body"):
        with Sandbox(api=VARIANTS[name].api(KEY, seeded_sessions())) as sandbox:
            ids = [arg for checkout_id in sandbox.checkout_ids for arg in ("--checkout-id", checkout_id)]
            command = [
                str(BIN / "conformance"),
                "run",
                "--base-url",
                sandbox.base_url,
                "--report-dir",
                str(report_dir),
                *ids,
            ]
            peaks[name] = statistics.median(_peak_rss_mb(command, env) for _ in range(max(1, RUNS // 2)))
    return peaks


def versions() -> dict[str, str]:
    names = ["schemathesis", "hypothesis", "pytest", "jsonschema", "jsonschema-rs", "vcrpy", "requests"]
    return {name: metadata.version(name) for name in names}


DEFAULT_OUTPUT = ROOT / "reports" / "bench.md"


def output_path(argv: list[str] | None = None) -> Path:
    """Where the results go: --output, else reports/bench.md (untracked)."""
    parser = argparse.ArgumentParser(description="Measure the gate against Schemathesis' own CLI.")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT,
        help="where to write the results (default reports/bench.md; bench/results.md is the tracked one)",
    )  # fmt: skip
    output: Path = parser.parse_args(argv).output
    return output


def main(argv: list[str] | None = None) -> None:
    output = output_path(argv)
    # Found out now rather than after minutes of measuring.
    output.parent.mkdir(parents=True, exist_ok=True)
    output.touch()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        print("live: conformance run vs st run ...", flush=True)
        live = live_comparison(out / "live")
        print("replay ...", flush=True)
        replayed = replay(out / "replay")
        print("make run ...", flush=True)
        made = make_run()
        print("judging ...", flush=True)
        judged = judging()
        print("sandbox ...", flush=True)
        served = sandbox_throughput()
        print("memory ...", flush=True)
        peaks = memory(out / "memory")
    write(output, live, replayed, made, judged, served, peaks)


NOTES = """## What profiling found, and what was done

Measured while this benchmark was written, on the machine above; each line is a before and after.

- The sandbox answered in two writes, headers then body, and Nagle's algorithm against the
  client's delayed ACK cost 40 ms a request: 14.9 s for a run, 2.6 s after one buffered write.
- Schemathesis' built-in checks converted each exchange to its own response type once per check:
  488 µs to judge a response, 193 µs after converting once per exchange.
- Schema validation: jsonschema 58 µs, jsonschema-rs 0.27 µs, with the same verdict on every body
  the variants serve. jsonschema-rs now decides validity; jsonschema still explains a failure. They
  differ on RFC 3339 leap seconds and year 0000, which RFC 3339 allows and rfc3339-validator
  rejects: there jsonschema-rs is right (tests/test_spec.py pins both cases).
- pytest rewrote the asserts of every module of the plugins it loads (Schemathesis' 131 among
  them); with bytecode caching off (PYTHONDONTWRITEBYTECODE, set on this machine) that was about
  1.2 s of every run. `conformance run` passes `--assert=plain`: the replay went from 2.6 s to 1.4 s.
- pytest-xdist (`make test` runs a test file per core) took the project's tests from 2 min 13 s to
  1 min 27 s. It cannot help the gate itself: one ledger judges the whole run, and the plugin refuses
  `-n`. Schemathesis' workers exist only in its CLI; the pytest integration runs one Hypothesis test.
- What bounds a run now: Hypothesis generating the ids, and requests' own per-request cost.
"""


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def write(  # noqa: PLR0913, PLR0917 - one argument per section
    output: Path,
    live: dict[str, Any],
    replayed: dict[str, Any],
    made: dict[str, Any],
    judged: dict[str, Any],
    served: dict[str, Any],
    peaks: dict[str, float],
) -> None:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Medians over {RUNS} runs.",
        "",
        f"Machine: {os.cpu_count()} cores, {cpu}; Python {platform.python_version()} on {platform.system()}.",
        "Versions: " + ", ".join(f"{name} {version}" for name, version in versions().items()) + ".",
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        f"| per-request time no worse than `st run` (ratio <= 1.0) | {live['ratio']:.2f} | {_mark(live['ratio'] <= 1.0)} |",
        f"| replay of the shipped cassettes under 2 s beyond interpreter start-up | {replayed['beyond_interpreter_s']:.2f} s | {_mark(replayed['beyond_interpreter_s'] < 2.0)} |",
        f"| `make run` under 30 s after set-up | {made['wall_s']:.2f} s | {_mark(made['wall_s'] < 30)} |",
        "",
        f"## 1. Live run against the sandbox ({EXAMPLES} examples, seed {SEED})",
        "",
        "| tool | wall (s) | requests | requests/s | ms per request |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("conformance", "st"):
        item = live[name]
        lines.append(
            f"| `{name}` | {item['wall_s']:.2f} | {item['requests']:.0f} | {item['rps']:.0f} | {item['per_request_ms']:.2f} |"
        )
    lines += [
        "",
        f"Ratio (conformance / st, ms per request): **{live['ratio']:.2f}**. The gate sends more requests than",
        "`st run` for the same generated workload: it adds the fixed scenarios (known sessions read twice,",
        "missing and wrong keys, invented and edge-case ids), and every one of them is judged by all checks.",
        "",
        "Commands:",
        "",
        "```sh",
        live["commands"]["conformance"],
        live["commands"]["st"],
        "```",
        "",
        "## 2. Offline replay of the shipped cassettes",
        "",
        "| wall (s) | interpreter start-up (s) | beyond start-up (s) | inside the run (s) | pytest and imports (s) |",
        "|---:|---:|---:|---:|---:|",
        f"| {replayed['wall_s']:.2f} | {replayed['interpreter_s']:.3f} | {replayed['beyond_interpreter_s']:.2f} | {replayed['in_run_s']:.2f} | {replayed['startup_s']:.2f} |",
        "",
        "`inside the run` is summary.json's `duration_seconds` (from the plugin's configure to the last verdict).",
        "",
        "## 3. Judging one response",
        "",
        "| what | µs |",
        "|---|---:|",
        f"| every check of the gate | {judged['all_checks_us']:.0f} |",
        f"| Schemathesis' checks as the oracle (`--oracle`) | {judged['oracle_us']:.0f} |",
        f"| schema validation, jsonschema | {judged['jsonschema_us']:.1f} |",
        f"| schema validation, jsonschema-rs | {judged['jsonschema_rs_us']:.2f} |",
        "",
        f"jsonschema and jsonschema-rs agree on {judged['bodies_agreeing']} of {judged['bodies_compared']} bodies",
        f"({judged['bodies_invalid']} of them invalid: every broken variant's, and the conformant ones').",
        "",
        "## 4. `make run` after set-up",
        "",
        f"{made['wall_s']:.2f} s.",
        "",
        "## 5. The sandbox's own throughput",
        "",
        f"{served['rps_1_client']:.0f} requests/s with one keep-alive client, {served['rps_2_clients']:.0f} with two.",
        "",
        "## 6. Memory",
        "",
        f"Peak resident memory of `conformance run`: {peaks['reference']:.0f} MB against the reference sandbox,",
        f"{peaks['huge-body']:.0f} MB against `huge-body`, whose one session answers 20 MB (read twice and judged",
        "whole). Bodies are read up to 32 MiB; a larger one is reported unjudged, so a run never holds more.",
        "",
        NOTES,
    ]
    output.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
