"""Every change to a barcamp: validate, write in a transaction, publish after commit."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from barcamp import autofill as fill
from barcamp import selectors
from barcamp.models import (
    ROOM_MODES_FOR,
    BarcampRoom,
    BarcampSettings,
    CalendarFeed,
    Cell,
    Mode,
    Proposal,
    Publication,
    Release,
    Slot,
    Star,
    Vote,
)
from eventplatform import services as core
from eventplatform.models import Event, Participant, Room, Session
from eventplatform.realtime import bus, groups
from eventplatform.realtime.envelope import GatewayError

TITLE_MAX = 200
DESCRIPTION_MAX = 4000
NEEDS_MAX = 10
LENGTH_RANGE = (10, 240)


def settings_for(event: Event) -> BarcampSettings:
    found, _created = BarcampSettings.objects.get_or_create(event=event)
    return found


def _is_organizer(participant: Participant) -> bool:
    return participant.is_organizer and not participant.is_removed


def _require_organizer(participant: Participant) -> None:
    if not _is_organizer(participant):
        raise GatewayError("forbidden", _("Only organizers may do this."))


def _publish_state(event: Event) -> None:
    state = selectors.public_state(event)
    bus.publish_on_commit(groups.event(event.pk), "barcamp.state", state)


# --- the barcamp's settings -------------------------------------------------------------------

def configure(
    organizer: Participant,
    *,
    session_length: int | None = None,
    voting_open: bool | None = None,
    grid_fixed: bool | None = None,
) -> BarcampSettings:
    """Open or close voting, fix the grid, change the default session length."""
    _require_organizer(organizer)
    event = organizer.event
    with transaction.atomic():
        found = BarcampSettings.objects.select_for_update().get(pk=settings_for(event).pk)
        if session_length is not None:
            if not LENGTH_RANGE[0] <= session_length <= LENGTH_RANGE[1]:
                raise GatewayError("invalid_length", _("A session lasts between 10 and 240 minutes."))
            found.session_length = session_length
        if voting_open is not None:
            found.voting_open = voting_open
        if grid_fixed is not None:
            found.grid_fixed = grid_fixed
        found.save()
        _publish_state(event)
    return found


# --- proposals --------------------------------------------------------------------------------

def _clean_proposal_fields(event: Event, fields: dict) -> dict:
    clean: dict = {}
    if "title" in fields:
        title = (fields["title"] or "").strip()
        if not title:
            raise GatewayError("invalid_title", _("Please give your session a title."))
        if len(title) > TITLE_MAX:
            raise GatewayError("invalid_title", _("The title is too long (200 characters at most)."))
        clean["title"] = title
    if "description" in fields:
        description = (fields["description"] or "").strip()
        if len(description) > DESCRIPTION_MAX:
            raise GatewayError("invalid_description", _("The description is too long (4000 characters at most)."))
        clean["description"] = description
    if "language" in fields:
        language = (fields["language"] or "").strip().lower()
        if not language or len(language) > 8:
            raise GatewayError("invalid_language", _("Unknown language."))
        clean["language"] = language
    if "format" in fields:
        if fields["format"] not in Proposal.Format.values:
            raise GatewayError("invalid_format", _("Unknown session format."))
        clean["format"] = fields["format"]
    if fields.get("length") is not None:
        if not LENGTH_RANGE[0] <= fields["length"] <= LENGTH_RANGE[1]:
            raise GatewayError("invalid_length", _("A session lasts between 10 and 240 minutes."))
        clean["length"] = fields["length"]
    if "mode" in fields:
        if fields["mode"] not in Mode.values:
            raise GatewayError("invalid_mode", _("Choose on site, online or hybrid."))
        clean["mode"] = fields["mode"]
    if "needs" in fields:
        needs = [str(n).strip()[:60] for n in fields["needs"] or [] if str(n).strip()]
        if len(needs) > NEEDS_MAX:
            raise GatewayError("invalid_needs", _("Too many needs (10 at most)."))
        clean["needs"] = needs
    return clean


def _cohosts(event: Event, ids) -> list[Participant]:
    if ids is None:
        return None
    found = list(Participant.objects.filter(event=event, pk__in=set(ids), is_removed=False))
    if len(found) != len(set(ids)):
        raise GatewayError("unknown_participant", _("A co-host is not a participant of this event."))
    return found


def propose(participant: Participant, **fields) -> Proposal:
    """A participant proposes a session (before the event, or live in the plenum)."""
    event = participant.event
    camp = settings_for(event)
    if camp.grid_fixed and not _is_organizer(participant):
        raise GatewayError("grid_fixed", _("The grid is fixed: no more proposals."))
    fields.setdefault("title", "")
    clean = _clean_proposal_fields(event, fields)
    clean.setdefault("length", camp.session_length)
    cohosts = _cohosts(event, fields.get("cohost_ids")) or []
    with transaction.atomic():
        proposal = Proposal.objects.create(
            event=event, proposer=participant, in_plenum=bool(fields.get("in_plenum")), **clean
        )
        proposal.cohosts.set([c for c in cohosts if c.pk != participant.pk])
        bus.publish_on_commit(groups.event(event.pk), "barcamp.proposal", selectors.proposal_out(proposal))
    return proposal


def _editable_proposal(participant: Participant, proposal_id: int) -> Proposal:
    proposal = Proposal.objects.filter(pk=proposal_id, event_id=participant.event_id).first()
    if proposal is None:
        raise GatewayError("unknown_proposal", _("This proposal does not exist."))
    is_host = proposal.proposer_id == participant.pk or proposal.cohosts.filter(pk=participant.pk).exists()
    if not (is_host or _is_organizer(participant)):
        raise GatewayError("forbidden", _("Only its hosts and the organizers may change a proposal."))
    if settings_for(participant.event).grid_fixed and not _is_organizer(participant):
        raise GatewayError("grid_fixed", _("The grid is fixed: proposals can no longer be changed."))
    return proposal


def edit_proposal(participant: Participant, proposal_id: int, **fields) -> Proposal:
    """Change a proposal (its hosts until the grid is fixed; organizers always)."""
    with transaction.atomic():
        proposal = _editable_proposal(participant, proposal_id)
        clean = _clean_proposal_fields(participant.event, {k: v for k, v in fields.items() if v is not None})
        for name, value in clean.items():
            setattr(proposal, name, value)
        proposal.save()
        cohosts = _cohosts(participant.event, fields.get("cohost_ids"))
        if cohosts is not None:
            proposal.cohosts.set([c for c in cohosts if c.pk != proposal.proposer_id])
        bus.publish_on_commit(
            groups.event(proposal.event_id), "barcamp.proposal", selectors.proposal_out(proposal)
        )
    return proposal


def withdraw_proposal(participant: Participant, proposal_id: int) -> Proposal:
    """Withdraw: it leaves the grid (the next release cancels its session)."""
    with transaction.atomic():
        proposal = _editable_proposal(participant, proposal_id)
        proposal.is_withdrawn = True
        proposal.save(update_fields=["is_withdrawn", "updated"])
        cell = Cell.objects.filter(proposal=proposal).first()
        if cell is not None:
            Cell.objects.filter(pk=cell.pk).update(proposal=None, pinned=False, version=F("version") + 1)
            _publish_cells(proposal.event_id, [cell.pk])
        bus.publish_on_commit(
            groups.event(proposal.event_id), "barcamp.proposal", selectors.proposal_out(proposal)
        )
    return proposal


# --- plenum voting ----------------------------------------------------------------------------

def vote(participant: Participant, proposal_id: int, choice: str | None) -> Vote | None:
    """Interested, maybe, or take the vote back. One vote per participant per proposal: a
    second vote changes the first; two at once leave one (the database's unique constraint)."""
    if choice is not None and choice not in Vote.Choice.values:
        raise GatewayError("invalid_choice", _("Vote “interested” or “maybe”."))
    camp = settings_for(participant.event)
    if not camp.voting_open:
        raise GatewayError("voting_closed", _("Voting is closed."))
    proposal = Proposal.objects.filter(pk=proposal_id, event_id=participant.event_id, is_withdrawn=False).first()
    if proposal is None:
        raise GatewayError("unknown_proposal", _("This proposal does not exist."))
    if choice is None:
        Vote.objects.filter(proposal=proposal, participant=participant).delete()
        return None
    try:
        with transaction.atomic():
            return Vote.objects.create(proposal=proposal, participant=participant, choice=choice)
    except IntegrityError:
        # Already voted (perhaps a moment ago from another tab): change that vote instead.
        Vote.objects.filter(proposal=proposal, participant=participant).update(choice=choice)
        return Vote.objects.get(proposal=proposal, participant=participant)


def count_hands(organizer: Participant, proposal_id: int, hands: int) -> Proposal:
    """The organizer enters the hands counted in the room for a proposal."""
    _require_organizer(organizer)
    if not 0 <= hands <= 100_000:
        raise GatewayError("invalid_hands", _("Enter the number of hands counted."))
    with transaction.atomic():
        updated = Proposal.objects.filter(pk=proposal_id, event_id=organizer.event_id).update(hands=hands)
        if not updated:
            raise GatewayError("unknown_proposal", _("This proposal does not exist."))
    return Proposal.objects.get(pk=proposal_id)


# --- the grid ---------------------------------------------------------------------------------

def add_room(
    event: Event,
    room: Room,
    *,
    capacity: int = 20,
    mode: str = Mode.ONSITE,
    breakout: Room | None = None,
    streamable: bool = False,
) -> BarcampRoom:
    """Use a core room in the grid (one cell per slot)."""
    if room.event_id != event.pk or (breakout is not None and breakout.event_id != event.pk):
        raise GatewayError("unknown_room", _("The room belongs to another event."))
    if mode not in Mode.values:
        raise GatewayError("invalid_mode", _("Choose on site, online or hybrid."))
    with transaction.atomic():
        camp_room, _created = BarcampRoom.objects.update_or_create(
            room=room, defaults={"capacity": capacity, "mode": mode, "breakout": breakout, "streamable": streamable}
        )
        for slot in Slot.objects.filter(event=event):
            Cell.objects.get_or_create(event=event, slot=slot, room=camp_room)
    return camp_room


def add_slot(event: Event, start, end, *, blocked: bool = False, label: str = "") -> Slot:
    """Add a row to the grid (one cell per room)."""
    if end <= start:
        raise GatewayError("invalid_slot", _("A slot must end after it starts."))
    with transaction.atomic():
        slot = Slot.objects.create(event=event, start=start, end=end, is_blocked=blocked, label=label)
        for camp_room in BarcampRoom.objects.filter(room__event=event):
            Cell.objects.create(event=event, slot=slot, room=camp_room)
    return slot


def _publish_cells(event_id: int, cell_ids: list[int]) -> None:
    cells = selectors.cells_out(Cell.objects.filter(pk__in=cell_ids))
    bus.publish_on_commit(groups.moderators(event_id), "barcamp.cells", {"cells": cells})


def place(
    organizer: Participant, cell_id: int, version: int, proposal_id: int | None, pinned: bool = False
) -> Cell:
    """Save one cell. `version` is the one the editor saw: if someone saved the cell since, this
    is refused with `grid_conflict` (and the current cell) instead of overwriting their work."""
    _require_organizer(organizer)
    try:
        _place(organizer.event_id, cell_id, version, proposal_id, pinned)
    except IntegrityError:
        # Another organizer put the same proposal into another cell at the same moment: the
        # database keeps one cell per proposal, and this save loses like any concurrent edit.
        raise GatewayError(
            "grid_conflict", _("Someone else placed this session meanwhile. Your change was not saved.")
        ) from None
    return Cell.objects.get(pk=cell_id)


def _place(event_id: int, cell_id: int, version: int, proposal_id: int | None, pinned: bool) -> None:
    with transaction.atomic():
        cell = Cell.objects.select_related("slot").filter(pk=cell_id, event_id=event_id).first()
        if cell is None:
            raise GatewayError("unknown_cell", _("This grid cell does not exist."))
        proposal = None
        if proposal_id is not None:
            proposal = Proposal.objects.filter(pk=proposal_id, event_id=event_id, is_withdrawn=False).first()
            if proposal is None:
                raise GatewayError("unknown_proposal", _("This proposal does not exist."))
            if cell.slot.is_blocked:
                raise GatewayError("slot_blocked", _("This slot is blocked (e.g. lunch)."))
        # The claim is one conditional UPDATE, so of two editors holding the same version exactly
        # one wins, on SQLite and PostgreSQL alike.
        claimed = Cell.objects.filter(pk=cell_id, version=version).update(version=F("version") + 1)
        if not claimed:
            current = Cell.objects.get(pk=cell_id)
            raise GatewayError(
                "grid_conflict",
                _("Someone else changed this slot meanwhile. Your change was not saved; here is theirs."),
                cell=selectors.cells_out([current])[0],
            )
        changed = [cell_id]
        if proposal is not None:
            previous = Cell.objects.filter(proposal=proposal).exclude(pk=cell_id).first()
            if previous is not None:  # a move: the old cell empties (and its editors see a new version)
                Cell.objects.filter(pk=previous.pk).update(proposal=None, pinned=False, version=F("version") + 1)
                changed.append(previous.pk)
        Cell.objects.filter(pk=cell_id).update(proposal=proposal, pinned=bool(pinned and proposal is not None))
        _publish_cells(event_id, changed)


def run_autofill(organizer: Participant) -> dict:
    """Fill the grid by votes; pinned cells stay. Every changed cell gets a new version."""
    _require_organizer(organizer)
    event = organizer.event
    with transaction.atomic():
        cells = list(Cell.objects.select_for_update().filter(event=event).select_related("slot", "room"))
        proposals = selectors.fill_proposals(event)
        rooms = [
            fill.FillRoom(r.pk, r.capacity, r.mode) for r in BarcampRoom.objects.filter(room__event=event)
        ]
        slots = [
            fill.FillSlot(s.pk, s.start.timestamp(), s.end.timestamp())
            for s in Slot.objects.filter(event=event, is_blocked=False)
        ]
        pinned = {(c.slot_id, c.room_id): c.proposal_id for c in cells if c.pinned and c.proposal_id}
        result = fill.autofill(rooms, slots, proposals, pinned)
        changed = []
        # Empty first: a proposal may move from one cell to another (one cell per proposal).
        for c in cells:
            wanted = result.placement.get((c.slot_id, c.room_id))
            if c.proposal_id != wanted and c.proposal_id is not None:
                Cell.objects.filter(pk=c.pk).update(proposal=None, version=F("version") + 1)
                changed.append(c.pk)
        for c in cells:
            wanted = result.placement.get((c.slot_id, c.room_id))
            if wanted is not None and c.proposal_id != wanted:
                Cell.objects.filter(pk=c.pk).update(proposal_id=wanted, version=F("version") + 1)
                changed.append(c.pk)
        _publish_cells(event.pk, list(set(changed)))
    return {"placed": len(result.placement), "unplaced": result.unplaced, "changed": len(set(changed))}


# --- publishing -------------------------------------------------------------------------------

HARD_CONFLICTS = {"double_booking", "host_clash", "blocked"}


def release(organizer: Participant) -> Release:
    """Turn the grid into agenda sessions; record what changed since the last release."""
    _require_organizer(organizer)
    event = organizer.event
    with transaction.atomic():
        camp = BarcampSettings.objects.select_for_update().get(pk=settings_for(event).pk)
        hard = [c for c in selectors.conflicts(event) if c["code"] in HARD_CONFLICTS]
        if hard:
            raise GatewayError(
                "grid_conflicts", _("Resolve the conflicts in the grid before publishing."), conflicts=hard
            )
        cells = (
            Cell.objects.filter(event=event, proposal__isnull=False, proposal__is_withdrawn=False)
            .select_related("slot", "room__room", "proposal__proposer")
            .prefetch_related("proposal__cohosts")
        )
        placed = {c.proposal_id: c for c in cells}
        changes: list[dict] = []
        publications = {p.proposal_id: p for p in Publication.objects.filter(proposal__event=event)}
        # Cancel first, so a room freed by a cancellation can take a session moved into it.
        for proposal_id, pub in publications.items():
            if proposal_id not in placed and pub.session_id is not None:
                changes.append(
                    {
                        "kind": "cancelled",
                        "proposal_id": proposal_id,
                        "title": pub.session.title,
                        "from": {"room": pub.room_name, "start": pub.start},
                        "to": None,
                    }
                )
                Session.objects.filter(pk=pub.session_id).delete()
                Publication.objects.filter(pk=pub.pk).update(session=None, room_name="", start=None)
        for proposal_id, cell in sorted(placed.items(), key=lambda kv: (kv[1].slot.start, kv[1].room_id)):
            proposal = cell.proposal
            room = cell.room.room
            start = cell.slot.start
            minutes = min(proposal.length, int((cell.slot.end - cell.slot.start).total_seconds() // 60))
            end = start + timedelta(minutes=minutes)
            pub = publications.get(proposal_id)
            session = pub.session if pub is not None and pub.session_id else None
            if session is None:
                session = Session.objects.create(
                    event=event, title=proposal.title, abstract=proposal.description,
                    kind=Session.Kind.BARCAMP, start=start, end=end, room=room,
                )
                kind = "new"
                before = None
            else:
                kind = "moved" if (session.room_id != room.pk or session.start != start) else None
                before = {"room": pub.room_name, "start": pub.start}
                session.title, session.abstract = proposal.title, proposal.description
                session.start, session.end, session.room = start, end, room
                session.save()
            session.speakers.set([proposal.proposer, *proposal.cohosts.all()])
            Publication.objects.update_or_create(
                proposal=proposal, defaults={"session": session, "room_name": room.name, "start": start}
            )
            if kind is not None:
                changes.append(
                    {
                        "kind": kind,
                        "proposal_id": proposal_id,
                        "session_id": session.pk,
                        "title": proposal.title,
                        "from": before,
                        "to": {"room": room.name, "start": start},
                    }
                )
        camp.releases += 1
        camp.save(update_fields=["releases"])
        changes = selectors.jsonable(changes)
        made = Release.objects.create(event=event, number=camp.releases, changes=changes)
        core.agenda_changed(event)
        bus.publish_on_commit(
            groups.event(event.pk),
            "barcamp.release",
            {"number": made.number, "changes": changes, "sessions": selectors.published_sessions(event.pk)},
        )
    return made


# --- personal lists ---------------------------------------------------------------------------

def star(participant: Participant, proposal_id: int, starred: bool) -> bool:
    """Add a session to (or remove it from) the participant's "my sessions"."""
    proposal = Proposal.objects.filter(pk=proposal_id, event_id=participant.event_id).first()
    if proposal is None:
        raise GatewayError("unknown_proposal", _("This proposal does not exist."))
    if starred:
        try:
            with transaction.atomic():
                Star.objects.create(participant=participant, proposal=proposal)
        except IntegrityError:
            pass  # already starred: starring twice is the same as once
    else:
        Star.objects.filter(participant=participant, proposal=proposal).delete()
    return starred


def calendar_feed(participant: Participant) -> CalendarFeed:
    feed, _created = CalendarFeed.objects.get_or_create(participant=participant)
    return feed


def room_modes_for(mode: str) -> set[str]:
    return {str(m) for m in ROOM_MODES_FOR[Mode(mode)]}
