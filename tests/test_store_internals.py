"""Store internals: migrations match the models; the vault streams large files."""

from __future__ import annotations

import tracemalloc

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from forensic_s2f.store.db import StoreLayout, open_engine
from forensic_s2f.store.models import Base
from forensic_s2f.store.vault import Vault, sha256_file


def test_migrations_create_exactly_the_models(tmp_path):
    engine = open_engine(StoreLayout(tmp_path), create=True)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    assert diff == []
    assert mode == "wal" and foreign_keys == 1


def test_a_store_at_an_earlier_schema_revision_is_upgraded_with_its_rows(tmp_path):
    """A store made before analysis runs existed (revision 0001) opens at head, its case kept."""
    from alembic import command
    from sqlalchemy import create_engine

    from forensic_s2f.store.db import _alembic_config

    layout = StoreLayout(tmp_path)
    config = _alembic_config()
    with create_engine(f"sqlite:///{layout.database}").begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql("INSERT INTO \"case\" (id, title, created_utc, created_by) "
                                   "VALUES ('C1', '', '2026-01-01T00:00:00Z', 'Ann')")
    engine = open_engine(layout, create=False)
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == "0003"
        assert connection.exec_driver_sql("SELECT id FROM \"case\"").scalars().all() == ["C1"]
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_vault_streams_large_files_in_bounded_memory(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as handle:
        for i in range(64):
            handle.write(bytes([i]) * (1 << 20))
    vault = Vault(tmp_path / "vault")
    tracemalloc.start()
    stored = vault.put_file(big)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB for a 64 MiB file"
    assert stored.sha256 == sha256_file(big) and stored.created
    assert vault.put_file(big).created is False


def test_scratch_folders_of_dead_analyses_are_removed(tmp_path):
    import os

    from forensic_s2f.store.case_store import CaseStore

    store = CaseStore(tmp_path, create=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    stale = scratch / "analyze-4194999-abc"  # above Linux's largest pid: no such process
    stale.mkdir()
    (stale / "decoded.f32").write_bytes(b"\0" * 64)
    alive = scratch / f"analyze-{os.getppid()}-def"
    alive.mkdir()
    with store.scratch_folder() as folder:
        assert folder.parent == scratch and folder.is_dir()
        assert not stale.exists() and alive.is_dir()
    assert not folder.exists()
    store.close()
