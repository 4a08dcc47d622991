"""FileSystemSerDes: values in files, a reference in the checkpoint, and refusals that name the file."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from durable import DurableContext, durable_execution
from durable.config import Duration, StepConfig
from durable.exceptions import ExecutionError, SerDesError
from durable.execution import InvocationStatus
from durable.filesystem_serdes import (
    FileSystemPathEncoding,
    FileSystemSerDes,
    FileSystemSerDesConfig,
    FileSystemSerDesMode,
)
from durable.serdes import EXTENDED_TYPES_SERDES, JsonSerDes, SerDes, SerDesContext
from durable.testing import DurableFunctionTestRunner

pytestmark = pytest.mark.timeout(60)

AWS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST/durable-execution/exec-1/inv-9"
CTX = SerDesContext("2-1", "exec/one")
VALUE = {"when": (1, 2), "name": "x"}


def _envelope(payload: str) -> dict[str, Any]:
    envelope = json.loads(payload)
    assert isinstance(envelope, dict)
    return envelope


def test_always_mode_writes_the_value_to_a_file_and_the_checkpoint_holds_its_path_and_digest(tmp_path: Path) -> None:
    serdes = FileSystemSerDes(str(tmp_path))
    payload = serdes.serialize(VALUE, CTX)
    envelope = _envelope(payload)
    path = tmp_path / "exec%2Fone" / "2-1.json"  # the ARN and the operation id, percent-encoded
    assert envelope == {"file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    assert payload == json.dumps(envelope), "json.dumps with its default separators, as the AWS SDK writes it"
    assert path.read_text() == EXTENDED_TYPES_SERDES.serialize(VALUE, CTX)
    assert serdes.deserialize(payload, CTX) == VALUE
    assert [p.name for p in path.parent.iterdir()] == ["2-1.json"], "no temporary file left behind"


def test_uri_paths_use_the_parts_of_an_aws_execution_arn(tmp_path: Path) -> None:
    envelope = _envelope(FileSystemSerDes(str(tmp_path)).serialize(1, SerDesContext("a b/c", AWS_ARN)))
    assert envelope["file"] == str(tmp_path / "orders" / "exec-1" / "inv-9" / "a%20b%2Fc.json")


def test_hash_paths_are_sha256_digests(tmp_path: Path) -> None:
    config = FileSystemSerDesConfig(path_encoding=FileSystemPathEncoding.HASH)
    envelope = _envelope(FileSystemSerDes(str(tmp_path), config).serialize(1, SerDesContext("7", AWS_ARN)))
    digest = hashlib.sha256
    assert envelope["file"] == str(tmp_path / digest(AWS_ARN.encode()).hexdigest() / f"{digest(b'7').hexdigest()}.json")


def test_overflow_mode_keeps_small_values_inline_and_writes_large_ones_to_a_file(tmp_path: Path) -> None:
    serdes = FileSystemSerDes(str(tmp_path), FileSystemSerDesConfig(storage_mode=FileSystemSerDesMode.OVERFLOW))
    small = serdes.serialize(VALUE, CTX)
    assert small == json.dumps({"data": EXTENDED_TYPES_SERDES.serialize(VALUE, CTX)})
    assert serdes.deserialize(small, CTX) == VALUE
    assert not any(tmp_path.iterdir()), "nothing written for an inline value"

    large = "x" * (256 * 1024)
    envelope = _envelope(serdes.serialize(large, CTX))
    assert set(envelope) == {"file", "sha256"}
    assert serdes.deserialize(json.dumps(envelope), CTX) == large


def test_a_preview_is_stored_beside_the_file_reference_when_there_is_one(tmp_path: Path) -> None:
    def preview(value: Any) -> dict[str, Any] | None:
        return {"keys": sorted(value)} if isinstance(value, dict) else None

    serdes = FileSystemSerDes(str(tmp_path), FileSystemSerDesConfig(generate_preview=preview))
    assert _envelope(serdes.serialize(VALUE, CTX))["preview"] == {"keys": ["name", "when"]}
    assert "preview" not in _envelope(serdes.serialize([1], CTX))


def test_the_value_serdes_is_configurable(tmp_path: Path) -> None:
    serdes = FileSystemSerDes(str(tmp_path), FileSystemSerDesConfig(serdes=JsonSerDes()))
    payload = serdes.serialize({"a": [1, 2]}, CTX)
    assert Path(_envelope(payload)["file"]).read_text() == '{"a": [1, 2]}'
    assert serdes.deserialize(payload, CTX) == {"a": [1, 2]}


def test_a_reference_written_by_the_aws_sdk_without_a_digest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "value.json"
    path.write_text('{"t":"t","v":[{"t":"i","v":1}]}')
    serdes = FileSystemSerDes(str(tmp_path))
    assert serdes.deserialize(json.dumps({"file": str(path), "preview": {"n": 1}}), CTX) == (1,)
    assert serdes.deserialize(json.dumps({"data": "[1,2]"}), CTX) == [1, 2]


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    serdes = FileSystemSerDes(str(tmp_path))
    payload = serdes.serialize(VALUE, CTX)
    path = _envelope(payload)["file"]
    os.remove(path)
    with pytest.raises(SerDesError, match="missing") as caught:
        serdes.deserialize(payload, CTX)
    assert path in str(caught.value) and "2-1" in str(caught.value)


def test_an_altered_file_is_an_error_naming_it(tmp_path: Path) -> None:
    serdes = FileSystemSerDes(str(tmp_path))
    payload = serdes.serialize({"amount": 10}, CTX)
    path = Path(_envelope(payload)["file"])
    path.write_text(EXTENDED_TYPES_SERDES.serialize({"amount": 10_000}, CTX))  # still valid, but not what was written
    with pytest.raises(SerDesError, match="changed after it was written") as caught:
        serdes.deserialize(payload, CTX)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    "where",
    [
        lambda base: str(base / ".." / "outside.json"),
        lambda base: str(base.parent / "outside.json"),
        lambda base: "/etc/passwd",
        lambda base: str(base / "link" / "outside.json"),  # a symbolic link inside the base to outside it
    ],
)
def test_a_reference_outside_the_base_directory_is_refused(tmp_path: Path, where: Any) -> None:
    base = tmp_path / "base"
    base.mkdir()
    (tmp_path / "outside.json").write_text("1")
    (base / "link").symlink_to(tmp_path)
    path = where(base)
    with pytest.raises(SerDesError, match="outside the base directory") as caught:
        FileSystemSerDes(str(base)).deserialize(json.dumps({"file": path}), CTX)
    assert path in str(caught.value)


@pytest.mark.parametrize("payload", ["not json", "[1]", '{"other": 1}', '{"file": 5}', '{"data": 5}'])
def test_a_payload_that_is_not_an_envelope_is_refused(tmp_path: Path, payload: str) -> None:
    with pytest.raises(SerDesError, match="2-1"):
        FileSystemSerDes(str(tmp_path)).deserialize(payload, CTX)


def test_names_that_would_leave_the_base_directory_are_refused_when_writing(tmp_path: Path) -> None:
    base = tmp_path / "base"
    with pytest.raises(SerDesError, match="outside the base directory"):
        FileSystemSerDes(str(base)).serialize(1, SerDesContext("1", ".."))
    assert not (tmp_path / "1.json").exists()


def test_a_value_that_cannot_be_serialized_leaves_no_file(tmp_path: Path) -> None:
    class Failing(SerDes[Any]):
        def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
            raise ValueError("no")

        def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
            return data

    with pytest.raises(ValueError, match="no"):
        FileSystemSerDes(str(tmp_path), FileSystemSerDesConfig(serdes=Failing())).serialize(1, CTX)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_rewrite_replaces_the_file_whole(tmp_path: Path) -> None:
    serdes = FileSystemSerDes(str(tmp_path))
    first = serdes.serialize("a" * 1000, CTX)
    second = serdes.serialize("b", CTX)
    assert _envelope(first)["file"] == _envelope(second)["file"]
    assert serdes.deserialize(second, CTX) == "b"
    with pytest.raises(SerDesError, match="changed after it was written"):
        serdes.deserialize(first, CTX)


def _handler(base: Path, tamper: Any) -> Any:
    invocations: list[int] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        invocations.append(1)
        serdes = FileSystemSerDes(str(base))
        value = context.step(lambda _: {"rows": list(range(3))}, name="load", config=StepConfig(serdes=serdes))
        if len(invocations) == 1:
            tamper(base / context.execution_context.durable_execution_arn / "1.json")
        context.wait(Duration.from_seconds(1))
        return value

    return handler


def test_a_step_value_lives_in_a_file_and_replay_reads_it_back(tmp_path: Path) -> None:
    with DurableFunctionTestRunner(_handler(tmp_path, lambda path: None)) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result or "") == {"rows": [0, 1, 2]}
    envelope = _envelope(result.get_step("load").result or "")
    assert envelope["file"] == str(tmp_path / result.execution_arn / "1.json")


TAMPERING = [
    pytest.param(os.remove, "is missing", id="missing"),
    pytest.param(lambda path: path.write_text('{"t":"m","v":{}}'), "was changed after it was written", id="altered"),
]


@pytest.mark.parametrize(("tamper", "cause"), TAMPERING)
def test_replay_of_a_missing_or_altered_file_fails_the_execution(tmp_path: Path, tamper: Any, cause: str) -> None:
    with DurableFunctionTestRunner(_handler(tmp_path, tamper)) as runner:
        result = runner.run()
    assert result.status is InvocationStatus.FAILED and result.error is not None
    assert (result.error.type, result.error.message) == ("ExecutionError", "Deserialization failed for id: 1")


@pytest.mark.parametrize(("tamper", "cause"), TAMPERING)
def test_the_handler_gets_an_execution_error_caused_by_an_error_naming_the_file(
    tmp_path: Path, tamper: Any, cause: str
) -> None:
    """The SDK's message is fixed ("Deserialization failed for id: 1"); what is wrong, and where, is its cause."""
    causes: list[BaseException | None] = []
    inner = _handler(tmp_path, tamper)

    @durable_execution
    def catching(event: Any, context: DurableContext) -> Any:
        try:
            return inner(event, context)
        except ExecutionError as error:
            causes.append(error.__cause__)
            return str(error)

    with DurableFunctionTestRunner(catching) as runner:
        result = runner.run()
    assert json.loads(result.result or "") == "Deserialization failed for id: 1"
    [error] = causes
    assert isinstance(error, SerDesError)
    assert str(tmp_path / result.execution_arn / "1.json") in str(error) and cause in str(error)
