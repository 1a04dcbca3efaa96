"""Publishing realtime events from services (sync code, usually inside a transaction).

Every push is encoded once here and sent over one Redis pub/sub channel per group; each web
process forwards the same text to its local sockets (realtime/hub.py). Nothing here is the
record: what must not be lost is in the database, and clients resume from there.
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


def publish(group: str, type_: str, data: Any) -> None:
    """Send a push to every socket in `group` now."""
    sync_redis().publish(channel_for(group), encode_push(type_, data))


def publish_on_commit(group: str, type_: str, data: Any) -> None:
    """Send a push once the surrounding transaction commits (never for a rolled-back change)."""
    text = encode_push(type_, data)  # encoded now: later changes to `data` must not leak in
    transaction.on_commit(lambda: sync_redis().publish(channel_for(group), text))


def control(group: str, action: str, **params: Any) -> None:
    """Ask every connection in `group` to do something itself (join a group, close, …)."""
    sync_redis().publish(control_channel_for(group), encode({"action": action, **params}))


def control_on_commit(group: str, action: str, **params: Any) -> None:
    text = encode({"action": action, **params})
    transaction.on_commit(lambda: sync_redis().publish(control_channel_for(group), text))
