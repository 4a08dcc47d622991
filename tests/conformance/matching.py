"""The history matcher: expected conformance events against an actual history.

Rules (README "Matching rules"), implemented exactly:

* expected events are paired with actual events by `EventId`; actual events
  not listed are ignored;
* `'*'` matches any present value; `{}` is "don't care" (the field may even
  be absent);
* `${NAME}` binds on first use to the actual value, later uses must be equal;
  bindings are shared across the whole history;
* `${/regex/}` needs a string matching the regex (`re.search`); numbers are
  matched by their text (`3` against `${/^[0-5]$/}`), since the service
  reports delays as numbers but the suite writes patterns for them;
* dicts match field by field (an expected key absent from the actual is a
  mismatch unless its expected value is `{}`), lists element by element;
  anything else must be equal (a bool never equals a number).

All mismatches are collected, not just the first, so one failing run shows
every divergence; the AssertionError also prints the whole actual history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

__all__ = [
    "HistoryMismatchError",
    "Matcher",
    "format_history",
    "log_field_names",
    "match_history",
    "match_log_fields",
    "match_value",
]

_BIND = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_REGEX = re.compile(r"^\$\{/(.*)/\}$", re.DOTALL)
_SLASHED = re.compile(r"^/(.*)/$", re.DOTALL)
_MISSING = object()
_MAX_SHOWN = 160


class HistoryMismatchError(AssertionError):
    """The actual history does not satisfy the expected one; `problems` lists each divergence."""

    def __init__(self, problems: list[str], actual: Sequence[Mapping[str, Any]]) -> None:
        self.problems = problems
        self.actual = list(actual)
        lines = [f"history mismatch ({len(problems)} problem{'s' if len(problems) != 1 else ''}):"]
        lines += [f"  - {p}" for p in problems]
        lines.append(f"actual history ({len(self.actual)} events):")
        lines.append(format_history(self.actual))
        super().__init__("\n".join(lines))


def _show(value: Any) -> str:
    """A short, readable rendering of a value for messages (long payloads are cut)."""
    text = repr(value) if isinstance(value, str) else _json(value)
    return text if len(text) <= _MAX_SHOWN else f"{text[:_MAX_SHOWN]}... ({len(text)} chars)"


def _json(value: Any) -> str:
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _shorten(value: Any) -> Any:
    """Copy of `value` with long strings cut, so a 256 KiB payload does not flood the report."""
    if isinstance(value, dict):
        return {k: _shorten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v) for v in value]
    if isinstance(value, str) and len(value) > _MAX_SHOWN:
        return f"{value[:_MAX_SHOWN]}... ({len(value)} chars)"
    return value


def format_history(history: Sequence[Mapping[str, Any]]) -> str:
    """One line per event: `EventId EventType {rest as JSON}`."""
    lines = []
    for event in history:
        rest = {k: v for k, v in event.items() if k not in ("EventId", "EventType")}
        lines.append(f"  {event.get('EventId', '?'):>3} {event.get('EventType', '?')} {_json(_shorten(rest))}")
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_text(value: float) -> str:
    """`3.0` reads as `3`: a whole number of seconds is a whole number whatever its JSON type."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def json_equal(expected: Any, actual: Any) -> bool:
    """Equality with JSON's distinctions kept all the way down (True is not 1, at any depth)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return expected.keys() == actual.keys() and all(json_equal(expected[k], actual[k]) for k in expected)
    if isinstance(expected, list) and isinstance(actual, list):
        return len(expected) == len(actual) and all(json_equal(e, a) for e, a in zip(expected, actual, strict=True))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    if _is_number(expected) and _is_number(actual):
        return bool(expected == actual)
    return type(expected) is type(actual) and bool(expected == actual)


class Matcher:
    """Matches values under the conformance rules, remembering `${NAME}` bindings.

    One Matcher is used per history so a binding made in one event constrains
    all later events; `bindings` maps NAME to its value, `bound_at` to the path
    where it was first bound (for messages).
    """

    def __init__(self, bindings: MutableMapping[str, Any] | None = None) -> None:
        self.bindings: MutableMapping[str, Any] = {} if bindings is None else bindings
        self.bound_at: dict[str, str] = {}

    def match(self, expected: Any, actual: Any, path: str) -> list[str]:
        """Problems found matching `actual` (or `_MISSING`) against `expected` at `path`."""
        if isinstance(expected, dict) and not expected:
            return []
        if actual is _MISSING:
            return [f"{path}: missing (expected {_show(expected)})"]
        if isinstance(expected, str):
            return self._match_string(expected, actual, path)
        if isinstance(expected, dict):
            if not isinstance(actual, dict):
                return [f"{path}: expected an object, got {_show(actual)}"]
            problems: list[str] = []
            for key, sub in expected.items():
                problems += self.match(sub, actual.get(key, _MISSING), f"{path}.{key}")
            return problems
        if isinstance(expected, list):
            if not isinstance(actual, list):
                return [f"{path}: expected a list, got {_show(actual)}"]
            if len(expected) != len(actual):
                return [f"{path}: expected a list of {len(expected)} items, got {len(actual)}: {_show(actual)}"]
            problems = []
            for i, (sub, act) in enumerate(zip(expected, actual, strict=True)):
                problems += self.match(sub, act, f"{path}[{i}]")
            return problems
        if not json_equal(expected, actual):
            return [f"{path}: expected {_show(expected)}, got {_show(actual)}"]
        return []

    def _match_string(self, expected: str, actual: Any, path: str) -> list[str]:
        if expected == "*":
            return []
        regex = _REGEX.match(expected)
        if regex:
            text = _number_text(actual) if _is_number(actual) else actual
            if not isinstance(text, str) or re.search(regex.group(1), text) is None:
                return [f"{path}: expected a string matching /{regex.group(1)}/, got {_show(actual)}"]
            return []
        bind = _BIND.match(expected)
        if bind:
            name = bind.group(1)
            if name not in self.bindings:
                self.bindings[name] = actual
                self.bound_at[name] = path
                return []
            if not json_equal(self.bindings[name], actual):
                where = self.bound_at.get(name, "before matching")
                return [
                    f"{path}: {expected} is bound to {_show(self.bindings[name])} (at {where}), got {_show(actual)}"
                ]
            return []
        if not json_equal(expected, actual):
            return [f"{path}: expected {_show(expected)}, got {_show(actual)}"]
        return []


def match_value(
    expected: Any,
    actual: Any,
    bindings: MutableMapping[str, Any] | None = None,
    path: str = "value",
) -> None:
    """Match one value; raises AssertionError listing every problem (used by unit tests and ad-hoc checks)."""
    problems = Matcher(bindings).match(expected, actual, path)
    if problems:
        raise AssertionError("\n".join(problems))


def match_history(
    expected: Sequence[Mapping[str, Any]],
    actual: Sequence[Mapping[str, Any]],
    bindings: MutableMapping[str, Any] | None = None,
) -> MutableMapping[str, Any]:
    """Check `actual` against `expected`; return the bindings, raise HistoryMismatchError otherwise."""
    matcher = Matcher(bindings)
    by_id: dict[Any, list[Mapping[str, Any]]] = {}
    for event in actual:
        by_id.setdefault(event.get("EventId"), []).append(event)
    problems: list[str] = []
    for exp in expected:
        event_id = exp.get("EventId")
        label = f"event {event_id} ({exp.get('EventType', '?')})"
        found = by_id.get(event_id, [])
        if not found:
            problems.append(f"{label}: missing from actual history ({len(actual)} events)")
            continue
        if len(found) > 1:
            problems.append(f"{label}: actual history has {len(found)} events with EventId {event_id}")
            continue
        problems += matcher.match(dict(exp), dict(found[0]), label)
    if problems:
        raise HistoryMismatchError(problems, actual)
    return matcher.bindings


# ----- structured log lines (ExpectedLogs entries with fields besides `message`)


def _log_text(value: Any) -> str:
    """A log field as the text a `/regex/` is searched in: JSON's spelling for non-strings (`true`, `3`)."""
    if isinstance(value, str):
        return value
    if _is_number(value):
        return _number_text(value)
    return json.dumps(value, separators=(",", ":"))


def log_field_names(fields: Mapping[str, Any]) -> set[str]:
    """The `${NAME}` placeholders the fields refer to (bound by the history match)."""
    return {m.group(1) for value in fields.values() if isinstance(value, str) and (m := _BIND.match(value))}


def match_log_fields(expected: Mapping[str, Any], record: Mapping[str, Any], bindings: Mapping[str, Any]) -> bool:
    """Does a JSON log record have every expected field, each matching?

    A field value `/regex/` (or `${/regex/}`) is searched in the field's text,
    so it also tests for presence (`/.*/`); `${NAME}` must equal the value the
    history bound to NAME; anything else must be the equal JSON value.  An
    absent key never matches.
    """
    for key, want in expected.items():
        if key not in record:
            return False
        have = record[key]
        if isinstance(want, str):
            regex = _SLASHED.match(want) or _REGEX.match(want)
            if regex:
                if re.search(regex.group(1), _log_text(have)) is None:
                    return False
                continue
            bind = _BIND.match(want)
            if bind:
                if bind.group(1) not in bindings:
                    return False
                want = bindings[bind.group(1)]
        if not json_equal(want, have):
            return False
    return True
