"""Files: written whole (a reader sees the old file or the new one, never half of either), and named plainly."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from conformance.errors import BadInputError


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp makes the file private; reports and cassettes are meant to be shared.
    Path(temporary).chmod(0o644)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink()
        raise


def missing(path: Path) -> str:
    """`path` does not exist, said so that a relative path names the folder it was looked for in."""
    return f"{path} does not exist" if path.is_absolute() else f"{path} does not exist in {Path.cwd()}"


def check_output_file(path: Path, flag: str, *, folder_to_be: Path | None = None) -> None:
    """Refuse an output path that cannot become a file: the write would fail only after the whole run.

    `folder_to_be` is a folder the run makes before it writes, which the path must not be either.
    """
    if path.is_dir() or (folder_to_be is not None and path.resolve() == folder_to_be.resolve()):
        raise BadInputError(f"{flag} {path} is a folder, not a file", f"pass the path of a file for {flag}")
    existing = next((parent for parent in path.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise BadInputError(
            f"{flag} {path} is inside {existing}, which is a file", f"pass a path in a folder for {flag}"
        )
