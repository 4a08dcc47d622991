"""What the engine accepts from outside, and the checks that enforce it.

Everything that arrives from outside (HTTP bodies and parameters, CLI
arguments, values handed to `Engine`) passes these checks before anything is
stored.  Text must be encodable as UTF-8: a lone surrogate stored once would
break every later read of the record.  Numbers must be finite and in range:
`NaN` compares false with everything, so a NaN deadline would silently mean
"never".  JSON is bounded in size and depth, so no value can exhaust the
parser's recursion.  Each check raises one `ValidationError` that names the
field and the rule.
"""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta
from typing import Any

from durable.config import Duration
from durable.exceptions import PayloadTooLargeError, ValidationError

PAYLOAD_LIMIT = 256 * 1024
"""Bytes of an execution input, a callback result or error, or an HTTP body."""

MAX_JSON_DEPTH = 64
"""Levels of nested arrays and objects in any JSON value taken from outside."""

MAX_NAME_LENGTH = 256
"""Characters of an execution name or a function name."""

MAX_EXECUTION_TIMEOUT = 366 * 86400
"""Seconds: an execution timeout may be up to a year (and a day)."""

LIST_LIMIT = 1000
"""The most executions one listing returns."""

LIST_BYTES = 8 * 1024 * 1024
"""The most JSON text one listing's executions take: it stops early past it (a thousand inputs and results of
up to PAYLOAD_LIMIT each would make a response of gigabytes)."""

MIN_TOKEN_LENGTH = 32
"""Characters of the HTTP API's bearer token."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DIGITS = re.compile(r"[0-9]+")
_TOKEN = re.compile(r"[\x21-\x7e]+")


def check_text(value: str, what: str) -> str:
    """`value` unchanged if it can be stored as UTF-8; else a ValidationError naming `what`."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValidationError(
            f"{what} is not valid text: it holds an unpaired surrogate (U+{ord(value[error.start]):04X}) "
            f"at character {error.start}"
        ) from None
    return value


def check_name(value: Any, what: str) -> str:
    """A name shown in listings and tables: 1 to 256 characters of text, no control characters."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    check_text(value, what)
    if not value or len(value) > MAX_NAME_LENGTH:
        raise ValidationError(f"{what} must be 1 to {MAX_NAME_LENGTH} characters, got {len(value)}")
    control = _CONTROL.search(value)
    if control is not None:
        raise ValidationError(
            f"{what} must not contain control characters (U+{ord(control.group()):04X} at {control.start()})"
        )
    return value


def check_size(text: str | None, what: str) -> None:
    """At most PAYLOAD_LIMIT bytes as UTF-8 (the text must already be valid)."""
    if text is not None and len(text) * 4 > PAYLOAD_LIMIT and len(text.encode("utf-8")) > PAYLOAD_LIMIT:
        raise PayloadTooLargeError(f"{what} is {len(text.encode('utf-8')):,} bytes; the limit is {PAYLOAD_LIMIT:,}")


def check_json_value(value: Any, what: str) -> None:
    """A value that round-trips through JSON: plain types, finite numbers, valid text, bounded depth.

    A refusal names where the value breaks the rule (`the body at input.items[2]`); the way there is
    kept as links to the parent and spelled out only then.
    """
    stack: list[tuple[Any, int, _Trail]] = [(value, 1, None)]
    while stack:
        item, depth, trail = stack.pop()
        if item is None or isinstance(item, (bool, int)):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValidationError(f"{_at(what, trail)} holds the number {item!r}; only finite numbers are JSON")
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                check_text(item, _at(what, trail))
        elif isinstance(item, (list, tuple, dict)):
            if depth > MAX_JSON_DEPTH:
                raise ValidationError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise ValidationError(
                            f"{_at(what, trail)} has a key of type {type(key).__name__}; JSON keys are text"
                        )
                    try:
                        key.encode("utf-8")
                    except UnicodeEncodeError:
                        check_text(key, f"a key in {_at(what, trail)}")
                    stack.append((child, depth + 1, (key, trail)))
            else:
                stack.extend((child, depth + 1, (index, trail)) for index, child in enumerate(item))
        else:
            raise ValidationError(f"{_at(what, trail)} holds a {type(item).__name__}, which is not JSON")


#: the way from a value's root to one of its parts: (key or index, the parent's trail), None at the root
_Trail = tuple[Any, Any] | None
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _at(what: str, trail: _Trail) -> str:
    """`what` and the place `trail` leads to: `the body at input.items[2]`."""
    steps: list[str] = []
    while trail is not None:
        key, trail = trail
        if isinstance(key, int):
            steps.append(f"[{key}]")
        elif _PLAIN_KEY.fullmatch(key):
            steps.append(f".{key}")
        else:
            steps.append(f"[{json.dumps(key[:64])}]")
    return f"{what} at {''.join(reversed(steps)).lstrip('.')}" if steps else what


def parse_json(text: str, what: str) -> Any:
    """Strict JSON: no NaN or Infinity, no overflowing numbers, no key twice in one object, valid text,
    bounded depth.  Parsers disagree on which of two equal keys wins, so a document that has them means
    different things to different readers: it is refused, not read one way."""
    check_text(text, what)
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, object_pairs_hook=_unique_keys
        )
    except RecursionError:
        raise ValidationError(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except _RepeatedKeyError as error:
        raise ValidationError(f"{what} has the key {error.args[0]} twice in one object") from None
    except ValueError as error:
        raise ValidationError(f"{what} is not JSON: {error}") from None
    check_json_value(value, what)
    return value


def dump_json(value: Any, what: str) -> str:
    """`value` as compact JSON, after `check_json_value`."""
    check_json_value(value, what)
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def check_seconds(value: Any, what: str, maximum: float = MAX_EXECUTION_TIMEOUT) -> float:
    """A positive, finite number of seconds no larger than `maximum`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{what} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or not 0 < value <= maximum:
        raise ValidationError(f"{what} must be more than 0 and at most {maximum:,.0f} seconds, got {value!r}")
    return float(value)


def parse_count(text: str, what: str, low: int, high: int) -> int:
    """A whole number written in ASCII digits, from `low` to `high`."""
    if not _DIGITS.fullmatch(text) or len(text) > len(str(high)) or not low <= int(text) <= high:
        raise ValidationError(f"{what} must be a whole number from {low} to {high:,}, got {text!r}")
    return int(text)


def check_token(token: str | None) -> str:
    """A bearer token: at least 32 visible ASCII characters, no spaces."""
    if token is None or not token.strip():
        raise ValidationError("the API token is empty; set a random one of at least 32 characters")
    if not _TOKEN.fullmatch(token):
        raise ValidationError("the API token must be visible ASCII characters with no spaces")
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValidationError(
            f"the API token is {len(token)} characters; use at least {MIN_TOKEN_LENGTH} "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return token


class _RepeatedKeyError(ValueError):
    """A JSON object names one key twice (the key, quoted and cut to 64 characters)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKeyError(json.dumps(key[:64]) + ("..." if len(key) > 64 else ""))
            seen.add(key)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text} is out of range")
    return value


def check_setting_seconds(value: Any, what: str) -> float:
    """An engine setting given as a Duration, a timedelta or seconds: positive, finite, sub-second allowed."""
    if isinstance(value, Duration):
        value = float(value.seconds)
    elif isinstance(value, timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(f"{what} must be a Duration, a timedelta or seconds, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(f"{what} must be positive, got {value!r}")
    return float(value)
