"""Stores: where executions, operations, history and alarms are kept.

`open_store(url)` picks the implementation: `sqlite:///path` (the embedded
default, `.durable/durable.db`), `postgresql://user@host:port/db[?schema=name]`
(many engine processes on one database), `memory://`.
"""

from __future__ import annotations

import os

from durable.stores.base import ExecutionRecord, ExecutionStatus, Store, StoreError, WriteSet
from durable.stores.memory import MemoryStore
from durable.stores.sqlite import SQLiteStore, path_from_url

DEFAULT_STORE_URL = "sqlite:///.durable/durable.db"


def default_store_url() -> str:
    return os.environ.get("DURABLE_STORE") or DEFAULT_STORE_URL


def open_store(url: str | None = None) -> Store:
    chosen = url or default_store_url()
    if chosen.startswith("memory://"):
        return MemoryStore()
    if chosen.startswith("sqlite:///"):
        return SQLiteStore(path_from_url(chosen))
    if chosen.startswith(("postgresql://", "postgres://")):
        from durable.stores.postgresql import PostgreSQLStore

        return PostgreSQLStore(chosen)
    raise StoreError(
        f"unsupported store URL {chosen!r}: use sqlite:///path/to/file.db, postgresql://user@host:port/db or memory://"
    )


__all__ = [
    "DEFAULT_STORE_URL",
    "ExecutionRecord",
    "ExecutionStatus",
    "MemoryStore",
    "SQLiteStore",
    "Store",
    "StoreError",
    "WriteSet",
    "default_store_url",
    "open_store",
]
