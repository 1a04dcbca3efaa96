"""Mass move: N connected attendees assigned into R breakout rooms by one moderator action.

Prints the time from the action until every client has its new assignment (p50/p99/max)
and the database queries of the move for growing group sizes (must stay constant).

    REDIS_URL=redis://127.0.0.1:6379/0 uv run python bench/rooms_mass_move.py [attendees] [rooms]
"""

import asyncio
import sys
import time

import rooms_setup as setup


def query_counts(event_id: int, people: list[int]) -> list[tuple[int, int]]:
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from rooms import services
    from rooms.models import Assignment

    result = []
    for n in (10, 100, len(people)):
        Assignment.objects.all().delete()
        with CaptureQueriesContext(connection) as ctx:
            services.assign_automatically(event_id, people[:n])
        result.append((n, len(ctx.captured_queries)))
    transaction.on_commit(lambda: None)
    return result


async def main(attendees: int, rooms: int) -> None:
    setup.django_setup()
    from channels.db import database_sync_to_async

    from rooms import services

    event, moderator, people, tickets = await database_sync_to_async(setup.make_event)(attendees, rooms)
    pids = [p.pk for p in people]
    mod_ticket = await database_sync_to_async(lambda: moderator.ticket.secret)()
    daphne, port = setup.start_daphne()
    try:
        t0 = time.perf_counter()
        clients = await setup.open_many(port, tickets)
        mod = await setup.Client.open(port, mod_ticket, moderator.pk)
        print(f"{len(clients)} attendees connected in {time.perf_counter() - t0:.1f} s")
        assert (await mod.request("rooms.open", {"mode": "manual"}))["ok"]
        # One warm-up round trip so the first move does not pay for imports and caches.
        await mod.request("rooms.overview")

        got: dict[int, float] = {}
        done = asyncio.Event()

        def on_assignment(c):
            def handler(data, at):
                if data["room"] is not None and c.pid not in got:
                    got[c.pid] = at
                    if len(got) == len(clients):
                        done.set()
            return handler

        for c in clients:
            c.handlers["rooms.assignment"] = on_assignment(c)
        start = time.perf_counter()
        reply = await mod.request("rooms.assign", {"participant_ids": pids}, timeout=120)
        replied = time.perf_counter() - start
        assert reply["ok"], reply
        try:
            await asyncio.wait_for(done.wait(), 60)
        except TimeoutError:
            pass
        lat = [(t - start) * 1000 for t in got.values()]
        print(f"move of {len(pids)} into {rooms} rooms: reply after {replied * 1000:.0f} ms; "
              f"{len(got)}/{len(clients)} clients got their assignment")
        print(f"  latency to every client: p50 {setup.percentile(lat, 50):.0f} ms, "
              f"p99 {setup.percentile(lat, 99):.0f} ms, max {max(lat):.0f} ms")
        for c in clients + [mod]:
            await c.ws.close()
    finally:
        daphne.terminate()
        daphne.wait(timeout=10)
    counts = await database_sync_to_async(query_counts)(event.pk, pids)
    print("database queries of one automatic assignment (people → queries): "
          + ", ".join(f"{n} → {q}" for n, q in counts))
    await database_sync_to_async(lambda: services.close_round(services.current_round(event.pk).pk))()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    r = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    asyncio.run(asyncio.wait_for(main(n, r), 115))
