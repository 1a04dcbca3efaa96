"""A moderator drives the agenda from the console in Chromium; an attendee sees it happen."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from eventplatform import services
from eventplatform.models import Session
from eventplatform.transitions.models import Transition
from tests.transitions.conftest import celery_procs  # noqa: F401 (a fixture: real Celery processes)

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_moderator_starts_a_session_now_and_the_attendee_sees_it_live(event, people, daphne, celery_procs, new_page):  # noqa: F811
    Session.objects.filter(event=event).delete()
    start = timezone.now() + timedelta(minutes=10)
    opening = Session.objects.create(event=event, title="Opening", start=start, end=start + timedelta(minutes=30),
                                     room=event.rooms.get(name="Stage"))
    services.agenda_changed(event)
    port, _ = daphne()
    celery_procs("worker")
    base = f"http://127.0.0.1:{port}"

    attendee = new_page()
    attendee.goto(f"{base}/t/{people['attendee'].ticket.secret}/")
    expect(attendee.get_by_test_id("connection-state")).to_have_text("connected")
    expect(attendee.get_by_test_id("live-notice")).to_contain_text("Nothing is live")

    moderator = new_page()
    moderator.goto(f"{base}/t/{people['moderator'].ticket.secret}/")
    expect(moderator.get_by_test_id("connection-state")).to_have_text("connected")
    moderator.goto(f"{base}/e/testcamp/moderator")
    console = moderator.get_by_test_id("agenda-control")
    row = console.get_by_test_id(f"agenda-session-{opening.pk}")
    expect(row).to_contain_text("Opening")
    expect(row).to_contain_text("next")
    countdown = console.get_by_test_id(f"agenda-transition-{Transition.objects.get(session=opening, moment='start').pk}")
    first = countdown.locator("time").inner_text()
    expect(countdown.locator("time")).not_to_have_text(first, timeout=3000)  # it counts down by itself

    row.get_by_role("button", name="Start now").click()
    expect(attendee.get_by_test_id(f"live-notice-{opening.pk}")).to_contain_text("Now live:")
    expect(attendee.get_by_test_id(f"live-notice-{opening.pk}")).to_contain_text("Opening")
    expect(row).to_contain_text("live")
    expect(console).to_contain_text("Just happened")
    assert Transition.objects.get(session=opening, moment="start").state == "done"

    # Ending it now takes the notice away again; extending a finished session is refused.
    row.get_by_role("button", name="End now").click()
    expect(attendee.get_by_test_id(f"live-notice-{opening.pk}")).to_have_count(0)
