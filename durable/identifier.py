"""Which operation is which: its id, sub-type, parent and name (the SDK's `OperationIdentifier`).

Our operation ids are readable paths (`3`, `3-2`) rather than the SDK's
hashes; `OperationIdNamespace` makes them the same way the contexts do.
"""

from __future__ import annotations

import dataclasses

from durable.core.operation_ids import child_id
from durable.core.records import TYPE_OF_SUB_TYPE, OperationSubType, OperationType


@dataclasses.dataclass(frozen=True)
class OperationIdNamespace:
    prefix: str | None = None

    def create_id_for_step(self, step: int) -> str:
        return child_id(self.prefix, step)


@dataclasses.dataclass(frozen=True)
class OperationIdentifier:
    operation_id: str
    sub_type: OperationSubType
    parent_id: str | None = None
    name: str | None = None
    #: ours: the context knows nothing is recorded at this id yet, so its first lookup needs no round trip
    known_new: bool = dataclasses.field(default=False, compare=False, repr=False)

    @property
    def type(self) -> OperationType:
        found = TYPE_OF_SUB_TYPE.get(self.sub_type)
        return found if found is not None else OperationType.from_sub_type(self.sub_type)  # raises, naming it
