"""Tests for serialization: custom SerDes classes, extended types, pass-through and JSON serdes, filesystem serdes."""

import json
import os

import pytest

from durable.execution import InvocationStatus
from durable.serdes import ExtendedTypeSerDes
from tests.sdk_examples.functions import custom_serdes, extended_types, filesystem_serdes, passthrough_serdes
from tests.sdk_examples.payloads import deserialize_operation_payload


@pytest.mark.example
@pytest.mark.durable_execution(handler=custom_serdes.handler, lambda_function_name="custom serdes")
def test_custom_serdes(durable_runner):
    """The step stores what InvoiceSerDes.serialize wrote and returns what deserialize rebuilt."""
    with durable_runner:
        result = durable_runner.run(input={"number": "INV-1"}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {"type": "Invoice", "number": "INV-1", "amount": 1250}
    stored = result.get_step("create_invoice").result
    assert stored == '{"invoice": {"number": "INV-1", "amount_cents": 1250}, "op": true}'
    invoice = deserialize_operation_payload(stored, custom_serdes.InvoiceSerDes())
    assert invoice == custom_serdes.Invoice(number="INV-1", amount_cents=1250)


@pytest.mark.example
@pytest.mark.durable_execution(handler=extended_types.handler, lambda_function_name="extended types")
def test_extended_types_round_trip(durable_runner):
    """Step results keep their Python types through the checkpoint."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {
        "when": ["datetime", "2024-05-17T12:30:00+00:00"],
        "day": ["date", "2024-05-17"],
        "price": ["Decimal", "19.99"],
        "order_id": ["UUID", "12345678-1234-5678-1234-567812345678"],
        "blob": ["bytes", "000162696e617279"],
        "pair": ["tuple", [1, "two", 3.0]],
        "nested": ["tuple", "1.5", None],
        "plain": [1, "x", True, None],
    }


@pytest.mark.example
@pytest.mark.durable_execution(handler=extended_types.handler, lambda_function_name="extended types")
def test_extended_types_wire_format(durable_runner):
    """The stored payloads use the {"t": tag, "v": value} envelope, except for primitives and primitive lists."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    payloads = {op.name: op.result for op in result.operations}
    assert payloads == {
        "timestamp": '{"t":"dt","v":"2024-05-17T12:30:00+00:00"}',
        "day": '{"t":"D","v":"2024-05-17"}',
        "price": '{"t":"d","v":"19.99"}',
        "order_id": '{"t":"u","v":"12345678-1234-5678-1234-567812345678"}',
        "blob": '{"t":"B","v":"AAFiaW5hcnk="}',
        "pair": '{"t":"t","v":[{"t":"i","v":1},{"t":"s","v":"two"},{"t":"f","v":3.0}]}',
        "nested": (
            '{"t":"m","v":{"tags":{"t":"t","v":[{"t":"s","v":"a"},{"t":"s","v":"b"}]},'
            '"amounts":{"t":"l","v":[{"t":"d","v":"1.5"}]},"none":{"t":"n","v":null}}}'
        ),
        "plain_list": '[1,"x",true,null]',
    }
    serdes = ExtendedTypeSerDes()
    assert serdes.deserialize(payloads["pair"]) == (1, "two", 3.0)
    assert serdes.deserialize(payloads["blob"]) == b"\x00\x01binary"
    assert serdes.serialize(serdes.deserialize(payloads["nested"])) == payloads["nested"]


@pytest.mark.example
@pytest.mark.durable_execution(handler=passthrough_serdes.handler, lambda_function_name="passthrough serdes")
def test_passthrough_and_json_serdes(durable_runner):
    """PassThroughSerDes stores the string as is; JsonSerDes stores plain json.dumps output."""
    with durable_runner:
        result = durable_runner.run(input=None, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {
        "raw": "already-serialized <xml/>",
        "as_json": {"a": [1, 2], "b": None},
        "default": {"a": [1, 2], "b": None},
    }
    assert result.get_step("raw_text").result == "already-serialized <xml/>"
    assert result.get_step("plain_json").result == '{"a": [1, 2], "b": null}'
    assert result.get_step("default_serdes").result == (
        '{"t":"m","v":{"a":{"t":"l","v":[{"t":"i","v":1},{"t":"i","v":2}]},"b":{"t":"n","v":null}}}'
    )


@pytest.mark.example
@pytest.mark.durable_execution(handler=filesystem_serdes.handler, lambda_function_name="filesystem serdes")
def test_filesystem_serdes(durable_runner, tmp_path):
    """ALWAYS mode writes a file and checkpoints a pointer plus a preview; OVERFLOW keeps small data inline."""
    with durable_runner:
        result = durable_runner.run(input={"base_path": str(tmp_path)}, timeout=10)

    assert result.status is InvocationStatus.SUCCEEDED
    assert json.loads(result.result) == {
        "document": {"customer": "ACME", "card": "4111", "lines": [0, 1, 2, 3, 4]},
        "small": {"ok": True},
    }
    pointer = json.loads(result.get_step("big_document").result)
    assert set(pointer) == {"file", "sha256", "preview"}  # sha256: ours, checked on every read (docs/compat.md)
    assert pointer["preview"] == {"customer": "ACME", "card": "***"}
    assert pointer["file"].startswith(str(tmp_path))
    assert os.path.basename(pointer["file"]).endswith(".json")
    assert len(os.path.basename(pointer["file"])) == 64 + len(".json")  # HASH path encoding
    with open(pointer["file"], encoding="utf-8") as f:
        assert ExtendedTypeSerDes().deserialize(f.read())["customer"] == "ACME"

    inline = json.loads(result.get_step("small_document").result)
    assert inline == {"data": '{"t":"m","v":{"ok":{"t":"b","v":true}}}'}
