"""WebSocket frames built once and written straight to each socket's connection.

A push to a thousand sockets is the same bytes for every one of them: frames from server to
client are not masked (RFC 6455 §5.1) and daphne negotiates no compression. Through Channels
and daphne, each `send` hops through the session middleware and daphne's reply handler,
encodes the text to UTF-8 again, builds a frame header, and has autobahn format debug text it
never logs: about 0.1 ms of CPU per delivery, most of a fan-out's cost (docs/benchmarks.md).
Here a frame is built once per message and written to each open connection's transport.

Only under daphne: `capture` (the outermost ASGI layer of the socket route) keeps the `send`
daphne handed the application, which is daphne's reply handler bound to the connection's
protocol. Any other server (Channels' test communicator, uvicorn) gets no wire, and the
consumer sends the ordinary way. Whether the direct line works under the daphne we ship is
checked by a test against a real daphne process (tests/test_wire.py).
"""

import functools
import struct

from django.conf import settings

SCOPE_KEY = "eventplatform.raw_send"

_TEXT = 0x81  # FIN + text opcode


def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented text frame carrying `text`."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = bytes((_TEXT, size))
    elif size < 1 << 16:
        header = struct.pack("!BBH", _TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", _TEXT, 127, size)
    return header + payload


def capture(app):
    """ASGI wrapper that remembers the server's own `send` in the scope, before any middleware
    wraps it."""

    async def with_raw_send(scope, receive, send):
        return await app({**scope, SCOPE_KEY: send}, receive, send)

    return with_raw_send


def _daphne_protocol(send):
    if not isinstance(send, functools.partial) or not send.args:
        return None
    try:
        from daphne.server import Server
    except ImportError:
        return None
    owner = getattr(send.func, "__self__", None)
    if not isinstance(owner, Server) or getattr(send.func, "__name__", "") != "handle_reply":
        return None
    protocol = send.args[0]
    if not all(hasattr(protocol, name) for name in ("state", "STATE_OPEN", "transport")):
        return None
    if getattr(protocol, "_perMessageCompress", None) is not None:
        return None  # compressed frames differ per connection: the ordinary path
    return protocol


class SlowSocket(Exception):
    """The client reads slower than we write: its unsent bytes passed the limit."""


class Wire:
    """One socket's direct line to its connection."""

    __slots__ = ("_protocol", "_socket")

    def __init__(self, protocol) -> None:
        self._protocol = protocol
        self._socket = _plain_tcp_socket(protocol.transport)

    @classmethod
    def for_scope(cls, scope) -> "Wire | None":
        protocol = _daphne_protocol(scope.get(SCOPE_KEY))
        return cls(protocol) if protocol is not None else None

    def write(self, frame: bytes) -> bool:
        """Write a frame if the socket is open (True), else leave it to the ordinary path.

        Raises SlowSocket when the connection already holds more unsent bytes than
        WS_MAX_BUFFERED_BYTES: a client that stopped reading must not grow our memory."""
        protocol = self._protocol
        transport = protocol.transport
        if protocol.state != protocol.STATE_OPEN or transport is None or transport.disconnecting:
            return False
        unsent = _unsent(transport)
        if unsent > settings.REALTIME["MAX_BUFFERED_BYTES"]:
            raise SlowSocket()
        if unsent == 0 and self._socket is not None:
            # Nothing queued before it: hand the frame to the kernel now. Twisted would queue it,
            # register the socket for writing, send on the next loop turn and unregister again:
            # two epoll changes and a callback per delivery, most of a fan-out's cost.
            try:
                sent = self._socket.send(frame)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                sent = 0  # a broken connection: Twisted finds out on its own write and closes it
            if sent == len(frame):
                return True
            frame = frame[sent:]  # the kernel's buffer is full: the rest waits in order
        transport.write(frame)
        return True

    def abort(self) -> None:
        """Drop the connection at once, unsent bytes and all (the client reconnects and
        resumes); daphne then ends the consumer as for any lost connection."""
        transport = self._protocol.transport
        if transport is not None:
            transport.abortConnection()


def _plain_tcp_socket(transport):
    """The socket of a plain TCP connection (not TLS, not a test transport), else None."""
    try:
        from twisted.internet.tcp import Connection
    except ImportError:
        return None
    return transport.socket if isinstance(transport, Connection) else None


def _unsent(transport) -> int:
    # Twisted keeps what the kernel did not take in `dataBuffer` (from `offset`) and what was
    # written since in `_tempDataLen`; other transports report nothing.
    try:
        return len(transport.dataBuffer) - transport.offset + transport._tempDataLen
    except AttributeError:
        return 0
