"""Chat and Q&A socket commands: thin calls into chat.services (README: "Chat, Q&A, polls and reactions")."""

import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils.translation import gettext as _

from chat import live, selectors, services
from chat import schemas as s
from chat.models import Channel, ModerationAction
from eventplatform.realtime import groups
from eventplatform.realtime import permissions as perms
from eventplatform.realtime.envelope import GatewayError
from eventplatform.realtime.registry import command, declare_push, join_read, on_connect, stream
from eventplatform.realtime.shared import SharedPart

declare_push("chat.message", s.MessageOut, "A new chat message.", group="chat.<channel_id>")
declare_push("chat.message_update", s.MessageOut, "A message was edited or deleted.", group="chat.<channel_id>")
declare_push("chat.channel", s.ChannelOut, "A channel's settings changed (slow mode).", group="chat.<channel_id>")
declare_push("chat.reactions", s.ReactionsOut, "Reactions of the last second on a stage, summed.", group="chat.<channel_id>")
declare_push("chat.muted", s.MutedOut, "You were muted (until) or unmuted (null).", group="user.<participant_id>")
declare_push("chat.moderation", s.ModerationOut, "A moderation action (audit log entry).", group="moderators.<event_id>")
declare_push("qa.question", s.QuestionOut, "A visible or answered question, new or changed.")
declare_push("qa.question_removed", s.QuestionRemoved, "A question is no longer shown (hidden).")
declare_push("qa.question_mod", s.QuestionOut, "Any question change, with its author: the moderation queue.",
             group="moderators.<event_id>")
declare_push("qa.votes", s.VotesOut, "Vote counts that changed (coalesced, a few per second at most).")
declare_push("qa.session", s.QAOut, "A session's Q&A opened, closed or changed its moderation mode.")
declare_push("poll.update", s.PollOut, "A poll was opened or closed.", group="chat.<channel_id>")
declare_push("poll.counts", s.PollCountsOut, "A poll's counts (coalesced; live polls, or once closed).",
             group="chat.<channel_id>")

# Channels everyone reads (stage, on-site, announcements) per event, cached briefly per process
# so thousands of connects cost one query, not thousands.
_open_channels: dict[int, tuple[float, list[Channel]]] = {}
CHANNEL_CACHE_SECONDS = 30


@database_sync_to_async
def _load_channels(event_id: int) -> list[Channel]:
    return services.ensure_channels(event_id)


async def _channels(event_id: int) -> list[Channel]:
    cached = _open_channels.get(event_id)
    if cached and time.monotonic() - cached[0] < CHANNEL_CACHE_SECONDS:
        return cached[1]
    channels = await _load_channels(event_id)
    _open_channels[event_id] = (time.monotonic(), channels)
    return channels


async def _channel(conn, channel_id: int) -> Channel:
    return await _find_channel(conn, lambda channel: channel.pk == channel_id)


async def _find_channel(conn, wanted) -> Channel:
    for channel in await _channels(conn.event_id):
        if wanted(channel):
            return channel
    _open_channels.pop(conn.event_id, None)  # maybe a room created since: look again once
    for channel in await _channels(conn.event_id):
        if wanted(channel):
            return channel
    raise GatewayError("not_found", _("This chat does not exist."))


def _readable(conn, channel: Channel) -> bool:
    return selectors.readable_channel(channel, roles=conn.actor.roles, room_id=getattr(conn, "room_id", None))


@on_connect
async def join_open_channels(conn) -> None:
    # Breakout chats are joined with chat.watch once the person is in the room.
    for channel in await _channels(conn.event_id):
        if channel.kind != Channel.Kind.BREAKOUT:
            await conn.join(services.channel_group(channel.pk))


def _call(func, **kwargs):
    return database_sync_to_async(func)(**kwargs)


async def _limit_sending(conn) -> None:
    retry_after = await live.send_allowed(conn.actor.participant_id)
    if retry_after is not None:
        raise GatewayError("rate_limited", _("You are sending too fast; wait a moment."), retry_after=retry_after)


# --- chat -------------------------------------------------------------------------------------

@command("chat.send", schema=s.SendIn, reply=s.SendOut)
async def send(conn, msg: s.SendIn) -> dict:
    """Post a message. Resending with the same client_key after a reconnect stores it once."""
    channel = await _channel(conn, msg.channel_id)
    if not _readable(conn, channel):
        raise GatewayError("not_member", _("Only people in this room can write here."))
    if not conn.actor.roles & services.MODERATING:
        await _limit_sending(conn)
    message, created = await _call(
        services.send_message, event_id=conn.event_id, author_id=conn.actor.participant_id, roles=conn.actor.roles,
        room_id=getattr(conn, "room_id", None), channel_id=msg.channel_id, text=msg.text, client_key=msg.client_key,
        reply_to=msg.reply_to,
    )
    return {"message": message, "duplicate": not created}


@command("chat.edit", schema=s.EditIn, reply=s.MessageOut)
async def edit(conn, msg: s.EditIn) -> dict:
    """Edit your own message shortly after sending it."""
    return await _call(services.edit_message, event_id=conn.event_id, author_id=conn.actor.participant_id,
                       message_id=msg.message_id, text=msg.text)


@command("chat.delete", schema=s.MessageRef, reply=s.MessageOut)
async def delete(conn, msg: s.MessageRef) -> dict:
    """Delete your own message shortly after sending it; moderators delete any message."""
    return await _call(services.delete_message, event_id=conn.event_id, actor_id=conn.actor.participant_id,
                       roles=conn.actor.roles, message_id=msg.message_id)


@command("chat.history", schema=s.HistoryIn, reply=s.HistoryOut)
async def history(conn, msg: s.HistoryIn) -> dict:
    """A page of older messages (before `before_id`)."""
    channel = await _channel(conn, msg.channel_id)
    if not _readable(conn, channel):
        raise GatewayError("not_member", _("Only people in this room can read this chat."))
    messages = await _call(selectors.history, channel_id=channel.pk, before_id=msg.before_id, limit=msg.limit)
    return {"channel_id": channel.pk, "messages": messages}


@command("chat.watch", schema=s.ChannelRef, reply=s.WatchOut)
async def watch(conn, msg: s.ChannelRef) -> dict:
    """Receive a breakout room's chat (only while you are in that room)."""
    channel = await _channel(conn, msg.channel_id)
    if not _readable(conn, channel):
        raise GatewayError("not_member", _("Only people in this room can read this chat."))
    await conn.join(services.channel_group(channel.pk))
    return {"channel": selectors.channel_out(channel)}


@command("chat.watch_room", schema=s.RoomRef, reply=s.WatchOut)
async def watch_room(conn, msg: s.RoomRef) -> dict:
    """Receive the chat of the breakout room you are in, found by the room (only while in it)."""
    channel = await _find_channel(
        conn, lambda channel: channel.room_id == msg.room_id and channel.kind == Channel.Kind.BREAKOUT
    )
    if not _readable(conn, channel):
        raise GatewayError("not_member", _("Only people in this room can read this chat."))
    await conn.join(services.channel_group(channel.pk))
    return {"channel": selectors.channel_out(channel)}


@command("chat.unwatch", schema=s.ChannelRef)
async def unwatch(conn, msg: s.ChannelRef) -> dict:
    """Stop receiving a breakout room's chat."""
    channel = await _channel(conn, msg.channel_id)
    if channel.kind == Channel.Kind.BREAKOUT:
        await conn.leave(services.channel_group(channel.pk))
    return {}


@command("chat.react", schema=s.ReactIn)
async def react(conn, msg: s.ReactIn) -> dict:
    """Applause, laughter, hearts…: summed and sent to the stage once per second."""
    channel = await _channel(conn, msg.channel_id)
    if channel.kind != Channel.Kind.STAGE:
        raise GatewayError("not_stage", _("Reactions are for the stage."))
    await live.react(channel.pk, channel.room_id, msg.kind)
    return {}


# --- moderation --------------------------------------------------------------------------------

@command("chat.slow_mode", schema=s.SlowModeIn, reply=s.ChannelOut, permission=perms.moderator)
async def slow_mode(conn, msg: s.SlowModeIn) -> dict:
    """Allow each person one message per N seconds in a channel (0: off)."""
    out = await _call(services.set_slow_mode, event_id=conn.event_id, actor_id=conn.actor.participant_id,
                      channel_id=msg.channel_id, seconds=msg.seconds)
    _open_channels.pop(conn.event_id, None)
    return out


@command("chat.mute", schema=s.MuteIn, reply=s.MuteOut, permission=perms.moderator)
async def mute(conn, msg: s.MuteIn) -> dict:
    """Mute someone for N minutes: no messages and no questions until then."""
    return await _call(services.mute, event_id=conn.event_id, actor_id=conn.actor.participant_id,
                       participant_id=msg.participant_id, minutes=msg.minutes, reason=msg.reason)


@command("chat.unmute", schema=s.ParticipantRef, reply=s.MuteOut, permission=perms.moderator)
async def unmute(conn, msg: s.ParticipantRef) -> dict:
    """End a mute early."""
    return await _call(services.unmute, event_id=conn.event_id, actor_id=conn.actor.participant_id,
                       participant_id=msg.participant_id)


@command("chat.remove", schema=s.RemoveIn, reply=s.RemoveOut, permission=perms.moderator)
async def remove(conn, msg: s.RemoveIn) -> dict:
    """Remove someone from the event: their ticket stops working, their sockets close."""
    return await _call(services.remove_participant, event_id=conn.event_id, actor_id=conn.actor.participant_id,
                       participant_id=msg.participant_id, reason=msg.reason)


def _log_page(event_id: int, limit: int) -> dict:
    entries = ModerationAction.objects.filter(event_id=event_id)[:limit]
    return {"entries": [
        {"id": e.pk, "action": e.action, "actor_id": e.actor_id, "target_id": e.target_id, "details": e.details,
         "created": e.created} for e in entries
    ]}


@command("chat.log", schema=s.LogIn, reply=s.LogOut, permission=perms.moderator)
async def moderation_log(conn, msg: s.LogIn) -> dict:
    """The moderation audit log, newest first."""
    return await _call(_log_page, event_id=conn.event_id, limit=msg.limit)


# --- Q&A ------------------------------------------------------------------------------------------

@command("qa.ask", schema=s.AskIn, reply=s.AskOut)
async def ask(conn, msg: s.AskIn) -> dict:
    """Ask a question in a session's Q&A (optionally anonymous to other attendees)."""
    if not conn.actor.roles & services.MODERATING:
        await _limit_sending(conn)
    question, created = await _call(
        services.ask_question, event_id=conn.event_id, author_id=conn.actor.participant_id,
        session_id=msg.session_id, text=msg.text, anonymous=msg.anonymous, client_key=msg.client_key,
    )
    return {"question": question, "duplicate": not created}


async def _vote(conn, question_id: int, up: bool) -> dict:
    out = await _call(services.vote, event_id=conn.event_id, participant_id=conn.actor.participant_id,
                      question_id=question_id, up=up)
    await live.count_changed("q", conn.event_id, question_id, groups.event(conn.event_id))
    return out


@command("qa.vote", schema=s.QuestionRef, reply=s.VoteOut)
async def vote(conn, msg: s.QuestionRef) -> dict:
    """Upvote a visible question (once per person)."""
    return await _vote(conn, msg.question_id, True)


@command("qa.unvote", schema=s.QuestionRef, reply=s.VoteOut)
async def unvote(conn, msg: s.QuestionRef) -> dict:
    """Take your upvote back."""
    return await _vote(conn, msg.question_id, False)


@command("qa.moderate", schema=s.ModerateIn, reply=s.QuestionOut, permission=perms.speaker)
async def moderate(conn, msg: s.ModerateIn) -> dict:
    """Approve or hide (moderators); mark answered or put on screen (speakers too)."""
    return await _call(services.moderate_question, event_id=conn.event_id, actor_id=conn.actor.participant_id,
                       roles=conn.actor.roles, question_id=msg.question_id, action=msg.action)


@command("qa.configure", schema=s.ConfigureQAIn, reply=s.QAOut, permission=perms.moderator)
async def configure(conn, msg: s.ConfigureQAIn) -> dict:
    """Open or close a session's Q&A; switch between open and pre-moderated."""
    return await _call(services.configure_qa, event_id=conn.event_id, actor_id=conn.actor.participant_id,
                       session_id=msg.session_id, is_open=msg.is_open, mode=msg.mode)


# --- polls ---------------------------------------------------------------------------------------

@command("poll.create", schema=s.PollCreateIn, reply=s.PollOut, permission=perms.moderator)
async def poll_create(conn, msg: s.PollCreateIn) -> dict:
    """Prepare a poll (a draft until opened)."""
    return await _call(services.create_poll, event_id=conn.event_id, actor_id=conn.actor.participant_id,
                       channel_id=msg.channel_id, question=msg.question, options=msg.options, kind=msg.kind,
                       results=msg.results)


@command("poll.set_state", schema=s.PollStateIn, reply=s.PollOut, permission=perms.moderator)
async def poll_set_state(conn, msg: s.PollStateIn) -> dict:
    """Open a draft poll, or close an open one (then its results go out)."""
    out = await _call(services.set_poll_state, event_id=conn.event_id, actor_id=conn.actor.participant_id,
                      poll_id=msg.poll_id, state=msg.state)
    if msg.state == "closed":
        await live.count_changed("p", conn.event_id, msg.poll_id, "")
    return out


@command("poll.vote", schema=s.PollVoteIn, reply=s.PollVoteOut)
async def poll_vote(conn, msg: s.PollVoteIn) -> dict:
    """Answer a poll (once)."""
    out = await _call(services.vote_poll, event_id=conn.event_id, participant_id=conn.actor.participant_id,
                      poll_id=msg.poll_id, option_ids=msg.option_ids)
    await live.count_changed("p", conn.event_id, msg.poll_id, "")
    return out


# --- resume ----------------------------------------------------------------------------------------

def _chat_stream(event_id: int, channel_ids: list[int], cursor: int | None) -> dict:
    now = selectors.chat_cursor(event_id)
    if cursor is not None and cursor == now:
        return {"mode": "unchanged", "cursor": now}
    if cursor is not None and 0 <= cursor < now:
        changes = selectors.changes_since(channel_ids, cursor, settings.CHAT["RESUME_MAX"])
        if changes is not None:
            return {"mode": "delta", "cursor": now, "data": {"messages": changes}}
    page = [m for cid in channel_ids for m in selectors.history(cid)]
    return {"mode": "full", "cursor": now, "data": {"messages": page}}


# What every attendee's fresh snapshot shares: built once per version of its groups.
_open_pages = SharedPart("chat", selectors.open_pages)
_qa_board = SharedPart("qa", lambda event_id: selectors.qa_board(event_id, moderator=False))


@stream("chat")
async def chat_stream(conn, cursor: int | None) -> dict:
    """Channels you can read and their messages: fresh pages, or every change after your cursor."""
    channels = [c for c in await _channels(conn.event_id) if _readable(conn, c)]
    channel_ids = [c.pk for c in channels]
    result = None
    if cursor is None and all(c.kind != Channel.Kind.BREAKOUT for c in channels):
        shared = await _open_pages.get(conn.event_id, [services.channel_group(cid) for cid in channel_ids])
        if all(cid in shared["pages"] for cid in channel_ids):
            messages = [m for cid in channel_ids for m in shared["pages"][cid]]
            result = {"mode": "full", "cursor": shared["cursor"], "data": {"messages": messages}}
    if result is None:  # resuming, or reading a breakout room's chat: read for this person
        result = await _call(_chat_stream, event_id=conn.event_id, channel_ids=channel_ids, cursor=cursor)
    # Channel settings ride along whatever the mode: they are small and may have changed.
    result.setdefault("data", {})["channels"] = [selectors.channel_out(c) for c in channels]
    if result["mode"] == "unchanged":
        result["mode"] = "delta"
        result["data"]["messages"] = []
    return result


@join_read("qa")
def _qa_mine(actor) -> dict | None:
    # Moderators read the whole Q&A with authors below; everyone else reads only their own rows.
    return None if actor.roles & services.MODERATING else selectors.qa_mine(actor.participant_id)


@stream("qa")
async def qa_stream(conn, cursor: int | None) -> dict:
    """Q&A and polls of the event, always fresh (moderators also get the queue and authors)."""
    participant_id = conn.actor.participant_id
    if conn.actor.roles & services.MODERATING:
        data = await _call(selectors.qa_state, event_id=conn.event_id, participant_id=participant_id, moderator=True)
    else:
        # Questions go out on the event group, polls on their channel's group.
        watched = [groups.event(conn.event_id), *(services.channel_group(c.pk) for c in await _channels(conn.event_id))]
        data = {**await _qa_board.get(conn.event_id, watched), **conn.join_reads["qa"]}
    return {"mode": "full", "cursor": int(time.time()), "data": data}
