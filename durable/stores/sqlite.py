"""SQLite store (WAL): the embedded default, one file, many readers, one writer thread.

Writes come only from the CheckpointWriter, so one connection serves them;
each reading thread gets its own connection, which WAL lets run beside the
writer.  A marker row in `durable_meta` tells our files from any other
SQLite file, so pointing the engine at the wrong file fails before it writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from durable.core.history import HistoryEvent, event_to_json
from durable.core.records import ErrorObject, OperationRecord
from durable.stores.base import (
    UNCHANGED,
    CommitResult,
    ExecutionQuery,
    ExecutionRecord,
    ExecutionStatus,
    FenceState,
    Store,
    StoreError,
    WriteSet,
    admit,
    execution_columns,
    operation_from_json,
    operation_to_json,
)

SCHEMA_MARKER = "durable-store/1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS durable_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS executions (
    execution_id TEXT PRIMARY KEY,
    function_name TEXT NOT NULL,
    name TEXT UNIQUE,
    status TEXT NOT NULL,
    input TEXT,
    result TEXT,
    error TEXT,
    created REAL NOT NULL,
    ended REAL,
    token INTEGER NOT NULL DEFAULT 0,
    invocations INTEGER NOT NULL DEFAULT 0,
    invocation_open INTEGER NOT NULL DEFAULT 0,
    deadline REAL,
    next_event_id INTEGER NOT NULL DEFAULT 1,
    parent_execution_id TEXT,
    parent_operation_id TEXT,
    tenant_id TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_status ON executions(status, created);
CREATE TABLE IF NOT EXISTS operations (
    execution_id TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (execution_id, operation_id)
);
CREATE TABLE IF NOT EXISTS events (
    execution_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (execution_id, event_id)
);
CREATE TABLE IF NOT EXISTS alarms (execution_id TEXT PRIMARY KEY, due REAL NOT NULL);
"""

_EXEC_COLUMNS = (
    "execution_id, function_name, name, status, input, result, error, created, ended, "
    "token, invocations, invocation_open, deadline, parent_execution_id, parent_operation_id, tenant_id"
)
_ADDED_COLUMNS = {"parent_execution_id": "TEXT", "parent_operation_id": "TEXT", "tenant_id": "TEXT"}


#: keyset paging (`page_executions`): newest first by (created, execution_id), alone or after one filter
_PAGE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS executions_by_created ON executions(created, execution_id)",
    "CREATE INDEX IF NOT EXISTS executions_by_status_created ON executions(status, created, execution_id)",
    "CREATE INDEX IF NOT EXISTS executions_by_function ON executions(function_name, created, execution_id)",
)


_FEW_NAMES = 2000

_UPSERT_OPERATIONS = (
    "INSERT INTO operations(execution_id, operation_id, body) VALUES {rows} "
    "ON CONFLICT(execution_id, operation_id) DO UPDATE SET body=excluded.body"
)
_INSERT_EVENTS = "INSERT INTO events(execution_id, event_id, body) VALUES {rows}"
#: rows per statement at most: 3 parameters each stays under the 999 of SQLite builds older than 3.32
_MOST_ROWS = 256


def _insert_rows(conn: sqlite3.Connection, statement: str, values: list[Any]) -> None:
    """Insert rows of three values (given one after another) with multi-row VALUES, not executemany.

    executemany steps once per row and lets go of the GIL around each step;
    with branch threads waiting for it, each row then costs a hand-off back.
    Chunks of a power of two rows keep the distinct statements few (cached).
    """
    start, rows = 0, len(values) // 3
    while rows:
        size = min(_MOST_ROWS, 1 << (rows.bit_length() - 1))
        end = start + 3 * size
        conn.execute(_rows_statement(statement, size), values[start:end])
        start, rows = end, rows - size


@functools.lru_cache(maxsize=32)
def _rows_statement(statement: str, size: int) -> str:
    return statement.format(rows=",".join(["(?,?,?)"] * size))


def path_from_url(url: str) -> Path:
    if not url.startswith("sqlite:///"):
        raise StoreError(f"not a SQLite store URL: {url!r} (expected sqlite:///path/to/file.db)")
    return Path(url[len("sqlite:///"):])


class _Transaction:
    """`SQLiteStore._transaction`'s block: a plain object, since every commit enters one (a generator-based
    context manager costs five calls)."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.conn.execute("ROLLBACK" if kind is not None else "COMMIT")


class SQLiteStore(Store):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self._local = threading.local()
        self._check_file()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as error:
            raise StoreError(f"cannot create the store directory {self.path.parent}: {error.strerror}") from error
        try:
            _private(self.path)
        except OSError as error:
            raise StoreError(f"cannot create the store {self.path}: {error.strerror}") from error
        self._writer = self._connect()
        self._init_schema()

    def _check_file(self) -> None:
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a directory, not a durable store file")
        if not self.path.exists() or self.path.stat().st_size == 0:
            parent = self.path.parent
            while not parent.exists():
                parent = parent.parent
            if not os.access(parent, os.W_OK):
                raise StoreError(f"cannot write the store at {self.path}: {parent} is not writable")
            return
        if not os.access(self.path, os.R_OK | os.W_OK):
            # before any connection: SQLite would leave -wal and -shm files beside a store it cannot use
            raise StoreError(f"cannot open the store {self.path}: permission denied (it needs read and write access)")
        try:
            with open(self.path, "rb") as handle:
                header = handle.read(16)
        except OSError as error:
            raise StoreError(f"cannot open the store {self.path}: {error.strerror or error}") from None
        if header != b"SQLite format 3\x00":
            raise StoreError(f"{self.path} is not a durable store (not a SQLite database)")
        try:
            probe = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                tables = {row[0] for row in probe.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                marker = None
                if "durable_meta" in tables:
                    row = probe.execute("SELECT value FROM durable_meta WHERE key='schema'").fetchone()
                    marker = row[0] if row else None
            finally:
                probe.close()
        except sqlite3.DatabaseError as error:
            raise StoreError(f"{self.path} is not a durable store: {error}") from error
        if tables and marker != SCHEMA_MARKER:
            raise StoreError(
                f"{self.path} is a SQLite database but not a durable store "
                f"(schema marker {marker!r}, expected {SCHEMA_MARKER!r})"
            )

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=10000")
        except sqlite3.Error as error:
            raise StoreError(f"cannot open the store {self.path}: {error}") from error
        return conn

    def _init_schema(self) -> None:
        try:
            self._writer.executescript(_SCHEMA)
            present = {row[1] for row in self._writer.execute("PRAGMA table_info(executions)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in present:
                    self._writer.execute(f"ALTER TABLE executions ADD COLUMN {column} {kind}")
            self._writer.execute(
                "CREATE INDEX IF NOT EXISTS executions_by_parent ON executions(parent_execution_id) "
                "WHERE parent_execution_id IS NOT NULL"
            )
            for index in _PAGE_INDEXES:
                self._writer.execute(index)
            self._writer.execute(
                "INSERT OR IGNORE INTO durable_meta(key, value) VALUES ('schema', ?)", (SCHEMA_MARKER,)
            )
        except sqlite3.Error as error:
            raise StoreError(f"cannot initialise the store {self.path}: {error}") from error

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    # ----- reads

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        conn = self._reader()
        row = conn.execute(f"SELECT {_EXEC_COLUMNS} FROM executions WHERE execution_id=?", (execution_id,)).fetchone()
        if row is None:
            return None
        alarm = conn.execute("SELECT due FROM alarms WHERE execution_id=?", (execution_id,)).fetchone()
        return _record(row, alarm[0] if alarm else None)

    def list_executions(self, status: ExecutionStatus | None = None, limit: int = 100) -> list[ExecutionRecord]:
        conn = self._reader()
        if status is None:
            rows = conn.execute(
                f"SELECT {_EXEC_COLUMNS} FROM executions ORDER BY created DESC LIMIT ?", (limit,)
            ).fetchall()
        else:
            rows = conn.execute(
                f"SELECT {_EXEC_COLUMNS} FROM executions WHERE status=? ORDER BY created DESC LIMIT ?",
                (status.value, limit),
            ).fetchall()
        return [_record(row, None) for row in rows]

    def page_executions(self, query: ExecutionQuery) -> list[ExecutionRecord]:
        where: list[str] = []
        params: list[Any] = []
        if query.status is not None:
            where.append("status=?")
            params.append(query.status.value)
        if query.function_name is not None:
            where.append("function_name=?")
            params.append(query.function_name)
        if query.name_prefix is not None:
            # A prefix is a range of the name index (in byte order).  Few matches: read them from that
            # index and sort them; many: walk the created index and test each name (`+name` keeps SQLite
            # from choosing the name index and sorting them all), which soon finds a page of them.
            bounds = [query.name_prefix, query.name_prefix + "\U0010ffff"]
            many = self._reader().execute(
                "SELECT count(*) FROM (SELECT 1 FROM executions WHERE name >= ? AND name < ? LIMIT ?)",
                (*bounds, _FEW_NAMES),
            ).fetchone()[0] >= _FEW_NAMES
            where.append("+name >= ? AND +name < ?" if many else "name >= ? AND name < ?")
            params += bounds
        if query.before is not None:
            where.append("(created, execution_id) < (?, ?)")
            params += list(query.before)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._reader().execute(
            f"SELECT {_EXEC_COLUMNS} FROM executions {clause}ORDER BY created DESC, execution_id DESC LIMIT ?",
            (*params, query.limit),
        ).fetchall()
        return [_record(row, None) for row in rows]

    def load_operations(self, execution_id: str) -> list[OperationRecord]:
        rows = self._reader().execute(
            "SELECT operation_id, body FROM operations WHERE execution_id=? ORDER BY rowid", (execution_id,)
        ).fetchall()
        return [operation_from_json(op_id, body) for op_id, body in rows]

    def get_operation(self, execution_id: str, operation_id: str) -> OperationRecord | None:
        row = self._reader().execute(
            "SELECT body FROM operations WHERE execution_id=? AND operation_id=?", (execution_id, operation_id)
        ).fetchone()
        return operation_from_json(operation_id, row[0]) if row else None

    def history(self, execution_id: str) -> list[dict[str, Any]]:
        rows = self._reader().execute(
            "SELECT body FROM events WHERE execution_id=? ORDER BY event_id", (execution_id,)
        ).fetchall()
        return [json.loads(body) for (body,) in rows]

    def stored_alarms(self) -> list[tuple[str, float]]:
        return [(eid, due) for eid, due in self._reader().execute("SELECT execution_id, due FROM alarms")]

    def ended_children_of_running_callers(self) -> list[ExecutionRecord]:
        columns = ", ".join(f"c.{name.strip()}" for name in _EXEC_COLUMNS.split(","))
        rows = self._reader().execute(
            f"SELECT {columns} FROM executions c JOIN executions p ON p.execution_id = c.parent_execution_id "
            "WHERE c.parent_execution_id IS NOT NULL AND c.status != 'RUNNING' AND p.status = 'RUNNING'"
        ).fetchall()
        return [_record(row, None) for row in rows]

    def open_invocations(self) -> list[str]:
        rows = self._reader().execute(
            "SELECT execution_id FROM executions WHERE invocation_open=1 AND status='RUNNING'"
        ).fetchall()
        return [eid for (eid,) in rows]

    def get_meta(self, key: str) -> str | None:
        row = self._reader().execute("SELECT value FROM durable_meta WHERE key=?", (f"engine:{key}",)).fetchone()
        return row[0] if row else None

    # ----- writes (CheckpointWriter thread only)

    def put_meta(self, key: str, value: str) -> None:
        self._writer.execute(
            "INSERT INTO durable_meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (f"engine:{key}", value),
        )

    def _transaction(self) -> _Transaction:
        """The writer connection inside `BEGIN IMMEDIATE`: committed when the block ends, however it returns;
        rolled back if it raises."""
        return _Transaction(self._writer)

    def create_execution(
        self,
        execution_id: str,
        function_name: str,
        input: str | None,
        name: str | None,
        deadline: float | None,
        now: float,
        start_event: HistoryEvent,
        parent: tuple[str, str] | None = None,
        tenant_id: str | None = None,
    ) -> tuple[ExecutionRecord, bool]:
        with self._transaction() as conn:
            row = conn.execute(
                f"SELECT {_EXEC_COLUMNS} FROM executions WHERE execution_id=? OR (name IS NOT NULL AND name=?)",
                (execution_id, name),
            ).fetchone()
            if row is not None:
                return _record(row, None), False
            parent_execution_id, parent_operation_id = parent or (None, None)
            conn.execute(
                "INSERT INTO executions(execution_id, function_name, name, status, input, created, deadline, "
                "next_event_id, parent_execution_id, parent_operation_id, tenant_id) VALUES (?,?,?,?,?,?,?,2,?,?,?)",
                (execution_id, function_name, name, "RUNNING", input, now, deadline,
                 parent_execution_id, parent_operation_id, tenant_id),
            )
            conn.execute(
                "INSERT INTO events(execution_id, event_id, body) VALUES (?,?,?)",
                (execution_id, 1, json.dumps(start_event.to_dict(1))),
            )
        record = self.get_execution(execution_id)
        assert record is not None
        return record, True

    def begin_invocation(self, execution_id: str, now: float) -> CommitResult:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT status, token FROM executions WHERE execution_id=?", (execution_id,)
            ).fetchone()
            if row is None or row[0] != "RUNNING":
                return CommitResult(False, "execution is not running" if row else "unknown execution")
            token = row[1] + 1
            conn.execute(
                "UPDATE executions SET token=?, invocations=invocations+1, invocation_open=1 WHERE execution_id=?",
                (token, execution_id),
            )
            return CommitResult(True, token=token)

    def commit(self, batch: list[WriteSet]) -> list[CommitResult]:
        """One transaction; the write sets of one execution are merged into one statement per table."""
        results: list[CommitResult | None] = [None] * len(batch)
        by_execution: dict[str, list[int]] = {}
        for position, ws in enumerate(batch):
            by_execution.setdefault(ws.execution_id, []).append(position)
        with self._transaction() as conn:
            for execution_id, positions in by_execution.items():
                for position, result in zip(positions, self._apply(conn, execution_id, [batch[p] for p in positions]),
                                            strict=True):
                    results[position] = result
        return [r for r in results if r is not None]

    def _apply(self, conn: sqlite3.Connection, execution_id: str, group: list[WriteSet]) -> list[CommitResult]:
        row = conn.execute(
            "SELECT status, token, next_event_id FROM executions WHERE execution_id=?", (execution_id,)
        ).fetchone()
        if row is None:
            return [CommitResult(False, "unknown execution")] * len(group)
        state = FenceState(*row)
        results: list[CommitResult] = []
        operations: dict[str, OperationRecord] = {}
        events: list[Any] = []  # execution id, event id and body of each event, one after another
        columns: dict[str, Any] = {}
        alarm: Any = UNCHANGED

        def current(operation_id: str) -> OperationRecord | None:
            if operation_id in operations:
                return operations[operation_id]
            found = conn.execute(
                "SELECT body FROM operations WHERE execution_id=? AND operation_id=?", (execution_id, operation_id)
            ).fetchone()
            return operation_from_json(operation_id, found[0]) if found else None

        for original in group:
            first_event_id = state.next_event_id
            ws, result = admit(state, original, current)
            results.append(result)
            if not result.ok:
                continue
            for op in ws.operations:
                operations[op.operation_id] = op
            for event_id, event in enumerate(ws.events, first_event_id):
                events += (execution_id, event_id, event_to_json(event, event_id))
            columns.update(execution_columns(ws))
            if ws.alarm is not UNCHANGED:
                alarm = ws.alarm
        if operations:
            values: list[Any] = []
            for op_id, op in operations.items():
                values += (execution_id, op_id, operation_to_json(op))
            _insert_rows(conn, _UPSERT_OPERATIONS, values)
        if events:
            _insert_rows(conn, _INSERT_EVENTS, events)
        if any(r.ok for r in results):
            # only what moved: assigning `status` would rewrite its two indexes on every step
            for name, value in zip(("status", "token", "next_event_id"), row, strict=True):
                if getattr(state, name) != value:
                    columns[name] = getattr(state, name)
            if columns:
                assignments = ", ".join(f"{name}=?" for name in columns)
                conn.execute(
                    f"UPDATE executions SET {assignments} WHERE execution_id=?", (*columns.values(), execution_id)
                )
        if alarm is None:
            conn.execute("DELETE FROM alarms WHERE execution_id=?", (execution_id,))
        elif alarm is not UNCHANGED:
            conn.execute(
                "INSERT INTO alarms(execution_id, due) VALUES (?,?) "
                "ON CONFLICT(execution_id) DO UPDATE SET due=excluded.due",
                (execution_id, alarm),
            )
        return results

    def secret_key_path(self) -> Path | None:
        return self.path.with_name("secret.key")

    def acquire_engine_lock(self) -> None:
        """An OS file lock beside the database: released by the kernel when the process dies."""
        lock_path = self.path.with_name(self.path.name + ".engine-lock")
        handle = os.fdopen(os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600), "r+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.close()
            raise StoreError(
                f"another engine process is already running on {self.path}; stop it or use another store"
            ) from error
        self._engine_lock: Any = handle

    def close(self) -> None:
        lock = getattr(self, "_engine_lock", None)
        if lock is not None:
            lock.close()
            del self._engine_lock
        self._writer.close()
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _private(path: Path) -> None:
    """The database and its WAL and shared-memory files readable by their owner only.

    Inputs, results and callback ids are in there.  SQLite gives the -wal and
    -shm files the database file's mode, so creating the database 0600 first is
    enough; a store from before this rule is tightened when it is opened.
    """
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for owned in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if owned.stat().st_mode & 0o077:
                owned.chmod(0o600)


def _record(row: tuple[Any, ...], alarm: float | None) -> ExecutionRecord:
    (eid, function_name, name, status, input_, result, error, created, ended, token, invocations, open_, deadline,
     parent_execution_id, parent_operation_id, tenant_id) = row
    return ExecutionRecord(
        parent_execution_id=parent_execution_id,
        parent_operation_id=parent_operation_id,
        tenant_id=tenant_id,
        execution_id=eid,
        function_name=function_name,
        name=name,
        status=ExecutionStatus(status),
        input=input_,
        result=result,
        error=ErrorObject.from_dict(json.loads(error)) if error else None,
        created=created,
        ended=ended,
        token=token,
        invocations=invocations,
        invocation_open=bool(open_),
        deadline=deadline,
        alarm=alarm,
    )
