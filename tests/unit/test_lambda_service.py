"""The SDK's `lambda_service` wire model: dict shapes, timestamps, update factories, and the refused AWS client."""

from __future__ import annotations

import ast
import dataclasses
import datetime
import logging
import re
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

import durable.lambda_service as ls
from durable.core import records
from durable.exceptions import CheckpointError, DurableApiErrorCategory, GetExecutionStateError
from durable.identifier import OperationIdentifier
from durable.lambda_service import (
    CallbackDetails,
    CallbackOptions,
    ChainedInvokeDetails,
    ChainedInvokeOptions,
    CheckpointOutput,
    CheckpointUpdatedExecutionState,
    ContextDetails,
    ContextOptions,
    DurableExecutionInvocationOutput,
    ErrorObject,
    ExecutionDetails,
    InvocationStatus,
    LambdaClient,
    Operation,
    OperationStatus,
    OperationSubType,
    OperationType,
    OperationUpdate,
    StateOutput,
    StepDetails,
    StepOptions,
    TimestampConverter,
    WaitDetails,
    WaitOptions,
)

UTC = datetime.UTC
T0 = datetime.datetime(2025, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
T0_MS = 1741064767123
T1 = datetime.datetime(2025, 3, 4, 5, 7, 0, tzinfo=UTC)
ERR = ErrorObject(message="bad", type="ValueError", data='"d"', stack_trace=["a", "b"])
ERR_DICT = {"ErrorMessage": "bad", "ErrorType": "ValueError", "ErrorData": '"d"', "StackTrace": ["a", "b"]}


def test_enums_and_error_object_are_the_core_definitions() -> None:
    assert ls.ErrorObject is records.ErrorObject
    assert ls.InvocationStatus is records.InvocationStatus
    assert ls.OperationAction is records.OperationAction
    assert ls.OperationStatus is records.OperationStatus
    assert ls.OperationSubType is records.OperationSubType
    assert ls.OperationType is records.OperationType
    assert ls.CallbackTimeoutType is records.CallbackTimeoutType
    assert (ls.OperationPayload, ls.ReplayChildren, ls.TimeoutSeconds) == (str, bool, int)


def test_module_stays_below_engine_testing_and_actors() -> None:
    tree = ast.parse(Path(ls.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    forbidden = [m for m in imported if m.startswith(("durable.testing", "durable.engine", "actors", "boto"))]
    assert forbidden == []


# --- TimestampConverter -----------------------------------------------------


def test_timestamp_converter_both_ways() -> None:
    assert TimestampConverter.to_unix_millis(T0) == T0_MS
    assert TimestampConverter.from_unix_millis(T0_MS) == T0
    assert TimestampConverter.from_unix_millis(T0_MS).tzinfo is UTC  # type: ignore[union-attr]
    assert TimestampConverter.from_unix_millis(0) == datetime.datetime(1970, 1, 1, tzinfo=UTC)
    assert TimestampConverter.to_unix_millis(None) is None
    assert TimestampConverter.from_unix_millis(None) is None
    other_zone = T0.astimezone(datetime.timezone(datetime.timedelta(hours=-5)))
    assert TimestampConverter.to_unix_millis(other_zone) == T0_MS


# --- Operation ----------------------------------------------------------------


def full_operation_dict() -> dict[str, Any]:
    return {
        "Id": "op-1",
        "Type": "STEP",
        "Status": "PENDING",
        "ParentId": "parent",
        "Name": "charge",
        "StartTimestamp": T0,
        "EndTimestamp": T1,
        "SubType": "Step",
        "ExecutionDetails": {"InputPayload": "{}"},
        "ContextDetails": {"Result": "r", "Error": ERR_DICT, "ReplayChildren": True},
        "StepDetails": {"Attempt": 2, "NextAttemptTimestamp": T1, "Result": "s", "Error": ERR_DICT},
        "WaitDetails": {"ScheduledEndTimestamp": T1},
        "CallbackDetails": {"CallbackId": "cb", "Result": "c", "Error": ERR_DICT},
        "ChainedInvokeDetails": {"Result": "i", "Error": ERR_DICT},
    }


def test_operation_from_dict_reads_every_field() -> None:
    op = Operation.from_dict(full_operation_dict())
    assert op == Operation(
        operation_id="op-1",
        operation_type=OperationType.STEP,
        status=OperationStatus.PENDING,
        parent_id="parent",
        name="charge",
        start_timestamp=T0,
        end_timestamp=T1,
        sub_type=OperationSubType.STEP,
        execution_details=ExecutionDetails(input_payload="{}"),
        context_details=ContextDetails(replay_children=True, result="r", error=ERR),
        step_details=StepDetails(attempt=2, next_attempt_timestamp=T1, result="s", error=ERR),
        wait_details=WaitDetails(scheduled_end_timestamp=T1),
        callback_details=CallbackDetails(callback_id="cb", result="c", error=ERR),
        chained_invoke_details=ChainedInvokeDetails(result="i", error=ERR),
    )


def test_operation_dict_round_trip_keeps_shape_and_key_order() -> None:
    data = full_operation_dict()
    out = Operation.from_dict(data).to_dict()
    assert out == data
    assert list(out) == list(data)


def test_operation_to_dict_drops_falsy_values_as_the_sdk_does() -> None:
    op = Operation(
        "op", OperationType.CONTEXT, OperationStatus.STARTED, parent_id="", name="",
        context_details=ContextDetails(), step_details=StepDetails(result=""), wait_details=WaitDetails(),
        callback_details=CallbackDetails(callback_id="cb", result=""), chained_invoke_details=ChainedInvokeDetails(),
    )
    assert op.to_dict() == {
        "Id": "op", "Type": "CONTEXT", "Status": "STARTED",
        "ContextDetails": {"Result": None},
        "StepDetails": {"Attempt": 0},
        "WaitDetails": {},
        "CallbackDetails": {"CallbackId": "cb"},
        "ChainedInvokeDetails": {},
    }


def test_operation_from_dict_defaults_and_empty_details() -> None:
    op = Operation.from_dict({"Id": "x", "Type": "WAIT", "Status": "STARTED", "WaitDetails": {}, "SubType": ""})
    assert op.wait_details is None
    assert op.sub_type is None
    assert StepDetails.from_dict({}) == StepDetails(attempt=0)
    assert ContextDetails.from_dict({"Error": {}}).error is None
    # The SDK keeps a falsy ChainedInvokeDetails value as given.
    quirk = Operation.from_dict({"Id": "x", "Type": "STEP", "Status": "READY", "ChainedInvokeDetails": {}})
    kept: object = quirk.chained_invoke_details
    assert kept == {}
    assert "ChainedInvokeDetails" not in quirk.to_dict()


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"Type": "STEP", "Status": "READY"}, KeyError),
        ({"Id": "x", "Type": "NOPE", "Status": "READY"}, ValueError),
        ({"Id": "x", "Type": "STEP", "Status": "READY", "CallbackDetails": {"Result": "r"}}, KeyError),
    ],
)
def test_operation_from_dict_rejects_malformed_input(data: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        Operation.from_dict(data)


def test_operation_json_dict_uses_unix_millis_and_round_trips() -> None:
    op = Operation.from_dict(full_operation_dict())
    json_dict = op.to_json_dict()
    assert json_dict["StartTimestamp"] == T0_MS
    assert json_dict["EndTimestamp"] == TimestampConverter.to_unix_millis(T1)
    assert json_dict["StepDetails"]["NextAttemptTimestamp"] == TimestampConverter.to_unix_millis(T1)
    assert json_dict["WaitDetails"]["ScheduledEndTimestamp"] == TimestampConverter.to_unix_millis(T1)
    assert op.to_dict()["StartTimestamp"] == T0  # to_json_dict did not alter the operation's own dict
    snapshot = repr(json_dict)
    assert Operation.from_json_dict(json_dict) == op
    assert repr(json_dict) == snapshot  # from_json_dict leaves its input alone


def test_operation_is_a_frozen_dataclass() -> None:
    op = Operation.from_dict(full_operation_dict())
    with pytest.raises(dataclasses.FrozenInstanceError):
        op.name = "other"  # type: ignore[misc]
    renamed = dataclasses.replace(op, name="other", status=OperationStatus.SUCCEEDED)
    assert (renamed.name, renamed.status, renamed.operation_id) == ("other", OperationStatus.SUCCEEDED, "op-1")
    as_dict = dataclasses.asdict(op)
    assert list(as_dict)[:3] == ["operation_id", "operation_type", "status"]
    assert as_dict["step_details"]["error"]["stack_trace"] == ["a", "b"]


# --- Options and OperationUpdate --------------------------------------------------


def test_option_defaults_and_round_trips() -> None:
    assert WaitOptions.from_dict({}).to_dict() == {"WaitSeconds": 1}
    assert StepOptions.from_dict({}).to_dict() == {"NextAttemptDelaySeconds": 0}
    assert CallbackOptions.from_dict({"TimeoutSeconds": 5}).to_dict() == {
        "TimeoutSeconds": 5, "HeartbeatTimeoutSeconds": 0,
    }
    assert ContextOptions.from_dict({}).to_dict() == {"ReplayChildren": False}
    assert ChainedInvokeOptions.from_dict({"FunctionName": "f"}).to_dict() == {"FunctionName": "f"}
    assert ChainedInvokeOptions("f", "t").to_dict() == {"FunctionName": "f", "TenantId": "t"}


def test_operation_update_dict_round_trip() -> None:
    data = {
        "Id": "1", "Type": "STEP", "Action": "RETRY", "ParentId": "p", "Name": "n", "SubType": "WaitForCondition",
        "Payload": "", "Error": ERR_DICT, "ContextOptions": {"ReplayChildren": True},
        "StepOptions": {"NextAttemptDelaySeconds": 3}, "WaitOptions": {"WaitSeconds": 4},
        "CallbackOptions": {"TimeoutSeconds": 5, "HeartbeatTimeoutSeconds": 6},
        "ChainedInvokeOptions": {"FunctionName": "f", "TenantId": "t"},
    }
    update = OperationUpdate.from_dict(data)
    assert update.step_options == StepOptions(3)
    assert update.payload == ""
    assert update.to_dict() == data
    assert list(update.to_dict()) == list(data)
    bare = OperationUpdate.from_dict({"Id": "1", "Type": "WAIT", "Action": "START", "WaitOptions": {}})
    assert bare.wait_options is None
    assert bare.to_dict() == {"Id": "1", "Type": "WAIT", "Action": "START"}


IDENT = OperationIdentifier(operation_id="7", sub_type=OperationSubType.STEP, parent_id="3", name="nm")
HEAD = {"Id": "7", "ParentId": "3", "Name": "nm"}

CREATE_CASES: list[tuple[Callable[[], OperationUpdate], dict[str, Any]]] = [
    (lambda: OperationUpdate.create_callback(IDENT, CallbackOptions(10, 2)),
     {"Type": "CALLBACK", "Action": "START", "SubType": "Callback",
      "CallbackOptions": {"TimeoutSeconds": 10, "HeartbeatTimeoutSeconds": 2}}),
    (lambda: OperationUpdate.create_context_start(IDENT, OperationSubType.MAP),
     {"Type": "CONTEXT", "Action": "START", "SubType": "Map"}),
    (lambda: OperationUpdate.create_context_succeed(IDENT, "p", OperationSubType.PARALLEL),
     {"Type": "CONTEXT", "Action": "SUCCEED", "SubType": "Parallel", "Payload": "p"}),
    (lambda: OperationUpdate.create_context_succeed(IDENT, "", OperationSubType.MAP, ContextOptions(True)),
     {"Type": "CONTEXT", "Action": "SUCCEED", "SubType": "Map", "Payload": "",
      "ContextOptions": {"ReplayChildren": True}}),
    (lambda: OperationUpdate.create_context_fail(IDENT, ERR, OperationSubType.RUN_IN_CHILD_CONTEXT),
     {"Type": "CONTEXT", "Action": "FAIL", "SubType": "RunInChildContext", "Error": ERR_DICT}),
    (lambda: OperationUpdate.create_step_start(IDENT), {"Type": "STEP", "Action": "START", "SubType": "Step"}),
    (lambda: OperationUpdate.create_step_succeed(IDENT, "r"),
     {"Type": "STEP", "Action": "SUCCEED", "SubType": "Step", "Payload": "r"}),
    (lambda: OperationUpdate.create_step_fail(IDENT, ERR),
     {"Type": "STEP", "Action": "FAIL", "SubType": "Step", "Error": ERR_DICT}),
    (lambda: OperationUpdate.create_step_retry(IDENT, ERR, 9),
     {"Type": "STEP", "Action": "RETRY", "SubType": "Step", "Error": ERR_DICT,
      "StepOptions": {"NextAttemptDelaySeconds": 9}}),
    (lambda: OperationUpdate.create_invoke_start(IDENT, "in", ChainedInvokeOptions("fn")),
     {"Type": "CHAINED_INVOKE", "Action": "START", "SubType": "ChainedInvoke", "Payload": "in",
      "ChainedInvokeOptions": {"FunctionName": "fn"}}),
    (lambda: OperationUpdate.create_wait_for_condition_start(IDENT),
     {"Type": "STEP", "Action": "START", "SubType": "WaitForCondition"}),
    (lambda: OperationUpdate.create_wait_for_condition_succeed(IDENT, "st"),
     {"Type": "STEP", "Action": "SUCCEED", "SubType": "WaitForCondition", "Payload": "st"}),
    (lambda: OperationUpdate.create_wait_for_condition_retry(IDENT, "st", 4),
     {"Type": "STEP", "Action": "RETRY", "SubType": "WaitForCondition", "Payload": "st",
      "StepOptions": {"NextAttemptDelaySeconds": 4}}),
    (lambda: OperationUpdate.create_wait_for_condition_fail(IDENT, ERR),
     {"Type": "STEP", "Action": "FAIL", "SubType": "WaitForCondition", "Error": ERR_DICT}),
    (lambda: OperationUpdate.create_wait_start(IDENT, WaitOptions(30)),
     {"Type": "WAIT", "Action": "START", "SubType": "Wait", "WaitOptions": {"WaitSeconds": 30}}),
]


@pytest.mark.parametrize(("create", "expected"), CREATE_CASES)
def test_create_factories_build_the_sdk_shapes(create: Callable[[], OperationUpdate], expected: dict[str, Any]) -> None:
    update = create()
    assert update.to_dict() == {**HEAD, **expected}
    assert OperationUpdate.from_dict(update.to_dict()) == update


def test_identifier_without_parent_or_name_leaves_them_off() -> None:
    bare = OperationIdentifier(operation_id="1", sub_type=OperationSubType.STEP)
    assert OperationUpdate.create_step_start(bare).to_dict() == {
        "Id": "1", "Type": "STEP", "Action": "START", "SubType": "Step",
    }


def test_execution_updates_are_named_after_the_time() -> None:
    before = int(datetime.datetime.now(tz=UTC).timestamp() * 1000)
    succeed = OperationUpdate.create_execution_succeed("out").to_dict()
    fail = OperationUpdate.create_execution_fail(ERR).to_dict()
    after = int(datetime.datetime.now(tz=UTC).timestamp() * 1000)
    for update in (succeed, fail):
        match = re.fullmatch(r"execution-result-(\d+)", update["Id"])
        assert match is not None
        assert before <= int(match.group(1)) <= after
    assert {k: v for k, v in succeed.items() if k != "Id"} == {
        "Type": "EXECUTION", "Action": "SUCCEED", "Payload": "out",
    }
    assert {k: v for k, v in fail.items() if k != "Id"} == {"Type": "EXECUTION", "Action": "FAIL", "Error": ERR_DICT}


# --- Invocation output, checkpoint and state outputs ---------------------------------------


def test_invocation_output_shapes() -> None:
    assert DurableExecutionInvocationOutput.create_succeeded("r").to_dict() == {"Status": "SUCCEEDED", "Result": "r"}
    assert DurableExecutionInvocationOutput.create_succeeded("").to_dict() == {"Status": "SUCCEEDED", "Result": ""}
    assert DurableExecutionInvocationOutput.create_retry(ERR).to_dict() == {"Status": "RETRY", "Error": ERR_DICT}
    assert DurableExecutionInvocationOutput(InvocationStatus.PENDING).to_dict() == {"Status": "PENDING"}
    data = {"Status": "FAILED", "Error": ERR_DICT}
    out = DurableExecutionInvocationOutput.from_dict(data)
    assert out == DurableExecutionInvocationOutput(InvocationStatus.FAILED, None, ERR)
    assert out.to_dict() == data
    assert DurableExecutionInvocationOutput.from_dict({"Status": "SUCCEEDED", "Error": {}}).error is None
    with pytest.raises(ValueError):
        DurableExecutionInvocationOutput.from_dict({})


def test_checkpoint_and_state_outputs() -> None:
    op_dict = {"Id": "1", "Type": "STEP", "Status": "SUCCEEDED"}
    state = {"Operations": [op_dict], "NextMarker": "m"}
    out = CheckpointOutput.from_dict({"CheckpointToken": "t", "NewExecutionState": state})
    assert out.checkpoint_token == "t"
    assert out.new_execution_state == CheckpointUpdatedExecutionState([Operation.from_dict(op_dict)], "m")
    assert CheckpointOutput.from_dict({}) == CheckpointOutput(None, CheckpointUpdatedExecutionState())
    assert StateOutput.from_dict({"Operations": None}) == StateOutput([], None)
    assert StateOutput.from_dict({"Operations": [op_dict], "NextMarker": "n"}).operations[0].operation_id == "1"
    assert StateOutput().operations is not StateOutput().operations


# --- LambdaClient ---------------------------------------------------------------------------


def test_lambda_client_refuses_to_reach_aws() -> None:
    with pytest.raises(NotImplementedError, match=r"no AWS Lambda service.*durable\.engine\.Engine"):
        LambdaClient.initialize_client()
    with pytest.raises(NotImplementedError, match="no AWS Lambda service"):
        LambdaClient()


class StubLambda:
    """Stands in for a boto3 Lambda client: records calls, answers or fails."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def checkpoint_durable_execution(self, **kwargs: Any) -> MutableMapping[str, Any]:
        self.calls.append(("checkpoint", kwargs))
        if self.error:
            raise self.error
        operation = {"Id": "1", "Type": "WAIT", "Status": "STARTED"}
        return {"CheckpointToken": "next", "NewExecutionState": {"Operations": [operation]}}

    def get_durable_execution_state(self, **kwargs: Any) -> MutableMapping[str, Any]:
        self.calls.append(("state", kwargs))
        if self.error:
            raise self.error
        return {"Operations": [], "NextMarker": "more"}


def test_lambda_client_with_an_injected_client_calls_it_as_the_sdk_does() -> None:
    stub = StubLambda()
    client = LambdaClient(stub)
    update = OperationUpdate.create_step_start(IDENT)
    out = client.checkpoint("arn", "tok", [update], "ct")
    assert out.checkpoint_token == "next"
    assert out.new_execution_state.operations[0].operation_type is OperationType.WAIT
    state = client.get_execution_state("arn", "tok", "mk")
    assert state == StateOutput([], "more")
    assert stub.calls == [
        ("checkpoint", {"DurableExecutionArn": "arn", "CheckpointToken": "tok", "Updates": [update.to_dict()],
                        "ClientToken": "ct"}),
        ("state", {"DurableExecutionArn": "arn", "CheckpointToken": "tok", "Marker": "mk", "MaxItems": 1000}),
    ]
    client.checkpoint("arn", "tok", [], None)
    assert "ClientToken" not in stub.calls[-1][1]


def test_lambda_client_errors(caplog: pytest.LogCaptureFixture) -> None:
    client = LambdaClient(StubLambda())
    with pytest.raises(CheckpointError, match="without a checkpoint token"):
        client.checkpoint("arn", "", [], None)
    with pytest.raises(GetExecutionStateError, match="without a checkpoint token"):
        client.get_execution_state("arn", "", "m")
    rejected = RuntimeError("rejected")
    rejected.response = {  # type: ignore[attr-defined]
        "Error": {"Code": "InvalidParameterValueException", "Message": "no"},
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }
    failing = LambdaClient(StubLambda(rejected))
    with caplog.at_level(logging.ERROR, logger=ls.__name__), pytest.raises(CheckpointError) as caught:
        failing.checkpoint("arn", "tok", [], None)
    assert caught.value.error_category is DurableApiErrorCategory.EXECUTION
    assert caught.value.__suppress_context__
    assert "Failed to checkpoint." in caplog.text
    with caplog.at_level(logging.ERROR, logger=ls.__name__), pytest.raises(GetExecutionStateError) as state_error:
        LambdaClient(StubLambda(RuntimeError("down"))).get_execution_state("arn", "tok", "m")
    assert state_error.value.is_retryable()


def test_the_lambda_invocation_envelope_round_trips_through_json() -> None:
    from durable.execution import (
        DurableExecutionInvocationInput,
        DurableExecutionInvocationInputWithClient,
        handle_checkpoint_error,
    )

    event = {
        "DurableExecutionArn": "arn:example",
        "CheckpointToken": "t1",
        "InitialExecutionState": {
            "Operations": [{"Id": "1", "Type": "STEP", "Status": "SUCCEEDED", "StartTimestamp": 1700000000000}],
            "NextMarker": "m",
        },
        "UpdatedOperationIds": ["1"],
    }
    parsed = DurableExecutionInvocationInput.from_json_dict(event)
    assert parsed.initial_execution_state.operations[0].start_timestamp == datetime.datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=datetime.UTC
    )
    assert parsed.to_json_dict() == event
    client: Any = object()
    with_client = DurableExecutionInvocationInputWithClient.from_durable_execution_invocation_input(parsed, client)
    assert with_client.service_client is client and with_client.updated_operation_ids == ["1"]
    failed = handle_checkpoint_error(CheckpointError("bad input", DurableApiErrorCategory.EXECUTION))
    assert failed.to_dict()["Status"] == "FAILED" and failed.to_dict()["Error"]["ErrorMessage"] == "bad input"
    with pytest.raises(CheckpointError, match="try again"):
        handle_checkpoint_error(CheckpointError("try again"))
