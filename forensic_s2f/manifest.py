"""Weights folders signed by a manifest: `manifest.json` = {"files": {name: SHA-256}}.

Loaders verify every listed file before reading any, so altered or corrupted weights are a
clear error naming the file, never a silently different model.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forensic_s2f.errors import Fs2fError
from forensic_s2f.store.vault import sha256_file

MANIFEST_FILE = "manifest.json"


def write_manifest(directory: Path, files: Sequence[str]) -> dict[str, str]:
    """Write manifest.json for `files` in `directory`; returns {name: sha256}."""
    hashes = {name: sha256_file(Path(directory) / name) for name in sorted(files)}
    (Path(directory) / MANIFEST_FILE).write_text(json.dumps({"files": hashes}, indent=2) + "\n")
    return hashes


def verify_manifest(directory: Path, required: Sequence[str], what: str = "model weights") -> dict[str, str]:
    """{name: sha256} of a folder's manifest after checking every listed file against it.

    Raises Fs2fError naming the file when the manifest is missing or invalid, does not list a
    `required` file, or a listed file is missing or differs.
    """
    directory = Path(directory)
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        raise Fs2fError(f"{what} {directory}: no {MANIFEST_FILE}")
    try:
        expected = json.loads(manifest_path.read_text())["files"]
        if not isinstance(expected, dict):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise Fs2fError(f"{what} {manifest_path}: not a valid manifest") from None
    for name in required:
        if name not in expected:
            raise Fs2fError(f"{what} {manifest_path}: does not list {name}")
    for name, digest in expected.items():
        file = directory / name
        if not file.is_file():
            raise Fs2fError(f"{what} {file}: missing")
        actual = sha256_file(file)
        if actual != digest:
            raise Fs2fError(
                f"{what} {file}: SHA-256 mismatch (manifest {str(digest)[:12]}…, file {actual[:12]}…); "
                "the file was altered or corrupted"
            )
    return dict(expected)


def read_json_object(path: Path, what: str = "fs2f model weights") -> dict[str, Any]:
    """A weights file's JSON object (read once its manifest is verified); Fs2fError naming the
    file when it is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:  # ValueError: not UTF-8, or not JSON
        raise Fs2fError(f"{path}: cannot be read as {what} ({reason(error)})") from None
    if not isinstance(document, dict):
        raise Fs2fError(f"{path}: cannot be read as {what} (not a JSON object)")
    return document


def read_arrays(path: Path, what: str = "fs2f model weights") -> dict[str, np.ndarray]:
    """The arrays of a weights .npz; Fs2fError naming the file when it is not a readable one."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with loaded as archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise Fs2fError(f"{path}: cannot be read as {what} ({reason(error)})") from None


def reason(error: Exception) -> str:
    """An exception as a short reason: its type and message."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
