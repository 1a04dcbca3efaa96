"""Socket commands of the stage: thin, each checks who may call it and calls a service."""

from channels.db import database_sync_to_async
from django.conf import settings

from eventplatform.models import Participant
from eventplatform.realtime import permissions as perms
from eventplatform.realtime.envelope import GatewayError
from eventplatform.realtime.registry import command, declare_push
from streams import health, schemas, selectors, services

declare_push("stage.source", schemas.StageOut, "A stage's source changed (session start/end, moderator, live state).")
declare_push("stage.keys", schemas.KeysOut, "Stream keys changed (moderators only).", group="moderators.<event_id>")
declare_push(
    "stage.viewers", schemas.ViewersOut, "Viewer count of a stage, coalesced (moderators only).",
    group="moderators.<event_id>",
)


def _participant(conn) -> Participant:
    return Participant.objects.get(pk=conn.actor.participant_id)


def whip_url(room_id: int) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}/api/streams/{room_id}/whip"


@command("stage.state", reply=schemas.StagesOut)
async def stage_state(conn, msg) -> dict:
    """Every stage of the event: what it shows now and what comes next."""
    return {"stages": await database_sync_to_async(selectors.stages)(conn.event_id)}


@command("stage.source.set", schema=schemas.SourceSetIn, reply=schemas.StageOut, permission=perms.moderator)
async def source_set(conn, msg: schemas.SourceSetIn) -> dict:
    """Set the source of a stage, or of one session on it."""

    def run():
        services.set_source(
            _participant(conn), room_id=msg.room_id, session_id=msg.session_id, kind=msg.kind, url=msg.url,
            fallback_url=msg.fallback_url,
        )
        return selectors.stage_view(msg.room_id)

    return await database_sync_to_async(run)()


@command("stage.key.issue", schema=schemas.KeyIssueIn, reply=schemas.KeyIssued, permission=perms.speaker)
async def key_issue(conn, msg: schemas.KeyIssueIn) -> dict:
    """A new stream key for OBS or the browser; its secret is in this reply only."""

    def run():
        key, secret = services.issue_key(_participant(conn), room_id=msg.room_id, label=msg.label)
        view = next(k for k in selectors.keys_view(conn.event_id) if k["id"] == key.pk)
        return {"key": view, "secret": secret, "whip_url": whip_url(msg.room_id)}

    return await database_sync_to_async(run)()


@command("stage.keys.list", reply=schemas.KeysOut, permission=perms.moderator)
async def keys_list(conn, msg) -> dict:
    """The event's stream keys (never their secrets)."""
    return {"keys": await database_sync_to_async(selectors.keys_view)(conn.event_id)}


@command("stage.key.revoke", schema=schemas.KeyRevokeIn, reply=schemas.KeyOut, permission=perms.speaker)
async def key_revoke(conn, msg: schemas.KeyRevokeIn) -> dict:
    """Revoke a key (moderators: any; speakers: their own). An ingest using it ends."""

    def run():
        key = services.revoke_key(_participant(conn), key_id=msg.key_id)
        return next(k for k in selectors.keys_view(conn.event_id) if k["id"] == key.pk)

    return await database_sync_to_async(run)()


@command("stage.health", schema=schemas.StageRef, reply=schemas.HealthOut, permission=perms.speaker)
async def stage_health(conn, msg: schemas.StageRef) -> dict:
    """Stream health for the speaker: live, bitrate, frame rate, viewers (from the relay)."""
    room = await database_sync_to_async(selectors.stage_room)(msg.room_id)
    if room is None or room.event_id != conn.event_id:
        raise GatewayError("stage_unknown", "There is no such stage in this event.")
    return await health.stage_health(msg.room_id)
