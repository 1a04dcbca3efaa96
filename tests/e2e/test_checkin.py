"""The check-in desk in Chromium: set up, scan green then yellow through the scanner field
(a USB scanner types the code and Enter), keep answering offline, sync when back."""

import pytest
from playwright.sync_api import expect

from checkin import codes, services
from checkin.models import Conflict, Scan

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _scan(page, code: str) -> None:
    field = page.get_by_test_id("checkin-code")
    field.focus()
    # Typed key by key and ended with Enter, as a keyboard-wedge scanner does.
    field.press_sequentially(code, delay=0)
    field.press("Enter")


def test_desk_scans_green_then_yellow_and_works_offline(event, people, daphne, new_page):
    guests = [
        services.register(event, name=name, email=f"{name.split()[0].lower()}@example.org", attendance="onsite",
                          by=people["organizer"], send_mail=False)
        for name in ["Gerda Gast", "Holger Hybrid", "Ines Insel"]
    ]
    port, _ = daphne()
    base = f"http://127.0.0.1:{port}"
    page = new_page()
    page.goto(f"{base}/t/{people['staff'].ticket.secret}/")
    page.goto(f"{base}/e/testcamp/staff")
    page.get_by_test_id("checkin-desk-name").fill("Desk 2")
    page.get_by_test_id("checkin-setup").click()
    expect(page.get_by_test_id("checkin-mode")).to_have_text("Online")

    answer = page.get_by_test_id("checkin-answer")
    _scan(page, codes.encode(guests[0].ticket))
    expect(answer).to_have_attribute("data-result", "admitted")
    expect(answer).to_contain_text("Welcome!")
    expect(answer).to_contain_text("Gerda Gast")
    page.keyboard.press("Escape")
    expect(answer).to_have_count(0)

    _scan(page, codes.encode(guests[0].ticket))
    expect(answer).to_have_attribute("data-result", "already_in")
    expect(answer).to_contain_text("Already checked in")
    expect(answer).to_contain_text("Haupteingang")  # the default list, named in the event's first language
    expect(answer).to_contain_text("Desk 2")
    page.keyboard.press("Escape")

    # The venue Wi-Fi drops.
    page.context.set_offline(True)
    _scan(page, codes.encode(guests[1].ticket))
    expect(answer).to_have_attribute("data-result", "admitted")
    expect(answer).to_contain_text("Holger Hybrid")
    expect(answer).to_contain_text("Decided offline")
    expect(page.get_by_test_id("checkin-mode")).to_contain_text("Offline")
    page.keyboard.press("Escape")

    _scan(page, codes.encode(guests[1].ticket))  # the same person again, offline: yellow too
    expect(answer).to_have_attribute("data-result", "already_in")
    page.keyboard.press("Escape")

    forged = codes.encode(guests[2].ticket)
    forged = forged[:-2] + ("AA" if not forged.endswith("AA") else "BB")
    _scan(page, forged)
    expect(answer).to_have_attribute("data-result", "refused")
    expect(answer).to_have_attribute("data-reason", "forged")
    page.keyboard.press("Escape")

    _scan(page, codes.encode(guests[0].ticket))  # admitted online before going offline
    expect(answer).to_have_attribute("data-result", "already_in")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("checkin-queue")).to_contain_text("4")
    assert Scan.objects.filter(offline=True).count() == 0

    # The network returns: the desk notices by itself and sends its queue.
    page.context.set_offline(False)
    expect(page.get_by_test_id("checkin-mode")).to_have_text("Online", timeout=15_000)
    expect(page.get_by_test_id("checkin-queue")).to_have_count(0, timeout=15_000)
    offline_rows = Scan.objects.filter(offline=True).order_by("scanned_at")
    assert [(s.ticket_id, s.result, s.reason) for s in offline_rows] == [
        (guests[1].ticket.pk, "admitted", ""),
        (guests[1].ticket.pk, "already_in", "already_in"),
        (None, "refused", "forged"),
        (guests[0].ticket.pk, "already_in", "already_in"),
    ]
    assert Scan.objects.filter(result="admitted").count() == 2
    assert not Conflict.objects.exists()
    expect(page.get_by_test_id("checkin-onsite")).to_contain_text("2 /", timeout=10_000)


def test_offline_double_admission_shows_up_for_review(event, people, daphne, new_page):
    guest = services.register(event, name="Konrad Konflikt", email="k@example.org", attendance="onsite",
                              by=people["organizer"], send_mail=False)
    port, _ = daphne()
    base = f"http://127.0.0.1:{port}"
    page = new_page()
    page.goto(f"{base}/t/{people['staff'].ticket.secret}/")
    page.goto(f"{base}/e/testcamp/staff")
    page.get_by_test_id("checkin-desk-name").fill("Desk 1")
    page.get_by_test_id("checkin-setup").click()
    expect(page.get_by_test_id("checkin-mode")).to_have_text("Online")

    page.context.set_offline(True)
    _scan(page, codes.encode(guest.ticket))
    expect(page.get_by_test_id("checkin-answer")).to_have_attribute("data-result", "admitted")
    page.keyboard.press("Escape")
    # Meanwhile another desk, online, lets the same ticket in.
    entrance = services.default_list(event)
    assert services.scan(event, entrance, codes.encode(guest.ticket)).result == "admitted"

    page.context.set_offline(False)
    expect(page.get_by_test_id("checkin-conflict")).to_contain_text("Konrad Konflikt", timeout=15_000)
    assert Conflict.objects.count() == 1


def test_attendee_cannot_open_the_desk(event, people, daphne, new_page):
    port, _ = daphne()
    base = f"http://127.0.0.1:{port}"
    page = new_page()
    page.goto(f"{base}/t/{people['attendee'].ticket.secret}/")
    page.goto(f"{base}/e/testcamp/staff")
    expect(page.get_by_test_id("checkin-forbidden")).to_be_visible()
    expect(page.get_by_test_id("checkin-code")).to_have_count(0)


def test_installed_desk_opens_and_answers_without_network(event, people, daphne, new_page):
    guest = services.register(event, name="Olga Offline", email="olga@example.org", attendance="onsite",
                              by=people["organizer"], send_mail=False)
    port, _ = daphne()
    base = f"http://127.0.0.1:{port}"
    page = new_page()
    page.goto(f"{base}/t/{people['staff'].ticket.secret}/")
    page.goto(f"{base}/e/testcamp/staff")
    page.get_by_test_id("checkin-desk-name").fill("Desk 3")
    page.get_by_test_id("checkin-setup").click()
    expect(page.get_by_test_id("checkin-mode")).to_have_text("Online")
    assert page.evaluate("""async () => {
        const registration = await navigator.serviceWorker.ready
        return registration.scope
    }""").endswith("/e/testcamp/staff")
    assert page.locator('link[rel="manifest"]').count() == 1

    page.context.set_offline(True)
    page.reload()  # the service worker serves the app; the bundle comes from IndexedDB
    expect(page.get_by_test_id("checkin-mode")).to_contain_text("Offline")
    _scan(page, codes.encode(guest.ticket))
    expect(page.get_by_test_id("checkin-answer")).to_have_attribute("data-result", "admitted")
    expect(page.get_by_test_id("checkin-answer")).to_contain_text("Olga Offline")

    page.context.set_offline(False)
    expect(page.get_by_test_id("checkin-mode")).to_have_text("Online", timeout=15_000)
    expect(page.get_by_test_id("checkin-queue")).to_have_count(0, timeout=15_000)
    assert Scan.objects.filter(offline=True, result="admitted", ticket=guest.ticket).count() == 1
