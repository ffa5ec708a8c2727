"""Tencent Cloud's contact-center API (service `ccc`, version 2020-02-10) on our server, for back-office code
written against `tencentcloud-sdk-python` and its twins: the wire protocol (`protocol.py`, the TC3 signature in
`domain/tc3.py`, the HTTP side in `views/cloud_api.py`) and the actions (`actions.py` runs them; one module per
kind registers its own). Importing the package registers every action.
"""
from . import callout, control, figures, ivr_audio, records, skill_groups, staff, tokens  # noqa: F401
