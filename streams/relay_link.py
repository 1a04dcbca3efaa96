"""How the web process talks to the relay processes: requests on Redis lists, a reply key each.

Any number of web processes can ask; any number of relay processes answer. Publishing (WHIP)
goes on the shared list: whichever relay takes it becomes the stage's ingest. Every relay
process also has its own list and registers itself (viewers, cap, stages it serves) every
second under a key that expires, so a dead process drops out by itself. A viewer (WHEP) is sent
to a process with room: one that already serves the stage first, then the least loaded (which
pulls the stage from the ingest: a relay tree). When every process is full the web process
answers "over capacity" itself. A request waits at most `timeout` seconds: if no relay runs, the
view answers 503 instead of hanging.
"""

import json
import secrets
import time

from django.conf import settings

from eventplatform.realtime.runtime import runtime

REGISTRATION_TTL = 3  # seconds a process stays registered without refreshing (it refreshes every second)


def request_list(process: str | None = None) -> str:
    if process is None:
        return f"{settings.REDIS_PREFIX}:relay:requests"
    return f"{settings.REDIS_PREFIX}:relay:requests:{process}"


def reply_key(request_id: str) -> str:
    return f"{settings.REDIS_PREFIX}:relay:reply:{request_id}"


def processes_key() -> str:
    return f"{settings.REDIS_PREFIX}:relay:processes"


def process_key(process: str) -> str:
    return f"{settings.REDIS_PREFIX}:relay:process:{process}"


class RelayUnavailable(Exception):
    pass


async def call(op: str, timeout: float = 15, process: str | None = None, redis=None, **params) -> dict:
    redis = redis or runtime().redis
    request_id = secrets.token_hex(12)
    # Requests expire with the caller: a relay that starts late must not answer a gone viewer.
    request = json.dumps({"id": request_id, "op": op, "expires": time.time() + timeout, **params})
    await redis.rpush(request_list(process), request)
    answer = await redis.blpop([reply_key(request_id)], timeout=timeout)
    if answer is None:
        raise RelayUnavailable(op)
    return json.loads(answer[1])


async def register(redis, info: dict) -> None:
    """A relay process says it is alive and how loaded it is (called every second and on changes)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.sadd(processes_key(), info["id"])
        pipe.set(process_key(info["id"]), json.dumps(info), ex=REGISTRATION_TTL)
        await pipe.execute()


async def unregister(redis, process: str) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.srem(processes_key(), process)
        pipe.delete(process_key(process))
        await pipe.execute()


async def processes(redis) -> list[dict]:
    """The relay processes alive now (their last registration)."""
    ids = sorted(m.decode() if isinstance(m, bytes) else m for m in await redis.smembers(processes_key()))
    if not ids:
        return []
    found = await redis.mget([process_key(i) for i in ids])
    gone = [i for i, value in zip(ids, found) if value is None]
    if gone:
        await redis.srem(processes_key(), *gone)
    return [json.loads(value) for value in found if value is not None]


def ingest_of(room_id: int, alive: list[dict]) -> dict | None:
    return next((p for p in alive if room_id in p["ingest"]), None)


def viewer_order(room_id: int, alive: list[dict]) -> list[dict]:
    """Processes that may take one more viewer of the stage, best first.

    One that already serves the stage needs no new link; among those the least loaded. Only when
    they are full, another process (it pulls the stage from the ingest once).
    """
    room = str(room_id)
    open_ = [p for p in alive if p["viewers"] < p["cap"]]
    return sorted(open_, key=lambda p: (room not in p["stages"] and room_id not in p["ingest"], p["viewers"]))


async def play(room_id: int, timeout: float = 15, **params) -> dict:
    """Ask a relay process with room to serve one more viewer of the stage."""
    redis = runtime().redis
    alive = await processes(redis)
    if not alive:  # none registered (yet): the shared list, answered by any relay or timed out
        return await call("whep", timeout=timeout, room_id=room_id, **params)
    if ingest_of(room_id, alive) is None:
        return {"ok": False, "code": "nothing_live"}
    answer = {"ok": False, "code": "over_capacity"}
    for process in viewer_order(room_id, alive):
        # Counts are up to a second old: a process that filled up meanwhile says so; try the next.
        answer = await call("whep", timeout=timeout, process=process["id"], room_id=room_id, **params)
        if answer["ok"] or answer["code"] != "over_capacity":
            return answer
    return answer


async def publish(room_id: int, **params) -> dict:
    """The stage's ingest if it has one (it answers "busy"), else whichever relay takes it first."""
    alive = await processes(runtime().redis)
    ingest = ingest_of(room_id, alive)
    return await call("whip", process=ingest["id"] if ingest else None, room_id=room_id, **params)


def _owner(resource: str) -> str | None:
    """The relay process a resource belongs to: its name is `<process>.<token>`."""
    process, _sep, _token = resource.rpartition(".")
    return process or None


async def unpublish(resource: str, **params) -> dict:
    return await call("whip_delete", process=_owner(resource), resource=resource, **params)


async def stop_viewer(resource: str, **params) -> dict:
    return await call("whep_delete", process=_owner(resource), resource=resource, **params)
