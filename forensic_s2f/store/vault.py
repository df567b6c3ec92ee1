"""The content-addressed vault: every object is stored once, read-only, at
`vault/sha256/<first two hex digits>/<remaining 62>`, like git's object store.

Objects are copied in blocks (a 2 GB recording is never held in memory), the copy is
re-hashed from disk before it is accepted, and then renamed into place atomically.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from forensic_s2f.errors import InputError, StoreError, raise_held_stop

BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class StoredObject:
    """An object now in the vault; `created` is False when identical bytes were already there."""

    sha256: str
    size_bytes: int
    path: Path
    created: bool


@dataclass(frozen=True)
class FileState:
    """What tells that a file's bytes changed, without reading them: its device and inode, size
    (bytes), and modification and status-change times (nanoseconds). Taken before a file is
    checked as audio and again once it is copied into the vault: a file cut short, written to or
    replaced in between differs."""

    device: int
    inode: int
    size_bytes: int
    modified_ns: int
    changed_ns: int

    @classmethod
    def of(cls, path: Path) -> FileState:
        status = os.stat(path)
        return cls(status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _is_hex(name: str, length: int) -> bool:
    """Whether `name` is `length` lower-case hex digits (a digest, or a part of one)."""
    return len(name) == length and all(c in "0123456789abcdef" for c in name)


def copy_hashing(source: Path, out: BinaryIO) -> tuple[str, int]:
    """Copy `source` into the open file `out` in 1 MiB blocks; the SHA-256 and size (bytes) of
    what was copied. Inside a store write, a stop waits for the copy no longer than a block."""
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            digest.update(block)
            out.write(block)
            size += len(block)
            raise_held_stop()
    return digest.hexdigest(), size


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            digest.update(block)
            raise_held_stop()  # (inside a store write, a stop waits for the copy no longer than a block)
    return digest.hexdigest()


class Vault:
    """A folder of immutable objects named by their SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        if not _is_hex(sha256, 64):
            raise StoreError(f"not a SHA-256 digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256[2:]

    def put_file(self, source: Path, checked: FileState | None = None) -> StoredObject:
        """Copy `source` into the vault, streaming; verify the copy; make it read-only. With
        `checked` (the file's state when its content was checked), a copy of a file that has
        changed since is refused (InputError)."""
        staging = self.root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=staging, prefix="incoming-")
        temp_path = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as out:
                expected, size = copy_hashing(source, out)
                out.flush()
                os.fsync(out.fileno())
            if checked is not None and (FileState.of(source) != checked or size != checked.size_bytes):
                raise InputError(source, f"changed while it was taken in (checked as {checked.size_bytes} bytes, "
                                         f"copied as {size}; written to, cut short or replaced meanwhile): nothing "
                                         "was added; take it in again once nothing writes it")
            if sha256_file(temp_path) != expected:
                raise InputError(source, "the copy in the vault does not match the original (I/O error?)")
            return self._place(temp_path, expected, size)
        except OSError as error:
            raise InputError(source, f"cannot be copied into the vault ({error.strerror or error})") from None
        finally:
            temp_path.unlink(missing_ok=True)

    def put_bytes(self, data: bytes) -> StoredObject:
        """Store a derived artifact's bytes (small files: images, JSON, RTTM, reports)."""
        staging = self.root / "tmp"
        staging.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=staging, prefix="incoming-")
        temp_path = Path(temp_name)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            return self._place(temp_path, hashlib.sha256(data).hexdigest(), len(data))
        finally:
            temp_path.unlink(missing_ok=True)

    def _place(self, temp_path: Path, sha256: str, size: int) -> StoredObject:
        final = self.path_of(sha256)
        if final.exists():
            if sha256_file(final) != sha256:
                raise StoreError(f"vault object {sha256} exists but its bytes no longer match its name")
            return StoredObject(sha256, size, final, created=False)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp_path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(temp_path, final)
        return StoredObject(sha256, size, final, created=True)

    def clear_staging(self) -> None:
        """Remove what a killed command left half-copied in the staging folder. Only call it
        holding the store lock: every put happens under that lock, so nothing there is in use."""
        staging = self.root / "tmp"
        if staging.is_dir():
            for leftover in staging.glob("incoming-*"):
                leftover.unlink(missing_ok=True)

    def object_names(self) -> set[str]:
        """The SHA-256 names of every object in the vault (other files there are no objects)."""
        base = self.root / "sha256"
        if not base.is_dir():
            return set()
        return {folder.name + path.name for folder in base.iterdir() if folder.is_dir() and _is_hex(folder.name, 2)
                for path in folder.iterdir() if _is_hex(path.name, 62)}

    def remove_new(self, stored: StoredObject) -> None:
        """Undo a put that created an object, when the database write that follows it fails."""
        if stored.created:
            stored.path.unlink(missing_ok=True)
