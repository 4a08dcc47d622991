"""Bad input: one clear error naming the problem, and no data lost or changed."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from durable import DurableContext, durable_execution
from durable.config import CallbackConfig, CompletionConfig, Duration, InvokeConfig, MapConfig
from durable.core.records import OperationStatus
from durable.exceptions import ValidationError
from durable.execution import InvocationStatus
from durable.testing import DurableFunctionTestRunner
from tests.conftest import run_call

pytestmark = pytest.mark.timeout(30)


class Widget:
    pass


def test_unserializable_step_result_fails_the_execution_naming_the_operation() -> None:
    """As in the SDK: an ExecutionError, never retried; the step's result is never half-written."""

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        context.step(lambda _: "fine", name="before")
        return context.step(lambda _: Widget(), name="widget")

    with DurableFunctionTestRunner(handler) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None and result.error.type == "ExecutionError"
    message = result.error.message or ""
    assert message.startswith("Serialization failed for id: 2") and "Widget" in message
    step = result.get_step("widget")
    assert step.status is OperationStatus.STARTED and step.result is None
    assert result.get_step("before").status is OperationStatus.SUCCEEDED
    kinds = [e["EventType"] for e in result.history]
    assert kinds == [
        "ExecutionStarted", "StepStarted", "StepSucceeded", "StepStarted", "InvocationCompleted", "ExecutionFailed",
    ]


def test_an_operation_renamed_between_invocations_is_refused_as_the_service_refuses_it() -> None:
    """A retrying step whose name changes (a timestamp in it, a rename between deploys) cannot write under
    the recorded one: the execution fails with the service's message and the record keeps its name."""
    from durable.config import StepConfig
    from durable.retries import RetryStrategyConfig, create_retry_strategy

    invocations: list[int] = []
    retry_once = StepConfig(retry_strategy=create_retry_strategy(RetryStrategyConfig(max_attempts=2)))

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        invocations.append(1)

        def charge(_: Any) -> str:
            if len(invocations) == 1:
                raise RuntimeError("card service busy")
            return "charged"

        return context.step(charge, name=f"charge-v{len(invocations)}", config=retry_once)

    with DurableFunctionTestRunner(handler) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None and result.error.message == "Inconsistent operation name."
    assert [op.name for op in result.get_all_operations()] == ["charge-v1"]
    assert len(invocations) == 2


def test_replay_divergence_is_non_deterministic_and_overwrites_nothing() -> None:
    invocations: list[int] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        invocations.append(1)
        if len(invocations) == 1:
            context.step(lambda _: "charged", name="charge")
        else:
            context.wait(Duration.from_seconds(5), name="cool-off")
        context.wait(Duration.from_seconds(1), name="later")
        return "done"

    with DurableFunctionTestRunner(handler) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None and result.error.type == "NonDeterministicExecutionError"
    message = result.error.message or ""
    assert "operation 1" in message and "Wait cool-off" in message and "a STEP there" in message
    charge = result.get_step("charge")
    assert charge.status is OperationStatus.SUCCEEDED and charge.result == '"charged"'
    assert sorted(op.operation_id for op in result.get_all_operations()) == ["1", "2"]


_NOT_A_DURATION: Any = 30


@pytest.mark.parametrize(
    ("make_call", "field"),
    [
        (lambda ctx: ctx.wait(Duration.from_seconds(0.4)), "at least 1 second"),
        (lambda ctx: ctx.wait(Duration.from_seconds(-5)), "must be positive"),
        (lambda ctx: ctx.wait(5), "Duration"),
        (lambda ctx: CompletionConfig(min_successful=0), "min_successful must be at least 1"),
        (lambda ctx: MapConfig(max_concurrency=0), "max_concurrency must be at least 1"),
        (lambda ctx: ctx.create_callback(config=CallbackConfig(timeout=_NOT_A_DURATION)), "timeout takes a Duration"),
        (lambda ctx: ctx.wait_for_callback("not a function"), "submitter function"),
        (lambda ctx: ctx.invoke("", {}), "function name"),
        (lambda ctx: ctx.invoke("x", {}, config=InvokeConfig(timeout=_NOT_A_DURATION)), "timeout takes a Duration"),
    ],
)
def test_invalid_arguments_raise_validation_error_before_any_checkpoint(make_call: Any, field: str) -> None:
    result = run_call(make_call)
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None and result.error.type == "ValidationError"
    assert field in (result.error.message or "")
    assert result.get_all_operations() == []
    assert [e["EventType"] for e in result.history] == ["ExecutionStarted", "InvocationCompleted", "ExecutionFailed"]


def test_validation_errors_are_raised_directly_too() -> None:
    with pytest.raises(ValidationError, match="Duration seconds must be positive"):
        Duration(-1)
    with pytest.raises(ValidationError, match="tolerated_failure_percentage must be between 0 and 100, got: 101"):
        CompletionConfig(tolerated_failure_percentage=101)


def _run_cli(*args: str, cwd: Path) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "durable.cli", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "tests.workflows:no_such_function"], "has no function 'no_such_function'"),
        (["run", "tests.no_such_module:handler"], "cannot import module 'tests.no_such_module'"),
        (["run", "not-a-spec"], "is not MODULE:FUNCTION"),
        (["run", "tests.workflows:step_wait_step", "--input", "{not json"], "--input is not JSON"),
        (["run", "tests.workflows:_mark"], "not decorated with @durable_execution"),
        (["serve", "--function", "shutil:rmtree", "--port", "0"], "shutil:rmtree is not decorated with @durable"),
        (["worker", "--function", "os:system"], "os:system is not decorated with @durable_execution"),
        (["serve", "--function", "../../etc/passwd", "--port", "0"], "cannot import module '../../etc/passwd'"),
    ],
)
def test_cli_rejects_bad_function_or_input_with_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    store = tmp_path / "store.db"
    done = _run_cli("--store", f"sqlite:///{store}", *args, cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert needle in done.stderr
    assert "Traceback" not in done.stderr
    assert not store.exists()


@pytest.mark.parametrize(("viz", "needle"), [
    ("topology.exe", "unknown output format '.exe'"),
    ("missing/topology.svg", "no such directory"),
    (".", "it is a directory"),
])
def test_cli_run_refuses_a_drawing_it_cannot_write_before_running_anything(
    tmp_path: Path, viz: str, needle: str
) -> None:
    store = tmp_path / "store.db"
    done = _run_cli("--store", f"sqlite:///{store}", "run", "examples.hello:handler", "--viz", str(tmp_path / viz),
                    cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot write") or done.stderr.startswith("error: unknown output format")
    assert needle in done.stderr and done.stderr.count("\n") == 1
    assert not store.exists(), "nothing ran"


def test_cli_store_it_may_not_read_and_write_gives_one_line_and_leaves_nothing_beside_it() -> None:
    import os
    import subprocess
    import sys
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="durable-perm-"))
    try:
        folder.chmod(0o777)
        store = folder / "store.db"
        with sqlite3.connect(store) as conn:
            conn.execute("CREATE TABLE durable_meta (key TEXT PRIMARY KEY, value TEXT)")
        store.chmod(0o400)
        # root may open anything: run the CLI as nobody there (setpriv, from util-linux), as the file's owner elsewhere
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*as_nobody, sys.executable, "-m", "durable.cli", "--store", f"sqlite:///{store}", "list"], cwd=REPO,
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"error: cannot open the store {store}: permission denied (it needs read and write " \
            "access)\n"
        assert sorted(p.name for p in folder.iterdir()) == ["store.db"]
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()


def test_cli_store_path_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    done = _run_cli("--store", f"sqlite:///{blocker}/sub/x.db", "run", "examples.order:handler", cwd=REPO)
    assert done.returncode == 2
    assert done.stderr.startswith("error: cannot create the store directory")
    assert "Traceback" not in done.stderr
    assert blocker.read_text() == "not a directory"


def test_cli_file_that_is_not_a_durable_store(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER)")
    before = other.read_bytes()
    for path, needle in ((text, "not a SQLite database"), (other, "not a durable store")):
        done = _run_cli("--store", f"sqlite:///{path}", "list", cwd=REPO)
        assert done.returncode == 2, done.stderr
        assert needle in done.stderr and done.stderr.count("\n") == 1
    assert text.read_text() == "hello"
    assert other.read_bytes() == before


@durable_execution
def greet(event: Any, context: DurableContext) -> str:
    return context.step(lambda _: f"hello {event['who']}", name="greet")


class _LambdaContext:
    aws_request_id = "request-1"


@pytest.mark.parametrize(
    ("event", "needle"),
    [
        ({"who": "ann"}, "Unexpected payload provided to start the durable execution"),
        ({"DurableExecutionArn": "arn:x", "CheckpointToken": "t", "InitialExecutionState": {}}, "Engine"),
    ],
)
def test_a_handler_called_as_a_lambda_entry_point_refuses_with_an_execution_error(event: Any, needle: str) -> None:
    from durable.exceptions import ExecutionError

    with pytest.raises(ExecutionError, match=needle):
        greet(event, _LambdaContext())


def test_a_handler_called_on_a_durable_context_runs_there() -> None:
    @durable_execution
    def outer(event: Any, context: DurableContext) -> str:
        return greet({"who": event["who"]}, context)

    with DurableFunctionTestRunner(outer) as runner:
        result = runner.run(input={"who": "bo"})
    assert result.status is InvocationStatus.SUCCEEDED and result.result == '"hello bo"'


@pytest.mark.parametrize(
    ("store", "needle"),
    [
        ("postgresql://postgres@127.0.0.1:99999/x", "Port out of range"),
        ("postgresql://postgres@[::1:5432/x", "Invalid IPv6 URL"),
        ("", "--store is empty"),
        ("  ", "--store is empty"),
    ],
)
def test_cli_refuses_a_malformed_store_url_in_one_line(store: str, needle: str) -> None:
    done = _run_cli("--store", store, "list", cwd=REPO)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1 and needle in done.stderr


def test_cli_output_to_a_reader_that_went_away_ends_quietly(tmp_path: Path) -> None:
    """`durable list | head -1`: the pipe closes under the listing, which stops without a word."""
    import subprocess
    import sys

    store = tmp_path / "store.db"
    assert _run_cli("--store", f"sqlite:///{store}", "run", "examples.hello:handler", cwd=REPO).returncode == 0
    lister = subprocess.Popen(
        [sys.executable, "-m", "durable.cli", "--store", f"sqlite:///{store}", "list"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert lister.stdout is not None and lister.stderr is not None
    lister.stdout.close()
    errors = lister.stderr.read().decode()
    assert lister.wait(timeout=60) == 0, errors
    assert errors == ""


def _handler_named_handler(result: str) -> Any:
    def handler(event: Any, context: DurableContext) -> str:
        return result

    return durable_execution(handler)


def test_a_bare_name_two_served_functions_share_names_neither() -> None:
    """`serve --function a:handler --function b:handler`: 'handler' alone would depend on the order given."""
    from durable.cli import _named

    first, second = _handler_named_handler("a"), _handler_named_handler("b")
    named = _named([("a:handler", first), ("b:handler", second), ("c:greet", greet)])
    assert named == {"a:handler": first, "b:handler": second, "c:greet": greet, "greet": greet}
    same = _named([("a:handler", first), ("a2:handler", first)])
    assert same["handler"] is first, "one function under two specs keeps its bare name"
