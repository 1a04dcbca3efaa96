"""Who sits in which breakout room, as one web process knows it.

Each web process keeps one roster per event it holds sockets of: where everyone of the event
sits (participant → open room; read once from the Assignment table when the first socket of
the event connects here, then kept up to date by the seatings) and which of this process's
sockets belong to whom.

A committed change of assignments (a move of one person or of a thousand, a room closing,
rooms opening with pre-assigned people) is published once, on the event's seating channel, as
one message that lists every new seat (services.Outbox). Every process applies it to its roster
first, then moves its own sockets of those people between room groups in one batch (one Redis
subscription per room new to this process, all at once) and sends each of them its new
assignment, encoded once per room by the service. The moved sockets are never asked to do it
themselves one control message at a time.

Signalling asks the roster: both in the same open room → relay; anything else goes to the
database, which decides every refusal (services.relay_allowed). A process applies a seating
before it tells its own sockets about it, so a moved person's signalling is refused by their
process from before they even hear of the move. The roster is a mirror, never the record: when
the process's Redis subscription drops (seatings may have been missed) it is read again.
"""

import asyncio
import json
import logging
import weakref
from collections import defaultdict

from channels.db import database_sync_to_async

from eventplatform.realtime import groups
from eventplatform.realtime.runtime import runtime

log = logging.getLogger(__name__)


def seating_group(event_id: int) -> str:
    """The hub group every process with sockets of the event listens on for seatings."""
    return f"breakouts.{event_id}"


def encode_seating(seats: dict[int, tuple[int | None, str | None]]) -> str:
    """participant → (room or None, the assignment push text to send them or None), as one
    message; each distinct text is carried once."""
    texts: dict[str, int] = {}
    rows = []
    for pid, (room_id, text) in seats.items():
        index = None if text is None else texts.setdefault(text, len(texts))
        rows.append((pid, room_id, index))
    return json.dumps({"texts": list(texts), "seats": rows}, separators=(",", ":"), ensure_ascii=False)


def _open_seats(event_id: int) -> dict[int, int]:
    from rooms.models import Assignment

    return dict(
        Assignment.objects.filter(event_id=event_id, breakout__is_open=True).values_list(
            "participant_id", "breakout__room_id"
        )
    )


class Roster:
    def __init__(self, event_id: int, hub) -> None:
        self.event_id = event_id
        self.hub = hub
        self.where: dict[int, int] = {}  # participant → open room, for everyone of the event
        self.sockets: dict[int, set] = defaultdict(set)  # participant → this process's sockets
        self.seated: dict[object, int] = {}  # socket → the room group it is in
        self._ready = asyncio.get_running_loop().create_future()
        self._early: list[str] | None = []  # seatings heard while the table was being read
        # Regrouping sockets waits for Redis; one batch at a time keeps seatings in order.
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self.signals = SignalPost(runtime().redis)

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        try:
            # Listen first, then read: a seating committed meanwhile is heard and replayed.
            await self.hub.join(seating_group(self.event_id), self)
            await self._reload()
        except BaseException as exc:
            self._ready.set_exception(exc)
            raise
        self._ready.set_result(True)

    async def ready(self) -> None:
        await asyncio.shield(self._ready)

    async def _reload(self) -> None:
        self._early = []
        where = await database_sync_to_async(_open_seats)(self.event_id)
        early, self._early = self._early, None
        self.where = where
        for text in early:
            await self._apply(text)

    async def stop(self) -> None:
        await self.hub.leave(seating_group(self.event_id), self)

    # --- this process's sockets ----------------------------------------------------------
    def admit(self, conn) -> None:
        self.sockets[conn.actor.participant_id].add(conn)

    def dismiss(self, conn) -> bool:
        """Forget a closing socket; True when the roster has no socket left here."""
        pid = conn.actor.participant_id
        mine = self.sockets.get(pid)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self.sockets[pid]
        self.seated.pop(conn, None)
        return not self.sockets

    async def seat(self, conn, room_id: int | None) -> None:
        """Put one socket into its room's group (and out of any other)."""
        async with self._lock:
            await self._move(conn, room_id)

    def room_of(self, participant_id: int) -> int | None:
        return self.where.get(participant_id)

    def shared_room(self, a: int, b: int) -> int | None:
        """The open room both are in, per this roster; None when not (the database decides)."""
        room_id = self.where.get(a)
        if room_id is not None and a != b and self.where.get(b) == room_id:
            return room_id
        return None

    # --- from the hub (the Member protocol) ------------------------------------------------
    async def deliver(self, text: str) -> None:
        # Runs inside the hub's reader, which delivers everything after it only once this
        # returns: tell the moved sockets here and now, and never wait for Redis here.
        if self._early is not None:
            self._early.append(text)
            return
        await self._apply(text)

    async def on_control(self, message: dict) -> None:
        pass

    async def on_resync(self) -> None:
        # Seatings may have been lost with the subscription: read the table again, then put
        # every socket here where the table says (their clients resync their own views).
        async with self._lock:
            await self._reload()
            for conn in list(self.seated) + [c for conns in self.sockets.values() for c in conns]:
                await self._move(conn, self.where.get(conn.actor.participant_id))

    # --- applying a seating --------------------------------------------------------------
    async def _apply(self, text: str) -> None:
        message = json.loads(text)
        texts = message["texts"]
        batch = []
        for pid, room_id, index in message["seats"]:
            # The roster first: from here on this process relays signalling by the new seats.
            if room_id is None:
                self.where.pop(pid, None)
            else:
                self.where[pid] = room_id
            for conn in self.sockets.get(pid, ()):
                batch.append((conn, room_id))
                if index is not None:
                    await self._send(conn, texts[index])
        if batch:
            # Group changes wait for Redis (a subscription per room new here): not in the reader.
            task = asyncio.create_task(self._regroup(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _regroup(self, batch: list[tuple]) -> None:
        async with self._lock:
            joining: dict[int, list] = defaultdict(list)
            for conn, room_id in batch:
                if self.seated.get(conn) == room_id:
                    continue
                await self._move(conn, None)
                if room_id is not None:
                    joining[room_id].append(conn)
            # One subscription round trip per room new here, every room at once.
            await asyncio.gather(*(self._join_room(room_id, conns) for room_id, conns in joining.items()))
            # Whoever was in their old room's call is out of it now (the service took them out
            # of the call's members): their presence and the room's chat follow.
            for conn, room_id in batch:
                if getattr(conn, "call_room_id", None) not in (None, room_id):
                    conn.call_room_id = None
                    try:
                        await conn.set_room(None)
                    except Exception:
                        log.debug("presence of a closing socket", exc_info=True)

    async def _join_room(self, room_id: int, conns: list) -> None:
        for conn in conns:
            if conn not in self.sockets.get(conn.actor.participant_id, ()):
                continue  # closed meanwhile
            try:
                await conn.join(groups.room(room_id))
            except Exception:
                log.warning("socket could not join room %s", room_id, exc_info=True)
                continue
            self.seated[conn] = room_id

    async def _move(self, conn, room_id: int | None) -> None:
        old = self.seated.get(conn)
        if old == room_id:
            return
        if old is not None:
            del self.seated[conn]
            await conn.leave(groups.room(old))
        if room_id is not None and conn.actor.participant_id in self.sockets:
            await conn.join(groups.room(room_id))
            self.seated[conn] = room_id

    @staticmethod
    async def _send(conn, text: str) -> None:
        try:
            await conn.write(text)  # the direct line when there is one (wire.py)
        except Exception:  # a socket closing mid-send must not stop the others
            log.debug("assignment to a closing socket failed", exc_info=True)


# ARGV: channel, message, channel, message, … (channels are not keys: no KEYS needed).
PUBLISH_ALL = """
for i = 1, #ARGV, 2 do
  redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return #ARGV / 2
"""


class SignalPost:
    """WebRTC signals of every socket of the event here, published in one Redis command per turn
    of the event loop: 200 rooms negotiating at once send thousands within a second, and one
    round trip per signal was most of their cost.

    The sender does not wait for Redis. Order is kept without it: signals are published in the
    order they were posted (one batch after the other, each batch in order), so an answer never
    overtakes its offer. Waiting made a socket's signals queue behind one Redis round trip each
    (a browser sends its ICE candidates together), which under load was most of their latency.
    A signal lost because Redis is away is logged; the browsers' perfect negotiation restarts
    ICE, as it must for any signal that arrives after its peer left."""

    def __init__(self, client) -> None:
        self.client = client
        self._queue: list[str] = []  # channel, text, channel, text, …
        self._flushing: asyncio.Task | None = None
        self._publish_all = client.register_script(PUBLISH_ALL)

    def post(self, channel: str, text: str) -> None:
        self._queue += (channel, text)
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    # One command for the batch: redis-py packs and parses each command of a
                    # pipeline in Python, and a burst's thousands of PUBLISHes showed in profiles.
                    await self._publish_all(args=batch, client=self.client)
                except Exception:
                    log.warning("%d WebRTC signals could not be published", len(batch) // 2, exc_info=True)
        finally:
            self._flushing = None


# One roster per event per hub (a hub belongs to one event loop, see realtime/runtime.py).
_rosters: "weakref.WeakKeyDictionary[object, dict[int, Roster]]" = weakref.WeakKeyDictionary()


async def enter(conn) -> Roster:
    """The event's roster in this process, started if need be, with this socket in it."""
    hub = runtime().hub
    by_event = _rosters.setdefault(hub, {})
    roster = by_event.get(conn.event_id)
    if roster is None:
        roster = by_event[conn.event_id] = Roster(conn.event_id, hub)
        roster.admit(conn)
        try:
            await roster.start()
        except BaseException:
            by_event.pop(conn.event_id, None)
            raise
    else:
        roster.admit(conn)
        await roster.ready()
    return roster


async def leave(conn, roster: Roster) -> None:
    if roster.dismiss(conn) and _rosters.get(roster.hub, {}).get(roster.event_id) is roster:
        del _rosters[roster.hub][roster.event_id]
        await roster.stop()
