"""Serialization: the wire format, round trips, and which serdes each operation uses.

The expected payloads below were produced by the AWS Durable Execution SDK for
Python (commit f7cc397) from the same values, so a payload written by either
implementation reads the same in the other.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from durable import DurableContext, durable_execution
from durable.concurrency.models import BatchItem, BatchItemStatus, BatchResult, CompletionReason
from durable.config import (
    CallbackConfig,
    ChildConfig,
    CompletionConfig,
    Duration,
    InvokeConfig,
    MapConfig,
    ParallelConfig,
    StepConfig,
    WaitForCallbackConfig,
)
from durable.core.records import ErrorObject, OperationStatus
from durable.exceptions import (
    ChildContextError,
    DurableExecutionsError,
    ExecutionError,
    SerDesError,
    WaitForConditionError,
)
from durable.execution import InvocationStatus
from durable.serdes import (
    DEFAULT_JSON_SERDES,
    EXTENDED_TYPES_SERDES,
    TYPE_CODEC,
    ContainerCodec,
    EncodedValue,
    ExtendedTypeSerDes,
    JsonSerDes,
    PassThroughSerDes,
    SerDes,
    SerDesContext,
    TypeTag,
    _envelope,
    _plain,
    deserialize,
    serialize,
)
from durable.testing import DurableFunctionTestResult, DurableFunctionTestRunner, StepOperation
from durable.waits import WaitForConditionConfig, WaitForConditionDecision

pytestmark = pytest.mark.timeout(60)

CTX = SerDesContext("op-1", "arn:test")
EXT = ExtendedTypeSerDes[Any]()


class Small(enum.IntEnum):
    THREE = 3


class Colour(enum.StrEnum):
    RED = "red"


Pair = collections.namedtuple("Pair", "a b")

# value -> the payload the AWS SDK writes for it
WIRE: list[tuple[str, Any, str]] = [
    ("None", None, "null"),
    ("str", 'hé\u2028"x', '"h\\u00e9\\u2028\\"x"'),
    ("int", 7, "7"),
    ("big int", 2**80, "1208925819614629174706176"),
    ("float", 1.5, "1.5"),
    ("bool", True, "true"),
    ("NaN", math.nan, "NaN"),
    ("infinity", math.inf, "Infinity"),
    ("-infinity", -math.inf, "-Infinity"),
    ("IntEnum", Small.THREE, "3"),
    ("StrEnum", Colour.RED, '"red"'),
    ("empty list", [], "[]"),
    ("list of scalars", [1, "a", None, [2.5, [True]]], '[1,"a",null,[2.5,[true]]]'),
    ("list with NaN", [math.nan, 1], "[NaN,1]"),
    ("empty dict", {}, '{"t":"m","v":{}}'),
    (
        "dict",
        {"a": 1, "b": [1, 2], "c": {"d": None}},
        '{"t":"m","v":{"a":{"t":"i","v":1},"b":{"t":"l","v":[{"t":"i","v":1},{"t":"i","v":2}]},'
        '"c":{"t":"m","v":{"d":{"t":"n","v":null}}}}}',
    ),
    ("dict with NaN", {"n": math.nan}, '{"t":"m","v":{"n":{"t":"f","v":NaN}}}'),
    (
        "dict with enums",
        {"e": Small.THREE, "s": Colour.RED},
        '{"t":"m","v":{"e":{"t":"i","v":3},"s":{"t":"s","v":"red"}}}',
    ),
    (
        "dict shaped like an envelope",
        {"t": "i", "v": 1},
        '{"t":"m","v":{"t":{"t":"s","v":"i"},"v":{"t":"i","v":1}}}',
    ),
    (
        "non-str keys",
        {1: "x", 2.5: "y", None: 0},
        '{"t":"m","v":{"1":{"t":"s","v":"x"},"2.5":{"t":"s","v":"y"},"null":{"t":"i","v":0}}}',
    ),
    ("OrderedDict", collections.OrderedDict(a=1), '{"t":"m","v":{"a":{"t":"i","v":1}}}'),
    ("tuple", (1, "x"), '{"t":"t","v":[{"t":"i","v":1},{"t":"s","v":"x"}]}'),
    ("empty tuple", (), '{"t":"t","v":[]}'),
    ("namedtuple", Pair(1, 2), '{"t":"t","v":[{"t":"i","v":1},{"t":"i","v":2}]}'),
    (
        "list holding a tuple",
        [1, (2, 3)],
        '{"t":"l","v":[{"t":"i","v":1},{"t":"t","v":[{"t":"i","v":2},{"t":"i","v":3}]}]}',
    ),
    ("list holding a dict", [{"a": 1}], '{"t":"l","v":[{"t":"m","v":{"a":{"t":"i","v":1}}}]}'),
    ("bytes", b"hi\x00\xff", '{"t":"B","v":"aGkA/w=="}'),
    ("empty bytes", b"", '{"t":"B","v":""}'),
    ("bytearray", bytearray(b"ab"), '{"t":"B","v":"YWI="}'),
    ("memoryview", memoryview(b"xyz"), '{"t":"B","v":"eHl6"}'),
    ("UUID", uuid.UUID(int=1), '{"t":"u","v":"00000000-0000-0000-0000-000000000001"}'),
    ("Decimal", decimal.Decimal("1.10"), '{"t":"d","v":"1.10"}'),
    ("Decimal exponent", decimal.Decimal("-1E+5"), '{"t":"d","v":"-1E+5"}'),
    ("Decimal NaN", decimal.Decimal("NaN"), '{"t":"d","v":"NaN"}'),
    ("naive datetime", datetime.datetime(2024, 1, 2, 3, 4, 5, 123456), '{"t":"dt","v":"2024-01-02T03:04:05.123456"}'),
    (
        "aware datetime",
        datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30))),
        '{"t":"dt","v":"2024-01-02T03:04:05+05:30"}',
    ),
    ("date", datetime.date(2024, 1, 2), '{"t":"D","v":"2024-01-02"}'),
    (
        "nested",
        {"when": datetime.date(2020, 2, 29), "ids": (uuid.UUID(int=2),), "blob": {"b": b"q"}},
        '{"t":"m","v":{"when":{"t":"D","v":"2020-02-29"},'
        '"ids":{"t":"t","v":[{"t":"u","v":"00000000-0000-0000-0000-000000000002"}]},'
        '"blob":{"t":"m","v":{"b":{"t":"B","v":"cQ=="}}}}}',
    ),
    (
        "empty BatchResult",
        BatchResult([], CompletionReason.ALL_COMPLETED),
        '{"t":"br","v":{"all":{"t":"l","v":[]},"completionReason":{"t":"s","v":"ALL_COMPLETED"}}}',
    ),
    (
        "BatchResult",
        BatchResult(
            [
                BatchItem(0, BatchItemStatus.SUCCEEDED, {"x": datetime.date(2024, 1, 1)}),
                BatchItem(2, BatchItemStatus.STARTED),
            ],
            CompletionReason.MIN_SUCCESSFUL_REACHED,
        ),
        '{"t":"br","v":{"all":{"t":"l","v":[{"t":"m","v":{"index":{"t":"i","v":0},"status":{"t":"s","v":"SUCCEEDED"},'
        '"result":{"t":"m","v":{"x":{"t":"D","v":"2024-01-01"}}},"error":{"t":"n","v":null}}},'
        '{"t":"m","v":{"index":{"t":"i","v":2},"status":{"t":"s","v":"STARTED"},"result":{"t":"n","v":null},'
        '"error":{"t":"n","v":null}}}]},"completionReason":{"t":"s","v":"MIN_SUCCESSFUL_REACHED"}}}',
    ),
]


@pytest.mark.parametrize(("value", "wire"), [pytest.param(v, w, id=name) for name, v, w in WIRE])
def test_the_extended_serdes_writes_what_the_aws_sdk_writes(value: Any, wire: str) -> None:
    assert EXT.serialize(value, CTX) == wire
    assert EXTENDED_TYPES_SERDES.serialize(value, CTX) == wire
    assert serialize(None, value, "op-1", "arn:test") == wire, "no serdes means the extended one"


def _same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to itself and every nested type kept."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, decimal.Decimal) and a.is_nan():
        return b.is_nan()
    return bool(a == b)


@pytest.mark.parametrize(
    ("value", "back"),
    [
        (b"x", b"x"),
        (bytearray(b"x"), b"x"),  # every bytes-like comes back as bytes
        (memoryview(b"x"), b"x"),
        (Pair(1, 2), (1, 2)),  # a namedtuple comes back as a plain tuple
        ({1: "x", None: "y", 2.5: "z"}, {"1": "x", "null": "y", "2.5": "z"}),  # keys come back as JSON text
        (collections.OrderedDict(a=1), {"a": 1}),
        (Small.THREE, 3),
        (Colour.RED, "red"),
        ([math.nan], [math.nan]),
        ({"t": "i", "v": 1}, {"t": "i", "v": 1}),  # a user dict shaped like an envelope survives
        (decimal.Decimal("NaN"), decimal.Decimal("NaN")),
    ],
)
def test_values_read_back_as_the_aws_sdk_reads_them(value: Any, back: Any) -> None:
    assert _same(EXT.deserialize(EXT.serialize(value, CTX), CTX), back)


# A zone name (and the fold of an ambiguous local time) is not written, only the offset: fixed offsets round-trip.
FIXED_OFFSETS = st.sampled_from(
    [
        datetime.UTC,
        datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
        datetime.timezone(-datetime.timedelta(hours=7)),
    ]
)
extended_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(max_size=8) | st.uuids()
    | st.decimals(allow_nan=False) | st.datetimes() | st.datetimes(timezones=FIXED_OFFSETS) | st.dates(),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)


@given(extended_values)
def test_every_supported_value_round_trips_with_its_types(value: Any) -> None:
    assert _same(EXT.deserialize(EXT.serialize(value, CTX), CTX), value)


@given(extended_values | st.builds(lambda items: BatchResult(
    [BatchItem(i, BatchItemStatus.SUCCEEDED, item) for i, item in enumerate(items)], CompletionReason.ALL_COMPLETED
), st.lists(extended_values, max_size=3)))
def test_the_one_pass_envelope_writes_what_the_codecs_write(value: Any) -> None:
    """Builtin types take a direct path to their envelope; its text is the codecs' to the byte."""
    assert json.dumps(_envelope(value)) == json.dumps(_plain(TYPE_CODEC.encode(value)))


def test_a_batch_result_round_trips_with_its_items_errors_and_reason() -> None:
    batch = BatchResult(
        [
            BatchItem(0, BatchItemStatus.SUCCEEDED, (1, decimal.Decimal("2.50"))),
            BatchItem(1, BatchItemStatus.FAILED, None, ErrorObject("boom", "ValueError", "data")),
            BatchItem(2, BatchItemStatus.STARTED),
        ],
        CompletionReason.FAILURE_TOLERANCE_EXCEEDED,
    )
    back = EXT.deserialize(EXT.serialize(batch, CTX), CTX)
    assert isinstance(back, BatchResult)
    assert back == batch
    assert back.to_dict() == batch.to_dict()
    assert back.get_results() == [(1, decimal.Decimal("2.50"))]


def test_a_batch_result_without_a_reason_gets_one_from_its_items() -> None:
    succeeded = {"index": 0, "status": "SUCCEEDED", "result": 1, "error": None}
    failed = {"index": 1, "status": "FAILED", "result": None, "error": {"ErrorMessage": "x"}}
    started = {"index": 2, "status": "STARTED", "result": None, "error": None}
    assert BatchResult.from_dict({"all": [succeeded]}).completion_reason is CompletionReason.ALL_COMPLETED
    # with no criteria a single failure exceeds the tolerance
    assert BatchResult.from_dict({"all": [succeeded, failed]}).completion_reason is (
        CompletionReason.FAILURE_TOLERANCE_EXCEEDED
    )
    tolerant = CompletionConfig(tolerated_failure_count=1)
    assert BatchResult.from_dict({"all": [succeeded, failed]}, tolerant).completion_reason is (
        CompletionReason.ALL_COMPLETED
    )
    enough = CompletionConfig(min_successful=1)
    assert BatchResult.from_dict({"all": [succeeded, started]}, enough).completion_reason is (
        CompletionReason.MIN_SUCCESSFUL_REACHED
    )
    wire = '{"t":"br","v":{"all":{"t":"l","v":[]}}}'
    assert EXT.deserialize(wire, CTX) == BatchResult([], CompletionReason.ALL_COMPLETED)


@pytest.mark.parametrize(
    ("data", "value"),
    [
        ('{"t":"dt","v":"2024-01-02T03:04:05Z"}', datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)),
        ('{"t":"m","v":{"a":1}}', {"a": 1}),  # an element that is not an envelope is taken as it is
        ('{"t":"i","v":"12"}', 12),
        ('{"t":"s","v":5}', "5"),
        ('{"t":"n","v":5}', None),
        ('"x"', "x"),
        ("NaN", None),
    ],
)
def test_lenient_reads_match_the_aws_sdk(data: str, value: Any) -> None:
    back = EXT.deserialize(data, CTX)
    if data == "NaN":
        assert math.isnan(back)
    else:
        assert back == value and type(back) is type(value)


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ('{"a":1}', SerDesError, 'Malformed envelope: missing "t" or "v" at root.'),
        ('[1,{"a":1}]', SerDesError, 'Malformed envelope: missing "t" or "v" at root.'),
        ('{"t":"i"}', SerDesError, 'Malformed envelope: missing "t" or "v" at root.'),
        ('{"t":"zz","v":1}', SerDesError, 'Unknown type tag: "zz"'),
        ('{"t":["x"],"v":1}', SerDesError, "Unknown type tag: \"['x']\""),
        ('{"t":"l","v":{}}', SerDesError, "Expected list, got <class 'dict'>"),
        ('{"t":"m","v":[1]}', SerDesError, "Expected dict, got <class 'list'>"),
        ('{"t":"l","v":[{"t":"q","v":1}]}', ValueError, "'q' is not a valid TypeTag"),
        ('{"t":"u","v":"nope"}', ValueError, "badly formed hexadecimal UUID string"),
        ("not json", json.JSONDecodeError, "Expecting value"),
    ],
)
def test_unreadable_payloads_raise_what_the_aws_sdk_raises(data: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as caught:
        EXT.deserialize(data, CTX)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ({1, 2}, SerDesError, "Unsupported type: <class 'set'>"),
        (frozenset(), SerDesError, "Unsupported type: <class 'frozenset'>"),
        ({"x": [object()]}, SerDesError, "Unsupported type: <class 'object'>"),
        (1j, SerDesError, "Unsupported type: <class 'complex'>"),
        ({(1, 2): "x"}, SerDesError, "Tuple keys not supported"),
        ({datetime.date(2020, 1, 1): 1}, TypeError, "keys must be str, int, float, bool or None, not date"),
        ({b"k": 1}, TypeError, "keys must be str, int, float, bool or None, not bytes"),
    ],
)
def test_unsupported_values_raise_what_the_aws_sdk_raises(value: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        EXT.serialize(value, CTX)


def test_the_codecs_are_public_and_tag_what_they_encode() -> None:
    assert {tag.name: tag.value for tag in TypeTag} == {
        "NONE": "n", "STR": "s", "INT": "i", "FLOAT": "f", "BOOL": "b", "BYTES": "B", "UUID": "u",
        "DECIMAL": "d", "DATETIME": "dt", "DATE": "D", "TUPLE": "t", "LIST": "l", "DICT": "m", "BATCH_RESULT": "br",
    }
    assert TYPE_CODEC.encode((1,)) == EncodedValue(TypeTag.TUPLE, [EncodedValue(TypeTag.INT, 1)])
    assert TYPE_CODEC.decode(TypeTag.DATE, "2024-01-02") == datetime.date(2024, 1, 2)
    with pytest.raises(DurableExecutionsError, match="not linked"):
        ContainerCodec().encode([1])


def test_json_serdes_is_plain_json_dumps() -> None:
    serdes = JsonSerDes[Any]()
    assert serdes.serialize({"a": [1, 2]}, CTX) == '{"a": [1, 2]}'
    assert serdes.serialize(math.nan, CTX) == "NaN"
    assert serdes.deserialize('{"a": 1}', CTX) == {"a": 1}
    assert DEFAULT_JSON_SERDES.serialize((1, 2), CTX) == "[1, 2]"
    with pytest.raises(TypeError):
        serdes.serialize({1, 2}, CTX)


def test_pass_through_hands_values_over_untouched() -> None:
    serdes = PassThroughSerDes[Any]()
    payload = '{"ok": true}'
    assert serdes.serialize(payload, CTX) is payload
    assert serdes.deserialize(payload, CTX) is payload


def test_is_primitive_means_json_scalars_and_lists_of_them() -> None:
    assert all(SerDes.is_primitive(v) for v in (None, "a", 1, 1.5, True, [], [1, ["a", [None]]]))
    assert not any(SerDes.is_primitive(v) for v in ((1,), {"a": 1}, [1, (2,)], [{"a": 1}], b"x"))


def test_serdes_context_defaults() -> None:
    assert SerDesContext() == SerDesContext("", "")
    assert SerDesContext("7", "arn").operation_id == "7"
    assert SerDesContext("7", "arn").durable_execution_arn == "arn"



# --- subclassing, and the module-level functions ---------------------------------------------------------------


class Money:
    def __init__(self, cents: int, currency: str) -> None:
        self.cents, self.currency = cents, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (self.cents, self.currency) == (other.cents, other.currency)

    __hash__ = None  # type: ignore[assignment]


class MoneySerDes(SerDes[Money]):
    def serialize(self, value: Money, serdes_context: SerDesContext) -> str:
        return f"{value.cents} {value.currency}"

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Money:
        cents, currency = data.split()
        return Money(int(cents), currency)


def test_serdes_is_generic_and_abstract() -> None:
    assert SerDes[int] is not None and JsonSerDes[dict[str, int]]() is not None
    with pytest.raises(TypeError):
        SerDes()  # type: ignore[abstract]
    serdes = MoneySerDes()
    assert serdes.deserialize(serdes.serialize(Money(250, "EUR"), CTX), CTX) == Money(250, "EUR")


def test_a_typed_serdes_carries_a_custom_type_through_a_step_and_its_replay() -> None:
    seen: list[Any] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        price = context.step(lambda _: Money(250, "EUR"), name="price", config=StepConfig(serdes=MoneySerDes()))
        seen.append(price)
        context.wait(Duration.from_seconds(1))
        return f"{price.cents} {price.currency}"

    result = _run(handler)
    assert result.status is InvocationStatus.SUCCEEDED and result.result == '"250 EUR"'
    assert result.get_step("price").result == "250 EUR"
    assert seen == [Money(250, "EUR"), Money(250, "EUR")]


def test_the_module_functions_wrap_failures_in_execution_errors_naming_the_operation() -> None:
    with pytest.raises(ExecutionError) as caught:
        serialize(None, {1, 2}, "7-2", "arn")
    assert str(caught.value) == "Serialization failed for id: 7-2, error: Unsupported type: <class 'set'>."
    assert isinstance(caught.value.__cause__, SerDesError)

    with pytest.raises(ExecutionError) as caught:
        deserialize(None, '{"a":1}', "7-3", "arn")
    assert str(caught.value) == "Deserialization failed for id: 7-3"
    assert str(caught.value.__cause__) == 'Malformed envelope: missing "t" or "v" at root.'

    with pytest.raises(ExecutionError, match=r"^Serialization failed for id: 9, error: Object of type set"):
        serialize(DEFAULT_JSON_SERDES, {1}, "9", "arn")
    with pytest.raises(ExecutionError, match=r"^Deserialization failed for id: 9$"):
        deserialize(None, None, "9", "arn")  # type: ignore[arg-type]


def test_the_module_functions_give_the_serdes_its_context() -> None:
    contexts: list[SerDesContext] = []

    class Spy(SerDes[Any]):
        def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
            contexts.append(serdes_context)
            return "x"

        def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
            contexts.append(serdes_context)
            return data

    serialize(Spy(), 1, "4", "arn:a")
    deserialize(Spy(), "x", "5", "arn:b")
    assert contexts == [SerDesContext("4", "arn:a"), SerDesContext("5", "arn:b")]


# --- which serdes each operation uses --------------------------------------------------------------------------


class Marked(SerDes[Any]):
    """Writes `<mark>:<extended payload>` and reads anything back as {"read_by": mark, ...}.

    So a payload shows which serdes wrote it, and a value shows whether it was read back and by whom.
    """

    def __init__(self, mark: str) -> None:
        self.mark = mark

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        return f"{self.mark}:{EXT.serialize(value, serdes_context)}"

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        prefix = f"{self.mark}:"
        if data.startswith(prefix):
            return {"read_by": self.mark, "value": EXT.deserialize(data[len(prefix):], serdes_context)}
        return {"read_by": self.mark, "raw": data}


class Exploding(SerDes[Any]):
    """The extended serdes, except that one direction raises."""

    def __init__(self, failing: str) -> None:
        self.failing = failing

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        if self.failing == "serialize":
            raise ValueError("cannot encode")
        return EXT.serialize(value, serdes_context)

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        if self.failing == "deserialize":
            raise ValueError("cannot decode")
        return EXT.deserialize(data, serdes_context)


def _run(handler: Any, event: Any = None, **functions: Any) -> DurableFunctionTestResult:
    with DurableFunctionTestRunner(handler, functions=functions) as runner:
        return runner.run(input=event, execution_timeout=3600)


def _run_with_callback(handler: Any, payload: str, name: str | None = None) -> DurableFunctionTestResult:
    with DurableFunctionTestRunner(handler) as runner:
        arn = runner.run_async(execution_timeout=3600)
        runner.send_callback_success(runner.wait_for_callback(arn, name=name), payload)
        return runner.wait_for_result(arn)


def _replayed(seen: list[Any], first: Any, replay: Any) -> None:
    assert seen == [first, replay], "the first run's value, then the value replay read from the checkpoint"


def test_a_step_result_goes_through_its_serdes_and_the_first_run_returns_it_read_back() -> None:
    seen: list[Any] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        seen.append(context.step(lambda _: {"a": (1,)}, name="plain"))
        seen.append(context.step(lambda _: [1, 2], name="marked", config=StepConfig(serdes=Marked("S"))))
        context.wait(Duration.from_seconds(1))
        return None

    result = _run(handler)
    assert result.status is InvocationStatus.SUCCEEDED and result.result == "null"
    assert result.get_step("plain").result == '{"t":"m","v":{"a":{"t":"t","v":[{"t":"i","v":1}]}}}'
    assert result.get_step("marked").result == "S:[1,2]"
    marked = {"read_by": "S", "value": [1, 2]}
    assert seen == [{"a": (1,)}, marked, {"a": (1,)}, marked]


def test_a_child_context_result_goes_through_its_serdes_and_the_first_run_returns_the_value_itself() -> None:
    seen: list[Any] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        seen.append(context.run_in_child_context(lambda _: (1, "x"), name="plain"))
        config: ChildConfig[Any] = ChildConfig(serdes=Marked("C"))
        seen.append(context.run_in_child_context(lambda _: {"k": 1}, name="marked", config=config))
        context.wait(Duration.from_seconds(1))
        return None

    result = _run(handler)
    assert result.get_context("plain").result == '{"t":"t","v":[{"t":"i","v":1},{"t":"s","v":"x"}]}'
    assert result.get_context("marked").result == 'C:{"t":"m","v":{"k":{"t":"i","v":1}}}'
    assert seen == [(1, "x"), {"k": 1}, (1, "x"), {"read_by": "C", "value": {"k": 1}}]


def _map_handler(config: MapConfig[Any] | None, seen: list[Any]) -> Any:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        seen.append(context.map([1, 2], lambda ctx, item, index, items: item * 10, name="m", config=config))
        context.wait(Duration.from_seconds(1))
        return None

    return handler


def _payloads(operations: list[Any]) -> list[Any]:
    """The payloads of these operations, in id order (branches may finish in any order)."""
    return [op.result for op in sorted(operations, key=lambda op: op.operation_id)]


def _item_payloads(result: DurableFunctionTestResult) -> list[Any]:
    return _payloads(result.get_context("m").child_operations)


def test_map_items_and_the_batch_use_the_default_serdes() -> None:
    seen: list[Any] = []
    result = _run(_map_handler(None, seen))
    assert _item_payloads(result) == ["10", "20"]
    assert (result.get_context("m").result or "").startswith('{"t":"br","v":{"all":{"t":"l","v":[{"t":"m","v":{"index"')
    first, replay = seen
    assert isinstance(first, BatchResult) and first == replay and first.get_results() == [10, 20]


def test_map_items_fall_back_to_the_batch_serdes_and_the_first_run_returns_the_batch_itself() -> None:
    seen: list[Any] = []
    result = _run(_map_handler(MapConfig(serdes=Marked("B")), seen))
    assert _item_payloads(result) == ["B:10", "B:20"], "item_serdes or serdes"
    assert (result.get_context("m").result or "").startswith('B:{"t":"br"')
    first, replay = seen
    assert isinstance(first, BatchResult) and first.get_results() == [10, 20], "the raw result, not read back"
    assert replay["read_by"] == "B" and replay["value"] == first


def test_map_item_serdes_wins_over_the_batch_serdes() -> None:
    seen: list[Any] = []
    result = _run(_map_handler(MapConfig(serdes=Marked("B"), item_serdes=Marked("I")), seen))
    assert _item_payloads(result) == ["I:10", "I:20"]
    assert (result.get_context("m").result or "").startswith('B:{"t":"br"')


def test_parallel_branches_fall_back_to_the_batch_serdes() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        batch = context.parallel([lambda _: "a", lambda _: "b"], name="p", config=ParallelConfig(serdes=Marked("P")))
        return batch.get_results()

    result = _run(handler)
    assert result.result == '["a", "b"]'
    assert _payloads(result.get_context("p").child_operations) == ['P:"a"', 'P:"b"']
    assert (result.get_context("p").result or "").startswith('P:{"t":"br"')


def test_a_callback_returns_the_payload_as_sent_unless_its_config_names_a_serdes() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        raw = context.create_callback(name="raw").result()
        return [type(raw).__name__, raw]

    result = _run_with_callback(handler, '{"ok": true}')
    assert json.loads(result.result or "") == ["str", '{"ok": true}']

    @durable_execution
    def decoded(event: Any, context: DurableContext) -> Any:
        return context.create_callback(name="json", config=CallbackConfig(serdes=JsonSerDes())).result()

    assert json.loads(_run_with_callback(decoded, '{"ok": true}').result or "") == {"ok": True}


def test_wait_for_callback_reads_the_payload_with_its_serdes_and_keeps_its_own_result_extended() -> None:
    seen: list[Any] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config = WaitForCallbackConfig(serdes=Marked("W"))
        seen.append(context.wait_for_callback(lambda callback_id, _: None, name="w", config=config))
        context.wait(Duration.from_seconds(1))
        return None

    result = _run_with_callback(handler, '{"ok": true}')
    context = result.get_context("w")
    assert _payloads([op for op in context.child_operations if isinstance(op, StepOperation)]) == ["W:null"], (
        "the submitter step uses the config's serdes"
    )
    value = {"read_by": "W", "raw": '{"ok": true}'}
    assert context.result == EXT.serialize(value, CTX), "the context's own result uses the default serdes"
    _replayed(seen, value, value)


def test_wait_for_callback_returns_the_raw_payload_by_default() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.wait_for_callback(lambda callback_id, _: None, name="w")

    result = _run_with_callback(handler, '"hello"')
    assert json.loads(result.result or "") == '"hello"'
    assert result.get_context("w").result == '"\\"hello\\""'


def test_wait_for_condition_state_goes_through_its_serdes_and_the_first_run_returns_the_state_itself() -> None:
    seen: list[Any] = []
    states: list[Any] = []

    def check(state: Any, _: Any) -> Any:
        states.append(state)
        return 1 if state == 0 else state["value"] + 1

    def strategy(state: Any, attempt: int) -> WaitForConditionDecision:
        if attempt >= 2:
            return WaitForConditionDecision.stop_polling()
        return WaitForConditionDecision.continue_waiting(Duration.from_seconds(1))

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config = WaitForConditionConfig(wait_strategy=strategy, initial_state=0, serdes=Marked("Q"))
        seen.append(context.wait_for_condition(check, config, name="poll"))
        context.wait(Duration.from_seconds(1))
        return None

    result = _run(handler)
    assert result.status is InvocationStatus.SUCCEEDED
    assert states == [0, {"read_by": "Q", "value": 1}], "the second check gets the checkpointed state, read back"
    assert result.get_step("poll").result == "Q:2"
    _replayed(seen, 2, {"read_by": "Q", "value": 2})


@durable_execution
def echo(event: Any, context: DurableContext) -> Any:
    return {"got": event}


def _invoke_input(result: DurableFunctionTestResult) -> Any:
    [started] = [e for e in result.history if e["EventType"] == "ChainedInvokeStarted"]
    return started["ChainedInvokeStartedDetails"]["Input"]["Payload"]


def test_invoke_payload_and_result_are_plain_json_by_default() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        got: Any = context.invoke("echo", {"a": [1, 2]}, name="call")
        return [type(got).__name__, got]

    result = _run(handler, echo=echo)
    assert _invoke_input(result) == '{"a": [1, 2]}', "json.dumps with its default separators"
    assert result.get_invoke("call").result == '{"got": {"a": [1, 2]}}'
    assert json.loads(result.result or "") == ["dict", {"got": {"a": [1, 2]}}]


def test_invoke_uses_its_payload_and_result_serdes() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config: InvokeConfig[Any, Any] = InvokeConfig(serdes_payload=Marked("IP"), serdes_result=Marked("IR"))
        return context.invoke("echo", (1, 2), name="call", config=config)

    result = _run(handler, echo=echo)
    assert _invoke_input(result) == 'IP:{"t":"t","v":[{"t":"i","v":1},{"t":"i","v":2}]}'
    got = json.loads(result.result or "")
    assert got["read_by"] == "IR" and json.loads(got["raw"]) == {"got": _invoke_input(result)}


def test_the_execution_result_is_json_dumps_with_default_separators() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return {"a": [1, 2], "b": math.nan}

    assert _run(handler).result == '{"a": [1, 2], "b": NaN}'

    @durable_execution
    def unserializable(event: Any, context: DurableContext) -> Any:
        return {1, 2}

    result = _run(unserializable)
    assert result.status is InvocationStatus.FAILED
    assert result.error is not None
    assert (result.error.type, result.error.message) == ("TypeError", "Object of type set is not JSON serializable")


# --- a serdes that raises ---------------------------------------------------------------------------------------


def test_a_step_whose_serdes_cannot_encode_fails_the_execution_without_retrying() -> None:
    """As in the SDK: the ExecutionError is fatal; the step is left started, its result never written."""

    calls: list[int] = []

    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        return context.step(lambda _: calls.append(1), name="s", config=StepConfig(serdes=Exploding("serialize")))

    result = _run(handler)
    step = result.get_step("s")
    assert result.status is InvocationStatus.FAILED and result.error is not None
    assert result.error.type == "ExecutionError"
    assert result.error.message == f"Serialization failed for id: {step.operation_id}, error: cannot encode."
    assert calls == [1], "a serdes failure is fatal: not retried"
    assert step.status is OperationStatus.STARTED and step.result is None
    assert [e["EventType"] for e in result.history if e["EventType"].startswith("Step")] == ["StepStarted"]


def test_a_step_whose_serdes_cannot_decode_fails_with_an_execution_error_the_handler_can_catch() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        try:
            context.step(lambda _: 5, name="s", config=StepConfig(serdes=Exploding("deserialize")))
        except ExecutionError as error:
            return [str(error), type(error.__cause__).__name__]
        return "unreachable"

    result = _run(handler)
    step_id = result.get_step("s").operation_id
    assert json.loads(result.result or "") == [f"Deserialization failed for id: {step_id}", "ValueError"]


def test_a_child_context_whose_serdes_fails_is_recorded_as_failed() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        try:
            context.run_in_child_context(lambda _: 1, name="c", config=ChildConfig(serdes=Exploding("serialize")))
        except ChildContextError as error:
            return [error.error_type, error.message]
        return "unreachable"

    result = _run(handler)
    child = result.get_context("c")
    message = f"Serialization failed for id: {child.operation_id}, error: cannot encode."
    assert json.loads(result.result or "") == ["ExecutionError", message]
    assert child.status is OperationStatus.FAILED and child.error is not None
    assert (child.error.type, child.error.message) == ("ExecutionError", message)


def test_a_map_whose_serdes_fails_is_recorded_as_failed() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        try:
            context.map([1], lambda ctx, item, index, items: item, name="m", config=MapConfig(
                serdes=Exploding("serialize"), item_serdes=EXTENDED_TYPES_SERDES
            ))
        except ChildContextError as error:
            return [error.error_type, error.message]
        return "unreachable"

    result = _run(handler)
    batch = result.get_context("m")
    assert json.loads(result.result or "") == [
        "ExecutionError", f"Serialization failed for id: {batch.operation_id}, error: cannot encode."
    ]
    assert batch.status is OperationStatus.FAILED


def test_a_wait_for_condition_whose_serdes_fails_fails_the_operation() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config = WaitForConditionConfig(
            wait_strategy=lambda state, attempt: WaitForConditionDecision.stop_polling(),
            initial_state=0,
            serdes=Exploding("serialize"),
        )
        try:
            context.wait_for_condition(lambda state, _: state + 1, config, name="poll")
        except WaitForConditionError as error:
            return [error.error_type, error.message]
        return "unreachable"

    result = _run(handler)
    poll = result.get_step("poll")
    assert json.loads(result.result or "") == [
        "ExecutionError", f"Serialization failed for id: {poll.operation_id}, error: cannot encode."
    ]
    assert poll.status is OperationStatus.FAILED


def test_an_invoke_whose_payload_serdes_fails_starts_nothing() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        config: InvokeConfig[Any, Any] = InvokeConfig(serdes_payload=Exploding("serialize"))
        try:
            context.invoke("echo", 1, name="call", config=config)
        except ExecutionError as error:
            return str(error)
        return "unreachable"

    result = _run(handler, echo=echo)
    assert json.loads(result.result or "") == "Serialization failed for id: 1, error: cannot encode."
    assert not [op for op in result.get_all_operations() if op.name == "call"]


def test_a_callback_whose_serdes_cannot_decode_raises_an_execution_error() -> None:
    @durable_execution
    def handler(event: Any, context: DurableContext) -> Any:
        callback = context.create_callback(name="cb", config=CallbackConfig(serdes=Exploding("deserialize")))
        try:
            callback.result()
        except ExecutionError as error:
            return [str(error), callback.operation_id]
        return "unreachable"

    message, operation_id = json.loads(_run_with_callback(handler, '"x"').result or "")
    assert message == f"Deserialization failed for id: {operation_id}"


class _NotText(SerDes[Any]):
    """A serdes with a common bug: it hands back a dict (or bytes) instead of text."""

    def __init__(self, payload: Any) -> None:
        self.payload = payload

    def serialize(self, value: Any, serdes_context: SerDesContext) -> Any:
        return self.payload

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        return data


@pytest.mark.parametrize("payload", [{"v": 1}, b"\x80pickled"])
def test_a_serdes_that_gives_no_text_fails_its_operation_at_once_naming_the_type(payload: Any) -> None:
    """Found where the value is made, not when the checkpoint is written: a poll's state went out without
    waiting, so the writer's failure left the execution hanging until its timeout."""
    kind = type(payload).__name__
    refused = rf"^Serialization failed for id: 3, error: _NotText.serialize returned {kind}, not str"
    with pytest.raises(ExecutionError, match=refused):
        serialize(_NotText(payload), 1, "3", "arn")
    assert serialize(_NotText(None), 1, "3", "arn") is None  # no payload, as the SDK allows

    @durable_execution
    def in_a_step(event: Any, context: DurableContext) -> Any:
        return context.step(lambda _: 1, name="s", config=StepConfig(serdes=_NotText(payload)))

    @durable_execution
    def in_a_poll(event: Any, context: DurableContext) -> Any:
        return context.wait_for_condition(
            lambda state, _: state + 1,
            WaitForConditionConfig(
                wait_strategy=lambda state, _: WaitForConditionDecision.continue_waiting(Duration.from_seconds(1)),
                initial_state=0, serdes=_NotText(payload),
            ),
            name="poll",
        )

    stepped = _run(in_a_step)
    assert stepped.status is InvocationStatus.FAILED and stepped.error is not None
    assert f"returned {kind}, not str" in (stepped.error.message or "")
    polled = _run(in_a_poll)
    assert polled.status is InvocationStatus.FAILED and polled.error is not None
    assert polled.error.type == "WaitForConditionError" and f"returned {kind}" in (polled.error.message or "")
    assert polled.get_step("poll").status is OperationStatus.FAILED


def test_a_poll_whose_state_no_longer_reads_back_fails_as_wait_for_condition_error() -> None:
    """As in the SDK: the state is read back inside the check's error handling, so the operation is failed
    (recorded) and the handler sees WaitForConditionError, which it can catch."""

    class Drifted(SerDes[int]):
        def serialize(self, value: int, serdes_context: SerDesContext) -> str:
            return json.dumps(value)

        def deserialize(self, data: str, serdes_context: SerDesContext) -> int:
            raise ValueError("schema drift")

    @durable_execution
    def handler(event: Any, context: DurableContext) -> str:
        try:
            context.wait_for_condition(
                lambda state, _: state + 1,
                WaitForConditionConfig(
                    wait_strategy=lambda state, _: (
                        WaitForConditionDecision.stop_polling() if state >= 2
                        else WaitForConditionDecision.continue_waiting(Duration.from_seconds(1))
                    ),
                    initial_state=0, serdes=Drifted(),
                ),
                name="poll",
            )
        except WaitForConditionError as error:
            return f"caught: {error}"
        return "not caught"

    result = _run(handler)
    assert result.status is InvocationStatus.SUCCEEDED and result.result == '"caught: Deserialization failed for id: 1"'
    poll = result.get_step("poll")
    assert poll.status is OperationStatus.FAILED and poll.error is not None
    assert poll.error.message == "Deserialization failed for id: 1"
