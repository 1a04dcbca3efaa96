"""Data of chat channels, messages, questions, votes, polls, mutes and the moderation log.

The database is the record: pushes over pub/sub may be lost, clients resume from here
(`seq` on messages is the chat stream's cursor).
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from eventplatform.models import Event, Participant, Room, Session


class Channel(models.Model):
    """One per stage, breakout and on-site room, plus one for event-wide announcements."""

    class Kind(models.TextChoices):
        STAGE = "stage", _("stage chat")
        BREAKOUT = "breakout", _("breakout room chat")
        ONSITE = "onsite", _("on-site room chat")
        ANNOUNCEMENTS = "announcements", _("announcements")

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="chat_channels", verbose_name=_("event"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    room = models.OneToOneField(
        Room, on_delete=models.CASCADE, null=True, blank=True, related_name="chat_channel", verbose_name=_("room")
    )
    # 0: off. Otherwise a person (not a moderator) may post once per this many seconds.
    slow_mode_seconds = models.PositiveIntegerField(_("slow mode (seconds)"), default=0)

    class Meta:
        verbose_name = _("chat channel")
        verbose_name_plural = _("chat channels")
        constraints = [
            models.UniqueConstraint(
                fields=["event"], condition=Q(kind="announcements"), name="chat_one_announcement_channel_per_event"
            )
        ]

    def __str__(self) -> str:
        return self.room.name if self.room_id else str(self.get_kind_display())


class ChatSequence(models.Model):
    """The event's chat change counter: every new, edited or deleted message takes the next value.

    Updating this row serialises chat writes per event, so a reader never sees seq n+1
    committed before n — which makes "everything after my cursor" a complete answer.
    """

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="chat_sequence")
    value = models.BigIntegerField(default=0)


class Message(models.Model):
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="messages", verbose_name=_("channel"))
    author = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="chat_messages", verbose_name=_("author")
    )
    text = models.TextField(_("text"))
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies", verbose_name=_("reply to")
    )
    mentions = models.JSONField(_("mentions"), default=list, blank=True)
    # Chosen by the client per message; a resend after a dropped connection finds the first copy.
    client_key = models.CharField(max_length=64)
    seq = models.BigIntegerField(db_index=True)
    created = models.DateTimeField(_("sent"), auto_now_add=True)
    edited_at = models.DateTimeField(_("edited"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("deleted"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        Participant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("deleted by")
    )

    class Meta:
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["author", "client_key"], name="chat_message_once_per_key")]
        indexes = [models.Index(fields=["channel", "id"])]


class QA(models.Model):
    """The Q&A of one session: open or closed, open or pre-moderated."""

    class Mode(models.TextChoices):
        OPEN = "open", _("open: questions appear at once")
        PREMODERATED = "premoderated", _("pre-moderated: a moderator approves each question")

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="qa", verbose_name=_("session"))
    is_open = models.BooleanField(_("open for questions"), default=False)
    mode = models.CharField(_("moderation"), max_length=16, choices=Mode.choices, default=Mode.OPEN)

    class Meta:
        verbose_name = _("Q&A")
        verbose_name_plural = _("Q&A")


class Question(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("waiting for approval")
        VISIBLE = "visible", _("visible")
        ANSWERED = "answered", _("answered")
        HIDDEN = "hidden", _("hidden")

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="questions", verbose_name=_("session"))
    author = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="questions", verbose_name=_("author"))
    text = models.TextField(_("question"))
    # Anonymous to other attendees and speakers; moderators always see who asked.
    is_anonymous = models.BooleanField(_("anonymous"), default=False)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    on_screen = models.BooleanField(_("on screen"), default=False)
    votes = models.PositiveIntegerField(_("votes"), default=0)
    client_key = models.CharField(max_length=64)
    created = models.DateTimeField(_("asked"), auto_now_add=True)
    changed = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["author", "client_key"], name="chat_question_once_per_key"),
            # The projector shows one question: the database refuses a second one per session.
            models.UniqueConstraint(fields=["session"], condition=Q(on_screen=True), name="chat_one_question_on_screen"),
        ]


class Vote(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="vote_set")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="question_votes")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "participant"], name="chat_one_vote_per_person")]


class Poll(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("single choice")
        MULTIPLE = "multiple", _("multiple choice")

    class State(models.TextChoices):
        DRAFT = "draft", _("draft")
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    class Results(models.TextChoices):
        LIVE = "live", _("live while voting")
        AFTER_CLOSE = "after_close", _("after voting has closed")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="polls", verbose_name=_("channel"))
    question = models.CharField(_("question"), max_length=300)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.SINGLE)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DRAFT)
    results = models.CharField(_("results"), max_length=16, choices=Results.choices, default=Results.LIVE)
    created_by = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("poll")
        verbose_name_plural = _("polls")
        ordering = ["id"]


class PollOption(models.Model):
    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="options")
    text = models.CharField(_("answer"), max_length=200)
    position = models.PositiveSmallIntegerField(default=0)
    votes = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]


class PollBallot(models.Model):
    """One per person per poll (the unique constraint is the double-vote guard)."""

    poll = models.ForeignKey(Poll, on_delete=models.CASCADE, related_name="ballots")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="poll_ballots")
    options = models.ManyToManyField(PollOption, related_name="ballots")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["poll", "participant"], name="chat_one_ballot_per_person")]


class Mute(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="chat_mutes")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="chat_mutes")
    until = models.DateTimeField(_("muted until"))
    created_by = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("mute")
        verbose_name_plural = _("mutes")
        indexes = [models.Index(fields=["participant", "until"])]


class ModerationAction(models.Model):
    """The audit log: every moderation action, who did it, to what, when."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="chat_moderation_log")
    actor = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(_("action"), max_length=40)
    target = models.ForeignKey(Participant, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    details = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("moderation action")
        verbose_name_plural = _("moderation log")
        ordering = ["-id"]
