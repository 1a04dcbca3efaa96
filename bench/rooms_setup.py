"""Shared by the rooms benchmarks: a throwaway database, an event with N attendees, a real
daphne, and many real websocket clients (traffic to 127.0.0.1 only)."""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(tempfile.mkdtemp(prefix="rooms-bench-"))
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "eventplatform.settings",
    "DEBUG": "1",
    "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{STATE / 'bench.sqlite3'}"),
    "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    "REDIS_PREFIX": f"roomsbench{os.getpid()}",
    "EP_STATE_DIR": str(STATE),
    "WS_RATE_LIMIT": "1000",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(ENV)
sys.path.insert(0, str(ROOT))


def django_setup():
    import django

    django.setup()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=ENV, check=True)


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


def start_daphne() -> tuple[subprocess.Popen, int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "eventplatform.asgi:application"],
        cwd=ROOT, env=ENV, stdout=open(STATE / "daphne.log", "w"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/", timeout=1).read()
            return process, port
        except OSError:
            time.sleep(0.2)
    raise RuntimeError((STATE / "daphne.log").read_text())


class Client:
    def __init__(self, ws, pid):
        self.ws = ws
        self.pid = pid
        self.next_id = 0
        self.replies: dict[int, asyncio.Future] = {}
        self.handlers = {}
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, port, ticket, pid):
        from websockets.asyncio.client import connect

        ws = await connect(f"ws://127.0.0.1:{port}/ws/events/bench/?ticket={ticket}",
                           origin=f"http://127.0.0.1:{port}", max_size=2**22, open_timeout=60)
        return cls(ws, pid)

    async def request(self, type_, data=None, timeout=60):
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.replies[self.next_id] = future
        await self.ws.send(json.dumps({"id": self.next_id, "type": type_, "data": data or {}}))
        return await asyncio.wait_for(future, timeout)

    async def _read(self):
        try:
            async for text in self.ws:
                now = time.perf_counter()
                message = json.loads(text)
                if message.get("id") in self.replies:
                    self.replies.pop(message["id"]).set_result(message)
                elif message.get("type") in self.handlers:
                    self.handlers[message["type"]](message["data"], now)
        except Exception:
            pass


async def open_many(port, tickets: dict[int, str], batch=100) -> list[Client]:
    clients = []
    items = list(tickets.items())
    for i in range(0, len(items), batch):
        clients += await asyncio.gather(*(Client.open(port, t, pid) for pid, t in items[i:i + batch]))
    return clients


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
