"""Join storm: everyone arrives at 10:00.

N attendees open the event socket with their ticket at a target arrival rate, send `hello` and
wait for the snapshot. Target (the issue): 1,000 joins at >= 200 joins/s with snapshot
p99 < 1 s on the 2-core machine, a constant number of database queries per join, database
connections kept open, no query per recipient.

What it does, all against 127.0.0.1 and bounded in count and time:

1. A database of its own (a fresh SQLite file under state/bench/, or --database-url for
   PostgreSQL), migrated; a storm event with an agenda (--sessions) and --clients participants
   with tickets, created in bulk; a Redis key prefix of its own.
2. Queries per join, in this process: joins through Channels' WebsocketCommunicator against
   eventplatform.asgi.application with CaptureQueriesContext around each, for two event sizes
   (--query-sizes), cold (first join in the process builds the agenda cache) and warm.
3. A real daphne subprocess on a free port with the same environment.
4. The storm: --clients sockets (the `websockets` library) opened at --rate per second (0: as
   fast as --concurrency allows); each sends hello and records connect-start → snapshot. All
   sockets stay open (draining pushes) until everyone has joined, then close.
5. A table: joins/s, latency percentiles, failures, queries per join, server CPU per join,
   database connections the server held, the machine and the date. Exits 1 if a join failed
   or a target was missed (--no-targets: report only).

Run from the repository root:  bin/with-redis uv run python bench/join_storm.py --clients 1000
(REDIS_URL unset: the script re-runs itself under bin/with-redis, a private redis-server.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_STATE = ROOT / "state" / "bench"

TARGET_JOINS_PER_S = 200.0
TARGET_P99_S = 1.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    add = p.add_argument
    add("--clients", type=int, default=1000, help="sockets that join (default 1000)")
    add("--rate", type=float, default=250.0, help="offered arrivals per second; 0 = as fast as possible (default 250)")
    add("--concurrency", type=int, default=0,
        help="at most this many joins in flight; 0 = no cap (default; with --rate 0: 200)")
    add("--sessions", type=int, default=20, help="agenda sessions per event (default 20)")
    add("--timeout", type=float, default=120.0, help="the whole storm stops after this many seconds (default 120)")
    add("--join-timeout", type=float, default=30.0, help="one join fails after this many seconds (default 30)")
    add("--query-sizes", default="100,2000",
        help="participants of the two events whose queries per join are compared (default 100,2000)")
    add("--query-joins", type=int, default=20, help="warm joins measured per query-count event (default 20)")
    add("--database-url", default=None,
        help="a PostgreSQL database for the bench only, e.g. postgres://postgres@127.0.0.1:5432/bench_joinstorm;\n"
        "default: a fresh SQLite file in state/bench/")
    add("--servers", type=int, default=1,
        help="daphne processes; clients are spread over them in turn, as a load balancer would (default 1)")
    add("--server-env", action="append", default=[], metavar="NAME=VALUE",
        help="extra environment for daphne only, e.g. WS_PRESENCE_LIST_LIMIT=20 (repeatable)")
    add("--quiet-wait", type=float, default=60.0,
        help="wait up to this many seconds for other processes to leave the machine\n"
        "(under 15 %% of it busy) before the storm (default 60)")
    add("--keep", action="store_true", help="keep the SQLite file, the daphne log and the rows")
    add("--no-targets", action="store_true", help="exit 0 when every join succeeded even if a target was missed")
    add("--json", metavar="PATH", help="also write the results as JSON")
    add("--profile", metavar="PATH", help="run daphne under cProfile (its main thread) and write the stats here")
    return p.parse_args(argv)


# --- environment -----------------------------------------------------------------------------

def ensure_redis(argv: list[str]) -> None:
    """`make bench` passes REDIS_URL via bin/with-redis; run directly, we go through it too."""
    if os.environ.get("REDIS_URL"):
        return
    wrapper = ROOT / "bin" / "with-redis"
    os.execv(str(wrapper), [str(wrapper), sys.executable, str(Path(__file__).resolve()), *argv])


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # daphne inherits it
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < needed:
        sys.exit(f"the bench needs {needed} open files, the limit is {soft}: raise it (ulimit -n {needed})")
    return soft


def configure_env(args: argparse.Namespace, run_id: str) -> dict:
    BENCH_STATE.mkdir(parents=True, exist_ok=True)
    sqlite_file = None
    if args.database_url:
        database_url = args.database_url
    else:
        sqlite_file = BENCH_STATE / f"join_storm-{run_id}.sqlite3"
        database_url = f"sqlite:///{sqlite_file}"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="eventplatform.settings",
        # As in production: DEBUG off (no per-query SQL recording), a key and hosts given.
        DEBUG="0",
        SECRET_KEY="bench-only-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        DATABASE_URL=database_url,
        REDIS_PREFIX=f"bench-joinstorm-{run_id}",
        PYTHONUNBUFFERED="1",
    )
    return {"database_url": database_url, "sqlite_file": sqlite_file}


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": model,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def machine_cpu() -> tuple[float, float, float]:
    """Busy, steal and total CPU seconds of the whole machine so far (all cores, /proc/stat)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (ticks + [0] * 8)[:8]
    hz = os.sysconf("SC_CLK_TCK")
    busy = user + nice + system + irq + softirq
    return busy / hz, steal / hz, (busy + idle + iowait + steal) / hz


def wait_for_quiet_machine(limit_s: float, threshold: float = 0.15) -> float:
    """Wait (up to limit_s) until other processes use under `threshold` of the machine for a
    second; returns what they used in the last second sampled. Benchmarks on a shared machine
    measure the neighbours too."""
    deadline = time.monotonic() + limit_s
    while True:
        b0, _, t0 = machine_cpu()
        time.sleep(1.0)
        b1, _, t1 = machine_cpu()
        share = (b1 - b0) / max(t1 - t0, 1e-9)
        if share < threshold or time.monotonic() >= deadline:
            return share


def revision() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_files_to(pid: int, path: Path) -> int:
    """How many of a process's file descriptors point at `path` (SQLite connections)."""
    target = str(path)
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == target:
                count += 1
        except OSError:
            pass
    return count


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# --- data --------------------------------------------------------------------------------------

ABSTRACT = (
    "Wie bringen wir digitale Teilhabe in die Region? Ein Erfahrungsbericht aus drei Jahren "
    "Barcamps, Meetups und Runden Tischen, mit Zeit für Fragen und Diskussion im Anschluss. "
) * 2


def create_event(slug: str, participants: int, sessions: int) -> tuple[int, list[str]]:
    """An event with rooms, an agenda with speakers, and `participants` people with tickets,
    written in bulk. Returns the event id and the ticket secrets."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from eventplatform.models import Event, Participant, Room, Session, Ticket

    User = get_user_model()
    now = timezone.now().replace(second=0, microsecond=0)
    with transaction.atomic():
        event = Event.objects.create(
            slug=slug,
            title=f"Join storm {slug}",
            timezone="Europe/Berlin",
            start=now - timedelta(hours=1),
            end=now + timedelta(hours=9),
            venue_address="Rathausplatz 1, 50667 Köln",
            is_online=True,
        )
        rooms = Room.objects.bulk_create(
            [Room(event=event, name="Main stage", kind=Room.Kind.STAGE, capacity=5000, position=0)]
            + [Room(event=event, name=f"Breakout {c}", kind=Room.Kind.BREAKOUT, capacity=8, position=i + 1)
               for i, c in enumerate("ABC")]
        )
        users = User.objects.bulk_create(
            [User(username=f"{slug}-{i:06d}", password="!", first_name=f"Person {i}") for i in range(participants)],
            batch_size=500,
        )
        if any(u.pk is None for u in users):  # a backend that cannot return ids from bulk inserts
            ids = dict(User.objects.filter(username__startswith=f"{slug}-").values_list("username", "id"))
            for u in users:
                u.pk = ids[u.username]
        speakers_wanted = min(participants, max(1, sessions))
        people = Participant.objects.bulk_create(
            [
                Participant(
                    event=event,
                    user_id=u.pk,
                    name=f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]} {i}",
                    email=f"person{i}@example.org",
                    attendance=Participant.Attendance.ONSITE if i % 3 == 0 else Participant.Attendance.ONLINE,
                    is_speaker=i < speakers_wanted,
                )
                for i, u in enumerate(users)
            ],
            batch_size=500,
        )
        if any(p.pk is None for p in people):
            ids = dict(Participant.objects.filter(event=event).values_list("user_id", "id"))
            for p in people:
                p.pk = ids[p.user_id]
        tickets = Ticket.objects.bulk_create([Ticket(participant_id=p.pk) for p in people], batch_size=500)
        agenda = Session.objects.bulk_create(
            [
                Session(
                    event=event,
                    title=f"Session {k + 1}: Offene Daten in der Region",
                    abstract=ABSTRACT,
                    kind=Session.Kind.TALK if k % 4 else Session.Kind.WORKSHOP,
                    # Four rooms, five slots of 45 minutes: no two sessions share a room and time.
                    start=now + timedelta(minutes=60 * (k // len(rooms))),
                    end=now + timedelta(minutes=60 * (k // len(rooms)) + 45),
                    room=rooms[k % len(rooms)],
                )
                for k in range(sessions)
            ]
        )
        if any(s.pk is None for s in agenda):
            agenda = list(Session.objects.filter(event=event).order_by("id"))
        Through = Session.speakers.through
        Through.objects.bulk_create(
            [Through(session_id=s.pk, participant_id=people[k % speakers_wanted].pk) for k, s in enumerate(agenda)]
            + [Through(session_id=s.pk, participant_id=people[(k + 1) % speakers_wanted].pk)
               for k, s in enumerate(agenda) if k % 2 and speakers_wanted > 1]
        )
    return event.pk, [t.secret for t in tickets]


FIRST = ["Anna", "Ben", "Clara", "Deniz", "Emil", "Fatma", "Gero", "Hanna", "Ilja", "Jule", "Kemal", "Lea"]
LAST = ["Schmidt", "Yilmaz", "Nowak", "Becker", "Hoffmann", "Kowalski", "Richter", "Wagner", "Öztürk", "Klein"]


def delete_events(slugs: list[str]) -> None:
    from django.contrib.auth import get_user_model

    from eventplatform.models import Event

    for slug in slugs:
        Event.objects.filter(slug=slug).delete()
        get_user_model().objects.filter(username__startswith=f"{slug}-").delete()


# --- queries per join (in this process) -------------------------------------------------------

HELLO = json.dumps({"id": 1, "type": "hello", "data": {}})


async def count_join_queries(slug: str, secrets: list[str], warm_joins: int, *, cold: bool) -> dict:
    """Join through the real ASGI application in-process and count each join's SQL queries.

    Channels runs database work in asgiref's single shared thread (thread_sensitive), so the
    capture is entered and left in that thread: it sees that thread's connection.
    """
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from eventplatform import handlers
    from eventplatform.asgi import application

    if cold:  # the per-process caches of the core's handlers (keyed by event, so fresh anyway)
        for name, value in vars(handlers).items():
            if name.endswith("_cache") and isinstance(value, dict):
                value.clear()
    open_ones = []
    per_join = []
    sample_sql: list[str] = []
    try:
        for i, secret in enumerate(secrets[: warm_joins + 1]):
            capture = CaptureQueriesContext(connection)
            await sync_to_async(capture.__enter__)()
            communicator = WebsocketCommunicator(
                application, f"/ws/events/{slug}/?ticket={secret}", headers=[(b"origin", b"http://127.0.0.1:8000")]
            )
            connected, _ = await communicator.connect(timeout=10)
            if not connected:
                raise RuntimeError("the in-process join was refused")
            open_ones.append(communicator)
            await communicator.send_to(text_data=HELLO)
            while True:
                text = await communicator.receive_from(timeout=10)
                if text.startswith('{"id":'):
                    reply = json.loads(text)
                    break
            # Left, and read, in the database thread: `connection` is per thread.
            await sync_to_async(capture.__exit__)(None, None, None)
            queries = await sync_to_async(lambda: capture.captured_queries)()
            if not reply.get("ok"):
                raise RuntimeError(f"hello failed in-process: {reply}")
            per_join.append(len(queries))
            if i == 1:
                sample_sql = [q["sql"] for q in queries]
    finally:
        for communicator in open_ones:
            await communicator.disconnect()
    warm = per_join[1:]
    if not warm or min(per_join) == 0:
        raise RuntimeError(f"query capture saw no queries ({per_join}): the measurement is broken")
    return {"first": per_join[0], "first_is_cold": cold, "warm_min": min(warm), "warm_max": max(warm),
            "warm_mean": sum(warm) / len(warm), "warm_joins": len(warm), "warm_sql": sample_sql}


async def measure_queries(events: list[tuple[str, int, list[str]]], warm_joins: int) -> dict:
    from asgiref.sync import sync_to_async
    from django.db import connections

    from eventplatform.realtime.registry import STREAMS
    from eventplatform.realtime.runtime import close_runtime

    results = {}
    try:
        for k, (slug, size, secrets) in enumerate(events):
            # Each event's first join builds its agenda (a per-process cache keyed by event).
            results[size] = await count_join_queries(slug, secrets, warm_joins, cold=True)
    finally:
        await close_runtime()
        # The joins ran in asgiref's database thread: close its connection there, so the
        # storm's connection count shows only the server's.
        await sync_to_async(connections.close_all)()
    return {"by_size": results, "streams": sorted(STREAMS)}


# --- the server ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# daphne's own entry point under cProfile; the stats are written when SIGTERM stops the reactor.
# With BENCH_PROFILE_PHASE=1 it profiles only between SIGUSR1 and SIGUSR2 (a bench's measured
# phase, without the start and the joins).
PROFILED_DAPHNE = """
import cProfile, os, signal, sys
from daphne.cli import CommandLineInterface
profile = cProfile.Profile()
if os.environ.get("BENCH_PROFILE_PHASE") == "1":
    signal.signal(signal.SIGUSR1, lambda *_: profile.enable())
    signal.signal(signal.SIGUSR2, lambda *_: profile.disable())
else:
    profile.enable()
try:
    CommandLineInterface().run(sys.argv[2:])
finally:
    profile.disable()
    profile.dump_stats(sys.argv[1])
"""


def start_daphne(
    log_path: Path, profile: str | None = None, extra_env: dict | None = None, launcher: list[str] | None = None
) -> tuple[int, subprocess.Popen]:
    """`launcher` replaces `-m daphne` (e.g. a script that wraps daphne's entry point)."""
    port = free_port()
    log = open(log_path, "w")
    daphne_args = ["-b", "127.0.0.1", "-p", str(port), "eventplatform.asgi:application"]
    if launcher is None:
        launcher = ["-c", PROFILED_DAPHNE, str(Path(profile).resolve())] if profile else ["-m", "daphne"]
    process = subprocess.Popen(
        [sys.executable, *launcher, *daphne_args],
        cwd=ROOT,
        env={**os.environ, **(extra_env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited:\n{log_path.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/", timeout=1).read()
            return port, process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("daphne did not answer /api/health/ within 30 s")


def stop_daphne(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the storm ------------------------------------------------------------------------------------

class Join:
    __slots__ = ("ok", "error", "connect_s", "snapshot_s", "started", "done", "start_lag_s", "pushes",
                 "dropped", "presence_count", "snapshot_bytes")

    def __init__(self) -> None:
        self.ok = False
        self.error = ""
        self.connect_s = self.snapshot_s = self.started = self.done = self.start_lag_s = 0.0
        self.pushes = 0
        self.dropped = False
        self.presence_count = 0
        self.snapshot_bytes = 0


async def storm(ports: list[int], slug: str, secrets: list[str], args: argparse.Namespace, probe) -> dict:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    n = len(secrets)
    joins = [Join() for _ in range(n)]
    loop = asyncio.get_running_loop()
    concurrency = args.concurrency or (200 if args.rate <= 0 else 0)
    gate = asyncio.Semaphore(concurrency) if concurrency else None
    finished = 0
    all_finished = asyncio.Event()
    release = asyncio.Event()
    t0 = 0.0  # set just before the clients start

    async def drain(ws, join: Join) -> None:
        try:
            async for _ in ws:  # presence pushes: read (as a browser would) and drop
                join.pushes += 1
        except ConnectionClosed:
            pass
        if not release.is_set():
            join.dropped = True  # the server closed it before everyone had joined

    async def one(i: int) -> None:
        nonlocal finished
        join = joins[i]
        port = ports[i % len(ports)]
        scheduled = t0 + (i / args.rate if args.rate > 0 else 0)
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        ws = None
        try:
            if gate is not None:
                await gate.acquire()
            join.started = loop.time()
            join.start_lag_s = join.started - scheduled
            try:
                async with asyncio.timeout(args.join_timeout):
                    ws = await connect(
                        f"ws://127.0.0.1:{port}/ws/events/{slug}/?ticket={secrets[i]}",
                        origin=f"http://127.0.0.1:{port}",
                        open_timeout=None,
                        ping_interval=None,  # the bench's own keep-alives would only add noise
                        max_size=None,
                    )
                    join.connect_s = loop.time() - join.started
                    await ws.send(HELLO)
                    while True:
                        text = await ws.recv()
                        if text.startswith('{"id":'):
                            break
                        join.pushes += 1
                join.done = loop.time()
                join.snapshot_s = join.done - join.started
                reply = json.loads(text)
                if reply.get("id") != 1 or not reply.get("ok"):
                    join.error = f"hello refused: {reply.get('error')}"
                elif "agenda" not in reply["data"]["streams"]:
                    join.error = "snapshot without the agenda"
                else:
                    join.ok = True
                    join.presence_count = reply["data"]["presence"]["count"]
                    join.snapshot_bytes = len(text.encode())
            finally:
                if gate is not None:
                    gate.release()
        except TimeoutError:
            join.error = "timeout"
        except Exception as exc:  # refused handshake, reset, closed before the snapshot…
            join.error = f"{type(exc).__name__}: {exc}"[:200]
        finished += 1
        if finished == n:
            all_finished.set()
        if ws is None:
            return
        reader = asyncio.create_task(drain(ws, join))
        await release.wait()
        try:
            await asyncio.wait_for(ws.close(), timeout=10)
        except Exception:
            pass
        reader.cancel()
        try:
            await reader
        except (asyncio.CancelledError, Exception):
            pass

    before = await asyncio.to_thread(probe.sample, True)
    t0 = loop.time() + 0.3
    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    timed_out = False
    try:
        async with asyncio.timeout(args.timeout):
            await all_finished.wait()
            after = await asyncio.to_thread(probe.sample, False)  # while every socket is still open
            # A moment for the coalesced presence pushes to catch up, then everybody leaves.
            await asyncio.sleep(1.0)
            held = probe.connections()
            release.set()
            await asyncio.gather(*tasks, return_exceptions=True)
    except TimeoutError:
        timed_out = True
        after = await asyncio.to_thread(probe.sample, False)
        held = probe.connections()
        release.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for join in joins:
            if not join.ok and not join.error:
                join.error = "storm timeout"

    ok = [j for j in joins if j.ok]
    failures: dict[str, int] = {}
    for j in joins:
        if not j.ok:
            failures[j.error] = failures.get(j.error, 0) + 1
        elif j.dropped:
            failures["dropped before everyone joined"] = failures.get("dropped before everyone joined", 0) + 1
    snap = sorted(j.snapshot_s for j in ok)
    conn = sorted(j.connect_s for j in ok)
    first_start = min((j.started for j in joins if j.started), default=t0)
    last_done = max((j.done for j in ok), default=first_start)
    span = max(last_done - first_start, 1e-9)
    return {
        "clients": n,
        "offered_rate": args.rate,
        "concurrency_cap": concurrency,
        "joined": len(ok),
        "failed": n - len(ok) + sum(1 for j in ok if j.dropped),
        "failures": failures,
        "timed_out": timed_out,
        "span_s": span,
        "joins_per_s": len(ok) / span if ok else 0.0,
        "snapshot_s": {p: percentile(snap, p) for p in (50, 95, 99, 100)},
        "connect_s": {p: percentile(conn, p) for p in (50, 95, 99, 100)},
        "max_start_lag_s": max((j.start_lag_s for j in joins), default=0.0),
        "snapshot_bytes": max((j.snapshot_bytes for j in ok), default=0),
        "presence_seen_max": max((j.presence_count for j in ok), default=0),
        "pushes_received": sum(j.pushes for j in joins),
        "probe_before": before,
        "probe_after": after,
        "held": held,
    }


class Probe:
    """CPU of daphne, this process, Redis and the machine; the database connections daphne holds."""

    def __init__(self, daphne_pids: list[int], redis_url: str, database_url: str, sqlite_file: Path | None) -> None:
        import redis

        self.pids = daphne_pids
        self.redis = redis.Redis.from_url(redis_url)
        self.sqlite_file = sqlite_file
        self.pg = None
        if database_url.startswith(("postgres://", "postgresql://")):
            import psycopg

            self.pg = psycopg.connect(database_url, autocommit=True)

    def sample(self, before: bool) -> dict:
        cpu = self.redis.info("cpu")
        own = resource.getrusage(resource.RUSAGE_SELF)
        sample = {
            "t": time.monotonic(),
            "daphne_cpu_s": sum(process_cpu_seconds(pid) for pid in self.pids),
            "client_cpu_s": own.ru_utime + own.ru_stime,
            "redis_cpu_s": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        }
        sample["machine_busy_s"], sample["machine_steal_s"], sample["machine_total_s"] = machine_cpu()
        if before and self.pg is not None:
            with self.pg.cursor() as cur:
                cur.execute("select now()")
                self.pg_storm_start = cur.fetchone()[0]
        return sample

    def connections(self) -> dict:
        """Database connections the server holds now (SQLite: open handles on the file;
        PostgreSQL: its client backends, and how many of them were opened during the storm)."""
        if self.pg is not None:
            with self.pg.cursor() as cur:
                cur.execute(
                    "select count(*), count(*) filter (where backend_start >= %s) from pg_stat_activity "
                    "where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'",
                    [self.pg_storm_start],
                )
                held, opened = cur.fetchone()
                return {"db_connections": held, "db_connections_opened_in_storm": opened}
        return {"db_connections": sum(open_files_to(pid, self.sqlite_file) for pid in self.pids)}

    def close(self) -> None:
        self.redis.close()
        if self.pg is not None:
            self.pg.close()


# --- report -----------------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:.0f} ms"


def report(info: dict) -> str:
    m, s, q = info["machine"], info["storm"], info["queries"]
    b, a = s["probe_before"], s["probe_after"]
    joined = max(s["joined"], 1)
    elapsed = a["t"] - b["t"]
    ours = sum(a[k] - b[k] for k in ("daphne_cpu_s", "client_cpu_s", "redis_cpu_s"))
    others = max(0.0, (a["machine_busy_s"] - b["machine_busy_s"] - ours) / elapsed)
    info["other_processes_cores"] = others
    lines = [
        "",
        "Join storm",
        f"  machine   {m['nproc']} CPUs ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, "
        f"load at start {m['load_at_start']}",
        f"  date      {m['date']}",
        f"  database  {info['database']}   redis {info['redis_version']}",
        f"  command   {info['command']}   (revision {info['revision']})",
        "",
        f"  servers                    {info['servers']} daphne process{'es' if info['servers'] > 1 else ''}"
        + (f", env {info['server_env']}" if info["server_env"] else ""),
        f"  clients                    {s['clients']}  (offered {s['offered_rate']:g}/s"
        + (f", at most {s['concurrency_cap']} in flight" if s["concurrency_cap"] else "") + ")",
        f"  joined / failed            {s['joined']} / {s['failed']}"
        + (f"   {s['failures']}" if s["failures"] else ""),
        f"  joins/s                    {s['joins_per_s']:.0f}   (first connect to last snapshot: {s['span_s']:.2f} s)",
        f"  snapshot p50 / p95 / p99   {ms(s['snapshot_s'][50])} / {ms(s['snapshot_s'][95])} / {ms(s['snapshot_s'][99])}"
        f"   max {ms(s['snapshot_s'][100])}",
        f"  handshake p50 / p99        {ms(s['connect_s'][50])} / {ms(s['connect_s'][99])}",
        f"  client start lag (max)     {ms(s['max_start_lag_s'])}",
        f"  snapshot size              {s['snapshot_bytes'] / 1024:.1f} KiB; presence count seen up to {s['presence_seen_max']}",
        f"  pushes drained             {s['pushes_received']}",
        f"  CPU per join               daphne {(a['daphne_cpu_s'] - b['daphne_cpu_s']) / joined * 1000:.2f} ms, "
        f"redis {(a['redis_cpu_s'] - b['redis_cpu_s']) / joined * 1000:.2f} ms, "
        f"bench client {(a['client_cpu_s'] - b['client_cpu_s']) / joined * 1000:.2f} ms",
        f"  CPU busy during the storm  daphne {(a['daphne_cpu_s'] - b['daphne_cpu_s']) / elapsed * 100:.0f} %"
        + (" (all processes)" if info["servers"] > 1 else "") + ", "
        f"redis {(a['redis_cpu_s'] - b['redis_cpu_s']) / elapsed * 100:.0f} %, "
        f"client {(a['client_cpu_s'] - b['client_cpu_s']) / elapsed * 100:.0f} % of one core",
        f"  machine during the storm   {(a['machine_busy_s'] - b['machine_busy_s']) / elapsed * 100:.0f} % of one core busy "
        f"(of {m['nproc'] * 100} %), other processes {others * 100:.0f} %, steal "
        f"{(a['machine_steal_s'] - b['machine_steal_s']) / elapsed * 100:.0f} %; "
        f"load just before the storm {info['quiet_share'] * 100:.0f} % of the machine",
        f"  DB connections of daphne   {s['held']['db_connections']} while {s['joined']} sockets were open"
        + (f" ({s['held']['db_connections_opened_in_storm']} opened during the storm)"
           if "db_connections_opened_in_storm" in s["held"] else ""),
    ]
    if others > 0.15:
        lines.append(f"  WARNING   other processes used {others * 100:.0f} % of one core during the storm: "
                     "these figures measure a shared machine and are pessimistic")
    lines.append("")
    lines.append(f"  queries per join (in-process, streams: {', '.join(q['streams'])})")
    for size, r in q["by_size"].items():
        first = f"cold {r['first']}"
        lines.append(
            f"    {size:>6} participants   {first}, warm {r['warm_min']}"
            + (f"–{r['warm_max']}" if r["warm_max"] != r["warm_min"] else "")
            + f" over {r['warm_joins']} joins"
        )
    sizes = list(q["by_size"].values())
    constant = len({(r["warm_min"], r["warm_max"]) for r in sizes}) == 1 and sizes[0]["warm_min"] == sizes[0]["warm_max"]
    lines.append(f"    constant: {'yes' if constant else 'NO'}   warm join SQL:")
    for sql in sizes[0]["warm_sql"]:
        lines.append(f"      {sql[:160]}")
    lines.append("")
    verdict = []
    verdict.append(("joins/s >= 200", s["joins_per_s"] >= TARGET_JOINS_PER_S))
    verdict.append(("snapshot p99 < 1 s", s["snapshot_s"][99] < TARGET_P99_S))
    verdict.append(("no failed join", s["failed"] == 0))
    verdict.append(("queries per join constant", constant))
    lines.append("  targets   " + "   ".join(f"{name}: {'ok' if good else 'MISSED'}" for name, good in verdict))
    info["targets_met"] = all(good for _, good in verdict)
    info["queries_constant"] = constant
    lines.append("")
    lines.append("  markdown row: | clients | offered/s | joins/s | p50 | p95 | p99 | max | failed | queries/join warm (cold) |")
    lines.append(
        f"  | {s['clients']} | {s['offered_rate']:g} | {s['joins_per_s']:.0f} | {ms(s['snapshot_s'][50])} | "
        f"{ms(s['snapshot_s'][95])} | {ms(s['snapshot_s'][99])} | {ms(s['snapshot_s'][100])} | {s['failed']} | "
        + " / ".join(f"{r['warm_min']} ({r['first']})" for r in sizes) + " |"
    )
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    args = parse_args(argv)
    ensure_redis(argv)
    raise_fd_limit(2 * args.clients + 300)
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    run_id = f"{os.getpid()}"
    paths = configure_env(args, run_id)
    info = {"machine": machine(), "command": "python bench/join_storm.py " + " ".join(argv), "revision": revision()}

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    import redis

    redis_client = redis.Redis.from_url(os.environ["REDIS_URL"])
    info["redis_version"] = redis_client.info("server")["redis_version"]
    info["database"] = (
        f"SQLite {connection.Database.sqlite_version} ({paths['sqlite_file'].relative_to(ROOT)})"
        if connection.vendor == "sqlite"
        else f"PostgreSQL {connection.pg_version // 10000}.{connection.pg_version % 10000} ({connection.settings_dict['NAME']})"
    )
    print(f"[join storm] {info['database']}, Redis prefix {os.environ['REDIS_PREFIX']}", flush=True)

    call_command("migrate", verbosity=0, interactive=False)
    sizes = [int(x) for x in args.query_sizes.split(",") if x.strip()]
    slug = f"storm{run_id}"
    slugs = [slug] + [f"q{size}x{run_id}" for size in sizes]
    servers: list[subprocess.Popen] = []
    log_paths = [BENCH_STATE / f"daphne-{run_id}-{k}.log" for k in range(args.servers)]
    server_env = dict(item.split("=", 1) for item in args.server_env)
    info["servers"], info["server_env"] = args.servers, server_env
    exit_code = 1
    try:
        t = time.monotonic()
        _event_id, secrets = create_event(slug, args.clients, args.sessions)
        query_events = [(f"q{size}x{run_id}", size, create_event(f"q{size}x{run_id}", size, args.sessions)[1])
                        for size in sizes]
        print(f"[join storm] created {args.clients + sum(sizes)} participants with tickets in "
              f"{time.monotonic() - t:.1f} s", flush=True)

        info["queries"] = asyncio.run(measure_queries(query_events, args.query_joins))
        connections.close_all()
        print("[join storm] queries per join measured; starting daphne", flush=True)

        ports = []
        for k, log_path in enumerate(log_paths):
            profile = f"{args.profile}.{k}" if args.profile and args.servers > 1 else args.profile
            port, process = start_daphne(log_path, profile, server_env)
            ports.append(port)
            servers.append(process)
        probe = Probe([p.pid for p in servers], os.environ["REDIS_URL"], paths["database_url"], paths["sqlite_file"])
        print(f"[join storm] daphne on 127.0.0.1:{', '.join(map(str, ports))}; waiting for a quiet machine", flush=True)
        info["quiet_share"] = wait_for_quiet_machine(args.quiet_wait)
        print(f"[join storm] {args.clients} clients at {args.rate:g}/s", flush=True)
        try:
            info["storm"] = asyncio.run(storm(ports, slug, secrets, args, probe))
        finally:
            probe.close()
        print(report(info), flush=True)
        if info["storm"]["failed"]:
            print(f"\n  daphne log: {', '.join(map(str, log_paths))}")
        exit_code = 0 if info["storm"]["failed"] == 0 and (info["targets_met"] or args.no_targets) else 1
        if args.json:
            Path(args.json).write_text(json.dumps(info, indent=2, default=str))
    finally:
        for process in servers:
            stop_daphne(process)
        keys = list(redis_client.scan_iter(f"{os.environ['REDIS_PREFIX']}:*", count=1000))
        if keys:
            redis_client.delete(*keys)
        redis_client.close()
        if not args.keep:
            if paths["sqlite_file"] is not None:
                connections.close_all()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{paths['sqlite_file']}{suffix}").unlink(missing_ok=True)
            else:
                delete_events(slugs)
                connections.close_all()
            if info.get("storm", {}).get("failed", 1) == 0:  # kept when a join failed: the reason is there
                for log_path in log_paths:
                    log_path.unlink(missing_ok=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
