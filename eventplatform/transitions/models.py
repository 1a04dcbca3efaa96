"""The planned transitions of every session and the audit log of what happened to them."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TransitionSettings(models.Model):
    """Per event: when the "N minutes left" warnings fire."""

    event = models.OneToOneField(
        "eventplatform.Event", on_delete=models.CASCADE, related_name="transition_settings", verbose_name=_("event")
    )
    warning_minutes = models.CharField(
        _("warnings before the end (minutes)"),
        max_length=50,
        default="5,1",
        help_text=_("Comma-separated minutes before a session ends, e.g. 5,1. Empty: no warnings."),
    )

    class Meta:
        verbose_name = _("transition settings")
        verbose_name_plural = _("transition settings")

    def __str__(self) -> str:
        return str(self.event)


class Transition(models.Model):
    """One moment in a session's life (start, a warning, end) and whether it has happened."""

    class Moment(models.TextChoices):
        START = "start", _("start")
        WARNING = "warning", _("warning")
        END = "end", _("end")

    class State(models.TextChoices):
        PLANNED = "planned", _("planned")
        RUNNING = "running", _("running")
        DONE = "done", _("done")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("skipped")

    event = models.ForeignKey(
        "eventplatform.Event", on_delete=models.CASCADE, related_name="transitions", verbose_name=_("event")
    )
    session = models.ForeignKey(
        "eventplatform.Session", on_delete=models.CASCADE, related_name="transitions", verbose_name=_("session")
    )
    moment = models.CharField(_("moment"), max_length=8, choices=Moment.choices)
    # 0 for start and end; the minutes before the end for a warning.
    warning_minutes = models.PositiveSmallIntegerField(_("minutes before the end"), default=0)
    due_at = models.DateTimeField(_("due"), db_index=True)
    # Ties at the same due time: ends before warnings before starts (a room closes before the
    # next session opens in it); a zero-length session's own end comes after its start.
    order = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.PLANNED, db_index=True)
    # The ETA task sent for this due time (a moved transition gets a new one; stale ones no-op).
    enqueued_for = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # Set by the worker that claims it; a claim past its lease belongs to a dead worker.
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # How late the transition took effect (finished_at − due_at), for the operators and the bench.
    late_ms = models.IntegerField(_("late by (ms)"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("transition")
        verbose_name_plural = _("transitions")
        ordering = ["due_at", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "moment", "warning_minutes"], name="transition_unique_moment")
        ]
        indexes = [models.Index(fields=["state", "due_at"]), models.Index(fields=["event", "due_at"])]

    def __str__(self) -> str:
        if self.moment == self.Moment.WARNING:
            return f"{self.session}: {self.warning_minutes} min"
        return f"{self.session}: {self.get_moment_display()}"


class AuditEntry(models.Model):
    """Who did what to the agenda's transitions, and when. Written, never edited."""

    class Kind(models.TextChoices):
        TRANSITION = "transition", _("transition")
        OVERRIDE = "override", _("moderator override")
        REPLAN = "replan", _("agenda edit")

    event = models.ForeignKey(
        "eventplatform.Event", on_delete=models.CASCADE, related_name="transition_audit", verbose_name=_("event")
    )
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    action = models.CharField(_("what"), max_length=40)
    # The session and transition may be deleted later; the title keeps the entry readable.
    session = models.ForeignKey(
        "eventplatform.Session", on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("session")
    )
    session_title = models.CharField(_("session title"), max_length=200, blank=True)
    transition = models.ForeignKey(Transition, on_delete=models.SET_NULL, null=True, blank=True)
    actor = models.ForeignKey(
        "eventplatform.Participant", on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("who")
    )
    actor_name = models.CharField(_("who"), max_length=100, blank=True, help_text=_("Empty: the schedule."))
    detail = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("transition audit log")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.session_title}"
