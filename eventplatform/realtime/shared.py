"""Parts of the snapshot that are the same for everyone in an event, built once per version.

A join storm brings a thousand people who all need the same chat history, Q&A list, barcamp
board and transition plan. Reading and shaping those for each join cost most of a join's time
(docs/benchmarks.md, join storm). A `SharedPart` builds its piece once per process and keeps it
while the version of every group it depends on is unchanged.

Versions are counters in Redis that `bus` counts up with every publish of a state change, in
the same round trip as the publish and after the change is committed. A join reads the
versions first (one MGET) and the database after, so a part stamped with a version always
contains every change published up to it; a change published later shows up as a newer version
(the next join rebuilds) and as a push to this socket, which has already joined its groups.
An epoch key, made once per Redis data set, keeps stamps from an emptied Redis from matching.
"""

import asyncio
import time
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from eventplatform.realtime.bus import version_key
from eventplatform.realtime.runtime import runtime


def epoch_key() -> str:
    return f"{settings.REDIS_PREFIX}:v:epoch"


class _VersionReader:
    """One MGET for all the stamps asked while the previous MGET was under way.

    A join storm asks for several stamps per join; batching them keeps Redis round trips (and
    their CPU in this process) from growing with the joins. Every request is answered by a
    read that was sent after the request was made, so it is as fresh as a read of its own.
    """

    def __init__(self) -> None:
        self._waiting: list[tuple[list[str], asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    async def read(self, keys: list[str]) -> list:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((keys, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                unique = list(dict.fromkeys(key for keys, _ in batch for key in keys))
                try:
                    values = dict(zip(unique, await runtime().redis.mget(unique)))
                except Exception as exc:  # each waiter raises it: a join fails, the process does not
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for keys, future in batch:
                    if not future.done():
                        future.set_result([values[key] for key in keys])
        finally:
            self._task = None


_readers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _VersionReader]" = weakref.WeakKeyDictionary()


def _reader() -> _VersionReader:
    loop = asyncio.get_running_loop()  # like the Redis client it uses: one per event loop
    reader = _readers.get(loop)
    if reader is None:
        reader = _readers[loop] = _VersionReader()
    return reader


PARTS: list["SharedPart"] = []


def forget_all() -> None:
    """Drop every cached part (tests: a rolled-back database reuses event ids)."""
    for part in PARTS:
        part.forget()


@dataclass
class _Entry:
    stamp: tuple
    built_at: float
    data: Any


class SharedPart:
    """`build(event_id)` is sync code run in the database thread; its result must not be
    changed by callers (every join gets the same object). `get` is told the fan-out groups
    whose pushes change the part. `max_age` bounds parts that also depend on the clock."""

    def __init__(self, name: str, build: Callable[[int], Any], max_age: float | None = None) -> None:
        self.name = name
        self._build = database_sync_to_async(build)
        self.max_age = max_age
        self._entries: dict[int, _Entry] = {}
        self._building: dict[tuple[int, tuple], asyncio.Future] = {}
        self.builds = 0  # counted for tests and benchmarks
        PARTS.append(self)

    @staticmethod
    async def stamp(groups: Iterable[str]) -> tuple:
        keys = [epoch_key(), *(version_key(group) for group in groups)]
        values = await _reader().read(keys)
        if values[0] is None:
            await runtime().redis.set(epoch_key(), uuid.uuid4().hex, nx=True)
            values = await _reader().read(keys)
        return tuple(values)

    async def get(self, event_id: int, groups: Iterable[str]) -> Any:
        stamp = await self.stamp(groups)
        entry = self._entries.get(event_id)
        if entry is not None and entry.stamp == stamp and not self._too_old(entry):
            return entry.data
        # One build per version, however many joins arrive while it runs.
        key = (event_id, stamp)
        pending = self._building.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._building[key] = future
        try:
            data = await self._build(event_id)
            self.builds += 1
            current = self._entries.get(event_id)
            if current is None or current.stamp != stamp or self._too_old(current):
                self._entries[event_id] = _Entry(stamp, time.monotonic(), data)
            future.set_result(data)
            return data
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else must log it
            raise
        finally:
            del self._building[key]

    def _too_old(self, entry: _Entry) -> bool:
        return self.max_age is not None and time.monotonic() - entry.built_at > self.max_age

    def forget(self, event_id: int | None = None) -> None:
        if event_id is None:
            self._entries.clear()
        else:
            self._entries.pop(event_id, None)
