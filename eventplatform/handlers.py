"""The core's socket commands (hello, ping) and its agenda stream."""

from channels.db import database_sync_to_async
from django.utils import timezone

from eventplatform import selectors
from eventplatform.models import Event
from eventplatform.realtime import permissions as perms
from eventplatform.realtime import registry
from eventplatform.realtime.registry import JOIN_READS, STREAMS, command, declare_push, join_read, stream
from eventplatform.realtime.runtime import runtime
from eventplatform.schemas import (
    AgendaUpdate,
    HelloIn,
    PresenceListIn,
    PresenceListOut,
    PresenceOut,
    Pong,
    Refused,
    Resync,
    Snapshot,
)

declare_push("presence.update", PresenceOut, "Who is online changed (coalesced: a few per second at most).")
declare_push("agenda.update", AgendaUpdate, "The agenda changed; the whole new agenda with its cursor.")
declare_push("gateway.refused", Refused, "A notification (a frame without id) was refused: which type, and why.",
            group="the sending socket only")
declare_push("gateway.resync", Resync, "Events may have been missed: send `hello` again with your cursors.")


@command("hello", schema=HelloIn, reply=Snapshot)
async def hello(conn, msg: HelloIn) -> dict:
    """Start or resume: returns the snapshot, each stream fresh or only what was missed."""
    conn.join_reads = await _read_for_join(conn.actor)
    streams = {}
    for name, provider in STREAMS.items():
        streams[name] = await provider(conn, msg.resume.get(name))
    event = await _event(conn.event_id)
    actor = conn.actor
    return {
        "server_time": timezone.now(),
        "event": selectors.event_public(event),
        "me": {
            "participant_id": actor.participant_id,
            "name": actor.name,
            "roles": sorted(actor.roles),
            "attendance": actor.attendance,
        },
        "streams": streams,
        "presence": await runtime().presence.summary(conn.event_id),
    }


@command("ping", reply=Pong)
async def ping(conn, msg: registry.Empty) -> dict:
    """Keep-alive and clock: answers with the server's time."""
    return {"server_time": timezone.now()}


@database_sync_to_async
def _read_for_join(actor) -> dict:
    return {name: read(actor) for name, read in JOIN_READS.items()}


# The agenda is the same for everyone in an event, so each process builds it once per version.
_agenda_cache: dict[int, tuple[int, dict]] = {}
_event_cache: dict[int, tuple[int, Event]] = {}


@join_read("agenda")
def _agenda_for_join(actor) -> tuple[int, dict | None]:
    return _agenda_at_version(actor.event_id)


def _agenda_at_version(event_id: int) -> tuple[int, dict | None]:
    version = selectors.agenda_version(event_id)
    cached = _agenda_cache.get(event_id)
    if cached and cached[0] == version:
        return version, cached[1]
    data = selectors.agenda(event_id)
    _agenda_cache[event_id] = (version, data)
    return version, data


@database_sync_to_async
def _load_event(event_id: int) -> Event:
    return Event.objects.get(pk=event_id)


async def _event(event_id: int) -> Event:
    version, _ = _agenda_cache.get(event_id, (None, None))
    cached = _event_cache.get(event_id)
    if cached and cached[0] == version:
        return cached[1]
    event = await _load_event(event_id)
    _event_cache[event_id] = (version, event)
    return event


@stream("agenda")
async def agenda_stream(conn, cursor: int | None) -> dict:
    version, data = conn.join_reads["agenda"]
    if cursor == version:
        return {"mode": "unchanged", "cursor": version}
    return {"mode": "full", "cursor": version, "data": data}


@command("presence.list", schema=PresenceListIn, reply=PresenceListOut, permission=perms.moderator)
async def presence_list(conn, msg: PresenceListIn) -> dict:
    """Everyone online, page by page (the snapshot lists only the first few hundred)."""
    summary = await runtime().presence.everyone(conn.event_id)
    return {"count": len(summary), "participants": summary[msg.offset : msg.offset + msg.limit]}
