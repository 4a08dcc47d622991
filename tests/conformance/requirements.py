"""Loading conformance requirement files (the YAML published with the suite).

A requirement file is data: the handler text is implemented in `handlers/`,
and this module only turns the YAML into a `Requirement` whose declared
`Variables` have been generated and substituted.  Loading is cheap and does
fresh generation on every call, so each test run sees new random strings
(a handler that hard-codes a value cannot pass by accident).
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

__all__ = [
    "ConformanceDirMissingError",
    "LogExpectation",
    "LogMatch",
    "Requirement",
    "conformance_dir",
    "generate_string",
    "load_requirement",
    "requirement_files",
    "resolve_variables",
    "substitute",
]

#: Suites this harness runs (folder names under the conformance directory).
SUITES: tuple[str, ...] = (
    "step", "wait", "child", "wait_for_condition", "map", "parallel", "callback", "wait_for_callback", "invoke",
    "plugin",
)

_GEN_STR = re.compile(r"^\$\{GEN_STR:(\d+)\}$")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REGEX_PLACEHOLDER = re.compile(r"^\$\{/.*/\}$", re.DOTALL)
SLASHED_REGEX = re.compile(r"^/(.*)/([a-z]*)$", re.DOTALL)
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


class ConformanceDirMissingError(RuntimeError):
    """The vendored requirement files (tests/conformance/requirement_files) are missing or empty."""


@attrs.frozen
class LogMatch:
    """What one log line must look like (an `ExpectedLogs` `match`, or one of its `after` entries).

    `message`: a regex searched in the rendered line (`str(entry)`, e.g.
    `[INFO] text`).  `fields`: for a line whose message is a JSON object,
    the keys it must have and their values, under `matching.match_log_fields`
    (`/regex/`, `${NAME}` bound by the history, or an equal JSON value).
    """

    message: re.Pattern[str] | None = None
    fields: Mapping[str, Any] = attrs.field(factory=dict)

    def describe(self) -> str:
        parts = [f"message=/{self.message.pattern}/"] if self.message is not None else []
        parts += [f"{key}={value!r}" for key, value in self.fields.items()]
        return "{" + ", ".join(parts) + "}"


@attrs.frozen
class LogExpectation:
    """Lines matching `match`: exactly `count` of them, or at least `min_count`; each after a line of every `after`."""

    match: LogMatch
    count: int | None = None
    min_count: int | None = None
    after: tuple[LogMatch, ...] = ()

    @property
    def pattern(self) -> re.Pattern[str] | None:
        """The message regex (the only thing the non-plugin suites match on)."""
        return self.match.message


@attrs.frozen
class Requirement:
    """One conformance requirement, with its variables already substituted."""

    id: str
    suite: str
    path: Path
    description: str
    handler_text: str
    invocations_text: str
    input: Any
    variables: Mapping[str, Any]
    expected_status: str | None
    has_expected_result: bool
    expected_result: Any
    expected_history: list[dict[str, Any]]
    expected_logs: list[LogExpectation]
    callback_actions: list[dict[str, Any]]
    is_async: bool
    optional: bool
    default_retry_parameters: Mapping[str, Any] | None

    @property
    def test_id(self) -> str:
        """The pytest id, `suite/id` (e.g. `step/1-11`)."""
        return f"{self.suite}/{self.id}"

    @property
    def last_event_id(self) -> int:
        """The highest EventId the expected history mentions (0 if none)."""
        return max((int(e["EventId"]) for e in self.expected_history), default=0)


def conformance_dir() -> Path:
    """The conformance folder: the copy vendored beside this module (`requirement_files/`).

    Always that copy: the suite reads nothing outside the repository, so a plain clone runs it as CI does.
    """
    return Path(__file__).resolve().parent / "requirement_files"


def requirement_files(root: Path | None = None, suites: tuple[str, ...] = SUITES) -> list[Path]:
    """Every requirement file of `suites`, in suite order then numeric order.

    Raises ConformanceDirMissingError rather than returning nothing, so a misplaced
    folder fails the run instead of silently collecting zero tests.
    """
    root = conformance_dir() if root is None else root
    if not root.is_dir():
        raise ConformanceDirMissingError(
            f"conformance requirements not found at {root}: the suite reads the copy vendored in "
            "tests/conformance/requirement_files (step/, wait/, child/, ...)"
        )
    files: list[Path] = []
    for suite in suites:
        found = sorted((root / suite).glob("*.yaml"), key=_numeric_key)
        if not found:
            raise ConformanceDirMissingError(f"no requirement files in {root / suite}")
        files.extend(found)
    return files


def _numeric_key(path: Path) -> tuple[int | str, ...]:
    """Sort `1-2` before `1-10`."""
    return tuple(int(p) if p.isdigit() else p for p in path.stem.split("-"))


def generate_string(length: int) -> str:
    """A fresh random alphanumeric string (`${GEN_STR:N}`).

    The first character is a letter: the runner parses string inputs that
    look like JSON, and an all-digit string (or `1e5...`) would become a number.
    """
    if length <= 0:
        return ""
    first = secrets.choice(string.ascii_letters)
    alphabet = string.ascii_letters + string.digits
    return first + "".join(secrets.choice(alphabet) for _ in range(length - 1))


def resolve_variables(declared: Mapping[str, Any] | None) -> dict[str, Any]:
    """Generate the values of the declared `Variables` (`${GEN_STR:N}`); other values are literal."""
    values: dict[str, Any] = {}
    for name, spec in (declared or {}).items():
        match = _GEN_STR.match(spec) if isinstance(spec, str) else None
        values[str(name)] = generate_string(int(match.group(1))) if match else spec
    return values


def substitute(value: Any, variables: Mapping[str, Any], *, escape: bool = False) -> Any:
    """Replace `${NAME}` for declared NAMEs inside `value` (recursively).

    Undeclared placeholders (`${ID1}`, bound later by the matcher) and regex
    placeholders (`${/re/}`) are left alone.  A string that is exactly one
    placeholder becomes the variable's value as is; inside a longer string the
    value is inserted as text (regex-escaped when `escape`, for log patterns).
    """
    if isinstance(value, dict):
        return {k: substitute(v, variables, escape=escape) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, variables, escape=escape) for v in value]
    if not isinstance(value, str) or _REGEX_PLACEHOLDER.match(value):
        return value
    whole = _PLACEHOLDER.fullmatch(value)
    if whole and whole.group(1) in variables and not escape:
        return variables[whole.group(1)]

    def replace(m: re.Match[str]) -> str:
        if m.group(1) not in variables:
            return m.group(0)
        text = str(variables[m.group(1)])
        return re.escape(text) if escape else text

    return _PLACEHOLDER.sub(replace, value)


def _compile_log_pattern(message: str) -> re.Pattern[str]:
    """`'/regex/flags'` as in the YAML; a bare string is taken as a regex too."""
    m = SLASHED_REGEX.match(message)
    if not m:
        return re.compile(message)
    flags = 0
    for f in m.group(2):
        flags |= _REGEX_FLAGS.get(f, 0)
    return re.compile(m.group(1), flags)


def _log_match(raw: Any, variables: Mapping[str, Any], path: Path) -> LogMatch:
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: an ExpectedLogs match must be a non-empty mapping, got {raw!r}")
    message = raw.get("message")
    pattern = None if message is None else _compile_log_pattern(str(substitute(message, variables, escape=True)))
    fields = {str(k): substitute(v, variables) for k, v in raw.items() if k != "message"}
    return LogMatch(pattern, fields)


def _log_expectation(entry: Any, variables: Mapping[str, Any], path: Path) -> LogExpectation:
    if not isinstance(entry, dict) or "match" not in entry:
        raise ValueError(f"{path}: every ExpectedLogs entry needs a match, got {entry!r}")
    count = int(entry["count"]) if "count" in entry else None
    min_count = int(entry["min_count"]) if "min_count" in entry else None
    if (count is None) == (min_count is None):
        raise ValueError(f"{path}: an ExpectedLogs entry needs exactly one of count and min_count: {entry!r}")
    after = tuple(_log_match(a, variables, path) for a in entry.get("after") or [])
    return LogExpectation(_log_match(entry["match"], variables, path), count, min_count, after)


def _read_document(path: Path) -> dict[str, Any]:
    """The requirement mapping; a file may hold several `---` documents, merged in order."""
    merged: dict[str, Any] = {}
    with path.open(encoding="utf-8") as fh:
        for doc in yaml.safe_load_all(fh):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                raise TypeError(f"{path}: expected a mapping, got {type(doc).__name__}")
            merged.update(doc)
    if not merged:
        raise ValueError(f"{path}: empty requirement file")
    return merged


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "1"}
    return bool(value)


def load_requirement(path: Path) -> Requirement:
    """Parse `path` and substitute freshly generated variables everywhere they are used."""
    raw = _read_document(path)
    variables = resolve_variables(raw.get("Variables"))
    expected = raw.get("ExpectedResult") or {}
    if not isinstance(expected, dict):
        raise TypeError(f"{path}: ExpectedResult must be a mapping")
    history = substitute(raw.get("ExpectedExecutionHistory") or [], variables)
    for event in history:
        if not isinstance(event, dict) or "EventId" not in event:
            raise ValueError(f"{path}: every expected event needs an EventId, got {event!r}")
    logs = [_log_expectation(entry, variables, path) for entry in raw.get("ExpectedLogs") or []]
    return Requirement(
        id=path.stem,
        suite=path.parent.name,
        path=path,
        description=str(raw.get("description", "")),
        handler_text=str(raw.get("handler", "")),
        invocations_text=str(raw.get("invocations", "")),
        input=substitute(raw.get("Input"), variables),
        variables=variables,
        expected_status=expected.get("ExecutionStatus"),
        has_expected_result="Result" in expected,
        expected_result=substitute(expected.get("Result"), variables),
        expected_history=history,
        expected_logs=logs,
        callback_actions=substitute(raw.get("CallbackActions") or [], variables),
        is_async=_truthy(raw.get("AsyncInvoke")) or _truthy(raw.get("async")),
        optional=_truthy(raw.get("optional")),
        default_retry_parameters=raw.get("DefaultRetryParameters"),
    )
