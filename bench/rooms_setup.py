"""Shared by the rooms benchmarks: a throwaway database, an event with N attendees, real daphne
processes run as in production (DEBUG off), many real websocket clients spread over them as a
load balancer would, and the CPU and load figures of a run (traffic to 127.0.0.1 only)."""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import checkin_common  # the garbage-collector probe
import join_storm  # the server start/stop, machine and CPU readers of the join storm bench

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(tempfile.mkdtemp(prefix="rooms-bench-"))


def arguments(doc: str, positional: list[tuple[str, int, str]], options=()) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default, text in positional:
        parser.add_argument(name, nargs="?", type=int, default=default, help=f"{text} (default {default})")
    for name, type_, default, text in options:
        parser.add_argument(name, type=type_, default=default, help=f"{text} (default {default})")
    parser.add_argument("--servers", type=int, default=1,
                        help="daphne processes; clients are spread over them round-robin (default 1)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="a database that exists only for the bench (default: a fresh SQLite file)")
    parser.add_argument("--profile", metavar="PATH",
                        help="profile daphne (cProfile) during the measured phase; stats to PATH (PATH.N for server N > 0)")
    parser.add_argument("--gc-log", action="store_true",
                        help="daphne reports garbage-collector pauses over 5 ms (printed at the end)")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for daphne only, e.g. WS_RATE_LIMIT=1000")
    return parser.parse_args()


def configure(args: argparse.Namespace) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE="eventplatform.settings",
        # As in production: DEBUG off (no per-query SQL recording), a key and hosts given.
        DEBUG="0",
        SECRET_KEY="bench-only-" + "x" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=args.database_url or f"sqlite:///{STATE / 'bench.sqlite3'}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        REDIS_PREFIX=f"roomsbench{os.getpid()}",
        EP_STATE_DIR=str(STATE),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    sys.path.insert(0, str(ROOT))


def django_setup() -> None:
    import django

    django.setup()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, check=True)


def make_event(attendees: int, rooms: int):
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from eventplatform import services as core
    from eventplatform.models import Event, Participant, Room, Ticket

    now = timezone.now()
    event = Event.objects.create(slug="bench", title="Bench", timezone="Europe/Berlin",
                                 start=now - timedelta(hours=1), end=now + timedelta(hours=5), is_online=True)
    Room.objects.create(event=event, name="Stage", kind="stage")
    Room.objects.bulk_create([Room(event=event, name=f"Room {i:03d}", kind="breakout", position=i + 1)
                              for i in range(rooms)])
    moderator = core.register_participant(event, name="Moderator", username="bench-mod", roles={"moderator"})
    User = get_user_model()
    with transaction.atomic():
        users = User.objects.bulk_create([User(username=f"bench-{i}") for i in range(attendees)])
        people = Participant.objects.bulk_create(
            [Participant(event=event, user=u, name=f"Attendee {i:04d}") for i, u in enumerate(users)]
        )
        Ticket.objects.bulk_create([Ticket(participant=p) for p in people])
    tickets = dict(Ticket.objects.filter(participant__in=people).values_list("participant_id", "secret"))
    return event, moderator, people, tickets


class Servers:
    """N real daphne processes with the bench's environment; their CPU time is measured."""

    def __init__(self, args: argparse.Namespace) -> None:
        extra = dict(item.split("=", 1) for item in args.server_env)
        if args.gc_log and args.profile:
            raise SystemExit("--gc-log and --profile each need their own daphne launcher: use one at a time")
        self.profiled = bool(args.profile)
        self.phase: tuple[float, float] | None = None  # wall-clock start and end of the measured phase
        if self.profiled:
            extra["BENCH_PROFILE_PHASE"] = "1"  # only the measured phase (Meter)
        self.processes: list[subprocess.Popen] = []
        self.ports: list[int] = []
        for i in range(args.servers):
            profile = None
            if args.profile:
                profile = args.profile if i == 0 else f"{args.profile}.{i}"
            launcher = ["-c", checkin_common.GC_PROBE] if args.gc_log else None
            port, process = join_storm.start_daphne(STATE / f"daphne{i}.log", profile, extra, launcher)
            self.ports.append(port)
            self.processes.append(process)
        self._cpu0 = self.cpu()

    def cpu(self) -> float:
        return sum(join_storm.process_cpu_seconds(p.pid) for p in self.processes)

    def mark(self) -> None:
        self._cpu0 = self.cpu()

    def cpu_since_mark(self) -> float:
        return self.cpu() - self._cpu0

    def profile(self, on: bool) -> None:
        if self.profiled:
            for process in self.processes:
                process.send_signal(signal.SIGUSR1 if on else signal.SIGUSR2)

    def stop(self) -> None:
        for process in self.processes:
            join_storm.stop_daphne(process)
        for i in range(len(self.processes)):
            for line in (STATE / f"daphne{i}.log").read_text().splitlines():
                if line.startswith("gc pause"):
                    at = float(line.rsplit(" at ", 1)[1])
                    during = self.phase[0] <= at <= self.phase[1] if self.phase else False
                    print(f"  daphne {i}: {line}{'  ← during the measured phase' if during else ''}")


class Meter:
    """The machine during a measured phase: CPU of the servers, of everything, load average."""

    def __init__(self, servers: Servers) -> None:
        self.servers = servers

    def __enter__(self):
        self.servers.profile(True)
        self.servers.mark()
        self.started_at = time.time()
        self.machine0 = join_storm.machine_cpu()
        self.own0 = join_storm.process_cpu_seconds(os.getpid())
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.servers.profile(False)
        self.servers.phase = (self.started_at, time.time())
        self.server_cpu = self.servers.cpu_since_mark()
        self.client_cpu = join_storm.process_cpu_seconds(os.getpid()) - self.own0
        busy0, steal0, total0 = self.machine0
        busy1, steal1, total1 = join_storm.machine_cpu()
        self.steal = (steal1 - steal0) / max(total1 - total0, 1e-9)  # taken by the hypervisor
        self.machine_busy = (busy1 - busy0) / max(total1 - total0, 1e-9)
        # What neither daphne nor this process used: Redis, the database, and neighbours.
        cores = os.cpu_count() or 1
        self.others = max(0.0, (busy1 - busy0) - self.server_cpu - self.client_cpu) / max(self.wall * cores, 1e-9)
        return False

    def line(self) -> str:
        return (f"  CPU during it: daphne {self.server_cpu:.2f} s, this client {self.client_cpu:.2f} s, "
                f"machine {self.machine_busy * 100:.0f} % busy over {self.wall:.2f} s "
                f"(Redis, database and any neighbours: {self.others * 100:.0f} % of the machine; "
                f"stolen by the hypervisor: {self.steal * 100:.0f} %)")


def header(args: argparse.Namespace, what: str) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{what}: {args.servers} daphne process{'es' if args.servers > 1 else ''}, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}, DEBUG off; revision {join_storm.revision()}; "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; load average {load}")


def footer() -> None:
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


PUSH = '{"type":"'  # how the server's encoder starts every push (envelope.encode_push)


class Client:
    """One attendee's socket. picows parses the frames in C: 400–1,000 clients in this one process
    share the two cores with the servers, and a client that spends 100 µs of Python per frame
    (the `websockets` library did) measures its own queue, not the relay."""

    def __init__(self, pid, on_open=None):
        self.pid = pid
        self.transport = None  # picows, once connected
        self.next_id = 0
        self.replies: dict[int, asyncio.Future] = {}
        self.handlers = {}
        if on_open is not None:
            on_open(self)

    @classmethod
    async def open(cls, port, ticket, pid, on_open=None):
        from picows import WSListener, WSMsgType, ws_connect

        client = cls(pid, on_open)

        class Reader(WSListener):
            def on_ws_frame(self, transport, frame) -> None:
                if frame.msg_type == WSMsgType.TEXT:
                    client._on_text(frame.get_payload_as_utf8_text(), time.perf_counter())

        transport, _ = await ws_connect(
            Reader, f"ws://127.0.0.1:{port}/ws/events/bench/?ticket={ticket}",
            extra_headers={"Origin": f"http://127.0.0.1:{port}"}, websocket_handshake_timeout=60,
            max_frame_size=2**22,
        )
        client.transport = transport
        return client

    async def request(self, type_, data=None, timeout=60):
        from picows import WSMsgType

        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.replies[self.next_id] = future
        self.transport.send(WSMsgType.TEXT, json.dumps({"id": self.next_id, "type": type_, "data": data or {}}).encode())
        return await asyncio.wait_for(future, timeout)

    def send_raw(self, data: bytes) -> None:
        from picows import WSMsgType

        self.transport.send(WSMsgType.TEXT, data)

    async def close(self) -> None:
        self.transport.disconnect()

    def _on_text(self, text: str, now: float) -> None:
        if text.startswith(PUSH):
            # Pushes this client does not look at are not parsed: a thousand clients in one
            # process parsing every room list would delay the reads being measured.
            handler = self.handlers.get(text[len(PUSH):text.find('"', len(PUSH))])
            if handler is not None:
                handler(json.loads(text)["data"], now)
            return
        message = json.loads(text)
        future = self.replies.pop(message.get("id"), None)
        if future is not None and not future.done():
            future.set_result(message)


async def open_many(ports: list[int], tickets: dict[int, str], batch=100, on_open=None) -> list[Client]:
    """The i-th client goes to server i mod N, as a round-robin load balancer would send it.
    `on_open(client)` runs as soon as a client exists, before any push can be missed."""
    clients = []
    items = list(tickets.items())
    for i in range(0, len(items), batch):
        clients += await asyncio.gather(
            *(Client.open(ports[(i + j) % len(ports)], t, pid, on_open) for j, (pid, t) in enumerate(items[i:i + batch]))
        )
    return clients


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
