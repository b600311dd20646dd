"""This process among others sharing the database: its lease owner id, and work only one may do."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from bot.storage.roles import Singleton


class Instance:
    def __init__(self, store: Singleton) -> None:
        self._store = store

    @property
    def owner(self) -> str:
        return self._store.owner

    def singleton(self, name: str) -> AbstractAsyncContextManager[bool]:
        """`async with instance.singleton(name) as mine`: True in at most one process at a time."""
        return self._store.singleton(name)
