"""Scan API under load: several desks together send `--rate` scans per second for
`--duration` seconds to a real daphne; prints latency percentiles and the answers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x uv run python bench/checkin_scan.py --duration 60
    … --servers 2   # two daphne processes, desks spread over them (as two web replicas)

The traffic is open-loop (each scan leaves at its planned time, whatever the previous answer
did), so a slow server shows as latency, not as fewer scans. The mix: 80 % first entries,
15 % repeats (yellow), 5 % forged codes (red). With `--servers N` desk n talks to process
n mod N. Besides latency it prints the CPU time per scan of the daphne processes, of
PostgreSQL and of this client, and the load average before and after (the machine is shared)."""

import argparse
import http.client
import json
import os
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from checkin_common import (
    GC_PAUSE_MS, bench_database, configure, cpu_seconds, daphne_servers, make_event, percentile, postgres_cpu_seconds,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--desks", type=int, default=4)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--servers", type=int, default=1, help="daphne processes; desks connect round-robin")
    parser.add_argument("--gc-log", action="store_true",
                        help=f"daphne logs each garbage collection longer than {GC_PAUSE_MS} ms (with its generation)")
    parser.add_argument("--stock-middleware", action="store_true",
                        help="daphne with Django's own middleware classes (before decision 0003)")
    parser.add_argument("--health", type=int, default=0,
                        help="first send this many GET /api/health/ one after another and print daphne's CPU per request")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="daphne loads the application, then gc.freeze(), then serves (how the freeze was first "
                             "measured; eventplatform/asgi.py now freezes by itself)")
    args = parser.parse_args()

    with bench_database() as url:
        env = configure(url)
        from checkin import services

        event, staff, entrance, codes_ = make_event(args.tickets)
        tokens = [services.provision_device(event, name=f"Desk {i + 1}", by=staff)[1] for i in range(args.desks)]
        total = int(args.rate * args.duration)
        rng = random.Random(7)
        plan, used = [], []
        for _ in range(total):
            roll = rng.random()
            if roll < 0.15 and used:
                plan.append(rng.choice(used))
            elif roll < 0.20:
                plan.append(codes_[0][:-4] + "AAAA")
            else:
                code = codes_[len(used) % len(codes_)]
                used.append(code)
                plan.append(code)
        logs = [Path(tempfile.gettempdir()) / f"bench-checkin-{uuid.uuid4().hex}-{n}.log" for n in range(args.servers)]
        with daphne_servers(env, logs, gc_log=args.gc_log, gc_freeze=args.gc_freeze,
                            stock_middleware=args.stock_middleware) as servers:
            if args.health:
                port, pid = servers[0]
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                for _ in range(50):  # warm up
                    conn.request("GET", "/api/health/")
                    conn.getresponse().read()
                before, wall = cpu_seconds(pid), time.perf_counter()
                for _ in range(args.health):
                    conn.request("GET", "/api/health/")
                    conn.getresponse().read()
                print(f"GET /api/health/ x{args.health}, one after another: daphne CPU "
                      f"{(cpu_seconds(pid) - before) / args.health * 1000:.2f} ms per request, "
                      f"wall {(time.perf_counter() - wall) / args.health * 1000:.2f} ms")
                conn.close()
            latencies: list[float] = []
            late: list[float] = []
            by_second: dict[int, list[float]] = {}  # second of the run in which a scan was due → latencies
            results: Counter = Counter()
            lock = threading.Lock()
            start = time.perf_counter() + 1.0

            def desk(n: int) -> None:
                port = servers[n % len(servers)][0]
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                headers = {"Authorization": f"Bearer {tokens[n]}", "Content-Type": "application/json"}
                for i in range(n, total, args.desks):
                    due = start + i / args.rate
                    wait = due - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                    body = json.dumps({"list_id": entrance.pk, "code": plan[i], "retry_id": uuid.uuid4().hex})
                    sent = time.perf_counter()
                    try:
                        conn.request("POST", f"/api/checkin/e/{event.slug}/scan", body, headers)
                        response = conn.getresponse()
                        answer = json.loads(response.read())
                        outcome = answer.get("result", f"http_{response.status}")
                    except (OSError, http.client.HTTPException) as error:
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                        outcome = f"error_{type(error).__name__}"
                    done = time.perf_counter()
                    with lock:
                        latencies.append((done - sent) * 1000)
                        by_second.setdefault(int(due - start), []).append((done - due) * 1000)
                        late.append(max(0.0, sent - due) * 1000)
                        results[outcome] += 1

            threads = [threading.Thread(target=desk, args=(n,)) for n in range(args.desks)]
            load_before = os.getloadavg()
            daphne_before = [cpu_seconds(pid) for _port, pid in servers]
            postgres_before, client_before = postgres_cpu_seconds(), time.process_time()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - start
            daphne_cpu = [cpu_seconds(pid) - before for (_port, pid), before in zip(servers, daphne_before)]
            postgres_cpu, client_cpu = postgres_cpu_seconds() - postgres_before, time.process_time() - client_before
            load_after = os.getloadavg()
        scans = len(latencies)
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average before {load_before[0]:.2f} "
              f"(5 min {load_before[1]:.2f}), after {load_after[0]:.2f} (5 min {load_after[1]:.2f}) "
              f"on {os.cpu_count()} cores")
        print(f"scans: {scans} in {elapsed:.1f} s ({scans / elapsed:.1f}/s offered {args.rate}/s), "
              f"{args.desks} desks, {args.servers} daphne process(es), {args.tickets} tickets, "
              f"database {url.split(':')[0]}")
        print(f"CPU per scan ms: daphne {sum(daphne_cpu) / scans * 1000:.2f} "
              f"(per process: {', '.join(f'{c / elapsed * 100:.0f} %' for c in daphne_cpu)} of a core), "
              f"postgres {postgres_cpu / scans * 1000:.2f} (all its processes), "
              f"this client {client_cpu / scans * 1000:.2f}")
        print(f"latency ms: p50 {percentile(latencies, 50):.1f}  p95 {percentile(latencies, 95):.1f}  "
              f"p99 {percentile(latencies, 99):.1f}  max {max(latencies):.1f}")
        print(f"send lateness ms (client side): p99 {percentile(late, 99):.1f}")
        print("answers:", dict(results))
        # Per second of the run, from the time each scan was due (so a scan that left late
        # because its desk was still waiting counts its wait): where the tail comes from.
        seconds = sorted(by_second)
        print("p99 per second ms (from due time):",
              " ".join(f"{percentile(by_second[s], 99):.0f}" for s in seconds))
        slow = [s for s in seconds if percentile(by_second[s], 99) > 50]
        print(f"seconds with p99 > 50 ms: {len(slow)} of {len(seconds)}"
              + (": " + ", ".join(f"{s} s ({percentile(by_second[s], 99):.0f} ms, max {max(by_second[s]):.0f})"
                                   for s in slow) if slow else ""))
        for n, log in enumerate(logs):
            pauses = [line for line in log.read_text().splitlines() if line.startswith("gc pause")]
            if pauses:
                print(f"daphne {n}: {len(pauses)} collector pauses over {GC_PAUSE_MS} ms; longest:",
                      ", ".join(sorted(pauses, key=lambda line: -float(line.split()[2]))[:5]))


if __name__ == "__main__":
    main()
