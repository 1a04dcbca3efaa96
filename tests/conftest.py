"""Shared fixtures: an event with people, socket clients over the real Redis, live servers."""

import asyncio
import json
from datetime import timedelta

import pytest
import redis
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.utils import timezone

from eventplatform import services
from eventplatform.models import Event, Participant, Room, Session

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


@pytest.fixture(autouse=True, scope="session")
def _clean_redis_keys():
    """Remove this run's keys afterwards (they carry the run's own prefix)."""
    yield
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = list(client.scan_iter(f"{settings.REDIS_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_shared_parts():
    """Each test's database starts over and reuses event ids: no snapshot part may carry over."""
    from eventplatform.realtime import shared

    shared.forget_all()
    yield
    shared.forget_all()


@pytest.fixture
def event(transactional_db) -> Event:
    """A small hybrid event: a stage, two breakouts, three sessions, one person per role."""
    now = timezone.now().replace(microsecond=0)
    event = Event.objects.create(
        slug="testcamp",
        title="Testcamp",
        timezone="Europe/Berlin",
        start=now - timedelta(hours=1),
        end=now + timedelta(hours=6),
        venue_address="Rathausplatz 1, Köln",
        is_online=True,
    )
    stage = Room.objects.create(event=event, name="Stage", kind=Room.Kind.STAGE, capacity=500)
    Room.objects.create(event=event, name="Breakout A", kind=Room.Kind.BREAKOUT, capacity=4, position=1)
    Room.objects.create(event=event, name="Breakout B", kind=Room.Kind.BREAKOUT, capacity=4, position=2)
    for i, title in enumerate(["Welcome", "Keynote", "Wrap-up"]):
        Session.objects.create(
            event=event, title=title, start=now + timedelta(hours=i), end=now + timedelta(hours=i, minutes=45),
            room=stage,
        )
    return event


@pytest.fixture
def people(event) -> dict[str, Participant]:
    roles = {
        "organizer": {"organizer"},
        "moderator": {"moderator"},
        "speaker": {"speaker"},
        "staff": {"staff"},
        "attendee": set(),
        "attendee2": set(),
    }
    return {
        key: services.register_participant(event, name=key.capitalize(), username=f"t-{key}", roles=r)
        for key, r in roles.items()
    }


class SocketClient:
    """A test client speaking the event socket protocol over a Channels communicator."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.next_id = 0
        self.pushes: list[dict] = []

    async def send_raw(self, text: str) -> None:
        await self.communicator.send_to(text_data=text)

    async def receive(self, timeout: float = 3) -> dict:
        return json.loads(await self.communicator.receive_from(timeout=timeout))

    async def request(self, type_: str, data: dict | None = None, timeout: float = 3) -> dict:
        """Send a command and return its reply (pushes arriving meanwhile are kept)."""
        self.next_id += 1
        await self.send_raw(json.dumps({"id": self.next_id, "type": type_, "data": data or {}}))
        return await self.reply_to(self.next_id, timeout)

    async def notify(self, type_: str, data: dict | None = None) -> None:
        """Send a command without id, as the browser sends signals: no reply when accepted."""
        await self.send_raw(json.dumps({"type": type_, "data": data or {}}))

    async def reply_to(self, request_id: int, timeout: float = 3) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.receive(timeout=max(0.01, deadline - loop.time()))
            if message.get("id") == request_id:
                return message
            self.pushes.append(message)

    async def wait_push(self, type_: str, timeout: float = 5, where=lambda data: True) -> dict:
        """The next push of this type whose data satisfies `where` (earlier ones included)."""
        for i, message in enumerate(self.pushes):
            if message.get("type") == type_ and where(message.get("data")):
                return self.pushes.pop(i)["data"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            message = await self.receive(timeout=max(0.01, deadline - loop.time()))
            if message.get("type") == type_ and where(message.get("data")):
                return message["data"]
            self.pushes.append(message)

    async def close(self) -> None:
        await self.communicator.disconnect()


@pytest.fixture
async def connect():
    """`await connect(participant)` → a connected SocketClient; all are closed afterwards."""
    from eventplatform.asgi import application
    from eventplatform.realtime.runtime import close_runtime

    clients: list[SocketClient] = []

    async def _connect(participant=None, *, ticket: str | None = None, slug: str | None = None, headers=None):
        secret = ticket if ticket is not None else participant.ticket.secret
        slug = slug or (participant.event.slug if participant is not None else "testcamp")
        communicator = WebsocketCommunicator(
            application, f"/ws/events/{slug}/?ticket={secret}", headers=headers if headers is not None else [ORIGIN]
        )
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        client = SocketClient(communicator)
        clients.append(client)
        return client

    yield _connect
    for client in clients:
        try:
            await client.close()
        except Exception:
            pass
    await close_runtime()


# --- real processes ---------------------------------------------------------------------------

def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_database_url() -> str:
    """The URL of the database this test run uses, for processes the tests start."""
    from django.db import connection

    cfg = connection.settings_dict
    if cfg["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{cfg['NAME']}"
    auth = cfg["USER"] + (f":{cfg['PASSWORD']}" if cfg["PASSWORD"] else "")
    return f"postgres://{auth}@{cfg['HOST'] or '127.0.0.1'}:{cfg['PORT'] or 5432}/{cfg['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


def process_env(**extra: str) -> dict:
    import os

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="eventplatform.test_settings",
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        REDIS_PREFIX=settings.REDIS_PREFIX,
        DEBUG="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@pytest.fixture
def daphne(transactional_db, tmp_path):
    """`daphne(**env)` starts a real daphne process on a free port and returns (port, process)."""
    import subprocess
    import sys
    import time
    import urllib.request

    started = []

    def _start(**extra_env):
        port = free_port()
        log = open(tmp_path / f"daphne-{port}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "eventplatform.asgi:application"],
            env=process_env(**extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError((tmp_path / f"daphne-{port}.log").read_text())
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/", timeout=1).read()
                return port, process
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("daphne did not start in 30 s")

    yield _start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


class LiveSocket:
    """A client of a real server over a real WebSocket (the `websockets` library)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0
        self.pushes: list[dict] = []

    @classmethod
    async def open(cls, port: int, slug: str, ticket: str) -> "LiveSocket":
        from websockets.asyncio.client import connect

        ws = await connect(
            f"ws://127.0.0.1:{port}/ws/events/{slug}/?ticket={ticket}", origin=f"http://127.0.0.1:{port}"
        )
        return cls(ws)

    async def request(self, type_: str, data: dict | None = None, timeout: float = 5) -> dict:
        self.next_id += 1
        await self.ws.send(json.dumps({"id": self.next_id, "type": type_, "data": data or {}}))
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await self.ws.recv())
                if message.get("id") == self.next_id:
                    return message
                self.pushes.append(message)

    async def notify(self, type_: str, data: dict | None = None) -> None:
        """Send a command without id, as the browser sends signals: no reply when accepted."""
        await self.ws.send(json.dumps({"type": type_, "data": data or {}}))

    async def wait_push(self, type_: str, where=lambda data: True, timeout: float = 10) -> dict:
        for i, message in enumerate(self.pushes):
            if message.get("type") == type_ and where(message["data"]):
                return self.pushes.pop(i)["data"]
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await self.ws.recv())
                if message.get("type") == type_ and where(message.get("data")):
                    return message["data"]
                self.pushes.append(message)

    async def close(self) -> None:
        await self.ws.close()
