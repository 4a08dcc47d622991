"""isolation="process": handlers run in worker processes that can die without taking the engine along."""

from __future__ import annotations

import itertools
import json
import os
import signal
from pathlib import Path
from typing import Any, cast

import pytest

from durable import DurableContext, durable_execution
from durable.engine import Engine
from durable.exceptions import ValidationError
from durable.stores.base import ExecutionStatus
from durable.testing import DurableFunctionTestRunner
from examples import approval, invoke, map_limited, retries, timer_wave, wait
from tests.conftest import wait_until
from tests.workflows import exit_in_step, slow_step, system_exit_in_branch

pytestmark = pytest.mark.timeout(120)


def _pid(path: Path, other_than: int | None = None) -> int:
    def read() -> int | None:
        text = path.read_text() if path.exists() else ""
        return int(text) if text and int(text) != other_than else None

    return cast(int, wait_until(read, timeout=30, what="a worker process to write its pid"))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _invocation_errors(history: list[dict[str, Any]]) -> list[str]:
    return [
        e["InvocationCompletedDetails"]["Error"]["Payload"]["ErrorMessage"]
        for e in history
        if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
    ]


def test_a_worker_process_killed_mid_step_is_replaced_and_completed_steps_are_not_rerun(
    store_url: str, tmp_path: Path
) -> None:
    marks, release, pid_file = tmp_path / "marks", tmp_path / "release", tmp_path / "pid"
    event = {"marks": str(marks), "release": str(release), "pid_file": str(pid_file)}
    with Engine(store=store_url, isolation="process", workers=2) as engine:
        engine.register(slow_step)
        eid = engine.start("slow_step", event)
        first = _pid(pid_file)
        assert first != os.getpid()
        os.kill(first, signal.SIGKILL)
        second = _pid(pid_file, other_than=first)
        release.touch()
        record = engine.wait(eid, timeout=30)
        stats = engine.stats()
        errors = _invocation_errors(engine.history(eid))
    assert record.status is ExecutionStatus.SUCCEEDED and record.result == '"before/slow-done"'
    assert second != first and _gone(first)
    assert marks.read_text().splitlines() == ["before", "slow-started", "slow-started"]
    assert errors == ["the worker process running the invocation was killed by signal 9"]
    assert stats["replaced_processes"] == 1


def test_a_timed_out_invocation_kills_its_worker_process(store_url: str, tmp_path: Path) -> None:
    marks, release, pid_file = tmp_path / "marks", tmp_path / "release", tmp_path / "pid"
    event = {"marks": str(marks), "release": str(release), "pid_file": str(pid_file)}
    with Engine(store=store_url, isolation="process", workers=2) as engine:
        engine.register("slow_step", slow_step, invocation_timeout=1)
        eid = engine.start("slow_step", event)
        first = _pid(pid_file)
        wait_until(lambda: _gone(first), timeout=30, what="the fenced invocation's process to be killed")
        _pid(pid_file, other_than=first)
        release.touch()
        assert engine.wait(eid, timeout=30).status is ExecutionStatus.SUCCEEDED
        assert engine.stats()["fenced"] >= 1


@pytest.mark.parametrize(
    ("module", "payload", "expected"),
    [
        (map_limited, 6, {"squares": [0, 1, 4, 9, 16, 25], "completion": "ALL_COMPLETED"}),
        (timer_wave, {"branches": 20, "keep": 2}, {"succeeded": 21, "failed": 0}),
        (retries, {"fail_times": 1}, "answered on attempt 2"),
        (wait, 1, "started, then waited 1 s"),
        (invoke, {"sku": "chair", "quantity": 4}, {"total": 158.0, "receipt": "4 x chair: 158.0"}),
    ],
    ids=lambda value: getattr(value, "__name__", "-").rpartition(".")[2],
)
def test_the_examples_run_the_same_in_worker_processes(module: Any, payload: Any, expected: Any) -> None:
    functions = {"examples.invoke:price": invoke.price} if module is invoke else None
    with DurableFunctionTestRunner(module.handler, isolation="process", workers=2, functions=functions) as runner:
        result = runner.run(payload, timeout=60)
    assert json.loads(result.result or "null") == expected, result.error


def test_a_callback_is_minted_by_the_engine_and_completed_while_the_handler_runs_in_a_process() -> None:
    with DurableFunctionTestRunner(approval.handler, isolation="process", workers=2) as runner:
        arn = runner.run_async({"report": "R-17", "amount": 420})
        runner.send_callback_success(runner.wait_for_callback(arn, timeout=30), '{"approved": true, "by": "ana"}')
        result = runner.wait_for_result(arn, timeout=30)
    assert json.loads(result.result or "") == {"report": "R-17", "status": "approved", "by": "ana"}
    assert any("approve R-17 with:" in entry.message for entry in result.logs), "logs cross the process boundary"


def test_process_isolation_needs_a_handler_importable_by_module_and_name(store_url: str) -> None:
    @durable_execution
    def local(event: Any, context: DurableContext) -> str:
        return "never"

    with (
        Engine(store=store_url, isolation="process", workers=1) as engine,
        pytest.raises(ValidationError, match=r"'local' cannot run with isolation='process'.*top level"),
    ):
        engine.register(local)


def test_isolation_is_thread_or_process(store_url: str) -> None:
    with pytest.raises(ValidationError, match="isolation must be one of thread, process, got 'fiber'"):
        Engine(store=store_url, isolation="fiber")


def test_closing_the_engine_ends_a_worker_process_busy_in_a_step(store_url: str, tmp_path: Path) -> None:
    event = {"marks": str(tmp_path / "marks"), "release": str(tmp_path / "never"), "pid_file": str(tmp_path / "pid")}
    engine = Engine(store=store_url, isolation="process", workers=2)
    engine.register(slow_step)
    engine.start("slow_step", event)
    busy = _pid(tmp_path / "pid")
    engine.close()
    wait_until(lambda: _gone(busy), timeout=10, what="the busy worker process to end with the engine")


def test_system_exit_in_a_worker_process_branch_ends_the_invocation_as_crashed(store_url: str) -> None:
    with Engine(store=store_url, isolation="process", workers=2) as engine:
        engine.register(system_exit_in_branch, invocation_timeout=60)
        eid = engine.start("system_exit_in_branch", None)

        def crashes() -> list[dict[str, Any]] | None:
            found = [
                e["InvocationCompletedDetails"]["Error"] for e in engine.history(eid)
                if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
            ]
            return found if len(found) >= 2 else None

        found = cast(list[dict[str, Any]], wait_until(crashes, timeout=30, what="two crashed invocations"))
        engine.stop(eid)
    assert all("SystemExit: 3" in json.dumps(error) for error in found), found


def test_a_handler_that_keeps_crashing_its_process_is_rerun_with_backoff(store_url: str) -> None:
    with Engine(store=store_url, isolation="process", workers=2) as engine:
        engine.register(exit_in_step)
        eid = engine.start("exit_in_step", None)

        def crashes() -> list[dict[str, Any]] | None:
            found = [
                e["InvocationCompletedDetails"] for e in engine.history(eid)
                if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
            ]
            return found if len(found) >= 4 else None

        found = cast(list[dict[str, Any]], wait_until(crashes, timeout=60, what="four crashed invocations"))
        engine.stop(eid)
    gaps = [later["StartTimestamp"] - earlier["EndTimestamp"] for earlier, later in itertools.pairwise(found)]
    assert gaps[0] < 1.0, "the first crash is re-run at once"
    assert gaps[1] >= 1.0 and gaps[2] >= 2.0, f"repeated crashes back off: {gaps}"
    assert all("exited with status 3" in c["Error"]["Payload"]["ErrorMessage"] for c in found)


def test_a_handler_the_worker_process_cannot_load_is_recorded_and_retried_not_left_open(store_url: str) -> None:
    from tests import engine_only

    with Engine(store=store_url, isolation="process", workers=2) as engine:
        engine.register(engine_only.handler)
        eid = engine.start("handler", None)

        def failures() -> list[dict[str, Any]] | None:
            found = [
                e["InvocationCompletedDetails"]["Error"]["Payload"] for e in engine.history(eid)
                if e["EventType"] == "InvocationCompleted" and "Error" in e["InvocationCompletedDetails"]
            ]
            return found if len(found) >= 2 else None

        found = cast(list[dict[str, Any]], wait_until(failures, timeout=60, what="two failed invocations"))
        assert engine.stop(eid).status is ExecutionStatus.STOPPED
    assert {f["ErrorType"] for f in found} == {"Runtime.ImportModuleError"}
    assert "cannot load tests.engine_only.handler: ImportError: this module refuses" in found[0]["ErrorMessage"]


def test_a_message_that_will_not_pickle_fails_its_waiter_instead_of_hanging() -> None:
    from multiprocessing import Pipe

    import pykka

    from actors.messages import Lookup, Remote, RunHandler, RunInProcess
    from actors.process_link import ChildLink, ParentLink, RemoteRef, WorkerProcessError
    from actors.replies import Answer
    from actors.topology import Topology

    engine_end, child_end = Pipe()
    topology = Topology()
    child = ChildLink.start(topology, child_end, lambda job: None)
    parent = ParentLink.start(topology, engine_end, {}, "link")
    try:
        answer = Answer()
        unpicklable: Any = lambda: "a lambda does not pickle"  # noqa: E731
        RemoteRef(child, Remote("state"), "state").tell(Lookup(unpicklable, answer))
        with pytest.raises(RuntimeError, match="could not cross processes"):
            answer.get()
        unsendable = RunHandler("m", "f", True, lambda: None, {}, 0.0)
        future: pykka.ThreadingFuture[Any] = pykka.ThreadingFuture()
        parent.tell(RunInProcess(unsendable, {}, future))
        with pytest.raises(WorkerProcessError, match="the job could not cross processes"):
            future.get(timeout=10)
    finally:
        child.stop()
        parent.stop()
