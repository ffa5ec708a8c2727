"""The Chromium that browser tests and benchmarks launch: Debian's, headless, with fake devices.

`FOREIGN_HOST` resolves to 127.0.0.1 inside Chromium only, so a test can load a page from an origin that is on
no tenant's allow-list without touching the machine's DNS.
"""
CHROMIUM = "/usr/bin/chromium"
FOREIGN_HOST = "foreign.test"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    f"--host-resolver-rules=MAP {FOREIGN_HOST} 127.0.0.1",
]
