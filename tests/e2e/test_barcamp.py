"""A barcamp day in Chromium: propose on a phone, vote from a second browser, the organizer
auto-fills and publishes, the attendee's agenda shows the session in its room."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from barcamp import services
from eventplatform.models import Room

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture
def grid(event, people):
    rooms = {r.name: r for r in Room.objects.filter(event=event)}
    services.add_room(event, rooms["Breakout A"], capacity=20, mode="hybrid")
    services.add_room(event, rooms["Breakout B"], capacity=10, mode="hybrid")
    start = event.start.replace(minute=0, second=0) + timedelta(hours=5)
    services.add_slot(event, start, start + timedelta(minutes=45))
    services.add_slot(event, start + timedelta(hours=1), start + timedelta(hours=1, minutes=45))
    services.configure(people["organizer"], voting_open=True)


def test_propose_vote_autofill_publish_and_see_it_in_the_agenda(people, grid, daphne, new_page):
    port, _ = daphne()
    base = f"http://127.0.0.1:{port}"
    title = "Kommunale Open Data"

    phone = new_page(**PHONE)
    phone.goto(f"{base}/t/{people['attendee'].ticket.secret}/")
    expect(phone.get_by_test_id("connection-state")).to_have_text("connected")
    phone.get_by_label("Title").fill(title)
    phone.get_by_label("What is it about?").fill("Welche Daten teilen Städte?")
    submit = phone.get_by_role("button", name="Propose")
    box = submit.bounding_box()
    assert box["height"] >= 44 and box["x"] + box["width"] <= 390  # a thumb-sized target, on screen
    submit.tap()
    expect(phone.get_by_role("status").filter(has_text="Proposed")).to_contain_text(title)

    mine = phone.get_by_test_id("barcamp-proposal").filter(has_text=title)
    mine.get_by_role("button", name="Add to my sessions").tap()
    expect(mine.get_by_role("button", name="Remove from my sessions")).to_have_attribute("aria-pressed", "true")

    voter = new_page()
    voter.goto(f"{base}/t/{people['attendee2'].ticket.secret}/")
    proposal = voter.get_by_test_id("barcamp-proposal").filter(has_text=title)
    interested = proposal.get_by_role("button", name="Interested")
    interested.click()
    expect(interested).to_have_attribute("aria-pressed", "true")

    organizer = new_page()
    organizer.goto(f"{base}/t/{people['organizer'].ticket.secret}/")
    expect(organizer.get_by_test_id("connection-state")).to_have_text("connected")
    organizer.goto(f"{base}/e/testcamp/moderator")
    expect(organizer.get_by_test_id("barcamp-grid")).to_be_visible()
    organizer.get_by_role("button", name="Auto-fill by votes").click()
    expect(organizer.get_by_test_id("grid-cell").filter(has_text=title)).to_have_count(1)
    organizer.get_by_role("button", name="Publish").click()
    expect(organizer.get_by_role("status").filter(has_text="release 1")).to_be_visible()

    # The phone never reloaded: the release notice and the agenda arrive as pushes.
    expect(phone.get_by_test_id("barcamp-release")).to_contain_text(title)
    session = phone.get_by_test_id("agenda-session").filter(has_text=title)
    expect(session).to_have_count(1)
    expect(session).to_contain_text("Breakout A")
    expect(phone.get_by_test_id("barcamp-my-sessions")).to_contain_text(title)
    expect(phone.get_by_test_id("barcamp-my-sessions")).to_contain_text("Breakout A")
