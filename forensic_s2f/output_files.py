"""Files fs2f writes outside the store (exports, reports): each is written whole under a hidden
partial name, `.<name>.partial-<process id>`, and takes its own name only once the custody log
records it. A command killed before then leaves no file under a name an analyst would open: only
partial files, which the next command writing the same name removes once their process is gone.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from forensic_s2f.errors import StoreError, require_text_name
from forensic_s2f.store.vault import copy_hashing

PARTIAL = re.compile(r"\.partial-(\d+)$")


def partial_path(path: Path) -> Path:
    """Where this process writes `path` until it is recorded."""
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def remove_stale_partials(path: Path) -> None:
    """Remove the partial files of `path` that processes no longer running left (a kill), and one
    named with this process's id (a killed process that had the same id: this one has not yet
    written `path`)."""
    prefix = f".{path.name}.partial-"
    try:
        names = [entry.name for entry in os.scandir(path.parent)  # (a folder so named is no file fs2f left)
                 if entry.name.startswith(prefix) and not entry.is_dir(follow_symlinks=False)]
    except OSError:  # (no folder yet: nothing left there)
        return
    for name in names:
        match = PARTIAL.search(name)
        if match and len(name) == len(prefix) + len(match.group(1)) and not _running(int(match.group(1))):
            (path.parent / name).unlink(missing_ok=True)


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # (OverflowError: a number no process has)
        return False
    except PermissionError:  # (another user's process)
        return True
    return True


def place(partial: Path, path: Path) -> None:
    """Give `partial` its name `path`, never replacing a file that took the name meanwhile
    (FileExistsError)."""
    try:
        os.link(partial, path)
    except FileExistsError:
        raise
    except OSError:  # (a file system without hard links)
        if os.path.lexists(path):
            raise FileExistsError(path) from None
        os.rename(partial, path)


@dataclass(frozen=True)
class PendingFile:
    """A file written under its partial name, and the SHA-256 of its bytes."""

    path: Path
    partial: Path
    sha256: str


def write_pending(folder: Path, files: dict[str, bytes | tuple[Path, str]], pending: list[PendingFile]) -> None:
    """Write every file under its partial name in `folder`, or none, listing each in `pending`
    before it is opened (the caller removes them with `discard` however it ends: a stop the
    moment this returns still has them removed). A file is its bytes, or (a vault file, its
    recorded SHA-256): copied a block at a time, and refused (with all the files) should the copy
    not hash to what was recorded. A name that exists in `folder` (a link, even a dangling one,
    too) is refused before anything is written."""
    require_text_name(folder)
    if folder.exists() and not folder.is_dir():
        raise StoreError(f"{folder}: exists and is not a folder")
    for name in files:  # (first: an export killed while placing its files left some named, and these)
        remove_stale_partials(folder / name)
    refuse_taken([folder / name for name in files])
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            path = folder / name
            recorded = hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else data[1]
            # (listed before it is opened: a stop the moment it exists still has it removed)
            pending.append(PendingFile(path, partial_path(path), recorded))
            with open(partial_path(path), "xb") as handle:
                if isinstance(data, bytes):
                    handle.write(data)
                else:
                    source = data[0]
                    if copy_hashing(source, handle)[0] != recorded:
                        raise StoreError(f"{source}: the vault file of {name} no longer matches its recorded "
                                         "SHA-256; nothing was exported: run `fs2f audit verify`")
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException as error:  # (an interruption too: all or nothing)
        discard(pending)
        if isinstance(error, OSError):
            writing = pending[-1].path if pending else folder  # (a failed write names no file: the one being written)
            raise StoreError(f"{error.filename or writing}: cannot be written ({error.strerror or error}); "
                             "nothing was written") from None
        raise


def refuse_taken(paths: list[Path]) -> None:
    """One line naming the first of `paths` that exists."""
    taken = [path for path in paths if os.path.lexists(path)]
    if taken:
        raise StoreError(f"{taken[0]}: already exists; choose another --output folder")


def place_all(pending: list[PendingFile]) -> list[Path]:
    """Give each pending file its name; the names some other writer took meanwhile (their
    files are left as they are, and these stay under their partial names)."""
    taken = []
    for item in pending:
        try:
            place(item.partial, item.path)
        except FileExistsError:
            taken.append(item.path)
    return taken


def discard(pending: list[PendingFile]) -> None:
    """Remove the partial files (those placed keep their own names)."""
    for item in pending:
        remove_partial(item.partial)


def remove_partial(partial: Path) -> None:
    """Remove this process's partial file; a folder of that name, which kept the file from being
    written, is no file fs2f wrote and stays."""
    try:
        partial.unlink(missing_ok=True)
    except IsADirectoryError:
        pass
