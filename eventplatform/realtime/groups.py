"""Names of the fan-out groups (DESIGN.md: event.<id>, room.<id>, user.<id>, staff.<event_id>)."""


def event(event_id: int) -> str:
    return f"event.{event_id}"


def room(room_id: int) -> str:
    return f"room.{room_id}"


def user(participant_id: int) -> str:
    return f"user.{participant_id}"


def staff(event_id: int) -> str:
    return f"staff.{event_id}"


def moderators(event_id: int) -> str:
    """Moderators and organizers: sees what attendees must not (pending questions, help calls)."""
    return f"moderators.{event_id}"
