"""Services drive media through `services.media.MediaBackend` alone: with a fake backend in its place (chosen by
settings.MEDIA_BACKEND, as the process's own is), a web call's leg opens, its plan follows the row, and its end
closes the call, with no media engine and no aiortc. The engines' side of the same commands is proved by
test_media_engine.py (embedded) and test_media_workers.py (workers)."""
import pytest
from django.db import transaction

from sessions_app.media.commands import LegError
from sessions_app.models import MediaWorker, Session, Tenant, found
from sessions_app.services import media, processes
from sessions_app.services.endings import end_session
from sessions_app.services.errors import ServiceError

pytestmark = pytest.mark.service


class FakeMedia:
    """Records each command; refuses an offer when told to."""

    def __init__(self):
        self.commands = []
        self.refusal = ""

    async def open_leg(self, call_id, leg_id, sdp, plan):
        if self.refusal:
            raise LegError(self.refusal)
        self.commands.append(("open_leg", call_id, leg_id, sdp, plan))
        return {"sdp": f"answer to {sdp}"}

    async def close_leg(self, call_id, leg_id):
        self.commands.append(("close_leg", call_id, leg_id))

    def apply_plan(self, call_id, plan):
        self.commands.append(("apply_plan", call_id, plan))

    def end_call(self, call_id):
        self.commands.append(("end_call", call_id))

    def send_digits(self, call_id, leg_id, digits):
        self.commands.append(("send_digits", call_id, leg_id, digits))

    def dial(self, call_id, **call):
        self.commands.append(("dial", call_id))

    def calls_here(self):
        return 3


fake = FakeMedia()


def fake_backend(start=True) -> media.MediaBackend:
    return fake


@pytest.fixture
def fake_media(settings):
    settings.MEDIA_BACKEND = "tests.test_media_backend.fake_backend"
    settings.MEDIA_IN_WORKERS = False
    fake.commands, fake.refusal = [], ""
    return fake


def _web_call() -> str:
    tenant = Tenant.objects.create(name="Fake media", sdk_app_id="1400000777")
    return Session.objects.create(tenant=tenant, type="voip", state="queued").pk


def _end(session_id: str) -> None:
    with transaction.atomic():
        session = found(Session.objects.locked("tenant", "skill_group", "agent", "caller_agent").filter(pk=session_id))
        end_session(session, close_by="client")


async def test_a_web_call_is_driven_through_the_declared_media_backend(transactional_db, fake_media):
    from channels.db import database_sync_to_async

    session_id = await database_sync_to_async(_web_call)()
    queued_plan = {"a": "customer", "b": "", "ringing": "", "hold": False, "quiet": False, "muted": [],
                   "videoMuted": []}

    assert await media.open_leg(session_id, media.CUSTOMER_LEG, "offer") == {"sdp": "answer to offer"}
    await database_sync_to_async(_end)(session_id)
    await media.close_leg(session_id, media.CUSTOMER_LEG)

    assert fake_media.commands == [
        ("open_leg", session_id, "customer", "offer", queued_plan),
        ("apply_plan", session_id, queued_plan),  # read again once the leg is up
        ("end_call", session_id),  # after the end committed
        ("close_leg", session_id, "customer"),
    ]
    # This process carries the call's media (embedded): it is the call's media worker, beating with its count.
    row = await Session.objects.aget(pk=session_id)
    worker = await MediaWorker.objects.aget(pk=processes.PROCESS_ID)
    assert (row.media_worker, worker.calls) == (processes.PROCESS_ID, 3)


async def test_an_offer_the_backend_refuses_is_a_clear_error(transactional_db, fake_media):
    from channels.db import database_sync_to_async

    session_id = await database_sync_to_async(_web_call)()
    fake_media.refusal = "no audio codec in common"

    with pytest.raises(ServiceError, match="^no audio codec in common$"):
        await media.open_leg(session_id, media.CUSTOMER_LEG, "offer")
    assert fake_media.commands == []


def test_services_import_no_wiring_and_no_media_engine():
    """Dependencies point down: the process's wiring (workbench/) chooses and starts the media engines, and
    services reach them only through `MediaBackend`. Imports inside functions count."""
    import ast
    from pathlib import Path

    import sessions_app.services

    reached = set()
    for path in Path(sessions_app.services.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                reached |= {(path.name, module)} | {(path.name, f"{module}.{alias.name}") for alias in node.names}
            elif isinstance(node, ast.Import):
                reached |= {(path.name, alias.name) for alias in node.names}
    forbidden = [(name, module) for name, module in reached
                 if module.split(".")[0] in ("workbench", "aiortc")
                 or module.lstrip(".").startswith(("media.embedded", "media.remote", "media.engine"))]
    assert forbidden == []
