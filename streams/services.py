"""Every change to a stage's stream: sources, the session on stage, stream keys.

Each function validates, writes in a transaction and publishes after commit. Refusals are
`GatewayError(code, message)` with stable codes; the socket handlers and HTTP views pass them on.
"""

import re
import secrets
from urllib.parse import parse_qs, urlparse

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from eventplatform.models import Participant, Room, Session
from eventplatform.realtime import bus, groups
from eventplatform.realtime.envelope import GatewayError
from streams import selectors
from streams.models import StageState, StreamKey, StreamSource, hash_stream_key

YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
VIMEO_ID = re.compile(r"^[0-9]{4,12}$")


def _stage(event_id: int, room_id: int) -> Room:
    room = Room.objects.filter(pk=room_id, event_id=event_id).first()
    if room is None:
        raise GatewayError("stage_unknown", _("There is no such stage in this event."))
    if room.kind != Room.Kind.STAGE:
        raise GatewayError("not_a_stage", _("This room is not a stage."))
    return room


def normalize_source_url(kind: str, url: str) -> str:
    """The address a player can use, from what an organizer pastes (a watch link, say)."""
    url = url.strip()
    if kind == StreamSource.Kind.RELAY:
        return ""
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http") or not parsed.netloc or len(url) > 500:
        raise GatewayError("source_url_invalid", _("Enter a complete web address (https://…)."))
    host = parsed.netloc.lower().removeprefix("www.").removeprefix("m.")
    if kind == StreamSource.Kind.YOUTUBE:
        video = None
        if host == "youtu.be":
            video = parsed.path.strip("/")
        elif host in ("youtube.com", "youtube-nocookie.com"):
            if parsed.path == "/watch":
                video = parse_qs(parsed.query).get("v", [""])[0]
            else:
                parts = parsed.path.strip("/").split("/")
                if len(parts) == 2 and parts[0] in ("embed", "live", "shorts"):
                    video = parts[1]
        if not video or not YOUTUBE_ID.match(video):
            raise GatewayError("source_url_invalid", _("This is not a YouTube video or live stream link."))
        return f"https://www.youtube-nocookie.com/embed/{video}"
    if kind == StreamSource.Kind.VIMEO:
        parts = parsed.path.strip("/").split("/")
        video = parts[-1] if host in ("vimeo.com", "player.vimeo.com") and parts else ""
        if not VIMEO_ID.match(video):
            raise GatewayError("source_url_invalid", _("This is not a Vimeo video link."))
        return f"https://player.vimeo.com/video/{video}"
    if kind == StreamSource.Kind.HLS and not parsed.path.endswith(".m3u8"):
        raise GatewayError("source_url_invalid", _("An HLS address ends in .m3u8."))
    return url


def set_source(
    actor: Participant, *, room_id: int, session_id: int | None, kind: str, url: str, fallback_url: str
) -> StreamSource:
    """A moderator sets what a stage (or one session on it) shows."""
    if not (actor.is_moderator or actor.is_organizer):
        raise GatewayError("forbidden", _("Only moderators may change the stage source."))
    if kind not in StreamSource.Kind.values:
        raise GatewayError("source_kind_invalid", _("Unknown kind of source."))
    url = normalize_source_url(kind, url)
    if kind != StreamSource.Kind.RELAY and not url:
        raise GatewayError("source_url_invalid", _("This kind of source needs an address."))
    fallback_url = normalize_source_url(StreamSource.Kind.HLS, fallback_url) if fallback_url.strip() else ""
    with transaction.atomic():
        room = _stage(actor.event_id, room_id)
        session = None
        if session_id is not None:
            session = Session.objects.filter(pk=session_id, event_id=actor.event_id, room=room).first()
            if session is None:
                raise GatewayError("session_unknown", _("This session is not on this stage."))
        source, _created = StreamSource.objects.update_or_create(
            room=room,
            session=session,
            defaults={"event_id": actor.event_id, "kind": kind, "url": url, "fallback_url": fallback_url},
        )
        _publish_stage(room)
    return source


def set_stage_session(room: Room, session: Session | None) -> bool:
    """Put a session on the stage (or the slate, with None). Returns whether anything changed."""
    with transaction.atomic():
        state, _created = StageState.objects.select_for_update().get_or_create(room=room)
        if state.session_id == (session.pk if session else None):
            return False
        state.session = session
        state.version += 1
        state.save(update_fields=["session", "version", "changed_at"])
        _publish_stage(room)
    return True


def end_stage_session(room: Room, session: Session) -> bool:
    """Back to the slate, unless another session took the stage meanwhile (a moderator override)."""
    with transaction.atomic():
        state = StageState.objects.select_for_update().filter(room=room).first()
        if state is None or state.session_id != session.pk:
            return False
        state.session = None
        state.version += 1
        state.save(update_fields=["session", "version", "changed_at"])
        _publish_stage(room)
    return True


def _publish_stage(room: Room) -> None:
    """Everyone in the event gets the stage's new source (read after commit, so it is current)."""

    def send():
        bus.publish(groups.event(room.event_id), "stage.source", selectors.stage_view(room.pk))

    transaction.on_commit(send)


def issue_key(actor: Participant, *, room_id: int, label: str) -> tuple[StreamKey, str]:
    """A new stream key for a stage; the secret is returned once and never stored."""
    if not (actor.is_speaker or actor.is_moderator or actor.is_organizer):
        raise GatewayError("forbidden", _("Only speakers and moderators may get a stream key."))
    label = label.strip()[:80]
    secret = "sk_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        room = _stage(actor.event_id, room_id)
        key = StreamKey.objects.create(
            room=room, label=label or actor.name, key_hash=hash_stream_key(secret), prefix=secret[3:9],
            created_by=actor,
        )
        bus.publish_on_commit(groups.moderators(actor.event_id), "stage.keys", selectors.keys_view(actor.event_id))
    return key, secret


def revoke_key(actor: Participant, *, key_id: int) -> StreamKey:
    """Revoke a key: moderators any of the event's, speakers their own. A live ingest with it ends."""
    with transaction.atomic():
        key = StreamKey.objects.select_for_update().filter(pk=key_id, room__event_id=actor.event_id).first()
        if key is None:
            raise GatewayError("key_unknown", _("There is no such stream key."))
        if not (actor.is_moderator or actor.is_organizer or key.created_by_id == actor.pk):
            raise GatewayError("forbidden", _("Only moderators may revoke other people's keys."))
        if key.revoked_at is None:
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at"])
            # The relay ends an ingest that uses this key (it listens on this channel).
            transaction.on_commit(lambda: bus.sync_redis().publish(relay_control_channel(), f"revoke {key.pk}"))
        bus.publish_on_commit(groups.moderators(actor.event_id), "stage.keys", selectors.keys_view(actor.event_id))
    return key


def relay_control_channel() -> str:
    from django.conf import settings

    return f"{settings.REDIS_PREFIX}:relay:control"
