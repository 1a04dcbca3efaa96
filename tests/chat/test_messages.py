"""Chat messages over the real gateway and Redis: delivery, limits, resume, moderation."""

import pytest

from chat.models import Channel, Message, ModerationAction, Mute
from eventplatform.models import Participant, Room
from tests.chat.conftest import (
    breakout_channel,
    channel_of,
    drop,
    enter_room,
    key,
    no_push,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_message_reaches_everyone_on_the_stage_with_its_author(people, connect):
    alice, bob = await connect(people["attendee"]), await connect(people["attendee2"])
    stage = await channel_of(alice)
    await channel_of(bob)
    reply = await alice.request("chat.send", {"channel_id": stage, "text": "Hallo @Speaker!", "client_key": key()})
    assert reply["ok"], reply
    message = reply["data"]["message"]
    pushed = await bob.wait_push("chat.message")
    assert pushed == message
    assert pushed["author"] == {"id": people["attendee"].pk, "name": "Attendee", "roles": []}
    assert pushed["mentions"] == [people["speaker"].pk]
    answer = await bob.request("chat.send", {"channel_id": stage, "text": "hi", "client_key": key(),
                                             "reply_to": message["id"]})
    assert answer["data"]["message"]["reply_to"] == message["id"]


async def test_empty_and_oversize_text_are_refused_and_nothing_is_stored(people, connect, settings):
    alice = await connect(people["attendee"])
    stage = await channel_of(alice)
    empty = await alice.request("chat.send", {"channel_id": stage, "text": "   ", "client_key": key()})
    assert empty["error"]["code"] == "empty"
    limit = settings.CHAT["MESSAGE_MAX_LENGTH"]
    long = await alice.request("chat.send", {"channel_id": stage, "text": "x" * (limit + 1), "client_key": key()})
    assert long["error"]["code"] == "too_long" and long["error"]["limit"] == limit
    exact = await alice.request("chat.send", {"channel_id": stage, "text": "x" * limit, "client_key": key()})
    assert exact["ok"]
    no_key = await alice.request("chat.send", {"channel_id": stage, "text": "hi"})
    assert no_key["error"]["code"] == "invalid"
    assert await Message.objects.acount() == 1


async def test_reconnect_with_resume_loses_and_duplicates_nothing(people, connect):
    sender, watcher = await connect(people["attendee"]), await connect(people["attendee2"])
    stage = await channel_of(sender)
    hello = await watcher.request("hello", {})
    cursor = hello["data"]["streams"]["chat"]["cursor"]
    first_key = key()

    # The message goes out, then the sender's connection drops before it sees the reply.
    await sender.send_raw(
        '{"id": 99, "type": "chat.send", "data": {"channel_id": %d, "text": "lost reply?", "client_key": "%s"}}'
        % (stage, first_key)
    )
    delivered = await watcher.wait_push("chat.message")
    await drop(sender)
    # Meanwhile someone else writes, and edits it.
    other = await connect(people["speaker"])
    await channel_of(other)
    said = await other.request("chat.send", {"channel_id": stage, "text": "while you were away", "client_key": key()})
    await other.request("chat.edit", {"message_id": said["data"]["message"]["id"], "text": "while you were gone"})

    again = await connect(people["attendee"])
    resumed = await again.request("hello", {"resume": {"chat": cursor}})
    chat = resumed["data"]["streams"]["chat"]
    assert chat["mode"] == "delta"
    texts = [(m["id"], m["text"]) for m in chat["data"]["messages"]]
    assert (delivered["id"], "lost reply?") in texts
    assert (said["data"]["message"]["id"], "while you were gone") in texts
    # The client did not see its reply, so it resends with the same key: stored once.
    resend = await again.request("chat.send", {"channel_id": stage, "text": "lost reply?", "client_key": first_key})
    assert resend["ok"] and resend["data"]["duplicate"] is True
    assert resend["data"]["message"]["id"] == delivered["id"]
    assert await Message.objects.filter(client_key=first_key).acount() == 1
    # …and the watcher got it exactly once.
    await watcher.wait_push("chat.message", where=lambda d: d["text"] == "while you were away")
    assert await no_push(watcher, "chat.message")

    unchanged = await again.request("hello", {"resume": {"chat": chat["cursor"]}})
    assert unchanged["data"]["streams"]["chat"]["data"]["messages"] == []


async def test_a_stale_cursor_gets_a_fresh_page(people, connect, settings):
    settings.CHAT = {**settings.CHAT, "RESUME_MAX": 2}
    alice = await connect(people["attendee"])
    stage = await channel_of(alice)
    for i in range(3):
        await alice.request("chat.send", {"channel_id": stage, "text": f"m{i}", "client_key": key()})
    resumed = await alice.request("hello", {"resume": {"chat": 0}})
    chat = resumed["data"]["streams"]["chat"]
    assert chat["mode"] == "full"
    assert [m["text"] for m in chat["data"]["messages"]] == ["m0", "m1", "m2"]
    page = await alice.request("chat.history", {"channel_id": stage, "before_id": chat["data"]["messages"][2]["id"],
                                                "limit": 1})
    assert [m["text"] for m in page["data"]["messages"]] == ["m1"]


async def test_edit_and_delete_by_the_author_within_the_window_and_by_moderators(people, connect, settings):
    alice, bob, mod = [await connect(people[p]) for p in ("attendee", "attendee2", "moderator")]
    stage = await channel_of(alice)
    sent = (await alice.request("chat.send", {"channel_id": stage, "text": "typo", "client_key": key()}))["data"]
    mid = sent["message"]["id"]
    assert (await bob.request("chat.edit", {"message_id": mid, "text": "mine"}))["error"]["code"] == "forbidden"
    assert (await bob.request("chat.delete", {"message_id": mid}))["error"]["code"] == "forbidden"
    edited = await alice.request("chat.edit", {"message_id": mid, "text": "fixed"})
    assert edited["data"]["text"] == "fixed" and edited["data"]["edited_at"]
    settings.CHAT = {**settings.CHAT, "EDIT_WINDOW": 0}
    assert (await alice.request("chat.edit", {"message_id": mid, "text": "late"}))["error"]["code"] == "too_late"
    assert (await alice.request("chat.delete", {"message_id": mid}))["error"]["code"] == "too_late"
    await channel_of(bob)
    deleted = await mod.request("chat.delete", {"message_id": mid})
    assert deleted["data"]["deleted"] is True and deleted["data"]["text"] == ""
    update = await bob.wait_push("chat.message_update", where=lambda d: d["deleted"])
    assert update["id"] == mid
    entry = await ModerationAction.objects.aget(action="message.delete")
    assert entry.actor_id == people["moderator"].pk and entry.target_id == people["attendee"].pk


async def test_only_people_in_a_breakout_write_and_read_its_chat(people, event, connect):
    alice, bob = await connect(people["attendee"]), await connect(people["attendee2"])
    await channel_of(alice)
    channel = await Channel.objects.select_related("room").aget(room__event=event, room__name="Breakout A")
    refused = await alice.request("chat.send", {"channel_id": channel.pk, "text": "let me in", "client_key": key()})
    assert refused["error"]["code"] == "not_member"
    assert (await alice.request("chat.watch", {"channel_id": channel.pk}))["error"]["code"] == "not_member"
    assert (await alice.request("chat.history", {"channel_id": channel.pk}))["error"]["code"] == "not_member"
    await enter_room(people["attendee"], channel.room_id)
    await enter_room(people["attendee2"], channel.room_id)
    assert (await bob.request("chat.watch", {"channel_id": channel.pk}))["ok"]
    ok = await alice.request("chat.send", {"channel_id": channel.pk, "text": "drinnen", "client_key": key()})
    assert ok["ok"], ok
    assert (await bob.wait_push("chat.message"))["text"] == "drinnen"
    assert await Message.objects.filter(channel=channel).acount() == 1


async def test_a_breakout_chat_is_found_by_its_room_only_by_the_people_in_it(people, event, connect):
    alice, bob = await connect(people["attendee"]), await connect(people["attendee2"])
    await channel_of(alice)  # connected: the event's channels exist
    channel = await Channel.objects.select_related("room").aget(room__event=event, room__name="Breakout A")
    outside = await alice.request("chat.watch_room", {"room_id": channel.room_id})
    assert outside["ok"] is False and outside["error"]["code"] == "not_member"
    stage = await Room.objects.aget(event=event, kind=Room.Kind.STAGE)  # its chat is no breakout's
    assert (await alice.request("chat.watch_room", {"room_id": stage.pk}))["error"]["code"] == "not_found"
    assert (await alice.request("chat.watch_room", {"room_id": 987654}))["error"]["code"] == "not_found"
    await enter_room(people["attendee"], channel.room_id)
    await enter_room(people["attendee2"], channel.room_id)
    watched = await alice.request("chat.watch_room", {"room_id": channel.room_id})
    assert watched["ok"] and watched["data"]["channel"]["id"] == channel.pk
    assert watched["data"]["channel"]["kind"] == "breakout"
    sent = await bob.request("chat.send", {"channel_id": channel.pk, "text": "Wer teilt den Bildschirm?", "client_key": key()})
    assert sent["ok"], sent
    assert (await alice.wait_push("chat.message"))["text"] == "Wer teilt den Bildschirm?"


async def test_attendees_cannot_call_moderator_commands(people, connect):
    alice = await connect(people["attendee"])
    stage = await channel_of(alice)
    for type_, data in [
        ("chat.mute", {"participant_id": people["attendee2"].pk, "minutes": 5}),
        ("chat.remove", {"participant_id": people["attendee2"].pk}),
        ("chat.slow_mode", {"channel_id": stage, "seconds": 10}),
        ("chat.log", {}),
        ("qa.configure", {"session_id": 1, "is_open": True}),
        ("qa.moderate", {"question_id": 1, "action": "approve"}),
        ("poll.create", {"channel_id": stage, "question": "?", "options": ["a", "b"]}),
    ]:
        reply = await alice.request(type_, data)
        assert reply["error"]["code"] == "forbidden", (type_, reply)
    assert await Mute.objects.acount() == 0 and await ModerationAction.objects.acount() == 0


async def test_a_muted_person_cannot_post_until_unmuted(people, connect):
    alice, mod = await connect(people["attendee"]), await connect(people["moderator"])
    stage = await channel_of(alice)
    muted = await mod.request("chat.mute", {"participant_id": people["attendee"].pk, "minutes": 10, "reason": "spam"})
    assert muted["ok"]
    assert (await alice.wait_push("chat.muted"))["until"]
    refused = await alice.request("chat.send", {"channel_id": stage, "text": "still here", "client_key": key()})
    assert refused["error"]["code"] == "muted"
    assert (await mod.request("chat.unmute", {"participant_id": people["attendee"].pk}))["ok"]
    assert (await alice.request("chat.send", {"channel_id": stage, "text": "back", "client_key": key()}))["ok"]
    log = await mod.request("chat.log", {})
    assert [e["action"] for e in log["data"]["entries"]] == ["participant.unmute", "participant.mute"]


async def test_a_flood_over_the_send_limit_is_refused(people, connect, settings):
    alice = await connect(people["attendee"])
    stage = await channel_of(alice)
    limit = settings.CHAT["SEND_LIMIT"]
    replies = [await alice.request("chat.send", {"channel_id": stage, "text": f"{i}", "client_key": key()})
               for i in range(limit + 3)]
    assert all(r["ok"] for r in replies[:limit])
    assert {r["error"]["code"] for r in replies[limit:]} == {"rate_limited"}
    assert replies[limit]["error"]["retry_after"] > 0
    assert await Message.objects.acount() == limit


async def test_slow_mode_spaces_out_messages_but_not_moderators(people, connect):
    alice, mod = await connect(people["attendee"]), await connect(people["moderator"])
    stage = await channel_of(alice)
    await channel_of(mod)
    changed = await mod.request("chat.slow_mode", {"channel_id": stage, "seconds": 30})
    assert changed["data"]["slow_mode_seconds"] == 30
    assert (await alice.wait_push("chat.channel"))["slow_mode_seconds"] == 30
    assert (await alice.request("chat.send", {"channel_id": stage, "text": "1", "client_key": key()}))["ok"]
    slow = await alice.request("chat.send", {"channel_id": stage, "text": "2", "client_key": key()})
    assert slow["error"]["code"] == "slow_mode" and 0 < slow["error"]["retry_after"] <= 30
    for i in range(2):
        assert (await mod.request("chat.send", {"channel_id": stage, "text": f"m{i}", "client_key": key()}))["ok"]


async def test_announcements_come_from_moderators_to_everyone(people, connect):
    alice, mod = await connect(people["attendee"]), await connect(people["moderator"])
    channel = await channel_of(alice, kind="announcements")
    refused = await alice.request("chat.send", {"channel_id": channel, "text": "me too", "client_key": key()})
    assert refused["error"]["code"] == "forbidden"
    assert (await mod.request("chat.send", {"channel_id": channel, "text": "Pause!", "client_key": key()}))["ok"]
    assert (await alice.wait_push("chat.message"))["text"] == "Pause!"


async def test_removal_closes_the_sockets_and_the_ticket(people, connect):
    alice, mod = await connect(people["attendee"]), await connect(people["moderator"])
    await channel_of(alice)
    reply = await mod.request("chat.remove", {"participant_id": people["attendee"].pk, "reason": "Beleidigung"})
    assert reply["ok"]
    told = await alice.receive(timeout=5)
    assert told["error"]["code"] == "removed" and told["error"]["message"] == "Beleidigung"
    closed = await alice.communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close"
    assert (await Participant.objects.aget(pk=people["attendee"].pk)).is_removed
    assert await ModerationAction.objects.filter(action="participant.remove").aexists()
    refused = await mod.request("chat.remove", {"participant_id": people["organizer"].pk})
    assert refused["error"]["code"] == "forbidden"


def test_breakout_channel_helper_finds_channels(event):
    from chat import services

    services.ensure_channels(event.pk)
    assert breakout_channel(event).kind == Channel.Kind.BREAKOUT
    assert Channel.objects.filter(event=event).count() == 4  # stage, two breakouts, announcements
