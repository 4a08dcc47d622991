"""A serdes that keeps values in files and only a reference to them in the checkpoint.

For values too large (or too sensitive) for the checkpoint store: the value is
serialized (by default with the extended serdes) into a file under a base
directory, and the checkpoint records where it is.  Replay reads the file back.

The directory must outlive the execution and be readable by every worker that
may replay it: a shared mount (EFS, an S3 Files mount, NFS, or just a local
disk when every worker runs on this machine).  A process-local temporary
directory that vanishes between invocations will not do.

The checkpoint payload is one of these JSON objects, as the AWS SDK writes them:

    {"data": "<payload>"}                    the value inline (OVERFLOW mode, small enough)
    {"file": "<path>", "sha256": "<hex>"}    the value in a file
    {"file": ..., "sha256": ..., "preview": {...}}   with a summary for people reading the history

`sha256` is ours (the AWS SDK ignores it and does not write it): the digest of
the file's bytes, checked on every read, so a file changed after it was
written is refused instead of decoding into a different value.  A reference
without it (written by the AWS SDK) is read unchecked.

Reading refuses, with a SerDesError that names the file: a missing or
unreadable file, a file whose digest differs, and a path outside the base
directory (after resolving `..` and symbolic links), so an edited checkpoint
cannot make replay read an arbitrary file.  A file is written to a temporary
name and renamed into place, so a crash never leaves half a value behind.

Paths: `<base>/<function>/<execution>/<invocation>/<operation>.json` for an
AWS durable-execution ARN in URI mode, else `<base>/<ARN>/<operation>.json`,
each segment percent-encoded (URI) or replaced by its SHA-256 (HASH).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol
from urllib.parse import quote

from durable.constants import CHECKPOINT_SIZE_LIMIT_BYTES
from durable.exceptions import SerDesError
from durable.serdes import EXTENDED_TYPES_SERDES, SerDes, SerDesContext
from durable.types import DurableExecutionArn as DurableExecutionArn

__all__ = [
    "FileSystemPathEncoding",
    "FileSystemSerDes",
    "FileSystemSerDesConfig",
    "FileSystemSerDesMode",
    "GeneratePreview",
]

#: Inline payloads above this many bytes go to a file in OVERFLOW mode (1 KiB below the checkpoint limit).
_OVERFLOW_THRESHOLD_BYTES = CHECKPOINT_SIZE_LIMIT_BYTES - 1024

#: arn:<partition>:lambda:<region>:<account>:function:<function>:<version>/durable-execution/<execution>/<invocation>
_EXECUTION_ARN = re.compile(
    r"^arn:[^:]*:lambda:[^:]*:[^:]*:function:([^:/]+):[^:/]+/durable-execution/([^/]+)/([^/]+)$"
)


class FileSystemSerDesMode(StrEnum):
    """ALWAYS: every value goes to a file.  OVERFLOW: inline, unless the payload would be too large."""

    ALWAYS = "ALWAYS"
    OVERFLOW = "OVERFLOW"


class FileSystemPathEncoding(StrEnum):
    """How the execution ARN and the operation id become directory and file names.

    URI: readable, percent-encoded names (a very long operation id may exceed the
    file system's name limit).  HASH: the SHA-256 of each, always 64 safe characters.
    """

    URI = "URI"
    HASH = "HASH"


class GeneratePreview(Protocol):
    """Makes the summary stored next to a file reference (or None for no summary)."""

    def __call__(self, value: Any) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class FileSystemSerDesConfig:
    """How FileSystemSerDes stores values.

    storage_mode: ALWAYS (default) or OVERFLOW.
    path_encoding: URI (default) or HASH.
    generate_preview: when given, its result (if any) is stored beside the file reference.
    serdes: what writes the value into the file (default: the extended-types serdes).
    """

    storage_mode: FileSystemSerDesMode = FileSystemSerDesMode.ALWAYS
    path_encoding: FileSystemPathEncoding = FileSystemPathEncoding.URI
    generate_preview: GeneratePreview | None = None
    serdes: SerDes[Any] = EXTENDED_TYPES_SERDES


def _segment(value: str, encoding: FileSystemPathEncoding) -> str:
    if encoding is FileSystemPathEncoding.HASH:
        return hashlib.sha256(value.encode()).hexdigest()
    return quote(value, safe="")


def _execution_dir(base_path: str, arn: str, encoding: FileSystemPathEncoding) -> str:
    if encoding is FileSystemPathEncoding.URI:
        match = _EXECUTION_ARN.match(arn)
        if match:
            return os.path.join(base_path, *match.groups())
    return os.path.join(base_path, _segment(arn, encoding))


def _inside(path: str, base_path: str) -> bool:
    """True when `path`, with `..` and symbolic links resolved, lies under `base_path`."""
    base = os.path.realpath(base_path)
    return os.path.commonpath([base, os.path.realpath(path)]) == base


class FileSystemSerDes(SerDes[Any]):
    """Stores each value in a file under `base_path`; the checkpoint holds its path and digest.

        serdes = FileSystemSerDes("/mnt/shared/durable")
        context.step(build_report, config=StepConfig(serdes=serdes))

        # only values too large for the checkpoint go to a file:
        FileSystemSerDes("/mnt/shared/durable", FileSystemSerDesConfig(storage_mode=FileSystemSerDesMode.OVERFLOW))
    """

    def __init__(self, base_path: str, config: FileSystemSerDesConfig | None = None) -> None:
        config = config or FileSystemSerDesConfig()
        self._base_path = base_path
        self._storage_mode = config.storage_mode
        self._path_encoding = config.path_encoding
        self._generate_preview = config.generate_preview
        self._value_serdes = config.serdes

    def serialize(self, value: Any, serdes_context: SerDesContext) -> str:
        if self._storage_mode is FileSystemSerDesMode.OVERFLOW:
            inline = json.dumps({"data": self._value_serdes.serialize(value, serdes_context)})
            if len(inline.encode("utf-8")) <= _OVERFLOW_THRESHOLD_BYTES:
                return inline
        path, digest = self._write(value, serdes_context)
        envelope: dict[str, Any] = {"file": path, "sha256": digest}
        if self._generate_preview:
            preview = self._generate_preview(value)
            if preview:
                envelope["preview"] = preview
        return json.dumps(envelope)

    def deserialize(self, data: str, serdes_context: SerDesContext) -> Any:
        try:
            envelope = json.loads(data)
        except ValueError as error:
            raise SerDesError(
                f"the payload of operation {serdes_context.operation_id} is not a file-serdes envelope: {error}"
            ) from error
        if isinstance(envelope, dict) and "file" in envelope:
            return self._value_serdes.deserialize(self._read(envelope, serdes_context), serdes_context)
        if isinstance(envelope, dict) and isinstance(envelope.get("data"), str):
            return self._value_serdes.deserialize(envelope["data"], serdes_context)
        raise SerDesError(
            f"the payload of operation {serdes_context.operation_id} is not a file-serdes envelope: "
            'it has neither "file" nor "data"'
        )

    def _write(self, value: Any, context: SerDesContext) -> tuple[str, str]:
        """Serialize `value` into its file (atomically) and return the file's path and SHA-256."""
        directory = _execution_dir(self._base_path, context.durable_execution_arn, self._path_encoding)
        path = os.path.join(directory, f"{_segment(context.operation_id, self._path_encoding)}.json")
        if not _inside(path, self._base_path):
            raise SerDesError(
                f"refusing to write {path}: execution {context.durable_execution_arn!r} and operation "
                f"{context.operation_id!r} would put it outside the base directory {self._base_path}"
            )
        content = self._value_serdes.serialize(value, context).encode("utf-8")
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        return path, hashlib.sha256(content).hexdigest()

    def _read(self, envelope: dict[str, Any], context: SerDesContext) -> str:
        """The text of the file an envelope points to, once it is known to be inside the base and unchanged."""
        path = envelope["file"]
        if not isinstance(path, str) or not path:
            raise SerDesError(f"operation {context.operation_id} refers to a file, but not by a path: {path!r}")
        if not _inside(path, self._base_path):
            raise SerDesError(
                f"refusing to read {path} for operation {context.operation_id}: "
                f"it is outside the base directory {self._base_path}"
            )
        try:
            with open(path, "rb") as file:
                content = file.read()
        except FileNotFoundError as error:
            raise SerDesError(
                f"the file {path} holding the value of operation {context.operation_id} is missing"
            ) from error
        except OSError as error:
            raise SerDesError(
                f"the file {path} holding the value of operation {context.operation_id} cannot be read: {error}"
            ) from error
        expected = envelope.get("sha256")
        if expected is not None:
            actual = hashlib.sha256(content).hexdigest()
            if actual != expected:
                raise SerDesError(
                    f"the file {path} holding the value of operation {context.operation_id} was changed after "
                    f"it was written: its SHA-256 is {actual}, the checkpoint recorded {expected}"
                )
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError as error:
            raise SerDesError(
                f"the file {path} holding the value of operation {context.operation_id} is not UTF-8 text"
            ) from error
