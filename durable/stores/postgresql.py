"""PostgreSQL store: many engine processes, on many machines, share one database.

The tables live in their own schema (`?schema=name` in the URL, `durable` by
default), created and migrated on first use under an advisory lock, with the
schema's version in `durable_meta`: a database whose schema is newer than
this code is refused, never written.

Engines that share a database are members (`durable_engines`): each holds a
lease (owner id, epoch, expiry in the database's own clock) that its
heartbeat renews.  An execution is owned by at most one live engine: the one
that created it, claimed it (`claim_ready`: woken or due, `FOR UPDATE SKIP
LOCKED`) or completed something in it while no one held it; the owner lets go
when its invocation ends.  An invocation begins only on an execution this
engine owns or no engine holds.  Every write an invocation makes carries its
fencing token and is applied only while the execution's row, locked by the
write, still names this engine as owner under that token and this engine's
lease is live.  A takeover (`reap_dead_members`) closes the dead member's
invocations under the same row locks, so per execution every write lands
either before the takeover (and the next owner replays it) or not at all.

An outside completion (a callback, a chained child) written while another
engine holds the execution sets `wake` and `NOTIFY`s the members, so the
holder hears at once and, should its invocation end first, the wake stays
for the next claim; one written by a record-only process (no member) wakes it
the same way.  So a completion is never lost between engines, and the engine
that is already running an execution is the one that runs it again.
"""

from __future__ import annotations

import functools
import json
import operator
import os
import re
import secrets
import socket
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar, cast
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import attrs
from cachetools import LRUCache
from loguru import logger

from durable.core.history import HistoryEvent, event_to_json
from durable.core.records import ErrorObject, OperationRecord
from durable.core.writes import close_invocation
from durable.stores.base import (
    OUTSIDE_CLOSED,
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
from durable.stores.signing_key import KEY_BYTES

SCHEMA_VERSION = 2
DEFAULT_SCHEMA = "durable"
#: how long a store call keeps trying to get a connection back before it fails
RECONNECT_SECONDS = 30.0
#: how many executions' fence columns a member remembers for single-statement checkpoints
FENCE_CACHE = 10_000
#: a transaction left open this long by a paused engine (SIGSTOP, GC, a partition) is ended by the server, so
#: the row locks it holds cannot keep the other engines from taking its executions over
IDLE_IN_TRANSACTION_SECONDS = 5.0
#: how long one attempt waits for a pooled connection before it counts as lost
POOL_WAIT_SECONDS = 5.0
#: the first retries after a lost connection do not wait (delays double from FIRST_RETRY; up to QUICK_RETRY: none)
FIRST_RETRY, QUICK_RETRY = 0.001, 0.02

_T = TypeVar("_T")
_P = ParamSpec("_P")
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: the values PostgreSQL takes for `synchronous_commit`
SYNCHRONOUS_COMMIT = ("on", "off", "local", "remote_write", "remote_apply")

_MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE durable_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE executions (
    execution_id TEXT PRIMARY KEY,
    function_name TEXT NOT NULL,
    name TEXT UNIQUE,
    status TEXT NOT NULL,
    input TEXT,
    result TEXT,
    error TEXT,
    created DOUBLE PRECISION NOT NULL,
    ended DOUBLE PRECISION,
    token BIGINT NOT NULL DEFAULT 0,
    invocations INTEGER NOT NULL DEFAULT 0,
    invocation_open BOOLEAN NOT NULL DEFAULT FALSE,
    deadline DOUBLE PRECISION,
    next_event_id BIGINT NOT NULL DEFAULT 1,
    parent_execution_id TEXT,
    parent_operation_id TEXT,
    tenant_id TEXT,
    alarm DOUBLE PRECISION,
    alarm_version BIGINT NOT NULL DEFAULT 0,
    wake BOOLEAN NOT NULL DEFAULT FALSE,
    owner TEXT
);
CREATE INDEX executions_by_status ON executions (status, created);
CREATE INDEX executions_by_parent ON executions (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
CREATE INDEX executions_due ON executions (alarm) WHERE status = 'RUNNING' AND alarm IS NOT NULL;
CREATE INDEX executions_woken ON executions (created) WHERE status = 'RUNNING' AND wake;
CREATE INDEX executions_owned ON executions (owner) WHERE owner IS NOT NULL;
CREATE TABLE operations (
    execution_id TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    body TEXT NOT NULL,
    PRIMARY KEY (execution_id, operation_id)
);
CREATE INDEX operations_in_order ON operations (execution_id, seq);
CREATE TABLE events (
    execution_id TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (execution_id, event_id)
);
CREATE TABLE durable_engines (
    engine_id TEXT PRIMARY KEY,
    epoch BIGINT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    state TEXT NOT NULL,
    started TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    heartbeat TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    expires TIMESTAMPTZ NOT NULL
);
""",
    2: """
CREATE INDEX executions_by_created ON executions (created, execution_id);
CREATE INDEX executions_by_status_created ON executions (status, created, execution_id);
CREATE INDEX executions_by_function ON executions (function_name, created, execution_id);
CREATE INDEX executions_by_name_prefix ON executions (name text_pattern_ops) WHERE name IS NOT NULL;
""",
}

_EXEC_COLUMNS = (
    "execution_id, function_name, name, status, input, result, error, created, ended, "
    "token, invocations, invocation_open, deadline, parent_execution_id, parent_operation_id, tenant_id, alarm"
)
_LIVE = "state = 'live' AND expires > clock_timestamp()"
#: the largest checkpoint (operations, events) sent as one statement
QUICK_LIMIT = 16


@functools.lru_cache(maxsize=QUICK_LIMIT * QUICK_LIMIT)
def _quick_commit_sql(operations: int, events: int) -> bytes:
    """An invocation's plain checkpoint as one statement, fenced by token, owner, lease and the next event id.

    One statement per shape, with positional text parameters (`_QuickCheckpoint.values`): engine id,
    epoch, execution id, token, first event id, event count; then (id, body) per operation and
    (event id, body) per event.
    """
    ops = ", ".join(f"(${7 + 2 * i}, ${8 + 2 * i})" for i in range(operations))
    first_event = 7 + 2 * operations
    evs = ", ".join(f"(${first_event + 2 * i}::bigint, ${first_event + 1 + 2 * i})" for i in range(events))
    parts = [
        f"""WITH lease AS (
    SELECT 1 FROM durable_engines WHERE engine_id = $1 AND epoch = $2 AND {_LIVE}
), execution AS (
    UPDATE executions SET next_event_id = next_event_id + $6
    WHERE execution_id = $3 AND token = $4 AND status = 'RUNNING' AND owner = $1
      AND next_event_id = $5 AND EXISTS (SELECT 1 FROM lease)
    RETURNING 1
)"""
    ]
    if operations:
        parts.append(f""", written AS (
    INSERT INTO operations (execution_id, operation_id, body)
    SELECT $3, v.id, v.body FROM execution, (VALUES {ops}) AS v(id, body)
    ON CONFLICT (execution_id, operation_id) DO UPDATE SET body = excluded.body
)""")
    if events:
        parts.append(f""", numbered AS (
    INSERT INTO events (execution_id, event_id, body)
    SELECT $3, v.id, v.body FROM execution, (VALUES {evs}) AS v(id, body)
)""")
    parts.append("\nSELECT count(*) FROM execution")
    return "".join(parts).encode()


#: several executions' plain checkpoints as one statement: each execution's fence as in `_quick_commit_sql`,
#: the rows as arrays (`_group_values`), in execution id order; it returns the executions whose fence held
GROUP_COMMIT_SQL = f"""WITH lease AS (
    SELECT 1 FROM durable_engines WHERE engine_id = $1 AND epoch = $2 AND {_LIVE}
), wanted AS (
    SELECT * FROM unnest($3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
        AS w(execution_id, token, first_event_id, events)
), execution AS (
    UPDATE executions e SET next_event_id = e.next_event_id + w.events
    FROM wanted w
    WHERE e.execution_id = w.execution_id AND e.token = w.token AND e.status = 'RUNNING' AND e.owner = $1
      AND e.next_event_id = w.first_event_id AND EXISTS (SELECT 1 FROM lease)
    RETURNING e.execution_id
), written AS (
    INSERT INTO operations (execution_id, operation_id, body)
    SELECT o.execution_id, o.operation_id, o.body
    FROM unnest($7::text[], $8::text[], $9::text[]) WITH ORDINALITY AS o(execution_id, operation_id, body, n)
    WHERE o.execution_id IN (SELECT execution_id FROM execution)
    ORDER BY o.n
    ON CONFLICT (execution_id, operation_id) DO UPDATE SET body = excluded.body
), numbered AS (
    INSERT INTO events (execution_id, event_id, body)
    SELECT v.execution_id, v.event_id, v.body
    FROM unnest($10::text[], $11::bigint[], $12::text[]) AS v(execution_id, event_id, body)
    WHERE v.execution_id IN (SELECT execution_id FROM execution)
)
SELECT execution_id FROM execution""".encode()
GROUP_COMMIT_SHAPE = b"durable_checkpoint_group"


#: what a commit reads of each execution it writes, under its row lock
_FENCE_COLUMNS = "execution_id, status, token, next_event_id, owner"


@attrs.frozen(slots=True)
class Membership:
    """This engine's lease: its id, the epoch its writes are fenced by, its length, and until when
    (monotonic, counted from when its grant or last renewal was asked) it is known to hold."""

    engine_id: str
    epoch: int
    lease_seconds: float = 0.0
    held_until: float = 0.0


def _require_psycopg() -> Any:
    try:
        import psycopg
        import psycopg_pool
    except ImportError as error:
        raise StoreError(
            "a postgresql:// store needs psycopg 3 and psycopg_pool: pip install 'durable[postgresql]'"
        ) from error
    return psycopg, psycopg_pool


@attrs.frozen(slots=True)
class Location:
    """Where a PostgreSQL store lives: the server's URL, the store's schema and the sessions' settings."""

    conninfo: str
    schema: str
    #: libpq `options` for every session: the URL's own, then the store's (`-c name=value` each)
    options: str


def split_url(url: str) -> Location:
    """Read `postgresql://user@host:port/db?schema=name&synchronous_commit=off` (other parameters go to libpq).

    `synchronous_commit` is PostgreSQL's own setting, for this store's sessions
    only: `off` answers a commit before its WAL reaches the disk (see
    docs/scale-out.md for what that gives up).
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - read for its check: a port out of range or not a number raises here
    except ValueError as error:
        raise StoreError(f"invalid PostgreSQL store URL {url!r}: {error}") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(f"not a PostgreSQL store URL: {url!r} (expected postgresql://user@host:port/database)")
    query = parse_qs(parts.query, keep_blank_values=True)
    schema = query.pop("schema", [None])[-1] or os.environ.get("DURABLE_PG_SCHEMA") or DEFAULT_SCHEMA
    if not _SCHEMA_NAME.match(schema):
        raise StoreError(f"invalid schema name {schema!r}: lower-case letters, digits and _, at most 63")
    timeout = query.get("connect_timeout", [None])[-1]
    if timeout is not None and not (timeout.isascii() and timeout.strip().lstrip("-").isdigit()):
        raise StoreError(f"invalid connect_timeout {timeout!r}: a whole number of seconds")
    options = [*query.pop("options", [])]
    commit = query.pop("synchronous_commit", [None])[-1]
    if commit is not None:
        if commit not in SYNCHRONOUS_COMMIT:
            raise StoreError(f"invalid synchronous_commit {commit!r}: one of {', '.join(SYNCHRONOUS_COMMIT)}")
        options.append(f"-c synchronous_commit={commit}")
    rest = urlencode(query, doseq=True)
    return Location(urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")), schema, " ".join(options))


def _holds_nul(*texts: str | None) -> bool:
    """PostgreSQL text cannot hold NUL (the server refuses it), so no stored id or name does: a lookup by
    one finds nothing, where asking the server would fail."""
    return any(text is not None and "\x00" in text for text in texts)


def _where(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5432}{parts.path or ''}"


def _retrying(
    method: Callable[Concatenate[PostgreSQLStore, _P], _T],
) -> Callable[Concatenate[PostgreSQLStore, _P], _T]:
    """Run a read, or a write that may safely run twice, again on a fresh connection if the connection is lost."""

    @functools.wraps(method)
    def run(self: PostgreSQLStore, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        started, delay = time.monotonic(), FIRST_RETRY
        while True:
            try:
                return method(self, *args, **kwargs)
            except Exception as error:
                if not self._lost(error):
                    raise
                delay = self._again(error, started, delay)

    return run


@attrs.frozen(slots=True)
class Claimed:
    """What one claim took: executions woken by an outside change, and executions whose alarm is due."""

    woken: tuple[str, ...]
    due: tuple[str, ...]

    @property
    def all(self) -> list[str]:
        return [*self.woken, *self.due]


@attrs.frozen(slots=True)
class _QuickCheckpoint:
    """One execution's plain checkpoint, and the fence it leaves behind: sent as a statement of its own
    (`alone`), or with other executions' checkpoints in one (`_group_values`)."""

    engine_id: str
    epoch: int
    execution_id: str
    token: int
    first_event_id: int
    #: operation id -> body, and the events' bodies from `first_event_id` on: what `_landed` looks for
    operations: dict[str, str]
    events: list[str]

    @property
    def next_event_id(self) -> int:
        return self.first_event_id + len(self.events)

    def alone(self) -> tuple[bytes, bytes, list[bytes]]:
        """The name its shape's statement is prepared under, the statement, and its text parameters."""
        shape = (len(self.operations), len(self.events))
        values = [
            self.engine_id.encode(), b"%d" % self.epoch, self.execution_id.encode(), b"%d" % self.token,
            b"%d" % self.first_event_id, b"%d" % len(self.events),
        ]
        for operation_id, body in self.operations.items():
            values += (operation_id.encode(), body.encode())
        for i, body in enumerate(self.events):
            values += (b"%d" % (self.first_event_id + i), body.encode())
        return b"durable_checkpoint_%d_%d" % shape, _quick_commit_sql(*shape), values


def _group_values(forms: list[_QuickCheckpoint]) -> list[bytes]:
    """The text parameters of GROUP_COMMIT_SQL for `forms` (one member's, of distinct executions), in
    execution id order, so that concurrent group commits lock their rows in one order."""
    forms = sorted(forms, key=operator.attrgetter("execution_id"))
    operations = [(form.execution_id, op_id, body) for form in forms for op_id, body in form.operations.items()]
    events = [
        (form.execution_id, form.first_event_id + i, body) for form in forms for i, body in enumerate(form.events)
    ]
    return [
        forms[0].engine_id.encode(), b"%d" % forms[0].epoch,
        _text_array(form.execution_id for form in forms), _number_array(form.token for form in forms),
        _number_array(form.first_event_id for form in forms), _number_array(len(form.events) for form in forms),
        _text_array(row[0] for row in operations), _text_array(row[1] for row in operations),
        _text_array(row[2] for row in operations),
        _text_array(row[0] for row in events), _number_array(row[1] for row in events),
        _text_array(row[2] for row in events),
    ]


def _text_array(items: Iterable[str]) -> bytes:
    """A PostgreSQL text array literal: each item double-quoted, its backslashes and quotes escaped."""
    quoted = ('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items)
    return ("{" + ",".join(quoted) + "}").encode()


def _number_array(items: Iterable[int]) -> bytes:
    return ("{" + ",".join(map(str, items)) + "}").encode()


#: each connection's prepared checkpoint statements, by shape name (a connection the pool drops takes its own along)
PreparedShapes = weakref.WeakKeyDictionary[Any, set[bytes]]


class _CheckpointLine:
    """The connection plain checkpoints go out on, each statement shape prepared on it once.

    Only `commit` uses it, and only the CheckpointWriter calls `commit`, one
    batch at a time, so the line has one user.  libpq runs the prepared
    statement with text parameters and the GIL released while it waits:
    psycopg's per-statement layer (cursor, adaptation, result) cost more CPU
    than the rest of a step's checkpoint on this path.  A lost connection is
    handed back to the pool, which discards it; the next statement takes a
    fresh one.
    """

    def __init__(self, pool: Any, psycopg: Any, prepared: PreparedShapes) -> None:
        self._pool = pool
        self._psycopg = psycopg
        self._conn: Any = None
        self._prepared = prepared
        #: the shapes prepared on `_conn` (looked up once per connection: a weak-keyed lookup makes a weakref)
        self._shapes: set[bytes] = set()

    def run(self, name: bytes, statement: bytes, values: list[bytes]) -> Any:
        """Run a checkpoint statement, prepared under `name`; its result (libpq's)."""
        if self._conn is None:
            self._conn = self._pool.getconn()
            self._shapes = self._prepared.setdefault(self._conn, set())
        pgconn = self._conn.pgconn
        try:
            return _run_prepared(self._psycopg, pgconn, self._shapes, name, statement, values)
        except self._psycopg.Error:
            if pgconn.status != self._psycopg.pq.ConnStatus.OK:
                self.close()
            raise

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._pool.putconn(conn)


def _run_prepared(
    psycopg: Any, pgconn: Any, shapes: set[bytes], name: bytes, statement: bytes, values: list[bytes]
) -> Any:
    """Run a checkpoint statement on `pgconn`, prepared under `name` (prepared first if it is not among
    the connection's `shapes`: parsing and planning it cost the server more than running it); libpq's
    result, from text parameters."""
    if name not in shapes:
        _checked(psycopg, pgconn, pgconn.prepare(name, statement))
        shapes.add(name)
    return _checked(psycopg, pgconn, pgconn.exec_prepared(name, values))


def _checked(psycopg: Any, pgconn: Any, result: Any) -> Any:
    """The result, or the error psycopg would raise for it (OperationalError when the connection is gone)."""
    pq = psycopg.pq
    if result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        return result
    if pgconn.status != pq.ConnStatus.OK:
        message = pgconn.error_message.decode("utf-8", "replace").strip() or "the connection was lost"
        raise psycopg.OperationalError(message)
    raise psycopg.errors.error_from_result(result)


class PostgreSQLStore(Store):
    """The Store contract on PostgreSQL, for one engine or many sharing the database."""

    shared = True

    def __init__(self, url: str, pool_size: int = 8, connect_timeout: float = 5.0) -> None:
        psycopg, psycopg_pool = _require_psycopg()
        self._psycopg = psycopg
        location = split_url(url)
        self.conninfo, self.schema = location.conninfo, location.schema
        self.url = url
        self.channel = f"{self.schema}_wake"
        #: what pg_stat_activity shows for this store's connections
        self.application = f"durable/{self.schema}"
        #: execution -> (token, next event id) after this engine's last commit there; read and written only
        #: by `commit`, on the CheckpointWriter's thread; a stale entry only sends a commit the slow way
        self._fences: LRUCache[str, tuple[int, int]] = LRUCache(maxsize=FENCE_CACHE)
        #: replaced whole by whoever joins or renews (the ClusterMember, or `commit` confirming a lapsed lease)
        self.member: Membership | None = None
        try:
            # the URL's own connect_timeout, when it has one, as every pooled connection will use it
            given = "connect_timeout" in parse_qs(urlsplit(self.conninfo).query)
            timeout = {} if given else {"connect_timeout": max(1, int(connect_timeout))}
            probe = psycopg.connect(
                self.conninfo, autocommit=True, **timeout,
                **({"options": location.options} if location.options else {}),
            )
        except psycopg.Error as error:
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            raise StoreError(f"cannot reach PostgreSQL at {_where(self.conninfo)}: {reason}") from None
        try:
            self._migrate(probe)
        finally:
            probe.close()
        self.pool = psycopg_pool.ConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={
                "autocommit": True,
                "options": f"{location.options} -c search_path={self.schema} "
                f"-c idle_in_transaction_session_timeout={int(IDLE_IN_TRANSACTION_SECONDS * 1000)}".lstrip(),
                "application_name": self.application,
            },
            timeout=POOL_WAIT_SECONDS,
            open=True,
            name=f"durable-{self.schema}",
        )
        #: connection -> the checkpoint shapes prepared on it; used only by `commit`, on the writer's thread
        self._prepared: PreparedShapes = weakref.WeakKeyDictionary()
        self._line = _CheckpointLine(self.pool, psycopg, self._prepared)

    # ----- schema

    def _migrate(self, conn: Any) -> None:
        """Create or upgrade the schema, one numbered step at a time; refuse a newer one."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"durable-schema:{self.schema}",))
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {self.schema}")
            conn.execute(f"SET LOCAL search_path TO {self.schema}")
            exists = conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema=%s AND table_name='durable_meta'",
                (self.schema,),
            ).fetchone()
            version = 0
            if exists:
                row = conn.execute("SELECT value FROM durable_meta WHERE key='schema_version'").fetchone()
                version = int(row[0]) if row else 0
            elif conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema=%s LIMIT 1", (self.schema,)
            ).fetchone():
                raise StoreError(
                    f"schema {self.schema!r} at {_where(self.conninfo)} holds other tables, not a durable store; "
                    "choose another with ?schema=name"
                )
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the durable schema {self.schema!r} at {_where(self.conninfo)} is at version {version}, "
                    f"newer than this code's version {SCHEMA_VERSION}: upgrade durable"
                )
            for step in range(version + 1, SCHEMA_VERSION + 1):
                conn.execute(_MIGRATIONS[step])
                conn.execute(
                    "INSERT INTO durable_meta(key, value) VALUES ('schema_version', %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(step),),
                )

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        with self.pool.connection() as conn:
            yield conn

    def _lost(self, error: Exception) -> bool:
        """A dropped connection, a server restart, a pool with no connection to give, a rolled-back conflict."""
        return isinstance(error, (self._psycopg.OperationalError, self._psycopg.InterfaceError))

    def _again(self, error: Exception, started: float, delay: float) -> float:
        """Wait before the next attempt, or give up with one line once RECONNECT_SECONDS have passed.

        The first attempts follow at once: after a drop, the pool's idle
        connections are dead too, and each is found out by one failed statement.
        """
        if time.monotonic() - started > RECONNECT_SECONDS:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            where = _where(self.conninfo)
            raise StoreError(f"lost PostgreSQL at {where} for {RECONNECT_SECONDS:g} s: {reason}") from None
        logger.warning("PostgreSQL connection lost ({}); trying again", type(error).__name__)
        if delay > QUICK_RETRY:
            time.sleep(delay)
        return min(delay * 2, 1.0)

    def _write(self, work: Callable[[Any], _T]) -> _T:
        """Run `work` in one transaction, again on a fresh connection if the connection is lost.

        A transaction whose COMMIT was sent when the connection dropped may or
        may not have committed: its id, read first, tells (`txid_status`), so a
        batch is applied exactly once, never half and never twice.
        """
        started, delay = time.monotonic(), FIRST_RETRY
        while True:
            txid: int | None = None
            done = False
            outcome: Any = None
            try:
                with self._connection() as conn, conn.transaction():
                    txid = conn.execute("SELECT txid_current()").fetchone()[0]
                    outcome = work(conn)
                    done = True
                return cast(_T, outcome)
            except Exception as error:
                if not self._lost(error):
                    raise
                if done and txid is not None and self._committed(txid, started):
                    return cast(_T, outcome)
                delay = self._again(error, started, delay)

    def _committed(self, txid: int, started: float) -> bool:
        delay = FIRST_RETRY
        while True:
            try:
                with self._connection() as conn:
                    status = conn.execute("SELECT txid_status(%s)", (txid,)).fetchone()[0]
                if status != "in progress":
                    return bool(status == "committed")
            except Exception as error:
                if not self._lost(error):
                    raise
                delay = self._again(error, started, delay)
                continue
            time.sleep(0.01)

    # ----- reads

    @_retrying
    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        if _holds_nul(execution_id):
            return None
        with self._connection() as conn:
            row = conn.execute(
                f"SELECT {_EXEC_COLUMNS} FROM executions WHERE execution_id=%s", (execution_id,)
            ).fetchone()
        return _record(row) if row else None

    @_retrying
    def list_executions(self, status: ExecutionStatus | None = None, limit: int = 100) -> list[ExecutionRecord]:
        with self._connection() as conn:
            if status is None:
                rows = conn.execute(
                    f"SELECT {_EXEC_COLUMNS} FROM executions ORDER BY created DESC LIMIT %s", (limit,)
                ).fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {_EXEC_COLUMNS} FROM executions WHERE status=%s ORDER BY created DESC LIMIT %s",
                    (status.value, limit),
                ).fetchall()
        return [_record(row) for row in rows]

    @_retrying
    def page_executions(self, query: ExecutionQuery) -> list[ExecutionRecord]:
        """Keyset paging, newest first, answered from the (created, execution_id) indexes."""
        if _holds_nul(query.function_name, query.name_prefix, query.before[1] if query.before else None):
            return []
        where: list[str] = []
        params: list[Any] = []
        if query.status is not None:
            where.append("status = %s")
            params.append(query.status.value)
        if query.function_name is not None:
            where.append("function_name = %s")
            params.append(query.function_name)
        if query.name_prefix is not None:
            where.append("name LIKE %s")
            params.append(query.name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        if query.before is not None:
            where.append("(created, execution_id) < (%s, %s)")
            params += list(query.before)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {_EXEC_COLUMNS} FROM executions {clause}ORDER BY created DESC, execution_id DESC LIMIT %s",
                (*params, query.limit),
            ).fetchall()
        return [_record(row) for row in rows]

    @_retrying
    def load_operations(self, execution_id: str) -> list[OperationRecord]:
        if _holds_nul(execution_id):
            return []
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT operation_id, body FROM operations WHERE execution_id=%s ORDER BY seq", (execution_id,)
            ).fetchall()
        return [operation_from_json(op_id, body) for op_id, body in rows]

    @_retrying
    def get_operation(self, execution_id: str, operation_id: str) -> OperationRecord | None:
        if _holds_nul(execution_id, operation_id):
            return None
        with self._connection() as conn:
            row = conn.execute(
                "SELECT body FROM operations WHERE execution_id=%s AND operation_id=%s", (execution_id, operation_id)
            ).fetchone()
        return operation_from_json(operation_id, row[0]) if row else None

    @_retrying
    def history(self, execution_id: str) -> list[dict[str, Any]]:
        if _holds_nul(execution_id):
            return []
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT body FROM events WHERE execution_id=%s ORDER BY event_id", (execution_id,)
            ).fetchall()
        return [json.loads(body) for (body,) in rows]

    @_retrying
    def stored_alarms(self) -> list[tuple[str, float]]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT execution_id, alarm FROM executions WHERE status='RUNNING' AND alarm IS NOT NULL"
            ).fetchall()
        return [(eid, due) for eid, due in rows]

    @_retrying
    def ended_children_of_running_callers(self) -> list[ExecutionRecord]:
        columns = ", ".join(f"c.{name.strip()}" for name in _EXEC_COLUMNS.split(","))
        with self._connection() as conn:
            rows = conn.execute(
                f"SELECT {columns} FROM executions c JOIN executions p ON p.execution_id = c.parent_execution_id "
                "WHERE c.parent_execution_id IS NOT NULL AND c.status != 'RUNNING' AND p.status = 'RUNNING'"
            ).fetchall()
        return [_record(row) for row in rows]

    @_retrying
    def open_invocations(self) -> list[str]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT execution_id FROM executions WHERE invocation_open AND status='RUNNING'"
            ).fetchall()
        return [eid for (eid,) in rows]

    @_retrying
    def get_meta(self, key: str) -> str | None:
        with self._connection() as conn:
            row = conn.execute("SELECT value FROM durable_meta WHERE key=%s", (f"engine:{key}",)).fetchone()
        return row[0] if row else None

    @_retrying
    def put_meta(self, key: str, value: str) -> None:
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO durable_meta(key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (f"engine:{key}", value),
            )

    @_retrying
    def stored_signing_key(self) -> bytes:
        """One key for every engine on this database (a callback id minted by one is accepted by all)."""
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO durable_meta(key, value) VALUES ('callback_signing_key', %s) ON CONFLICT DO NOTHING",
                (secrets.token_hex(KEY_BYTES),),
            )
            row = conn.execute("SELECT value FROM durable_meta WHERE key = 'callback_signing_key'").fetchone()
        return bytes.fromhex(row[0])

    # ----- writes

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
        parent_execution_id, parent_operation_id = parent or (None, None)
        member = self.member

        def work(conn: Any) -> tuple[ExecutionRecord, bool]:
            inserted = conn.execute(
                "INSERT INTO executions(execution_id, function_name, name, status, input, created, deadline, "
                "next_event_id, parent_execution_id, parent_operation_id, tenant_id, owner, wake) "
                "SELECT %s,%s,%s,'RUNNING',%s,%s,%s,2,%s,%s,%s, holder, holder IS NULL FROM (SELECT "
                f"(SELECT engine_id FROM durable_engines WHERE engine_id=%s AND epoch=%s AND {_LIVE}) AS holder) h "
                "ON CONFLICT DO NOTHING RETURNING execution_id, owner",
                (
                    execution_id,
                    function_name,
                    name,
                    input,
                    now,
                    deadline,
                    parent_execution_id,
                    parent_operation_id,
                    tenant_id,
                    member.engine_id if member else None,
                    member.epoch if member else None,
                ),
            ).fetchone()
            if inserted is None:
                row = conn.execute(
                    f"SELECT {_EXEC_COLUMNS} FROM executions WHERE execution_id=%s OR (name IS NOT NULL AND name=%s) "
                    "LIMIT 1",
                    (execution_id, name),
                ).fetchone()
                if row is None:
                    raise StoreError(f"execution {execution_id} could not be created or found")
                return _record(row), False
            conn.execute(
                "INSERT INTO events(execution_id, event_id, body) VALUES (%s,1,%s)",
                (execution_id, json.dumps(start_event.to_dict(1))),
            )
            if inserted[1] is None:
                conn.execute("SELECT pg_notify(%s, %s)", (self.channel, execution_id))
            row = conn.execute(
                f"SELECT {_EXEC_COLUMNS} FROM executions WHERE execution_id=%s", (execution_id,)
            ).fetchone()
            return _record(row), True

        return self._write(work)

    @_retrying
    def begin_invocation(self, execution_id: str, now: float) -> CommitResult:
        """Open an invocation: as a member, on an execution this engine owns or no engine holds.

        Readiness is not checked here: an invocation that finds nothing to do
        replays and suspends again, and the engine's own re-runs (after a crash,
        a timeout) have no due time to show.  One statement, so no transaction
        around it: the opening is one round trip.
        """
        member = self.member
        if member is None:
            return CommitResult(False, "only a member engine runs invocations on a shared store")
        with self._connection() as conn:
            row = conn.execute(
                "UPDATE executions SET token=token+1, invocations=invocations+1, invocation_open=TRUE, "
                "wake=FALSE, owner=%s WHERE execution_id=%s AND status='RUNNING' "
                "AND (owner=%s OR (owner IS NULL AND NOT invocation_open)) "
                f"AND EXISTS (SELECT 1 FROM durable_engines WHERE engine_id=%s AND epoch=%s AND {_LIVE}) "
                "RETURNING token, next_event_id",
                (member.engine_id, execution_id, member.engine_id, member.engine_id, member.epoch),
            ).fetchone()
            if row is None:
                conn.execute(
                    "UPDATE executions SET owner=NULL WHERE execution_id=%s AND owner=%s AND NOT invocation_open",
                    (execution_id, member.engine_id),
                )
            if row is not None:
                self._fences[execution_id] = (row[0], row[1])
                return CommitResult(True, token=row[0])
            found = conn.execute("SELECT status FROM executions WHERE execution_id=%s", (execution_id,)).fetchone()
        if found is None:
            return CommitResult(False, "unknown execution")
        if found[0] != "RUNNING":
            return CommitResult(False, "execution is not running")
        return CommitResult(False, "execution is held by another engine")

    def commit(self, batch: list[WriteSet]) -> list[CommitResult]:
        """A batch of writes, each execution's all or nothing; a lost lease refuses every write an invocation made.

        Plain checkpoints (operations and events of executions whose token and
        event count this member knows from its last commit there) go out as
        one statement, one round trip, however many executions they span: the
        fence, the lease and the event numbering are its WHERE clause.  Anything
        else, or a guess that no longer holds, takes the transaction of
        `_full_commit`.  A commit acknowledged after this engine's lease ran out
        is answered as refused unless a renewal confirms the lease: what it
        wrote stands, but its invocation must not go on.
        """
        wrote_as = self.member
        by_execution: dict[str, list[int]] = {}
        for position, ws in enumerate(batch):
            by_execution.setdefault(ws.execution_id, []).append(position)
        forms = {
            execution_id: self._quick_form([batch[p] for p in positions])
            for execution_id, positions in by_execution.items()
        }
        results: list[CommitResult | None] = [None] * len(batch)
        quick = [form for form in forms.values() if form is not None]
        if quick and len(quick) == len(forms):
            applied = self._quick_commit(quick)
            for form in quick:
                if form.execution_id in applied:
                    for position in by_execution[form.execution_id]:
                        results[position] = CommitResult(True, token=form.token)
                else:
                    forms[form.execution_id] = None  # the fence this member remembered is stale: the long way
        rest = {
            execution_id: positions for execution_id, positions in by_execution.items() if results[positions[0]] is None
        }
        if rest:
            self._full_commit(batch, rest, forms, results)
        done = [result for result in results if result is not None]
        if any(result.ok for result in done) and not self.lease_confirmed(wrote_as):
            lapsed = CommitResult(False, "this engine's lease ran out while the write was in flight")
            return [lapsed] * len(batch)
        return done

    def _full_commit(
        self,
        batch: list[WriteSet],
        by_execution: dict[str, list[int]],
        forms: dict[str, _QuickCheckpoint | None],
        results: list[CommitResult | None],
    ) -> None:
        """One transaction for the executions of `by_execution`, their results set in `results`: each plain
        checkpoint as its one statement, the rest the long way."""
        member = self.member

        def work(conn: Any) -> None:
            fences.clear()
            shapes = self._prepared.setdefault(conn, set())
            slow = []
            for execution_id in sorted(by_execution):
                positions = by_execution[execution_id]
                form = forms[execution_id]
                if form is not None and int(
                    _run_prepared(self._psycopg, conn.pgconn, shapes, *form.alone()).get_value(0, 0)
                ):
                    fences[execution_id] = (form.token, form.next_event_id)
                    for position in positions:
                        results[position] = CommitResult(True, token=form.token)
                else:
                    slow.append(execution_id)
            if slow:
                leased = member is not None and bool(conn.execute(
                    f"SELECT EXISTS (SELECT 1 FROM durable_engines WHERE engine_id=%s AND epoch=%s AND {_LIVE})",
                    (member.engine_id, member.epoch),
                ).fetchone()[0])
                rows = conn.execute(
                    f"SELECT {_FENCE_COLUMNS} FROM executions WHERE execution_id = ANY(%s) ORDER BY execution_id "
                    "FOR UPDATE",
                    (slow,),
                ).fetchall()
                found = {row[0]: row[1:] for row in rows}
                for execution_id in slow:
                    positions = by_execution[execution_id]
                    group = [batch[p] for p in positions]
                    applied = self._apply(conn, execution_id, group, leased, found.get(execution_id), fences)
                    for position, result in zip(positions, applied, strict=True):
                        results[position] = result

        fences: dict[str, tuple[int, int]] = {}
        self._write(work)
        if member is not None:
            self._fences.update(fences)

    def _quick_form(self, group: list[WriteSet]) -> _QuickCheckpoint | None:
        """One execution's writes as a plain checkpoint, or None when they need the long way."""
        member = self.member
        if member is None or not group:
            return None
        execution_id, token = group[0].execution_id, group[0].token
        known = self._fences.get(execution_id)
        if token is None or known is None or known[0] != token:
            return None
        operations: dict[str, str] = {}
        bodies: list[str] = []
        first = known[1]
        for ws in group:
            if ws.execution_id != execution_id or ws.token != token or ws.expect_open or ws.execution is not None:
                return None
            if ws.alarm is not UNCHANGED:
                return None
            for op in ws.operations:
                if op.operation_type in OUTSIDE_CLOSED and op.status.is_terminal:
                    return None
                operations[op.operation_id] = operation_to_json(op)
            bodies.extend(event_to_json(event, first + len(bodies)) for event in ws.events)
        if len(operations) > QUICK_LIMIT or len(bodies) > QUICK_LIMIT:
            return None
        return _QuickCheckpoint(member.engine_id, member.epoch, execution_id, token, first, operations, bodies)

    def _quick_commit(self, forms: list[_QuickCheckpoint]) -> set[str]:
        """Plain checkpoints as one statement (one execution's shape of its own, or the group statement);
        the executions whose fence held.  After a lost connection, what landed is read back: the statement
        committed whole or not at all, and an execution whose checkpoint is not found takes the long way."""
        started, delay = time.monotonic(), FIRST_RETRY
        while True:
            try:
                if len(forms) == 1:
                    wrote = int(self._line.run(*forms[0].alone()).get_value(0, 0))
                    applied = {forms[0].execution_id} if wrote else set()
                else:
                    result = self._line.run(GROUP_COMMIT_SHAPE, GROUP_COMMIT_SQL, _group_values(forms))
                    applied = {result.get_value(row, 0).decode() for row in range(result.ntuples)}
                break
            except Exception as error:
                if not self._lost(error):
                    raise
                landed = [self._landed(form) for form in forms]
                if None not in landed:
                    applied = {form.execution_id for form, found in zip(forms, landed, strict=True) if found}
                    break
                delay = self._again(error, started, delay)
        for form in forms:
            if form.execution_id in applied:
                self._fences[form.execution_id] = (form.token, form.next_event_id)
        return applied

    def _landed(self, form: _QuickCheckpoint) -> bool | None:
        """After a lost connection: did the single-statement checkpoint commit?  None: cannot tell yet."""
        try:
            with self._connection() as conn:
                if form.events:
                    row = conn.execute(
                        "SELECT body FROM events WHERE execution_id=%s AND event_id=%s",
                        (form.execution_id, form.next_event_id - 1),
                    ).fetchone()
                    return row is not None and bool(row[0] == form.events[-1])
                stored = dict(conn.execute(
                    "SELECT operation_id, body FROM operations WHERE execution_id=%s AND operation_id = ANY(%s)",
                    (form.execution_id, list(form.operations)),
                ).fetchall())
                return stored == form.operations
        except Exception as error:
            if not self._lost(error):
                raise
            return None

    def _apply(
        self,
        conn: Any,
        execution_id: str,
        group: list[WriteSet],
        leased: bool,
        row: tuple[Any, ...] | None,
        fences: dict[str, tuple[int, int]] | None = None,
    ) -> list[CommitResult]:
        """Apply one execution's writes; `row`: its fence columns, read `FOR UPDATE` in this transaction."""
        if row is None:
            return [CommitResult(False, "unknown execution")] * len(group)
        state = FenceState(row[0], row[1], row[2])
        member = self.member
        results: list[CommitResult] = []
        operations: dict[str, OperationRecord] = {}
        events: list[tuple[str, int, str]] = []
        columns: dict[str, Any] = {}
        alarm: Any = UNCHANGED
        woken = False
        owner = row[3]

        def current(operation_id: str) -> OperationRecord | None:
            if operation_id in operations:
                return operations[operation_id]
            found = conn.execute(
                "SELECT body FROM operations WHERE execution_id=%s AND operation_id=%s", (execution_id, operation_id)
            ).fetchone()
            return operation_from_json(operation_id, found[0]) if found else None

        for original in group:
            if original.token is not None and member is not None and (not leased or row[3] != member.engine_id):
                results.append(CommitResult(False, f"lease lost: engine {member.engine_id} no longer owns it"))
                continue
            first_event_id = state.next_event_id
            ws, result = admit(state, original, current)
            results.append(result)
            if not result.ok:
                continue
            if ws.token is None and any(op.status.is_terminal for op in ws.operations):
                if owner is None and member is not None and leased:
                    owner = columns["owner"] = member.engine_id
                elif member is None or owner != member.engine_id:
                    woken = True
            for op in ws.operations:
                operations[op.operation_id] = op
            events.extend(
                (execution_id, first_event_id + i, event_to_json(event, first_event_id + i))
                for i, event in enumerate(ws.events)
            )
            columns.update(execution_columns(ws))
            if ws.alarm is not UNCHANGED:
                alarm = ws.alarm
        if not any(r.ok for r in results):
            return results
        # one statement each, never an executemany: its pipeline leaves the session mid-pipeline between
        # statements, where the server's idle-in-transaction timeout does not run, so a client cut off
        # there (a partition) would hold these rows' locks until TCP gave up, and no engine could take over
        if operations:
            conn.execute(
                "INSERT INTO operations(execution_id, operation_id, body) "
                "SELECT %s, v.id, v.body FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS v(id, body, n) "
                "ORDER BY v.n ON CONFLICT (execution_id, operation_id) DO UPDATE SET body = excluded.body",
                (execution_id, list(operations), [operation_to_json(op) for op in operations.values()]),
            )
        if events:
            conn.execute(
                "INSERT INTO events(execution_id, event_id, body) "
                "SELECT %s, v.id, v.body FROM unnest(%s::bigint[], %s::text[]) WITH ORDINALITY AS v(id, body, n) "
                "ORDER BY v.n",
                (execution_id, [event_id for _, event_id, _ in events], [body for _, _, body in events]),
            )
        columns.update(next_event_id=state.next_event_id, token=state.token, status=state.status)
        if columns.get("invocation_open") is False:
            columns["owner"] = None
        if alarm is not UNCHANGED:
            columns["alarm"] = alarm
        running = state.status == ExecutionStatus.RUNNING.value
        if woken and running:
            columns["wake"] = True
        assignments = ", ".join(f"{name}=%s" for name in columns)
        bump = ", alarm_version = alarm_version + 1" if alarm is not UNCHANGED else ""
        conn.execute(
            f"UPDATE executions SET {assignments}{bump} WHERE execution_id=%s", (*columns.values(), execution_id)
        )
        if woken and running:
            conn.execute("SELECT pg_notify(%s, %s)", (self.channel, execution_id))
        if fences is not None and running and owner == (member.engine_id if member else None):
            fences[execution_id] = (state.token, state.next_event_id)
        return results

    # ----- membership: leases, claims, takeover

    @_retrying
    def join(self, lease_seconds: float) -> Membership:
        """Register this process as a live member with a fresh lease."""
        engine_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        sent = time.monotonic()
        with self._connection() as conn:
            conn.execute(
                "INSERT INTO durable_engines(engine_id, epoch, host, pid, state, expires) "
                "VALUES (%s, 1, %s, %s, 'live', clock_timestamp() + make_interval(secs => %s))",
                (engine_id, socket.gethostname(), os.getpid(), lease_seconds),
            )
        self.member = Membership(engine_id, 1, lease_seconds, sent + lease_seconds)
        return self.member

    @_retrying
    def rejoin(self, lease_seconds: float) -> Membership:
        """After a lost lease: live again under a new epoch (what the old epoch wrote stays refused)."""
        assert self.member is not None
        sent = time.monotonic()
        with self._connection() as conn:
            row = conn.execute(
                "UPDATE durable_engines SET epoch = epoch + 1, state = 'live', heartbeat = clock_timestamp(), "
                "expires = clock_timestamp() + make_interval(secs => %s) WHERE engine_id=%s RETURNING epoch",
                (lease_seconds, self.member.engine_id),
            ).fetchone()
        if row is None:
            return self.join(lease_seconds)
        self.member = Membership(self.member.engine_id, row[0], lease_seconds, sent + lease_seconds)
        return self.member

    @_retrying
    def heartbeat(self, lease_seconds: float) -> bool:
        """Renew the lease; False once it is lost (expired and taken, or this member was declared dead)."""
        member = self.member
        if member is None:
            return False
        sent = time.monotonic()
        with self._connection() as conn:
            row = conn.execute(
                "UPDATE durable_engines SET heartbeat = clock_timestamp(), "
                "expires = clock_timestamp() + make_interval(secs => %s) "
                f"WHERE engine_id=%s AND epoch=%s AND {_LIVE} RETURNING 1",
                (lease_seconds, member.engine_id, member.epoch),
            ).fetchone()
        if row is not None and self.member is member:
            self.member = attrs.evolve(member, lease_seconds=lease_seconds, held_until=sent + lease_seconds)
        return row is not None

    def lease_confirmed(self, wrote_as: Membership | None) -> bool:
        """Whether this engine still holds the lease `wrote_as` (the membership a write was made under):
        known from the last renewal, or confirmed by one now.

        A commit that lands while the lease holds can be acknowledged after it
        ran out (a partition healing, a pause ending): by then another engine
        may have taken the execution over, and the handler must not go on to
        run user code that engine now runs.  A lease regained meanwhile under a
        new epoch does not count: the execution may be another engine's now.
        """
        if wrote_as is None:
            return True
        member = self.member
        if member is None or member.epoch != wrote_as.epoch:
            return False
        if time.monotonic() < member.held_until:
            return True
        return self.heartbeat(member.lease_seconds) and self.member is not None and (
            self.member.epoch == wrote_as.epoch
        )

    @_retrying
    def reap_dead_members(self, now: float) -> list[str]:
        """Declare members past their lease dead, close their open invocations and free their executions.

        Returns the executions handed on (ready for any member to claim).
        """
        with self._connection() as conn, conn.transaction():
            dead = [
                engine_id
                for (engine_id,) in conn.execute(
                    "UPDATE durable_engines SET state = 'dead', epoch = epoch + 1 "
                    "WHERE state = 'live' AND expires < clock_timestamp() RETURNING engine_id"
                ).fetchall()
            ]
            freed = self._hand_on(conn, dead, now) if dead else []
        return freed

    @_retrying
    def leave(self, now: float) -> list[str]:
        """Graceful shutdown: end this member's lease at once and hand its executions on."""
        member = self.member
        if member is None:
            return []
        with self._connection() as conn, conn.transaction():
            conn.execute(
                "UPDATE durable_engines SET state = 'gone', epoch = epoch + 1, expires = clock_timestamp() "
                "WHERE engine_id=%s",
                (member.engine_id,),
            )
            freed = self._hand_on(conn, [member.engine_id], now)
        self.member = None
        return freed

    def _hand_on(self, conn: Any, engines: list[str], now: float) -> list[str]:
        rows = conn.execute(
            "SELECT execution_id, invocation_open FROM executions WHERE owner = ANY(%s) ORDER BY execution_id "
            "FOR UPDATE",
            (engines,),
        ).fetchall()
        error = ErrorObject("the engine running the invocation stopped or lost its lease", "Runtime.ExitError")
        for execution_id, open_ in rows:
            if open_:
                fence = conn.execute(
                    f"SELECT {_FENCE_COLUMNS} FROM executions WHERE execution_id=%s", (execution_id,)
                ).fetchone()
                self._apply(conn, execution_id, [close_invocation(execution_id, None, now, error)], True, fence[1:])
        freed = [eid for eid, _ in rows]
        conn.execute("UPDATE executions SET owner = NULL, wake = TRUE WHERE execution_id = ANY(%s)", (freed,))
        for execution_id in freed:
            conn.execute("SELECT pg_notify(%s, %s)", (self.channel, execution_id))
        return freed

    def claim_ready(self, functions: list[str], now: float, limit: int) -> Claimed:
        """Take up to `limit` ready executions of `functions` that no live member holds: woken first, then due."""
        member = self.member
        if member is None or limit <= 0 or not functions:
            return Claimed((), ())

        def take(conn: Any, readiness: str, order: str, room: int) -> tuple[str, ...]:
            if room <= 0:
                return ()
            rows = conn.execute(
                "UPDATE executions SET owner = %(me)s WHERE execution_id IN ("
                "SELECT execution_id FROM executions WHERE status = 'RUNNING' AND NOT invocation_open "
                f"AND owner IS NULL AND {readiness} AND function_name = ANY(%(functions)s) "
                f"ORDER BY {order} LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
                f"AND EXISTS (SELECT 1 FROM durable_engines WHERE engine_id = %(me)s AND epoch = %(epoch)s "
                f"AND {_LIVE}) RETURNING execution_id",
                {"me": member.engine_id, "epoch": member.epoch, "now": now, "functions": functions, "limit": room},
            ).fetchall()
            return tuple(eid for (eid,) in rows)

        def work(conn: Any) -> Claimed:
            woken = take(conn, "wake", "created", limit)
            return Claimed(woken, take(conn, "alarm <= %(now)s", "alarm", limit - len(woken)))

        return self._write(work)

    @_retrying
    def release(self, execution_ids: list[str], wake: bool) -> None:
        """Let go of executions this member holds but will not run now; `wake`: another member should."""
        member = self.member
        if member is None or not execution_ids:
            return
        with self._connection() as conn, conn.transaction():
            released = conn.execute(
                "UPDATE executions SET owner = NULL, wake = wake OR %s "
                "WHERE execution_id = ANY(%s) AND owner = %s AND NOT invocation_open RETURNING execution_id",
                (wake, execution_ids, member.engine_id),
            ).fetchall()
            if wake:
                for (execution_id,) in released:
                    conn.execute("SELECT pg_notify(%s, %s)", (self.channel, execution_id))

    @_retrying
    def engines(self) -> list[dict[str, Any]]:
        """Every member that ever joined, newest first, with its lease as the database sees it now."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT e.engine_id, e.epoch, e.host, e.pid, e.state, "
                "extract(epoch FROM e.started), extract(epoch FROM e.heartbeat), "
                "extract(epoch FROM e.expires - clock_timestamp()), e.expires > clock_timestamp(), "
                "(SELECT count(*) FROM executions x WHERE x.owner = e.engine_id) "
                "FROM durable_engines e ORDER BY e.started DESC"
            ).fetchall()
        return [
            {
                "engine_id": engine_id,
                "epoch": epoch,
                "host": host,
                "pid": pid,
                "state": state if state != "live" or alive else "expired",
                "started": float(started),
                "heartbeat": float(heartbeat),
                "lease_left_s": round(float(left), 3),
                "owns": owns,
            }
            for engine_id, epoch, host, pid, state, started, heartbeat, left, alive, owns in rows
        ]

    def listen(self) -> Any:
        """A dedicated autocommit connection LISTENing on this schema's wake channel."""
        conn = self._psycopg.connect(self.conninfo, autocommit=True, application_name=self.application)
        conn.execute(f"LISTEN {self.channel}")
        return conn

    def close(self) -> None:
        self._line.close()
        self.pool.close()



def _record(row: tuple[Any, ...]) -> ExecutionRecord:
    (
        eid,
        function_name,
        name,
        status,
        input_,
        result,
        error,
        created,
        ended,
        token,
        invocations,
        open_,
        deadline,
        parent_execution_id,
        parent_operation_id,
        tenant_id,
        alarm,
    ) = row
    return ExecutionRecord(
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
        alarm=alarm if status == "RUNNING" else None,
        parent_execution_id=parent_execution_id,
        parent_operation_id=parent_operation_id,
        tenant_id=tenant_id,
    )
