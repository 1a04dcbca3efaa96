"""Who is on the other end of a socket: resolved once at connect, immutable afterwards."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    participant_id: int
    user_id: int
    event_id: int
    event_slug: str
    name: str
    roles: frozenset[str]
    attendance: str

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def public(self) -> dict:
        """What other participants may know about this person (sent in presence)."""
        return {
            "id": self.participant_id,
            "name": self.name,
            "roles": sorted(self.roles),
            "attendance": self.attendance,
        }


def actor_for(participant, event_slug: str) -> Actor:
    return Actor(
        participant_id=participant.pk,
        user_id=participant.user_id,
        event_id=participant.event_id,
        event_slug=event_slug,
        name=participant.name,
        roles=frozenset(participant.roles),
        attendance=participant.attendance,
    )
