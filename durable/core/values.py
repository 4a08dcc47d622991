"""Value classes built on every checkpoint: frozen to the type checker, plain slots at run time.

A frozen attrs class sets each field in `__init__` through `object.__setattr__`, one C call with an
argument tuple per field. A step builds two operation records (19 fields), two record updates (14)
and two history events (7): a tenth of a checkpoint's instructions went to those calls alone
(`docs/performance.md`). Classes decorated here are built with plain slot stores instead. mypy reads
the decorator as `attrs.frozen`, so an assignment to a field anywhere in this code fails the type
check; a changed value is a new one, made with `attrs.evolve`. Equality and hashing are by value, as
for a frozen class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from attrs import frozen as value_class
else:

    def value_class(cls: type) -> type:
        return attrs.define(cls, slots=True, unsafe_hash=True)


__all__ = ["value_class"]
