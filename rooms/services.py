"""Every change to breakout rooms: validate, write in one transaction, tell the sockets after commit.

Who is in which room is the `Assignment` table. A move changes those rows first; only after
the commit is the seating published: one message for the whole move, however many people it
moves, which every web process applies to its roster and its own sockets (rooms/roster.py).
Moving 1,000 people costs a constant number of queries and one round trip to Redis.
Signalling is relayed by the rosters and refused by these rows (`relay_allowed`).

Who is *in the call* of a room right now (and their mute/camera/screen state) is ephemeral and
kept in Redis next to presence: it is what peers need to start connections, not a record.
"""

import heapq
import json
import random
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from eventplatform.models import Event, Participant, Room, Session
from eventplatform.precompiled import Precompiled
from eventplatform.realtime import groups
from eventplatform.realtime.bus import channel_for, publish, sync_redis
from eventplatform.realtime.envelope import GatewayError, encode_push
from rooms.models import Assignment, Breakout, BreakoutRound, Mode
from rooms.roster import encode_seating, seating_group


# --- sending after commit ------------------------------------------------------------------------
class Outbox:
    """Pushes and seatings collected during a change, sent in one pipeline after commit."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.call_removals: list[tuple[int, int]] = []  # (room id, participant id)
        self.announce_event: int | None = None
        # participant → (their open room or None, the assignment text to send them or None):
        # one seating message per change, applied by every web process (rooms/roster.py).
        self.seats: dict[int, tuple[int | None, str | None]] = {}
        self.seats_event: int | None = None

    def push(self, group: str, type_: str, data) -> None:
        self.messages.append((channel_for(group), encode_push(type_, data)))

    def seat(self, event_id: int, participant_id: int, room_id: int | None, text: str | None) -> None:
        self.seats_event = event_id
        self.seats[participant_id] = (room_id, text)

    def leave_call(self, room_id: int, participant_id: int) -> None:
        self.call_removals.append((room_id, participant_id))
        self.push(groups.room(room_id), "rooms.peer.left", {"room_id": room_id, "participant_id": participant_id})

    def send_on_commit(self) -> None:
        messages, removals, announce = self.messages, self.call_removals, self.announce_event
        seating = encode_seating(self.seats) if self.seats else None
        seats_event = self.seats_event
        if not messages and not removals and announce is None and seating is None:
            return

        def send() -> None:
            pipe = sync_redis().pipeline(transaction=False)
            # The seating first: the moved people hear of it before anything else.
            if seating is not None:
                pipe.publish(channel_for(seating_group(seats_event)), seating)
            for room_id, participant_id in removals:
                pipe.hdel(call_key(room_id), participant_id)
            for channel, text in messages:
                pipe.publish(channel, text)
            pipe.execute()
            if announce is not None:
                # Read after the commit and sent after the moves themselves: the moved people
                # are not kept waiting for the moderators' overview to be built.
                pipe = sync_redis().pipeline(transaction=False)
                pipe.publish(channel_for(groups.event(announce)), encode_push("rooms.rooms", {"rooms": rooms_public(announce)}))
                pipe.publish(channel_for(groups.moderators(announce)), encode_push("rooms.overview", overview(announce)))
                pipe.execute()

        transaction.on_commit(send)


def call_key(room_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:rooms:call:{room_id}"


# --- reading ---------------------------------------------------------------------------------------
def _iso(value):
    return value.isoformat() if value else None


def round_public(rnd: BreakoutRound | None) -> dict | None:
    if rnd is None:
        return None
    return {
        "id": rnd.pk,
        "mode": rnd.mode,
        "state": rnd.state,
        "session_id": rnd.session_id,
        "opened_at": _iso(rnd.opened_at),
        "ends_at": _iso(rnd.ends_at),
        "warning_at": _iso(rnd.warning_at),
        "returning": rnd.returning,
    }


def breakout_public(b: Breakout, count: int | None = None) -> dict:
    room = b.room
    return {
        "id": room.pk,
        "name": room.name,
        "topic": b.topic,
        "capacity": room.capacity,
        "is_open": b.is_open,
        "onsite_room_id": b.onsite_room_id,
        "session_id": b.session_id,
        "count": count,
    }


def current_round(event_id: int) -> BreakoutRound | None:
    return BreakoutRound.objects.filter(event_id=event_id, state=BreakoutRound.State.OPEN).first()


def breakouts(event_id: int) -> list[Breakout]:
    return list(Breakout.objects.filter(room__event_id=event_id).select_related("room"))


def ensure_breakouts(event_id: int) -> list[Breakout]:
    """Every core Room of kind breakout has its Breakout (rooms made in the admin get one here)."""
    missing = Room.objects.filter(event_id=event_id, kind=Room.Kind.BREAKOUT, breakout__isnull=True)
    Breakout.objects.bulk_create([Breakout(room=room) for room in missing])
    return breakouts(event_id)


def counts(event_id: int) -> dict[int, int]:
    rows = (
        Assignment.objects.filter(event_id=event_id, breakout__is_open=True)
        .values_list("breakout__room_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def rooms_public(event_id: int) -> list[dict]:
    n = counts(event_id)
    return [breakout_public(b, n.get(b.room_id, 0)) for b in breakouts(event_id)]


def overview(event_id: int) -> dict:
    """The moderator's view: every room with who is assigned there (in one query each)."""
    members: dict[int, list[dict]] = defaultdict(list)
    # Rows, not model instances: after a mass move this lists everyone of the event.
    rows = (
        Assignment.objects.filter(event_id=event_id)
        .order_by("participant__name")
        .values_list("breakout_id", "participant_id", "participant__name", "source", "is_pre_assignment")
    )
    for breakout_id, pid, name, source, pre in rows:
        members[breakout_id].append(
            {"id": pid, "name": name, "source": source, "moderator": source == Assignment.Source.MODERATOR, "pre": pre}
        )
    rooms = []
    n = counts(event_id)
    for b in breakouts(event_id):
        entry = breakout_public(b, n.get(b.room_id, 0))
        entry["members"] = members.get(b.pk, [])
        rooms.append(entry)
    return {"round": round_public(current_round(event_id)), "rooms": rooms}


def my_assignment(participant_id: int) -> dict:
    """Where this person belongs right now: a room only while it is open."""
    a = (
        Assignment.objects.filter(participant_id=participant_id, breakout__is_open=True)
        .select_related("breakout__room")
        .first()
    )
    return _assignment_payload(a.breakout if a else None, a.source if a else None)


def _assignment_payload(breakout: Breakout | None, source: str | None) -> dict:
    return {
        "room": breakout_public(breakout) if breakout is not None else None,
        "source": source,
        "mesh_limit": settings.ROOMS["MESH_LIMIT"],
    }


def relay_allowed(event_id: int, sender_id: int, target_id: int) -> int:
    """The room both are in now, or a refusal: signalling goes only between current members."""
    if sender_id == target_id:
        raise GatewayError("unknown_peer", _("You cannot signal yourself."))
    rooms = dict(
        Assignment.objects.filter(
            event_id=event_id, participant_id__in=(sender_id, target_id), breakout__is_open=True
        ).values_list("participant_id", "breakout__room_id")
    )
    mine = rooms.get(sender_id)
    if mine is None:
        raise GatewayError("not_in_room", _("You are not in an open breakout room."))
    if target_id not in rooms:
        if not Participant.objects.filter(pk=target_id, event_id=event_id).exists():
            raise GatewayError("unknown_peer", _("There is no such participant."))
        raise GatewayError("not_same_room", _("This person is not in your breakout room."))
    if rooms[target_id] != mine:
        raise GatewayError("not_same_room", _("This person is not in your breakout room."))
    return mine


# --- changing ----------------------------------------------------------------------------------
def _breakout_for_room(event_id: int, room_id: int, *, lock: bool = False) -> Breakout:
    qs = Breakout.objects.select_related("room").filter(room__event_id=event_id, room_id=room_id)
    if lock:
        qs = qs.select_for_update(of=("self",))
    b = qs.first()
    if b is None:
        if Room.objects.filter(pk=room_id, event_id=event_id, kind=Room.Kind.BREAKOUT).exists():
            ensure_breakouts(event_id)
            return _breakout_for_room(event_id, room_id, lock=lock)
        raise GatewayError("unknown_room", _("There is no such breakout room."))
    return b


def create_breakout(
    event: Event, *, name: str, topic: str = "", capacity: int | None = None,
    onsite_room_id: int | None = None, session_id: int | None = None,
) -> Breakout:
    with transaction.atomic():
        if Room.objects.filter(event=event, name=name).exists():
            raise GatewayError("duplicate", _("A room with this name exists already."))
        onsite = None
        if onsite_room_id is not None:
            onsite = Room.objects.filter(pk=onsite_room_id, event=event, kind=Room.Kind.ONSITE).first()
            if onsite is None:
                raise GatewayError("unknown_room", _("There is no such on-site room."))
        session = None
        if session_id is not None:
            session = Session.objects.filter(pk=session_id, event=event).first()
            if session is None:
                raise GatewayError("unknown_session", _("There is no such session."))
        position = Room.objects.filter(event=event).count()
        room = Room.objects.create(
            event=event, name=name, kind=Room.Kind.BREAKOUT, capacity=capacity, position=position
        )
        breakout = Breakout.objects.create(room=room, topic=topic, onsite_room=onsite, session=session)
        outbox = Outbox()
        _announce_rooms(event.pk, outbox)
        outbox.send_on_commit()
    return breakout


def _announce_rooms(event_id: int, outbox: Outbox) -> None:
    """Attendees see the rooms with their counts; moderators see who is where (after commit)."""
    outbox.announce_event = event_id


def _apply(
    event_id: int, placements: dict[int, Breakout], source: str, outbox: Outbox, before: dict[int, int] | None = None
) -> None:
    """Put each person into their breakout (a constant number of queries for any number).
    `before`: the open room each of them is in now, if the caller has read it already."""
    if not placements:
        return
    pids = list(placements)
    if before is None:
        before = dict(
            Assignment.objects.filter(participant_id__in=pids, breakout__is_open=True).values_list(
                "participant_id", "breakout__room_id"
            )
        )
    Assignment.objects.filter(participant_id__in=pids).delete()
    Assignment.objects.bulk_create(
        [
            Assignment(
                event_id=event_id, participant_id=pid, breakout=b, source=source,
                is_pre_assignment=source == Assignment.Source.PRE,
            )
            for pid, b in placements.items()
        ]
    )
    # The same assignment text for everyone moved into one room: encode it once per room.
    texts: dict[int, str] = {}
    for pid, b in placements.items():
        old = before.get(pid)
        new = b.room_id if b.is_open else None
        if old == new:
            continue
        if old is not None:
            outbox.leave_call(old, pid)
        key = b.room_id if new is not None else 0
        if key not in texts:
            texts[key] = encode_push(
                "rooms.assignment", _assignment_payload(b if new is not None else None, source if new else None)
            )
        outbox.seat(event_id, pid, new, texts[key])


def _check_people(event_id: int, participant_ids: list[int]) -> list[int]:
    return _people(event_id, participant_ids)[0]


def _people(event_id: int, participant_ids: list[int]) -> tuple[list[int], set[int]]:
    """The ids once each, all of this event (else a refusal), and which are moderators or
    organizers; one query however many."""
    ids = list(dict.fromkeys(participant_ids))
    found = {
        pk: moderator or organizer
        for pk, moderator, organizer in Participant.objects.filter(
            event_id=event_id, pk__in=ids, is_removed=False
        ).values_list("pk", "is_moderator", "is_organizer")
    }
    unknown = [pid for pid in ids if pid not in found]
    if unknown:
        raise GatewayError("unknown_participant", _("Unknown participants: %s") % unknown[:10], ids=unknown[:50])
    return ids, {pk for pk, staff in found.items() if staff}


def _check_capacity(breakout: Breakout, adding: int) -> None:
    cap = breakout.room.capacity
    if cap is None:
        return
    present = Assignment.objects.filter(breakout=breakout).count()
    if present + adding > cap:
        raise GatewayError(
            "room_full", _("%(room)s has room for %(cap)d people.") % {"room": breakout.room.name, "cap": cap},
            room_id=breakout.room_id, capacity=cap,
        )


def move(event_id: int, participant_ids: list[int] | None, room_id: int, *, everyone: bool = False) -> int:
    """Move one person, a selection, or everyone (all attendees now in breakouts or online)."""
    with transaction.atomic():
        target = _breakout_for_room(event_id, room_id, lock=True)
        if not target.is_open:
            raise GatewayError("room_closed", _("This breakout room is closed."))
        if everyone:
            ids = list(
                Participant.objects.filter(event_id=event_id, is_removed=False, is_moderator=False, is_organizer=False)
                .values_list("pk", flat=True)
            )
        else:
            ids = _check_people(event_id, participant_ids or [])
        if not ids:
            raise GatewayError("invalid", _("Choose at least one person."))
        already = set(Assignment.objects.filter(breakout=target, participant_id__in=ids).values_list("participant_id", flat=True))
        _check_capacity(target, len(set(ids) - already))
        outbox = Outbox()
        _apply(event_id, {pid: target for pid in ids}, Assignment.Source.MANUAL, outbox)
        _announce_rooms(event_id, outbox)
        outbox.send_on_commit()
    return len(ids)


def pre_assign(event_id: int, participant_id: int, room_id: int | None) -> None:
    """Plan before the event: takes effect when the rooms open (kept across rounds)."""
    with transaction.atomic():
        _check_people(event_id, [participant_id])
        outbox = Outbox()
        if room_id is None:
            Assignment.objects.filter(participant_id=participant_id, is_pre_assignment=True).delete()
        else:
            target = _breakout_for_room(event_id, room_id, lock=True)
            _check_capacity(target, 1)
            _apply(event_id, {participant_id: target}, Assignment.Source.PRE, outbox)
        _announce_rooms(event_id, outbox)
        outbox.send_on_commit()


def balanced_plan(
    participant_ids: list[int], rooms: list[Breakout], *, together: list[list[int]] = (),
    apart: list[list[int]] = (), taken: dict[int, int] | None = None, rng: random.Random | None = None,
) -> dict[int, Breakout]:
    """Balanced random placement: groups kept together go first (largest first) into the
    emptiest room; people to keep apart avoid rooms holding one of their group."""
    rng = rng or random.Random()
    if not rooms:
        raise GatewayError("no_rooms", _("No breakout room is open."))
    load = {b.pk: (taken or {}).get(b.pk, 0) for b in rooms}
    people = list(dict.fromkeys(participant_ids))
    wanted = set(people)
    units: list[list[int]] = []
    grouped: set[int] = set()
    for group in together:
        unit = [pid for pid in group if pid in wanted and pid not in grouped]
        if unit:
            units.append(unit)
            grouped.update(unit)
    apart_of: dict[int, set[int]] = defaultdict(set)
    for group in apart:
        for pid in group:
            apart_of[pid].update(set(group) - {pid})
    singles = [pid for pid in people if pid not in grouped]
    rng.shuffle(singles)
    units.sort(key=len, reverse=True)
    # The constrained go before rooms fill up, so capacity never forces two of a group together.
    singles.sort(key=lambda pid: not apart_of[pid])
    units += [[pid] for pid in singles]
    members: dict[int, set[int]] = defaultdict(set)
    plan: dict[int, Breakout] = {}
    order = list(rooms)
    rng.shuffle(order)  # ties between equally full rooms go to a random one
    caps = {b.pk: b.room.capacity for b in order}

    def place(unit: list[int], b: Breakout) -> None:
        for pid in unit:
            plan[pid] = b
            members[b.pk].add(pid)
        load[b.pk] += len(unit)

    def full() -> GatewayError:
        return GatewayError("rooms_full", _("The open rooms have no space left for everyone."))

    # Groups and people with constraints: look at every room (there are few of them).
    simple_from = next((i for i, u in enumerate(units) if len(u) == 1 and not apart_of[u[0]]), len(units))
    for unit in units[:simple_from]:
        candidates = [b for b in order if caps[b.pk] is None or load[b.pk] + len(unit) <= caps[b.pk]]
        if not candidates:
            raise full()
        best = min(candidates, key=lambda b: (sum(1 for pid in unit if apart_of[pid] & members[b.pk]), load[b.pk]))
        place(unit, best)
    # Everyone else: always the emptiest room, from a heap (1,000 people into 100 rooms in
    # milliseconds rather than a scan of every room per person).
    heap = [(load[b.pk], i, b) for i, b in enumerate(order) if caps[b.pk] is None or load[b.pk] < caps[b.pk]]
    heapq.heapify(heap)
    for unit in units[simple_from:]:
        if not heap:
            raise full()
        _, i, b = heapq.heappop(heap)
        place(unit, b)
        if caps[b.pk] is None or load[b.pk] < caps[b.pk]:
            heapq.heappush(heap, (load[b.pk], i, b))
    return plan


def assign_automatically(
    event_id: int, participant_ids: list[int], *, together: list[list[int]] = (), apart: list[list[int]] = (),
    rng: random.Random | None = None,
) -> int:
    """Spread these people over the open rooms (moderators and pre-assigned people stay)."""
    with transaction.atomic():
        # Each list of ids is sent to the database once or twice, not once per question
        # asked of it: for 1,000 people the IN (…) lists were most of this function's time.
        ids, staff = _people(event_id, participant_ids)
        rooms = list(Breakout.objects.select_related("room").filter(room__event_id=event_id, is_open=True))
        current = {
            pid: (breakout_id, room_id, source)
            for pid, breakout_id, room_id, source in Assignment.objects.filter(
                participant_id__in=ids, breakout__is_open=True
            ).values_list("participant_id", "breakout_id", "breakout__room_id", "source")
        }
        staying = staff | {
            pid for pid, (_, _, source) in current.items()
            if source in (Assignment.Source.MODERATOR, Assignment.Source.PRE)
        }
        movers = [pid for pid in ids if pid not in staying]
        taken = dict(
            Assignment.objects.filter(event_id=event_id, breakout__is_open=True)
            .values_list("breakout_id")
            .annotate(n=Count("id"))
        )
        for pid in movers:  # the movers' own seats are free for the plan
            if pid in current:
                taken[current[pid][0]] -= 1
        plan = balanced_plan(movers, rooms, together=together, apart=apart, taken=taken, rng=rng)
        outbox = Outbox()
        before = {pid: current[pid][1] for pid in plan if pid in current}
        _apply(event_id, plan, Assignment.Source.AUTOMATIC, outbox, before=before)
        _announce_rooms(event_id, outbox)
        outbox.send_on_commit()
    return len(plan)


def choose(event_id: int, participant_id: int, room_id: int) -> dict:
    """Self-select: the capacity check and the write happen under the room's lock, so two
    people racing for the last seat cannot both get it."""
    with transaction.atomic():
        rnd = current_round(event_id)
        if rnd is None or rnd.mode != Mode.SELF_SELECT:
            raise GatewayError("not_self_select", _("Rooms cannot be chosen right now."))
        # An UPDATE first: it takes the row lock on PostgreSQL and the write lock on SQLite
        # before the seats are counted.
        if not Breakout.objects.filter(room_id=room_id, room__event_id=event_id, is_open=True).update(is_open=True):
            if Breakout.objects.filter(room_id=room_id, room__event_id=event_id).exists():
                raise GatewayError("room_closed", _("This breakout room is closed."))
            raise GatewayError("unknown_room", _("There is no such breakout room."))
        target = _breakout_for_room(event_id, room_id)
        if Assignment.objects.filter(participant_id=participant_id, breakout=target).exists():
            return my_assignment(participant_id)
        _check_capacity(target, 1)
        outbox = Outbox()
        _apply(event_id, {participant_id: target}, Assignment.Source.SELF, outbox)
        _announce_rooms(event_id, outbox)
        outbox.send_on_commit()
    return _assignment_payload(target, Assignment.Source.SELF)


def visit(event_id: int, moderator_id: int, room_id: int | None) -> dict:
    """A moderator joins a room (shown as moderator), or returns to the stage with None."""
    with transaction.atomic():
        outbox = Outbox()
        if room_id is None:
            old = Assignment.objects.filter(participant_id=moderator_id).select_related("breakout").first()
            if old is not None:
                old.delete()
                if old.breakout.is_open:
                    outbox.leave_call(old.breakout.room_id, moderator_id)
                outbox.seat(event_id, moderator_id, None, encode_push("rooms.assignment", _assignment_payload(None, None)))
            target = None
        else:
            target = _breakout_for_room(event_id, room_id)
            if not target.is_open:
                raise GatewayError("room_closed", _("This breakout room is closed."))
            _apply(event_id, {moderator_id: target}, Assignment.Source.MODERATOR, outbox)
        _announce_rooms(event_id, outbox)
        outbox.send_on_commit()
    return _assignment_payload(target, Assignment.Source.MODERATOR if target else None)


_has_assignment = Precompiled(lambda pid: Assignment.objects.filter(participant_id=pid).values_list("id")[:1])
_open_round_mode = Precompiled(
    lambda event_id, state: BreakoutRound.objects.filter(event_id=event_id, state=state).values_list("mode")[:1]
)


def place_arrival(event_id: int, participant_id: int) -> dict | None:
    """A late arrival (or an attendee on the stage when rooms open) placed by the current mode:
    automatic puts them into the emptiest open room; pre-assigned people go to their room;
    manual and self-select leave them where they are (the moderator or they themselves choose)."""
    # Every socket that connects comes here; almost always there is nothing to place, and a
    # read needs no transaction (on SQLite a transaction takes the write lock: a join storm
    # would queue on it). Only an arrival that must be placed takes the locked path.
    # Both lookups are precompiled (eventplatform/precompiled.py): every join asks them.
    if _has_assignment.rows(participant_id):
        existing = Assignment.objects.filter(participant_id=participant_id).select_related("breakout__room").first()
        if existing is not None:
            return _assignment_payload(existing.breakout, existing.source) if existing.breakout.is_open else None
    if _open_round_mode.column(event_id, BreakoutRound.State.OPEN.value) != [Mode.AUTOMATIC.value]:
        return None
    with transaction.atomic():
        # Checked again under the transaction: a move may have placed them meanwhile.
        existing = Assignment.objects.filter(participant_id=participant_id).select_related("breakout__room").first()
        if existing is not None:
            return _assignment_payload(existing.breakout, existing.source) if existing.breakout.is_open else None
        rnd = current_round(event_id)
        if rnd is None or rnd.mode != Mode.AUTOMATIC:
            return None
        p = Participant.objects.filter(pk=participant_id, event_id=event_id, is_removed=False).first()
        if p is None or p.is_moderator or p.is_organizer:
            return None
        # Serialize arrivals against each other (see choose()).
        BreakoutRound.objects.filter(pk=rnd.pk).update(mode=rnd.mode)
        rooms = list(Breakout.objects.select_related("room").filter(room__event_id=event_id, is_open=True))
        if not rooms:
            return None
        taken = dict(
            Assignment.objects.filter(event_id=event_id, breakout__is_open=True)
            .values_list("breakout_id")
            .annotate(n=Count("id"))
        )
        try:
            plan = balanced_plan([participant_id], rooms, taken=taken)
        except GatewayError:
            return None  # every room is full: they stay on the stage
        outbox = Outbox()
        _apply(event_id, plan, Assignment.Source.AUTOMATIC, outbox)
        _announce_rooms(event_id, outbox)
        outbox.send_on_commit()
        return _assignment_payload(plan[participant_id], Assignment.Source.AUTOMATIC)


def open_round(
    event_id: int, *, mode: str = Mode.MANUAL, duration_s: int | None = None, room_ids: list[int] | None = None,
    session_id: int | None = None, participant_ids: list[int] | None = None,
    together: list[list[int]] = (), apart: list[list[int]] = (), closed_by_if_replaced: str = "",
) -> BreakoutRound:
    """Open breakouts (all, the given ones, or the session's) for a round; optionally assign."""
    now = timezone.now()
    with transaction.atomic():
        ensure_breakouts(event_id)
        qs = Breakout.objects.filter(room__event_id=event_id)
        if room_ids:
            qs = qs.filter(room_id__in=room_ids)
            if qs.count() != len(set(room_ids)):
                raise GatewayError("unknown_room", _("There is no such breakout room."))
        elif session_id is not None:
            session_qs = qs.filter(session_id=session_id)
            qs = session_qs if session_qs.exists() else qs.filter(session__isnull=True)
        if not qs.exists():
            raise GatewayError("no_rooms", _("There are no breakout rooms to open."))
        ends_at = now + timedelta(seconds=duration_s) if duration_s else None
        warning_at = None
        if ends_at is not None:
            warning_at = max(now, ends_at - timedelta(seconds=min(settings.ROOMS["WARNING_SECONDS"], duration_s // 2)))
        try:
            with transaction.atomic():
                rnd = BreakoutRound.objects.create(
                    event_id=event_id, session_id=session_id, mode=mode, ends_at=ends_at, warning_at=warning_at
                )
        except IntegrityError:
            raise GatewayError("round_running", _("Breakout rooms are open already; close them first.")) from None
        qs.update(is_open=True)
        outbox = Outbox()
        # Pre-assigned people (and anyone assigned to a room that just opened) go in now.
        assigned = list(
            Assignment.objects.filter(event_id=event_id, breakout__is_open=True).select_related("breakout__room")
        )
        for a in assigned:
            outbox.seat(
                event_id, a.participant_id, a.breakout.room_id,
                encode_push("rooms.assignment", _assignment_payload(a.breakout, a.source)),
            )
        outbox.push(groups.event(event_id), "rooms.round", round_public(rnd))
        _announce_rooms(event_id, outbox)
        outbox.send_on_commit()
        if mode == Mode.AUTOMATIC and participant_ids:
            assign_automatically(event_id, participant_ids, together=together, apart=apart)
        _schedule_on_commit(rnd)
    return rnd


def set_timer(event_id: int, seconds: int | None) -> BreakoutRound:
    """Give the round a new end (from now), or none."""
    now = timezone.now()
    with transaction.atomic():
        rnd = current_round(event_id)
        if rnd is None:
            raise GatewayError("no_round", _("No breakout rooms are open."))
        rnd.ends_at = now + timedelta(seconds=seconds) if seconds else None
        rnd.warning_at = (
            max(now, rnd.ends_at - timedelta(seconds=min(settings.ROOMS["WARNING_SECONDS"], seconds // 2)))
            if seconds else None
        )
        rnd.warned_at = None
        rnd.save(update_fields=["ends_at", "warning_at", "warned_at"])
        outbox = Outbox()
        outbox.push(groups.event(event_id), "rooms.round", round_public(rnd))
        outbox.send_on_commit()
        _schedule_on_commit(rnd)
    return rnd


def return_to_stage(event_id: int, countdown_s: int) -> BreakoutRound:
    """Everyone back to the stage after a countdown everyone sees (an absolute end time)."""
    with transaction.atomic():
        rnd = current_round(event_id)
        if rnd is None:
            raise GatewayError("no_round", _("No breakout rooms are open."))
        now = timezone.now()
        rnd.ends_at = now + timedelta(seconds=countdown_s)
        rnd.warning_at = now
        rnd.warned_at = now  # the countdown is the warning
        rnd.returning = True
        rnd.save(update_fields=["ends_at", "warning_at", "warned_at", "returning"])
        outbox = Outbox()
        outbox.push(groups.event(event_id), "rooms.round", round_public(rnd))
        outbox.send_on_commit()
        _schedule_on_commit(rnd)
    if countdown_s == 0:
        close_round(rnd.pk, by="moderator")
    return rnd


def _schedule_on_commit(rnd: BreakoutRound) -> None:
    from rooms import tasks

    transaction.on_commit(lambda: tasks.schedule_round(rnd.pk, rnd.warning_at, rnd.ends_at))


def warn_round(round_id: int, now=None) -> bool:
    """The warning before the end, exactly once (a repeated task finds warned_at set)."""
    now = now or timezone.now()
    with transaction.atomic():
        done = BreakoutRound.objects.filter(
            pk=round_id, state=BreakoutRound.State.OPEN, warned_at__isnull=True, warning_at__lte=now
        ).update(warned_at=now)
        if not done:
            return False
        rnd = BreakoutRound.objects.get(pk=round_id)
        outbox = Outbox()
        outbox.push(groups.event(rnd.event_id), "rooms.warning", {"round_id": rnd.pk, "ends_at": _iso(rnd.ends_at)})
        outbox.send_on_commit()
    return True


def close_round(round_id: int, *, by: str = "timer", now=None, due_only: bool = False) -> bool:
    """Close every room of the round and send everyone back to the stage, exactly once:
    the conditional update open → done decides, so a repeated task does nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        qs = BreakoutRound.objects.filter(pk=round_id, state=BreakoutRound.State.OPEN)
        if due_only:
            qs = qs.filter(ends_at__lte=now)
        if not qs.update(state=BreakoutRound.State.DONE, closed_at=now, closed_by=by):
            return False
        rnd = BreakoutRound.objects.get(pk=round_id)
        outbox = Outbox()
        _close_breakouts(rnd.event_id, Breakout.objects.filter(room__event_id=rnd.event_id, is_open=True), outbox)
        outbox.push(groups.event(rnd.event_id), "rooms.round", round_public(rnd))
        _announce_rooms(rnd.event_id, outbox)
        outbox.send_on_commit()
    return True


def _close_breakouts(event_id: int, qs, outbox: Outbox) -> None:
    closing = list(qs.select_related("room"))
    ids = [b.pk for b in closing]
    leaving = list(Assignment.objects.filter(breakout_id__in=ids).values_list("participant_id", "breakout__room_id"))
    Assignment.objects.filter(breakout_id__in=ids, is_pre_assignment=False).delete()
    Breakout.objects.filter(pk__in=ids).update(is_open=False)
    back = encode_push("rooms.assignment", _assignment_payload(None, None))
    for pid, room_id in leaving:
        outbox.call_removals.append((room_id, pid))
        outbox.seat(event_id, pid, None, back)
    for b in closing:
        outbox.push(groups.room(b.room_id), "rooms.closed", {"room_id": b.room_id})


def close_rooms(event_id: int, room_id: int | None = None) -> None:
    """A moderator closes one room (its people go back to the stage) or all (ends the round)."""
    if room_id is None:
        rnd = current_round(event_id)
        if rnd is None:
            raise GatewayError("no_round", _("No breakout rooms are open."))
        close_round(rnd.pk, by="moderator")
        return
    with transaction.atomic():
        b = _breakout_for_room(event_id, room_id, lock=True)
        if not b.is_open:
            raise GatewayError("room_closed", _("This breakout room is closed."))
        outbox = Outbox()
        _close_breakouts(event_id, Breakout.objects.filter(pk=b.pk), outbox)
        _announce_rooms(event_id, outbox)
        outbox.send_on_commit()


def room_deleted(event_id: int, room_id: int, participant_ids: list[int]) -> None:
    """A breakout's Room was deleted with people in it: they go back to the stage."""
    outbox = Outbox()
    back = encode_push("rooms.assignment", _assignment_payload(None, None))
    for pid in participant_ids:
        outbox.call_removals.append((room_id, pid))
        outbox.seat(event_id, pid, None, back)
    outbox.push(groups.room(room_id), "rooms.closed", {"room_id": room_id})
    outbox.send_on_commit()
    # The room list is read after the delete has committed, so it no longer holds the room.
    transaction.on_commit(
        lambda: publish(groups.event(event_id), "rooms.rooms", {"rooms": rooms_public(event_id)})
    )


def broadcast(event_id: int, sender_name: str, text: str) -> None:
    """A moderator's message into every open room (and to the stage: everyone should read it)."""
    with transaction.atomic():
        outbox = Outbox()
        outbox.push(
            groups.event(event_id), "rooms.broadcast",
            {"from": sender_name, "text": text, "sent_at": _iso(timezone.now())},
        )
        outbox.send_on_commit()


def ask_for_help(event_id: int, participant_id: int, name: str, message: str) -> dict:
    room = (
        Assignment.objects.filter(participant_id=participant_id, breakout__is_open=True)
        .values_list("breakout__room_id", "breakout__room__name")
        .first()
    )
    if room is None:
        raise GatewayError("not_in_room", _("You are not in an open breakout room."))
    with transaction.atomic():
        outbox = Outbox()
        payload = {
            "room_id": room[0], "room_name": room[1], "participant_id": participant_id, "name": name,
            "message": message, "at": _iso(timezone.now()),
        }
        outbox.push(groups.moderators(event_id), "rooms.help", payload)
        outbox.send_on_commit()
    return payload


# --- the call in a room (ephemeral state in Redis) -----------------------------------------
def call_members(room_id: int) -> dict[int, dict]:
    raw = sync_redis().hgetall(call_key(room_id))
    return {int(k): json.loads(v) for k, v in raw.items()}


def join_call(event_id: int, participant_id: int, name: str, is_moderator: bool, media: dict) -> dict:
    a = (
        Assignment.objects.filter(participant_id=participant_id, breakout__is_open=True)
        .select_related("breakout__room")
        .first()
    )
    if a is None:
        raise GatewayError("not_in_room", _("You are not in an open breakout room."))
    room_id = a.breakout.room_id
    limit = settings.ROOMS["MESH_LIMIT"]
    key = call_key(room_id)
    state = {**media, "name": name, "moderator": is_moderator or a.source == Assignment.Source.MODERATOR}
    r = sync_redis()
    # Check and add atomically: two people joining the last place cannot both get it.
    added = r.eval(
        "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 or redis.call('HLEN', KEYS[1]) < tonumber(ARGV[3]) then "
        "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]); redis.call('EXPIRE', KEYS[1], 86400); return 1 end return 0",
        1, key, participant_id, json.dumps(state), limit,
    )
    if not added:
        raise GatewayError(
            "mesh_full",
            _("This room's video call is full: a browser mesh carries at most %(n)d people. "
              "Ask a moderator for another room.") % {"n": limit},
            limit=limit,
        )
    members = call_members(room_id)
    r.publish(
        channel_for(groups.room(room_id)),
        encode_push("rooms.peer.joined", {"room_id": room_id, "participant_id": participant_id, "state": state}),
    )
    return {
        "room_id": room_id,
        "peers": [{"participant_id": pid, "state": s} for pid, s in members.items() if pid != participant_id],
        "video_cap": 360 if limit > 4 else None,
    }


def leave_call(participant_id: int, room_id: int) -> None:
    r = sync_redis()
    if r.hdel(call_key(room_id), participant_id):
        r.publish(
            channel_for(groups.room(room_id)),
            encode_push("rooms.peer.left", {"room_id": room_id, "participant_id": participant_id}),
        )


def update_media(event_id: int, participant_id: int, room_id: int, media: dict) -> None:
    r = sync_redis()
    raw = r.hget(call_key(room_id), participant_id)
    if raw is None:
        raise GatewayError("not_in_call", _("Join the room's call first."))
    state = {**json.loads(raw), **media}
    r.hset(call_key(room_id), participant_id, json.dumps(state))
    text = encode_push("rooms.media", {"room_id": room_id, "participant_id": participant_id, "state": state})
    pipe = r.pipeline(transaction=False)
    pipe.publish(channel_for(groups.room(room_id)), text)
    pipe.publish(channel_for(groups.moderators(event_id)), text)
    pipe.execute()
