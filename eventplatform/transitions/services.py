"""Every change to the transition plan: replanning, moderator overrides, running a transition.

Execution is exactly once because the database decides, never the broker (DESIGN.md, Celery
pitfalls): a worker first claims a transition with a conditional update (planned → running,
with a lease), then runs all its actions and marks it done in one transaction that holds the
row locked. A duplicate task finds it no longer planned and does nothing; a worker killed in
the middle commits nothing, and the reconciler returns the claim to "planned" once its lease
has expired, so another worker runs it from the start.
"""

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from eventplatform import agenda_actions
from eventplatform.models import Event, Participant, Room, Session
from eventplatform.realtime import bus, groups
from eventplatform.realtime.envelope import GatewayError
from eventplatform.transitions import planning, selectors
from eventplatform.transitions.models import AuditEntry, Transition, TransitionSettings
from eventplatform.transitions.schemas import PlanOut, TransitionOut

logger = logging.getLogger(__name__)
State = Transition.State

# A task may arrive this much before its due time (timer granularity) and still run.
EARLY_TOLERANCE = timedelta(milliseconds=100)


def config(name: str):
    return settings.TRANSITIONS[name]


# --- planning ---------------------------------------------------------------------------------

def warnings_for(event: Event) -> tuple[int, ...]:
    text = TransitionSettings.objects.filter(event=event).values_list("warning_minutes", flat=True).first()
    try:
        return planning.parse_warnings(text)
    except ValueError:
        logger.warning("event %s: unreadable warning minutes %r, using the default", event.pk, text)
        return planning.DEFAULT_WARNINGS


def set_warnings(event: Event, text: str, *, actor: Participant | None = None) -> tuple[int, ...]:
    """Change when the "N minutes left" warnings fire for an event, and replan."""
    try:
        minutes = planning.parse_warnings(text)
    except ValueError:
        raise GatewayError("bad_warnings", _("Warnings are minutes before the end, e.g. 5,1 (1 to 240).")) from None
    from eventplatform import services as core

    with transaction.atomic():
        TransitionSettings.objects.update_or_create(
            event=event, defaults={"warning_minutes": ",".join(str(m) for m in minutes)}
        )
        _audit(event, AuditEntry.Kind.OVERRIDE, "set_warnings", actor=actor, detail={"minutes": list(minutes)})
        core.agenda_changed(event)
    return minutes


def replan_event(event: Event, *, now=None) -> int:
    """Bring the event's transitions in line with its agenda; returns how many changed.

    Call inside the transaction that changed the agenda (services.agenda_changed does).
    Planned transitions move with their session; one already done, skipped or failed that
    moves into the future is planned again (an extended session warns again before its new
    end); one running keeps its course. A planned transition that the move made moot (a
    warning of a session that was just ended) is skipped at once.
    """
    now = now or timezone.now()
    warnings = warnings_for(event)
    existing = {(t.session_id, t.moment, t.warning_minutes): t for t in Transition.objects.filter(event=event)}
    sessions = {s.id: s for s in Session.objects.filter(event=event)}
    changed: list[dict] = []
    for session in sessions.values():
        for p in planning.plan_session(session.start, session.end, warnings):
            t = existing.pop((session.id, p.moment, p.warning_minutes), None)
            if t is None:
                t = Transition.objects.create(
                    event=event, session=session, moment=p.moment, warning_minutes=p.warning_minutes,
                    due_at=p.due_at, order=p.order,
                )
                changed.append({"id": t.id, "session_id": session.id, "moment": p.moment, "new": p.due_at})
                continue
            if t.due_at == p.due_at and t.order == p.order:
                continue
            if t.state == State.RUNNING:
                continue
            if t.state != State.PLANNED and p.due_at <= now:
                continue  # history stays as it happened
            changed.append({"id": t.id, "session_id": session.id, "moment": p.moment, "old": t.due_at, "new": p.due_at})
            Transition.objects.filter(pk=t.pk).exclude(state=State.RUNNING).update(
                due_at=p.due_at, order=p.order, state=State.PLANNED, enqueued_for=None, enqueued_at=None,
                attempts=0, error="", reason="", finished_at=None, late_ms=None, claim_token="",
            )
    # Warnings no longer configured, or sessions gone: forget what has not happened.
    stale = [t.pk for t in existing.values() if t.state == State.PLANNED]
    Transition.objects.filter(pk__in=stale, state=State.PLANNED).delete()
    skipped = _skip_moot(event, now)
    if changed or stale or skipped:
        _audit(event, AuditEntry.Kind.REPLAN, "replanned",
               detail={"moved": len(changed), "removed": len(stale), "skipped": skipped})
        _publish_plan(event.pk)
        transaction.on_commit(_enqueue_due_soon)
    return len(changed) + len(stale) + len(skipped)


def _skip_moot(event: Event, now) -> list[int]:
    """Skip planned transitions that are due and that the missed-transition rule says are moot."""
    skipped = []
    due = Transition.objects.select_related("session").filter(event=event, state=State.PLANNED, due_at__lte=now)
    for t in due:
        if planning.missed_verdict(t.moment, t.due_at, t.session.end, now) == "skip":
            Transition.objects.filter(pk=t.pk, state=State.PLANNED).update(
                state=State.SKIPPED, finished_at=now, reason="session_over"
            )
            skipped.append(t.pk)
    return skipped


def refuse_overlaps(event: Event) -> None:
    """Refuse an agenda in which two sessions share a room at the same time."""
    from eventplatform.services import agenda_problems

    for session in Session.objects.filter(event=event, room__isnull=False).select_related("room"):
        problems = agenda_problems(session)
        if problems:
            message = " ".join(m for ms in problems.values() for m in ms)
            raise GatewayError("agenda_overlap", message)


# --- editing the agenda -------------------------------------------------------------------------

def _session_problem(session: Session) -> None:
    from eventplatform.services import agenda_problems

    problems = agenda_problems(session)
    if problems:
        code = "agenda_overlap" if "room" in problems else "agenda_invalid"
        raise GatewayError(code, " ".join(m for ms in problems.values() for m in ms))


def move_session(session: Session, *, start, end, room_id: int | None = ..., actor: Participant | None = None) -> Session:
    """An agenda edit: new times (and room) for a session; refused if the room is taken then."""
    from eventplatform import services as core

    with transaction.atomic():
        session = Session.objects.select_for_update(of=("self",)).select_related("room").get(pk=session.pk)
        before = {"start": session.start.isoformat(), "end": session.end.isoformat(), "room_id": session.room_id}
        session.start, session.end = start, end
        if room_id is not ...:
            session.room_id = room_id
            session.room = None if room_id is None else Room.objects.filter(pk=room_id).first()
            if room_id is not None and session.room is None:
                raise GatewayError("room_not_found", _("There is no such room."))
        _session_problem(session)
        session.save(update_fields=["start", "end", "room"])
        after = {"start": session.start.isoformat(), "end": session.end.isoformat(), "room_id": session.room_id}
        _audit(session.event, AuditEntry.Kind.OVERRIDE, "move", session=session, actor=actor,
               detail={"before": before, "after": after})
        core.agenda_changed(session.event)
    return session


# --- moderator overrides ------------------------------------------------------------------------

def _locked_session(event: Event, session_id: int) -> Session:
    session = Session.objects.select_for_update(of=("self",)).select_related("room", "event").filter(
        pk=session_id, event=event
    ).first()
    if session is None:
        raise GatewayError("session_not_found", _("There is no such session in this event."))
    return session


def _override(session: Session, action: str, actor, before: dict, **detail) -> None:
    from eventplatform import services as core

    _audit(session.event, AuditEntry.Kind.OVERRIDE, action, session=session, actor=actor,
           detail={"before": before, "after": {"start": session.start.isoformat(), "end": session.end.isoformat()},
                   **detail})
    core.agenda_changed(session.event)


def _times(session: Session) -> dict:
    return {"start": session.start.isoformat(), "end": session.end.isoformat()}


def start_now(event: Event, session_id: int, *, actor: Participant | None, now=None) -> Session:
    """Start a session that has not started yet, now. A session still running in the same
    room ends now (the room's end runs before the start); its end stays where it was."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked_session(event, session_id)
        if session.end <= now:
            raise GatewayError("session_over", _("This session is already over."))
        if session.start <= now:
            raise GatewayError("session_already_started", _("This session has already started."))
        before = _times(session)
        ended = []
        if session.room_id:
            running = Session.objects.select_for_update(of=("self",)).filter(
                room_id=session.room_id, start__lte=now, end__gt=now
            ).exclude(pk=session.pk)
            for other in running:
                other_before = _times(other)
                other.end = now
                other.save(update_fields=["end"])
                ended.append(other.pk)
                _audit(event, AuditEntry.Kind.OVERRIDE, "end_now", session=other, actor=actor,
                       detail={"before": other_before, "after": _times(other), "because": session.title})
        session.start = now
        _session_problem(session)
        session.save(update_fields=["start"])
        _override(session, "start_now", actor, before, ended_sessions=ended)
    return session


def extend(event: Event, session_id: int, minutes: int, *, actor: Participant | None, now=None) -> Session:
    """Move a running or upcoming session's end later by `minutes` (its warnings move along)."""
    now = now or timezone.now()
    if not 1 <= minutes <= 120:
        raise GatewayError("bad_minutes", _("Extend by 1 to 120 minutes."))
    with transaction.atomic():
        session = _locked_session(event, session_id)
        end_done = Transition.objects.filter(
            session=session, moment=planning.END, state__in=[State.DONE, State.RUNNING]
        ).exists()
        if session.end <= now or end_done:
            raise GatewayError("session_over", _("This session is already over and cannot be extended."))
        before = _times(session)
        session.end = session.end + timedelta(minutes=minutes)
        _session_problem(session)
        session.save(update_fields=["end"])
        _override(session, "extend", actor, before, minutes=minutes)
    return session


def end_now(event: Event, session_id: int, *, actor: Participant | None, now=None) -> Session:
    """End a running session now: its end runs at once, its remaining warnings are skipped."""
    now = now or timezone.now()
    with transaction.atomic():
        session = _locked_session(event, session_id)
        if session.end <= now:
            raise GatewayError("session_over", _("This session is already over."))
        if session.start > now:
            raise GatewayError("session_not_started", _("This session has not started; skip it instead."))
        before = _times(session)
        session.end = now
        session.save(update_fields=["end"])
        _override(session, "end_now", actor, before)
    return session


def skip(event: Event, transition_id: int, *, actor: Participant | None, now=None) -> Transition:
    """Leave out one planned transition (e.g. a warning, or a session's start)."""
    now = now or timezone.now()
    with transaction.atomic():
        t = Transition.objects.select_for_update(of=("self",)).select_related("session").filter(pk=transition_id, event=event).first()
        if t is None:
            raise GatewayError("transition_not_found", _("There is no such transition in this event."))
        if t.state != State.PLANNED:
            raise GatewayError("transition_not_planned", _("This transition has already happened or is happening now."))
        Transition.objects.filter(pk=t.pk, state=State.PLANNED).update(
            state=State.SKIPPED, finished_at=now, reason="skipped_by_moderator"
        )
        t.refresh_from_db()
        _audit(event, AuditEntry.Kind.OVERRIDE, "skip", session=t.session, transition=t, actor=actor,
               detail={"moment": t.moment, "warning_minutes": t.warning_minutes, "due_at": t.due_at.isoformat()})
        bus.publish_on_commit(groups.event(event.pk), "agenda.transition", TransitionOut(**selectors.transition_out(t)))
        _publish_plan(event.pk)
    return t


# --- execution ----------------------------------------------------------------------------------

def _enqueue_due_soon() -> None:
    # After an agenda edit: send what is now due without waiting for beat. If the broker is
    # unreachable the edit stands; the reconciler sends the tasks once it is back.
    try:
        enqueue_due()
    except Exception:
        logger.exception("could not send due transitions now; the reconciler will")


def enqueue_due(now=None) -> int:
    """Send an ETA task for each planned transition due within the horizon not yet sent for its
    current due time, and again for one overdue whose task seems lost. Returns how many."""
    from eventplatform.transitions.tasks import run_transition_task

    now = now or timezone.now()
    horizon = now + timedelta(seconds=config("HORIZON_SECONDS"))
    resend_before = now - timedelta(seconds=config("RESEND_SECONDS"))
    due = Transition.objects.filter(state=State.PLANNED, due_at__lte=horizon).filter(
        Q(enqueued_for__isnull=True)
        | ~Q(enqueued_for=F("due_at"))
        | Q(due_at__lt=resend_before, enqueued_at__lt=resend_before)
    ).values_list("id", "due_at")
    sent = 0
    for transition_id, due_at in list(due):
        run_transition_task.apply_async(args=[transition_id], eta=due_at)
        Transition.objects.filter(pk=transition_id, due_at=due_at).update(enqueued_for=due_at, enqueued_at=now)
        sent += 1
    return sent


def reconcile(now=None) -> dict:
    """Every few seconds (beat): free claims of dead workers, then send what is due."""
    now = now or timezone.now()
    with transaction.atomic():
        # skip_locked: a claim whose worker is alive and in its transaction stays locked and is
        # left alone; a dead worker's lock went with its connection.
        expired = list(
            Transition.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("session")
            .filter(state=State.RUNNING, lease_until__lt=now)
        )
        for t in expired:
            freed = Transition.objects.filter(pk=t.pk, state=State.RUNNING, claim_token=t.claim_token).update(
                state=State.PLANNED, claim_token="", enqueued_for=None, enqueued_at=None
            )
            if freed:
                _audit(t.event_id, AuditEntry.Kind.TRANSITION, "lease_expired", session=t.session, transition=t,
                       detail={"attempts": t.attempts, "claimed_at": t.claimed_at.isoformat()})
    return {"freed": len(expired), "sent": enqueue_due(now)}


def run_transition(transition_id: int, *, now=None) -> str:
    """Take a transition into effect if it is due and nobody else has: "done", "skipped",
    "failed", "retry", or why nothing happened ("not_planned", "early")."""
    now = now or timezone.now()
    t = Transition.objects.filter(pk=transition_id).values("state", "due_at", "session_id").first()
    if t is None or t["state"] != State.PLANNED:
        return "not_planned"
    if t["due_at"] > now + EARLY_TOLERANCE:
        return "early"
    _run_earlier_of_same_place(transition_id, now)
    token = uuid.uuid4().hex
    with transaction.atomic():
        claimed = Transition.objects.filter(
            pk=transition_id, state=State.PLANNED, due_at__lte=now + EARLY_TOLERANCE
        ).update(
            state=State.RUNNING, claim_token=token, claimed_at=now,
            lease_until=now + timedelta(seconds=config("LEASE_SECONDS")), attempts=F("attempts") + 1,
        )
    if not claimed:
        return "not_planned"
    try:
        return _take_effect(transition_id, token, now)
    except Exception as exc:
        logger.exception("transition %s failed", transition_id)
        return _after_failure(transition_id, token, exc)


def _run_earlier_of_same_place(transition_id: int, now) -> None:
    """Several transitions due together take effect in order: a session's start before its
    end, and one session's end before the next one's start in the same room."""
    t = Transition.objects.select_related("session").get(pk=transition_id)
    place = Q(session_id=t.session_id)
    if t.session.room_id:
        place |= Q(session__room_id=t.session.room_id)
    earlier = (
        Transition.objects.filter(place, state=State.PLANNED, due_at__lte=now + EARLY_TOLERANCE)
        .filter(Q(due_at__lt=t.due_at) | Q(due_at=t.due_at, order__lt=t.order))
        .order_by("due_at", "order", "id")
        .values_list("id", flat=True)
    )
    for earlier_id in list(earlier):
        run_transition(earlier_id, now=now)


def _take_effect(transition_id: int, token: str, now) -> str:
    with transaction.atomic():
        t = Transition.objects.select_for_update(of=("self",)).select_related("session__room", "event").get(pk=transition_id)
        if t.state != State.RUNNING or t.claim_token != token:
            return "lost_claim"  # the lease expired and another worker took it over
        session = t.session
        names: list[str] = []
        if planning.missed_verdict(t.moment, t.due_at, session.end, now) == "skip":
            t.state, t.reason = State.SKIPPED, "session_over"
        else:
            for action in agenda_actions.actions_for(session, agenda_actions.Moment(t.moment)):
                action.func(session, t)
                names.append(action.name)
            t.state = State.DONE
        t.finished_at = timezone.now()
        t.late_ms = int((t.finished_at - t.due_at).total_seconds() * 1000)
        t.lease_until = None
        t.save(update_fields=["state", "reason", "finished_at", "late_ms", "lease_until"])
        _audit(t.event, AuditEntry.Kind.TRANSITION, t.state, session=session, transition=t,
               detail={"moment": t.moment, "warning_minutes": t.warning_minutes, "due_at": t.due_at.isoformat(),
                       "late_ms": t.late_ms, "attempt": t.attempts, "actions": names, "reason": t.reason})
        bus.publish_on_commit(groups.event(t.event_id), "agenda.transition", TransitionOut(**selectors.transition_out(t)))
        _publish_plan(t.event_id, coalesce=True)
        return str(t.state)


def _after_failure(transition_id: int, token: str, exc: Exception) -> str:
    with transaction.atomic():
        t = Transition.objects.select_for_update(of=("self",)).select_related("session").get(pk=transition_id)
        if t.state != State.RUNNING or t.claim_token != token:
            return "lost_claim"
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if t.attempts >= config("MAX_ATTEMPTS"):
            t.state, t.finished_at = State.FAILED, timezone.now()
        else:
            # Back to planned: the reconciler sends it again on its next round.
            t.state, t.enqueued_for, t.enqueued_at = State.PLANNED, None, None
        t.error, t.claim_token, t.lease_until = error, "", None
        t.save(update_fields=["state", "finished_at", "error", "claim_token", "lease_until", "enqueued_for", "enqueued_at"])
        _audit(t.event_id, AuditEntry.Kind.TRANSITION, "failed" if t.state == State.FAILED else "error",
               session=t.session, transition=t, detail={"error": error, "attempt": t.attempts})
        if t.state == State.FAILED:
            bus.publish_on_commit(groups.event(t.event_id), "agenda.transition", TransitionOut(**selectors.transition_out(t)))
        _publish_plan(t.event_id, coalesce=True)
        return "failed" if t.state == State.FAILED else "retry"


# --- audit and pushes ---------------------------------------------------------------------------

def _audit(event, kind, action, *, session=None, transition=None, actor=None, detail=None) -> AuditEntry:
    event_id = event if isinstance(event, int) else event.pk
    return AuditEntry.objects.create(
        event_id=event_id, kind=kind, action=str(action), session=session,
        session_title=session.title if session is not None else "", transition=transition,
        actor=actor, actor_name=actor.name if actor is not None else "", detail=detail or {},
    )


def _publish_plan(event_id: int, *, coalesce: bool = False) -> None:
    """Push the event's plan after commit (absolute times: clients count down themselves).

    Overrides push at once. Transitions taking effect coalesce: many due together (20 rooms
    closing at 11:32) make one plan push per event per PLAN_COALESCE_MS, not one each; every
    transition still gets its own `agenda.transition` push immediately.
    """
    if not coalesce:
        transaction.on_commit(lambda: publish_plan_now(event_id))
        return

    def schedule() -> None:
        from eventplatform.transitions.tasks import publish_plan_task

        delay_ms = config("PLAN_COALESCE_MS")
        try:
            if bus.sync_redis().set(_plan_pending_key(event_id), "1", nx=True, px=delay_ms * 4):
                publish_plan_task.apply_async(args=[event_id], countdown=delay_ms / 1000)
        except Exception:
            # The transition has taken effect and its own push went out; clients also fold
            # `agenda.transition` into their plan, so a lost plan push only delays the list.
            logger.exception("could not schedule the plan push of event %s", event_id)

    transaction.on_commit(schedule)


def _plan_pending_key(event_id: int) -> str:
    return f"{settings.REDIS_PREFIX}:transitions:plan-pending:{event_id}"


def publish_plan_now(event_id: int) -> None:
    bus.sync_redis().delete(_plan_pending_key(event_id))  # changes after this point push again
    bus.publish(groups.event(event_id), "agenda.plan", PlanOut(**selectors.plan_payload(event_id)))
