"""The test runner (virtual clock, replay-aware logs, operation views) and the CLI's happy paths."""

from __future__ import annotations

import gc
import inspect
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from durable import DurableContext, durable_execution
from durable.config import CompletionConfig, Duration, MapConfig
from durable.core.records import OperationStatus
from durable.execution import InvocationStatus
from durable.testing import DurableFunctionTestRunner
from durable.testing.exceptions import ResourceNotFoundException

pytestmark = pytest.mark.timeout(60)
REPO = Path(__file__).resolve().parents[2]


@durable_execution
def hour_long(event: Any, context: DurableContext) -> Any:
    context.logger.info("before the wait %s", event)
    context.wait(Duration.from_hours(1), name="hour")
    context.logger.info("after the wait")
    return context.run_in_child_context(lambda child: child.step(lambda _: event, name="echo"), name="box")


def test_a_one_hour_wait_completes_on_the_virtual_clock_and_logs_once() -> None:
    with DurableFunctionTestRunner(hour_long, execution_timeout=7200) as runner:
        result = runner.run(input="abc")
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "null") == "abc"
    wait = result.get_wait("hour")
    assert wait.status is OperationStatus.SUCCEEDED
    assert wait.end_timestamp is not None and wait.start_timestamp is not None
    assert (wait.end_timestamp - wait.start_timestamp).total_seconds() >= 3600
    assert len(result.invocations) == 2
    assert [str(entry) for entry in result.logs] == ["[INFO] before the wait abc", "[INFO] after the wait"]
    box = result.get_context("box")
    assert [op.name for op in box.child_operations] == ["echo"]
    assert box.get_step("echo").result == '"abc"'
    assert [op.name for op in result.get_all_operations()] == ["box", "echo", "hour"], "a stack walk, as AWS's"


def test_the_runner_keeps_every_log_line_without_lowering_anyones_logging_level(
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = logging.getLogger()
    before = root.level
    root.setLevel(logging.WARNING)
    try:
        with caplog.at_level(logging.WARNING), DurableFunctionTestRunner(hour_long, execution_timeout=7200) as runner:
            assert root.level == logging.WARNING
            result = runner.run(input="abc")
    finally:
        root.setLevel(before)
    assert [str(entry) for entry in result.logs] == ["[INFO] before the wait abc", "[INFO] after the wait"]
    assert caplog.records == [], "below WARNING nothing reaches the user's handlers, as without the runner"


def test_a_results_history_is_read_when_asked_even_after_the_runner_closed() -> None:
    with DurableFunctionTestRunner(hour_long, execution_timeout=7200) as runner:
        result = runner.run(input="abc")
        folder = runner._scratch.path  # type: ignore[union-attr]
    assert folder.exists(), "a result that may still read its history keeps the runner's store"
    kinds = [e["EventType"] for e in result.history]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    assert kinds.count("InvocationCompleted") == 2 and len(result.invocations) == 2
    del result
    gc.collect()
    assert not folder.exists(), "the store folder goes with the last result that could read it"


@pytest.mark.parametrize(("raw", "seen"), [("{}", {}), ("test", "test"), ('"x"', "x"), ([1, 2], [1, 2]), (None, None)])
def test_runner_normalizes_input_like_aws(raw: Any, seen: Any) -> None:
    @durable_execution
    def echo(event: Any, context: DurableContext) -> Any:
        return event

    with DurableFunctionTestRunner(echo) as runner:
        result = runner.run(input=raw)
    assert json.loads(result.result or "null") == seen


def test_run_async_then_wait_for_result() -> None:
    with DurableFunctionTestRunner(hour_long, execution_timeout=7200) as runner:
        arn = runner.run_async(input=1)
        result = runner.wait_for_result(arn, timeout=30)
        assert result.status is InvocationStatus.SUCCEEDED
        assert runner.get_history(arn)[0]["EventType"] == "ExecutionStarted"


def _cli(*args: str, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable.cli", "--store", f"sqlite:///{store}", *args],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )


def test_cli_run_status_history_list_and_viz(tmp_path: Path) -> None:
    store = tmp_path / "cli.db"
    done = _cli("run", "examples.order:handler", "--input", '{"order_id": "A-7", "items": 1}', store=store)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["receipt"] == "receipt-7731"
    assert "operations done" in done.stderr and "invocation 3" in done.stderr
    execution_id = done.stderr.splitlines()[0].split()[-1]

    status = _cli("status", execution_id, "--json", store=store)
    assert json.loads(status.stdout)["status"] == "SUCCEEDED"
    history = _cli("history", execution_id, "--json", store=store)
    events = json.loads(history.stdout)
    assert events[0]["EventType"] == "ExecutionStarted" and events[-1]["EventType"] == "ExecutionSucceeded"
    table = _cli("history", execution_id, store=store)
    assert "WaitSucceeded" in table.stdout and "cool-off" in table.stdout
    assert execution_id in _cli("list", store=store).stdout

    dot = tmp_path / "topology.dot"
    assert _cli("viz", "--out", str(dot), store=store).returncode == 0
    text = dot.read_text()
    assert "CheckpointWriter" in text and "ExecutionState" in text and "->" in text


def test_cli_list_says_when_more_executions_exist_than_it_shows(tmp_path: Path) -> None:
    store = tmp_path / "cli.db"
    for n in range(3):
        assert _cli("start", "examples.hello:handler", "--input", f'"{n}"', store=store).returncode == 0
    cut = _cli("list", "--limit", "2", store=store)
    assert cut.returncode == 0 and len(cut.stdout.splitlines()) == 2
    assert cut.stderr == "the newest 2 shown; more exist (--limit N shows more)\n"
    whole = _cli("list", "--limit", "3", store=store)
    assert len(whole.stdout.splitlines()) == 3 and whole.stderr == ""


def test_cli_start_then_resume(tmp_path: Path) -> None:
    store = tmp_path / "cli.db"
    started = _cli("start", "tests.workflows:step_wait_step", "--input",
                   json.dumps({"marks": str(tmp_path / "m"), "wait": 1}), store=store)
    assert started.returncode == 0, started.stderr
    execution_id = started.stdout.strip()
    assert json.loads(_cli("status", execution_id, "--json", store=store).stdout)["status"] == "RUNNING"
    resumed = _cli("resume", store=store)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{execution_id}  SUCCEEDED" in resumed.stdout


@pytest.mark.parametrize(
    ("spec", "payload", "expected"),
    [
        ("examples.hello:handler", '"World"', "Hello, World!"),
        ("examples.retries:handler", '{"fail_times": 1}', "answered on attempt 2"),
        ("examples.wait:handler", "1", "started, then waited 1 s"),
        ("examples.map_limited:handler", "6", {"squares": [0, 1, 4, 9, 16, 25], "completion": "ALL_COMPLETED"}),
        ("examples.timer_wave:handler", '{"branches": 20, "keep": 2}', {"succeeded": 21, "failed": 0}),
        ("examples.invoke:handler", '{"sku": "chair", "quantity": 4}', {"total": 158.0, "receipt": "4 x chair: 158.0"}),
    ],
)
def test_every_example_runs_with_durable_run(tmp_path: Path, spec: str, payload: str, expected: Any) -> None:
    done = _cli("run", spec, "--input", payload, store=tmp_path / "examples.db")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == expected


def test_the_approval_example_waits_for_its_callback(tmp_path: Path) -> None:
    from examples.approval import handler

    with DurableFunctionTestRunner(handler) as runner:
        arn = runner.run_async({"report": "R-17", "amount": 420})
        runner.send_callback_success(runner.wait_for_callback(arn, timeout=10), '{"approved": true, "by": "ana"}')
        result = runner.wait_for_result(arn, timeout=10)
    assert json.loads(result.result or "") == {"report": "R-17", "status": "approved", "by": "ana"}


def test_durable_worker_runs_the_stores_executions_in_worker_processes_until_sigterm(tmp_path: Path) -> None:
    import signal

    from tests.conftest import wait_until

    store = tmp_path / "worker.db"
    marks = tmp_path / "marks"
    started = _cli("start", "tests.workflows:step_wait_step", "--input",
                   json.dumps({"marks": str(marks), "wait": 1}), store=store)
    execution_id = started.stdout.strip()
    worker = subprocess.Popen(
        [sys.executable, "-m", "durable.cli", "--store", f"sqlite:///{store}", "worker", "--progress", "0.2",
         "--workers", "2", "--function", "tests.workflows:step_wait_step"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        def status() -> str:
            shown = _cli("status", execution_id, "--json", store=store)
            return str(json.loads(shown.stdout)["status"]) if shown.returncode == 0 else ""

        wait_until(lambda: status() == "SUCCEEDED", timeout=30, what="the worker to finish the execution")
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
    finally:
        worker.kill()
    assert worker.returncode == 0, stderr
    assert "with 2 process worker(s)" in stderr and "stopped;" in stderr
    assert marks.read_text().splitlines() == ["first", "second"]


def test_run_viz_in_process_isolation_shows_the_links_and_each_workers_counters(tmp_path: Path) -> None:
    dot = tmp_path / "run.dot"
    done = _cli("run", "examples.hello:handler", "--input", '"viz"', "--isolation", "process", "--workers", "2",
                "--viz", str(dot), store=tmp_path / "viz.db")
    assert done.returncode == 0, done.stderr
    text = dot.read_text()
    assert "ParentLink\\nworker-1 link" in text and "ParentLink\\nworker-2 link" in text
    assert "InvocationWorker\\nworker-1\\ndispatched " in text


@pytest.mark.parametrize("kind", ["memory", "sqlite", "filesystem"])
def test_the_runner_takes_the_testing_librarys_store_objects(tmp_path: Path, kind: str) -> None:
    from durable.testing.stores.filesystem import FileSystemExecutionStore
    from durable.testing.stores.memory import InMemoryExecutionStore
    from durable.testing.stores.sqlite import SQLiteExecutionStore

    store: Any = {
        "memory": lambda: InMemoryExecutionStore(),
        "sqlite": lambda: SQLiteExecutionStore.create_and_initialize(tmp_path / "made" / "runs.db"),
        "filesystem": lambda: FileSystemExecutionStore.create(tmp_path / "runs"),
    }[kind]()
    with DurableFunctionTestRunner(hour_long, execution_timeout=7200, store=store) as runner:
        result = runner.run(input="abc")
    assert result.status is InvocationStatus.SUCCEEDED and json.loads(result.result or "null") == "abc"
    if kind == "sqlite":
        assert (tmp_path / "made" / "runs.db").exists()
    if kind == "filesystem":
        assert any((tmp_path / "runs").iterdir())


def test_the_operation_factories_take_the_services_operation_shape() -> None:
    """As the testing library's do: a user's test builds fake operations to check its own helpers."""
    import datetime

    from durable.lambda_service import ContextDetails, Operation, OperationSubType, OperationType, StepDetails
    from durable.testing.runner import ContextOperation, create_operation

    now = datetime.datetime.now(datetime.UTC)
    parent = Operation(
        operation_id="p", operation_type=OperationType.CONTEXT, status=OperationStatus.SUCCEEDED, name="ctx",
        sub_type=OperationSubType.RUN_IN_CHILD_CONTEXT, start_timestamp=now,
        context_details=ContextDetails(result='"r"'),
    )
    child = Operation(
        operation_id="c", operation_type=OperationType.STEP, status=OperationStatus.SUCCEEDED, parent_id="p",
        name="s", sub_type=OperationSubType.STEP, start_timestamp=now,
        step_details=StepDetails(attempt=2, result='"x"'),
    )
    view = create_operation(parent, [parent, child])
    assert isinstance(view, ContextOperation) and view.result == '"r"'
    assert view.start_timestamp == now
    step = view.get_step("s")
    assert (step.attempt, step.result) == (2, '"x"')


#: the testing library's DurableFunctionCloudTestRunner methods: parameter names and defaults
_CLOUD_SIGNATURES = {
    "run": [("input", None), ("timeout", 60)],
    "run_async": [("input", None), ("timeout", 60)],
    "send_callback_success": [("callback_id", inspect.Parameter.empty), ("result", None)],
    "send_callback_failure": [("callback_id", inspect.Parameter.empty), ("error", None)],
    "send_callback_heartbeat": [("callback_id", inspect.Parameter.empty)],
    "wait_for_result": [("execution_arn", inspect.Parameter.empty), ("timeout", 60)],
    "wait_for_callback": [("execution_arn", inspect.Parameter.empty), ("name", None), ("timeout", 60)],
}


@pytest.mark.parametrize("method", sorted(_CLOUD_SIGNATURES))
def test_the_cloud_runner_takes_the_libraries_arguments_and_names_the_local_runner(method: str) -> None:
    from durable.testing import DurableFunctionCloudTestRunner
    from durable.testing.exceptions import DurableFunctionsTestError

    runner = DurableFunctionCloudTestRunner("my-function", region="eu-west-1")
    bound = getattr(runner, method)
    params = [(p.name, p.default) for p in inspect.signature(bound).parameters.values()]
    assert params == _CLOUD_SIGNATURES[method]
    arguments = {name: "x" for name, default in params if default is inspect.Parameter.empty}
    with pytest.raises(DurableFunctionsTestError, match="DurableFunctionTestRunner"):
        bound(**arguments)


@pytest.mark.parametrize("isolation", ["thread", "process"])
def test_a_decorator_stacked_on_a_durable_handler_is_its_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolation: str
) -> None:
    """As Lambda calls the outermost function: each invocation goes through the decorator, with a durable
    invocation and a Lambda context, and the SDK's output (or its re-raised InvocationError) comes back."""
    from tests.workflows import logged_entry

    log = tmp_path / "entry.log"
    monkeypatch.setenv("ENTRY_LOG", str(log))
    with DurableFunctionTestRunner(logged_entry, isolation=isolation, workers=1) as runner:
        result = runner.run(input={})
    assert result.status is InvocationStatus.SUCCEEDED and json.loads(result.result or "null") == "done"
    assert log.read_text().splitlines() == [
        "in EntryPointInvocation True True", "raised InvocationError",
        "in EntryPointInvocation True True", "out PENDING",
        "in EntryPointInvocation True True", "out SUCCEEDED",
    ]


def test_an_entry_point_that_never_calls_the_handler_fails_the_execution_saying_so() -> None:
    import functools

    @durable_execution
    def inner(event: Any, context: DurableContext) -> str:
        return "unreached"

    @functools.wraps(inner)
    def short_circuit(event: Any, lambda_context: Any) -> dict[str, str]:
        return {"Status": "SUCCEEDED"}

    with DurableFunctionTestRunner(short_circuit) as runner:
        result = runner.run(input={})
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None and "without calling the durable handler" in (result.error.message or "")


@durable_execution
def awaits_approval(event: Any, context: DurableContext) -> dict[str, Any]:
    return {"approval": context.wait_for_callback(lambda _cid, _ctx: None, name="approval")}


@pytest.mark.parametrize(("sent", "seen"), [(b"", None), (None, None), (b"yes", "yes")])
def test_an_empty_callback_result_is_no_result_as_the_testing_library_reads_it(sent: Any, seen: Any) -> None:
    with DurableFunctionTestRunner(awaits_approval) as runner:
        arn = runner.run_async(input={})
        runner.send_callback_success(runner.wait_for_callback(arn, timeout=10), sent)
        result = runner.wait_for_result(arn, timeout=30)
    assert result.status is InvocationStatus.SUCCEEDED and json.loads(result.result or "null") == {"approval": seen}


@durable_execution
def quorum_of_one(event: Any, context: DurableContext) -> list[Any]:
    def approver(child: DurableContext, who: str, index: int, items: Any) -> Any:
        return child.create_callback(name=f"approver-{who}").result()

    enough: MapConfig[Any] = MapConfig(completion_config=CompletionConfig(min_successful=1))
    done = context.map(["a", "b", "c"], approver, config=enough)
    return [item for item in done.get_results() if item is not None]


def test_answering_a_callback_its_ended_execution_left_open_is_taken_and_changes_nothing() -> None:
    """The testing library takes these (a test answering every approver of a quorum of one); a callback
    that already completed is still refused."""
    with DurableFunctionTestRunner(quorum_of_one) as runner:
        arn = runner.run_async(input={})
        ids = [runner.wait_for_callback(arn, name=f"approver-{who}", timeout=10) for who in "abc"]
        runner.send_callback_success(ids[0], b'"yes"')
        result = runner.wait_for_result(arn, timeout=30)
        assert result.status is InvocationStatus.SUCCEEDED and json.loads(result.result or "null") == ['"yes"']
        history = runner.get_history(arn)
        runner.send_callback_success(ids[1], b'"late"')
        runner.send_callback_failure(ids[2])
        runner.send_callback_heartbeat(ids[2])
        assert runner.get_history(arn) == history
        assert runner.get_result(arn).result == result.result
        with pytest.raises(ResourceNotFoundException, match="is not in STARTED state"):
            runner.send_callback_success(ids[0], b'"again"')


def test_a_result_has_the_librarys_four_fields_and_compares_as_its_results_do() -> None:
    import dataclasses

    from durable.testing import DurableFunctionTestResult

    fields = [f.name for f in dataclasses.fields(DurableFunctionTestResult)]
    assert fields == ["status", "operations", "result", "error"]
    with DurableFunctionTestRunner(awaits_nothing) as runner:
        result = runner.run(input={})
    assert result == DurableFunctionTestResult(InvocationStatus.SUCCEEDED, [], '"plain"', None)
    assert result.execution_arn and result.history[0]["EventType"] == "ExecutionStarted" and result.logs == []


@durable_execution
def awaits_nothing(event: Any, context: DurableContext) -> str:
    return "plain"


def test_an_engine_starts_a_handler_under_a_stacked_decorator_by_the_object(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from durable.engine import Engine
    from tests.workflows import logged_entry

    monkeypatch.setenv("ENTRY_LOG", str(tmp_path / "entry.log"))
    with Engine(store=f"sqlite:///{tmp_path / 'x.db'}") as engine:
        record = engine.wait(engine.start(logged_entry, {}), timeout=30)
    assert record.status.value == "SUCCEEDED" and json.loads(record.result or "null") == "done"
    assert (tmp_path / "entry.log").read_text().count("in EntryPointInvocation") == 3
