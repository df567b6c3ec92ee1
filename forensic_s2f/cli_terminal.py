"""What the `fs2f` commands share at the terminal: the consoles, the common options, the stores a
command opened, and how a line, a table, JSON and progress are printed."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from forensic_s2f.config import store_home
from forensic_s2f.errors import one_line

out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

ExaminerOption = Annotated[str | None, typer.Option("--examiner", "-e", help="Examiner's name (default: $FS2F_EXAMINER).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables and text.")]


OPEN_STORES: list = []  # closed when the command ends, so SQLite folds its write-ahead log into fs2f.db


def open_store(create: bool = False, read_only: bool = False):
    from forensic_s2f.store.case_store import CaseStore

    store = CaseStore(store_home(), create=create, read_only=read_only)
    OPEN_STORES.append(store)
    return store


def open_for_reading(read_only: bool = False):
    """The store for a command that only reads: read-only when asked, or when its folder cannot be
    written (a write-protected copy given to an auditor)."""
    home = store_home()
    return open_store(read_only=read_only or (home.is_dir() and not os.access(home, os.W_OK)))


ReadOnlyOption = Annotated[bool, typer.Option(
    "--read-only", help="Write nothing to the store (no lock file, no journal, no log event); taken by "
                        "itself when the store's folder cannot be written.")]


def close_stores() -> None:
    """Close every store the command opened: the last connection to close checkpoints the
    write-ahead log (fs2f.db-wal) into fs2f.db and removes it, so that a copy of fs2f.db alone is
    the whole store."""
    while OPEN_STORES:
        OPEN_STORES.pop().close()


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def plain_line(text: str) -> Text:
    """`text` as printed: plain (no rich markup) and on one line, with control and format
    characters written as escapes (a right-to-left override in a file name would reorder what
    the terminal shows)."""
    return Text(one_line(text))


def text_table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")  # (a long name is folded onto more lines, never cut)
    for row in rows:
        table.add_row(*(plain_line("" if cell is None else str(cell)) for cell in row))
    return table


def progress_bar() -> Progress:
    """Progress on stderr, shown on a terminal only (elsewhere it left an empty line before an
    error's one line); a task of unknown total counts as "n/?"."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    )


def head_line(case_id: str, head: str) -> Text:
    """The case's custody-log head once a command's own events are in: a head printed before
    them (a report's pinned head, the head a verification checked) does not cover them. Kept
    outside the store, `audit verify --expect-head` later shows the log still holds it."""
    return plain_line(f"custody log of {case_id} now ends at head {head}: keep it outside the store for "
                      f"`fs2f audit verify {case_id} --expect-head`")
