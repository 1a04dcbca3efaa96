"""Offline bundle of a large event: compressed size and download time on loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/x uv run python bench/checkin_bundle.py --tickets 10000
"""

import argparse
import gzip
import http.client
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from checkin_common import bench_database, configure, daphne, make_event, percentile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with bench_database() as url:
        env = configure(url)
        from checkin import services

        event, staff, entrance, codes_ = make_event(args.tickets)
        for code in codes_[: args.tickets // 2]:  # half the people are inside: the bundle says so
            services.scan(event, entrance, code)
        _device, token = services.provision_device(event, name="Bench desk", by=staff)
        with daphne(env, Path(tempfile.gettempdir()) / f"bench-bundle-{uuid.uuid4().hex}.log") as port:
            times, body = [], b""
            for _ in range(args.repeat):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                started = time.perf_counter()
                conn.request("GET", f"/api/checkin/e/{event.slug}/bundle",
                             headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"})
                response = conn.getresponse()
                body = response.read()
                times.append((time.perf_counter() - started) * 1000)
                assert response.status == 200, body[:200]
                conn.close()
        raw = gzip.decompress(body)
        bundle = json.loads(raw)
        assert len(bundle["tickets"]) == args.tickets
        print(f"bundle for {args.tickets} tickets ({len(bundle['inside'].get(str(entrance.pk), []))} inside): "
              f"{len(body) / 1024:.0f} KiB gzip, {len(raw) / 1024:.0f} KiB raw")
        print(f"download ms over {args.repeat} runs: median {statistics.median(times):.0f}  "
              f"p90 {percentile(times, 90):.0f}  max {max(times):.0f}")


if __name__ == "__main__":
    main()
