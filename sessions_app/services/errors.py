class ServiceError(Exception):
    """An operation refused; the message is what the SDK shows as `errorMsg`."""
