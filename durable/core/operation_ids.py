"""How operation ids nest: a context's n-th operation is `prefix-n`, so an id names its whole ancestry.

A map or parallel's branch i is the (i+1)-th id under the batch's id, and
every record a branch writes has an id under the branch's.
"""

from __future__ import annotations


def child_id(prefix: str | None, step: int) -> str:
    return f"{prefix}-{step}" if prefix else str(step)


def is_under(root: str, operation_id: str) -> bool:
    """Whether `operation_id` is `root` itself or inside it."""
    return operation_id == root or operation_id.startswith(root + "-")


def ancestors(operation_id: str) -> list[str]:
    """The ids `operation_id` is inside, outermost first (`"3-2-1"` -> `["3", "3-2"]`)."""
    parts = operation_id.split("-")
    return ["-".join(parts[:n]) for n in range(1, len(parts))]


def branch_index(prefix: str, operation_id: str) -> int | None:
    """The index of the branch of batch `prefix` that `operation_id` is in, or None if it is in none."""
    if not operation_id.startswith(prefix + "-"):
        return None
    step = operation_id[len(prefix) + 1:].split("-", 1)[0]
    return int(step) - 1 if step.isdigit() else None
