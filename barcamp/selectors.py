"""Reads of a barcamp: proposals with counts, the grid, its conflicts, what a person starred."""

import json
from collections import defaultdict

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from barcamp import autofill as fill
from barcamp.models import ROOM_MODES_FOR, BarcampRoom, BarcampSettings, Cell, Mode, Proposal, Slot, Star, Vote
from eventplatform.models import Event, Session
from eventplatform.precompiled import Precompiled


def jsonable(value):
    """Datetimes and the like as the JSON text they will travel as (for JSONFields)."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def camp_settings(event_id: int) -> BarcampSettings:
    found, _created = BarcampSettings.objects.get_or_create(event_id=event_id)
    return found


def proposal_out(p: Proposal) -> dict:
    return {
        "id": p.id,
        "title": p.title,
        "description": p.description,
        "proposer": {"id": p.proposer_id, "name": p.proposer.name},
        "cohosts": [{"id": c.id, "name": c.name} for c in p.cohosts.all()],
        "language": p.language,
        "format": p.format,
        "length": p.length,
        "mode": p.mode,
        "needs": list(p.needs),
        "in_plenum": p.in_plenum,
        "withdrawn": p.is_withdrawn,
        "session_id": _published_session(p),
    }


def _published_session(p: Proposal) -> int | None:
    """The agenda session this proposal became (None until released, or when cancelled)."""
    try:
        return p.publication.session_id
    except Proposal.publication.RelatedObjectDoesNotExist:
        return None


def vote_counts(event_id: int) -> dict[str, dict]:
    """Per proposal: app votes (interested, maybe) and hands counted in the room."""
    rows = (
        Proposal.objects.filter(event_id=event_id, is_withdrawn=False)
        .annotate(
            interested=Count("votes", filter=Q(votes__choice=Vote.Choice.INTERESTED)),
            maybe=Count("votes", filter=Q(votes__choice=Vote.Choice.MAYBE)),
        )
        .values_list("id", "interested", "maybe", "hands")
    )
    return {str(pid): {"interested": i, "maybe": m, "hands": h} for pid, i, m, h in rows}


def interest(counts: dict) -> float:
    """Expected audience: everyone interested, hands counted, half of the maybes."""
    return counts["interested"] + counts["hands"] + counts["maybe"] / 2


def proposals(event_id: int) -> list[dict]:
    found = (
        Proposal.objects.filter(event_id=event_id)
        .select_related("proposer", "publication")
        .prefetch_related("cohosts")
        .order_by("created", "id")
    )
    return [proposal_out(p) for p in found]


def public_state(event: Event) -> dict:
    camp = camp_settings(event.pk)
    return {
        "session_length": camp.session_length,
        "voting_open": camp.voting_open,
        "grid_fixed": camp.grid_fixed,
        "releases": camp.releases,
    }


# Every join asks both (eventplatform/precompiled.py).
_my_votes = Precompiled(lambda pid: Vote.objects.filter(participant_id=pid).values_list("proposal_id", "choice"))
_my_stars = Precompiled(lambda pid: Star.objects.filter(participant_id=pid).values_list("proposal_id"))


def my_votes(participant_id: int) -> dict[str, str]:
    return {str(pid): choice for pid, choice in _my_votes.rows(participant_id)}


def my_stars(participant_id: int) -> list[int]:
    return _my_stars.column(participant_id)


def cells_out(cells) -> list[dict]:
    return [
        {
            "id": c.id,
            "slot_id": c.slot_id,
            "room_id": c.room_id,
            "proposal_id": c.proposal_id,
            "pinned": c.pinned,
            "version": c.version,
        }
        for c in cells
    ]


def grid(event: Event) -> dict:
    rooms = [
        {
            "id": r.id,
            "room_id": r.room_id,
            "name": r.room.name,
            "capacity": r.capacity,
            "mode": r.mode,
            "breakout_id": r.breakout_id,
            "streamable": r.streamable,
        }
        for r in BarcampRoom.objects.filter(room__event=event).select_related("room")
    ]
    slots = [
        {"id": s.id, "start": s.start, "end": s.end, "blocked": s.is_blocked, "label": s.label}
        for s in Slot.objects.filter(event=event)
    ]
    cells = cells_out(Cell.objects.filter(event=event).order_by("slot__start", "room__room__position", "id"))
    return {"rooms": rooms, "slots": slots, "cells": cells, "conflicts": conflicts(event)}


def fill_proposals(event: Event) -> list[fill.FillProposal]:
    counts = vote_counts(event.pk)
    found = Proposal.objects.filter(event=event, is_withdrawn=False).prefetch_related("cohosts")
    return [
        fill.FillProposal(
            p.id,
            interest(counts[str(p.id)]),
            frozenset([p.proposer_id, *(c.id for c in p.cohosts.all())]),
            p.mode,
        )
        for p in found
    ]


def conflicts(event: Event) -> list[dict]:
    """What is wrong with the grid now: double booking (another agenda session in the room),
    host clash, room too small, room unsuited (mode), blocked slot, session longer than its slot."""
    cells = list(
        Cell.objects.filter(event=event, proposal__isnull=False)
        .select_related("slot", "room__room", "proposal")
        .prefetch_related("proposal__cohosts")
    )
    if not cells:
        return []
    counts = vote_counts(event.pk)
    found: list[dict] = []

    def warn(cell, code, message):
        found.append({"cell_id": cell.id, "proposal_id": cell.proposal_id, "code": code, "message": str(message)})

    # Sessions already in the agenda that are not this barcamp's own publications.
    others = list(
        Session.objects.filter(event=event, room__isnull=False, barcamp_publication__isnull=True).values(
            "room_id", "start", "end", "title"
        )
    )
    hosts_at: dict[int, list[tuple[Cell, set[int]]]] = defaultdict(list)
    for cell in cells:
        p = cell.proposal
        slot = cell.slot
        hosts = {p.proposer_id, *(c.id for c in p.cohosts.all())}
        hosts_at[slot.id].append((cell, hosts))
        if slot.is_blocked:
            warn(cell, "blocked", _("“%(title)s” is in a blocked slot.") % {"title": p.title})
        for other in others:
            if other["room_id"] == cell.room.room_id and other["start"] < slot.end and slot.start < other["end"]:
                warn(
                    cell,
                    "double_booking",
                    _("“%(room)s” already has “%(other)s” at that time.")
                    % {"room": cell.room.room.name, "other": other["title"]},
                )
        need = interest(counts.get(str(p.id), {"interested": 0, "maybe": 0, "hands": 0}))
        if need > cell.room.capacity:
            warn(
                cell,
                "too_small",
                _("“%(title)s” expects %(need)d people; “%(room)s” holds %(capacity)d.")
                % {"title": p.title, "need": round(need), "room": cell.room.room.name, "capacity": cell.room.capacity},
            )
        if cell.room.mode not in ROOM_MODES_FOR[Mode(p.mode)]:
            warn(cell, "mode", _("“%(title)s” is %(mode)s but “%(room)s” is not.") % {
                "title": p.title, "mode": Mode(p.mode).label, "room": cell.room.room.name})
        if p.length > (slot.end - slot.start).total_seconds() / 60:
            warn(cell, "too_long", _("“%(title)s” is longer than its slot.") % {"title": p.title})
    # Two grid sessions in one room at overlapping times (slots that overlap each other).
    for cell in cells:
        for other in cells:
            if (
                other.pk != cell.pk
                and other.room_id == cell.room_id
                and other.slot_id != cell.slot_id
                and other.slot.start < cell.slot.end
                and cell.slot.start < other.slot.end
            ):
                warn(
                    cell,
                    "double_booking",
                    _("“%(room)s” already has “%(other)s” at that time.")
                    % {"room": cell.room.room.name, "other": other.proposal.title},
                )
                break
    slots = {c.slot.id: c.slot for c in cells}
    for slot_id, entries in hosts_at.items():
        overlapping = [
            e for other_id, other in slots.items()
            if other.start < slots[slot_id].end and slots[slot_id].start < other.end
            for e in hosts_at[other_id]
        ]
        for cell, hosts in entries:
            for other_cell, other_hosts in overlapping:
                if other_cell.pk != cell.pk and hosts & other_hosts:
                    warn(cell, "host_clash", _("A host of “%(title)s” is also hosting “%(other)s” at that time.") % {
                        "title": cell.proposal.title, "other": other_cell.proposal.title})
                    break
    return found


def published_sessions(event_id: int) -> dict[str, int]:
    """proposal id → agenda session id, for everything currently published."""
    from barcamp.models import Publication

    rows = Publication.objects.filter(proposal__event_id=event_id, session__isnull=False)
    return {str(pid): sid for pid, sid in rows.values_list("proposal_id", "session_id")}


def starred_sessions(participant_id: int) -> list[Session]:
    return list(
        Session.objects.filter(barcamp_publication__proposal__stars__participant_id=participant_id)
        .select_related("room")
        .order_by("start")
    )
