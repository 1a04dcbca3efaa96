"""Socket commands of breakout rooms: thin, each checks who may do it and calls a service."""

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from eventplatform.realtime import groups
from eventplatform.realtime import permissions as perms
from eventplatform.realtime.bus import channel_for
from eventplatform.realtime.envelope import GatewayError, encode_push
from eventplatform.realtime.registry import Empty, command, declare_push, on_connect, on_disconnect
from eventplatform.realtime.runtime import runtime
from rooms import ice, roster, services
from rooms.schemas import (
    AssignIn,
    AssignmentOut,
    BroadcastIn,
    BroadcastOut,
    CallJoinOut,
    ChooseIn,
    CloseIn,
    Count,
    CreateIn,
    HelpIn,
    HelpOut,
    IceOut,
    MediaState,
    MoveIn,
    OpenIn,
    OverviewOut,
    PeerEvent,
    PreAssignIn,
    ReturnIn,
    RoomClosed,
    RoomOut,
    RoomsOut,
    RoundOut,
    SignalIn,
    SignalOut,
    StateOut,
    TimerIn,
    VisitIn,
    Warning_,
)

declare_push("rooms.assignment", AssignmentOut, "Your breakout room changed (null: back to the stage).", "user.<id>")
declare_push("rooms.round", RoundOut, "A breakout round opened, changed its timer, or closed.")
declare_push("rooms.warning", Warning_, "The breakout round ends soon.")
declare_push("rooms.rooms", RoomsOut, "The breakout rooms with how many people are in each.")
declare_push("rooms.overview", OverviewOut, "Who is in which room (moderators).", "moderators.<event_id>")
declare_push("rooms.peer.joined", PeerEvent, "Someone joined this room's call.", "room.<id>")
declare_push("rooms.peer.left", PeerEvent, "Someone left this room's call (moved, closed, gone).", "room.<id>")
declare_push("rooms.media", PeerEvent, "Mute, camera, screen share or speaking changed.", "room.<id>")
declare_push("rooms.closed", RoomClosed, "This room was closed.", "room.<id>")
declare_push("rooms.signal", SignalOut, "WebRTC offer, answer or ICE candidate from a peer in your room.", "user.<id>")
declare_push("rooms.broadcast", BroadcastOut, "A moderator's message to every room.")
declare_push("rooms.help", HelpOut, "Someone in a room asks a moderator for help.", "moderators.<event_id>")


def _is_moderator(actor) -> bool:
    return bool(actor.roles & {"moderator", "organizer"})


@database_sync_to_async
def _state(actor) -> dict:
    if not _is_moderator(actor):
        # Rooms opened in automatic mode while this person was on the stage: place them now.
        services.place_arrival(actor.event_id, actor.participant_id)
    return {
        "round": services.round_public(services.current_round(actor.event_id)),
        "rooms": services.rooms_public(actor.event_id),
        "assignment": services.my_assignment(actor.participant_id),
        "ice": ice.ice_servers(actor.participant_id),
    }


@command("rooms.state", reply=StateOut)
async def state(conn, msg: Empty) -> dict:
    """The round, the rooms, where you belong and your ICE servers (call after hello/resync)."""
    return await _state(conn.actor)


@command("rooms.ice", reply=IceOut)
async def ice_servers(conn, msg: Empty) -> dict:
    """Fresh ICE servers with a new short-lived TURN credential."""
    return ice.ice_servers(conn.actor.participant_id)


@command("rooms.overview", reply=OverviewOut, permission=perms.moderator)
async def overview(conn, msg: Empty) -> dict:
    """Every room, who is assigned there, and who is in its call (with speaking state)."""
    data = await database_sync_to_async(services.overview)(conn.event_id)
    for room in data["rooms"]:
        calls = await database_sync_to_async(services.call_members)(room["id"]) if room["is_open"] else {}
        in_call = {pid: s for pid, s in calls.items()}
        for member in room["members"]:
            member["in_call"] = member["id"] in in_call
            member["speaking"] = bool(in_call.get(member["id"], {}).get("speaking"))
    return data


@command("rooms.create", schema=CreateIn, reply=RoomOut, permission=perms.moderator)
async def create(conn, msg: CreateIn) -> dict:
    """Create a breakout room (optionally for one session, linked to an on-site room)."""
    b = await database_sync_to_async(services.create_breakout)(
        await database_sync_to_async(_event)(conn.event_id), name=msg.name, topic=msg.topic,
        capacity=msg.capacity, onsite_room_id=msg.onsite_room_id, session_id=msg.session_id,
    )
    return services.breakout_public(b, 0)


def _event(event_id):
    from eventplatform.models import Event

    return Event.objects.get(pk=event_id)


async def _online_ids(event_id: int) -> list[int]:
    return sorted({p["id"] for p in await runtime().presence.everyone(event_id)})


@command("rooms.open", schema=OpenIn, reply=RoundOut, permission=perms.moderator)
async def open_rooms(conn, msg: OpenIn) -> dict:
    """Open breakout rooms for a round; automatic mode spreads everyone online now."""
    ids = await _online_ids(conn.event_id) if msg.mode == "automatic" and msg.assign_online else None
    rnd = await database_sync_to_async(services.open_round)(
        conn.event_id, mode=msg.mode, duration_s=msg.duration_s, room_ids=msg.room_ids,
        session_id=msg.session_id, participant_ids=ids, together=msg.together, apart=msg.apart,
    )
    return services.round_public(rnd)


@command("rooms.assign", schema=AssignIn, reply=Count, permission=perms.moderator)
async def assign(conn, msg: AssignIn) -> dict:
    """Balanced random assignment into the open rooms (optionally keeping groups together/apart)."""
    ids = msg.participant_ids if msg.participant_ids is not None else await _online_ids(conn.event_id)
    n = await database_sync_to_async(services.assign_automatically)(
        conn.event_id, ids, together=msg.together, apart=msg.apart
    )
    return {"count": n}


@command("rooms.move", schema=MoveIn, reply=Count, permission=perms.moderator)
async def move(conn, msg: MoveIn) -> dict:
    """Move one person, a selection, or everyone into a room while rooms run."""
    n = await database_sync_to_async(services.move)(
        conn.event_id, msg.participant_ids, msg.room_id, everyone=msg.everyone
    )
    return {"count": n}


@command("rooms.pre_assign", schema=PreAssignIn, permission=perms.moderator)
async def pre_assign(conn, msg: PreAssignIn) -> dict:
    """Plan someone's room before the rooms open (null removes the plan)."""
    await database_sync_to_async(services.pre_assign)(conn.event_id, msg.participant_id, msg.room_id)
    return {}


@command("rooms.choose", schema=ChooseIn, reply=AssignmentOut)
async def choose(conn, msg: ChooseIn) -> dict:
    """Self-select: pick a room while the round lets attendees choose (capacity enforced)."""
    return await database_sync_to_async(services.choose)(conn.event_id, conn.actor.participant_id, msg.room_id)


@command("rooms.visit", schema=VisitIn, reply=AssignmentOut, permission=perms.moderator)
async def visit(conn, msg: VisitIn) -> dict:
    """A moderator joins any room (shown as moderator); null: back to the stage."""
    return await database_sync_to_async(services.visit)(conn.event_id, conn.actor.participant_id, msg.room_id)


@command("rooms.close", schema=CloseIn, permission=perms.moderator)
async def close(conn, msg: CloseIn) -> dict:
    """Close one room (its people return to the stage) or all rooms (the round ends)."""
    await database_sync_to_async(services.close_rooms)(conn.event_id, msg.room_id)
    return {}


@command("rooms.return", schema=ReturnIn, reply=RoundOut, permission=perms.moderator)
async def return_to_stage(conn, msg: ReturnIn) -> dict:
    """Everyone back to the stage after a countdown that every client shows."""
    return services.round_public(
        await database_sync_to_async(services.return_to_stage)(conn.event_id, msg.countdown_s)
    )


@command("rooms.timer", schema=TimerIn, reply=RoundOut, permission=perms.moderator)
async def timer(conn, msg: TimerIn) -> dict:
    """Set the round's end to this many seconds from now (null: no timer)."""
    return services.round_public(await database_sync_to_async(services.set_timer)(conn.event_id, msg.seconds))


@command("rooms.broadcast", schema=BroadcastIn, permission=perms.moderator)
async def broadcast(conn, msg: BroadcastIn) -> dict:
    """Send a message into every room."""
    await database_sync_to_async(services.broadcast)(conn.event_id, conn.actor.name, msg.text)
    return {}


@command("rooms.help", schema=HelpIn, reply=HelpOut)
async def ask_for_help(conn, msg: HelpIn) -> dict:
    """Ask the moderators to come to your room."""
    return await database_sync_to_async(services.ask_for_help)(
        conn.event_id, conn.actor.participant_id, conn.actor.name, msg.message
    )


# --- the call ---------------------------------------------------------------------------------
@command("rooms.call.join", schema=MediaState, reply=CallJoinOut)
async def call_join(conn, msg: MediaState) -> dict:
    """Enter your room's video call: returns the peers to connect to (you send the offers)."""
    actor = conn.actor
    joined = await database_sync_to_async(services.join_call)(
        actor.event_id, actor.participant_id, actor.name, _is_moderator(actor), msg.model_dump()
    )
    old = getattr(conn, "call_room_id", None)
    if old is not None and old != joined["room_id"]:
        await database_sync_to_async(services.leave_call)(actor.participant_id, old)
    conn.call_room_id = joined["room_id"]
    await conn.set_room(joined["room_id"])
    return joined


@command("rooms.call.leave")
async def call_leave(conn, msg: Empty) -> dict:
    """Leave the call you are in (the others close their connections to you)."""
    room_id = getattr(conn, "call_room_id", None)
    if room_id is not None:
        await database_sync_to_async(services.leave_call)(conn.actor.participant_id, room_id)
        conn.call_room_id = None
        await conn.set_room(None)
    return {}


@command("rooms.media", schema=MediaState)
async def media(conn, msg: MediaState) -> dict:
    """Your microphone, camera, screen share or speaking state, shown to the others."""
    room_id = getattr(conn, "call_room_id", None)
    if room_id is None:
        raise GatewayError("not_in_call", _("Join the room's call first."))
    await database_sync_to_async(services.update_media)(
        conn.event_id, conn.actor.participant_id, room_id, msg.model_dump()
    )
    return {}


def _signal_text(room_id: int, sender: int, msg: SignalIn) -> str:
    payload = {"room_id": room_id, "from": sender}
    if msg.description is not None:
        payload["description"] = msg.description.model_dump()
    else:
        payload["candidate"] = msg.candidate.model_dump()
    return encode_push("rooms.signal", payload)


@command("rooms.signal", schema=SignalIn)
async def signal(conn, msg: SignalIn) -> dict:
    """Relay an offer, answer or ICE candidate to a peer, only within your current room."""
    sender = conn.actor.participant_id
    seats = getattr(conn, "breakout_roster", None)
    room_id = seats.shared_room(sender, msg.to) if seats is not None else None
    if room_id is None:
        # Not both in one room as this process knows it: the database decides (and words the
        # refusal). In the thread pool, not the one thread every other database call queues for.
        room_id = await database_sync_to_async(services.relay_allowed, thread_sensitive=False)(
            conn.event_id, sender, msg.to
        )
    text = _signal_text(room_id, sender, msg)
    if seats is None:
        await runtime().redis.publish(channel_for(groups.user(msg.to)), text)
    else:
        seats.signals.post(channel_for(groups.user(msg.to)), text)  # after this socket's earlier ones
    return {}


# --- socket lifecycle -----------------------------------------------------------------------------
@database_sync_to_async
def _arrive(actor) -> dict | None:
    if _is_moderator(actor):
        a = services.my_assignment(actor.participant_id)
        return a if a["room"] else None
    return services.place_arrival(actor.event_id, actor.participant_id)


@on_connect
async def place_late_arrival(conn) -> None:
    """Take a seat in the event's roster and your room's group; a late arrival is placed by
    the current mode."""
    conn.breakout_roster = seats = await roster.enter(conn)
    assignment = await _arrive(conn.actor)
    # The roster decides the group: a seating heard while the table was read is already in it
    # (and sent), one still on its way will be.
    room_id = seats.room_of(conn.actor.participant_id)
    await seats.seat(conn, room_id)
    if assignment is not None and room_id is not None and assignment["room"]["id"] == room_id:
        await conn.push("rooms.assignment", assignment)


@on_disconnect
async def leave_call_on_disconnect(conn) -> None:
    seats = getattr(conn, "breakout_roster", None)
    if seats is not None:
        await roster.leave(conn, seats)
    room_id = getattr(conn, "call_room_id", None)
    if room_id is not None:
        await database_sync_to_async(services.leave_call)(conn.actor.participant_id, room_id)
