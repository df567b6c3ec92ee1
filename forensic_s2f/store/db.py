"""Opening a store: one SQLite database per store, WAL journal, foreign keys on,
every write transaction taken with BEGIN IMMEDIATE so concurrent writers queue
instead of forking the custody chain. The schema is brought to head by Alembic."""

from __future__ import annotations

import fcntl
import functools
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from forensic_s2f.errors import StoreError, raise_held_stop, stops_held

DATABASE_NAME = "fs2f.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_SECONDS = 120
SNAPSHOT = "fs2f_read_snapshot"  # execution option: begin a plain (deferred) read transaction
LOCK_POLL_SECONDS = 0.02  # how often a command waiting for another's store lock tries again


@dataclass(frozen=True)
class StoreLayout:
    """Where a store keeps its parts."""

    root: Path

    @property
    def database(self) -> Path:
        return self.root / DATABASE_NAME

    @property
    def vault(self) -> Path:
        return self.root / "vault"

    @property
    def scratch(self) -> Path:
        """Working copies of decoded audio while an analysis runs (removed after it)."""
        return self.root / "scratch"

    @property
    def lock_file(self) -> Path:
        return self.root / ".fs2f.lock"

    def exists(self) -> bool:
        return self.database.is_file()


def _engine(database: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{database}", connect_args={"timeout": BUSY_TIMEOUT_SECONDS}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(SNAPSHOT) else "BEGIN IMMEDIATE")

    return engine


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Session]:
    """A session whose reads all see the database as it stood at the first of them: one deferred
    read transaction (with the WAL journal, writers go on meanwhile and see nothing of it)."""
    with engine.connect() as connection:
        connection.execution_options(**{SNAPSHOT: True})
        with Session(bind=connection, expire_on_commit=False) as db, db.begin():
            yield db


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _head_revision() -> str:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _read_only_uri(database: Path) -> str:
    """A URI that opens the database without writing anything: `mode=ro`, and `immutable=1`
    (SQLite creates no write-ahead-log files beside it) unless a write-ahead log with content lies
    beside it (a command still running, or killed): its transactions are then read, which needs
    SQLite's index file, so in a folder that cannot be written that is a StoreError (immutable
    would read fs2f.db without them: an older state, reported as if it were the store's)."""
    wal = database.with_name(database.name + "-wal")
    pending = wal.is_file() and wal.stat().st_size > 0
    if not pending:
        return f"{database.resolve().as_uri()}?mode=ro&immutable=1"
    if not os.access(database.parent, os.W_OK):
        raise StoreError(f"{wal}: holds transactions that may not be in {database.name} yet (a command is running, "
                         "or was killed), and a folder that cannot be written cannot read them; copy the store to "
                         "a folder that can be written, or let the command end, and read it again")
    return f"{database.resolve().as_uri()}?mode=ro"


def refuse_unsafe_files(database: Path) -> None:
    """Refuse a store whose database SQLite would read otherwise than fs2f checks it: `fs2f.db`
    as a symbolic link (SQLite keeps its write-ahead log and journal beside the file the link
    points to, out of sight of the checks made beside the link), or a rollback journal with
    content beside it (fs2f stores keep a write-ahead log and never write one: a read-only
    reading ignores it, the next command that writes would roll the database back to the state
    it holds)."""
    if database.is_symlink():
        raise StoreError(f"{database}: a symbolic link (to {os.readlink(database)}), not a file: a store's database "
                         "must be its own file; nothing was read or changed")
    journal = database.with_name(database.name + "-journal")
    if journal.is_symlink() or (journal.exists() and journal.stat().st_size > 0):
        raise StoreError(f"{journal}: a rollback journal beside the store's database, which fs2f never writes (it "
                         f"keeps a write-ahead log); SQLite would roll {database.name} back to the state it holds. Move "
                         "it out of the store (keep it as an exhibit) and verify the store; nothing was read or changed")


def _schema_revision(database: Path) -> str | None:
    """The store schema's Alembic revision (None for a new, empty database), read with plain
    SELECTs so that a file which is not an fs2f store is refused before anything (even the WAL
    journal mode) is written to it."""
    if not database.is_file() or database.stat().st_size == 0:
        return None
    try:  # (read-only: closing a read-write connection would fold another program's WAL into its file)
        with closing(sqlite3.connect(_read_only_uri(database), uri=True,
                                     timeout=BUSY_TIMEOUT_SECONDS)) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = connection.execute("SELECT version_num FROM alembic_version").fetchone() if "alembic_version" in tables else None
    except sqlite3.Error as error:
        if getattr(error, "sqlite_errorname", "") == "SQLITE_NOTADB":
            raise StoreError(f"{database}: not an fs2f case store ({error}); the file was not changed") from None
        raise StoreError(f"{database}: the case store's database cannot be read ({error})") from None
    if revision is not None:
        return revision[0]
    if "alembic_version" in tables:
        raise StoreError(f"{database}: its schema revision record (alembic_version) is empty: the database was "
                         "altered; the file was not changed")
    if tables:
        raise StoreError(f"{database}: not an fs2f case store (it holds other tables: {', '.join(sorted(tables))}); "
                         "the file was not changed")
    return None


@functools.cache
def schema_objects() -> dict[tuple[str, str], tuple[str, str | None]]:
    """Everything this fs2f's migrations put in sqlite_master ((type, name) → table, SQL: tables,
    indexes, triggers), read off a new in-memory database brought to head: what every store's
    schema must be, word for word."""
    config = _alembic_config()
    with create_engine("sqlite://").begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        return read_schema(connection)


def read_schema(connection: Connection | Session) -> dict[tuple[str, str], tuple[str, str | None]]:
    """A database's sqlite_master as (type, name) → (table, SQL); `connection` is an SQLAlchemy
    connection or session."""
    rows = connection.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    return {(kind, name): (table, sql) for kind, name, table, sql in rows}


def integrity_problems(connection: Connection | Session, limit: int = 10) -> list[str]:
    """What SQLite's `PRAGMA integrity_check` finds wrong with the database file (nothing: []):
    among it, an index whose entries no longer match its table's rows, which queries that read
    the index would return instead of the rows."""
    rows = [row[0] for row in connection.execute(text(f"PRAGMA integrity_check({int(limit)})"))]
    return [] if rows == ["ok"] else rows


def _known_revision(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(_alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def _migrate(engine: Engine, current: str | None) -> None:
    """Bring the schema from revision `current` to head; refuse a revision this fs2f does not know."""
    if current == _head_revision():
        return
    if current is not None and not _known_revision(current):
        raise StoreError(f"{engine.url.database}: written by another fs2f version (schema revision {current!r} is "
                         "unknown to this one); the file was not changed")
    config = _alembic_config()
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as error:  # (the upgrade's transaction is rolled back whole)
        raise StoreError(f"{engine.url.database}: its tables do not match its recorded schema revision {current!r} "
                         f"({error.orig}): the database was altered; the file was not changed") from None


@contextmanager
def store_lock(layout: StoreLayout) -> Iterator[None]:
    """An exclusive advisory lock on the store, for steps that span database and vault. Stop
    signals are held from the moment the lock is taken until it is given back (with every write's
    transaction inside), so that a stop cannot skip the release (see `stops_held`). A stop while
    waiting for another process's lock ends the wait, even inside a hold: nothing of the write
    has happened yet."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.lock_file, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                raise_held_stop()
                time.sleep(LOCK_POLL_SECONDS)
        with stops_held():
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def shared_lock(layout: StoreLayout) -> Iterator[None]:
    """A shared lock on the store, where its lock file exists and can be opened for reading:
    writers (which take `store_lock`) wait until the reader is done; nothing is written."""
    try:
        handle = open(layout.lock_file, "rb")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_engine(layout: StoreLayout, create: bool) -> Engine:
    """An engine on the store's database, migrated to head.

    With `create=False` a missing store is an error instead of being made.
    """
    refuse_unsafe_files(layout.database)
    if not layout.exists():
        if not create:
            raise StoreError(f"no case store at {layout.root} (add evidence to a case first)")
        layout.root.mkdir(parents=True, exist_ok=True)
    with store_lock(layout):
        current = _schema_revision(layout.database)
        if current is None and _vault_holds_files(layout):
            raise StoreError(f"{layout.database}: holds no cases, but the store's vault holds files: the database was "
                             "replaced or lost its write-ahead log (fs2f.db-wal); restore it from a copy. Nothing was "
                             "changed")
        engine = _engine(layout.database)
        _migrate(engine, current)
    return engine


def _vault_holds_files(layout: StoreLayout) -> bool:
    objects = layout.vault / "sha256"
    return objects.is_dir() and any(path.is_file() for path in objects.rglob("*"))


def open_read_only_engine(layout: StoreLayout) -> Engine:
    """An engine that reads the store and can write nothing (no lock file, no journal, no
    migration): for auditing a write-protected copy. The schema must be this fs2f's."""
    refuse_unsafe_files(layout.database)
    if not layout.exists():
        raise StoreError(f"no case store at {layout.root}")
    current = _schema_revision(layout.database)
    if current != _head_revision():
        raise StoreError(f"{layout.database}: schema revision {current!r} is not this fs2f's ({_head_revision()!r}); "
                         "it cannot be read without write access (which would upgrade it)")
    uri = _read_only_uri(layout.database)  # (a reader holds `shared_lock`, so no writer changes it meanwhile)
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_SECONDS,
                                                                        check_same_thread=False))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA query_only=ON")

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def session(engine: Engine) -> Session:
    return Session(engine, expire_on_commit=False)
