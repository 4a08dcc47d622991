"""PostgreSQL: its schema's version, bad URLs, and the leases that let many engines share one database."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from durable import DurableContext, durable_execution
from durable.core.history import HistoryEvent
from durable.core.records import OperationRecord, OperationStatus, OperationType
from durable.engine import Engine
from durable.stores import open_store
from durable.stores.base import ExecutionQuery, ExecutionStatus, StoreError, WriteSet
from durable.stores.postgresql import SCHEMA_VERSION, PostgreSQLStore, split_url
from tests.conftest import PG_SERVER, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def pg(pg_url: str) -> Iterator[PostgreSQLStore]:
    store = PostgreSQLStore(pg_url)
    yield store
    store.close()


def _create(store: PostgreSQLStore, execution_id: str, function: str = "fn") -> None:
    store.create_execution(execution_id, function, None, None, None, time.time(), HistoryEvent("ExecutionStarted", 1))


def _started(operation_id: str) -> HistoryEvent:
    return HistoryEvent("StepStarted", time.time(), operation_id=operation_id)


def _step(operation_id: str) -> OperationRecord:
    return OperationRecord(operation_id, OperationType.STEP, OperationStatus.STARTED)


def test_a_schema_newer_than_the_code_is_refused_with_both_versions(pg: PostgreSQLStore, pg_url: str) -> None:
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f"UPDATE {pg.schema}.durable_meta SET value = %s WHERE key = 'schema_version'",
                     (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError) as refused:
        PostgreSQLStore(pg_url)
    assert f"version {SCHEMA_VERSION + 1}" in str(refused.value)
    assert f"this code's version {SCHEMA_VERSION}" in str(refused.value)


def test_a_schema_holding_other_tables_is_refused(pg_url: str) -> None:
    schema = split_url(pg_url).schema
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(f"CREATE TABLE {schema}.invoices (id int)")
    with pytest.raises(StoreError, match="not a durable store"):
        PostgreSQLStore(pg_url)


def test_the_url_sets_synchronous_commit_for_the_stores_sessions_and_keeps_other_parameters(pg_url: str) -> None:
    store = PostgreSQLStore(f"{pg_url}&synchronous_commit=off&application_name=billing%3Dnightly")
    try:
        with store._connection() as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone()[0] == "off"
            assert conn.execute("SHOW search_path").fetchone()[0] == store.schema
    finally:
        store.close()
    location = split_url(f"{pg_url}&application_name=billing%3Dnightly&options=-c%20work_mem%3D8MB")
    assert "application_name=billing%3Dnightly" in location.conninfo
    assert location.options == "-c work_mem=8MB"
    with pytest.raises(StoreError, match="invalid synchronous_commit 'sometimes'"):
        split_url(f"{pg_url}&synchronous_commit=sometimes")


def test_bad_urls_give_one_line_naming_the_host_and_reason() -> None:
    with pytest.raises(StoreError) as unreachable:
        open_store("postgresql://nobody@127.0.0.1:1/nothing")
    assert "cannot reach PostgreSQL at 127.0.0.1:1/nothing" in str(unreachable.value)
    assert "\n" not in str(unreachable.value)
    with pytest.raises(StoreError, match="invalid schema name"):
        open_store(f"{PG_SERVER}?schema=Robert');DROP")


def test_a_connect_timeout_that_is_not_a_number_is_refused_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError, match="invalid connect_timeout 'abc': a whole number of seconds"):
        open_store(f"{PG_SERVER}?connect_timeout=abc")
    assert time.monotonic() - started < 5


def test_ids_and_names_holding_nul_find_nothing_instead_of_failing(pg: PostgreSQLStore) -> None:
    _create(pg, "e-1")
    assert pg.get_execution("e\x001") is None
    assert pg.history("e\x001") == [] and pg.load_operations("e\x001") == []
    assert pg.get_operation("e-1", "1\x00") is None
    assert pg.page_executions(ExecutionQuery(function_name="f\x00n")) == []
    assert pg.page_executions(ExecutionQuery(name_prefix="\x00")) == []
    assert pg.page_executions(ExecutionQuery(before=(time.time() + 60, "e\x00"))) == []
    assert [r.execution_id for r in pg.page_executions(ExecutionQuery())] == ["e-1"]


def test_the_cli_reports_an_unreachable_database_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "durable.cli", "--store", "postgresql://nobody@127.0.0.1:1/db", "list"],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot reach PostgreSQL at 127.0.0.1:1/db")
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_member_past_its_lease_is_fenced_and_its_work_handed_on(pg: PostgreSQLStore, pg_url: str) -> None:
    other = PostgreSQLStore(pg_url)
    try:
        late = pg.join(lease_seconds=0.3)
        other.join(lease_seconds=30)
        _create(pg, "e1")
        begun = pg.begin_invocation("e1", time.time())
        assert begun.ok
        assert not other.begin_invocation("e1", time.time()).ok, "one invocation at a time"
        wait_until(lambda: other.reap_dead_members(time.time()), what="the silent member to be declared dead")
        (refused,) = pg.commit([WriteSet("e1", begun.token, (_step("1"),))])
        assert not refused.ok and "lease lost" in refused.reason
        assert not pg.heartbeat(0.3), "a member declared dead cannot renew its old lease"
        assert other.claim_ready(["fn"], time.time(), 10).woken == ("e1",), "handed on: woken for the others"
        taken = other.begin_invocation("e1", time.time())
        assert taken.ok and taken.token == (begun.token or 0) + 2
        assert pg.rejoin(0.3).epoch > late.epoch
        (still_refused,) = pg.commit([WriteSet("e1", begun.token, (_step("1"),))])
        assert not still_refused.ok
        history = [e["EventType"] for e in other.history("e1")]
        assert history == ["ExecutionStarted", "InvocationCompleted"]
        assert other.history("e1")[-1]["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorType"] == (
            "Runtime.ExitError"
        )
    finally:
        other.close()


def test_group_commits_of_several_executions_land_every_time_on_whichever_connection(pg: PostgreSQLStore) -> None:
    """Each execution's checkpoint in a group is one prepared statement: the same shapes again, on the pool's
    connections and on the checkpoint line alike, are prepared once per connection and always land."""
    pg.join(lease_seconds=30)
    ids = ["g1", "g2", "g3"]
    tokens = {}
    for execution_id in ids:
        _create(pg, execution_id)
        tokens[execution_id] = pg.begin_invocation(execution_id, time.time()).token
    for round_ in range(24):
        group = ids[:1] if round_ % 4 == 0 else ids
        batch = [
            WriteSet(eid, tokens[eid], (_step(str(round_)),), (_started(str(round_)),))
            for eid in group
        ]
        assert all(result.ok for result in pg.commit(batch)), f"round {round_}"
    for execution_id in ids:
        expected = [str(r) for r in range(24) if execution_id == "g1" or r % 4]
        assert sorted(op.operation_id for op in pg.load_operations(execution_id)) == sorted(expected)
        started = [e["Id"] for e in pg.history(execution_id) if e["EventType"] == "StepStarted"]
        assert started == expected


def _begun(pg: PostgreSQLStore, ids: list[str]) -> dict[str, int | None]:
    tokens = {}
    for execution_id in ids:
        _create(pg, execution_id)
        tokens[execution_id] = pg.begin_invocation(execution_id, time.time()).token
    return tokens


def _numbered_in_order(pg: PostgreSQLStore, execution_id: str) -> bool:
    history = pg.history(execution_id)
    return [e["EventId"] for e in history] == list(range(1, len(history) + 1))


_SERIAL = iter(range(1_000_000))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.text(min_size=1, max_size=40).filter(lambda t: "\x00" not in t), min_size=2, max_size=6))
def test_a_group_commit_keeps_any_text_exactly(pg: PostgreSQLStore, texts: list[str]) -> None:
    """The group statement sends its rows as array literals it quotes itself: ids and names holding quotes,
    backslashes, braces, commas, NULL or any other character come back exactly as they went."""
    pg.join(lease_seconds=30)
    ids = [f"x{next(_SERIAL)}-{i}" for i in range(3)]
    tokens = _begun(pg, ids)
    for _ in range(2):  # the first commit of each execution learns its fence; the second is the group statement
        batch = [
            WriteSet(
                eid, tokens[eid],
                tuple(
                    OperationRecord(f"{eid}/{t}", OperationType.STEP, OperationStatus.STARTED, name=t) for t in texts
                ),
                tuple(HistoryEvent("StepStarted", time.time(), operation_id=f"{eid}/{t}", name=t) for t in texts),
            )
            for eid in ids
        ]
        assert all(result.ok for result in pg.commit(batch))
    for eid in ids:
        wanted = list(dict.fromkeys(f"{eid}/{t}" for t in texts))
        loaded = pg.load_operations(eid)
        assert [op.operation_id for op in loaded] == wanted, "in the order first written"
        assert [op.name for op in loaded] == [op_id.partition("/")[2] for op_id in wanted]
        assert [e.get("Name") for e in pg.history(eid)[1:]] == texts * 2
        assert _numbered_in_order(pg, eid)


def test_in_a_group_an_execution_whose_fence_is_stale_takes_the_long_way_and_the_rest_land_at_once(
    pg: PostgreSQLStore,
) -> None:
    pg.join(lease_seconds=30)
    ids = ["f1", "f2", "f3"]
    tokens = _begun(pg, ids)
    for round_ in range(3):
        if round_ == 2:
            token, next_event_id = pg._fences["f2"]
            pg._fences["f2"] = (token, next_event_id + 5)  # a guess that no longer holds
        batch = [WriteSet(eid, tokens[eid], (_step(str(round_)),), (_started(str(round_)),)) for eid in ids]
        assert all(result.ok for result in pg.commit(batch)), f"round {round_}"
    for eid in ids:
        assert [op.operation_id for op in pg.load_operations(eid)] == ["0", "1", "2"]
        assert _numbered_in_order(pg, eid) and len(pg.history(eid)) == 4


@pytest.mark.parametrize("lost", ["before it ran", "after it committed"])
def test_a_group_statement_whose_connection_drops_lands_exactly_once(
    pg: PostgreSQLStore, monkeypatch: pytest.MonkeyPatch, lost: str
) -> None:
    """Whether the dropped statement committed is read back: what landed is not written again, what did
    not is written the long way."""
    pg.join(lease_seconds=30)
    ids = ["d1", "d2", "d3"]
    tokens = _begun(pg, ids)

    def batch(round_: int) -> list[WriteSet]:
        return [WriteSet(eid, tokens[eid], (_step(str(round_)),), (_started(str(round_)),)) for eid in ids]

    assert all(result.ok for result in pg.commit(batch(0)))
    run = pg._line.run
    drops: list[bytes] = []

    def dropping(name: bytes, statement: bytes, values: list[bytes]) -> Any:
        if drops:
            return run(name, statement, values)
        drops.append(name)
        if lost == "after it committed":
            run(name, statement, values)
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(pg._line, "run", dropping)
    assert all(result.ok for result in pg.commit(batch(1)))
    assert drops == [b"durable_checkpoint_group"]
    assert all(result.ok for result in pg.commit(batch(2)))
    for eid in ids:
        assert [op.operation_id for op in pg.load_operations(eid)] == ["0", "1", "2"]
        assert _numbered_in_order(pg, eid) and len(pg.history(eid)) == 4


def test_a_write_that_raises_leaves_nothing_and_its_connection_clean(
    pg: PostgreSQLStore, caplog: pytest.LogCaptureFixture
) -> None:
    """What the work of a transaction wrote before raising is rolled back, and the pool gets an idle
    connection."""

    def half(conn: Any) -> None:
        conn.execute("INSERT INTO durable_meta(key, value) VALUES ('half', 'written')")
        raise ValueError("the work gave up")

    for _ in range(pg.pool.max_size + 1):  # more times than there are connections: each came back usable
        with pytest.raises(ValueError, match="gave up"):
            pg._write(half)
    assert pg.get_meta("half") is None
    assert pg._write(lambda conn: conn.execute("SELECT txid_current()").fetchone()[0]) > 0
    with pg.pool.connection() as conn:
        assert conn.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert not [r for r in caplog.records if "rolling back" in r.getMessage()]


def test_a_commit_acknowledged_after_the_lease_was_lost_is_answered_refused(
    pg: PostgreSQLStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A partition that heals, or a pause that ends, after the write landed: what landed stands, but the
    handler that waits for the answer must not go on to run what the engine taking over now runs."""
    other = PostgreSQLStore(pg_url)
    try:
        pg.join(lease_seconds=0.3)
        other.join(lease_seconds=30)
        _create(pg, "e1")
        begun = pg.begin_invocation("e1", time.time())

        def then_the_lease_is_lost(original: Any) -> Any:
            def run(*args: Any) -> Any:
                landed = original(*args)
                wait_until(lambda: other.reap_dead_members(time.time()), what="the member to be declared dead")
                return landed

            return run

        monkeypatch.setattr(pg, "_quick_commit", then_the_lease_is_lost(pg._quick_commit))
        monkeypatch.setattr(pg, "_full_commit", then_the_lease_is_lost(pg._full_commit))
        (answer,) = pg.commit([WriteSet("e1", begun.token, (_step("1"),))])
        assert not answer.ok and "lease ran out" in answer.reason
        assert other.get_operation("e1", "1") is not None, "the write landed while the lease held"
    finally:
        other.close()


def test_a_commit_acknowledged_after_the_engine_rejoined_under_a_new_epoch_is_answered_refused(
    pg: PostgreSQLStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine's lease was lost and regained while the write was in flight: the execution may be
    another engine's by now, so the fresh lease does not vouch for the write's invocation."""
    other = PostgreSQLStore(pg_url)
    try:
        pg.join(lease_seconds=0.3)
        other.join(lease_seconds=30)
        _create(pg, "e1")
        begun = pg.begin_invocation("e1", time.time())

        def then_lost_and_regained(original: Any) -> Any:
            def run(*args: Any) -> Any:
                landed = original(*args)
                wait_until(lambda: other.reap_dead_members(time.time()), what="the member to be declared dead")
                pg.rejoin(30)
                return landed

            return run

        monkeypatch.setattr(pg, "_quick_commit", then_lost_and_regained(pg._quick_commit))
        monkeypatch.setattr(pg, "_full_commit", then_lost_and_regained(pg._full_commit))
        (answer,) = pg.commit([WriteSet("e1", begun.token, (_step("1"),))])
        assert not answer.ok and "lease ran out" in answer.reason
    finally:
        other.close()


def test_members_claim_disjoint_batches(pg: PostgreSQLStore, pg_url: str) -> None:
    other = PostgreSQLStore(pg_url)
    try:
        for i in range(20):  # written by a process that runs nothing: ready for any member
            _create(pg, f"e{i:02}")
        _create(pg, "elsewhere", function="not-mine")
        pg.join(30)
        other.join(30)
        mine = pg.claim_ready(["fn"], time.time(), 8).all
        theirs = other.claim_ready(["fn"], time.time(), 100).all
        assert len(mine) == 8 and len(theirs) == 12 and not set(mine) & set(theirs)
        assert "elsewhere" not in mine + theirs
        assert not other.begin_invocation(mine[0], time.time()).ok, "claimed by a live member"
        pg.release(mine, wake=True)
        assert sorted(other.claim_ready(["fn"], time.time(), 100).all) == sorted(mine)
        assert [e["owns"] for e in other.engines()] == [20, 0]
    finally:
        other.close()


@durable_execution
def two_steps(event: Any, context: DurableContext) -> str:
    first = context.step(lambda _: f"{event}-a", name="a")
    return context.step(lambda _: f"{first}-b", name="b")


def test_an_engine_on_postgresql_runs_and_hands_on_at_shutdown(pg_url: str) -> None:
    with Engine(store=pg_url, functions=[two_steps]) as engine:
        eid = engine.start(two_steps, "x")
        record = engine.wait(eid, timeout=30)
        assert record.status is ExecutionStatus.SUCCEEDED and record.result == '"x-a-b"'
        engines = engine.store.engines()  # type: ignore[attr-defined]
        assert [e["state"] for e in engines] == ["live"]
    after = PostgreSQLStore(pg_url)
    try:
        assert [e["state"] for e in after.engines()] == ["gone"]
    finally:
        after.close()


STEP_RUNS: dict[str, int] = {}


@durable_execution
def counted_steps(count: int, context: DurableContext) -> int:
    def run(name: str) -> Any:
        def body(_: Any) -> str:
            STEP_RUNS[name] = STEP_RUNS.get(name, 0) + 1
            return name

        return body

    for i in range(count):
        context.step(run(f"s{i}"), name=f"s{i}")
    return count


def test_dropped_connections_mid_run_lose_and_repeat_nothing(pg_url: str) -> None:
    """The server ends every connection of the engine, again and again, while an execution runs."""
    STEP_RUNS.clear()
    steps = 3000
    with Engine(store=pg_url, functions=[counted_steps]) as engine:
        application = engine.store.application  # type: ignore[attr-defined]
        stop = threading.Event()
        terminated: list[int] = []

        def drop_connections() -> None:
            with psycopg.connect(PG_SERVER, autocommit=True) as admin:
                while not stop.is_set():
                    rows = admin.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                        (application,),
                    ).fetchall()
                    terminated.append(len(rows))
                    stop.wait(0.3)  # the chaos schedule, not a synchronisation

        dropper = threading.Thread(target=drop_connections, daemon=True)
        dropper.start()
        try:
            eid = engine.start(counted_steps, steps)
            record = engine.wait(eid, timeout=60)
        finally:
            stop.set()
            dropper.join(timeout=10)
        assert sum(terminated) >= 10, f"only {sum(terminated)} connections were dropped during the run"
        assert len([n for n in terminated if n]) >= 3, "connections were dropped at three moments at least"
        assert record.status is ExecutionStatus.SUCCEEDED and record.result == str(steps)
        history = engine.history(eid)
    assert [e["EventId"] for e in history] == list(range(1, len(history) + 1)), "no event written twice or lost"
    succeeded = [e["Name"] for e in history if e["EventType"] == "StepSucceeded"]
    assert sorted(succeeded) == sorted(f"s{i}" for i in range(steps))
    assert set(STEP_RUNS.values()) == {1} and len(STEP_RUNS) == steps, "every step ran exactly once"
