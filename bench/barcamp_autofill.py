"""Barcamp benchmarks (bounded: well under 2 minutes, traffic only to 127.0.0.1).

1. Auto-fill: 200 proposals into 10 rooms × 8 slots (the pure algorithm, and the whole service
   with its database reads and writes on a throwaway SQLite database). Target: < 1 s.
2. Live vote counts: 2,000 voters vote within a few seconds through the real vote service and the
   real coalescer (Redis); a subscriber on the event's channel records every `barcamp.votes`
   broadcast. Each connected client receives each broadcast once (the hub writes one encoded text
   to every local socket), so broadcasts per second per event = updates per second per client.
   Target: ≤ 2 updates/s.

Run: REDIS_URL=redis://127.0.0.1:6379/0 uv run python bench/barcamp_autofill.py
"""

import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

STATE = tempfile.mkdtemp(prefix="bench-barcamp-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "eventplatform.settings")
os.environ["DATABASE_URL"] = f"sqlite:///{STATE}/bench.sqlite3"
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["REDIS_PREFIX"] = f"benchbc{os.getpid()}"
os.environ.setdefault("DEBUG", "1")
os.environ["EP_STATE_DIR"] = STATE
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from barcamp import handlers, services  # noqa: E402
from barcamp.autofill import FillProposal, FillRoom, FillSlot, autofill  # noqa: E402
from barcamp.models import Vote  # noqa: E402
from eventplatform.models import Event, Participant, Room  # noqa: E402
from eventplatform.realtime import groups  # noqa: E402
from eventplatform.realtime.bus import channel_for  # noqa: E402
from eventplatform.realtime.runtime import close_runtime, runtime  # noqa: E402

PROPOSALS, ROOMS, SLOTS, VOTERS = 200, 10, 8, 2000
rng = random.Random(8)


def bench_pure() -> None:
    rooms = [FillRoom(i, rng.choice([10, 20, 30, 50, 80, 120]), rng.choice(["onsite", "hybrid", "online"])) for i in range(ROOMS)]
    slots = [FillSlot(i, i * 60, i * 60 + 45) for i in range(SLOTS)]
    proposals = [
        FillProposal(i, rng.randint(0, 150) / 2, frozenset(rng.sample(range(150), rng.randint(1, 3))),
                     rng.choice(["onsite", "hybrid", "online", "hybrid"]))
        for i in range(PROPOSALS)
    ]
    pinned = {(0, 0): 0, (3, 2): 1}
    times = []
    for _ in range(20):
        start = time.perf_counter()
        result = autofill(rooms, slots, proposals, pinned)
        times.append(time.perf_counter() - start)
    print(f"autofill (pure) {PROPOSALS} proposals → {ROOMS}×{SLOTS} cells: "
          f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms over 20 runs; "
          f"placed {len(result.placement)}, unplaced {len(result.unplaced)}")


def setup_event() -> tuple[Event, Participant, list[Participant]]:
    call_command("migrate", verbosity=0)
    now = timezone.now().replace(microsecond=0)
    event = Event.objects.create(slug="benchcamp", title="Benchcamp", start=now, end=now + timedelta(hours=10))
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"bench-{i}") for i in range(VOTERS + 1)])
    people = Participant.objects.bulk_create(
        [Participant(event=event, user=u, name=f"Person {i}", is_organizer=(i == 0)) for i, u in enumerate(users)]
    )
    organizer, voters = people[0], people[1:]
    for i in range(ROOMS):
        room = Room.objects.create(event=event, name=f"Room {i}", position=i)
        services.add_room(event, room, capacity=rng.choice([10, 20, 30, 50, 80, 120]), mode=rng.choice(["onsite", "hybrid"]))
    for j in range(SLOTS):
        start = now + timedelta(hours=1 + j)
        services.add_slot(event, start, start + timedelta(minutes=45))
    for i in range(PROPOSALS):
        services.propose(voters[i % 150], title=f"Proposal {i}", mode=rng.choice(["onsite", "hybrid"]))
    services.configure(organizer, voting_open=True)
    return event, organizer, voters


def bench_service(event, organizer, voters) -> None:
    proposals = list(event.proposals.values_list("id", flat=True))
    Vote.objects.bulk_create(
        [Vote(proposal_id=rng.choice(proposals), participant=v, choice="interested") for v in voters[:1000]],
        ignore_conflicts=True,
    )
    times = []
    for _ in range(5):
        start = time.perf_counter()
        result = services.run_autofill(organizer)
        times.append(time.perf_counter() - start)
    print(f"autofill service (SQLite, reads votes, writes cells): median {statistics.median(times) * 1000:.0f} ms, "
          f"max {max(times) * 1000:.0f} ms over 5 runs; placed {result['placed']}")
    Vote.objects.all().delete()


async def bench_votes(event, voters, rate: float = 500) -> None:
    """Each voter casts one vote at `rate` votes/s; count the broadcasts a client would get."""
    from channels.db import database_sync_to_async

    proposals = await database_sync_to_async(lambda: list(event.proposals.values_list("id", flat=True)))()
    rt = runtime()
    pubsub = rt.redis.pubsub()
    await pubsub.subscribe(channel_for(groups.event(event.pk)))
    received: list[tuple[float, dict]] = []
    stop = asyncio.Event()

    async def listen():
        while not stop.is_set():
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message and '"barcamp.votes"' in message["data"]:
                received.append((time.monotonic(), json.loads(message["data"])["data"]["counts"]))

    listener = asyncio.create_task(listen())
    vote = database_sync_to_async(services.vote)
    start = time.monotonic()
    for i, voter in enumerate(voters):
        await vote(voter, rng.choice(proposals), rng.choice(["interested", "interested", "maybe"]))
        await handlers.votes_changed(event.pk)
        lag = start + (i + 1) / rate - time.monotonic()
        if lag > 0:
            await asyncio.sleep(lag)
    voting_ended = time.monotonic()
    await asyncio.sleep(1.2)  # the last pending broadcast
    stop.set()
    await listener
    await pubsub.aclose()
    duration = voting_ended - start
    stamps = [t for t, _ in received]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    per_window = max(sum(1 for t in stamps if w <= t < w + 1) for w in stamps) if stamps else 0
    final = received[-1][1] if received else {}
    total = sum(c["interested"] + c["maybe"] for c in final.values())
    print(f"vote counts: {len(voters)} voters in {duration:.2f} s ({len(voters) / duration:.0f} votes/s through the "
          f"vote service + coalescer); {len(received)} broadcasts = {len(received) / (duration + 1.2):.2f}/s per client, "
          f"max {per_window} in any 1-s window, min gap {min(gaps) * 1000:.0f} ms; last broadcast "
          f"{(stamps[-1] - voting_ended) * 1000:.0f} ms after the last vote; final counts sum {total} (expected {len(voters)})")
    await close_runtime()


def main() -> None:
    print(f"machine: {os.cpu_count()} cores (shared with other developers' work), Python {sys.version.split()[0]}")
    bench_pure()
    event, organizer, voters = setup_event()
    bench_service(event, organizer, voters)
    asyncio.run(bench_votes(event, voters))


if __name__ == "__main__":
    main()
