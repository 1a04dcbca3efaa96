"""Shared set-up of the check-in benchmarks: a database of their own with one event of N
on-site tickets, and a real daphne serving it on a free loopback port. Everything is removed
afterwards; traffic stays on 127.0.0.1."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def bench_database():
    """A fresh PostgreSQL database (DATABASE_URL names the server) or SQLite file; dropped after."""
    base = os.environ.get("DATABASE_URL", "")
    name = f"bench_checkin_{os.getpid()}"
    if base.startswith("postgres"):
        import psycopg

        parsed = urlparse(base)
        admin = parsed._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = parsed._replace(path=f"/{name}").geturl()
        try:
            yield url
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = ROOT / "state" / f"{name}.sqlite3"
        path.parent.mkdir(exist_ok=True)
        try:
            yield f"sqlite:///{path}"
        finally:
            path.unlink(missing_ok=True)


def configure(database_url: str) -> dict:
    env = {
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "eventplatform.settings",
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_PREFIX": f"epbench{os.getpid()}",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "600",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def make_event(tickets: int):
    """One event, `tickets` on-site participants with tickets, a staff member, its codes."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from checkin import codes, services
    from checkin.models import TicketState
    from eventplatform.models import Event, Participant, Room, Ticket

    now = timezone.now()
    event = Event.objects.create(slug="benchcamp", title="Benchcamp", start=now - timedelta(hours=1),
                                 end=now + timedelta(hours=8), venue_address="Halle 1")
    Room.objects.create(event=event, name="Stage", kind="stage")
    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"bench-{i}") for i in range(tickets + 1)], batch_size=2000)
    people = Participant.objects.bulk_create(
        [Participant(event=event, user=u, name=f"Gast {i:05d} Mustermann", email=f"gast{i:05d}@example.org",
                     attendance="onsite") for i, u in enumerate(users[:-1])], batch_size=2000)
    staff = Participant.objects.create(event=event, user=users[-1], name="Einlass", is_staff_member=True)
    issued = Ticket.objects.bulk_create([Ticket(participant=p) for p in people], batch_size=2000)
    TicketState.objects.bulk_create([TicketState(ticket=t) for t in issued], batch_size=2000)
    entrance = services.default_list(event)
    codes.event_key(event)
    # Encoding one by one is what the ticket mail does; here only the signature matters.
    key = codes.event_key(event)
    private = codes._private_key(key)
    import base64

    def code_of(ticket):
        payload = codes.PAYLOAD.pack(codes.VERSION, key.kid, event.pk, ticket.pk, 1, 0, 0)
        return base64.urlsafe_b64encode(payload + private.sign(payload)).rstrip(b"=").decode()

    all_codes = [code_of(t) for t in issued]
    assert codes.encode(issued[0]) == all_codes[0]  # the shortcut is the real thing
    return event, staff, entrance, all_codes


@contextlib.contextmanager
def daphne(env: dict, log_path: Path):
    with daphne_servers(env, [log_path]) as servers:
        yield servers[0][0]


GC_PAUSE_MS = 5
# Started instead of `-m daphne` with --gc-log: times every collection of the cyclic garbage
# collector (it stops the whole process, event loop included) and prints the long ones.
GC_PROBE = f"""
import gc, runpy, sys, time
started = {{}}
def probe(phase, info):
    if phase == "start":
        started["t"] = time.perf_counter()
    elif "t" in started:
        ms = (time.perf_counter() - started.pop("t")) * 1000
        if ms > {GC_PAUSE_MS}:
            print(f"gc pause {{ms:.1f}} ms generation {{info['generation']}} collected {{info['collected']}} "
                  f"at {{time.time():.3f}}", flush=True)
gc.callbacks.append(probe)
if "--gc-freeze" in sys.argv:
    # What `gc.freeze()` at the end of eventplatform/asgi.py would do: load the application
    # first (daphne then imports the same module), and move everything alive into the permanent
    # generation, so that full collections no longer walk Django's own objects.
    sys.argv.remove("--gc-freeze")
    import django, eventplatform.asgi
    gc.freeze()
    print(f"gc frozen: {{gc.get_freeze_count()}} objects", flush=True)
if "--stock-middleware" in sys.argv:
    # For a before/after figure: Django's own middleware classes, as before decision 0003.
    sys.argv.remove("--stock-middleware")
    import eventplatform.settings as project
    stock = {{"SecurityMiddleware": "django.middleware.security", "SessionMiddleware": "django.contrib.sessions.middleware",
             "LocaleMiddleware": "django.middleware.locale", "CommonMiddleware": "django.middleware.common",
             "CsrfViewMiddleware": "django.middleware.csrf", "AuthenticationMiddleware": "django.contrib.auth.middleware",
             "MessageMiddleware": "django.contrib.messages.middleware",
             "XFrameOptionsMiddleware": "django.middleware.clickjacking"}}
    ours = "eventplatform.http_middleware."
    project.MIDDLEWARE = [stock[p[len(ours):]] + p[len(ours) - 1:] if p.startswith(ours) else p for p in project.MIDDLEWARE]
    print("middleware:", project.MIDDLEWARE, flush=True)
sys.argv = ["daphne", *sys.argv[1:]]
runpy.run_module("daphne", run_name="__main__")
"""


@contextlib.contextmanager
def daphne_servers(env: dict, log_paths: list[Path], gc_log: bool = False, gc_freeze: bool = False,
                   stock_middleware: bool = False):
    """One daphne process per log path, each on its own free port (as the compose file's web
    replicas behind their proxy); yields [(port, pid)] once all of them answer."""
    started = []
    try:
        for log_path in log_paths:
            port = free_port()
            log = open(log_path, "w")
            launcher = ["-m", "daphne"]
            if gc_log or gc_freeze or stock_middleware:
                launcher = ["-c", GC_PROBE] + ["--gc-freeze"] * gc_freeze + ["--stock-middleware"] * stock_middleware
            process = subprocess.Popen(
                [sys.executable, *launcher, "-b", "127.0.0.1", "-p", str(port), "eventplatform.asgi:application"],
                env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            )
            started.append((port, process, log_path))
        for port, process, log_path in started:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise RuntimeError(log_path.read_text())
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health/", timeout=1).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("daphne did not start")
                    time.sleep(0.2)
        yield [(port, process.pid) for port, process, _log in started]
    finally:
        for _port, process, _log in started:
            process.terminate()
        for _port, process, _log in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of all PostgreSQL server processes on this machine so far (0 if none are visible)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == "postgres":
                        total += cpu_seconds(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]
