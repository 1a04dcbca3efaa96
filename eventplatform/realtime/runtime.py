"""The realtime machinery of one process and event loop: Redis client, hub, presence, limits.

Kept per event loop because tests run each test in a fresh loop, and asyncio Redis
connections cannot cross loops.
"""

import asyncio
import weakref
from dataclasses import dataclass

import redis.asyncio as aioredis
from django.conf import settings

from eventplatform.realtime.hub import Hub
from eventplatform.realtime.presence import Presence
from eventplatform.realtime.ratelimit import RateLimiter


@dataclass
class Runtime:
    redis: aioredis.Redis
    hub: Hub
    presence: Presence
    limiter: RateLimiter

    async def close(self) -> None:
        await self.presence.close()
        await self.limiter.close()
        await self.hub.close()
        await self.redis.aclose()


_runtimes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runtime]" = weakref.WeakKeyDictionary()


def runtime() -> Runtime:
    loop = asyncio.get_running_loop()
    current = _runtimes.get(loop)
    if current is None:
        # A blocking pool: a join storm waits for a free connection instead of failing once
        # it has opened the pool's maximum.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL, decode_responses=True, socket_timeout=None, max_connections=200, timeout=30
        )
        client = aioredis.Redis(connection_pool=pool)
        current = Runtime(client, Hub(settings.REDIS_URL), Presence(client), RateLimiter(client))
        _runtimes[loop] = current
    return current


async def close_runtime() -> None:
    loop = asyncio.get_running_loop()
    current = _runtimes.pop(loop, None)
    if current is not None:
        await current.close()
