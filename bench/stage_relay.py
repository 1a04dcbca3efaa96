"""Stage relay benchmark: one WHIP publisher, N WHEP viewers, through real daphne + `manage.py relay`.

    REDIS_URL=redis://127.0.0.1:6379/0 uv run python bench/stage_relay.py --viewers 50 --seconds 20
    REDIS_URL=… uv run python bench/stage_relay.py --viewers 150 --relays 2 --max-per-relay 100

The publisher sends a pre-encoded 640×360 VP8 loop at 30 fps (~1.5 Mbit/s, keyframe every
second like OBS set to a 1-s interval), so the bench's own process does not encode. Viewers count
complete frames and keyframes at the RTP level without decoding; two more viewers decode and
check the picture size. Each frame is recognised by its bytes, so the delay from the publisher handing a
frame to aiortc until a viewer has it reassembled is measured per frame (same clock, one machine).

It prints frames/s per viewer, delay p50/p99, the relay process's CPU and memory per viewer, and
the same run's cost of encoding one 640×360 frame with aiortc's VP8 encoder: what one encode per
viewer would cost, against what forwarding costs. Everything stays on 127.0.0.1 and stops by
itself (bounded by --seconds plus ramp-up). With --clients K the counting viewers are spread over
K processes of their own, so that the bench's Python client is not what limits the figures.

With --relays N it starts N relay processes, each capped at --max-per-relay viewers: the web
process routes each viewer to a process with room, and the processes other than the stage's
ingest pull the stage from it (a relay tree). Viewers refused for capacity (503) are counted.
"""

import argparse
import asyncio
import bisect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FPS = 30
WIDTH, HEIGHT = 640, 360


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def raw_frames(count: int):
    """A noisy moving picture, so the encoder has to spend its bitrate (a calm slate would not)."""
    import av

    frames = []
    for i in range(count):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        noise = os.urandom(WIDTH * HEIGHT // 10)
        x = (i * 8) % (WIDTH - 64)
        row = bytes([60]) * x + bytes([230]) * 64 + bytes([60]) * (WIDTH - x - 64)
        frame.planes[0].update(row * (HEIGHT * 9 // 10) + noise)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.line_size * (HEIGHT // 2))
        frame.pts, frame.time_base = i, Fraction(1, FPS)
        frames.append(frame)
    return frames


def encode_loop(frames, bitrate: int):
    import av

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = bitrate
    codec.time_base = Fraction(1, FPS)
    codec.gop_size = FPS
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "kf-max-dist": str(FPS)}
    packets = []
    for frame in frames:
        packets += [bytes(p) for p in codec.encode(frame)]
    packets += [bytes(p) for p in codec.encode(None)]
    return packets


def encode_cost_per_frame(frames) -> float:
    """CPU seconds aiortc's own VP8 encoder spends on one 640×360 frame (what each viewer would cost)."""
    from aiortc.codecs.vpx import Vp8Encoder

    encoder = Vp8Encoder()
    start = time.process_time()
    for frame in frames:
        encoder.encode(frame)
    return (time.process_time() - start) / len(frames)


def setup_database(env: dict) -> dict:
    """An event with a stage, a speaker's stream key and tickets for the viewers."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    from django.utils import timezone

    from eventplatform import services as core
    from eventplatform.models import Event, Room
    from streams import services

    now = timezone.now()
    event = Event.objects.create(slug="bench", title="Bench", timezone="Europe/Berlin", start=now,
                                 end=now + timezone.timedelta(hours=2), is_online=True)
    stage = Room.objects.create(event=event, name="Stage", kind=Room.Kind.STAGE, capacity=10_000)
    speaker = core.register_participant(event, name="Speaker", username="bench-speaker", roles={"speaker"})
    viewer = core.register_participant(event, name="Viewer", username="bench-viewer", roles=set())
    _, key = services.issue_key(speaker, room_id=stage.pk, label="bench")
    return {"room": stage.pk, "key": key, "ticket": viewer.ticket.secret}


def post(url, sdp, token):
    request = urllib.request.Request(url, data=sdp.encode(), method="POST", headers={
        "Content-Type": "application/sdp", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


async def watch(pc, url: str, ticket: str, refused: dict) -> bool:
    """Ask the WHEP endpoint to play; False (and the peer closed) when every relay is full."""
    from aiortc import RTCSessionDescription

    pc.addTransceiver("video", direction="recvonly")
    await pc.setLocalDescription(await pc.createOffer())
    try:
        answer = await asyncio.to_thread(post, url, pc.localDescription.sdp, ticket)
    except urllib.error.HTTPError as error:  # over capacity everywhere: 503 + the fallback
        refused["count"] += 1
        refused["statuses"].add(error.code)
        await pc.close()
        return False
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return True


async def counting_viewer(url: str, ticket: str, by_tail: dict, keyframes: list, window: dict, refused: dict):
    """A viewer that counts complete frames and notes when each arrived (None if refused).

    It is a full WebRTC peer (ICE, DTLS, SRTP decryption, RTP parsing) but takes each frame at
    its last packet (marker bit) instead of going through aiortc's jitter buffer, so that the
    bench's client processes are not the limit. A frame counts only if none of its packets is
    missing; it is recognised by its last bytes, which the relay's packetiser leaves intact.
    """
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if not await watch(pc, url, ticket, refused):
        return None
    record = {"pc": pc, "frames": 0, "keyframes": 0, "incomplete": 0, "arrivals": []}
    last = {"seq": None, "gap": False}

    async def count(packet, arrival_time_ms):
        seq = packet.sequence_number
        if last["seq"] is not None and seq != (last["seq"] + 1) & 0xFFFF:
            last["gap"] = True
        last["seq"] = seq
        if not packet.marker:
            return
        gap, last["gap"] = last["gap"], False
        now = time.monotonic()
        if not window["t0"] <= now <= window["t1"]:
            return
        if gap:
            record["incomplete"] += 1
            return
        record["frames"] += 1
        index = by_tail.get(packet.payload[-16:])
        if index is not None:
            record["keyframes"] += keyframes[index]
            record["arrivals"].append((index, now))

    pc.getTransceivers()[0].receiver._handle_rtp_packet = count
    return record


async def client_worker(spec_path: str) -> None:
    """`--client-worker SPEC`: counting viewers in a process of their own (see --clients)."""
    spec = json.loads(Path(spec_path).read_text())
    by_tail = {bytes.fromhex(t): i for i, t in enumerate(spec["tails"])}
    window = {"t0": float("inf"), "t1": float("inf")}
    refused = {"count": 0, "statuses": set()}
    records = []
    for batch in range(0, spec["count"], 10):
        records += await asyncio.gather(*(
            counting_viewer(spec["url"], spec["ticket"], by_tail, spec["keyframes"], window, refused)
            for _ in range(min(10, spec["count"] - batch))))
    records = [r for r in records if r is not None]
    print(json.dumps({"served": len(records), "refused": refused["count"], "statuses": sorted(refused["statuses"])}),
          flush=True)
    line = await asyncio.to_thread(sys.stdin.readline)  # "t0 t1", monotonic (one clock per machine)
    window["t0"], window["t1"] = map(float, line.split())
    cpu0 = time.process_time()
    await asyncio.sleep(max(0.0, window["t1"] - time.monotonic()) + 0.3)
    print(json.dumps({"cpu": time.process_time() - cpu0, "viewers": [
        {k: r[k] for k in ("frames", "keyframes", "incomplete", "arrivals")} for r in records]}), flush=True)
    for r in records:
        await r["pc"].close()


def start(cmd, env, log):
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


async def run(args) -> None:
    import av
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    from streams import passthrough

    work = Path(tempfile.mkdtemp(prefix="stage-bench-"))
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="eventplatform.settings", DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        REDIS_PREFIX=f"bench{os.getpid()}", DEBUG="1", PYTHONUNBUFFERED="1", STREAMS_ICE_SERVERS="[]",
        STREAMS_RELAY_MAX_VIEWERS=str(args.max_per_relay or args.viewers + 10), LOG_LEVEL="WARNING",
    )
    ids = await asyncio.to_thread(setup_database, env)

    print(f"preparing: {args.loop} frames of {WIDTH}x{HEIGHT}, target {args.bitrate / 1e6:.1f} Mbit/s …", flush=True)
    frames = raw_frames(args.loop)
    encoded = encode_loop(frames, args.bitrate)[: args.loop]
    encode_cost = encode_cost_per_frame(frames[:60])
    by_tail = {p[-16:]: i for i, p in enumerate(encoded)}
    assert len(by_tail) == len(encoded), "the loop's frames must end differently"
    keyframes = [passthrough.is_keyframe("video/VP8", p) for p in encoded]
    loop_bitrate = sum(map(len, encoded)) * 8 * FPS / len(encoded)

    port = 18000 + os.getpid() % 1000
    daphne = start([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "eventplatform.asgi:application"],
                   env, open(work / "daphne.log", "w"))
    relays = [start([sys.executable, "manage.py", "relay"], env, open(work / f"relay-{i}.log", "w"))
              for i in range(args.relays)]
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/api/health/", timeout=1).read()
            break
        except OSError:
            await asyncio.sleep(0.2)
    import redis as redis_sync

    registry = redis_sync.Redis.from_url(env["REDIS_URL"])
    procs_key = f"{env['REDIS_PREFIX']}:relay:processes"

    def registered() -> list[dict]:
        ids = [i.decode() for i in registry.smembers(procs_key)]
        values = registry.mget([f"{env['REDIS_PREFIX']}:relay:process:{i}" for i in ids]) if ids else []
        return [json.loads(v) for v in values if v]

    for _ in range(150):  # every relay process ready before the publisher picks one
        if len(registered()) >= args.relays:
            break
        await asyncio.sleep(0.2)
    config = RTCConfiguration(iceServers=[])
    sent: dict[int, list[float]] = {}  # loop index → when the publisher sent it, in order

    class LoopTrack(MediaStreamTrack):
        kind = "video"

        def __init__(self):
            super().__init__()
            self.n = 0
            self.t0 = None

        async def recv(self):
            if self.t0 is None:
                self.t0 = time.monotonic()
            due = self.t0 + self.n / FPS
            await asyncio.sleep(max(0, due - time.monotonic()))
            index = self.n % len(encoded)
            packet = av.Packet(encoded[index])
            packet.pts, packet.time_base = self.n * (90000 // FPS), Fraction(1, 90000)
            self.n += 1
            sent.setdefault(index, []).append(time.monotonic())
            return packet

    publisher = RTCPeerConnection(config)
    publisher.addTransceiver(LoopTrack(), direction="sendonly")
    await publisher.setLocalDescription(await publisher.createOffer())
    answer = await asyncio.to_thread(post, f"{base}/api/streams/{ids['room']}/whip", publisher.localDescription.sdp, ids["key"])
    await publisher.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    class Stats:
        def __init__(self):
            self.frames = self.keyframes = self.incomplete = 0
            self.delays: list[float] = []
            self.sizes: set = set()

    window = {"t0": float("inf"), "t1": float("inf")}  # the measured interval (monotonic)
    refused = {"count": 0, "statuses": set()}

    async def decoding_viewer() -> Stats | None:
        stats = Stats()
        pc = RTCPeerConnection(config)
        if not await watch(pc, f"{base}/api/streams/{ids['room']}/whep", ids["ticket"], refused):
            return None
        track = pc.getTransceivers()[0].receiver.track

        async def read():
            try:
                while True:
                    item = await track.recv()
                    if not window["t0"] <= time.monotonic() <= window["t1"]:
                        continue
                    stats.frames += 1
                    stats.sizes.add((item.width, item.height))
            except MediaStreamError:
                pass

        stats.task = asyncio.ensure_future(read())
        stats.pc = pc
        return stats

    await asyncio.sleep(1)
    relay_rss0 = sum(rss_mb(r.pid) for r in relays)  # with the publisher, before any viewer
    print(f"joining {args.viewers} counting viewers ({args.clients} client processes) + 2 decoding viewers …", flush=True)
    whep = f"{base}/api/streams/{ids['room']}/whep"
    records = []  # counting viewers of this process
    workers = []  # client processes with their share of the counting viewers
    if args.clients <= 1:
        for batch in range(0, args.viewers, 10):
            records += await asyncio.gather(*(counting_viewer(whep, ids["ticket"], by_tail, keyframes, window, refused)
                                              for _ in range(min(10, args.viewers - batch))))
        records = [r for r in records if r is not None]
        served = len(records)
    else:
        served = 0
        for k in range(args.clients):
            count = args.viewers // args.clients + (k < args.viewers % args.clients)
            (work / f"client-{k}.json").write_text(json.dumps({
                "url": whep, "ticket": ids["ticket"], "count": count,
                "tails": [p[-16:].hex() for p in encoded], "keyframes": keyframes}))
            workers.append(subprocess.Popen(
                [sys.executable, __file__, "--client-worker", str(work / f"client-{k}.json")], env=env, cwd=ROOT,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(work / f"client-{k}.log", "w"), text=True))
        for worker in workers:  # one after the other: their joins do not overlap much anyway
            joined = json.loads(await asyncio.to_thread(worker.stdout.readline))
            served += joined["served"]
            refused["count"] += joined["refused"]
            refused["statuses"].update(joined["statuses"])
    deciders = [await decoding_viewer(), await decoding_viewer()]
    deciders = [d for d in deciders if d is not None]
    await asyncio.sleep(3)  # everyone past their first keyframe

    relay_cpu0 = [cpu_seconds(r.pid) for r in relays]
    bench_cpu0, t0 = time.process_time(), time.monotonic() + 0.2
    window["t0"], window["t1"] = t0, t0 + args.seconds
    for worker in workers:
        worker.stdin.write(f"{window['t0']} {window['t1']}\n")
        worker.stdin.flush()
    await asyncio.sleep(window["t1"] - time.monotonic())
    elapsed = window["t1"] - window["t0"]
    relay_cpus = [cpu_seconds(r.pid) - c0 for r, c0 in zip(relays, relay_cpu0)]
    relay_cpu = sum(relay_cpus)
    bench_cpu = time.process_time() - bench_cpu0
    relay_rss = sum(rss_mb(r.pid) for r in relays)
    spread = sorted((p["viewers"], p["cap"], bool(p["ingest"])) for p in registered())
    results = [{k: r[k] for k in ("frames", "keyframes", "incomplete", "arrivals")} for r in records]
    client_cpus = [bench_cpu]
    for worker in workers:
        report = json.loads(await asyncio.to_thread(worker.stdout.readline))
        results += report["viewers"]
        client_cpus.append(report["cpu"])

    def delay(index: int, arrived: float) -> float | None:
        times = sent.get(index, [])
        at = bisect.bisect_right(times, arrived)
        return arrived - times[at - 1] if at else None

    fps = [r["frames"] / elapsed for r in results] or [0.0]
    delays = sorted(d for r in results for index, arrived in r["arrivals"] if (d := delay(index, arrived)) is not None)
    forwarded = sum(r["frames"] for r in results) + sum(d.frames for d in deciders)
    # Normalised by frames actually delivered: on a busy shared machine the relay may get less
    # CPU than it needs, and then "CPU per viewer" alone would flatter it.
    forward_cost = relay_cpu / max(forwarded, 1)  # CPU seconds per frame per viewer
    per_viewer_cpu = forward_cost * FPS  # share of one core per viewer at full frame rate
    encode_per_viewer_cpu = encode_cost * FPS  # one encoder per viewer, share of one core
    load = os.getloadavg()
    print()
    print(f"machine: {os.cpu_count()} cores, shared with other work (load average {load[0]:.1f}); "
          f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"stream: {WIDTH}x{HEIGHT} VP8, {FPS} fps, loop bitrate {loop_bitrate / 1e6:.2f} Mbit/s, keyframe every {FPS} frames")
    print(f"viewers: {served} counting + {len(deciders)} decoding served, {refused['count']} refused "
          f"(HTTP {sorted(refused['statuses']) or '-'}), measured {elapsed:.1f} s")
    print(f"relay processes: {args.relays}, cap {args.max_per_relay or args.viewers + 10} each; "
          f"viewers per process (viewers, cap, ingest): {spread}")
    print(f"frames/s per viewer: mean {statistics.mean(fps):.1f}, min {min(fps):.1f}, max {max(fps):.1f} (target {FPS})")
    print(f"keyframes per viewer in window: mean {statistics.mean(r['keyframes'] for r in results or [{'keyframes': 0}]):.1f}; "
          f"incomplete frames (a packet missing): {sum(r['incomplete'] for r in results)}")
    if delays:
        q = statistics.quantiles(delays, n=100)
        print(f"delay publisher→viewer: p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms ({len(delays)} frames)")
    print(f"decoding viewers: {[round(d.frames / elapsed, 1) for d in deciders]} frames/s, picture sizes {set().union(*(d.sizes for d in deciders))}")
    print(f"relay processes: {relay_cpu / elapsed * 100:.0f} % of one core in all "
          f"({', '.join(f'{c / elapsed * 100:.0f} %' for c in relay_cpus)}), RSS {relay_rss:.0f} MB "
          f"({(relay_rss - relay_rss0) / max(served + len(deciders), 1):.2f} MB per viewer above the idle relays)")
    print(f"forwarding: {forward_cost * 1e6:.0f} µs CPU per frame per viewer = {per_viewer_cpu * 100:.2f} % of a core per viewer at {FPS} fps")
    print(f"encode per viewer (aiortc VP8, same run): {encode_cost * 1000:.1f} ms per frame = {encode_per_viewer_cpu * 100:.0f} % of a core per viewer")
    print(f"viewers per core at full rate: forwarding ≈ {1 / per_viewer_cpu:.0f}, encode-per-viewer ≈ {1 / encode_per_viewer_cpu:.1f} "
          f"(plus its packetising), ratio ≈ {encode_per_viewer_cpu / per_viewer_cpu:.1f}×")
    print(f"bench client processes: {', '.join(f'{c / elapsed * 100:.0f} %' for c in client_cpus)} of one core "
          f"(the first also runs the publisher and the decoding viewers; they share the machine too)")

    for d in deciders:
        d.task.cancel()
        await d.pc.close()
    for r in records:
        await r["pc"].close()
    await publisher.close()
    for process in (*workers, *relays, daphne):
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--bitrate", type=int, default=1_500_000)
    parser.add_argument("--loop", type=int, default=90, help="frames in the pre-encoded loop")
    parser.add_argument("--relays", type=int, default=1, help="relay processes (more than one: a relay tree)")
    parser.add_argument("--max-per-relay", type=int, default=0,
                        help="viewer cap per relay process (default: all viewers fit in one)")
    parser.add_argument("--clients", type=int, default=1,
                        help="processes the counting viewers are spread over (so the bench is not the limit)")
    parser.add_argument("--client-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_worker:
        asyncio.run(client_worker(args.client_worker))
        return
    if not os.environ.get("REDIS_URL"):
        sys.exit("set REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    asyncio.run(asyncio.wait_for(run(args), timeout=160))


if __name__ == "__main__":
    main()
