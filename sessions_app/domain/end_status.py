"""End statuses of a session, with Tencent's CDR codes (EndStatus / EndStatusString)."""

CODES = {
    "error": 0,  # the system lost the session (a phone caller past the IVR's deadline)
    "ok": 1,
    "unconnected": 2,
    "ivrGiveUp": 102,
    "waitingGiveUp": 103,
    "ringingGiveUp": 104,
    "noSeatOnline": 105,
    "notWorkTime": 106,
    "notAnswer": 202,
    "userReject": 203,
    "busy": 206,
    "operatorError": 208,  # the trunk's line failed: no ACK for our answer, a transport error
    "callerCancel": 209,
    "seatOffline": 301,  # ours: the serving agent's connection was gone past the grace period
    "mediaError": 302,   # ours: the media leg failed
}


def code(end_status: str) -> int:
    return CODES[end_status]
