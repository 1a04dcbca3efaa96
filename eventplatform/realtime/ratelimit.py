"""Message rate limits of the event socket: per connection, and per person across processes.

Per connection (RATE_LIMIT messages per RATE_WINDOW seconds): a connection lives in exactly
one process, so it is counted there, exactly and without a round trip per frame (one Redis
round trip per message was a third of a relayed WebRTC signal's Redis traffic).

Per person (RATE_LIMIT_PERSON per window, over all their tabs on every web process): counted
in Redis, so opening more tabs or reconnecting to another process does not reset it. Each
process sends its counts in one pipeline every FLUSH_SECONDS, not per frame; a person over the
limit is refused by every process from its next flush on (a flood gets at most one flush
interval's worth past the limit).
"""

import asyncio
import logging
import time
from collections import Counter

import redis.asyncio as aioredis
from django.conf import settings

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.25

# KEYS: one counter per person; ARGV: the window in ms, then each person's new messages. Each
# key's window starts with its first message (SET NX PX); returns total and remaining ms each.
COUNT_SCRIPT = """
local window = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'PX', window, 'NX')
  out[#out + 1] = redis.call('INCRBY', key, tonumber(ARGV[i + 1]))
  out[#out + 1] = redis.call('PTTL', key)
end
return out
"""


def _window() -> float:
    return settings.REALTIME["RATE_WINDOW"]


class RateLimiter:
    def __init__(self, client: aioredis.Redis) -> None:
        self.redis = client
        # conn id → (when its window ends, messages in it); windows that ended are swept.
        self._windows: dict[str, tuple[float, int]] = {}
        self._next_sweep = 0.0
        self._unsent: Counter[int] = Counter()  # person → messages not yet counted in Redis
        self._blocked: dict[int, float] = {}  # person → until (monotonic)
        self._flusher: asyncio.Task | None = None
        self._count_script = client.register_script(COUNT_SCRIPT)

    async def hit(self, conn_id: str, person_id: int | None = None) -> float | None:
        """Count one message; None if allowed, else seconds until it would be."""
        now = time.monotonic()
        ends, count = self._windows.get(conn_id, (0.0, 0))
        if now >= ends:
            ends, count = now + _window(), 0
        count += 1
        self._windows[conn_id] = (ends, count)
        if now >= self._next_sweep:
            self._sweep(now)
        if count > settings.REALTIME["RATE_LIMIT"]:
            return round(max(ends - now, 0.001), 3)
        if person_id is None:
            return None
        blocked_until = self._blocked.get(person_id, 0.0)
        if blocked_until > now:
            return round(blocked_until - now, 3)
        self._unsent[person_id] += 1
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())
        return None

    def _sweep(self, now: float) -> None:
        # Closed connections stop hitting; their ended windows go within a window's time.
        self._windows = {key: window for key, window in self._windows.items() if window[0] > now}
        self._blocked = {person: until for person, until in self._blocked.items() if until > now}
        self._next_sweep = now + _window()

    async def _flush_soon(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        counts, self._unsent = self._unsent, Counter()
        try:
            await self._count_in_redis(counts)
        except (ConnectionError, OSError, aioredis.RedisError):
            # Redis away: the per-connection limit still holds; these counts are dropped.
            log.warning("could not count messages per person in Redis", exc_info=True)

    async def _count_in_redis(self, counts: Counter) -> None:
        people = list(counts)
        keys = [f"{settings.REDIS_PREFIX}:rl:p:{person}" for person in people]
        # One command for every person instead of three each: 400 people talking at once made
        # the pipeline's 1,200 commands a visible share of the event loop's time.
        replies = await self._count_script(keys=keys, args=[int(_window() * 1000), *counts.values()], client=self.redis)
        limit = settings.REALTIME["RATE_LIMIT_PERSON"]
        now = time.monotonic()
        for n, person in enumerate(people):
            total, ttl_ms = int(replies[2 * n]), int(replies[2 * n + 1])
            if total > limit:
                self._blocked[person] = now + max(ttl_ms, 1) / 1000

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
