"""Scan API under load: several desks together send `--rate` scans per second for
`--duration` seconds to a real daphne; prints latency percentiles and the answers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x uv run python bench/checkin_scan.py --duration 60

The traffic is open-loop (each scan leaves at its planned time, whatever the previous answer
did), so a slow server shows as latency, not as fewer scans. The mix: 80 % first entries,
15 % repeats (yellow), 5 % forged codes (red)."""

import argparse
import http.client
import json
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

from checkin_common import bench_database, configure, daphne, make_event, percentile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--desks", type=int, default=4)
    parser.add_argument("--tickets", type=int, default=10_000)
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
        with daphne(env, Path(tempfile.gettempdir()) / f"bench-checkin-{uuid.uuid4().hex}.log") as port:
            latencies: list[float] = []
            late: list[float] = []
            results: Counter = Counter()
            lock = threading.Lock()
            start = time.perf_counter() + 1.0

            def desk(n: int) -> None:
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
                        late.append(max(0.0, sent - due) * 1000)
                        results[outcome] += 1

            threads = [threading.Thread(target=desk, args=(n,)) for n in range(args.desks)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - start
        print(f"scans: {len(latencies)} in {elapsed:.1f} s ({len(latencies) / elapsed:.1f}/s offered {args.rate}/s), "
              f"{args.desks} desks, {args.tickets} tickets, database {url.split(':')[0]}")
        print(f"latency ms: p50 {percentile(latencies, 50):.1f}  p95 {percentile(latencies, 95):.1f}  "
              f"p99 {percentile(latencies, 99):.1f}  max {max(latencies):.1f}")
        print(f"send lateness ms (client side): p99 {percentile(late, 99):.1f}")
        print("answers:", dict(results))


if __name__ == "__main__":
    main()
