"""Files: written whole (a reader sees the old file or the new one, never half of either), and named plainly."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from conformance.errors import BadInputError, OutputNotWrittenError


def write_atomically(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`."""
    temporary = _stage(path, text)
    try:
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_together(outputs: dict[Path, str]) -> None:
    """Write every file whole, or none of them: each is staged beside its path, and renamed only once all are.

    Raise OutputNotWrittenError naming the first that could not be written; the files already there stay.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, text in outputs.items():
            try:
                staged.append((_stage(path, text), path))
            except OSError as error:
                raise OutputNotWrittenError(path, error) from error
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, path in staged:
        try:
            temporary.replace(path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise OutputNotWrittenError(path, error) from error


def _stage(path: Path, text: str) -> Path:
    """`text` in a temporary file beside `path`, flushed to disk: renaming it over `path` is all that is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp makes the file private; reports and cassettes are meant to be shared.
    Path(temporary).chmod(0o644)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
    except BaseException:
        Path(temporary).unlink()
        raise
    return Path(temporary)


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


def prove_writable_file(path: Path, flag: str, *, folder_to_be: Path | None = None) -> None:
    """Refuse, before the first request, an output file that could not be written at the end."""
    check_output_file(path, flag, folder_to_be=folder_to_be)
    prove_writable_folder(path.parent, flag, shown=path)


def prove_writable_folder(folder: Path, flag: str, *, shown: Path | None = None) -> None:
    """Make `folder` if it is missing and prove a file can be written in it; raise BadInputError if not.

    Permission bits alone prove nothing: root ignores them, not an immutable folder or a read-only mount.
    """
    if folder.exists() and not folder.is_dir():
        raise BadInputError(f"{flag} {folder} is a file, not a folder", f"pass a folder for {flag} (made if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        if shown is None:
            raise BadInputError(
                f"{flag} {folder} cannot be written ({exc.strerror or exc})", f"pass a folder you can write for {flag}"
            ) from None
        raise BadInputError(
            f"{flag} {shown} cannot be written: its folder {folder} takes no new file ({exc.strerror or exc})",
            f"pass a path in a folder you can write for {flag}",
        ) from None


def remove_file(path: Path, flag: str) -> None:
    """Remove a file the run is about to write again; a folder, a device or a pipe at `path` is left alone."""
    if not path.is_file():
        return
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise BadInputError(
            f"{flag}: {path}, from an earlier run, cannot be removed ({exc.strerror or exc})",
            f"remove it, or pass another {flag}",
        ) from None
