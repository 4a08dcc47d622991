"""Limits the SDK names as constants."""

CHECKPOINT_SIZE_LIMIT_BYTES = 256 * 1024
"""A result larger than this is not checkpointed: its context replays its children instead."""
