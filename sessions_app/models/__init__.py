"""The database is the truth: tenants, agents, skill groups, sessions, who served them, CDRs and deadlines
(`core`), agents' status history (`history`), the phone channel's configuration (`phone`) and the
supervisors' audit log (`audit`), the cloud API's keys and calls (`cloud`), calls' recordings
(`recording`) and supervisors monitoring calls (`monitoring`)."""
from .core import (  # noqa: F401
    Agent, AgentConnection, AgentSkill, CannedResponse, Cdr, ChatMessage, ChatReadMark, MediaWorker, NumberGroup,
    RestReason, ServeParticipant, Session, SessionEvent, SkillGroup, Supervisor, Tenant, WebProcess, found,
    new_api_key, new_session_id,
)
from .audit import AuditEntry  # noqa: F401
from .cloud import CloudApiCall, CloudKey, SpentToken  # noqa: F401
from .history import AgentStatusChange, ReportDay  # noqa: F401
from .phone import Hotline, IvrAudio, IvrKey, IvrMenu, NumberLocation, ProtectedNumber, Trunk  # noqa: F401
from .recording import Recording  # noqa: F401
from .consult import Consult  # noqa: F401
from .monitoring import Monitoring  # noqa: F401
