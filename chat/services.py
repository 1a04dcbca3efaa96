"""Every state change of chat and Q&A: validate, write in a transaction, publish after commit.

Services take the acting participant's id and roles (from the socket's Actor) and raise
`GatewayError(code, message)` for a refusal: the codes are stable, the frontend translates them.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from chat import selectors
from chat.models import (
    QA,
    Channel,
    ChatSequence,
    Message,
    ModerationAction,
    Mute,
    Poll,
    PollBallot,
    PollOption,
    Question,
    Vote,
)
from eventplatform.models import Event, Participant, Room, Session
from eventplatform.precompiled import Precompiled
from eventplatform.realtime import bus, groups
from eventplatform.realtime.envelope import GatewayError

MODERATING = {"moderator", "organizer"}
PRESENTING = {"speaker", "moderator", "organizer"}


def channel_group(channel_id: int) -> str:
    """Sockets reading one chat channel (joined on connect, or by `chat.watch` for breakouts)."""
    return f"chat.{channel_id}"


# --- channels ---------------------------------------------------------------------------------

def ensure_channels(event_id: int) -> list[Channel]:
    """One channel per room plus the announcements channel; created on first use."""
    existing = {c.room_id: c for c in Channel.objects.filter(event_id=event_id)}
    if None not in existing:
        try:
            with transaction.atomic():
                Channel.objects.create(event_id=event_id, kind=Channel.Kind.ANNOUNCEMENTS)
        except IntegrityError:
            pass  # another process created it meanwhile
    for room in Room.objects.filter(event_id=event_id):
        if room.pk not in existing:
            Channel.objects.get_or_create(room=room, defaults={"event_id": event_id, "kind": room.kind})
    ChatSequence.objects.get_or_create(event_id=event_id)
    return selectors.open_channels(event_id)


def _next_seq(event_id: int) -> int:
    # Row lock until commit: seq values commit in order (see ChatSequence).
    updated = ChatSequence.objects.filter(event_id=event_id).update(value=F("value") + 1)
    if not updated:
        ChatSequence.objects.get_or_create(event_id=event_id)
        ChatSequence.objects.filter(event_id=event_id).update(value=F("value") + 1)
    return ChatSequence.objects.get(event_id=event_id).value


def _clean_text(text: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise GatewayError("empty", _("Write something first."))
    if len(text) > limit:
        raise GatewayError("too_long", _("At most %(limit)d characters.") % {"limit": limit}, limit=limit)
    return text


def _check_not_muted(participant_id: int) -> None:
    mute = Mute.objects.filter(participant_id=participant_id, until__gt=timezone.now()).order_by("-until").first()
    if mute is not None:
        raise GatewayError("muted", _("A moderator muted you until %(until)s.") % {"until": mute.until}, until=mute.until.isoformat())


def _mentions(event_id: int, text: str) -> list[int]:
    """Speakers, moderators and organizers named as @Name in the text."""
    if "@" not in text:
        return []
    lowered = text.casefold()
    presenters = Q(is_speaker=True) | Q(is_moderator=True) | Q(is_organizer=True)
    people = Participant.objects.filter(presenters, event_id=event_id, is_removed=False).values_list("pk", "name")
    return [pk for pk, name in people if f"@{name.casefold()}" in lowered]


def _channel_for(event_id: int, channel_id: int) -> Channel:
    channel = Channel.objects.select_related("room").filter(pk=channel_id, event_id=event_id).first()
    if channel is None:
        raise GatewayError("not_found", _("This chat does not exist."))
    return channel


def _log(event_id: int, actor_id: int | None, action: str, target_id: int | None = None, **details) -> None:
    entry = ModerationAction.objects.create(
        event_id=event_id, actor_id=actor_id, action=action, target_id=target_id, details=details
    )
    bus.publish_on_commit(
        groups.moderators(event_id),
        "chat.moderation",
        {"id": entry.pk, "action": action, "actor_id": actor_id, "target_id": target_id, "details": details,
         "created": selectors.iso(entry.created)},
    )


# --- messages ---------------------------------------------------------------------------------

def send_message(
    *, event_id: int, author_id: int, roles, room_id: int | None, channel_id: int, text: str,
    client_key: str, reply_to: int | None = None,
) -> tuple[dict, bool]:
    """Post a message; (message, created). A resend with the same client key returns the first copy."""
    existing = Message.objects.select_related("author").filter(author_id=author_id, client_key=client_key).first()
    if existing is not None:
        return selectors.message_out(existing), False
    text = _clean_text(text, settings.CHAT["MESSAGE_MAX_LENGTH"])
    channel = _channel_for(event_id, channel_id)
    moderating = bool(set(roles) & MODERATING)
    if not selectors.readable_channel(channel, roles=roles, room_id=room_id):
        raise GatewayError("not_member", _("Only people in this room can write here."))
    if channel.kind == Channel.Kind.ANNOUNCEMENTS and not moderating:
        raise GatewayError("forbidden", _("Only moderators post announcements."))
    if not moderating:
        _check_not_muted(author_id)
        if channel.slow_mode_seconds:
            since = timezone.now() - timedelta(seconds=channel.slow_mode_seconds)
            last = (
                Message.objects.filter(channel=channel, author_id=author_id, created__gt=since)
                .order_by("-created").values_list("created", flat=True).first()
            )
            if last is not None:
                wait = channel.slow_mode_seconds - (timezone.now() - last).total_seconds()
                raise GatewayError(
                    "slow_mode", _("Slow mode: one message every %(s)d seconds.") % {"s": channel.slow_mode_seconds},
                    retry_after=round(max(wait, 0.1), 1),
                )
    if reply_to is not None and not Message.objects.filter(pk=reply_to, channel=channel).exists():
        raise GatewayError("not_found", _("The message you reply to does not exist."))
    try:
        with transaction.atomic():
            message = Message.objects.create(
                channel=channel, author_id=author_id, text=text, reply_to_id=reply_to, client_key=client_key,
                mentions=_mentions(event_id, text), seq=_next_seq(event_id),
            )
            out = selectors.message_out(Message.objects.select_related("author").get(pk=message.pk))
            bus.publish_on_commit(channel_group(channel.pk), "chat.message", out)
    except IntegrityError:
        # The same key raced in from a second socket: the first copy wins, this one is it.
        existing = Message.objects.select_related("author").get(author_id=author_id, client_key=client_key)
        return selectors.message_out(existing), False
    return out, True


def _message_for_change(event_id: int, message_id: int) -> Message:
    message = (
        Message.objects.select_for_update().select_related("author", "channel")
        .filter(pk=message_id, channel__event_id=event_id).first()
    )
    if message is None or message.deleted_at is not None:
        raise GatewayError("not_found", _("This message does not exist (any more)."))
    return message


def _within_window(message: Message) -> bool:
    return timezone.now() - message.created <= timedelta(seconds=settings.CHAT["EDIT_WINDOW"])


@transaction.atomic
def edit_message(*, event_id: int, author_id: int, message_id: int, text: str) -> dict:
    text = _clean_text(text, settings.CHAT["MESSAGE_MAX_LENGTH"])
    message = _message_for_change(event_id, message_id)
    if message.author_id != author_id:
        raise GatewayError("forbidden", _("You can only edit your own messages."))
    if not _within_window(message):
        raise GatewayError("too_late", _("Messages can be edited only shortly after sending."))
    message.text = text
    message.edited_at = timezone.now()
    message.mentions = _mentions(event_id, text)
    message.seq = _next_seq(event_id)
    message.save(update_fields=["text", "edited_at", "mentions", "seq"])
    out = selectors.message_out(message)
    bus.publish_on_commit(channel_group(message.channel_id), "chat.message_update", out)
    return out


@transaction.atomic
def delete_message(*, event_id: int, actor_id: int, roles, message_id: int) -> dict:
    message = _message_for_change(event_id, message_id)
    moderating = bool(set(roles) & MODERATING)
    own = message.author_id == actor_id
    if not own and not moderating:
        raise GatewayError("forbidden", _("You can only delete your own messages."))
    if own and not moderating and not _within_window(message):
        raise GatewayError("too_late", _("Messages can be deleted only shortly after sending."))
    message.deleted_at = timezone.now()
    message.deleted_by_id = actor_id
    message.seq = _next_seq(event_id)
    message.save(update_fields=["deleted_at", "deleted_by", "seq"])
    if not own:
        _log(event_id, actor_id, "message.delete", message.author_id, message_id=message.pk, text=message.text)
    out = selectors.message_out(message)
    bus.publish_on_commit(channel_group(message.channel_id), "chat.message_update", out)
    return out


# --- moderation -------------------------------------------------------------------------------

def _target(event_id: int, participant_id: int) -> Participant:
    target = Participant.objects.filter(pk=participant_id, event_id=event_id).first()
    if target is None:
        raise GatewayError("not_found", _("This person is not part of the event."))
    return target


@transaction.atomic
def set_slow_mode(*, event_id: int, actor_id: int, channel_id: int, seconds: int) -> dict:
    channel = _channel_for(event_id, channel_id)
    channel.slow_mode_seconds = seconds
    channel.save(update_fields=["slow_mode_seconds"])
    _log(event_id, actor_id, "channel.slow_mode", channel_id=channel.pk, seconds=seconds)
    out = selectors.channel_out(channel)
    bus.publish_on_commit(channel_group(channel.pk), "chat.channel", out)
    return out


@transaction.atomic
def mute(*, event_id: int, actor_id: int, participant_id: int, minutes: int, reason: str = "") -> dict:
    target = _target(event_id, participant_id)
    if set(target.roles) & MODERATING:
        raise GatewayError("forbidden", _("Moderators cannot be muted."))
    until = timezone.now() + timedelta(minutes=minutes)
    Mute.objects.create(event_id=event_id, participant=target, until=until, created_by_id=actor_id)
    _log(event_id, actor_id, "participant.mute", target.pk, minutes=minutes, reason=reason)
    bus.publish_on_commit(groups.user(target.pk), "chat.muted", {"until": selectors.iso(until)})
    return {"participant_id": target.pk, "until": until}


@transaction.atomic
def unmute(*, event_id: int, actor_id: int, participant_id: int) -> dict:
    target = _target(event_id, participant_id)
    Mute.objects.filter(participant=target, until__gt=timezone.now()).update(until=timezone.now())
    _log(event_id, actor_id, "participant.unmute", target.pk)
    bus.publish_on_commit(groups.user(target.pk), "chat.muted", {"until": None})
    return {"participant_id": target.pk, "until": None}


@transaction.atomic
def remove_participant(*, event_id: int, actor_id: int, participant_id: int, reason: str = "") -> dict:
    """Take someone out of the event: their ticket stops working and their sockets close."""
    target = _target(event_id, participant_id)
    if target.pk == actor_id or target.is_organizer:
        raise GatewayError("forbidden", _("This person cannot be removed."))
    Participant.objects.filter(pk=target.pk).update(is_removed=True)
    _log(event_id, actor_id, "participant.remove", target.pk, reason=reason)
    bus.control_on_commit(
        groups.user(target.pk), "close", code="removed", reason=reason or str(_("A moderator removed you from the event."))
    )
    return {"participant_id": target.pk, "removed": True}


# --- Q&A ----------------------------------------------------------------------------------------

def _qa_for(event_id: int, session_id: int, *, lock: bool = False) -> QA:
    session = Session.objects.filter(pk=session_id, event_id=event_id).first()
    if session is None:
        raise GatewayError("not_found", _("This session does not exist."))
    qa, _created = QA.objects.get_or_create(session=session)
    if lock:
        qa = QA.objects.select_for_update().get(pk=qa.pk)
    return qa


@transaction.atomic
def configure_qa(*, event_id: int, actor_id: int | None, session_id: int, is_open: bool | None = None,
                 mode: str | None = None) -> dict:
    qa = _qa_for(event_id, session_id, lock=True)
    if is_open is not None:
        qa.is_open = is_open
    if mode is not None:
        qa.mode = mode
    qa.save()
    _log(event_id, actor_id, "qa.configure", session_id=session_id, is_open=qa.is_open, mode=qa.mode)
    out = selectors.qa_out(qa)
    bus.publish_on_commit(groups.event(event_id), "qa.session", out)
    return out


def open_qa_for_session(session: Session) -> None:
    """Agenda: Q&A opens when a talk starts on a stage (runs inside the transition's transaction)."""
    configure_qa(event_id=session.event_id, actor_id=None, session_id=session.pk, is_open=True)


def close_qa_for_session(session: Session) -> None:
    configure_qa(event_id=session.event_id, actor_id=None, session_id=session.pk, is_open=False)


def _publish_question(q: Question, *, was_public: bool) -> None:
    """Moderators get every change; attendees only visible/answered ones (and the removal)."""
    bus.publish_on_commit(groups.moderators(q.session.event_id), "qa.question_mod", selectors.question_full(q))
    public = q.state in (Question.State.VISIBLE, Question.State.ANSWERED)
    if public:
        bus.publish_on_commit(groups.event(q.session.event_id), "qa.question", selectors.question_public(q))
    elif was_public:
        bus.publish_on_commit(
            groups.event(q.session.event_id), "qa.question_removed", {"id": q.pk, "session_id": q.session_id}
        )


def ask_question(*, event_id: int, author_id: int, session_id: int, text: str, anonymous: bool,
                 client_key: str) -> tuple[dict, bool]:
    existing = Question.objects.select_related("author").filter(author_id=author_id, client_key=client_key).first()
    if existing is not None:
        return selectors.question_full(existing), False
    text = _clean_text(text, settings.CHAT["QUESTION_MAX_LENGTH"])
    _check_not_muted(author_id)
    try:
        with transaction.atomic():
            qa = _qa_for(event_id, session_id)
            if not qa.is_open:
                raise GatewayError("qa_closed", _("Questions are closed for this session."))
            state = Question.State.PENDING if qa.mode == QA.Mode.PREMODERATED else Question.State.VISIBLE
            q = Question.objects.create(
                session_id=session_id, author_id=author_id, text=text, is_anonymous=anonymous, state=state,
                client_key=client_key,
            )
            q = Question.objects.select_related("author", "session").get(pk=q.pk)
            _publish_question(q, was_public=False)
    except IntegrityError:
        existing = Question.objects.select_related("author").get(author_id=author_id, client_key=client_key)
        return selectors.question_full(existing), False
    return selectors.question_full(q), True


QUESTION_ACTIONS = {
    # action: (who may, states it applies to, new state)
    "approve": (MODERATING, {Question.State.PENDING, Question.State.HIDDEN}, Question.State.VISIBLE),
    "hide": (MODERATING, {Question.State.PENDING, Question.State.VISIBLE, Question.State.ANSWERED}, Question.State.HIDDEN),
    "answered": (PRESENTING, {Question.State.VISIBLE}, Question.State.ANSWERED),
    "reopen": (PRESENTING, {Question.State.ANSWERED}, Question.State.VISIBLE),
    "on_screen": (PRESENTING, {Question.State.VISIBLE}, None),
    "off_screen": (PRESENTING, {Question.State.VISIBLE, Question.State.ANSWERED, Question.State.HIDDEN}, None),
}


@transaction.atomic
def moderate_question(*, event_id: int, actor_id: int, roles, question_id: int, action: str) -> dict:
    """Change a question's state. Locks the session's Q&A row first, so two moderators acting
    on one question (or two questions put on screen at once) are applied one after the other
    and each sees the other's result."""
    allowed, from_states, new_state = QUESTION_ACTIONS[action]
    if not set(roles) & allowed:
        raise GatewayError("forbidden", _("You may not do this."))
    q = Question.objects.filter(pk=question_id, session__event_id=event_id).first()
    if q is None:
        raise GatewayError("not_found", _("This question does not exist."))
    _qa_for(event_id, q.session_id, lock=True)
    q = Question.objects.select_for_update().select_related("author", "session").get(pk=question_id)
    if q.state not in from_states:
        raise GatewayError("conflict", _("The question is %(state)s now.") % {"state": q.get_state_display()},
                           state=q.state)
    was_public = q.state in (Question.State.VISIBLE, Question.State.ANSWERED)
    if action == "on_screen":
        previous = list(
            Question.objects.select_for_update().select_related("author", "session")
            .filter(session_id=q.session_id, on_screen=True).exclude(pk=q.pk)
        )
        for other in previous:
            other.on_screen = False
            other.save(update_fields=["on_screen", "changed"])
            _publish_question(other, was_public=other.state in (Question.State.VISIBLE, Question.State.ANSWERED))
        q.on_screen = True
    elif action == "off_screen":
        q.on_screen = False
    else:
        q.state = new_state
        if new_state == Question.State.HIDDEN:
            q.on_screen = False
    q.save()
    _log(event_id, actor_id, f"question.{action}", q.author_id, question_id=q.pk)
    _publish_question(q, was_public=was_public)
    return selectors.question_full(q)


_votable = Precompiled(
    lambda question_id, event_id: Question.objects.filter(pk=question_id, session__event_id=event_id).values_list(
        "state", "session_id"
    )
)


def _add_votes(question_id: int, delta: int) -> int:
    """Move a question's counter and return the new count, in one statement where the database
    can (UPDATE … RETURNING: PostgreSQL, SQLite 3.35+)."""
    meta = Question._meta
    table, column, key = meta.db_table, meta.get_field("votes").column, meta.pk.column
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            cursor.execute(
                f'UPDATE "{table}" SET "{column}" = "{column}" + %s WHERE "{key}" = %s RETURNING "{column}"',
                [delta, question_id],
            )
            return cursor.fetchone()[0]
    Question.objects.filter(pk=question_id).update(votes=F("votes") + delta)
    return Question.objects.values_list("votes", flat=True).get(pk=question_id)


def vote(*, event_id: int, participant_id: int, question_id: int, up: bool) -> dict:
    """One vote per person: the unique constraint refuses a second, the counter moves with it.

    A storm of votes is the hot path of a stage's Q&A: three statements per vote (the question's
    state, the vote, the counter with its new value), no savepoint (a second vote's failed
    insert ends the transaction, which is rolled back anyway)."""
    try:
        with transaction.atomic():
            found = _votable.rows(question_id, event_id)
            if not found:
                raise GatewayError("not_found", _("This question does not exist."))
            state, session_id = found[0]
            if state != Question.State.VISIBLE:
                raise GatewayError("not_votable", _("You can vote only on open, visible questions."))
            if up:
                Vote.objects.create(question_id=question_id, participant_id=participant_id)
            elif not Vote.objects.filter(question_id=question_id, participant_id=participant_id).delete()[0]:
                raise GatewayError("not_voted", _("You have not voted for this question."))
            votes = _add_votes(question_id, 1 if up else -1)
    except IntegrityError:
        raise GatewayError("already_voted", _("You already voted for this question.")) from None
    return {"question_id": question_id, "session_id": session_id, "votes": votes, "voted": up}


def vote_counts(question_ids) -> dict[str, int]:
    return {str(pk): n for pk, n in Question.objects.filter(pk__in=question_ids).values_list("pk", "votes")}


# --- polls ----------------------------------------------------------------------------------------

@transaction.atomic
def create_poll(*, event_id: int, actor_id: int, channel_id: int, question: str, options: list[str], kind: str,
                results: str) -> dict:
    channel = _channel_for(event_id, channel_id)
    question = _clean_text(question, 300)
    texts = [o.strip() for o in options if o.strip()]
    if not 2 <= len(texts) <= 12:
        raise GatewayError("invalid_options", _("A poll needs 2 to 12 answers."))
    poll = Poll.objects.create(channel=channel, question=question, kind=kind, results=results, created_by_id=actor_id)
    for i, text in enumerate(texts):
        PollOption.objects.create(poll=poll, text=text[:200], position=i)
    _log(event_id, actor_id, "poll.create", poll_id=poll.pk)
    out = selectors.poll_out(poll, with_counts=True)
    bus.publish_on_commit(groups.moderators(event_id), "poll.update", out)
    return out


@transaction.atomic
def set_poll_state(*, event_id: int, actor_id: int, poll_id: int, state: str) -> dict:
    poll = Poll.objects.select_for_update().filter(pk=poll_id, channel__event_id=event_id).first()
    if poll is None:
        raise GatewayError("not_found", _("This poll does not exist."))
    allowed = {Poll.State.OPEN: {Poll.State.DRAFT}, Poll.State.CLOSED: {Poll.State.OPEN}}
    if poll.state not in allowed.get(state, set()):
        raise GatewayError("conflict", _("The poll is %(state)s.") % {"state": poll.get_state_display()}, state=poll.state)
    poll.state = state
    poll.save(update_fields=["state"])
    _log(event_id, actor_id, f"poll.{state}", poll_id=poll.pk)
    bus.publish_on_commit(channel_group(poll.channel_id), "poll.update", selectors.poll_out(poll))
    bus.publish_on_commit(groups.moderators(event_id), "poll.update", selectors.poll_out(poll, with_counts=True))
    return selectors.poll_out(poll, with_counts=True)


def vote_poll(*, event_id: int, participant_id: int, poll_id: int, option_ids: list[int]) -> dict:
    with transaction.atomic():
        poll = Poll.objects.filter(pk=poll_id, channel__event_id=event_id).first()
        if poll is None:
            raise GatewayError("not_found", _("This poll does not exist."))
        if poll.state != Poll.State.OPEN:
            raise GatewayError("poll_closed", _("This poll is not open."))
        chosen = set(option_ids)
        valid = set(poll.options.values_list("pk", flat=True))
        if not chosen or not chosen <= valid or (poll.kind == Poll.Kind.SINGLE and len(chosen) != 1):
            raise GatewayError("invalid_options", _("Choose one answer.") if poll.kind == Poll.Kind.SINGLE
                               else _("Choose at least one of the answers."))
        try:
            with transaction.atomic():
                ballot = PollBallot.objects.create(poll=poll, participant_id=participant_id)
        except IntegrityError:
            raise GatewayError("already_voted", _("You already voted in this poll.")) from None
        ballot.options.set(chosen)
        PollOption.objects.filter(pk__in=chosen).update(votes=F("votes") + 1)
    return {"poll_id": poll.pk, "options": sorted(chosen), "poll": selectors.poll_out(poll, with_counts=True)
            if poll.results == Poll.Results.LIVE else selectors.poll_out(poll)}


def poll_counts(poll_id: int) -> dict | None:
    """Counts to broadcast, or None while the poll keeps its results until it closes."""
    poll = Poll.objects.filter(pk=poll_id).first()
    if poll is None or (poll.results != Poll.Results.LIVE and poll.state != Poll.State.CLOSED):
        return None
    return {
        "poll_id": poll.pk,
        "channel_id": poll.channel_id,
        "counts": {str(pk): n for pk, n in poll.options.values_list("pk", "votes")},
        "ballots": poll.ballots.count(),
    }


def event_of(event_id: int) -> Event:
    return Event.objects.get(pk=event_id)
