"""Breakout rooms in Chromium with the fake camera: two attendees see each other and talk in
the room chat, the moderator drags one into another room, and the timer brings everyone back
to the stage."""

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from eventplatform.models import Room
from rooms.models import BreakoutRound
from tests.rooms.processes import celery_worker  # noqa: F401  (fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

HAS_PICTURE = "els => els.length > 0 && els.every(v => v.videoWidth > 0)"


def _enter(new_page, base, participant, view):
    page = new_page()
    # What the page logged (refused signals, failed offers), shown if a wait below fails.
    page.console_lines = []
    page.on("console", lambda message: page.console_lines.append(f"{message.type}: {message.text}"))
    page.goto(f"{base}/t/{participant.ticket.secret}/")
    expect(page.get_by_test_id("connection-state")).to_have_text("connected")
    page.goto(f"{base}/e/testcamp/{view}")
    expect(page.get_by_test_id("connection-state")).to_have_text("connected")
    return page


def _wait_for_picture(page) -> None:
    try:
        page.wait_for_function(
            f"() => ({HAS_PICTURE})([...document.querySelectorAll('[data-testid=remote-video]')])", timeout=20_000
        )
    except PlaywrightTimeoutError:
        videos = page.evaluate(
            "[...document.querySelectorAll('[data-testid=remote-video]')]"
            ".map(v => ({width: v.videoWidth, ready: v.readyState, stream: !!v.srcObject}))"
        )
        raise AssertionError(f"no remote picture within 20 s; remote videos: {videos}; the page logged:\n"
                             + "\n".join(page.console_lines)) from None


def test_video_drag_and_drop_and_timer(people, daphne, new_page, celery_worker):  # noqa: F811
    port, _ = daphne()
    base = f"http://127.0.0.1:{port}"
    mod = _enter(new_page, base, people["moderator"], "moderator")
    alice = _enter(new_page, base, people["attendee"], "stage")
    bob = _enter(new_page, base, people["attendee2"], "stage")

    console = mod.get_by_test_id("rooms-console")
    expect(console).to_be_visible()
    mod.get_by_test_id("open-minutes").fill("0")
    mod.get_by_test_id("open-rooms").click()
    expect(mod.get_by_test_id("return-all")).to_be_visible()

    stage = mod.get_by_test_id("column-stage")
    room_a = mod.get_by_test_id("column-Breakout A")
    room_b = mod.get_by_test_id("column-Breakout B")
    # Alice by drag and drop; Bob with the keyboard alternative (select, then "Move selected here").
    stage.locator('[data-person="Attendee"]').drag_to(room_a)
    expect(room_a.locator('[data-person="Attendee"]')).to_be_visible()
    stage.locator('[data-person="Attendee2"]').focus()
    mod.keyboard.press("Enter")
    room_a.get_by_role("button", name="Move selected here").click()
    expect(room_a.locator('[data-person="Attendee2"]')).to_be_visible()

    # Both are in the room's call and see each other's (fake) camera.
    expect(alice.get_by_test_id("room-panel")).to_contain_text("Breakout A")
    expect(bob.get_by_test_id("room-panel")).to_contain_text("Breakout A")
    for page in (alice, bob):
        _wait_for_picture(page)

    # The room chat beside the video: Alice writes with the keyboard, Bob reads it.
    alice.get_by_label("Message to everyone in this room").fill("Wer teilt den Bildschirm?")
    alice.get_by_label("Message to everyone in this room").press("Enter")
    expect(bob.get_by_test_id("room-chat-messages")).to_contain_text("Wer teilt den Bildschirm?")

    # The moderator drags Bob to room B: Alice's call with him ends, Bob's panel switches
    # without a reload.
    bob.evaluate("window.__sameDocument = true")
    room_a.locator('[data-person="Attendee2"]').drag_to(room_b)
    expect(bob.get_by_test_id("room-panel")).to_contain_text("Breakout B")
    expect(alice.get_by_test_id("remote-video")).to_have_count(0)
    assert bob.evaluate("window.__sameDocument") is True
    # Bob's chat is room B's now: A's conversation is not shown there.
    expect(bob.get_by_test_id("room-chat-input")).to_be_enabled()
    expect(bob.get_by_test_id("room-chat")).to_contain_text("No messages in this room yet.")

    # Everyone back to the stage after a 3 s countdown: the timer (Celery) closes the rooms.
    mod.locator("input[type=number]").last.fill("3")
    mod.get_by_test_id("return-all").click()
    expect(alice.get_by_test_id("room-timer")).to_be_visible()
    expect(alice.get_by_test_id("room-panel")).to_have_count(0, timeout=20_000)
    expect(bob.get_by_test_id("room-panel")).to_have_count(0, timeout=20_000)
    assert alice.url.endswith("/e/testcamp/stage") and bob.url.endswith("/e/testcamp/stage")
    expect(alice.get_by_test_id("connection-state")).to_have_text("connected")
    rnd = BreakoutRound.objects.get()
    assert rnd.state == "done" and rnd.closed_by == "timer"
    assert Room.objects.filter(kind="breakout").count() == 2
