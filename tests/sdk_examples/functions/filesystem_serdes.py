"""FileSystemSerDes: step results stored as files, with only a pointer in the checkpoint.

The base path comes from the event; in production it would be an EFS or S3 Files mount.
"""

from typing import Any

from durable.config import StepConfig
from durable.context import DurableContext
from durable.execution import durable_execution
from durable.filesystem_serdes import (
    FileSystemPathEncoding,
    FileSystemSerDes,
    FileSystemSerDesConfig,
    FileSystemSerDesMode,
)
from durable.preview import (
    PreviewConfig,
    PreviewField,
    PreviewMode,
    build_preview,
)


@durable_execution
def handler(event: Any, context: DurableContext) -> dict:
    base_path = event["base_path"]
    always = FileSystemSerDes(
        base_path,
        FileSystemSerDesConfig(
            storage_mode=FileSystemSerDesMode.ALWAYS,
            path_encoding=FileSystemPathEncoding.HASH,
            generate_preview=lambda value: build_preview(
                value,
                PreviewConfig(
                    mode=PreviewMode.EXCLUDE_ALL,
                    include=[PreviewField("customer")],
                    mask=[PreviewField("card")],
                ),
            ),
        ),
    )
    overflow = FileSystemSerDes(
        base_path, FileSystemSerDesConfig(storage_mode=FileSystemSerDesMode.OVERFLOW)
    )
    document = context.step(
        lambda _: {"customer": "ACME", "card": "4111", "lines": list(range(5))},
        name="big_document",
        config=StepConfig(serdes=always),
    )
    small = context.step(lambda _: {"ok": True}, name="small_document", config=StepConfig(serdes=overflow))
    return {"document": document, "small": small}
