"""Snapshot parts everyone shares (realtime/shared.py) and precompiled per-join queries.

Real Redis and the real gateway: a shared part is built once per version of its groups, a
published change is in the very next join's snapshot, concurrent joins share one build, and
an emptied Redis cannot make an old part look current.
"""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings

from chat import handlers as chat_handlers
from chat.models import Message, Vote
from eventplatform.precompiled import Precompiled
from eventplatform.realtime import bus, groups, shared
from eventplatform.realtime.runtime import close_runtime, runtime
from tests.chat.conftest import channel_of, key

pytestmark = pytest.mark.django_db(transaction=True)


def stage_texts(reply) -> list[str]:
    return [m["text"] for m in reply["data"]["streams"]["chat"]["data"]["messages"]]


async def test_joins_share_one_build_until_a_change_is_published(people, connect):
    alice = await connect(people["attendee"])
    stage = await channel_of(alice)
    built = chat_handlers._open_pages.builds
    for who in ("attendee2", "speaker"):
        other = await connect(people[who])
        await other.request("hello", {})
    assert chat_handlers._open_pages.builds == built  # nothing changed: no rebuild

    sent = await alice.request("chat.send", {"channel_id": stage, "text": "Guten Morgen", "client_key": key()})
    assert sent["ok"], sent
    late = await connect(people["attendee2"])
    reply = await late.request("hello", {})
    assert stage_texts(reply) == ["Guten Morgen"]
    assert chat_handlers._open_pages.builds == built + 1


async def test_a_change_without_a_publish_is_not_seen_until_the_version_moves(people, connect, event):
    """The contract: state changes must be published through bus. This shows why."""
    alice = await connect(people["attendee"])
    stage = await channel_of(alice)
    await sync_to_async(Message.objects.create)(
        channel_id=stage, author=people["speaker"], text="quietly written", seq=10_000
    )
    bob = await connect(people["attendee2"])
    assert stage_texts(await bob.request("hello", {})) == []
    await sync_to_async(bus.publish)(f"chat.{stage}", "chat.channel", {"id": stage})
    carol = await connect(people["attendee2"])
    assert stage_texts(await carol.request("hello", {})) == ["quietly written"]


async def test_concurrent_joins_wait_for_one_build(event):
    calls = []

    def build(event_id):
        calls.append(event_id)
        return {"event": event_id}

    part = shared.SharedPart("test-concurrent", build)
    try:
        results = await asyncio.gather(*(part.get(event.pk, [groups.event(event.pk)]) for _ in range(25)))
        assert calls == [event.pk]
        assert all(r is results[0] for r in results)
    finally:
        shared.PARTS.remove(part)
        await close_runtime()


async def test_max_age_and_an_emptied_redis_both_force_a_rebuild(event, monkeypatch):
    calls = []
    part = shared.SharedPart("test-age", lambda event_id: calls.append(event_id) or len(calls), max_age=60)
    watched = [groups.event(event.pk)]
    try:
        assert await part.get(event.pk, watched) == 1
        assert await part.get(event.pk, watched) == 1
        # An emptied Redis starts its counters again; the new epoch tells the stamps apart.
        await runtime().redis.delete(shared.epoch_key(), bus.version_key(watched[0]))
        assert await part.get(event.pk, watched) == 2
        part.max_age = 0
        assert await part.get(event.pk, watched) == 3
    finally:
        shared.PARTS.remove(part)
        await close_runtime()


async def test_a_failed_build_reaches_every_waiter_and_is_not_kept(event):
    attempts = []

    def build(event_id):
        attempts.append(event_id)
        if len(attempts) == 1:
            raise RuntimeError("database went away")
        return "fine"

    part = shared.SharedPart("test-failure", build)
    try:
        with pytest.raises(RuntimeError):
            await part.get(event.pk, [])
        assert await part.get(event.pk, []) == "fine"
    finally:
        shared.PARTS.remove(part)
        await close_runtime()


def test_precompiled_query_matches_the_orm_and_refuses_what_it_cannot_run(people, event):
    from chat.models import QA, Question
    from eventplatform.models import Session

    session = Session.objects.filter(event=event).first()
    QA.objects.get_or_create(session=session)
    question = Question.objects.create(session=session, author=people["attendee"], text="Wann?", client_key="q1")
    Vote.objects.create(question=question, participant=people["attendee2"])
    votes = Precompiled(lambda pid: Vote.objects.filter(participant_id=pid).values_list("question_id"))
    assert votes.column(people["attendee2"].pk) == [question.pk]
    assert votes.column(people["attendee"].pk) == []  # the same SQL, new parameters
    # A lookup whose SQL parameters are not its arguments cannot be precompiled safely.
    bad = Precompiled(lambda pid: Vote.objects.filter(participant_id__in=[pid, pid + 1]).values_list("id"))
    with pytest.raises(ValueError):
        bad.rows(people["attendee"].pk)
    assert settings.DATABASES["default"]["ENGINE"]  # runs on SQLite and on PostgreSQL in CI


def test_precompiled_query_takes_its_arguments_in_whatever_order_the_sql_wants(people, event):
    from eventplatform.models import Ticket

    ticket = people["attendee"].ticket
    # The SQL names the joined event's slug before the ticket's secret: the arguments are
    # matched to the parameters by value on the compiling call, then reused by position.
    lookup = Precompiled(
        lambda secret, slug: Ticket.objects.filter(secret=secret, participant__event__slug=slug).values_list("id")
    )
    assert lookup.column(ticket.secret, event.slug) == [ticket.pk]
    assert lookup.column(people["attendee2"].ticket.secret, event.slug) == [people["attendee2"].ticket.pk]
    assert lookup.column(ticket.secret, "another-event") == []
    # Equal arguments cannot be told apart: that call runs uncompiled and is still right.
    fresh = Precompiled(
        lambda secret, slug: Ticket.objects.filter(secret=secret, participant__event__slug=slug).values_list("id")
    )
    assert fresh.column("same", "same") == []
    assert fresh.column(ticket.secret, event.slug) == [ticket.pk]


def test_the_socket_reads_a_ticket_as_the_orm_would(people, event):
    from datetime import timedelta

    from django.utils import timezone

    from eventplatform import selectors
    from eventplatform.models import Ticket

    holder = people["moderator"]
    Ticket.objects.filter(pk=holder.ticket.pk).update(
        valid_from=timezone.now() - timedelta(hours=1), valid_until=timezone.now() + timedelta(hours=1)
    )
    orm = Ticket.objects.select_related("participant").get(pk=holder.ticket.pk)
    read = selectors.ticket_for_socket(orm.secret, event.slug)
    assert (read.pk, read.valid_from, read.valid_until, read.revoked_at) == (
        orm.pk, orm.valid_from, orm.valid_until, None
    )
    assert read.participant.is_moderator is True and read.participant.is_removed is False
    assert read.problem() is None
    Ticket.objects.filter(pk=orm.pk).update(revoked_at=timezone.now())
    assert selectors.ticket_for_socket(orm.secret, event.slug).problem() == "ticket_revoked"
    assert selectors.ticket_for_socket(orm.secret, "other") is None
