"""Per-connection message rate limit (fixed window), counted in the process that holds the socket.

A connection lives in exactly one process, so its count needs no shared store: counting here
costs no round trip to Redis per frame (it was one per message, a third of a relayed WebRTC
signal's Redis traffic) and limits exactly as before.
"""

import time

from django.conf import settings


class RateLimiter:
    def __init__(self) -> None:
        # conn id → (when its window ends, messages in it); windows that ended are swept.
        self._windows: dict[str, tuple[float, int]] = {}
        self._next_sweep = 0.0

    async def hit(self, conn_id: str) -> float | None:
        """Count one message; returns None if allowed, else seconds until the window reopens."""
        now = time.monotonic()
        limit = settings.REALTIME["RATE_LIMIT"]
        ends, count = self._windows.get(conn_id, (0.0, 0))
        if now >= ends:
            ends, count = now + settings.REALTIME["RATE_WINDOW"], 0
        count += 1
        self._windows[conn_id] = (ends, count)
        if now >= self._next_sweep:
            self._sweep(now)
        if count > limit:
            return round(max(ends - now, 0.001), 3)
        return None

    def _sweep(self, now: float) -> None:
        # Closed connections stop hitting; their ended windows go within a window's time.
        self._windows = {key: window for key, window in self._windows.items() if window[0] > now}
        self._next_sweep = now + settings.REALTIME["RATE_WINDOW"]
