class ServiceError(Exception):
    """An operation refused; the message is what the SDK shows as `errorMsg`. Its type, never its text, says
    what kind of refusal it is, so a transport picks a status (an HTTP code) without reading words."""


class NotFound(ServiceError):
    """Refused because a thing it names (a session, an agent, a skill group, a chat) is not there, or not in the
    asker's tenant: to the asker both are the same."""


class LimitReached(ServiceError):
    """Refused because a limit on how often it may be done was reached; trying later may succeed."""
