"""An agent's logins: whom a workbench socket belongs to, and ending the logins before their tokens expire
(signing out of the workbench, a supervisor forcing the agent offline, a password change, the account's
deactivation).

Each raises the agent's token generation, which every login and resume token carries (services/tokens.py), so
no token issued before opens a socket again; once that commits, the agent's channel-layer group is told, and
every open socket of the agent (SDK, workbench) closes, on whichever process holds it (Redis carries groups
across processes): the SDK's as for an expired token (`tokenExpired`, close code 4001), so a CRM page asks for a
new token instead of reconnecting with a dead resume token; the workbench's with a notice saying why.
"""
from __future__ import annotations

from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction

from ..models import Agent, found
from . import origins, tokens
from .agents import locked_agent
from .presence import go_offline
from .errors import ServiceError
from .events import publish_revocation

SIGNED_OUT = "the agent signed out"
FORCED_OFFLINE = "a supervisor set the agent offline"
PASSWORD_CHANGED = "the agent's password was changed"
DEACTIVATED = "the agent's account was deactivated"


def workbench_login(user, resume: str, origin: str, *, own_origin: bool) -> tuple[int, int]:
    """The agent a workbench socket belongs to, and the token generation its login is valid for: with the SDK's
    resume token (the embedded panel), on this server's pages or an origin the agent's tenant allows; else the
    Django session's user, on this server's own pages only, so that a cookie never opens one for another site."""
    if resume:
        claims = tokens.read(resume, tokens.RESUME_SALT)
        agent = tokens.agent_for(claims)
        if not (own_origin or origins.allowed(origin, agent.tenant)):
            raise ServiceError(f"origin {origin} is not allowed for SdkAppId {agent.tenant.sdk_app_id}")
        return agent.pk, claims.generation
    if user is None or not user.is_authenticated:
        raise ServiceError("you are signed out")
    if not own_origin:
        raise ServiceError("a signed-in workbench opens only from this server's own pages")
    agent = Agent.objects.filter(account=user).first()
    if agent is None:
        raise ServiceError(f"{user.get_username()} is not an agent")
    return agent.pk, agent.token_generation


def check_still_signed_in(agent_id: int, generation: int) -> None:
    """The login read again once the socket hears revocations (`revoke`): none can fall in between."""
    tokens.check_not_revoked(Agent.objects.get(pk=agent_id), generation)


def revoke(agent: Agent, reason: str) -> None:
    """Revoke every token of the agent (its row locked by the caller) and close its sockets once committed."""
    agent.token_generation += 1
    agent.save(update_fields=["token_generation"])
    publish_revocation(agent.pk, reason)


def sign_out(agent_id: int) -> None:
    """The workbench's logout: offline at once, not after the disconnect grace period; sessions still in
    progress end, as when a disconnected agent's grace period runs out."""
    with transaction.atomic():
        agent = locked_agent(agent_id)
        go_offline(agent, by="agent")
        revoke(agent, SIGNED_OUT)


def force_offline(agent_id: int, *, supervisor_id: int | None) -> None:
    """A supervisor sets the agent offline (admin's action, the wallboard; None: the tenant's back office through
    the cloud API, whose key the audit log names): sessions in progress end, offers go back to their queues, the
    agent's sockets close and its tokens are revoked; admin's history records who."""
    with transaction.atomic():
        agent = locked_agent(agent_id)
        go_offline(agent, by="supervisor", by_user_id=supervisor_id)
        revoke(agent, FORCED_OFFLINE)
        if supervisor_id is not None:
            LogEntry.objects.log_actions(supervisor_id, [agent], CHANGE, "Forced offline: logins revoked",
                                         single_object=True)


def account_changed(user_id: int, *, deactivated: bool) -> None:
    """The agent's Django user was deactivated (the agent goes offline: no calls are routed to it) or its
    password changed (its open sockets close; it signs in again with the new password)."""
    with transaction.atomic():
        agent = found(Agent.objects.select_for_update().filter(account_id=user_id))
        if agent is None:
            return
        if deactivated:
            go_offline(agent)
        revoke(agent, DEACTIVATED if deactivated else PASSWORD_CHANGED)
