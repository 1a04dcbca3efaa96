"""Fan-out benchmark of the stage chat: one message to every socket on the stage.

    uv run python bench/chat_fanout.py --sockets 1000 2000 --deliveries 20000 --seconds 8

For each socket count it starts web processes (daphne), connects that many real websockets
from separate client processes, publishes chat messages at (deliveries ÷ sockets) per second
for --seconds, and prints deliveries/s, p50/p99 latency (publish → received by the client)
and lost deliveries. It runs twice per count: through the platform (ticket-authenticated
sockets; the message is published the way `chat.services.send_message` publishes after
commit: encoded once, one Redis PUBLISH, each process's hub writes it to its sockets) and
against a naive Channels consumer (`bench/chat_naive_app.py`: group_send + json.dumps per
socket), and prints the ratio. Everything runs on 127.0.0.1 with its own SQLite database and
Redis key prefix, and stops by itself (--budget seconds at most).
"""

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MARKER = "benchmsg"


def environment(db_path: str, prefix: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="eventplatform.settings",
        DEBUG="1",
        DATABASE_URL=f"sqlite:///{db_path}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        REDIS_PREFIX=prefix,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # The benchmark's clients are fake people on one machine: let them connect freely.
        WS_RATE_LIMIT="100000",
    )
    return env


def prepare_database(env: dict, sockets: int) -> tuple[list[str], int]:
    """An event with a stage and `sockets` participants with tickets; returns tickets and the stage channel."""
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from chat import services as chat_services
    from eventplatform.models import Event, Participant, Room, Ticket

    call_command("migrate", verbosity=0)
    event, _ = Event.objects.get_or_create(
        slug="bench", defaults={"title": "Bench", "start": timezone.now(), "end": timezone.now() + timezone.timedelta(hours=8)}
    )
    Room.objects.get_or_create(event=event, name="Stage", defaults={"kind": Room.Kind.STAGE})
    have = Participant.objects.filter(event=event).count()
    if have < sockets:
        User = get_user_model()
        users = User.objects.bulk_create([User(username=f"bench-{i}") for i in range(have, sockets)])
        people = Participant.objects.bulk_create(
            [Participant(event=event, user=u, name=f"Gast {i}") for i, u in enumerate(users, start=have)]
        )
        Ticket.objects.bulk_create([Ticket(participant=p, secret=secrets.token_urlsafe(32)) for p in people])
    tickets = list(
        Ticket.objects.filter(participant__event=event).order_by("participant_id").values_list("secret", flat=True)[:sockets]
    )
    stage = next(c for c in chat_services.ensure_channels(event.pk) if c.kind == "stage")
    return tickets, stage.pk


def start_servers(env: dict, count: int, app: str, logdir: Path) -> list[tuple[int, subprocess.Popen]]:
    import socket

    servers = []
    for i in range(count):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = open(logdir / f"{app.split('.')[-1].split(':')[0]}-{i}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        servers.append((port, process))
    for port, process in servers:
        deadline = time.monotonic() + 60  # a shared, busy machine starts slowly
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"daphne on {port} exited; see {logdir}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("daphne did not start") from None
                time.sleep(0.2)
    return servers


def stop_servers(servers) -> None:
    for _port, process in servers:
        process.terminate()
    for _port, process in servers:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# --- client processes ------------------------------------------------------------------------

def client_process(ports, tickets, ready, start_collect, stop, results):
    asyncio.run(_client(ports, tickets, ready, start_collect, stop, results))


async def _client(ports, tickets, ready, start_collect, stop, results):
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    received = 0
    failed = 0
    last_receive = 0.0
    gate = asyncio.Semaphore(40)

    async def one(i, ticket):
        nonlocal received, failed
        port = ports[i % len(ports)]
        try:
            async with gate:
                ws = await connect(f"ws://127.0.0.1:{port}/ws/events/bench/?ticket={ticket}",
                                   origin=f"http://127.0.0.1:{port}", max_queue=None, ping_interval=None,
                                   close_timeout=1)
        except Exception:
            failed += 1
            return None
        return ws

    sockets = [ws for ws in await asyncio.gather(*(one(i, t) for i, t in enumerate(tickets))) if ws is not None]

    async def read(ws):
        nonlocal received, last_receive
        try:
            async for text in ws:
                if MARKER in text:
                    sent = json.loads(text)["data"]["sent"]
                    last_receive = time.time()
                    latencies.append(last_receive - sent)
                    received += 1
        except Exception:
            pass

    readers = [asyncio.create_task(read(ws)) for ws in sockets]
    ready.put((len(sockets), failed))
    while not stop.is_set():
        await asyncio.sleep(0.1)
    # Report first: closing sockets of a server still busy with a backlog can take a while.
    results.put((received, latencies, last_receive))
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


# --- publishers ----------------------------------------------------------------------------------

def payload(i: int) -> dict:
    # A realistic chat message: the sender's public profile travels inside it.
    return {
        "id": i, "seq": i, "channel_id": 1, "author": {"id": 4711, "name": "Erika Mustermann", "roles": []},
        "text": f"Nachricht {i}: Danke für den Vortrag, die Folien sind super! {MARKER}",
        "reply_to": None, "mentions": [], "created": "2026-11-23T10:00:00Z", "edited_at": None, "deleted": False,
        "sent": time.time(),
    }


def publish_platform(env, channel_id: int, rate: float, seconds: float) -> int:
    from eventplatform.realtime.bus import channel_for, sync_redis
    from eventplatform.realtime.envelope import encode_push

    client = sync_redis()
    channel = channel_for(f"chat.{channel_id}")
    return _paced(lambda i: client.publish(channel, encode_push("chat.message", payload(i))), rate, seconds)


def publish_naive(rate: float, seconds: float) -> int:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()

    async def run():
        return await _apaced(lambda i: layer.group_send("bench-stage", {"type": "chat.message", "data": payload(i)}),
                             rate, seconds)

    return async_to_sync(run)()


def _paced(send, rate, seconds) -> int:
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + 1
        while sent < due:
            send(sent)
            sent += 1
        time.sleep(0.005)
    return sent


async def _apaced(send, rate, seconds) -> int:
    start = time.monotonic()
    sent = 0
    while (elapsed := time.monotonic() - start) < seconds:
        due = int(elapsed * rate) + 1
        # A publisher that falls behind stops at the deadline too: the run stays bounded.
        while sent < due and time.monotonic() - start < seconds:
            await send(sent)
            sent += 1
        await asyncio.sleep(0.005)
    return sent


# --- one run ------------------------------------------------------------------------------------

def run_once(kind, env, tickets, channel_id, sockets, args, logdir) -> dict:
    app = "eventplatform.asgi:application" if kind == "platform" else "bench.chat_naive_app:application"
    servers = start_servers(env, args.servers, app, logdir)
    ports = [p for p, _ in servers]
    ctx = mp.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    stop = ctx.Event()
    chunks = [tickets[i :: args.clients] for i in range(args.clients)]
    clients = [ctx.Process(target=client_process, args=(ports, chunk, ready, None, stop, results)) for chunk in chunks]
    try:
        for c in clients:
            c.start()
        t0 = time.monotonic()
        connected = failed = 0
        for _ in clients:
            n, f = ready.get(timeout=args.budget)
            connected += n
            failed += f
        connect_s = time.monotonic() - t0
        time.sleep(1.0)  # let the last subscriptions settle
        rate = args.deliveries / sockets
        start = time.time()
        messages = publish_platform(env, channel_id, rate, args.seconds) if kind == "platform" \
            else publish_naive(rate, args.seconds)
        publish_s = time.time() - start
        time.sleep(args.drain)
        stop.set()
        received = 0
        last_receive = start
        latencies: list[float] = []
        for _ in clients:
            r, lat, last = results.get(timeout=60)
            received += r
            latencies.extend(lat)
            last_receive = max(last_receive, last)
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=20)
            if c.is_alive():
                c.kill()
        stop_servers(servers)
    expected = messages * connected
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else float("nan")

    return {
        "kind": kind, "sockets": connected, "failed_connects": failed, "connect_s": round(connect_s, 1),
        "messages": messages, "offered_per_s": round(expected / publish_s), "delivered": received,
        # Delivered per second from the first publish to the last delivery (a backlog that
        # drains after publishing stops stretches the span, so it counts at its real pace).
        "deliveries_per_s": round(received / max(last_receive - start, publish_s)),
        # Not delivered when the run stopped (backlog still queued, or dropped by the layer).
        "undelivered_at_end": expected - received, "p50_ms": round(pct(0.50), 1), "p99_ms": round(pct(0.99), 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, nargs="+", default=[1000, 2000])
    parser.add_argument("--deliveries", type=int, default=20000, help="offered deliveries per second")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--drain", type=float, default=4, help="seconds to wait for stragglers")
    parser.add_argument("--servers", type=int, default=2, help="web processes")
    parser.add_argument("--clients", type=int, default=2, help="load client processes")
    parser.add_argument("--budget", type=float, default=110, help="give up connecting after this long")
    parser.add_argument("--only", choices=["platform", "naive"], default=None)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    prefix = f"chatbench{os.getpid()}"
    env = environment(str(workdir / "db.sqlite3"), prefix)
    tickets, channel_id = prepare_database(env, max(args.sockets))
    print(f"# chat fan-out, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}; {args.servers} web + {args.clients} client processes; logs in {workdir}")
    rows = []
    try:
        for n in args.sockets:
            kinds = [args.only] if args.only else ["platform", "naive"]
            results = {}
            for kind in kinds:
                result = run_once(kind, env, tickets[:n], channel_id, n, args, workdir)
                results[kind] = result
                rows.append(result)
                print(json.dumps(result), flush=True)
            if len(results) == 2 and results["naive"]["deliveries_per_s"]:
                ratio = results["platform"]["deliveries_per_s"] / results["naive"]["deliveries_per_s"]
                print(f"# {n} sockets: platform/naive deliveries per second = {ratio:.1f}×", flush=True)
    finally:
        import redis

        client = redis.Redis.from_url(env["REDIS_URL"])
        keys = list(client.scan_iter(f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    main()
