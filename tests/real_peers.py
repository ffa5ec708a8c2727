"""What the tests with real peers (sipp, baresip) share: skipping where the program is missing, and waiting
for something a peer reports, with a deadline.

`scripts/test.sh` installs every peer (Debian's sip-tester, baresip-core), so in CI these tests always run;
the skip is for a developer's machine that lacks one, and says which package to install.
"""
from __future__ import annotations

import shutil
import time

import pytest

PACKAGES = {"sipp": "sip-tester", "baresip": "baresip-core"}


def needs(program: str):
    return pytest.mark.skipif(shutil.which(program) is None,
                              reason=f"{program} is not installed (Debian {PACKAGES[program]}; scripts/test.sh installs it)")


def until(check, what: str, state=lambda: "", timeout: float = 10.0) -> None:
    """Wait for `check()` (polled every 50 ms); past the deadline fail with `what` and the last `state()`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what} ({state()})")
        time.sleep(0.05)
