"""The engine's callback-signing key: a secret file beside the store, readable by its owner only.

Kept with the store so that callback ids stay valid across engine restarts
on the same store; a key file others could read is tightened, not trusted
silently, and a file too short to be a key is refused.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from loguru import logger

from durable.stores.base import StoreError

KEY_BYTES = 32


def load_or_create_key(path: Path | None) -> bytes:
    """The engine's signing key at `path` (created owner-only on first use); a fresh one if None."""
    if path is None:
        return secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning("{} was readable by others (mode {:o}); restricting it to its owner", path, mode)
            path.chmod(0o600)
        key = path.read_bytes()
        if len(key) < 16:
            raise StoreError(f"{path} is not a durable signing key (too short); delete it to make a new one") from None
        return key
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES))
    return path.read_bytes()
