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


def check_output_file(path: Path, flag: str) -> None:
    """Refuse an output path that is a folder: the write would fail only after the whole run."""
    if path.is_dir():
        raise BadInputError(f"{flag} {path} is a folder, not a file", f"pass the path of a file for {flag}")
