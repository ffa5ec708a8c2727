"""A scripted day of a small contact center in Europe/Berlin (UTC+1 in March), written as rows with the times
a real day would leave, so the reports' figures can be worked out by hand (tests/test_reports.py states them).

Day D is Tuesday 2026-03-10 local, [2026-03-09 23:00Z, 2026-03-10 23:00Z). Group "Phone" (service level
threshold 20 s), group "Chat"; agents Ann and Bob.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sessions_app.models import Agent, AgentStatusChange, ServeParticipant, Session, SkillGroup, Tenant

from . import factories

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 3, 10)
NEXT = DAY + timedelta(days=1)


def local(day: date, clock: str) -> datetime:
    return datetime.fromisoformat(f"{day.isoformat()}T{clock}").replace(tzinfo=BERLIN)


@dataclass
class Center:
    tenant: Tenant
    phone: SkillGroup
    chat: SkillGroup
    ann: Agent
    bob: Agent


def session(center: Center, group: SkillGroup, day: date, created: str, *, queued: str | None = None,
            ring: str | None = None, accepted: str | None = None, ended: str | None = None, ended_day: date | None = None,
            end_status: str = "", type: str = "phone", **fields) -> Session:
    def moment(clock):
        return local(day, clock) if clock else None
    accepted_at = moment(accepted)
    ended_at = local(ended_day or day, ended) if ended else None
    return Session.objects.create(
        tenant=center.tenant, type=type, skill_group=group, created_at=moment(created),
        queued_at=moment(queued or created), ring_at=moment(ring), accepted_at=accepted_at, ended_at=ended_at,
        state="ended" if ended else "queued", end_status=end_status,
        duration=(ended_at - accepted_at).total_seconds() if ended_at and accepted_at else (0.0 if ended else None),
        **fields)


def part(session: Session, agent: Agent, sequence: int, outcome: str, ring: datetime, accept: datetime | None,
         end: datetime | None, completed: datetime | None = None) -> None:
    ServeParticipant.objects.create(session=session, agent=agent, skill_group=session.skill_group, sequence=sequence,
                                    outcome=outcome, ring_at=ring, accept_at=accept, end_at=end, completed_at=completed)


def statuses(agent: Agent, *changes: tuple[datetime, str, str]) -> None:
    """The agent's history: each (at, status, rest reason) lasts until the next; the last stays open."""
    before = "offline"
    for index, (at, status, reason) in enumerate(changes):
        until = changes[index + 1][0] if index + 1 < len(changes) else None
        AgentStatusChange.objects.create(agent=agent, tenant=agent.tenant, at=at, until=until, from_status=before,
                                         to_status=status, rest_reason=reason)
        before = status


def scripted_day() -> Center:
    tenant = factories.tenant(time_zone="Europe/Berlin")
    phone = factories.skill_group(tenant, "phone", name="Phone")
    chat = factories.skill_group(tenant, "im", name="Chat")
    ann = factories.agent(tenant, phone, chat, user_id="ann", nickname="Ann")
    bob = factories.agent(tenant, phone, chat, user_id="bob", nickname="Bob")
    center = Center(tenant, phone, chat, ann, bob)
    d, n = DAY, NEXT

    # Answered in 10 s (within 20 s), talk 300 s, after-call work 20 s.
    s1 = session(center, phone, d, "09:00:00", queued="09:00:05", ring="09:00:10", accepted="09:00:15",
                 ended="09:05:15", end_status="ok")
    part(s1, ann, 1, "ended", local(d, "09:00:10"), local(d, "09:00:15"), local(d, "09:05:15"), local(d, "09:05:35"))
    # Ann lets it ring out; Bob answers after 40 s (late), talk 120 s, after-call work 10 s.
    s2 = session(center, phone, d, "10:00:00", ring="10:00:20", accepted="10:00:40", ended="10:02:40", end_status="ok")
    part(s2, ann, 1, "timeout", local(d, "10:00:20"), None, local(d, "10:00:28"))
    part(s2, bob, 2, "ended", local(d, "10:00:30"), local(d, "10:00:40"), local(d, "10:02:40"), local(d, "10:02:50"))
    # The caller gives up after 90 s in the queue.
    session(center, phone, d, "11:00:00", ended="11:01:30", end_status="waitingGiveUp")
    # The caller gives up while it rings for Ann, after 12 s.
    s4 = session(center, phone, d, "12:00:00", ring="12:00:05", ended="12:00:12", end_status="ringingGiveUp")
    part(s4, ann, 1, "cancelled", local(d, "12:00:05"), None, local(d, "12:00:12"))
    # Just after local midnight (23:30Z the day before): day D. Nobody online.
    session(center, phone, d, "00:30:00", ended="00:30:00", end_status="noSeatOnline")
    # A chat begun before local midnight, answered in 5 s by Bob, who hands it to Ann after midnight.
    s5 = session(center, chat, d, "23:50:00", ring="23:50:02", accepted="23:50:05", ended="00:20:10", ended_day=n,
                 end_status="ok", type="im")
    part(s5, bob, 1, "transferred", local(d, "23:50:02"), local(d, "23:50:05"), local(n, "00:10:05"))
    part(s5, ann, 2, "ended", local(n, "00:10:05"), local(n, "00:10:10"), local(n, "00:20:10"), local(n, "00:20:10"))
    # Just after local midnight ending day D (still the 10th in UTC): day D+1. Wait 3 s, talk 60 s.
    s7 = session(center, phone, n, "00:30:00", ring="00:30:03", accepted="00:30:03", ended="00:31:03",
                 end_status="ok")
    part(s7, ann, 1, "ended", local(n, "00:30:03"), local(n, "00:30:03"), local(n, "00:31:03"), local(n, "00:31:03"))
    # Not offered to a queue: an outbound call; and another tenant's session.
    Session.objects.create(tenant=tenant, type="phone", direction="out", created_at=local(d, "14:00:00"),
                           state="ended", end_status="ok")
    other = factories.tenant(time_zone="Europe/Berlin")
    Session.objects.create(tenant=other, type="phone", skill_group=factories.skill_group(other),
                           created_at=local(d, "14:00:00"), queued_at=local(d, "14:00:00"), state="ended",
                           end_status="waitingGiveUp", ended_at=local(d, "14:10:00"))

    statuses(ann, (local(d, "08:00:00"), "free", ""), (local(d, "12:30:00"), "rest", "lunch"),
             (local(d, "13:15:00"), "free", ""), (local(d, "17:00:00"), "arrange", ""),
             (local(d, "17:00:30"), "free", ""), (local(d, "22:00:00"), "offline", ""))
    statuses(bob, (local(d, "20:00:00"), "free", ""), (local(d, "23:30:00"), "rest", "break"),
             (local(n, "00:45:00"), "offline", ""))
    return center
