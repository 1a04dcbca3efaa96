"""Who is connected, across every web process, expiring when a process dies.

Per event, Redis holds a sorted set of connection ids scored by the time their entry expires,
and a hash of connection id → the person's public profile and current room. Each process
refreshes its own connections' expiry every PRESENCE_REFRESH seconds; a process that dies stops
refreshing, and its entries stop counting PRESENCE_TTL seconds later (readers only count
unexpired entries; any live process sweeps the expired ones and announces the change).

Changes reach clients as `presence.update`, coalesced: at most one per PRESENCE_COALESCE_MS
per event across all processes (a SET NX key decides which process sends it).
"""

import asyncio
import json
import logging
import time
from collections import defaultdict

import redis.asyncio as aioredis
from django.conf import settings

from eventplatform.realtime import groups
from eventplatform.realtime.bus import channel_for
from eventplatform.realtime.envelope import encode_push

log = logging.getLogger(__name__)


def _cfg(name: str) -> int:
    return settings.REALTIME[name]


def _key(event_id: int, part: str) -> str:
    return f"{settings.REDIS_PREFIX}:pr:{event_id}:{part}"


class Presence:
    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        # event id → connection id → profile json, for this process's sockets
        self.local: dict[int, dict[str, str]] = defaultdict(dict)
        self._cache: dict[int, tuple[float, dict]] = {}
        self._reading: dict[int, asyncio.Future] = {}
        self._refresher: asyncio.Task | None = None
        self._timers: set[asyncio.Task] = set()
        self._decoded: dict[int, dict[str, dict]] = {}  # event id → profile text → profile (read-only)

    def _expiry_ms(self) -> int:
        return int((time.time() + _cfg("PRESENCE_TTL")) * 1000)

    async def enter(self, event_id: int, conn_id: str, profile: dict) -> None:
        self._ensure_refresher()
        encoded = json.dumps(profile, separators=(",", ":"))
        self.local[event_id][conn_id] = encoded
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(_key(event_id, "h"), conn_id, encoded)
            pipe.zadd(_key(event_id, "z"), {conn_id: self._expiry_ms()})
            await pipe.execute()
        await self.changed(event_id)

    async def update(self, event_id: int, conn_id: str, profile: dict) -> None:
        if conn_id not in self.local.get(event_id, {}):
            return
        encoded = json.dumps(profile, separators=(",", ":"))
        self.local[event_id][conn_id] = encoded
        await self.redis.hset(_key(event_id, "h"), conn_id, encoded)
        await self.changed(event_id)

    async def leave(self, event_id: int, conn_id: str) -> None:
        local = self.local.get(event_id, {})
        local.pop(conn_id, None)
        if not local:
            self.local.pop(event_id, None)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrem(_key(event_id, "z"), conn_id)
            pipe.hdel(_key(event_id, "h"), conn_id)
            await pipe.execute()
        await self.changed(event_id)

    async def everyone(self, event_id: int) -> list[dict]:
        """Every online participant once (however many tabs), sorted by name."""
        conn_ids = await self.redis.zrangebyscore(_key(event_id, "z"), int(time.time() * 1000), "+inf")
        profiles = await self.redis.hmget(_key(event_id, "h"), conn_ids) if conn_ids else []
        people: dict[int, dict] = {}
        # Profiles rarely change: decode each distinct text once, keep only those still online.
        decoded, self._decoded[event_id] = self._decoded.get(event_id, {}), {}
        for raw in profiles:
            if raw is None:
                continue
            profile = decoded.get(raw)
            if profile is None:
                profile = json.loads(raw)
            self._decoded[event_id][raw] = profile
            known = people.get(profile["id"])
            if known is None or (known.get("room_id") is None and profile.get("room_id") is not None):
                people[profile["id"]] = profile
        return sorted(people.values(), key=lambda p: (p["name"].casefold(), p["id"]))

    async def summary(self, event_id: int, max_age: float = 0.25) -> dict:
        """The count and the first PRESENCE_LIST_LIMIT people; cached briefly per process,
        because a join storm would otherwise read the whole set once per join."""
        cached = self._cache.get(event_id)
        now = time.monotonic()
        if cached and now - cached[0] < max_age:
            return cached[1]
        if max_age <= 0:
            return await self._read_summary(event_id, now)
        # One read of the whole set per event at a time: in a join storm every hello would
        # otherwise start its own read and sort of thousands of entries (61 % of the CPU).
        reading = self._reading.get(event_id)
        if reading is None:
            reading = asyncio.ensure_future(self._read_summary(event_id, now))
            self._reading[event_id] = reading
            reading.add_done_callback(lambda _done: self._reading.pop(event_id, None))
        return await asyncio.shield(reading)

    async def _read_summary(self, event_id: int, now: float) -> dict:
        listed = await self.everyone(event_id)
        limit = _cfg("PRESENCE_LIST_LIMIT")
        result = {"count": len(listed), "participants": listed[:limit], "truncated": len(listed) > limit}
        self._cache[event_id] = (now, result)
        return result

    async def changed(self, event_id: int) -> None:
        """Schedule one coalesced presence.update for the event (unless one is pending)."""
        # The cached summary stays: it is at most max_age old, and the update this change
        # schedules reads fresh. Dropping it per change made every join re-read the whole set.
        window = _cfg("PRESENCE_COALESCE_MS")
        # The key lives shorter than the delay, so any change while it exists is read by the
        # publish that the key stands for.
        won = await self.redis.set(_key(event_id, "tick"), "1", nx=True, px=max(1, int(window * 0.8)))
        if won:
            task = asyncio.create_task(self._publish_later(event_id, window / 1000))
            self._timers.add(task)
            task.add_done_callback(self._timers.discard)

    async def _publish_later(self, event_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            summary = await self.summary(event_id, max_age=0)
            await self.redis.publish(channel_for(groups.event(event_id)), encode_push("presence.update", summary))
        except (ConnectionError, OSError, aioredis.RedisError):
            log.warning("could not publish presence for event %s", event_id, exc_info=True)

    # --- keeping entries alive ------------------------------------------------------------
    def _ensure_refresher(self) -> None:
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh_forever(), name="presence-refresh")

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(_cfg("PRESENCE_REFRESH"))
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("presence refresh failed", exc_info=True)

    async def refresh(self) -> None:
        """Extend this process's entries and sweep the expired ones of dead processes."""
        expiry = self._expiry_ms()
        now_ms = int(time.time() * 1000)
        for event_id, conns in list(self.local.items()):
            if not conns:
                continue
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zadd(_key(event_id, "z"), {conn_id: expiry for conn_id in conns})
                pipe.hset(_key(event_id, "h"), mapping=dict(conns))
                await pipe.execute()
            expired = await self.redis.zrangebyscore(_key(event_id, "z"), "-inf", now_ms)
            if expired:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.zrem(_key(event_id, "z"), *expired)
                    pipe.hdel(_key(event_id, "h"), *expired)
                    await pipe.execute()
                await self.changed(event_id)

    async def close(self) -> None:
        for task in [self._refresher, *self._timers]:
            if task is not None:
                task.cancel()
