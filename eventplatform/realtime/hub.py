"""Per-process fan-out: one Redis pub/sub subscription per group that has local sockets.

A push is encoded once by its publisher (bus.py). The hub receives the text once per process
and writes the same string to each local socket in a loop: no channel layer round trip and
no re-encoding per recipient (DESIGN.md measured ~0.09 ms per delivery this way against
~0.40 ms for group_send + send per consumer).

Pub/sub is not a record: if the Redis connection drops, messages in between are lost, so the
hub resubscribes and tells every local socket to resync (clients resume from the database).
"""

import asyncio
import json
import logging
import uuid
from collections import defaultdict, deque
from typing import Protocol

import redis.asyncio as aioredis
from django.conf import settings

from eventplatform.realtime.bus import channel_for, control_channel_for
from eventplatform.realtime.wire import text_frame

log = logging.getLogger(__name__)

WRITES_PER_TURN = 400


class Member(Protocol):
    # A member may also have `wire` (not None when it takes ready-made frames, wire.py) and
    # `write_frame(frame) -> bool`; members without them (rosters) get `deliver(text)`.

    async def deliver(self, text: str) -> None: ...

    async def on_control(self, message: dict) -> None: ...

    async def on_resync(self) -> None: ...


class Hub:
    def __init__(self, url: str) -> None:
        self.url = url
        self.process_id = uuid.uuid4().hex
        self.members: dict[str, set[Member]] = defaultdict(set)
        self._group_of_channel: dict[str, str] = {}
        self._pending: dict[str, list[asyncio.Future]] = defaultdict(list)
        self._pubsub: aioredis.client.PubSub | None = None
        self._client: aioredis.Redis | None = None
        self._reader: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._started = asyncio.Event()
        self._start_lock = asyncio.Lock()
        self.delivered = 0  # counted for the benchmarks
        # group → pushes waiting for the end of this loop turn / for the next large batch
        self._batch_now: dict[str, list[str]] = {}
        self._batch_later: dict[str, list[str]] = {}
        self._now_timer: asyncio.Handle | None = None
        self._writes: deque = deque()  # (member, bytes, batch, groups) waiting for _drain
        self._draining = False
        self._later_timer: asyncio.Handle | None = None

    # --- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        if self._reader is not None:  # started: no lock, so joins do not queue behind it
            return
        async with self._start_lock:
            if self._reader is not None:
                return
            await self._connect()
            self._reader = asyncio.create_task(self._read_forever(), name="hub-reader")

    async def _connect(self) -> None:
        # socket_timeout None: a quiet subscription is normal, not a dead connection.
        self._client = aioredis.Redis.from_url(self.url, decode_responses=True, socket_timeout=None)
        self._pubsub = self._client.pubsub()
        # Always subscribed to something, so reading never stops for lack of subscriptions.
        await self._pubsub.subscribe(self._own_channel)
        for group in self.members:
            await self._pubsub.subscribe(channel_for(group), control_channel_for(group))

    @property
    def _own_channel(self) -> str:
        return f"{settings.REDIS_PREFIX}:proc:{self.process_id}"

    async def close(self) -> None:
        for timer in (self._now_timer, self._later_timer):
            if timer is not None:
                timer.cancel()
        self._now_timer = self._later_timer = None
        if self._reader:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
            self._reader = None
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._client is not None:
            await self._client.aclose()

    # --- membership ----------------------------------------------------------------------
    async def join(self, group: str, member: Member) -> None:
        """Add a local socket to a group; returns once Redis confirmed the subscription."""
        await self.start()
        members = self.members[group]
        first = not members
        members.add(member)
        if first:
            channel = channel_for(group)
            self._group_of_channel[channel] = group
            self._group_of_channel[control_channel_for(group)] = group
            confirmed = asyncio.get_running_loop().create_future()
            self._pending[channel].append(confirmed)
            await self._pubsub.subscribe(channel, control_channel_for(group))
            await asyncio.wait_for(confirmed, timeout=10)
        elif self._pending.get(channel_for(group)):
            # Someone else's subscribe for this group is still in flight: wait for it too.
            await asyncio.wait_for(asyncio.shield(self._pending[channel_for(group)][0]), timeout=10)

    async def leave(self, group: str, member: Member) -> None:
        members = self.members.get(group)
        if not members or member not in members:
            return
        members.discard(member)
        if not members:
            del self.members[group]
            if self._pubsub is not None:
                try:
                    await self._pubsub.unsubscribe(channel_for(group), control_channel_for(group))
                except (ConnectionError, OSError, aioredis.RedisError):
                    pass  # the reconnect subscribes only to groups that still have members

    def local_count(self, group: str) -> int:
        return len(self.members.get(group, ()))

    # --- reading -------------------------------------------------------------------------
    async def _read_forever(self) -> None:
        backoff = 0.2
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except (ConnectionError, OSError, TimeoutError, aioredis.RedisError) as exc:
                log.warning("hub lost its Redis subscription (%s); reconnecting", exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5)
                await self._reconnect()
                continue
            if message is not None:
                await self._dispatch(message)

    async def _reconnect(self) -> None:
        try:
            if self._pubsub is not None:
                await self._pubsub.aclose()
            await self._connect()
        except (ConnectionError, OSError, TimeoutError, aioredis.RedisError) as exc:
            log.warning("hub reconnect failed: %s", exc)
            return
        # What was published in between is gone; every socket re-reads its state.
        for member in {m for members in self.members.values() for m in members}:
            self._spawn(member.on_resync())

    async def _dispatch(self, message: dict) -> None:
        kind = message["type"]
        channel = message["channel"]
        if kind == "subscribe":
            for future in self._pending.pop(channel, []):
                if not future.done():
                    future.set_result(True)
            return
        if kind != "message":
            return
        group = self._group_of_channel.get(channel)
        if group is None:
            return
        members = self.members.get(group)
        if not members:
            return
        if channel.startswith(f"{settings.REDIS_PREFIX}:g:"):
            await self._fan_out(group, message["data"], tuple(members))
        else:
            control = json.loads(message["data"])
            for member in tuple(members):
                # Controls may join groups, which waits for this very reader: run them aside.
                self._spawn(member.on_control(control))

    async def _fan_out(self, group: str, text: str, members: tuple) -> None:
        # Sockets with a direct line (wire.py) get the push in the next batch; the rest (rooms'
        # rosters, sockets not served by daphne) get it now, in order, the ordinary way.
        queued = False
        for member in members:
            if getattr(member, "wire", None) is not None:
                queued = True
                continue
            try:
                await member.deliver(text)
                self.delivered += 1
            except Exception:  # a socket closing mid-send must not stop the others
                log.debug("delivery to a closing socket failed", exc_info=True)
        if queued:
            self._queue(group, text, len(members))

    def _queue(self, group: str, text: str, local_members: int) -> None:
        # Small groups (a person's tabs, a breakout room: signalling must be quick) go out at the
        # end of this turn of the loop; a large audience in batches of FANOUT_BATCH_MS, so the
        # kernel sees one write per socket per batch, not one per push. A group with pushes
        # already waiting keeps using that batch: its pushes stay in order.
        cfg = settings.REALTIME
        large = local_members >= cfg["FANOUT_BATCH_FROM"] and cfg["FANOUT_BATCH_MS"] > 0
        if group in self._batch_later or (large and group not in self._batch_now):
            self._batch_later.setdefault(group, []).append(text)
            if self._later_timer is None:
                self._later_timer = asyncio.get_running_loop().call_later(
                    cfg["FANOUT_BATCH_MS"] / 1000, self._flush_later
                )
        else:
            self._batch_now.setdefault(group, []).append(text)
            if self._now_timer is None:
                self._now_timer = asyncio.get_running_loop().call_soon(self._flush_now)

    def _flush_now(self) -> None:
        batch, self._batch_now, self._now_timer = self._batch_now, {}, None
        self._flush(batch)

    def _flush_later(self) -> None:
        batch, self._batch_later, self._later_timer = self._batch_later, {}, None
        self._flush(batch)

    def _flush(self, batch: dict[str, list[str]]) -> None:
        """Write every socket what the batch holds for it, in one write: each push's frame is
        built once, and a socket in several groups gets their frames joined (in each group's
        order), so the kernel sees one send per socket per batch, not one per push."""
        blobs = {group: b"".join(text_frame(text) for text in texts) for group, texts in batch.items()}
        wanted: dict = {}  # member → the groups with something for it
        for group in batch:
            for member in self.members.get(group, ()):
                if getattr(member, "wire", None) is not None:
                    wanted.setdefault(member, []).append(group)
        joined: dict[tuple, bytes] = {}  # most sockets share their groups: join once per set
        for member, groups in wanted.items():
            key = tuple(groups)
            data = joined.get(key)
            if data is None:
                data = joined[key] = blobs[groups[0]] if len(groups) == 1 else b"".join(blobs[g] for g in groups)
            self._writes.append((member, data, batch, key))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        # A few hundred writes per turn of the loop, then the loop serves everything else (a
        # chat message arriving, a reply) before the next few hundred: a stage of thousands
        # does not stall the process for the whole fan-out. One queue: a socket's writes stay
        # in the order they were flushed.
        writes = self._writes
        for _ in range(min(len(writes), WRITES_PER_TURN)):
            member, data, batch, groups = writes.popleft()
            try:
                if member.write_frame(data):
                    self.delivered += sum(len(batch[g]) for g in groups)
                else:  # no longer open: the ordinary path decides what happens
                    for g in groups:
                        for text in batch[g]:
                            self._spawn(member.deliver(text))
            except Exception:  # a socket closing mid-send must not stop the others
                log.debug("delivery to a closing socket failed", exc_info=True)
        if writes:
            asyncio.get_running_loop().call_soon(self._drain)
        else:
            self._draining = False

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
