"""Fan-out benchmark of the stage: one chat message to every socket on it.

    uv run python bench/chat_fanout.py raw --sockets 1000 2000 5000          # raw capacity, + naive ratio
    uv run python bench/chat_fanout.py stage --sockets 5000                  # chat + votes + reactions
    uv run python bench/chat_fanout.py senders --sockets 2000 --seconds 60   # 200 first messages

Scenarios (the targets of the chat issue, docs/benchmarks.md):

- raw: messages are published the way `chat.services.send_message` publishes after commit
  (encoded once, one Redis PUBLISH; each web process's hub writes it to its sockets) at
  --deliveries per second in all; then the same against a naive Channels consumer
  (`bench/chat_naive_app.py`: group_send + json.dumps per socket), and the ratio.
- stage: people on the stage really use it over their sockets: --chat messages/s through
  `chat.send` (each from a different person, so every one is a first message), --votes
  upvotes/s through `qa.vote` (each from a different person) on five visible questions, and
  --reactions/s through `chat.react`. Every socket counts the chat messages it receives and
  their delay (the send time rides in the text), and the coalesced vote and reaction pushes.
- senders: 200 different people each send their first message within --seconds.

Web processes (daphne, --servers), load clients (--clients processes of real websockets), Redis
and the database are all on this machine (127.0.0.1); the bench prints each one's share of
the CPU. Its own SQLite database (or --database-url) and Redis key prefix; it stops by itself.
"""

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
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
QUESTIONS = 5


def environment(database_url: str, prefix: str) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="eventplatform.settings",
        DEBUG="0",  # as in production: no query log, no debug toolbar of any kind
        SECRET_KEY="bench-" + secrets.token_hex(16),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        REDIS_PREFIX=prefix,
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
        # The benchmark's clients are fake people on one machine: let them connect freely.
        WS_RATE_LIMIT="100000",
    )
    return env


def prepare_database(env: dict, sockets: int) -> dict:
    """An event with a stage, a running session with open Q&A and five visible questions, and
    `sockets` participants with tickets."""
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from chat import services as chat_services
    from eventplatform.models import Event, Participant, Room, Session, Ticket

    call_command("migrate", verbosity=0)
    now = timezone.now()
    event, _ = Event.objects.get_or_create(
        slug="bench", defaults={"title": "Bench", "start": now, "end": now + timezone.timedelta(hours=8)}
    )
    stage, _ = Room.objects.get_or_create(event=event, name="Stage", defaults={"kind": Room.Kind.STAGE})
    session, _ = Session.objects.get_or_create(
        event=event, title="Keynote", defaults={"room": stage, "start": now, "end": now + timezone.timedelta(hours=4)}
    )
    have = Participant.objects.filter(event=event).count()
    if have < sockets:
        User = get_user_model()
        users = User.objects.bulk_create([User(username=f"bench-{i}") for i in range(have, sockets)])
        people = Participant.objects.bulk_create(
            [Participant(event=event, user=u, name=f"Gast {i}") for i, u in enumerate(users, start=have)]
        )
        Ticket.objects.bulk_create([Ticket(participant=p, secret=secrets.token_urlsafe(32)) for p in people])
    holders = list(
        Ticket.objects.filter(participant__event=event).order_by("participant_id")
        .values_list("secret", "participant_id")[:sockets]
    )
    channel = next(c for c in chat_services.ensure_channels(event.pk) if c.kind == "stage")
    chat_services.configure_qa(event_id=event.pk, actor_id=None, session_id=session.pk, is_open=True, mode="open")
    questions = []
    for n in range(QUESTIONS):
        out, _ = chat_services.ask_question(
            event_id=event.pk, author_id=holders[n][1], session_id=session.pk, text=f"Frage {n}?",
            anonymous=False, client_key=f"bench-q{n}",
        )
        questions.append(out["id"])
    return {"tickets": [t for t, _ in holders], "channel_id": channel.pk, "questions": questions}


def start_servers(env: dict, count: int, app: str, logdir: Path) -> list[tuple[int, subprocess.Popen]]:
    import socket

    # Hold every probe socket until all ports are chosen, or the kernel may hand one out twice.
    probes = [socket.socket() for _ in range(count)]
    for probe in probes:
        probe.bind(("127.0.0.1", 0))
    ports = [probe.getsockname()[1] for probe in probes]
    for probe in probes:
        probe.close()
    servers = []
    for i, port in enumerate(ports):
        log = open(logdir / f"{app.split('.')[-1].split(':')[0]}-{i}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        servers.append((port, process))
    for port, process in servers:
        deadline = time.monotonic() + 60
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


# --- CPU accounting --------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def machine_busy() -> tuple[float, float]:
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (ticks + [0] * 8)[:8]
    hz = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / hz, (user + nice + system + idle + iowait + irq + softirq + steal) / hz


class CpuMeter:
    """CPU seconds each role used between start() and stop(), as % of one core."""

    def __init__(self, roles: dict[str, list[int]]) -> None:
        self.roles = roles

    def _read(self) -> dict[str, float]:
        return {role: sum(cpu_seconds(pid) for pid in pids) for role, pids in self.roles.items()}

    def start(self) -> None:
        self._t0, self._cpu0, self._machine0 = time.monotonic(), self._read(), machine_busy()

    def stop(self) -> dict[str, float]:
        elapsed = time.monotonic() - self._t0
        cpu1, machine1 = self._read(), machine_busy()
        shares = {f"cpu_{role}_pct": round(100 * (cpu1[role] - self._cpu0[role]) / elapsed) for role in self.roles}
        busy = (machine1[0] - self._machine0[0]) / max(machine1[1] - self._machine0[1], 1e-9)
        shares["machine_busy_pct"] = round(100 * busy * os.cpu_count())  # of 100 % per core
        return shares


# --- client processes ------------------------------------------------------------------------

def client_process(ports, tickets, offset, actions, ready, go, stop, results, await_hello):
    asyncio.run(_client(ports, tickets, offset, actions, ready, go, stop, results, await_hello))


async def _client(ports, tickets, offset, actions, ready, go, stop, results, await_hello):
    """Open the sockets, say hello, then read; from the shared start time on, send this
    process's share of the actions (socket index, seconds after start, frame).

    The load client uses picows (WebSocket frames parsed in C): the web server and its load run
    on the same two cores, and a client that spends 100 µs per message in Python measures
    itself, not the server."""
    from picows import WSListener, WSMsgType, ws_connect

    stats = {"received": 0, "votes_pushes": 0, "reaction_pushes": 0, "errors": 0, "last": 0.0, "hellos": 0}
    latencies: list[float] = []
    replies: list[float] = []  # chat.send: sent → the sender's reply (the command's own round trip)
    gate = asyncio.Semaphore(40)

    # Pushes are recognised by their first bytes and the send time is cut out of the text: a
    # json.loads per message would be most of the client's CPU at 25,000 messages a second.
    chat_push = ('{"type":"chat.message"', '{"type": "chat.message"')  # ours; json.dumps' default (naive)
    stamp = MARKER + " "

    def on_text(text: str) -> None:
        if text.startswith('{"id":1,'):  # the snapshot: this person has joined
            stats["hellos"] += 1
        elif text.startswith(chat_push):
            if MARKER not in text:
                return
            if '"sent":' in text:  # raw: the publisher's clock, last in the data
                start = text.rindex('"sent":') + 7
                sent = float(text[start : text.index("}", start)])
            else:  # stage: the sender's clock, in the text after the marker
                start = text.index(stamp) + len(stamp)
                sent = float(text[start : text.index(" ", start)])
            now = time.time()
            stats["last"] = now
            latencies.append(now - sent)
            stats["received"] += 1
        elif text.startswith('{"type":"qa.votes"'):
            stats["votes_pushes"] += 1
        elif text.startswith('{"type":"chat.reactions"'):
            stats["reaction_pushes"] += 1
        elif MARKER in text and '"ok":true' in text:  # the sender's own reply to chat.send
            start = text.index(stamp) + len(stamp)
            replies.append(time.time() - float(text[start : text.index(" ", start)]))
        elif '"ok":false' in text:
            stats["errors"] += 1

    class Reader(WSListener):
        def on_ws_frame(self, transport, frame) -> None:
            if frame.msg_type == WSMsgType.TEXT:
                on_text(frame.get_payload_as_utf8_text())

    async def one(i, ticket):
        port = ports[(offset + i) % len(ports)]
        try:
            async with gate:
                transport, _ = await ws_connect(
                    Reader, f"ws://127.0.0.1:{port}/ws/events/bench/?ticket={ticket}",
                    extra_headers={"Origin": f"http://127.0.0.1:{port}"}, websocket_handshake_timeout=60,
                )
                # hello, as the browser does (the naive consumer ignores what it receives)
                transport.send(WSMsgType.TEXT, b'{"id":1,"type":"hello","data":{}}')
        except Exception:
            return None
        return transport

    sockets = await asyncio.gather(*(one(i, t) for i, t in enumerate(tickets)))
    # The measured part starts when everyone has joined (their snapshot arrived), not while
    # the join storm is still being served (the naive consumer does not answer hello).
    opened = sum(ws is not None for ws in sockets)
    deadline = time.monotonic() + 120
    while await_hello and stats["hellos"] < opened and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    ready.put((sum(ws is not None for ws in sockets), sum(ws is None for ws in sockets)))
    start = go.get()
    for index, at, frame in actions:
        delay = start + at - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        transport = sockets[index]
        if transport is not None:
            if MARKER in frame:
                frame = frame.replace("{sent}", repr(time.time()))
            transport.send(WSMsgType.TEXT, frame.encode())
    while not stop.is_set():
        await asyncio.sleep(0.1)
    results.put((stats, latencies, replies))
    for transport in sockets:
        if transport is not None:
            transport.disconnect()


# --- raw publishers -------------------------------------------------------------------------------

def payload(i: int) -> dict:
    # A realistic chat message: the sender's public profile travels inside it.
    return {
        "id": i, "seq": i, "channel_id": 1, "author": {"id": 4711, "name": "Erika Mustermann", "roles": []},
        "text": f"Nachricht {i}: Danke für den Vortrag, die Folien sind super! {MARKER}",
        "reply_to": None, "mentions": [], "created": "2026-11-23T10:00:00Z", "edited_at": None, "deleted": False,
        "sent": time.time(),
    }


def publish_platform(channel_id: int, rate: float, seconds: float) -> int:
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


# --- what people do on the stage ------------------------------------------------------------------

def stage_actions(setup: dict, sockets: int, args) -> tuple[list[tuple[int, float, str]], int]:
    """(socket index, seconds after start, frame) for every action, and the chat messages among
    them. Each chat message and each vote comes from a different person."""
    rng = random.Random(7)
    people = list(range(QUESTIONS, sockets))  # the question authors do not vote on their own
    rng.shuffle(people)
    actions = []
    chats = int(args.chat * args.seconds)
    senders, voters = people[:chats], people[chats : chats + int(args.votes * args.seconds)]
    for n, who in enumerate(senders):
        text = f"{MARKER} {{sent}} Danke für den Vortrag, Frage {n} kommt gleich!"
        frame = {"id": 100 + n, "type": "chat.send",
                 "data": {"channel_id": setup["channel_id"], "text": text, "client_key": f"bench-{n}"}}
        actions.append((who, n / args.chat, json.dumps(frame)))
    for n, who in enumerate(voters):
        frame = {"id": 100_000 + n, "type": "qa.vote", "data": {"question_id": setup["questions"][n % QUESTIONS]}}
        actions.append((who, n / args.votes, json.dumps(frame)))
    kinds = ["applause", "laugh", "heart", "wow", "thumbsup"]
    for n in range(int(args.reactions * args.seconds)):
        frame = {"id": 200_000 + n, "type": "chat.react", "data": {"channel_id": setup["channel_id"],
                                                                  "kind": kinds[n % len(kinds)]}}
        actions.append((rng.randrange(sockets), n / args.reactions, json.dumps(frame)))
    return actions, len(senders)


# --- one run ------------------------------------------------------------------------------------

def run_once(kind, scenario, env, setup, sockets, args, logdir) -> dict:
    app = "bench.chat_naive_app:application" if kind == "naive" else "eventplatform.asgi:application"
    tickets = setup["tickets"][:sockets]
    servers = start_servers(env, args.servers, app, logdir)
    ports = [p for p, _ in servers]
    actions, chats = stage_actions(setup, sockets, args) if scenario != "raw" else ([], 0)
    ctx = mp.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    stop = ctx.Event()
    gos = [ctx.Queue() for _ in range(args.clients)]
    per_client = [[] for _ in range(args.clients)]
    for index, at, frame in actions:
        per_client[index % args.clients].append((index // args.clients, at, frame))
    clients = [
        ctx.Process(target=client_process,
                    args=(ports, tickets[c :: args.clients], c, sorted(per_client[c], key=lambda a: a[1]),
                          ready, gos[c], stop, results, kind != "naive"))
        for c in range(args.clients)
    ]
    meter = CpuMeter({
        "web": [p.pid for _, p in servers], "redis": pids_named("redis-server"),
        "database": pids_named("postgres") if args.database_url else [],
    })
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
        meter.roles["clients"] = [c.pid for c in clients]
        if args.database_url:  # the backends opened since the servers started
            meter.roles["database"] = pids_named("postgres")
        time.sleep(1.0)  # let the last hellos and subscriptions settle
        meter.start()
        start = time.time() + 0.2
        for go in gos:
            go.put(start)
        if scenario == "raw":
            rate = args.deliveries / sockets
            messages = publish_platform(setup["channel_id"], rate, args.seconds) if kind == "platform" \
                else publish_naive(rate, args.seconds)
        else:
            messages = chats
            time.sleep(max(0.0, start + args.seconds - time.time()))
        publish_s = time.time() - start
        cpu = meter.stop()
        time.sleep(args.drain)
        stop.set()
        totals = {"received": 0, "votes_pushes": 0, "reaction_pushes": 0, "errors": 0, "last": start}
        latencies: list[float] = []
        replies: list[float] = []
        for _ in clients:
            stats, lat, rep = results.get(timeout=60)
            replies.extend(rep)
            for key in ("received", "votes_pushes", "reaction_pushes", "errors"):
                totals[key] += stats[key]
            totals["last"] = max(totals["last"], stats["last"])
            latencies.extend(lat)
    finally:
        stop.set()
        for c in clients:
            c.join(timeout=20)
            if c.is_alive():
                c.kill()
        stop_servers(servers)
    expected = messages * connected
    latencies.sort()
    replies.sort()

    def pct(p, values=latencies):
        return round(values[min(len(values) - 1, int(p * len(values)))] * 1000, 1) if values else None

    result = {
        "scenario": scenario, "kind": kind, "sockets": connected, "failed_connects": failed,
        "connect_s": round(connect_s, 1), "messages": messages, "offered_per_s": round(expected / publish_s),
        "delivered": totals["received"],
        # From the first publish to the last delivery (a backlog that drains after publishing
        # stops stretches the span, so it counts at its real pace).
        "deliveries_per_s": round(totals["received"] / max(totals["last"] - start, publish_s)),
        "lost": expected - totals["received"], "p50_ms": pct(0.50), "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None, **cpu,
    }
    if scenario != "raw":
        seconds = publish_s + args.drain
        result.update(
            votes_pushes_per_socket_s=round(totals["votes_pushes"] / max(connected, 1) / seconds, 2),
            reaction_pushes_per_socket_s=round(totals["reaction_pushes"] / max(connected, 1) / seconds, 2),
            error_replies=totals["errors"],
            # how long the sender waited for chat.send's reply: the service's part of the delay
            send_reply_p50_ms=pct(0.50, replies), send_reply_p99_ms=pct(0.99, replies),
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=["raw", "stage", "senders"], nargs="?", default="raw")
    parser.add_argument("--sockets", type=int, nargs="+", default=None,
                        help="socket counts (default: raw 1000 2000 5000, stage 5000, senders 2000)")
    parser.add_argument("--deliveries", type=int, default=20000, help="raw: offered deliveries per second")
    parser.add_argument("--chat", type=float, default=5, help="stage: chat messages per second (default 5)")
    parser.add_argument("--votes", type=float, default=50, help="stage: question upvotes per second (default 50)")
    parser.add_argument("--reactions", type=float, default=20, help="stage: reactions per second (default 20)")
    parser.add_argument("--seconds", type=float, default=None, help="how long (default: raw 5, stage 20, senders 60)")
    parser.add_argument("--drain", type=float, default=3, help="seconds to wait for stragglers")
    parser.add_argument("--servers", type=int, default=2, help="web processes (default 2, as docker-compose runs)")
    parser.add_argument("--clients", type=int, default=2, help="load client processes")
    parser.add_argument("--budget", type=float, default=150, help="give up connecting after this long")
    parser.add_argument("--only", choices=["platform", "naive"], default=None, help="raw: run only one of the two")
    parser.add_argument("--database-url", default=None, help="PostgreSQL for the bench only (default: SQLite file)")
    args = parser.parse_args()
    defaults = {"raw": ([1000, 2000, 5000], 5), "stage": ([5000], 20), "senders": ([2000], 60)}[args.scenario]
    args.sockets = args.sockets or defaults[0]
    args.seconds = args.seconds or defaults[1]
    if args.scenario == "senders":  # 200 first messages, nothing else
        args.chat, args.votes, args.reactions = 200 / args.seconds, 0, 0

    workdir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    prefix = f"chatbench{os.getpid()}"
    env = environment(args.database_url or f"sqlite:///{workdir / 'db.sqlite3'}", prefix)
    setup = prepare_database(env, max(args.sockets))
    print(f"# chat fan-out ({args.scenario}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {args.servers} web + {args.clients} client "
          f"processes; {'PostgreSQL' if args.database_url else 'SQLite'}; logs in {workdir}", flush=True)
    try:
        for n in args.sockets:
            kinds = [args.only] if args.only else (["platform", "naive"] if args.scenario == "raw" else ["platform"])
            results = {}
            for kind in kinds:
                results[kind] = run_once(kind, args.scenario, env, setup, n, args, workdir)
                print(json.dumps(results[kind]), flush=True)
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
