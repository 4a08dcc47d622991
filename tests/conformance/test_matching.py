"""Unit and property tests of the history matcher and of requirement loading.

The matcher decides whether the engine conforms, so it is tested on its own:
a matcher that accepts too much hides engine bugs, one that rejects too much
sends the engine's authors chasing ghosts.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .matching import (
    HistoryMismatchError,
    Matcher,
    json_equal,
    log_field_names,
    match_history,
    match_log_fields,
    match_value,
)
from .requirements import (
    ConformanceDirMissingError,
    generate_string,
    load_requirement,
    requirement_files,
    substitute,
)


def ev(event_id: int, event_type: str, **fields: Any) -> dict[str, Any]:
    return {"EventId": event_id, "EventType": event_type, **fields}


def actual_retry_history() -> list[dict[str, Any]]:
    return [
        ev(
            1,
            "ExecutionStarted",
            EventTimestamp="t1",
            ExecutionStartedDetails={"Input": {"Payload": "null"}},
        ),
        ev(
            2,
            "StepStarted",
            Id="op-1",
            Name="s",
            SubType="Step",
            EventTimestamp="t2",
            StepStartedDetails={},
        ),
        ev(
            3,
            "StepFailed",
            Id="op-1",
            Name="s",
            SubType="Step",
            EventTimestamp="t3",
            StepFailedDetails={
                "Error": {"Payload": {"ErrorType": "TransientError", "ErrorMessage": "boom"}},
                "RetryDetails": {"CurrentAttempt": 2, "NextAttemptDelaySeconds": 3},
            },
        ),
        ev(4, "InvocationCompleted", EventTimestamp="t4", InvocationCompletedDetails={}),
    ]


# --- matcher: examples -------------------------------------------------------


def test_exact_match_and_unlisted_events_ignored() -> None:
    expected = [ev(2, "StepStarted", Id="op-1", SubType="Step")]
    match_history(expected, actual_retry_history())


def test_readable_path_on_mismatch() -> None:
    expected = [ev(3, "StepFailed", StepFailedDetails={"RetryDetails": {"CurrentAttempt": 1}})]
    with pytest.raises(AssertionError) as info:
        match_history(expected, actual_retry_history())
    message = str(info.value)
    assert "event 3 (StepFailed).StepFailedDetails.RetryDetails.CurrentAttempt: expected 1, got 2" in message
    assert "actual history (4 events):" in message
    assert "InvocationCompleted" in message  # the full actual history is printed


def test_all_problems_are_reported() -> None:
    expected = [ev(2, "StepStarted", Name="x"), ev(4, "InvocationCompleted", Foo=1)]
    with pytest.raises(HistoryMismatchError) as info:
        match_history(expected, actual_retry_history())
    assert len(info.value.problems) == 2


def test_star_matches_any_present_value_but_not_absence() -> None:
    for value in ["x", 1, None, {"a": 1}, [1], True]:
        match_value("*", value)
    with pytest.raises(AssertionError, match=r"value\.Name: missing"):
        match_value({"Name": "*"}, {})


def test_empty_object_is_dont_care_even_when_absent() -> None:
    match_value({"Details": {}}, {})
    match_value({"Details": {}}, {"Details": {"anything": [1, 2]}})
    match_value({"Details": {}}, {"Details": "a string"})
    match_history([ev(2, "StepStarted", StepStartedDetails={}, Other={})], actual_retry_history())


def test_missing_key_is_a_mismatch() -> None:
    expected = [ev(2, "StepStarted", ParentId="p")]
    with pytest.raises(AssertionError, match=r"event 2 \(StepStarted\)\.ParentId: missing"):
        match_history(expected, actual_retry_history())


def test_missing_event() -> None:
    expected = [ev(9, "WaitSucceeded")]
    with pytest.raises(
        AssertionError,
        match=r"event 9 \(WaitSucceeded\): missing from actual history \(4 events\)",
    ):
        match_history(expected, actual_retry_history())


def test_duplicate_event_id_in_actual_is_reported() -> None:
    actual = [ev(2, "StepStarted"), ev(2, "StepStarted")]
    with pytest.raises(AssertionError, match="2 events with EventId 2"):
        match_history([ev(2, "StepStarted")], actual)


def test_binding_is_shared_across_events() -> None:
    expected = [ev(2, "StepStarted", Id="${ID1}"), ev(3, "StepFailed", Id="${ID1}")]
    bindings = match_history(expected, actual_retry_history())
    assert bindings == {"ID1": "op-1"}


def test_binding_mismatch_names_first_binding() -> None:
    actual = actual_retry_history()
    actual[2]["Id"] = "op-2"
    expected = [ev(2, "StepStarted", Id="${ID1}"), ev(3, "StepFailed", Id="${ID1}")]
    with pytest.raises(AssertionError) as info:
        match_history(expected, actual)
    assert "event 3 (StepFailed).Id: ${ID1} is bound to 'op-1' (at event 2 (StepStarted).Id), got 'op-2'" in str(
        info.value
    )


def test_binding_to_missing_key_is_a_mismatch() -> None:
    with pytest.raises(AssertionError, match="missing"):
        match_history([ev(2, "StepStarted", ParentId="${CTX}")], actual_retry_history())


def test_prebound_bindings_are_honoured() -> None:
    match_history([ev(2, "StepStarted", Id="${ID1}")], actual_retry_history(), {"ID1": "op-1"})
    with pytest.raises(AssertionError):
        match_history(
            [ev(2, "StepStarted", Id="${ID1}")],
            actual_retry_history(),
            {"ID1": "other"},
        )


def test_regex_on_strings() -> None:
    match_value("${/.*TransientError$/}", "my.module.TransientError")
    with pytest.raises(
        AssertionError,
        match=r"expected a string matching /\.\*TransientError\$/, got 'ValueError'",
    ):
        match_value("${/.*TransientError$/}", "ValueError")
    match_value("${/wrapped/}", "it was wrapped here")  # search, not fullmatch


def test_regex_on_numbers_uses_their_text() -> None:
    match_value("${/^[0-5]$/}", 3)
    match_value("${/^[0-5]$/}", 3.0)
    match_value("${/^([0-9]|10)$/}", 10)
    with pytest.raises(AssertionError):
        match_value("${/^[0-5]$/}", 7)
    with pytest.raises(AssertionError):
        match_value("${/^[0-5]$/}", None)
    with pytest.raises(AssertionError):
        match_value("${/^True$/}", True)  # bools are not numbers


def test_regex_path_in_history() -> None:
    expected = [
        ev(
            3,
            "StepFailed",
            StepFailedDetails={"RetryDetails": {"NextAttemptDelaySeconds": "${/^[0-2]$/}"}},
        )
    ]
    with pytest.raises(
        AssertionError,
        match=r"NextAttemptDelaySeconds: expected a string matching /\^\[0-2\]\$/, got 3",
    ):
        match_history(expected, actual_retry_history())


def test_lists_match_element_by_element() -> None:
    match_value(["a", "*", {"x": "${X}"}], ["a", 5, {"x": 1, "y": 2}])
    with pytest.raises(AssertionError, match=r"value\[1\]: expected 'b', got 'c'"):
        match_value(["a", "b"], ["a", "c"])
    with pytest.raises(AssertionError, match="expected a list of 2 items, got 3"):
        match_value(["a", "b"], ["a", "b", "c"])
    with pytest.raises(AssertionError, match="expected a list"):
        match_value(["a"], "a")


def test_nested_dict_type_mismatch() -> None:
    with pytest.raises(AssertionError, match="expected an object"):
        match_value({"Result": {"Payload": "x"}}, {"Result": "x"})


def test_plain_values_are_strictly_equal() -> None:
    match_value(1, 1.0)
    match_value(False, False)
    for expected, actual in [
        (1, True),
        (False, 0),
        ("1", 1),
        (None, "null"),
        ('"a"', "a"),
    ]:
        with pytest.raises(AssertionError):
            match_value(expected, actual)


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(AssertionError) as info:
        match_value("short", "x" * 300_000)
    assert len(str(info.value)) < 1000


# --- matcher: properties -----------------------------------------------------

plain_text = st.text(max_size=12).filter(lambda s: s != "*" and not s.startswith("${"))
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | plain_text
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(plain_text, inner, min_size=1, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_any_plain_value_matches_itself(value: Any) -> None:
    match_value(value, value)


@given(json_values)
def test_star_and_dont_care_match_anything(value: Any) -> None:
    match_value("*", value)
    match_value({}, value)
    match_value({"k": {}}, {"k": value})


@given(st.dictionaries(plain_text, json_values, min_size=1, max_size=6), st.data())
def test_subset_of_fields_matches(actual: dict[str, Any], data: st.DataObject) -> None:
    keys = data.draw(st.lists(st.sampled_from(sorted(actual)), unique=True))
    match_value({k: actual[k] for k in keys}, actual)


@given(json_values, json_values)
def test_binding_accepts_iff_values_equal(first: Any, second: Any) -> None:
    assert (Matcher().match({"a": "${X}", "b": "${X}"}, {"a": first, "b": second}, "v") == []) == _same(first, second)


def _same(a: Any, b: Any) -> bool:
    """A bound value accepts a later one only if they are equal as JSON values (not merely matching)."""
    return json_equal(a, b)


@given(st.integers(min_value=-20, max_value=20))
def test_number_regex_agrees_with_text(n: int) -> None:
    ok = Matcher().match("${/^[0-5]$/}", n, "v") == []
    assert ok == (0 <= n <= 5)


@given(st.dictionaries(plain_text, st.integers(), min_size=1, max_size=5), st.data())
def test_changed_leaf_is_reported_at_its_path(actual: dict[str, int], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(actual)))
    expected = {**actual, key: actual[key] + 1}
    problems = Matcher().match({"Details": expected}, {"Details": actual}, "event 2 (X)")
    assert problems == [f"event 2 (X).Details.{key}: expected {actual[key] + 1}, got {actual[key]}"]


# --- requirements: substitution and loading -----------------------------------


def test_generate_string_is_alphanumeric_and_starts_with_letter() -> None:
    for n in (1, 6, 8, 12):
        s = generate_string(n)
        assert len(s) == n and s.isalnum() and s[0].isalpha()
    assert generate_string(8) != generate_string(8)


def test_substitute_leaves_bindings_and_regexes() -> None:
    variables = {"INPUT_1": "abc", "N": 3}
    assert substitute("${INPUT_1}", variables) == "abc"
    assert substitute("${N}", variables) == 3
    assert substitute('"${INPUT_1}"', variables) == '"abc"'
    assert substitute("Hello, ${INPUT_1}!", variables) == "Hello, abc!"
    assert substitute("${ID1}", variables) == "${ID1}"
    assert substitute("${/^${INPUT_1}$/}", variables) == "${/^${INPUT_1}$/}"
    assert substitute({"a": ["${INPUT_1}", {"b": "${ID2}"}]}, variables) == {"a": ["abc", {"b": "${ID2}"}]}
    assert substitute("/a.${INPUT_1}/", {"INPUT_1": "x.y"}, escape=True) == r"/a.x\.y/"


def test_load_requirement_substitutes_fresh_values(tmp_path: Path) -> None:
    path = tmp_path / "child" / "3-99.yaml"
    path.parent.mkdir()
    path.write_text(
        textwrap.dedent(
            """\
            ---
            # comment
            description: demo
            optional: true
            handler: |
              text
            invocations: |
              text
            Variables:
              INPUT_1: ${GEN_STR:8}
            Input:
              name: ${INPUT_1}
            AsyncInvoke: true
            ExpectedResult:
              ExecutionStatus: SUCCEEDED
              Result: Hello, ${INPUT_1}!
            ExpectedExecutionHistory:
              - EventType: StepSucceeded
                EventId: 3
                Id: ${ID1}
                StepSucceededDetails:
                  Result:
                    Payload: '"${INPUT_1}"'
            ExpectedLogs:
              - match:
                  message: '/started for: ${INPUT_1}/i'
                count: 1
            """
        )
    )
    first, second = load_requirement(path), load_requirement(path)
    value = first.variables["INPUT_1"]
    assert first.id == "3-99" and first.test_id == "child/3-99"
    assert first.is_async and first.optional and first.has_expected_result
    assert first.input == {"name": value}
    assert first.expected_result == f"Hello, {value}!"
    assert first.expected_history[0]["Id"] == "${ID1}"
    assert first.expected_history[0]["StepSucceededDetails"]["Result"]["Payload"] == f'"{value}"'
    assert first.last_event_id == 3
    assert first.expected_logs[0].count == 1
    pattern = first.expected_logs[0].pattern
    assert pattern is not None and pattern.search(f"[INFO] STARTED FOR: {value}")
    assert pattern.flags & re.IGNORECASE
    assert second.variables["INPUT_1"] != value


def test_absent_result_is_distinguished_from_null(tmp_path: Path) -> None:
    path = tmp_path / "step" / "1-98.yaml"
    path.parent.mkdir()
    path.write_text("description: x\nInput:\nExpectedResult:\n  ExecutionStatus: SUCCEEDED\n  Result:\n")
    req = load_requirement(path)
    assert req.has_expected_result and req.expected_result is None and req.input is None
    path.write_text("description: x\nInput:\nExpectedResult:\n  ExecutionStatus: SUCCEEDED\n")
    assert not load_requirement(path).has_expected_result


def test_missing_conformance_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConformanceDirMissingError, match="tests/conformance/requirement_files"):
        requirement_files(tmp_path / "nowhere")


def test_real_requirement_files_load() -> None:
    """Every shipped step/wait/child requirement parses (43 of them)."""
    try:
        files = requirement_files(suites=("step", "wait", "child"))
    except ConformanceDirMissingError as exc:
        pytest.fail(str(exc))
    reqs = [load_requirement(p) for p in files]
    assert len(reqs) == 43
    ids = [r.test_id for r in reqs]
    assert ids[:3] == ["step/1-1", "step/1-2", "step/1-3"]
    assert {r.id for r in reqs if r.is_async} == {"2-4", "2-5"}
    assert {r.id for r in reqs if r.optional} == {"1-7"}


# ----- structured ExpectedLogs (the plugin suite)


def test_log_fields_match_values_regexes_and_history_bindings() -> None:
    record = {"plugin": "P", "hook": "attempt-end", "n": 2, "first": False, "op": "7", "when": "2024-01-01T00:00:00"}
    bindings = {"ID1": "7"}
    assert match_log_fields({"plugin": "P", "n": 2, "first": False, "op": "${ID1}"}, record, bindings)
    assert match_log_fields({"when": "/^\\d{4}-/", "first": "/.*/", "n": "/^[1-9]$/"}, record, bindings)
    assert not match_log_fields({"n": 1}, record, bindings)
    assert not match_log_fields({"first": 0}, record, bindings)  # a bool is not a number
    assert not match_log_fields({"missing": "/.*/"}, record, bindings)  # a regex also asks for presence
    assert not match_log_fields({"op": "${ID2}"}, record, bindings)  # unbound: never matches
    assert not match_log_fields({"first": "/^False$/"}, record, bindings)  # JSON spelling: false
    assert log_field_names({"op": "${ID1}", "parent": "${CTX}", "n": 1, "x": "/${A}/"}) == {"ID1", "CTX"}


def test_load_structured_log_expectations(tmp_path: Path) -> None:
    path = tmp_path / "plugin" / "10-99.yaml"
    path.parent.mkdir()
    path.write_text(
        textwrap.dedent(
            """\
            description: demo
            Variables:
              INPUT_1: ${GEN_STR:8}
            ExpectedLogs:
              - match:
                  plugin: CONFPLUGIN
                  hook: invocation-start
                  first: true
                count: 1
              - match:
                  message: '/running for: ${INPUT_1}/'
                min_count: 2
                after:
                  - plugin: CONFPLUGIN
                    op: ${ID1}
            """
        )
    )
    req = load_requirement(path)
    first, second = req.expected_logs
    assert first.match.fields == {"plugin": "CONFPLUGIN", "hook": "invocation-start", "first": True}
    assert first.match.message is None and first.count == 1 and first.min_count is None
    assert second.pattern is not None and second.pattern.search(f"[INFO] running for: {req.variables['INPUT_1']}")
    assert second.count is None and second.min_count == 2
    assert [a.fields for a in second.after] == [{"plugin": "CONFPLUGIN", "op": "${ID1}"}]
    path.write_text("description: x\nExpectedLogs:\n  - match: {hook: x}\n")
    with pytest.raises(ValueError, match="count and min_count"):
        load_requirement(path)


def test_real_plugin_requirement_files_load() -> None:
    try:
        files = requirement_files(suites=("plugin",))
    except ConformanceDirMissingError as exc:
        pytest.fail(str(exc))
    reqs = [load_requirement(p) for p in files]
    assert len(reqs) == 23 and all(r.expected_logs for r in reqs)
