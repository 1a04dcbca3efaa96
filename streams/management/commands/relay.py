"""`manage.py relay`: the stage relay worker (WHIP ingest, WHEP playback), its own process."""

import asyncio
import json
import logging
import secrets
import signal
import time

import redis.asyncio as aioredis
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand

from eventplatform.realtime import bus, groups
from streams import relay_link, selectors
from streams.relay import Relay, RelayRefusal
from streams.relay_link import reply_key, request_list
from streams.services import relay_control_channel

logger = logging.getLogger("streams.relay")


class Command(BaseCommand):
    help = "Run the stage relay: receives WHIP publishers, serves WHEP viewers, never transcodes."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-viewers", type=int, default=getattr(settings, "STREAMS_RELAY_MAX_VIEWERS", 150),
            help="viewers this process serves before it answers 'over capacity' (links to other relays not counted)",
        )

    def handle(self, *args, max_viewers, **options):
        asyncio.run(RelayWorker(max_viewers).run())


class RelayWorker:
    """One relay process: answers its own request list and the shared one, registers its load."""

    def __init__(self, max_viewers: int) -> None:
        self.name = secrets.token_hex(4)
        self.relay = Relay(max_viewers, name=self.name)
        self.relay.on_change = self.changed
        self.redis = aioredis.Redis.from_url(settings.REDIS_URL, socket_timeout=None)
        self.stopping = asyncio.Event()
        self.registration_due = asyncio.Event()
        self.dirty_stages: set[int] = set()
        self.started_or_ended: set[int] = set()
        self.last_viewers: dict[int, int] = {}
        self.events: dict[int, int] = {}  # stage → event, for pushes after a feed ended
        self.others: dict[int, int] = {}  # stage → viewers on other relay processes (last report)

    def changed(self, feed) -> None:
        self.registration_due.set()  # routers should see a new count now, not in up to a second
        if feed.edge:
            return  # the ingest process reports the stage (with this process's viewers in it)
        self.events[feed.room_id] = feed.event_id
        self.dirty_stages.add(feed.room_id)
        if feed.ended or not feed.viewers:
            self.started_or_ended.add((feed.room_id, feed.event_id))

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        await self.register()
        tasks = [asyncio.ensure_future(c) for c in (self.serve(), self.report(), self.control(), self.registration())]
        logger.info("relay %s ready (max %d viewers)", self.name, self.relay.max_viewers)
        await self.stopping.wait()
        for task in tasks:
            task.cancel()
        await relay_link.unregister(self.redis, self.name)
        await self.relay.close()
        await self.report_once()
        await self.redis.aclose()

    async def serve(self) -> None:
        # Our own list first: viewers routed here and edge links must not wait behind a publish.
        lists = [request_list(self.name), request_list()]
        while True:
            item = await self.redis.blpop(lists, timeout=1)
            if item is not None:
                asyncio.ensure_future(self.answer(json.loads(item[1])))

    def registration_info(self) -> dict:
        feeds = self.relay.feeds.values()
        return {
            "id": self.name,
            "viewers": self.relay.viewer_count() + self.relay.joining,
            "cap": self.relay.max_viewers,
            "stages": {str(f.room_id): f.people() for f in feeds},
            "ingest": [f.room_id for f in feeds if not f.edge],
        }

    async def register(self) -> None:
        await relay_link.register(self.redis, self.registration_info())

    async def registration(self) -> None:
        """Every second, and soon after each change (coalesced to at most 10 writes a second)."""
        while True:
            try:
                await asyncio.wait_for(self.registration_due.wait(), timeout=1)
            except TimeoutError:
                pass
            self.registration_due.clear()
            await self.register()
            await asyncio.sleep(0.1)

    async def ask_ingest(self, room_id: int, offer: str) -> str:
        """Our WHEP offer to the stage's ingest process (this process becomes its pass-through viewer)."""
        ingest = relay_link.ingest_of(room_id, await relay_link.processes(self.redis))
        if ingest is None:
            raise RelayRefusal("nothing_live")
        answer = await relay_link.call("whep_edge", process=ingest["id"], redis=self.redis, room_id=room_id, sdp=offer)
        if not answer["ok"]:
            raise RelayRefusal(answer["code"], answer.get("detail", ""))
        return answer["sdp"]

    async def answer(self, request: dict) -> None:
        if request.get("expires", 0) < time.time():
            return  # its caller has given up
        try:
            result = await self.dispatch(request)
            # Registered before the answer: the next request routed anywhere sees this change
            # (a viewer right after a publish finds the ingest; counts include this viewer).
            await self.register()
        except RelayRefusal as refusal:
            result = {"ok": False, "code": refusal.code, "detail": refusal.detail}
        except Exception:
            logger.exception("relay request %s failed", request.get("op"))
            result = {"ok": False, "code": "relay_error", "detail": ""}
        key = reply_key(request["id"])
        await self.redis.rpush(key, json.dumps(result))
        await self.redis.expire(key, 30)

    async def dispatch(self, request: dict) -> dict:
        op = request["op"]
        if op == "whip":
            resource, answer = await self.relay.publish(
                room_id=request["room_id"], event_id=request["event_id"], key_id=request["key_id"], sdp=request["sdp"]
            )
            return {"ok": True, "resource": resource, "sdp": answer}
        if op == "whip_delete":
            await self.relay.unpublish(room_id=request["room_id"], resource=request["resource"], key_id=request["key_id"])
            return {"ok": True}
        if op == "whep":
            room_id = request["room_id"]
            resource, answer = await self.relay.play(
                room_id=room_id, participant_id=request["participant_id"], sdp=request["sdp"],
                event_id=request.get("event_id", 0), ask_ingest=lambda offer: self.ask_ingest(room_id, offer),
            )
            return {"ok": True, "resource": resource, "sdp": answer}
        if op == "whep_edge":  # another relay process pulls the stage from us
            resource, answer = await self.relay.play(
                room_id=request["room_id"], participant_id=0, sdp=request["sdp"], edge=True
            )
            return {"ok": True, "resource": resource, "sdp": answer}
        if op == "whep_delete":
            await self.relay.stop_viewer(request["resource"], participant_id=request["participant_id"])
            return {"ok": True}
        raise RelayRefusal("unknown_op")

    async def control(self) -> None:
        """Key revocations from the web process end the ingest that uses the key."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(relay_control_channel())
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            words = message["data"].decode().split()
            if len(words) == 2 and words[0] == "revoke" and words[1].isdigit():
                await self.relay.revoke_key(int(words[1]))

    async def report(self) -> None:
        while True:
            await self.report_once()
            await asyncio.sleep(1)

    async def report_once(self) -> None:
        """Once a second: health per live stage into Redis; changes pushed, coalesced."""
        others = {}  # stage → viewers served by the other relay processes (edges of our ingests)
        if any(not f.edge for f in self.relay.feeds.values()):
            for process in await relay_link.processes(self.redis):
                if process["id"] != self.name:
                    for room, count in process["stages"].items():
                        others[int(room)] = others.get(int(room), 0) + count
        self.others = others
        for feed in list(self.relay.feeds.values()):
            if feed.edge:
                continue
            self.dirty_stages.add(feed.room_id)  # viewers on edges change without telling us
            fps, kbps = feed.rates()
            feed.window = [time.monotonic(), 0, 0]
            video = feed.codecs.get("video") or feed.codecs.get("audio")
            info = {"viewers": feed.people() + others.get(feed.room_id, 0), "fps": round(fps, 1), "bitrate_kbps": round(kbps, 1),
                    "codec": video.mimeType if video else ""}
            await self.redis.set(selectors.live_key(feed.room_id), json.dumps(info), ex=5)
        ended = self.started_or_ended
        self.started_or_ended = set()
        for room_id, event_id in ended:
            if room_id not in self.relay.feeds:
                await self.redis.delete(selectors.live_key(room_id))
            await sync_to_async(_push_stage)(room_id, event_id)
        dirty = self.dirty_stages
        self.dirty_stages = set()
        for room_id in dirty:
            feed = self.relay.feeds.get(room_id)
            count = feed.people() + self.others.get(room_id, 0) if feed else 0
            if self.last_viewers.get(room_id) != count:
                self.last_viewers[room_id] = count
                event_id = self.events[room_id]
                await sync_to_async(bus.publish)(
                    groups.moderators(event_id), "stage.viewers", {"room_id": room_id, "viewers": count}
                )


def _push_stage(room_id: int, event_id: int) -> None:
    """Live started or ended: every viewer's player switches (relay ↔ slate/fallback)."""
    bus.publish(groups.event(event_id), "stage.source", selectors.stage_view(room_id))
