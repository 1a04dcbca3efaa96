"""Per-connection message rate limit in Redis (fixed window, one round trip per message)."""

import redis.asyncio as aioredis
from django.conf import settings

# INCR the window's counter, start its clock on the first hit, return count and ms left.
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""


class RateLimiter:
    def __init__(self, client: aioredis.Redis) -> None:
        self._hit = client.register_script(_HIT)

    async def hit(self, conn_id: str) -> float | None:
        """Count one message; returns None if allowed, else seconds until the window reopens."""
        limit = settings.REALTIME["RATE_LIMIT"]
        window_ms = settings.REALTIME["RATE_WINDOW"] * 1000
        count, ttl = await self._hit(keys=[f"{settings.REDIS_PREFIX}:rl:{conn_id}"], args=[window_ms])
        if int(count) > limit:
            return max(int(ttl), 0) / 1000
        return None
