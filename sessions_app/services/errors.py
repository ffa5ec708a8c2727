class ServiceError(Exception):
    """An operation refused; the message is what the SDK shows as `errorMsg`."""


class LimitReached(ServiceError):
    """Refused because a limit on how often it may be done was reached; trying later may succeed."""
