"""Small corrections to the web server's libraries, applied when the ASGI application loads.

autobahn (daphne's WebSocket implementation) pretty-prints its whole configuration for a
debug log line on every new connection, whether debug logging is on or not: about 5 % of a
join's CPU in the join storm profile. Handing it a lazy value keeps the log line intact (it is
formatted only when written) and the cost away.
"""

import pprint


class _LazyPformat:
    __slots__ = ("_value",)

    def __init__(self, value) -> None:
        self._value = value

    def __str__(self) -> str:
        return pprint.pformat(self._value)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def apply() -> None:
    try:
        from autobahn.websocket import protocol
    except ImportError:  # not served by daphne
        return
    protocol.pformat = _LazyPformat
    # The module's one other use must still return a real string.
    protocol.Timings.__str__ = lambda timings: pprint.pformat(timings._timings)
