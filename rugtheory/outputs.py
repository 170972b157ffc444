"""Output paths: checked before any compute, written atomically, never lost.

Every command that writes follows the same three rules:

* ``preflight`` runs before anything is trained or computed. It refuses (one line, a
  ParameterError) a path that cannot be created or written, a path under a regular file, a file
  where a folder is needed (or the reverse), and an existing result that would be overwritten
  unless the caller resumes it or forces the overwrite.
* ``write_atomic`` writes a temporary file in the target folder, fsyncs it and moves it into
  place, so a reader sees the old file or the new one, never half of one. The file's mode
  follows the umask, as ``open()`` would (0666 & ~umask).
* ``write_files`` writes a run's result files; if the target fails anyway (a full disk), the
  results are written to a fresh folder in the system temp folder and the OutputError names it.

>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> preflight(os.path.join(folder, "run"), existing=("results.json",))
>>> write_files(os.path.join(folder, "run"), {"results.json": b"{}"})
>>> preflight(os.path.join(folder, "run"), existing=("results.json",))
Traceback (most recent call last):
...
rugtheory.outputs.OutputError: --out '.../run' already holds results (results.json); valid: --resume to continue it, --force to overwrite it, or a new --out
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import ParameterError

__all__ = ["OutputError", "fallback_folder", "preflight", "umask", "write_atomic", "write_files"]


class OutputError(ParameterError):
    """An output path cannot be used: unwritable, misplaced, or an existing result."""


def umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, os.replace), mode 0666 & ~umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~umask())
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _why(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _first_existing(path: Path) -> Path:
    """The nearest ancestor of ``path`` (itself included) that exists."""
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def preflight(
    path: str | os.PathLike,
    *,
    option: str = "--out",
    kind: str = "dir",
    existing: Iterable[str] = (),
    resume: bool = False,
    force: bool = False,
) -> None:
    """Check before any compute that ``path`` can be written; OutputError (one line) if not.

    ``kind`` is "dir" (a folder that will hold files) or "file". ``existing`` names the files or
    folders inside a "dir" that make it an existing result; a "file" that exists is one. Such a
    path is refused unless ``resume`` or ``force``. The folder to write in is created, and a probe
    file is written in it and removed; folders created for a refused path are removed again.
    """
    target = Path(path).expanduser()
    shown = f"{option} {str(path)!r}"
    if kind not in ("dir", "file"):
        raise ValueError(f"kind = {kind!r}; valid: 'dir' or 'file'")
    if kind == "dir" and target.exists() and not target.is_dir():
        raise OutputError(f"{shown} is a file; valid: a folder (new, or a result to --resume or --force)")
    if kind == "file" and target.is_dir():
        raise OutputError(f"{shown} is a folder; valid: a file path")
    folder = target if kind == "dir" else target.parent
    anchor = _first_existing(folder)
    if not anchor.is_dir():
        raise OutputError(f"{shown} lies under the regular file {str(anchor)!r}; valid: a path whose parents are folders")
    if not (resume or force):
        found = [name for name in existing if (target / name).exists()] if kind == "dir" else (
            [target.name] if target.exists() else [])
        if found:
            raise OutputError(
                f"{shown} already holds results ({', '.join(found)}); valid: "
                + ("--resume to continue it, " if kind == "dir" else "")
                + f"--force to overwrite it, or a new {option}"
            )
    created = [parent for parent in [folder, *folder.parents] if not parent.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".rugtheory-probe.")
        try:
            os.write(handle, b"probe")
        finally:
            os.close(handle)
            Path(probe).unlink(missing_ok=True)
    except OSError as error:
        for parent in created:
            try:
                parent.rmdir()
            except OSError:
                pass
        raise OutputError(f"{shown} cannot be written ({_why(error)}); valid: a writable path") from None


def fallback_folder(name: str) -> Path:
    """A new folder in the system temp folder for results that could not go where asked."""
    return Path(tempfile.mkdtemp(prefix=f"rugtheory-{Path(name).name or 'out'}-"))


def write_files(folder: str | os.PathLike, files: Mapping[str, bytes], *, option: str = "--out") -> None:
    """Write each ``name -> bytes`` of ``files`` atomically into ``folder``.

    If any write fails (OSError: a full disk, a folder made read-only meanwhile), every file is
    written to ``fallback_folder`` instead and OutputError names that folder, so nothing is lost.
    """
    try:
        for name, data in files.items():
            write_atomic(Path(folder) / name, data)
    except OSError as error:
        why = _why(error)
        try:
            rescue = fallback_folder(str(folder))
            for name, data in files.items():
                write_atomic(rescue / name, data)
        except OSError as second:
            raise OutputError(
                f"{option} {str(folder)!r} could not be written ({why}), nor the temp folder ({_why(second)})"
            ) from None
        raise OutputError(f"{option} {str(folder)!r} could not be written ({why}); the results are in {rescue}") from None
