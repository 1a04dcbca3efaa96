"""The attendee opens their ticket link in Chromium and sees the live event page."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_ticket_link_shows_agenda_connection_and_presence(people, daphne, new_page):
    port, _ = daphne()
    base = f"http://127.0.0.1:{port}"

    alice = new_page()
    alice.goto(f"{base}/t/{people['attendee'].ticket.secret}/")
    expect(alice).to_have_url(f"{base}/e/testcamp/")
    expect(alice.get_by_test_id("connection-state")).to_have_text("connected")
    sessions = alice.get_by_test_id("agenda-session")
    expect(sessions).to_have_count(3)
    expect(sessions.first).to_contain_text("Welcome")
    expect(alice.get_by_test_id("presence-count")).to_have_text("1")

    bob = new_page()
    bob.goto(f"{base}/t/{people['speaker'].ticket.secret}/")
    expect(bob.get_by_test_id("connection-state")).to_have_text("connected")

    expect(alice.get_by_test_id("presence-count")).to_have_text("2")
    expect(alice.get_by_test_id("presence-list")).to_contain_text("Speaker")

    bob.close()
    expect(alice.get_by_test_id("presence-count")).to_have_text("1")


def test_german_browser_gets_the_german_page(people, daphne, new_page):
    port, _ = daphne()
    page = new_page(locale="de-DE")
    page.goto(f"http://127.0.0.1:{port}/t/{people['attendee'].ticket.secret}/")
    expect(page.get_by_test_id("connection-state")).to_have_text("verbunden")
    expect(page.locator("html")).to_have_attribute("lang", "de")


def test_without_a_ticket_the_page_says_how_to_get_in(people, daphne, new_page):
    port, _ = daphne()
    page = new_page()
    page.goto(f"http://127.0.0.1:{port}/e/testcamp/")
    state = page.get_by_test_id("connection-state")
    expect(state).to_have_attribute("data-state", "closed")
    expect(page.get_by_role("alert")).to_contain_text("ticket")
