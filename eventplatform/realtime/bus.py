"""Publishing realtime events from services (sync code, usually inside a transaction).

Every push is encoded once here and sent over one Redis pub/sub channel per group; each web
process forwards the same text to its local sockets (realtime/hub.py). Nothing here is the
record: what must not be lost is in the database, and clients resume from there.

Each publish of a state change also counts up the group's version in Redis (same round
trip). Parts of the snapshot that are the same for everyone are built once per version
(realtime/shared.py), so every push that changes what a snapshot shows must come through here
(or `apublish`); ephemeral pushes (presence, reactions, signalling) may publish directly.
"""

from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.db import transaction

from eventplatform.realtime.envelope import encode, encode_push


def channel_for(group: str) -> str:
    return f"{settings.REDIS_PREFIX}:g:{group}"


def control_channel_for(group: str) -> str:
    return f"{settings.REDIS_PREFIX}:c:{group}"


@cache
def sync_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, health_check_interval=30)


def version_key(group: str) -> str:
    return f"{settings.REDIS_PREFIX}:v:{group}"


def _send(group: str, text: str) -> None:
    # Version first: a reader that sees the new version reads the database after our commit.
    pipe = sync_redis().pipeline(transaction=False)
    pipe.incr(version_key(group))
    pipe.publish(channel_for(group), text)
    pipe.execute()


def publish(group: str, type_: str, data: Any) -> None:
    """Send a push to every socket in `group` now (after the change is committed)."""
    _send(group, encode_push(type_, data))


def publish_on_commit(group: str, type_: str, data: Any) -> None:
    """Send a push once the surrounding transaction commits (never for a rolled-back change)."""
    text = encode_push(type_, data)  # encoded now: later changes to `data` must not leak in
    transaction.on_commit(lambda: _send(group, text))


async def apublish(client, group: str, type_: str, data: Any) -> None:
    """`publish` for async code, with the process's asyncio Redis client."""
    pipe = client.pipeline(transaction=False)
    pipe.incr(version_key(group))
    pipe.publish(channel_for(group), encode_push(type_, data))
    await pipe.execute()


def control(group: str, action: str, **params: Any) -> None:
    """Ask every connection in `group` to do something itself (join a group, close, …)."""
    sync_redis().publish(control_channel_for(group), encode({"action": action, **params}))


def control_on_commit(group: str, action: str, **params: Any) -> None:
    text = encode({"action": action, **params})
    transaction.on_commit(lambda: sync_redis().publish(control_channel_for(group), text))
