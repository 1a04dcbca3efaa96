"""Data of breakout rooms: the breakout behind a core Room, its rounds and who is where.

The core `Room` (kind "breakout") stays the room everyone knows (agenda, presence); a
`Breakout` adds what only breakouts need. A `BreakoutRound` is one period in which breakouts
are open; its timer lives here (the database is the source of truth, Celery only applies it).
An `Assignment` says where one person belongs: there is at most one per person, so a move is
an update, and a person can never be in two rooms at once.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from eventplatform.models import Event, Participant, Room, Session


class Mode(models.TextChoices):
    MANUAL = "manual", _("manual")
    AUTOMATIC = "automatic", _("automatic")
    SELF_SELECT = "self_select", _("attendees choose")


class Breakout(models.Model):
    room = models.OneToOneField(Room, on_delete=models.CASCADE, related_name="breakout", verbose_name=_("room"))
    topic = models.CharField(_("topic"), max_length=200, blank=True)
    # Hybrid: the laptop in this on-site room joins as the "room device".
    onsite_room = models.ForeignKey(
        Room, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("on-site room")
    )
    # Empty: a breakout of the whole event; set: opened only for this session.
    session = models.ForeignKey(
        Session, on_delete=models.SET_NULL, null=True, blank=True, related_name="breakouts", verbose_name=_("session")
    )
    is_open = models.BooleanField(_("open"), default=False)

    class Meta:
        verbose_name = _("breakout")
        verbose_name_plural = _("breakouts")
        ordering = ["room__position", "room_id"]

    def __str__(self) -> str:
        return self.room.name


class BreakoutRound(models.Model):
    class State(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("closed")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="breakout_rounds")
    session = models.ForeignKey(Session, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    mode = models.CharField(_("assignment"), max_length=16, choices=Mode.choices, default=Mode.MANUAL)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.OPEN)
    opened_at = models.DateTimeField(_("opened"), auto_now_add=True)
    # Empty: runs until a moderator closes it.
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    warning_at = models.DateTimeField(_("warning"), null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    # Set by "everyone back to the stage": ends_at was moved here, clients show a countdown.
    returning = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    # How the closing came about (timer, moderator, agenda): for the audit trail.
    closed_by = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name = _("breakout round")
        verbose_name_plural = _("breakout rounds")
        constraints = [
            # One running round per event: "the current round" is never ambiguous.
            models.UniqueConstraint(
                fields=["event"], condition=models.Q(state="open"), name="one_open_breakout_round_per_event"
            )
        ]


class Assignment(models.Model):
    class Source(models.TextChoices):
        PRE = "pre", _("pre-assigned")
        MANUAL = "manual", _("moved by a moderator")
        AUTOMATIC = "automatic", _("assigned automatically")
        SELF = "self", _("chosen")
        MODERATOR = "moderator", _("visiting moderator")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    participant = models.OneToOneField(Participant, on_delete=models.CASCADE, related_name="breakout_assignment")
    breakout = models.ForeignKey(Breakout, on_delete=models.CASCADE, related_name="assignments")
    source = models.CharField(max_length=16, choices=Source.choices)
    # Kept across rounds: what the organizer planned before the event.
    is_pre_assignment = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        indexes = [models.Index(fields=["event", "breakout"])]
