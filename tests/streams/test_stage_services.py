"""Stage sources, the session on stage, stream keys: services and socket commands over real Redis."""

import pytest

from eventplatform.agenda_actions import Moment, actions_for
from eventplatform.models import Room
from eventplatform.realtime.envelope import GatewayError
from streams import selectors, services
from streams.models import StreamKey, StreamSource, hash_stream_key

pytestmark = pytest.mark.django_db(transaction=True)


def _stage(event):
    return Room.objects.get(event=event, kind="stage")


def test_keys_are_stored_hashed_and_revocable(event, people):
    stage = _stage(event)
    key, secret = services.issue_key(people["speaker"], room_id=stage.pk, label="OBS")
    stored = StreamKey.objects.get(pk=key.pk)
    assert secret not in (stored.key_hash, stored.prefix, stored.label)
    assert stored.key_hash == hash_stream_key(secret)
    assert selectors.valid_key(stage.pk, secret) == stored
    assert selectors.valid_key(stage.pk, secret + "x") is None
    services.revoke_key(people["moderator"], key_id=key.pk)
    assert selectors.valid_key(stage.pk, secret) is None


def test_attendees_get_no_keys_and_cannot_revoke(event, people):
    stage = _stage(event)
    with pytest.raises(GatewayError) as refused:
        services.issue_key(people["attendee"], room_id=stage.pk, label="")
    assert refused.value.code == "forbidden"
    key, _ = services.issue_key(people["speaker"], room_id=stage.pk, label="")
    with pytest.raises(GatewayError) as refused:
        services.revoke_key(people["attendee"], key_id=key.pk)
    assert refused.value.code == "forbidden"
    breakout = Room.objects.get(event=event, name="Breakout A")
    with pytest.raises(GatewayError) as refused:
        services.issue_key(people["speaker"], room_id=breakout.pk, label="")
    assert refused.value.code == "not_a_stage"


@pytest.mark.parametrize(
    "kind,url,expected",
    [
        ("youtube", "https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("youtube", "https://youtu.be/dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("youtube", "https://www.youtube.com/live/dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("vimeo", "https://vimeo.com/76979871", "https://player.vimeo.com/video/76979871"),
        ("hls", "https://cdn.example.org/stage/index.m3u8", "https://cdn.example.org/stage/index.m3u8"),
    ],
)
def test_source_links_become_player_addresses(kind, url, expected):
    assert services.normalize_source_url(kind, url) == expected


@pytest.mark.parametrize(
    "kind,url",
    [("youtube", "https://evil.example/watch?v=dQw4w9WgXcQ"), ("hls", "javascript:alert(1)"),
     ("hls", "https://cdn.example.org/x.mp4"), ("vimeo", "https://vimeo.com/abc")],
)
def test_bad_source_links_are_refused(kind, url):
    with pytest.raises(GatewayError) as refused:
        services.normalize_source_url(kind, url)
    assert refused.value.code == "source_url_invalid"


async def test_source_follows_the_session_and_slate_between(event, people, connect):
    from channels.db import database_sync_to_async

    stage = await database_sync_to_async(_stage)(event)
    attendee = await connect(people["attendee"])
    moderator = await connect(people["moderator"])
    reply = await attendee.request("stage.state")
    [view] = reply["data"]["stages"]
    assert view["kind"] == "slate" and view["next"]["title"] == "Keynote"

    reply = await attendee.request("stage.source.set", {"room_id": stage.pk, "kind": "hls", "url": "https://x.org/a.m3u8"})
    assert reply["error"]["code"] == "forbidden"
    reply = await moderator.request(
        "stage.source.set", {"room_id": stage.pk, "kind": "youtube", "url": "https://youtu.be/dQw4w9WgXcQ"}
    )
    assert reply["ok"], reply

    def start_keynote():
        keynote = event.sessions.get(title="Keynote")
        for action in actions_for(keynote, Moment.START):
            if action.name.startswith("streams."):  # other apps' actions need a real transition
                action.func(keynote, None)
        return keynote

    keynote = await database_sync_to_async(start_keynote)()
    pushed = await attendee.wait_push("stage.source", where=lambda d: d["session"] is not None)
    assert pushed["kind"] == "youtube" and pushed["session"]["title"] == "Keynote"
    assert pushed["url"] == "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"

    def end_keynote():
        for action in actions_for(keynote, Moment.END):
            if action.name.startswith("streams."):  # other apps' actions need a real transition
                action.func(keynote, None)

    await database_sync_to_async(end_keynote)()
    pushed = await attendee.wait_push("stage.source", where=lambda d: d["session"] is None)
    assert pushed["kind"] == "slate" and pushed["url"] == ""


async def test_key_commands_check_roles(event, people, connect):
    from channels.db import database_sync_to_async

    stage = await database_sync_to_async(_stage)(event)
    attendee = await connect(people["attendee"])
    speaker = await connect(people["speaker"])
    moderator = await connect(people["moderator"])
    assert (await attendee.request("stage.key.issue", {"room_id": stage.pk}))["error"]["code"] == "forbidden"
    issued = await speaker.request("stage.key.issue", {"room_id": stage.pk, "label": "OBS laptop"})
    assert issued["ok"] and issued["data"]["secret"].startswith("sk_")
    assert issued["data"]["whip_url"].endswith(f"/api/streams/{stage.pk}/whip")
    assert (await attendee.request("stage.keys.list"))["error"]["code"] == "forbidden"
    listed = await moderator.request("stage.keys.list")
    assert [k["label"] for k in listed["data"]["keys"]] == ["OBS laptop"]
    assert issued["data"]["secret"] not in str(listed)
    revoked = await moderator.request("stage.key.revoke", {"key_id": issued["data"]["key"]["id"]})
    assert revoked["data"]["revoked"] is True
    assert (await attendee.request("stage.key.revoke", {"key_id": 999}))["error"]["code"] == "forbidden"
