"""The event socket: one per browser tab per event, at /ws/events/<slug>/.

The consumer owns the envelope, authentication, rate limit, presence and group membership;
the commands themselves live in the apps (registered in realtime/registry.py) and are thin
calls into services. Nothing a client sends can close the connection or raise a 500: every
refusal is an error reply (for a notification, a frame without id: a `gateway.refused` push).
"""

import logging
import uuid

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.exceptions import StopConsumer
from channels.consumer import get_handler_name
from django.conf import settings
from pydantic import ValidationError

from eventplatform.realtime import groups
from eventplatform.realtime.actor import Actor
from eventplatform.realtime.auth import authenticate
from eventplatform.realtime.envelope import (
    GatewayError,
    encode_error,
    encode_push,
    encode_refusal,
    encode_reply,
    parse_frame,
)
from eventplatform.realtime.registry import COMMANDS, CONNECT_HOOKS, DISCONNECT_HOOKS
from eventplatform.realtime.runtime import runtime
from eventplatform.realtime.wire import SlowSocket, Wire, text_frame

log = logging.getLogger(__name__)

# Close codes in the 4000 range (application-defined): the client must not retry these.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def _validation_details(exc: ValidationError) -> list[dict]:
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or "data", "problem": error["msg"]}
        for error in exc.errors(include_url=False, include_input=False)
    ]


class EventConsumer(AsyncWebsocketConsumer):
    actor: Actor | None = None
    wire: Wire | None = None  # the direct line to the connection, under daphne (wire.py)
    # Pushes come through the hub (Redis pub/sub per process), never the channel layer: without
    # one, a socket does not hold a pending channel-layer receive for its whole life.
    channel_layer_alias = None

    # --- the interface handlers use (see registry.command) ---------------------------------
    @property
    def event_id(self) -> int:
        return self.actor.event_id

    async def join(self, group: str) -> None:
        if group not in self.groups_joined:
            self.groups_joined.add(group)
            await runtime().hub.join(group, self)

    async def leave(self, group: str) -> None:
        if group in self.groups_joined:
            self.groups_joined.discard(group)
            await runtime().hub.leave(group, self)

    async def push(self, type_: str, data) -> None:
        await self.write(encode_push(type_, data))

    async def write(self, text: str) -> None:
        """Send one encoded message to this socket."""
        if self.wire is not None and self.write_frame(text_frame(text)):
            return
        await self.send(text_data=text)

    def write_frame(self, frame: bytes) -> bool:
        """Write a ready-made frame on the direct line; False if the ordinary path must send.
        A client too slow to take what we send is cut off instead of filling our memory."""
        try:
            return self.wire.write(frame)
        except SlowSocket:
            log.info("socket %s closed: its client stopped reading", getattr(self, "conn_id", "?"))
            self.wire.abort()
            return True  # nothing more is sent to it

    async def set_room(self, room_id: int | None) -> None:
        """Record where this person is now (shown in presence)."""
        self.room_id = room_id
        await runtime().presence.update(self.actor.event_id, self.conn_id, self._profile())

    # --- lifecycle --------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        # Channels' loop (await_many_dispatch) waits on the client and a channel layer with
        # asyncio.wait and a new task per message. This socket has no channel layer (see
        # channel_layer_alias), so it reads its one source directly: one await per frame
        # instead of a new task, a wait set and their callbacks per frame.
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message) -> None:
        if message["type"] == "websocket.receive":  # nearly every message: skip the name lookup
            text = message.get("text")
            if text is not None:
                await self.receive(text_data=text)
            else:
                await self.receive(bytes_data=message.get("bytes"))
            return
        # Channels (4.2+) first hops to the one sync thread to close stale database connections,
        # before every message: ~0.2 ms of CPU per frame, and every frame queues behind whatever
        # database work runs there. This consumer touches the database only through
        # database_sync_to_async, which closes them itself in that thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message) -> None:
        await self.disconnect(message["code"])  # (no channel-layer groups; no extra hop, as above)
        raise StopConsumer()

    async def connect(self) -> None:
        self.conn_id = uuid.uuid4().hex
        self.groups_joined: set[str] = set()
        self.room_id: int | None = None
        slug = self.scope["url_route"]["kwargs"]["slug"]
        # Accept first so a refused ticket is told why instead of seeing a bare failed handshake.
        await self.accept()
        self.wire = Wire.for_scope(self.scope)
        try:
            self.actor = await authenticate(self.scope, slug)
        except GatewayError as refusal:
            await self.send(text_data=encode_error(None, refusal))
            code = CLOSE_FORBIDDEN if refusal.code == "forbidden" else CLOSE_UNAUTHENTICATED
            await self.close(code=code)
            return
        actor = self.actor
        await self.join(groups.event(actor.event_id))
        await self.join(groups.user(actor.participant_id))
        if actor.roles & {"staff", "organizer"}:
            await self.join(groups.staff(actor.event_id))
        if actor.roles & {"moderator", "organizer"}:
            await self.join(groups.moderators(actor.event_id))
        await runtime().presence.enter(actor.event_id, self.conn_id, self._profile())
        for hook in CONNECT_HOOKS:
            await hook(self)

    async def disconnect(self, code) -> None:
        if self.actor is not None:
            for hook in DISCONNECT_HOOKS:
                try:
                    await hook(self)
                except Exception:  # one feature's cleanup must not skip the others'
                    log.exception("disconnect hook %s failed", hook.__qualname__)
        for group in list(getattr(self, "groups_joined", ())):
            await self.leave(group)
        if self.actor is not None:
            await runtime().presence.leave(self.actor.event_id, self.conn_id)

    def _profile(self) -> dict:
        return {**self.actor.public, "room_id": self.room_id}

    # --- messages from the client -------------------------------------------------------------
    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.actor is None:
            return  # refused at connect; the close is on its way
        request_id = None
        frame = None
        try:
            frame, malformed = self._read_frame(text_data)
            request_id = frame.id if frame else malformed.extra.pop("id", None)
            # Every frame counts against the limit, garbage included.
            retry_after = await runtime().limiter.hit(self.conn_id, self.actor.participant_id)
            if retry_after is not None:
                raise GatewayError("rate_limited", "Too many messages; slow down.", retry_after=retry_after)
            if malformed is not None:
                raise malformed
            reply = await self._dispatch(frame.type, frame.data)
            if request_id is not None:  # else a notification: accepted, and nothing to say
                await self.write(encode_reply(request_id, reply))
        except GatewayError as refusal:
            await self.write(self._refusal(frame, request_id, refusal))
        except Exception:
            log.exception("socket command %s (id %s) failed", frame.type if frame else "?", request_id)
            await self.write(self._refusal(frame, request_id, GatewayError("internal", "Something went wrong on our side.")))

    @staticmethod
    def _refusal(frame, request_id: int | None, refusal: GatewayError) -> str:
        if frame is not None and frame.id is None:
            return encode_refusal(frame.type, refusal)  # a notification: named by its type
        return encode_error(request_id, refusal)

    @staticmethod
    def _read_frame(text_data: str | None):
        """(frame, None) for a well-formed frame, else (None, the error to answer with)."""
        if text_data is None:
            return None, GatewayError("bad_frame", "Send text frames with JSON, not binary frames.")
        limit = settings.REALTIME["MAX_FRAME_BYTES"]
        # Characters first: cheap, and a string of n characters has at least n UTF-8 bytes.
        if len(text_data) > limit or len(text_data.encode("utf-8")) > limit:
            return None, GatewayError("too_large", f"The message is larger than {limit} bytes.", limit=limit)
        try:
            return parse_frame(text_data), None
        except GatewayError as malformed:
            return None, malformed

    async def _dispatch(self, type_: str, data: dict):
        spec = COMMANDS.get(type_)
        if spec is None:
            raise GatewayError("unknown_type", f"Unknown message type {type_!r}.")
        if not spec.permission(self.actor):
            raise GatewayError("forbidden", f"Only {spec.permission.description} may do this.")
        try:
            body = spec.schema.model_validate(data)
        except ValidationError as exc:
            raise GatewayError("invalid", "The message data is not valid.", details=_validation_details(exc)) from None
        reply = await spec.func(self, body)
        # Replies go out through their declared schema, so the generated protocol document
        # cannot drift from what the server really sends.
        return spec.reply.model_validate(reply) if spec.reply is not None else reply

    # --- from the hub ----------------------------------------------------------------------------
    async def deliver(self, text: str) -> None:
        await self.send(text_data=text)  # the ordinary path; the hub writes frames itself when it can

    async def on_control(self, message: dict) -> None:
        action = message.get("action")
        if action == "close":
            await self.send(
                text_data=encode_error(None, GatewayError(message.get("code", "forbidden"), message.get("reason", "")))
            )
            await self.close(code=CLOSE_FORBIDDEN)
        elif action == "join":
            await self.join(message["group"])
        elif action == "leave":
            await self.leave(message["group"])
        elif action == "push":
            await self.push(message["type"], message["data"])

    async def on_resync(self) -> None:
        await self.push("gateway.resync", {})
