"""Chat and Q&A in Chromium: the question goes from an attendee to the projector."""

import pytest
from playwright.sync_api import expect

from chat.models import QA
from eventplatform.models import Session

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NASTY = '<b>fett</b><img src=x onerror="window.pwned=1"><script>window.pwned=1</script>'


def open_view(new_page, base, person, view, locale="en-US"):
    page = new_page(locale=locale)
    page.goto(f"{base}/t/{person.ticket.secret}/")
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "connected")
    page.goto(f"{base}/e/testcamp/{view}")
    return page


def test_a_question_goes_from_an_attendee_to_the_screen(people, event, daphne, new_page):
    welcome = Session.objects.get(event=event, title="Welcome")  # running now
    QA.objects.create(session=welcome, is_open=True)
    port, _ = daphne()
    base = f"http://127.0.0.1:{port}"

    bob = open_view(new_page, base, people["attendee2"], "stage", locale="de-DE")
    bob.get_by_test_id("qa-input").fill("Eine frühere Frage ohne Stimmen?")
    bob.get_by_test_id("qa-ask").click()
    expect(bob.get_by_test_id("qa-list")).to_contain_text("Eine frühere Frage")

    alice = open_view(new_page, base, people["attendee"], "stage")
    alice.get_by_test_id("qa-input").fill("How does it scale? " + NASTY)
    alice.get_by_test_id("qa-anonymous").check()
    alice.get_by_test_id("qa-ask").click()
    expect(alice.get_by_test_id("qa-list")).to_contain_text("How does it scale?")

    # The second attendee upvotes it.
    item = bob.locator("[data-question-id]", has_text="How does it scale?")
    expect(item).to_contain_text("Anonym")
    item.get_by_test_id("qa-vote").click()
    expect(item.get_by_test_id("qa-votes")).to_have_text("1")
    expect(alice.locator("[data-question-id]", has_text="How does it scale?").get_by_test_id("qa-votes")).to_have_text("1")

    # The speaker sees it first (most votes), shown as text.
    speaker = open_view(new_page, base, people["speaker"], "speaker")
    first = speaker.get_by_test_id("speaker-question").first
    expect(first).to_contain_text("How does it scale? " + NASTY)

    # The moderator puts it on screen; the projector shows it with its votes.
    moderator = open_view(new_page, base, people["moderator"], "moderator")
    moderator.get_by_role("button", name="visible", exact=True).click()
    question = moderator.get_by_test_id("moderation-question").filter(has_text="How does it scale?")
    expect(question).to_contain_text("Attendee")  # moderators see who asked anonymously
    question.get_by_test_id("mod-on-screen").click()

    screen = open_view(new_page, base, people["moderator"], "screen")
    expect(screen.get_by_test_id("screen-question")).to_contain_text("How does it scale? " + NASTY)
    expect(screen.get_by_test_id("screen-votes")).to_have_text("▲ 1")
    expect(speaker.get_by_test_id("speaker-question").first).to_have_class("speaker-qa__item is-on-screen")

    # Markup stayed text everywhere: no element was created from it, no script ran.
    for page in (alice, bob, speaker, screen):
        assert page.locator("[data-testid] b, [data-testid] img, [data-testid] script").count() == 0
        assert page.evaluate("window.pwned") is None


def test_markup_in_a_chat_message_is_shown_as_text_and_links_are_safe(people, event, daphne, new_page):
    port, _ = daphne()
    base = f"http://127.0.0.1:{port}"
    alice = open_view(new_page, base, people["attendee"], "stage")
    bob = open_view(new_page, base, people["attendee2"], "stage")
    alice.get_by_test_id("chat-input").fill(NASTY + " https://example.org/folien javascript:alert(1)")
    alice.get_by_test_id("chat-send").click()
    messages = bob.get_by_test_id("chat-messages")
    expect(messages).to_contain_text(NASTY)
    assert messages.locator("b, img, script").count() == 0
    links = messages.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.org/folien")
    expect(links).to_have_attribute("rel", "noopener noreferrer nofollow ugc")
    assert bob.evaluate("window.pwned") is None
    # An empty message cannot be sent; an over-long one is refused with a clear message.
    expect(alice.get_by_test_id("chat-send")).to_be_disabled()
