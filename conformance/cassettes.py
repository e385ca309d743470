"""Cassettes: what is recorded, how secrets are kept out, how recordings are matched and read back."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import vcr
from vcr.persisters.filesystem import CassetteNotFoundError
from vcr.serialize import deserialize, serialize
from vcr.serializers import yamlserializer

from conformance import __version__
from conformance.credentials import WRONG_KEY, Credentials
from conformance.errors import BadInputError
from conformance.files import missing, write_atomically
from conformance.model import Credential, Exchange, Purpose, ReceivedResponse, SentRequest
from conformance.redaction import Redactor
from conformance.settings import DEFAULT_CONCURRENCY

if TYPE_CHECKING:
    from types import ModuleType

    from vcr.request import Request

# Recorded URLs name this host instead of the real one: where a run was recorded does not matter
# for replay, and re-recording the sandbox (a new port each time) gives no diff.
RECORDED_ORIGIN = "http://recorded-target"
METADATA_FILE = "run.json"
METADATA_FORMAT = "dodo-conformance/recording"
# 2: one cassette per scenario of the engine (preflight.yaml ... generated_ids.yaml).
# 3: path_syntax_ids.yaml, near misses of the key's structure (key_prefix), creates without a key.
METADATA_FORMAT_VERSION = 3
# Response headers that change on every request and say nothing about conformance; Set-Cookie
# may carry a session token.
VOLATILE_HEADERS = frozenset(
    {"date", "set-cookie", "cf-ray", "x-request-id", "x-ratelimit-remaining", "x-ratelimit-reset", "age", "nel"}
)
MATCH_ON = ("method", "path", "query", "credential")
# Scenarios whose requests overlap in time.
UNORDERED_SCENARIOS = frozenset({"concurrent_reads"})


@dataclass(frozen=True)
class Recording:
    """What a set of cassettes was recorded with; a replay repeats it exactly."""

    target: str
    spec_version: str
    seed: int
    max_examples: int
    checkout_ids: tuple[str, ...]
    recorded_at: str
    tool_version: str = __version__
    # The product of the session the run created first (--create-session); None: it created none.
    product_id: str | None = None
    # Known sessions read at the same moment (--concurrency): the bursts' requests are in the recording.
    concurrency: int = DEFAULT_CONCURRENCY
    # The recorded key's prefix of public words ('sk_test_', credentials.key_prefix): a replay's key has it too.
    key_prefix: str = ""

    def to_json(self) -> str:
        """run.json's text."""
        data = {"format": METADATA_FORMAT, "format_version": METADATA_FORMAT_VERSION, **asdict(self)}
        data["checkout_ids"] = list(self.checkout_ids)
        return json.dumps(data, indent=2) + "\n"


def new_recording(  # noqa: PLR0913 - everything a replay repeats
    target: str,
    spec_version: str,
    seed: int,
    max_examples: int,
    checkout_ids: tuple[str, ...],
    *,
    product_id: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    key_prefix: str = "",
) -> Recording:
    """The metadata of a recording made now."""
    return Recording(
        target=target,
        spec_version=spec_version,
        seed=seed,
        max_examples=max_examples,
        checkout_ids=checkout_ids,
        recorded_at=datetime.now(tz=UTC).isoformat(timespec="seconds"),
        product_id=product_id,
        concurrency=concurrency,
        key_prefix=key_prefix,
    )


RECORD_HINT = "record cassettes with 'conformance run --record' (see cassettes/README.md)"


def read_recording(cassette_dir: Path) -> Recording:
    """Read run.json and check that every cassette beside it loads; raise BadInputError naming the file."""
    path = cassette_dir / METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(
            f"{missing(path)}, so there is nothing to replay",
            "run from the project's folder, pass --cassette-dir, or record with 'conformance run --record' "
            "(see cassettes/README.md)",
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path} cannot be read ({_first_line(exc)})", RECORD_HINT) from None
    if not isinstance(data, dict) or data.pop("format", None) != METADATA_FORMAT:
        raise BadInputError(f"{path} is not a recording's metadata (format {METADATA_FORMAT})", RECORD_HINT)
    version = data.pop("format_version", None)
    if version != METADATA_FORMAT_VERSION:
        raise BadInputError(
            f"{path} is a recording of format version {version!r}, and this gate replays version "
            f"{METADATA_FORMAT_VERSION} only",
            "re-record the cassettes with 'conformance run --record' (see cassettes/README.md)",
        )
    try:
        data["checkout_ids"] = tuple(data["checkout_ids"])
        recording = Recording(**data)
    except (KeyError, TypeError) as exc:
        raise BadInputError(f"{path} is not a recording's metadata ({_first_line(exc)})", RECORD_HINT) from None
    kinds_ok = (
        isinstance(recording.seed, int)
        and isinstance(recording.max_examples, int)
        and recording.max_examples >= 1
        and all(isinstance(checkout_id, str) and checkout_id for checkout_id in recording.checkout_ids)
        and all(isinstance(text, str) for text in (recording.target, recording.spec_version, recording.recorded_at))
        and (recording.product_id is None or (isinstance(recording.product_id, str) and recording.product_id))
        and isinstance(recording.concurrency, int)
        and isinstance(recording.key_prefix, str)
        and Credentials.replayed(recording.key_prefix).prefix == recording.key_prefix
    )
    if not kinds_ok:
        raise BadInputError(f"{path} has a value of the wrong kind (seed, max_examples or checkout_ids)", RECORD_HINT)
    for cassette in sorted(cassette_dir.glob("*.yaml")):
        load_interactions(cassette)
    return recording


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_interactions(path: Path) -> list[tuple[Request, dict[str, Any]]]:
    """The interactions of one cassette; a malformed or truncated file raises BadInputError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cassette {path} cannot be read ({_first_line(exc)})", "re-record it") from None
    try:
        requests, responses, *_ = deserialize(text, yamlserializer)
        interactions = list(zip(requests, responses, strict=True))
        for request, response in interactions:
            _ = request.method, request.uri, request.headers
            _ = int(response["status"]["code"]), response["headers"], response["body"]["string"]
    except Exception as exc:  # noqa: BLE001 - a damaged file can break the deserializer in any way
        raise BadInputError(
            f"cassette {path} is malformed or truncated ({type(exc).__name__}: {_first_line(exc)})",
            "restore it from version control or re-record it with 'conformance run --record'",
        ) from None
    return interactions


class AtomicPersister:
    """Loads cassettes strictly and writes them whole: a temporary file, then a rename."""

    @staticmethod
    def load_cassette(cassette_path: str | Path, serializer: ModuleType) -> tuple[list[Any], list[Any]]:
        """Load one cassette, or signal that there is none yet."""
        path = Path(cassette_path)
        if not path.is_file():
            raise CassetteNotFoundError
        text = path.read_text(encoding="utf-8")
        if serializer is not yamlserializer:
            msg = "only YAML cassettes are supported"
            raise ValueError(msg)
        interactions = load_interactions(path) if text.strip() else []
        return [request for request, _ in interactions], [response for _, response in interactions]

    @staticmethod
    def save_cassette(cassette_path: str | Path, cassette_dict: dict[str, Any], serializer: ModuleType) -> None:
        """Write one cassette whole; a cassette of concurrent requests in a stable order."""
        path = Path(cassette_path)
        if path.stem in UNORDERED_SCENARIOS:
            # Its requests overlap, so they arrive in any order; replay matches them in any order too.
            pairs = sorted(
                zip(cassette_dict["requests"], cassette_dict["responses"], strict=True),
                key=lambda pair: (pair[0].uri, str(pair[1].get("body", {}).get("string", ""))),
            )
            cassette_dict = {
                **cassette_dict,
                "requests": [pair[0] for pair in pairs],
                "responses": [p[1] for p in pairs],
            }
        write_atomically(path, serialize(cassette_dict, serializer))


def credential_of(request: Request) -> Credential:
    """Which key a (recorded or live) request carried, after redaction."""
    header = request.headers.get("Authorization")
    if header is None:
        return Credential.MISSING
    return Credential.WRONG if header == f"Bearer {WRONG_KEY}" else Credential.VALID


def credential_matcher(first: Request, second: Request) -> None:
    """Requests match only when they carried the same kind of key."""
    if credential_of(first) is not credential_of(second):
        msg = f"{credential_of(first)} != {credential_of(second)}"
        raise AssertionError(msg)


def vcr_for(base_url: str, secrets: list[str], record_mode: str) -> vcr.VCR:
    """A vcrpy recorder with the gate's scrubbing, matchers and whole-file persister."""
    from conformance.transport import vcr_patches  # noqa: PLC0415 - the transport's own connection pools

    recorder = vcr.VCR(record_mode=record_mode, custom_patches=vcr_patches(), **vcr_config(base_url, secrets))
    recorder.register_matcher("credential", credential_matcher)
    recorder.register_persister(AtomicPersister)
    return recorder


def vcr_config(base_url: str, secrets: list[str]) -> dict[str, Any]:
    """Settings for vcrpy: secrets scrubbed and the host made neutral at record time (and on matching)."""
    scrub = Redactor(secrets)

    def before_record_request(request: Request) -> Request:
        if request.uri.startswith(base_url):
            request.uri = RECORDED_ORIGIN + request.uri[len(base_url) :]
        request.uri = scrub(request.uri)
        request.headers = {name: scrub(value) for name, value in request.headers.items()}
        if isinstance(request.body, str):
            request.body = scrub(request.body)
        elif isinstance(request.body, bytes) and request.body:
            request.body = _scrub_bytes(scrub, request.body)
        return request

    def before_record_response(response: dict[str, Any]) -> dict[str, Any]:
        # Everything the server sent may echo the key: the reason phrase and the field names too.
        status = response.get("status")
        if isinstance(status, dict) and isinstance(status.get("message"), str):
            status["message"] = scrub(status["message"])
        response["headers"] = {
            scrub(name): [scrub(value) for value in values]
            for name, values in response["headers"].items()
            if name.lower() not in VOLATILE_HEADERS
        }
        body = response["body"].get("string")
        if isinstance(body, bytes):
            response["body"]["string"] = _scrub_bytes(scrub, body)
        elif isinstance(body, str):
            response["body"]["string"] = scrub(body)
        return response

    return {
        "before_record_request": before_record_request,
        "before_record_response": before_record_response,
        "match_on": list(MATCH_ON),
        "decode_compressed_response": True,
    }


def _scrub_bytes(scrub: Redactor, body: bytes) -> bytes:
    """`body` with secrets replaced, every other byte kept as it was (a key is ASCII, so Latin-1 finds it)."""
    text = body.decode("latin-1")
    scrubbed = scrub(text)
    return body if scrubbed == text else scrubbed.encode("latin-1")


def recorded_exchanges(path: Path) -> list[Exchange]:
    """The generated requests of a cassette as exchanges, for judging without sending them again."""
    exchanges = []
    for request, response in load_interactions(path):
        headers = {name: ", ".join(values) for name, values in response["headers"].items()}
        body = response["body"]["string"]
        exchanges.append(
            Exchange(
                purpose=Purpose.GENERATED,
                credential=credential_of(request),
                checkout_id=unquote(urlsplit(request.uri).path.rsplit("/checkouts/", 1)[-1]),
                request=SentRequest(request.method, request.uri, dict(request.headers)),
                response=ReceivedResponse(
                    status=int(response["status"]["code"]),
                    reason=str(response["status"].get("message", "")),
                    headers=headers,
                    body=body if isinstance(body, bytes) else str(body).encode(),
                    elapsed_ms=0.0,
                ),
            )
        )
    return exchanges


def publish(staging: Path, cassette_dir: Path, recording: Recording) -> None:
    """Move a finished recording into place, each file by rename, run.json last."""
    cassette_dir.mkdir(parents=True, exist_ok=True)
    # Written before anything moves: a write that fails (a full disk) leaves the old recording whole.
    write_atomically(staging / METADATA_FILE, recording.to_json())
    fresh = {path.name for path in staging.glob("*.yaml")}
    for path in sorted(staging.glob("*.yaml")):
        path.replace(cassette_dir / path.name)
    for stale in cassette_dir.glob("*.yaml"):
        if stale.name not in fresh:
            stale.unlink()
    (staging / METADATA_FILE).replace(cassette_dir / METADATA_FILE)
    shutil.rmtree(staging, ignore_errors=True)
