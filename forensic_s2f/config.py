"""Where the case store lives and who the examiner is."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

from forensic_s2f.errors import StoreError, one_line

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"


def store_home() -> Path:
    """The case store folder: `$FS2F_HOME`, else `cases/` in the project root (StoreError when
    that path is something other than a folder)."""
    home = Path(os.environ.get("FS2F_HOME") or PROJECT_ROOT / "cases").expanduser().resolve()
    if home.exists() and not home.is_dir():
        raise StoreError(f"{home}: the case store must be a folder, and this is a file (check $FS2F_HOME)")
    return home


def require_outside_store(path: Path, home: Path | None = None) -> None:
    """Refuse an output (export, report, model files) inside the case store at `home` (default:
    `store_home()`): the store holds only what its commands record there, and a foreign file in
    its vault or scratch folder would sit among evidence."""
    home = store_home() if home is None else Path(home).resolve()
    where = Path(path).resolve()  # (as it will be written: a quoted '~' is a folder named '~')
    if where == home or home in where.parents:
        raise StoreError(f"{path}: is inside the case store ({home}); write outputs outside it")


def examiner_name(given: str | None) -> str:
    """The examiner from the option, else `$FS2F_EXAMINER`; refuses to go on without one. An
    option given empty is refused, not filled in from `$FS2F_EXAMINER`: the custody log then
    named whoever the environment held for a step its examiner had left unnamed."""
    if given is not None and not given.strip():
        raise StoreError("--examiner is empty: give the examiner's name")
    name = (given or os.environ.get("FS2F_EXAMINER") or "").strip()
    if not name:
        raise StoreError("no examiner: pass --examiner NAME or set FS2F_EXAMINER")
    require_text("the examiner name", name)
    if len(name) > 200 or any(_hidden(c) for c in name):
        raise StoreError("examiner name must be printable (no control characters, line breaks or direction "
                         "overrides) and at most 200 characters")
    return name


def require_text(what: str, value: str) -> None:
    """Refuse a value given on the command line or in the environment that holds bytes that are
    not UTF-8 (the shell passed them through as \\udcXX): it is recorded as text."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise StoreError(f"{what} holds bytes that are not UTF-8 ({one_line(value)}); give it as UTF-8 text") from None


def _hidden(character: str) -> bool:
    """A character that changes how the text around it is shown, or shows nothing of its own: a
    control character (C0, DEL, C1), a line or paragraph separator, a direction embedding,
    override or isolate. (Zero-width joiners stay: Persian and Indic names use them.)"""
    return unicodedata.category(character) in ("Cc", "Zl", "Zp") or "\u202a" <= character <= "\u202e" \
        or "\u2066" <= character <= "\u2069"
