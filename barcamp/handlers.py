"""The barcamp's socket commands: thin, each calls a service. Plus the coalesced vote counts."""

import asyncio
import logging

import redis.asyncio as aioredis
from channels.db import database_sync_to_async
from django.conf import settings
from django.urls import reverse

from barcamp import schemas, selectors, services
from eventplatform.models import Event, Participant
from eventplatform.realtime import bus, groups
from eventplatform.realtime import permissions as perms
from eventplatform.realtime.registry import Empty, command, declare_push, join_read, stream
from eventplatform.realtime.runtime import runtime
from eventplatform.realtime.shared import SharedPart

log = logging.getLogger(__name__)

declare_push("barcamp.state", schemas.StateOut, "Voting opened or closed, grid fixed, a release made.")
declare_push("barcamp.proposal", schemas.ProposalOut, "A proposal was made, changed or withdrawn.")
declare_push(
    "barcamp.votes",
    schemas.VotesOut,
    "Live vote counts of every proposal, coalesced: at most one per VOTE_COALESCE_MS (500 ms) per event.",
)
declare_push("barcamp.cells", schemas.CellsOut, "Grid cells changed (organizers only).", group="moderators.<event_id>")
declare_push("barcamp.release", schemas.ReleaseOut, "A new release of the schedule and what changed in it.")


def coalesce_ms() -> int:
    return settings.BARCAMP_VOTE_COALESCE_MS


_timers: set[asyncio.Task] = set()


def _keys(event_id: int) -> tuple[str, str]:
    base = f"{settings.REDIS_PREFIX}:barcamp:votes:{event_id}"
    return f"{base}:dirty", f"{base}:publisher"


async def votes_changed(event_id: int) -> None:
    """Ask for a `barcamp.votes` broadcast; at most one per interval per event goes out.

    Every change marks the event dirty. One publisher at a time (a Redis lock, so across all
    processes) wakes once per interval, and if anything changed reads the counts and publishes
    them; when an interval passes without a change it stops. A vote arriving while it stops
    is not lost: after letting go of the lock the publisher looks at the mark once more.
    """
    dirty, lock = _keys(event_id)
    redis = runtime().redis
    await redis.set(dirty, "1", px=60_000)
    if await redis.set(lock, "1", nx=True, px=_LOCK_MS):
        _start_publisher(event_id)


_LOCK_MS = 5_000  # outlives an interval by far, refreshed every round; a dead publisher is replaced within it


def _start_publisher(event_id: int) -> None:
    task = asyncio.create_task(_publish_while_dirty(event_id))
    _timers.add(task)
    task.add_done_callback(_timers.discard)


async def _publish_while_dirty(event_id: int) -> None:
    dirty, lock = _keys(event_id)
    redis = runtime().redis
    interval = coalesce_ms() / 1000
    try:
        while True:
            # Sleeping first coalesces the burst that woke us, and spaces broadcasts by at
            # least one interval (the previous publisher, if any, published before letting go).
            await asyncio.sleep(interval)
            if await redis.getdel(dirty):
                await redis.pexpire(lock, _LOCK_MS)
                counts = await database_sync_to_async(selectors.vote_counts)(event_id)
                await bus.apublish(redis, groups.event(event_id), "barcamp.votes", {"counts": counts})
                continue
            await redis.delete(lock)
            if await redis.exists(dirty) and await redis.set(lock, "1", nx=True, px=_LOCK_MS):
                continue  # a vote slipped in while we were letting go
            return
    except (ConnectionError, OSError, aioredis.RedisError):
        log.warning("could not publish vote counts for event %s", event_id, exc_info=True)
        await redis.delete(lock)


@database_sync_to_async
def _participant(conn) -> Participant:
    return Participant.objects.select_related("event").get(pk=conn.actor.participant_id)


def _call(func):
    """Run a service for the connection's participant in a worker thread."""

    async def run(conn, *args, **kwargs):
        return await database_sync_to_async(lambda: func(_participant_sync(conn), *args, **kwargs))()

    return run


def _participant_sync(conn) -> Participant:
    return Participant.objects.select_related("event").get(pk=conn.actor.participant_id)


def _board(event_id: int) -> dict:
    """The barcamp's state, proposals and vote counts: the same for everyone in the event."""
    return {
        "state": selectors.public_state(Event(pk=event_id)),
        "proposals": selectors.proposals(event_id),
        "counts": selectors.vote_counts(event_id),
    }


@join_read("barcamp")
def _mine(actor) -> dict:
    return {"my_votes": selectors.my_votes(actor.participant_id), "my_stars": selectors.my_stars(actor.participant_id)}


_shared_board = SharedPart("barcamp", _board)  # every change is pushed to the event's group


@stream("barcamp")
async def barcamp_stream(conn, cursor: int | None) -> dict:
    board = await _shared_board.get(conn.event_id, [groups.event(conn.event_id)])
    return {"mode": "full", "cursor": board["state"]["releases"], "data": {**board, **conn.join_reads["barcamp"]}}


@command("barcamp.propose", schema=schemas.ProposeIn, reply=schemas.ProposalOut)
async def propose(conn, msg: schemas.ProposeIn) -> dict:
    """Propose a session (before the event or live in the plenum)."""
    proposal = await _call(services.propose)(conn, **msg.model_dump())
    return await database_sync_to_async(selectors.proposal_out)(proposal)


@command("barcamp.edit", schema=schemas.EditIn, reply=schemas.ProposalOut)
async def edit(conn, msg: schemas.EditIn) -> dict:
    """Change a proposal (its hosts until the grid is fixed; organizers always)."""
    fields = msg.model_dump(exclude={"proposal_id"}, exclude_none=True)
    proposal = await _call(services.edit_proposal)(conn, msg.proposal_id, **fields)
    return await database_sync_to_async(selectors.proposal_out)(proposal)


@command("barcamp.withdraw", schema=schemas.ProposalRef, reply=schemas.ProposalOut)
async def withdraw(conn, msg: schemas.ProposalRef) -> dict:
    """Withdraw a proposal; the next release cancels its session."""
    proposal = await _call(services.withdraw_proposal)(conn, msg.proposal_id)
    await votes_changed(conn.event_id)
    return await database_sync_to_async(selectors.proposal_out)(proposal)


@command("barcamp.vote", schema=schemas.VoteIn, reply=schemas.VoteOut)
async def vote(conn, msg: schemas.VoteIn) -> dict:
    """Vote interested or maybe (null takes the vote back); one vote per proposal per person."""
    await _call(services.vote)(conn, msg.proposal_id, msg.choice)
    await votes_changed(conn.event_id)
    return {"proposal_id": msg.proposal_id, "choice": msg.choice}


@command("barcamp.hands", schema=schemas.HandsIn, reply=schemas.VoteOut, permission=perms.organizer)
async def hands(conn, msg: schemas.HandsIn) -> dict:
    """Enter the hands counted in the room for a proposal."""
    await _call(services.count_hands)(conn, msg.proposal_id, msg.hands)
    await votes_changed(conn.event_id)
    return {"proposal_id": msg.proposal_id, "choice": None}


@command("barcamp.configure", schema=schemas.ConfigureIn, reply=schemas.StateOut, permission=perms.organizer)
async def configure(conn, msg: schemas.ConfigureIn) -> dict:
    """Open or close voting, fix the grid, set the default session length."""
    found = await _call(services.configure)(conn, **msg.model_dump())
    return {
        "session_length": found.session_length,
        "voting_open": found.voting_open,
        "grid_fixed": found.grid_fixed,
        "releases": found.releases,
    }


@command("barcamp.grid", reply=schemas.GridOut, permission=perms.organizer)
async def grid(conn, msg: Empty) -> dict:
    """The whole grid with its versions and conflicts, for the grid editor."""
    participant = await _participant(conn)
    return await database_sync_to_async(selectors.grid)(participant.event)


@command("barcamp.place", schema=schemas.PlaceIn, reply=schemas.CellOut, permission=perms.organizer)
async def place(conn, msg: schemas.PlaceIn) -> dict:
    """Save one grid cell; refused with `grid_conflict` if someone saved it since `version`."""
    cell = await _call(services.place)(conn, msg.cell_id, msg.version, msg.proposal_id, msg.pinned)
    return selectors.cells_out([cell])[0]


@command("barcamp.autofill", reply=schemas.AutofillOut, permission=perms.organizer)
async def autofill(conn, msg: Empty) -> dict:
    """Fill the grid by votes; pinned cells stay."""
    return await _call(services.run_autofill)(conn)


@command("barcamp.release", reply=schemas.ReleaseOut, permission=perms.organizer)
async def release(conn, msg: Empty) -> dict:
    """Publish the grid into the agenda."""
    made = await _call(services.release)(conn)
    sessions = await database_sync_to_async(selectors.published_sessions)(conn.event_id)
    return {"number": made.number, "changes": made.changes, "sessions": sessions}


@command("barcamp.star", schema=schemas.StarIn, reply=schemas.StarOut)
async def star(conn, msg: schemas.StarIn) -> dict:
    """Add a session to "my sessions" or remove it."""
    starred = await _call(services.star)(conn, msg.proposal_id, msg.starred)
    return {"proposal_id": msg.proposal_id, "starred": starred}


@command("barcamp.feed", reply=schemas.FeedOut)
async def feed(conn, msg: Empty) -> dict:
    """The private link of the participant's "my sessions" calendar."""
    found = await _call(services.calendar_feed)(conn)
    return {"url": reverse("barcamp-my-ical", kwargs={"slug": conn.actor.event_slug, "token": found.token})}
