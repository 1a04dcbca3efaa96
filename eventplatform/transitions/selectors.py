"""Reads of the transition plan and its audit log."""

from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from eventplatform.transitions.models import AuditEntry, Transition

RECENT = timedelta(minutes=10)


def transition_out(t: Transition) -> dict:
    return {
        "id": t.id,
        "session_id": t.session_id,
        "session_title": t.session.title,
        "session_kind": t.session.kind,
        "room_id": t.session.room_id,
        "moment": t.moment,
        "warning_minutes": t.warning_minutes,
        "due_at": t.due_at,
        "session_end": t.session.end,
        "state": t.state,
        "finished_at": t.finished_at,
        "late_ms": t.late_ms,
        "reason": t.reason,
    }


def plan_cursor(event_id: int) -> int:
    """Grows with every audit entry (every transition, override and replan) of the event."""
    return AuditEntry.objects.filter(event_id=event_id).aggregate(m=Max("id"))["m"] or 0


def plan(event_id: int, now=None, limit: int = 40) -> list[dict]:
    """What the moderator console shows: what is due (and running), plus the last few minutes."""
    now = now or timezone.now()
    pending = list(
        Transition.objects.select_related("session")
        .filter(event_id=event_id, state__in=[Transition.State.PLANNED, Transition.State.RUNNING])
        .order_by("due_at", "order", "id")[:limit]
    )
    recent = list(
        Transition.objects.select_related("session")
        .filter(event_id=event_id, finished_at__gte=now - RECENT)
        .exclude(state__in=[Transition.State.PLANNED, Transition.State.RUNNING])
        .order_by("-finished_at", "-id")[:10]
    )
    return [transition_out(t) for t in reversed(recent)] + [transition_out(t) for t in pending]


def plan_payload(event_id: int) -> dict:
    return {"cursor": plan_cursor(event_id), "data": plan(event_id)}


def audit_log(event_id: int, limit: int = 100) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(event_id=event_id).order_by("-at", "-id")[:limit])
