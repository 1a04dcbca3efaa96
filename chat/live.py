"""Coalesced pushes across processes: reactions and vote/poll counts, and the send limit.

A stage with thousands of people produces far more reactions and votes than sockets can take
as separate pushes. Every process adds to shared Redis counters; the first process to see a
change in a window wins `SET NX PX` for that window and publishes one aggregated push when
it ends. If that process dies before its flush, the counters wait in Redis and the next
change elects another flusher — nothing is counted twice, because the flush reads and
deletes atomically.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from django.conf import settings

from chat import services
from eventplatform.realtime import bus
from eventplatform.realtime.bus import channel_for
from eventplatform.realtime.envelope import encode_push
from eventplatform.realtime.runtime import runtime

log = logging.getLogger(__name__)

REACTIONS = ("applause", "laugh", "heart", "wow", "thumbsup", "question")

# HGETALL + DEL in one step: a reaction arriving meanwhile lands in the next window.
_TAKE_HASH = """
local v = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
return v
"""
_TAKE_SET = """
local v = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return v
"""
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""

_tasks: set[asyncio.Task] = set()


def _key(*parts) -> str:
    return ":".join([settings.REDIS_PREFIX, "chat", *map(str, parts)])


def _spawn(coro) -> None:
    task = asyncio.create_task(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def send_allowed(participant_id: int) -> float | None:
    """Per-person limit for messages and questions; None if allowed, else seconds to wait."""
    client = runtime().redis
    window_ms = settings.CHAT["SEND_WINDOW"] * 1000
    count, ttl = await client.eval(_HIT, 1, _key("send", participant_id), window_ms)
    if int(count) > settings.CHAT["SEND_LIMIT"]:
        return max(int(ttl), 0) / 1000
    return None


async def react(channel_id: int, room_id: int, kind: str) -> None:
    client = runtime().redis
    counts = _key("react", channel_id)
    flush_ms = settings.CHAT["REACTION_FLUSH_MS"]
    pipe = client.pipeline(transaction=False)
    pipe.hincrby(counts, kind, 1)
    pipe.expire(counts, 60)
    pipe.set(_key("react-flush", channel_id), "1", nx=True, px=flush_ms)
    _n, _e, won = await pipe.execute()
    if won:
        _spawn(_flush_reactions(channel_id, room_id, counts, flush_ms / 1000))


async def _flush_reactions(channel_id: int, room_id: int, counts_key: str, delay: float) -> None:
    try:
        await asyncio.sleep(delay)
        client = runtime().redis
        flat = await client.eval(_TAKE_HASH, 1, counts_key)
        counts = {flat[i]: int(flat[i + 1]) for i in range(0, len(flat), 2)}
        if counts:
            text = encode_push("chat.reactions", {"channel_id": channel_id, "room_id": room_id, "counts": counts})
            await client.publish(channel_for(services.channel_group(channel_id)), text)
    except Exception:
        log.exception("reaction flush failed")


async def count_changed(kind: str, event_id: int, object_id: int, group: str) -> None:
    """Mark a question's votes (kind "q") or a poll's counts (kind "p") for the next flush."""
    client = runtime().redis
    dirty = _key("dirty", kind, event_id)
    flush_ms = settings.CHAT["COUNT_FLUSH_MS"]
    pipe = client.pipeline(transaction=False)
    pipe.sadd(dirty, object_id)
    pipe.expire(dirty, 60)
    pipe.set(_key("dirty-flush", kind, event_id), "1", nx=True, px=flush_ms)
    _a, _e, won = await pipe.execute()
    if won:
        _spawn(_flush_counts(kind, dirty, group, flush_ms / 1000))


async def _flush_counts(kind: str, dirty_key: str, group: str, delay: float) -> None:
    try:
        await asyncio.sleep(delay)
        client = runtime().redis
        ids = [int(i) for i in await client.eval(_TAKE_SET, 1, dirty_key)]
        if not ids:
            return
        if kind == "q":
            # Read after the window: the counts are the database's, never a sum kept aside.
            counts = await database_sync_to_async(services.vote_counts)(ids)
            await bus.apublish(client, group, "qa.votes", {"counts": counts})
        else:
            for poll_id in ids:
                counts = await database_sync_to_async(services.poll_counts)(poll_id)
                if counts is not None:
                    await bus.apublish(client, services.channel_group(counts["channel_id"]), "poll.counts", counts)
    except Exception:
        log.exception("count flush failed")
