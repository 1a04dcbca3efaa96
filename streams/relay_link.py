"""How the web process talks to the relay process: requests on a Redis list, a reply key each.

Any number of web processes can ask; the relay process answers. A request waits at most
`timeout` seconds: if no relay runs, the view answers 503 instead of hanging.
"""

import json
import secrets

from django.conf import settings

from eventplatform.realtime.runtime import runtime


def request_list() -> str:
    return f"{settings.REDIS_PREFIX}:relay:requests"


def reply_key(request_id: str) -> str:
    return f"{settings.REDIS_PREFIX}:relay:reply:{request_id}"


class RelayUnavailable(Exception):
    pass


async def call(op: str, timeout: float = 15, **params) -> dict:
    redis = runtime().redis
    request_id = secrets.token_hex(12)
    # Requests expire with the caller: a relay that starts late must not answer a gone viewer.
    await redis.rpush(request_list(), json.dumps({"id": request_id, "op": op, "expires": _now() + timeout, **params}))
    answer = await redis.blpop([reply_key(request_id)], timeout=timeout)
    if answer is None:
        raise RelayUnavailable(op)
    return json.loads(answer[1])


def _now() -> float:
    import time

    return time.time()
