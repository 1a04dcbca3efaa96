"""Small corrections to the web server's libraries, applied when the ASGI application loads.

autobahn (daphne's WebSocket implementation) pretty-prints its whole configuration for a
debug log line on every new connection, whether debug logging is on or not: about 5 % of a
join's CPU in the join storm profile. Handing it a lazy value keeps the log line intact (it is
formatted only when written) and the cost away.

The same for every frame: autobahn colours the arguments of its debug lines about each frame
received and sent (`hltype`, `hlval`: click.style, about 20 µs a frame) before the logger drops
them; a relayed WebRTC signal is three such frames. Lazy values again.
"""

import pprint


class _LazyText:
    """A log argument rendered only if the line is written."""

    __slots__ = ("_render",)

    def __init__(self, render) -> None:
        self._render = render

    def __str__(self) -> str:
        return self._render()

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _lazy(formatter):
    def lazy(*args, **kwargs):
        return _LazyText(lambda: formatter(*args, **kwargs))

    return lazy


def apply() -> None:
    try:
        from autobahn.websocket import protocol
    except ImportError:  # not served by daphne
        return
    from autobahn import util
    from autobahn.twisted import websocket

    protocol.pformat = _lazy(pprint.pformat)
    # Both modules use these only as keyword arguments of log calls.
    for module in (protocol, websocket):
        module.hltype = _lazy(util.hltype)
        module.hlval = _lazy(util.hlval)
    # The module's one other use must still return a real string.
    protocol.Timings.__str__ = lambda timings: pprint.pformat(timings._timings)
