"""Data of the main stage: where each stage's picture comes from, and who may publish to it."""

import hashlib

from django.db import models
from django.utils.translation import gettext_lazy as _

from eventplatform.models import Event, Participant, Room, Session


class StreamSource(models.Model):
    """What viewers of a stage see: for a whole stage room (session empty) or for one session.

    A session's own source wins over the stage's; with neither, the stage uses the built-in relay.
    """

    class Kind(models.TextChoices):
        RELAY = "relay", _("Built-in WebRTC relay (WHIP/WHEP)")
        HLS = "hls", _("External HLS stream")
        YOUTUBE = "youtube", _("YouTube embed")
        VIMEO = "vimeo", _("Vimeo embed")
        WHEP = "whep", _("External WHEP endpoint (SFU or CDN)")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="stream_sources")
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="stream_sources")
    session = models.OneToOneField(
        Session, on_delete=models.CASCADE, null=True, blank=True, related_name="stream_source"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.RELAY)
    url = models.URLField(_("address"), max_length=500, blank=True)
    # Played when the relay has no room left or nothing is live (an HLS copy through a CDN, say).
    fallback_url = models.URLField(_("fallback HLS address"), max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("stream source")
        verbose_name_plural = _("stream sources")
        constraints = [
            models.UniqueConstraint(
                fields=["room"], condition=models.Q(session__isnull=True), name="streams_one_default_per_room"
            )
        ]

    def __str__(self) -> str:
        return f"{self.room}: {self.kind}"


class StageState(models.Model):
    """Which session is on a stage right now (set by the agenda's start/end actions)."""

    room = models.OneToOneField(Room, on_delete=models.CASCADE, related_name="stage_state")
    session = models.ForeignKey(Session, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    version = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)


def hash_stream_key(secret: str) -> str:
    # Keys are 32 random bytes: a plain hash is enough (no dictionary to guard against).
    return hashlib.sha256(secret.encode()).hexdigest()


class StreamKey(models.Model):
    """A bearer token for WHIP ingest to one stage. Only its hash is stored."""

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="stream_keys")
    label = models.CharField(_("label"), max_length=80, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)  # shown in lists so people can tell keys apart
    created_by = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("stream key")
        verbose_name_plural = _("stream keys")

    def __str__(self) -> str:
        return f"{self.room} {self.prefix}…"
