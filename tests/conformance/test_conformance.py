"""The conformance suite: every requirement of the suites in `requirements.SUITES` against the engine.

Each test loads its requirement afresh (fresh `${GEN_STR}` values), builds a
fresh handler, runs it in `durable.testing.DurableFunctionTestRunner` and
checks status, result, history and logs.  All divergences of one run are
reported together, with the actual history, so a failure is a bug report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .callback_actions import CallbackActionDriver
from .handlers import handler_factory, invoke_targets
from .matching import HistoryMismatchError, format_history, match_history
from .requirements import (
    ConformanceDirMissingError,
    Requirement,
    load_requirement,
    requirement_files,
)

T = TypeVar("T")

#: Wall-clock budget of one test (pytest-timeout) and of one execution.
TEST_TIMEOUT = 60
#: How long an async test waits for the expected events to appear.
ASYNC_HISTORY_TIMEOUT = 30.0

#: Requirements whose handler exits the process mid-step: they run with
#: isolation="process", where the runner loses a worker process and replaces it.
NEEDS_PROCESS_ISOLATION = frozenset({"1-17", "1-18", "3-12"})


class WaitTimeoutError(AssertionError):
    """`wait_until` gave up; the message says what it was waiting for."""


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    what: str = "condition",
) -> T:
    """Poll `predicate` until it returns a truthy value, and return that value.

    Polls with a short growing interval rather than sleeping a fixed time and
    hoping, so the test proceeds as soon as the condition holds.
    """
    deadline = time.monotonic() + timeout
    interval = 0.005
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WaitTimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(min(interval, remaining))
        interval = min(interval * 2, 0.1)


#: Requirements that the AWS SDK's own behaviour cannot meet; we follow the SDK (see docs/compat.md).
SDK_DIFFERS = {
    "child/3-14": "the SDK returns a child context's own value on its first run (only a replay reads the "
    "checkpoint back through the serdes), so the result is 'hello child', not the serialized 'HELLO CHILD'",
}


def _params() -> list[Any]:
    """One param per requirement file; a missing folder becomes one failing test."""
    try:
        files = requirement_files()
    except ConformanceDirMissingError as exc:
        return [pytest.param(None, str(exc), id="conformance-dir-missing")]
    params = []
    for path in files:
        req = load_requirement(path)
        marks: list[Any] = []
        if req.optional:
            marks.append(
                pytest.mark.xfail(
                    strict=False,
                    reason=f"optional requirement {req.test_id}: a failure does not count against the suite",
                )
            )
        if req.test_id in SDK_DIFFERS:
            marks.append(pytest.mark.xfail(strict=True, reason=SDK_DIFFERS[req.test_id]))
        params.append(pytest.param(path, "", id=req.test_id, marks=marks))
    return params


def _status_name(status: Any) -> str:
    return str(getattr(status, "name", status))


def _describe_error(result: Any) -> str:
    error = getattr(result, "error", None)
    if error is None:
        return ""
    to_dict = getattr(error, "to_dict", None)
    if not callable(to_dict):
        return f" (error: {error!r:.300})"
    details = {k: v for k, v in to_dict().items() if k != "StackTrace"}  # the trace drowns the message
    return f" (error: {details!r:.300})"


def _check_status(req: Requirement, result: Any) -> list[str]:
    if req.expected_status is None:
        return []
    actual = _status_name(result.status)
    if actual != req.expected_status:
        return [f"status: expected {req.expected_status}, got {actual}{_describe_error(result)}"]
    return []


def _check_result(req: Requirement, result: Any) -> list[str]:
    """The result payload after one `json.loads`; a null expectation accepts None or 'null'."""
    if req.expected_status != "SUCCEEDED" or not req.has_expected_result:
        return []
    payload = result.result
    try:
        actual = None if payload is None else json.loads(payload)
    except (TypeError, ValueError) as exc:
        return [f"result: payload {payload!r} is not JSON ({exc})"]
    if req.expected_result is None:
        if actual is not None:
            return [f"result: expected null, got payload {payload!r}"]
        return []
    if payload is None:
        return [f"result: expected {req.expected_result!r}, got no payload (None)"]
    if actual != req.expected_result:
        return [f"result: expected {req.expected_result!r}, got {actual!r} (payload {payload!r})"]
    return []


def _check_history(req: Requirement, history: list[dict[str, Any]]) -> list[str]:
    try:
        match_history(req.expected_history, history)
    except HistoryMismatchError as exc:
        return [f"history: {p}" for p in exc.problems]
    return []


def _check_logs(req: Requirement, logs: Iterable[Any]) -> list[str]:
    lines = [str(entry) for entry in logs]
    problems = []
    for expectation in req.expected_logs:
        count = sum(1 for line in lines if expectation.pattern.search(line))
        if count != expectation.count:
            problems.append(
                f"logs: /{expectation.pattern.pattern}/ matched {count} lines, expected {expectation.count}"
            )
    if problems:
        shown = "\n".join(f"    {line}" for line in lines) or "    (no log lines)"
        problems.append(f"logs emitted ({len(lines)}):\n{shown}")
    return problems


def _report(req: Requirement, problems: list[str], history: list[dict[str, Any]] | None) -> None:
    if not problems:
        return
    lines = [f"{req.test_id} ({req.description}): {len(problems)} problem(s)"]
    lines += [f"  - {p}" for p in problems]
    if history is not None:
        lines.append(f"actual history ({len(history)} events):")
        lines.append(format_history(history))
    raise AssertionError("\n".join(lines))


def _run_sync(runner: Any, req: Requirement) -> None:
    result = runner.run(input=req.input, timeout=TEST_TIMEOUT)
    history = list(result.history)
    problems = _check_status(req, result)
    problems += _check_result(req, result)
    problems += _check_history(req, history)
    problems += _check_logs(req, result.logs)
    _report(req, problems, history)


def _run_async(runner: Any, req: Requirement) -> None:
    """Start the execution, play its CallbackActions, and match once every expected event exists.

    Requirements like 2-5 (a one-hour wait) are checked up to the suspension;
    when the requirement also states an outcome, the result is awaited too.
    """
    arn = runner.run_async(input=req.input)
    with CallbackActionDriver(runner, arn, req.callback_actions, ASYNC_HISTORY_TIMEOUT) as driver:
        _check_async(runner, req, arn, driver)


def _check_async(runner: Any, req: Requirement, arn: str, driver: CallbackActionDriver) -> None:
    wanted = {int(e["EventId"]) for e in req.expected_history}
    latest: list[dict[str, Any]] = []

    def expected_events_present() -> list[dict[str, Any]] | None:
        if driver.failed:
            raise WaitTimeoutError("stopped waiting: the callback action driver failed")
        latest[:] = list(runner.get_history(arn))
        present = {e.get("EventId") for e in latest}
        return latest if wanted <= present else None

    problems: list[str] = []
    try:
        wait_until(
            expected_events_present,
            ASYNC_HISTORY_TIMEOUT,
            f"events {sorted(wanted)} in the history of {arn}",
        )
    except WaitTimeoutError as exc:
        problems.append(str(exc))
    problems += _check_history(req, latest)
    ended = False
    if req.expected_status is not None and not driver.failed:
        result = runner.wait_for_result(arn, timeout=ASYNC_HISTORY_TIMEOUT)
        latest = list(result.history)
        ended = True
        problems += _check_status(req, result)
        problems += _check_result(req, result)
        problems += _check_history(req, latest)
        problems += _check_logs(req, result.logs)
    elif req.expected_logs:
        problems.append("logs: an async requirement without an outcome has no logs to check")
    problems += driver.problems(execution_ended=ended)
    _report(req, problems, latest)


@pytest.mark.timeout(TEST_TIMEOUT)
@pytest.mark.parametrize(("path", "setup_error"), _params())
def test_conformance(path: Path | None, setup_error: str) -> None:
    """Run one requirement's handler and check everything the requirement states."""
    if path is None:
        pytest.fail(setup_error, pytrace=False)
    req = load_requirement(path)
    handler = handler_factory(req.suite, req.id)()

    from durable.testing import DurableFunctionTestRunner

    isolation = "process" if req.id in NEEDS_PROCESS_ISOLATION else "thread"
    # A requirement that answers callbacks while timers run describes real time (4-9: the callback resolves
    # during a 5 s wait); the runner's default, as AWS's, skips timers at once.
    real_time = req.is_async and bool(req.callback_actions)
    with DurableFunctionTestRunner(
        handler=handler, functions=invoke_targets(req.suite), isolation=isolation, skip_time=not real_time
    ) as runner:
        if req.is_async:
            _run_async(runner, req)
        else:
            _run_sync(runner, req)
