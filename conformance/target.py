"""What a run judges, chosen once: a live target (the bundled sandbox, a server), the same recorded, or a replay.

The engine plays the same plan against every kind; what truly differs between them lives here: where the
requests go and with which key, a cassette around each scenario, whether generated requests are drawn or read
from the recording, and whether the recording is kept.
"""

from __future__ import annotations

import shutil
import tempfile
from abc import ABC, abstractmethod
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

from conformance.credentials import Credentials
from conformance.errors import BadInputError, OutputNotWrittenError
from conformance.files import prove_writable_folder
from conformance.gate import fewest_requests
from conformance.given_key import read_key_file
from conformance.settings import DEFAULT_CONCURRENCY, Mode, refuse_live_mode, refuse_unreachable_pace

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager

    from conformance.cassettes import Recording
    from conformance.gate import Gate
    from conformance.settings import Settings
    from conformance.spec import Contract

    # A context around one scenario's requests, by the scenario's name: its cassette, or nothing.
    Cassette: TypeAlias = Callable[[str], AbstractContextManager[object]]


@dataclass(frozen=True)
class Reached:
    """A target ready for requests: where they go, with which key, and what it is called in the reports."""

    base_url: str
    api_key: str
    name: str
    checkout_ids: tuple[str, ...]
    product_id: str | None


@dataclass(kw_only=True)
class Target(ABC):
    """Where a run's requests are answered, with what the run repeats against it (a replay, the recording's)."""

    # The record's `mode`: how the exchanges were had.
    mode: ClassVar[str] = "live"
    # Where the exchanges came from, as a skipped check's reason names it.
    exchanges_from: ClassVar[str] = "this run"
    # Whether requests may overlap in time, as they do on a network (a recording answers one at a time).
    overlap: ClassVar[bool] = True

    api_key: str | None
    seed: int
    max_examples: int
    checkout_ids: tuple[str, ...]
    # The product of the session to create (--create-session); None creates none, or lets the sandbox pick.
    product_id: str | None = None
    # Known sessions read at the same moment.
    concurrency: int = DEFAULT_CONCURRENCY

    @property
    def sandbox(self) -> bool:
        """Whether this is the bundled sandbox, started for the run and gone with it."""
        return False

    @property
    def stays(self) -> bool:
        """Whether a finding's request can be sent to this target again once the run is over."""
        return True

    @abstractmethod
    def reach(self) -> AbstractContextManager[Reached]:
        """The target, ready for requests while the context lasts."""

    @contextmanager
    def cassettes(self, base_url: str, secrets: list[str]) -> Iterator[Cassette]:
        """A context per scenario, for as long as the scenarios play: nothing on a live target."""
        del base_url, secrets
        yield lambda _: nullcontext()

    def play_generated(self, gate: Gate, operation: Any, send: Callable[[Any], None]) -> None:  # noqa: ANN401
        """Send Schemathesis' generated requests for `operation` (an APIOperation), each through `send`."""
        del gate
        from conformance.generation import generated_requests  # noqa: PLC0415 - Schemathesis' strategies, only here

        generated_requests(operation, send)()

    def unjudgeable(self, error: Exception) -> str | None:
        """Why `error`, raised while a scenario played, means the target cannot be judged; None when it does not."""
        del error
        return None

    def requests_sent(self, sent: int) -> int:
        """How many requests went over the network, of the `sent` the transport counted."""
        return sent

    def keep(self, *, complete: bool) -> OutputNotWrittenError | None:
        """Keep what the run made of the target (a recording) when it completed; say what could not be kept."""
        del complete
        return None


@dataclass(kw_only=True)
class Server(Target):
    """A server the user named with --base-url."""

    base_url: str

    @contextmanager
    def reach(self) -> Iterator[Reached]:
        """The server, as named."""
        assert self.api_key is not None
        yield Reached(self.base_url, self.api_key, self.base_url, self.checkout_ids, self.product_id)


@dataclass(kw_only=True)
class BundledSandbox(Target):
    """The bundled test-mode sandbox, started for the run on this machine with its own key and sessions."""

    create_session: bool = False

    @property
    def sandbox(self) -> bool:
        """It is."""
        return True

    @property
    def stays(self) -> bool:
        """Gone once the run ends."""
        return False

    @contextmanager
    def reach(self) -> Iterator[Reached]:
        """A sandbox started here; its seeded sessions and products fill what was not given."""
        from conformance.sandbox import Sandbox  # noqa: PLC0415

        with Sandbox() as sandbox:
            product_id = self.product_id
            if self.create_session and product_id is None:
                product_id = sandbox.product_ids[0]
            name = f"bundled sandbox at {sandbox.base_url}"
            yield Reached(
                sandbox.base_url, sandbox.api_key, name, self.checkout_ids or tuple(sandbox.checkout_ids), product_id
            )


@dataclass(kw_only=True)
class Recorded(Target):
    """A live target whose every exchange is written to cassettes, kept only when the run completes."""

    mode: ClassVar[str] = "record"

    live: Target
    cassette_dir: Path
    spec_version: str
    # What the run reached, and where it stages its cassettes once the scenarios start.
    reached: Reached | None = field(default=None, init=False)
    staging: Path | None = field(default=None, init=False)

    @classmethod
    def of(cls, live: Target, cassette_dir: Path, spec_version: str) -> Recorded:
        """`live`, recorded into `cassette_dir`."""
        repeated = {item.name: getattr(live, item.name) for item in fields(Target)}
        return cls(**repeated, live=live, cassette_dir=cassette_dir, spec_version=spec_version)

    @property
    def sandbox(self) -> bool:
        """Whether the live target is the bundled sandbox."""
        return self.live.sandbox

    @property
    def stays(self) -> bool:
        """Whether the live target stays."""
        return self.live.stays

    @contextmanager
    def reach(self) -> Iterator[Reached]:
        """The live target, remembered for the recording's run.json."""
        with self.live.reach() as reached:
            self.reached = reached
            yield reached

    @contextmanager
    def cassettes(self, base_url: str, secrets: list[str]) -> Iterator[Cassette]:
        """Each scenario into its cassette in a staging folder, published by keep() when the run completes."""
        from conformance.cassettes import vcr_for  # noqa: PLC0415 - vcrpy, only with cassettes

        self.cassette_dir.mkdir(parents=True, exist_ok=True)
        self.staging = staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.cassette_dir))
        recorder = vcr_for(base_url, secrets, record_mode="all")
        yield lambda scenario: recorder.use_cassette(str(staging / f"{scenario}.yaml"))

    def keep(self, *, complete: bool) -> OutputNotWrittenError | None:
        """Move a complete recording over the cassettes; throw away an incomplete one. Say what could not be."""
        staging, reached = self.staging, self.reached
        if staging is None or reached is None:
            return None
        if not complete:
            shutil.rmtree(staging, ignore_errors=True)
            return None
        from conformance.cassettes import new_recording, publish  # noqa: PLC0415 - only with cassettes

        recording = new_recording(
            # Not the sandbox's port: it changes on every start, and would make every re-record a diff.
            target="bundled sandbox" if self.live.sandbox else reached.base_url,
            spec_version=self.spec_version,
            seed=self.seed,
            max_examples=self.max_examples,
            checkout_ids=reached.checkout_ids,
            product_id=reached.product_id,
            concurrency=self.concurrency,
            # The key's prefix of public words: a replay probes a key of the same shape.
            key_prefix=Credentials(reached.api_key).prefix,
        )
        try:
            publish(staging, self.cassette_dir, recording)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            return OutputNotWrittenError(f"the recording in --cassette-dir {self.cassette_dir}", error)
        return None


@dataclass(kw_only=True)
class Replay(Target):
    """A recording: every reply read from its cassettes, with pytest-recording's network block around the run."""

    mode: ClassVar[str] = "replay"
    exchanges_from: ClassVar[str] = "the recording"
    # Recorded answers are judged one at a time, whatever order they were recorded in.
    overlap: ClassVar[bool] = False

    cassette_dir: Path
    recorded_from: str
    key_prefix: str

    @property
    def stays(self) -> bool:
        """A recording answers nothing new."""
        return False

    @contextmanager
    def reach(self) -> Iterator[Reached]:
        """The recorded target by name, and a key of the recorded key's shape; no connection is ever made."""
        from conformance.cassettes import RECORDED_ORIGIN  # noqa: PLC0415 - only with cassettes

        recorded = self.recorded_from
        # Requests are answered by the cassettes (and the network is blocked); they name the recorded
        # target, so that every URL and curl line of the reports points where the answers came from.
        base = recorded if recorded.startswith(("http://", "https://")) else RECORDED_ORIGIN
        name = f"replay of {self.cassette_dir}/, recorded from {recorded}"
        # Of the recorded key's shape: the near misses made from its structure are the recorded ones.
        yield Reached(base, Credentials.replayed(self.key_prefix).key, name, self.checkout_ids, self.product_id)

    @contextmanager
    def cassettes(self, base_url: str, secrets: list[str]) -> Iterator[Cassette]:
        """Each scenario from its cassette; nothing may reach the network, whatever vcrpy does not intercept."""
        from pytest_recording.network import blocking_context  # noqa: PLC0415 - only with cassettes

        from conformance.cassettes import vcr_for  # noqa: PLC0415

        recorder = vcr_for(base_url, secrets, record_mode="none")
        with ExitStack() as stack:
            stack.enter_context(blocking_context())
            yield lambda scenario: recorder.use_cassette(str(self.cassette_dir / f"{scenario}.yaml"))

    def play_generated(self, gate: Gate, operation: Any, send: Callable[[Any], None]) -> None:  # noqa: ANN401
        """Judge the generated requests as recorded: they depend on the spec, and a changed spec is gated on them."""
        del operation, send
        from conformance.cassettes import recorded_exchanges  # noqa: PLC0415 - only with cassettes

        gate.recorded(recorded_exchanges(self.cassette_dir / "generated_ids.yaml"))

    def unjudgeable(self, error: Exception) -> str | None:
        """Why a replayed request could not be judged, when vcrpy had no recording for it."""
        from vcr.errors import CannotOverwriteExistingCassetteException  # noqa: PLC0415 - only on replay

        if not isinstance(error, CannotOverwriteExistingCassetteException):
            return None
        from urllib.parse import urlsplit  # noqa: PLC0415

        request = error.failed_request
        cassette = error.cassette.path
        name = cassette.rsplit("/", 1)[-1] if isinstance(cassette, str) else str(cassette)
        return (
            f"{request.method} {urlsplit(request.uri).path} has no recording in {self.cassette_dir}/{name}; "
            "re-record with 'conformance run --record' against the target (see cassettes/README.md)"
        )

    def requests_sent(self, sent: int) -> int:
        """None: vcrpy answered every request."""
        del sent
        return 0


def choose(settings: Settings, contract: Contract) -> Target:
    """The target of a run, from its settings: the one place that reads the mode; raise GateError.

    Reads the key file or the recording, and refuses a live-mode host and a pace that cannot finish, all before
    any request.
    """
    if settings.mode is Mode.REPLAY:
        return _replay(settings)
    if settings.mode is Mode.RECORD:
        # Checked before the first request: a recording that cannot be kept is not worth sending.
        prove_writable_folder(settings.cassette_dir, "--cassette-dir")
    api_key = read_key_file(settings.api_key_file) if settings.api_key_file is not None else settings.api_key
    refuse_live_mode(settings.base_url, contract, allowed=settings.allow_live_mode, creates=settings.create_session)
    assert settings.seed is not None
    assert settings.max_examples is not None
    refuse_unreachable_pace(settings, fewest_requests(settings.max_examples, len(settings.checkout_ids)))
    repeated: dict[str, Any] = {
        "api_key": api_key,
        "seed": settings.seed,
        "max_examples": settings.max_examples,
        "checkout_ids": settings.checkout_ids,
        "product_id": settings.product_id,
        "concurrency": settings.concurrency,
    }
    live: Target = (
        BundledSandbox(**repeated, create_session=settings.create_session)
        if settings.base_url is None
        else Server(**repeated, base_url=settings.base_url)
    )
    if settings.mode is Mode.RECORD:
        return Recorded.of(live, settings.cassette_dir, contract.version)
    return live


def _replay(settings: Settings) -> Replay:
    # Imported here: vcrpy is needed only with cassettes.
    from conformance.cassettes import read_recording  # noqa: PLC0415

    recording: Recording = read_recording(settings.cassette_dir)
    concurrency = None if settings.concurrency == DEFAULT_CONCURRENCY else settings.concurrency
    for flag, given, recorded in (
        ("--seed", settings.seed, recording.seed),
        ("--max-examples", settings.max_examples, recording.max_examples),
        ("--concurrency", concurrency, recording.concurrency),
    ):
        if given is not None and given != recorded:
            raise BadInputError(
                f"{flag} {given} differs from the recording's {recorded}, and a replay repeats the recording",
                f"drop {flag}, or re-record with it",
            )
    return Replay(
        api_key=None,
        seed=recording.seed,
        max_examples=recording.max_examples,
        checkout_ids=recording.checkout_ids,
        product_id=recording.product_id,
        concurrency=recording.concurrency,
        cassette_dir=settings.cassette_dir,
        recorded_from=recording.target,
        key_prefix=recording.key_prefix,
    )
