"""Random and mutated spec, cassette and metadata files get a clear error or a result, never a traceback."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import ROOT, SPEC

from conformance.cassettes import METADATA_FILE, load_interactions, read_recording
from conformance.errors import BadInputError
from conformance.spec import load_contract

# Derandomized with no example database: the same examples on every machine and every run.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
    derandomize=True,
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
SPEC_DOCUMENT = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
CASSETTE = ROOT / "cassettes" / "invented_ids.yaml"
CASSETTE_DOCUMENT = yaml.safe_load(CASSETTE.read_text(encoding="utf-8"))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


SPEC_PATHS = _paths(SPEC_DOCUMENT)[1:]
CASSETTE_PATHS = _paths(CASSETTE_DOCUMENT)[1:]


def _mutated(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    mutated = copy.deepcopy(document)
    node = mutated
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return mutated


def _error_of(load: Any, *args: Any) -> str | None:
    """The one-line message a loader refused with, or None when it loaded; anything else escapes."""
    try:
        load(*args)
    except BadInputError as error:
        return str(error)
    return None


def _write(text: str | bytes, suffix: str) -> Path:
    handle = tempfile.NamedTemporaryFile(suffix=suffix, delete=False)  # noqa: SIM115 - closed below
    handle.write(text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text)
    handle.close()
    return Path(handle.name)


@FUZZ
@given(st.text() | st.binary().map(lambda raw: raw.decode("latin-1")), st.sampled_from([".yaml", ".json"]))
def test_any_text_as_a_spec_is_a_spec_error_or_a_contract(text: str, suffix: str) -> None:
    path = _write(text, suffix)
    try:
        assert "\n" not in (_error_of(load_contract, path) or "")
    finally:
        path.unlink()


@FUZZ
@given(st.sampled_from(SPEC_PATHS), JSON_VALUES)
def test_a_spec_with_any_value_replaced_is_a_spec_error_or_a_contract(path: tuple[Any, ...], value: Any) -> None:
    file = _write(json.dumps(_mutated(SPEC_DOCUMENT, path, value)), ".json")
    try:
        assert "\n" not in (_error_of(load_contract, file) or "")
    finally:
        file.unlink()


@FUZZ
@given(st.text() | st.binary().map(lambda raw: raw.decode("latin-1")))
def test_any_text_as_a_cassette_is_bad_input_or_interactions(text: str) -> None:
    path = _write(text, ".yaml")
    try:
        error = _error_of(load_interactions, path)
        assert error is None or str(path) in error
    finally:
        path.unlink()


@FUZZ
@given(st.sampled_from(CASSETTE_PATHS), JSON_VALUES)
def test_a_cassette_with_any_value_replaced_is_bad_input_or_interactions(path: tuple[Any, ...], value: Any) -> None:
    file = _write(yaml.safe_dump(_mutated(CASSETTE_DOCUMENT, path, value)), ".yaml")
    try:
        error = _error_of(load_interactions, file)
        assert error is None or str(file) in error
    finally:
        file.unlink()


@FUZZ
@given(JSON_VALUES)
def test_any_run_metadata_is_bad_input_or_a_recording(value: Any) -> None:
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / METADATA_FILE).write_text(json.dumps(value), encoding="utf-8")
        assert "\n" not in (_error_of(read_recording, Path(directory)) or "")


def test_run_metadata_with_a_value_of_the_wrong_kind_is_bad_input(tmp_path: Path) -> None:
    metadata = json.loads((ROOT / "cassettes" / METADATA_FILE).read_text(encoding="utf-8"))
    (tmp_path / METADATA_FILE).write_text(json.dumps({**metadata, "seed": "seven"}), encoding="utf-8")
    assert "wrong kind" in (_error_of(read_recording, tmp_path) or "")
