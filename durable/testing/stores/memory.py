"""Executions kept in memory for the runner's life (`memory://`)."""

from __future__ import annotations


class InMemoryExecutionStore:
    @property
    def store_url(self) -> str:
        return "memory://"
