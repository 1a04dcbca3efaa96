"""Data of a barcamp: proposals, plenum votes, the schedule grid, releases and personal lists."""

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from eventplatform.models import Event, Participant, Room, Session


class Mode(models.TextChoices):
    """Where a session happens, or where a room can hold one."""

    ONSITE = "onsite", _("on site")
    ONLINE = "online", _("online")
    HYBRID = "hybrid", _("hybrid")


# Which room modes can hold a session of a given mode: a hybrid session needs a hybrid room.
ROOM_MODES_FOR = {
    Mode.ONSITE: {Mode.ONSITE, Mode.HYBRID},
    Mode.ONLINE: {Mode.ONLINE, Mode.HYBRID},
    Mode.HYBRID: {Mode.HYBRID},
}


class BarcampSettings(models.Model):
    """The barcamp state of one event: session length, voting open, grid fixed, releases."""

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="barcamp", verbose_name=_("event"))
    session_length = models.PositiveSmallIntegerField(_("default session length (minutes)"), default=45)
    voting_open = models.BooleanField(_("voting open"), default=False)
    # Once the grid is fixed, proposers can no longer change their proposals.
    grid_fixed = models.BooleanField(_("grid fixed"), default=False)
    releases = models.PositiveIntegerField(_("releases"), default=0)

    class Meta:
        verbose_name = _("barcamp settings")
        verbose_name_plural = _("barcamp settings")


class BarcampRoom(models.Model):
    """What a barcamp needs to know about a core room beyond its name."""

    room = models.OneToOneField(Room, on_delete=models.CASCADE, related_name="barcamp", verbose_name=_("room"))
    capacity = models.PositiveIntegerField(_("capacity"), default=20)
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.ONSITE)
    # A hybrid room on site is joined by an online breakout, and may be streamed.
    breakout = models.ForeignKey(
        Room, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("linked breakout")
    )
    streamable = models.BooleanField(_("can be streamed"), default=False)

    class Meta:
        verbose_name = _("barcamp room")
        verbose_name_plural = _("barcamp rooms")
        ordering = ["room__position", "room_id"]


class Slot(models.Model):
    """A row of the grid: a time span; blocked slots (lunch) take no sessions."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="barcamp_slots", verbose_name=_("event"))
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    is_blocked = models.BooleanField(_("blocked"), default=False)
    label = models.CharField(_("label"), max_length=100, blank=True, help_text=_("e.g. Lunch"))

    class Meta:
        verbose_name = _("time slot")
        verbose_name_plural = _("time slots")
        ordering = ["event", "start", "id"]


class Proposal(models.Model):
    class Format(models.TextChoices):
        DISCUSSION = "discussion", _("discussion")
        TALK = "talk", _("talk")
        WORKSHOP = "workshop", _("workshop")
        OTHER = "other", _("other")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="proposals", verbose_name=_("event"))
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True, max_length=4000)
    proposer = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="proposals", verbose_name=_("proposed by")
    )
    cohosts = models.ManyToManyField(Participant, blank=True, related_name="cohosted", verbose_name=_("co-hosts"))
    language = models.CharField(_("language"), max_length=8, default="de")
    format = models.CharField(_("format"), max_length=16, choices=Format.choices, default=Format.DISCUSSION)
    length = models.PositiveSmallIntegerField(_("length (minutes)"))
    mode = models.CharField(_("on site / online"), max_length=8, choices=Mode.choices, default=Mode.HYBRID)
    needs = models.JSONField(_("needs"), default=list, blank=True)
    # Proposed live in the opening plenum rather than before the event.
    in_plenum = models.BooleanField(_("proposed in the plenum"), default=False)
    # Hands counted in the room by the organizer, added to the votes cast in the app.
    hands = models.PositiveIntegerField(_("counted hands"), default=0)
    is_withdrawn = models.BooleanField(_("withdrawn"), default=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")
        ordering = ["event", "created", "id"]

    def __str__(self) -> str:
        return self.title


class Vote(models.Model):
    class Choice(models.TextChoices):
        INTERESTED = "interested", _("interested")
        MAYBE = "maybe", _("maybe")

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="votes")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="barcamp_votes")
    choice = models.CharField(max_length=16, choices=Choice.choices)
    cast = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("vote")
        verbose_name_plural = _("votes")
        # One vote per participant per proposal: the database refuses a second, even in a race.
        constraints = [models.UniqueConstraint(fields=["proposal", "participant"], name="barcamp_one_vote")]


class Cell(models.Model):
    """One room in one slot. Saved one at a time: `version` makes concurrent edits collide."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="barcamp_cells")
    slot = models.ForeignKey(Slot, on_delete=models.CASCADE, related_name="cells")
    room = models.ForeignKey(BarcampRoom, on_delete=models.CASCADE, related_name="cells")
    proposal = models.OneToOneField(
        Proposal, on_delete=models.SET_NULL, null=True, blank=True, related_name="cell"
    )
    pinned = models.BooleanField(_("pinned"), default=False)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("grid cell")
        verbose_name_plural = _("grid cells")
        constraints = [models.UniqueConstraint(fields=["slot", "room"], name="barcamp_cell_unique")]


class Release(models.Model):
    """A published state of the grid, with what changed since the release before."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="barcamp_releases")
    number = models.PositiveIntegerField()
    created = models.DateTimeField(auto_now_add=True)
    # [{"kind": "new"|"moved"|"cancelled", "proposal_id", "title", "from": {...}|None, "to": {...}|None}]
    changes = models.JSONField(default=list)

    class Meta:
        ordering = ["event", "-number"]
        constraints = [models.UniqueConstraint(fields=["event", "number"], name="barcamp_release_unique")]


class Publication(models.Model):
    """Which agenda session a proposal became; kept when cancelled so its id stays stable."""

    proposal = models.OneToOneField(Proposal, on_delete=models.CASCADE, related_name="publication")
    session = models.OneToOneField(
        Session, on_delete=models.SET_NULL, null=True, blank=True, related_name="barcamp_publication"
    )
    room_name = models.CharField(max_length=100, blank=True)
    start = models.DateTimeField(null=True, blank=True)


class Star(models.Model):
    """A participant's "my sessions" mark on a proposal (stable across releases)."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="barcamp_stars")
    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="stars")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["participant", "proposal"], name="barcamp_star_unique")]


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


class CalendarFeed(models.Model):
    """The private link of a participant's "my sessions" calendar."""

    participant = models.OneToOneField(Participant, on_delete=models.CASCADE, related_name="barcamp_feed")
    token = models.CharField(max_length=64, unique=True, default=new_feed_token)
