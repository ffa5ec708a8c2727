"""Offering a call to one of two equal agents, for tests that must not assume which one the ACD picks."""
from channels.db import database_sync_to_async

from sessions_app.models import Agent, Session

from .conftest import SdkClient, api_session


async def ringing_one_of_two(sdk, demo) -> tuple[str, SdkClient, SdkClient]:
    """agent1 and agent2 signed in and free, agent3 offline, then a phone call: the session, the agent it rings
    and the other one."""
    first = await sdk("agent1@demo")
    second = await sdk("agent2@demo")
    await database_sync_to_async(lambda: Agent.objects.filter(user_id="agent3@demo").update(status="offline"))()
    session_id = await api_session(demo, "phone", calleePhoneNumber="1")
    holder = await database_sync_to_async(lambda: Session.objects.get(pk=session_id).agent.user_id)()
    return (session_id, first, second) if holder == "agent1@demo" else (session_id, second, first)
