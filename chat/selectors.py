"""Reads of the chat app and the shapes its pushes and replies carry."""

from django.conf import settings
from django.db.models import Max

from chat.models import (
    QA,
    Channel,
    ChatSequence,
    Message,
    Poll,
    PollBallot,
    Question,
    Vote,
)
from eventplatform.models import Participant
from eventplatform.precompiled import Precompiled


def iso(moment):
    """Times as the replies carry them (pydantic's form), so a push equals its reply."""
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def author_out(p: Participant) -> dict:
    # The sender's public profile travels inside the message: no recipient looks it up.
    return {"id": p.pk, "name": p.name, "roles": [r for r in p.roles if r != "attendee"]}


def message_out(m: Message) -> dict:
    deleted = m.deleted_at is not None
    return {
        "id": m.pk,
        "seq": m.seq,
        "channel_id": m.channel_id,
        "author": author_out(m.author),
        "text": "" if deleted else m.text,
        "reply_to": m.reply_to_id,
        "mentions": m.mentions,
        "created": iso(m.created),
        "edited_at": iso(m.edited_at),
        "deleted": deleted,
    }


def channel_out(c: Channel) -> dict:
    return {
        "id": c.pk,
        "kind": c.kind,
        "room_id": c.room_id,
        "name": c.room.name if c.room_id else "",
        "slow_mode_seconds": c.slow_mode_seconds,
    }


def question_public(q: Question) -> dict:
    """What attendees and speakers see: no author for an anonymous question."""
    return {
        "id": q.pk,
        "session_id": q.session_id,
        "text": q.text,
        "author": None if q.is_anonymous else author_out(q.author),
        "is_anonymous": q.is_anonymous,
        "state": q.state,
        "on_screen": q.on_screen,
        "votes": q.votes,
        "created": iso(q.created),
    }


def question_full(q: Question) -> dict:
    """What moderators see: always who asked."""
    return {**question_public(q), "author": author_out(q.author)}


def qa_out(qa: QA) -> dict:
    return {"session_id": qa.session_id, "is_open": qa.is_open, "mode": qa.mode}


def poll_out(poll: Poll, *, with_counts: bool | None = None) -> dict:
    if with_counts is None:
        with_counts = poll.results == Poll.Results.LIVE or poll.state == Poll.State.CLOSED
    options = list(poll.options.all())
    return {
        "id": poll.pk,
        "channel_id": poll.channel_id,
        "question": poll.question,
        "kind": poll.kind,
        "state": poll.state,
        "results": poll.results,
        "options": [{"id": o.pk, "text": o.text, "votes": o.votes if with_counts else None} for o in options],
        "ballots": poll.ballots.count() if with_counts else None,
    }


def readable_channel(channel: Channel, *, roles, room_id: int | None) -> bool:
    """Who may read and post where: a breakout room's chat belongs to the people in that room.

    Membership is the gateway's `conn.room_id` (set by the rooms app with `conn.set_room`
    when someone enters a breakout); moderators and organizers may read and post everywhere.
    Stage, on-site room and announcement channels are open to every participant.
    """
    if channel.kind != Channel.Kind.BREAKOUT:
        return True
    if set(roles) & {"moderator", "organizer"}:
        return True
    return room_id is not None and room_id == channel.room_id


def chat_cursor(event_id: int) -> int:
    return ChatSequence.objects.filter(event_id=event_id).values_list("value", flat=True).first() or 0


def open_channels(event_id: int) -> list[Channel]:
    return list(Channel.objects.filter(event_id=event_id).select_related("room").order_by("kind", "room__position", "id"))


def history(channel_id: int, *, before_id: int | None = None, limit: int | None = None) -> list[dict]:
    limit = limit or settings.CHAT["PAGE_SIZE"]
    qs = Message.objects.filter(channel_id=channel_id).select_related("author")
    if before_id is not None:
        qs = qs.filter(id__lt=before_id)
    page = list(qs.order_by("-id")[:limit])
    return [message_out(m) for m in reversed(page)]


def changes_since(channel_ids: list[int], cursor: int, limit: int) -> list[dict] | None:
    """Every message new, edited or deleted after `cursor`; None if more than `limit`."""
    rows = list(
        Message.objects.filter(channel_id__in=channel_ids, seq__gt=cursor).select_related("author").order_by("seq")[
            : limit + 1
        ]
    )
    if len(rows) > limit:
        return None
    return [message_out(m) for m in rows]


def qa_state(event_id: int, participant_id: int, *, moderator: bool) -> dict:
    return {**qa_board(event_id, moderator=moderator), **qa_mine(participant_id)}


def qa_board(event_id: int, *, moderator: bool) -> dict:
    """The event's Q&A sessions, questions and polls: the same for every attendee (or moderator)."""
    qas = list(QA.objects.filter(session__event_id=event_id).order_by("session__start"))
    questions = Question.objects.filter(session__event_id=event_id).select_related("author")
    if not moderator:
        questions = questions.filter(state__in=[Question.State.VISIBLE, Question.State.ANSWERED])
    shape = question_full if moderator else question_public
    polls = Poll.objects.filter(channel__event_id=event_id).prefetch_related("options")
    if not moderator:
        polls = polls.exclude(state=Poll.State.DRAFT)  # drafts are the moderators' own
    return {
        "qas": [qa_out(qa) for qa in qas],
        "questions": [shape(q) for q in questions],
        "polls": [poll_out(p, with_counts=True if moderator else None) for p in polls],
    }


# Every join asks these three (precompiled.py).
_my_question_votes = Precompiled(lambda pid: Vote.objects.filter(participant_id=pid).values_list("question_id"))
_my_questions = Precompiled(lambda pid: Question.objects.filter(author_id=pid).values_list("id").order_by("id"))
_my_ballot_options = Precompiled(
    lambda pid: PollBallot.objects.filter(participant_id=pid).values_list("poll_id", "options").order_by("id")
)


def qa_mine(participant_id: int) -> dict:
    """One person's votes, questions and poll answers."""
    return {
        "my_votes": _my_question_votes.column(participant_id),
        "my_questions": _my_questions.column(participant_id),
        "my_ballots": my_ballots(participant_id),
    }


def my_ballots(participant_id: int) -> dict[str, list[int]]:
    """Per poll answered, the options chosen."""
    ballots: dict[str, list[int]] = {}
    for poll_id, option_id in _my_ballot_options.rows(participant_id):
        chosen = ballots.setdefault(str(poll_id), [])
        if option_id is not None:
            chosen.append(option_id)
    return ballots


def open_pages(event_id: int) -> dict:
    """The cursor and the last page of every channel all participants read (not breakouts)."""
    now = chat_cursor(event_id)
    channel_ids = Channel.objects.filter(event_id=event_id).exclude(kind=Channel.Kind.BREAKOUT).values_list(
        "id", flat=True
    )
    return {"cursor": now, "pages": {cid: history(cid) for cid in channel_ids}}


def latest_seq(channel_ids: list[int]) -> int:
    return Message.objects.filter(channel_id__in=channel_ids).aggregate(m=Max("seq"))["m"] or 0
