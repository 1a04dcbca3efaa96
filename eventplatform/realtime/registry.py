"""What the event socket understands. Apps register here in their AppConfig.ready().

- commands: `@command("chat.send", schema=SendIn, reply=MessageOut, permission=perms.participant)`
- pushes:   `declare_push("chat.message", MessageOut, "…")` documents what the server sends
- streams:  `@stream("agenda")` provides a stream's part of the snapshot and its resume
- reads:    `@join_read("barcamp")` reads one person's rows for a stream, in one database trip
            with every other feature's when a socket says hello
- hooks:    `@on_connect` / `@on_disconnect` run for every socket after authentication and
            at its end (e.g. join the groups a feature pushes to, place a late arrival)

The AsyncAPI document is generated from these registrations (realtime/asyncapi.py).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from eventplatform.realtime import permissions as perms
from eventplatform.realtime.permissions import Permission


class Command(BaseModel):
    """Base of every client → server message body: strict types, no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Empty(Command):
    pass


@dataclass(frozen=True)
class CommandSpec:
    type: str
    func: Callable[..., Awaitable[Any]]
    schema: type[BaseModel]
    reply: type[BaseModel] | None
    permission: Permission
    summary: str


@dataclass(frozen=True)
class PushSpec:
    type: str
    schema: type[BaseModel]
    summary: str
    group: str


COMMANDS: dict[str, CommandSpec] = {}
PUSHES: dict[str, PushSpec] = {}
STREAMS: dict[str, Callable[..., Awaitable[dict]]] = {}
JOIN_READS: dict[str, Callable[..., Any]] = {}
CONNECT_HOOKS: list[Callable[..., Awaitable[None]]] = []
DISCONNECT_HOOKS: list[Callable[..., Awaitable[None]]] = []


def command(
    type_: str,
    *,
    schema: type[BaseModel] = Empty,
    reply: type[BaseModel] | None = None,
    permission: Permission = perms.participant,
    summary: str = "",
):
    def register(func):
        if type_ in COMMANDS:
            raise ValueError(f"socket command {type_!r} registered twice")
        COMMANDS[type_] = CommandSpec(type_, func, schema, reply, permission, summary or (func.__doc__ or "").strip())
        return func

    return register


def declare_push(type_: str, schema: type[BaseModel], summary: str, group: str = "event.<id>") -> None:
    if type_ in PUSHES and PUSHES[type_].schema is not schema:
        raise ValueError(f"push {type_!r} declared twice with different schemas")
    PUSHES[type_] = PushSpec(type_, schema, summary, group)


def stream(name: str):
    """Register a snapshot stream: `async def provider(conn, cursor) -> dict`.

    The provider returns {"mode": "full", "cursor": c, "data": …} (a fresh state),
    {"mode": "delta", "cursor": c, "data": …} (what was missed since `cursor`), or
    {"mode": "unchanged", "cursor": c}.
    """

    def register(func):
        if name in STREAMS:
            raise ValueError(f"stream {name!r} registered twice")
        STREAMS[name] = func
        return func

    return register


def join_read(name: str):
    """Register `def read(actor) -> value` (sync): what stream `name` needs to read for one
    person (my votes, my stars). Every registered read runs in one trip to the database thread
    when a socket says `hello` (a join storm pays one hop per join, not one per feature); the
    stream's provider finds the value in `conn.join_reads[name]`."""

    def register(func):
        if name in JOIN_READS:
            raise ValueError(f"join read {name!r} registered twice")
        JOIN_READS[name] = func
        return func

    return register


def on_connect(func):
    """`async def hook(conn)`: runs once per socket, after authentication, before `hello`."""
    CONNECT_HOOKS.append(func)
    return func


def on_disconnect(func):
    """`async def hook(conn)`: runs once when an authenticated socket ends (errors are logged)."""
    DISCONNECT_HOOKS.append(func)
    return func
