"""What the relay reports about a stage (it writes a small JSON into Redis every second)."""

import json

from eventplatform.realtime.runtime import runtime
from streams.selectors import live_key


async def stage_health(room_id: int) -> dict:
    raw = await runtime().redis.get(live_key(room_id))
    info = json.loads(raw) if raw else {}
    return {
        "room_id": room_id,
        "live": bool(info),
        "viewers": int(info.get("viewers", 0)),
        "bitrate_kbps": float(info.get("bitrate_kbps", 0.0)),
        "fps": float(info.get("fps", 0.0)),
        "codec": str(info.get("codec", "")),
    }
