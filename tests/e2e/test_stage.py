"""The speaker goes live from the browser (fake camera, WHIP); an attendee's page plays it (WHEP)."""

import pytest
from playwright.sync_api import expect

from eventplatform.models import Room
from streams import services
from tests.streams.fixtures import relay  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def test_speaker_goes_live_and_attendee_plays(event, people, daphne, relay, new_page):  # noqa: F811
    port, _ = daphne()
    relay()
    base = f"http://127.0.0.1:{port}"
    stage = Room.objects.get(event=event, kind="stage")
    services.set_stage_session(stage, event.sessions.get(title="Welcome"))

    speaker = new_page()
    speaker.goto(f"{base}/t/{people['speaker'].ticket.secret}/")
    expect(speaker.get_by_test_id("connection-state")).to_have_text("connected")
    speaker.goto(f"{base}/e/testcamp/speaker")
    expect(speaker.get_by_test_id("go-live-camera")).to_be_enabled()  # the stage is known
    speaker.get_by_test_id("go-live-camera").click()
    expect(speaker.get_by_test_id("live-state")).to_have_text("You are live.", timeout=20_000)

    attendee = new_page()
    attendee.goto(f"{base}/t/{people['attendee'].ticket.secret}/")
    expect(attendee.get_by_test_id("connection-state")).to_have_text("connected")
    attendee.goto(f"{base}/e/testcamp/stage")
    video = attendee.get_by_test_id("stage-video")
    attendee.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=stage-video]'); return v && v.videoWidth > 0 }",
        timeout=20_000,
    )
    first = video.evaluate("v => v.currentTime")
    attendee.wait_for_timeout(1500)
    later = video.evaluate("v => v.currentTime")
    assert later > first
    assert video.evaluate("v => v.videoWidth") > 0

    # The speaker ends the broadcast: the attendee's player goes back to the slate.
    speaker.get_by_test_id("stop-live").click()
    expect(speaker.get_by_test_id("live-state")).to_have_text("You are not live.")
    expect(attendee.get_by_text("the broadcast has not started yet")).to_be_visible(timeout=15_000)
    expect(video).to_be_hidden()
