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
from .matching import HistoryMismatchError, format_history, log_field_names, match_history, match_log_fields
from .requirements import (
    ConformanceDirMissingError,
    LogMatch,
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

#: Requirements that probe for fields the AWS SDK's plugin info records do not have either; ours mirror
#: those records, so these fail the same way (strict: a pass means something changed and needs a look).
KNOWN_DIVERGENCES = {
    "10-19": "InvocationStartInfo/InvocationEndInfo have no operations or updated-operations collections "
    "(operationsCount, updatedOperationsCount), as in the AWS SDK",
    "10-22": "OperationChangeInfo.execution_arn is the execution id: this runtime's executions have no AWS ARN",
}


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
        if req.id in KNOWN_DIVERGENCES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_DIVERGENCES[req.id]))
        elif req.optional:
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


def _check_history(
    req: Requirement, history: list[dict[str, Any]], bindings: dict[str, Any] | None = None
) -> list[str]:
    """Problems matching the history; the `${NAME}` bindings it makes are added to `bindings`."""
    found: dict[str, Any] = {}
    try:
        match_history(req.expected_history, history, found)
    except HistoryMismatchError as exc:
        return [f"history: {p}" for p in exc.problems]
    if bindings is not None:
        bindings.update(found)
    return []


def _json_record(entry: Any) -> dict[str, Any] | None:
    """The log line's message as a JSON object (a plugin's record), or None."""
    message = getattr(entry, "message", None)
    if not isinstance(message, str) or not message.lstrip().startswith("{"):
        return None
    try:
        record = json.loads(message)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _check_logs(req: Requirement, logs: Iterable[Any], bindings: dict[str, Any] | None = None) -> list[str]:
    """Count the lines each expectation matches, and check each matched line comes after its `after` lines."""
    entries = list(logs)
    lines = [str(entry) for entry in entries]
    records = [_json_record(entry) for entry in entries]
    bound = bindings or {}

    def matches(match: LogMatch, i: int) -> bool:
        if match.message is not None and not match.message.search(lines[i]):
            return False
        record = records[i]
        return not match.fields or (record is not None and match_log_fields(match.fields, record, bound))

    def hits(match: LogMatch) -> list[int]:
        return [i for i in range(len(lines)) if matches(match, i)]

    problems = []
    needed = set().union(*(log_field_names(m.fields) for e in req.expected_logs for m in (e.match, *e.after)))
    problems += [f"logs: ${{{name}}} is not bound by the history" for name in sorted(needed - bound.keys())]
    for expectation in req.expected_logs:
        found = hits(expectation.match)
        what = expectation.match.describe()
        if expectation.count is not None and len(found) != expectation.count:
            problems.append(f"logs: {what} matched {len(found)} lines, expected {expectation.count}")
        if expectation.min_count is not None and len(found) < expectation.min_count:
            problems.append(f"logs: {what} matched {len(found)} lines, expected at least {expectation.min_count}")
        for earlier in expectation.after:
            before = hits(earlier)
            if not before:
                problems.append(f"logs: {what} must come after {earlier.describe()}, which matched no line")
                continue
            early = [i + 1 for i in found if i <= before[0]]
            if early:
                problems.append(
                    f"logs: {what} at line(s) {early} comes before {earlier.describe()} (line {before[0] + 1})"
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
    bindings: dict[str, Any] = {}
    problems = _check_status(req, result)
    problems += _check_result(req, result)
    problems += _check_history(req, history, bindings)
    problems += _check_logs(req, result.logs, bindings)
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
        bindings: dict[str, Any] = {}
        problems += _check_status(req, result)
        problems += _check_result(req, result)
        problems += _check_history(req, latest, bindings)
        problems += _check_logs(req, result.logs, bindings)
    elif req.expected_logs:
        problems.append("logs: an async requirement without an outcome has no logs to check")
    problems += driver.problems(execution_ended=ended)
    _report(req, problems, latest)


@pytest.fixture(params=["sqlite", "postgresql"])
def conformance_store(request: pytest.FixtureRequest) -> str | None:
    """Every requirement runs on the embedded default and again on PostgreSQL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.mark.timeout(TEST_TIMEOUT)
@pytest.mark.parametrize(("path", "setup_error"), _params())
def test_conformance(path: Path | None, setup_error: str, conformance_store: str | None) -> None:
    """Run one requirement's handler and check everything the requirement states."""
    if path is None:
        pytest.fail(setup_error, pytrace=False)
    req = load_requirement(path)
    handler = handler_factory(req.suite, req.id)()

    from durable.testing import DurableFunctionTestRunner

    isolation = "process" if req.id in NEEDS_PROCESS_ISOLATION else "thread"
    # An asynchronous requirement describes real time: a callback resolves or times out during a wait (4-9,
    # 4-11); the runner's default, as AWS's, skips timers at once.
    real_time = req.is_async
    with DurableFunctionTestRunner(
        handler=handler, functions=invoke_targets(req.suite), isolation=isolation, skip_time=not real_time,
        store=conformance_store,
    ) as runner:
        if req.is_async:
            _run_async(runner, req)
        else:
            _run_sync(runner, req)
