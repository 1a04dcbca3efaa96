"""Benchmark: 500 session transitions due within one minute across 20 events.

A real Celery worker (prefork, 2 processes, as `make run` starts it) and a real beat run the
transitions from a fresh SQLite database over the Redis broker. Printed: lateness (when each
transition's effect committed, and when its `agenda.transition` push reached a subscriber,
each minus its due time) p50/p99/max, duplicates (a transition applied more than once; must
be 0) and missed (not applied by the end; must be 0).

    REDIS_URL=redis://127.0.0.1:6379/0 uv run python bench/transitions_timing.py [--transitions 500 --events 20]

Bounded: it stops by itself about 25 s after the last transition is due (≈ 1.5 minutes).
Traffic goes only to 127.0.0.1.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transitions", type=int, default=500)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--lead", type=float, default=30.0,
                        help="seconds from creating the sessions to the window's start (covers planning)")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="ep-bench-transitions-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="eventplatform.settings",
        DEBUG="1",
        EP_STATE_DIR=str(state),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        REDIS_PREFIX=f"epbench{os.getpid()}",
        LOG_LEVEL="WARNING",
    )
    os.environ.pop("DATABASE_URL", None)  # a fresh SQLite file of its own
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    import redis

    from eventplatform import services
    from eventplatform.models import Event, Room, Session
    from eventplatform.transitions.models import AuditEntry, Transition, TransitionSettings

    env = dict(os.environ)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "eventplatform", "worker", "-c", str(args.concurrency),
             "-l", "warning", "--without-gossip", "--without-mingle"],
            env=env, cwd=ROOT, stdout=open(state / "worker.log", "w"), stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "eventplatform", "beat", "-l", "warning", "-s", str(state / "beat")],
            env=env, cwd=ROOT, stdout=open(state / "beat.log", "w"), stderr=subprocess.STDOUT,
        ),
    ]
    r = redis.Redis.from_url(os.environ["REDIS_URL"])
    received: dict[int, list[float]] = {}
    stop = threading.Event()

    def listen() -> None:
        # Every agenda.transition push as a client's process would get it from the bus.
        pubsub = r.pubsub()
        pubsub.psubscribe(f"{os.environ['REDIS_PREFIX']}:g:event.*")
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message and message["type"] == "pmessage":
                at = time.time()
                push = json.loads(message["data"])
                if push["type"] == "agenda.transition" and push["data"]["state"] == "done":
                    received.setdefault(push["data"]["id"], []).append(at)
        pubsub.close()

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    try:
        # The worker and beat start while the agenda is created and planned.
        # Two or three sessions per room, warnings off (they are minutes apart): two
        # transitions per session, all due within the window.
        rng = random.Random(7)
        sessions_wanted = args.transitions // 2
        rooms_per_event = 5
        t0 = timezone.now() + timedelta(seconds=args.lead)
        events = []
        for e in range(args.events):
            event = Event.objects.create(slug=f"bench-{e}", title=f"Bench {e}", start=t0 - timedelta(hours=1),
                                         end=t0 + timedelta(hours=2))
            TransitionSettings.objects.create(event=event, warning_minutes="")
            rooms = [Room.objects.create(event=event, name=f"Room {i}", kind="breakout", position=i)
                     for i in range(rooms_per_event)]
            events.append((event, rooms))
        slots = [(event, room) for event, rooms in events for room in rooms]
        per_room = {i: 0 for i in range(len(slots))}
        for n in range(sessions_wanted):
            per_room[n % len(slots)] += 1
        for i, count in per_room.items():
            event, room = slots[i]
            at = rng.uniform(0, 5)
            for k in range(count):
                # 5–15 s long, so no start is legitimately skipped as "session already over";
                # every third one back to back with the one before in the room.
                length = rng.uniform(5, 15)
                Session.objects.create(event=event, title=f"S{i}-{k}", kind="talk", room=room,
                                       start=t0 + timedelta(seconds=at), end=t0 + timedelta(seconds=at + length))
                at += length + (0 if k % 3 == 1 else rng.uniform(0, 5))
        planning_started = time.time()
        for event, _ in events:
            services.agenda_changed(event)
        planned = Transition.objects.count()
        for p in procs:
            if p.poll() is not None:
                raise SystemExit(f"a Celery process exited: see {state}")
        first_due = Transition.objects.order_by("due_at").values_list("due_at", flat=True).first()
        last_due = Transition.objects.order_by("-due_at").values_list("due_at", flat=True).first()
        print(f"planned {planned} transitions across {len(events)} events in {time.time() - planning_started:.1f} s;"
              f" first due in {(first_due - timezone.now()).total_seconds():.1f} s,"
              f" all due within {(last_due - first_due).total_seconds():.1f} s")
        deadline = time.time() + (last_due - timezone.now()).total_seconds() + 25
        while time.time() < deadline:
            if not Transition.objects.filter(state__in=["planned", "running"]).exists():
                break
            time.sleep(0.5)
        time.sleep(1.5)  # late duplicates, if any, would show up now

        rows = list(Transition.objects.values("id", "due_at", "state", "late_ms", "attempts"))
        done = [t for t in rows if t["state"] == "done"]
        applied = {}
        for transition_id in AuditEntry.objects.filter(action="done").values_list("transition_id", flat=True):
            applied[transition_id] = applied.get(transition_id, 0) + 1
        duplicates = sum(count - 1 for count in applied.values() if count > 1)
        duplicate_pushes = sum(len(v) - 1 for v in received.values() if len(v) > 1)
        missed = [t for t in rows if t["state"] != "done"]
        commit_late = [t["late_ms"] for t in done]
        push_late = [
            (received[t["id"]][0] - t["due_at"].timestamp()) * 1000 for t in done if t["id"] in received
        ]
        print(f"machine: {os.cpu_count()} cores, shared with other developers' work; worker -c {args.concurrency}, SQLite")
        print(f"done {len(done)} / {len(rows)}; duplicates {duplicates} (pushes {duplicate_pushes}); missed {len(missed)}"
              f" {sorted({t['state'] for t in missed}) if missed else ''}; retried {sum(t['attempts'] > 1 for t in rows)}")
        for name, values in (("committed", commit_late), ("push received", push_late)):
            if values:
                print(f"lateness {name:>13}: p50 {percentile(values, 50):7.1f} ms  p99 {percentile(values, 99):7.1f} ms"
                      f"  max {max(values):7.1f} ms  mean {statistics.fmean(values):7.1f} ms  (n={len(values)})")
    finally:
        stop.set()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        keys = list(r.scan_iter(f"{os.environ['REDIS_PREFIX']}:*", count=1000))
        if keys:
            r.delete(*keys)


if __name__ == "__main__":
    main()
