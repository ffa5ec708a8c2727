"""Production mode (`DJANGO_ENV=production`): it refuses every laptop default, is clean under `check --deploy` with
the README's production environment, and serves https behind a TLS proxy.

Settings are read once per process, so each case runs `manage.py` or daphne in a subprocess with its environment.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from testing.liveserver import free_port

pytestmark = pytest.mark.peer

ROOT = Path(__file__).resolve().parent.parent
HOST = "cc.example.com"
PRODUCTION = {"DJANGO_ENV": "production", "SECRET_KEY": "k3y-" + "x7Qz" * 15, "ALLOWED_HOSTS": f"{HOST},127.0.0.1",
              "PUBLIC_URL": f"https://{HOST}"}
THROUGH_PROXY = {"Host": HOST, "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


def environment(workdir: Path, **variables) -> dict:
    """This machine's environment without any production variable the test run may carry, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in (
        "DJANGO_ENV", "SECRET_KEY", "ALLOWED_HOSTS", "PUBLIC_URL", "DEBUG", "BEHIND_TLS_PROXY", "DJANGO_SETTINGS_MODULE")}
    return {**env, "SQLITE_PATH": str(workdir / "db.sqlite3"), "TCCC_SWEEPER": "0", "PYTHONUNBUFFERED": "1",
            **variables}


def manage(workdir: Path, *args: str, **variables) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment(workdir, **variables),
                          capture_output=True, text=True, timeout=120)


def settings_of(workdir: Path, *names: str, **variables) -> dict:
    code = ("import json, django; from django.conf import settings; django.setup(); "
            f"print(json.dumps({{n: getattr(settings, n, None) for n in {list(names)!r}}}))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=environment(workdir, DJANGO_SETTINGS_MODULE="workbench.settings", **variables))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A migrated database with the demo tenant, as `run.sh` leaves it."""
    path = tmp_path_factory.mktemp("production")
    assert manage(path, "migrate", "--noinput", "-v0").returncode == 0
    seeded = manage(path, "seed_demo")
    assert seeded.returncode == 0, seeded.stderr
    return path


# Refusals at settings import (what daphne goes through too)

@pytest.mark.parametrize("variables, named", [
    ({"SECRET_KEY": None}, "SECRET_KEY is the public development key"),
    ({"SECRET_KEY": "dev-only-secret-key-change-me-in-production-0123456789"}, "SECRET_KEY is the public"),
    ({"SECRET_KEY": ""}, "SECRET_KEY is unset"),
    ({"SECRET_KEY": "CHANGE-ME"}, "SECRET_KEY is too weak"),
    ({"SECRET_KEY": "a1" * 30}, "SECRET_KEY is too weak"),
    ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS is empty"),
    ({"ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS is empty"),
    ({"DEBUG": "1"}, "DEBUG=1"),
    ({"PUBLIC_URL": f"http://{HOST}"}, "PUBLIC_URL='http://cc.example.com' is not https"),
    ({"DJANGO_ENV": "prod"}, "DJANGO_ENV='prod' is not a mode"),
])
def test_production_mode_refuses_each_default_naming_what_to_set(tmp_path, variables, named):
    env = {k: v for k, v in {**PRODUCTION, **variables}.items() if v is not None}
    done = manage(tmp_path, "check", "--deploy", **env)
    assert done.returncode != 0
    assert named in done.stderr
    assert "ImproperlyConfigured" in done.stderr


def test_production_mode_lists_every_problem_at_once(tmp_path):
    done = manage(tmp_path, "check", "--deploy", DJANGO_ENV="production")
    assert done.returncode != 0
    assert "SECRET_KEY is the public development key" in done.stderr and "ALLOWED_HOSTS is empty" in done.stderr


def test_check_deploy_is_clean_in_production_mode_with_the_documented_environment(tmp_path):
    done = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_check_deploy_reports_the_development_secret_key_outside_production_mode(tmp_path):
    done = manage(tmp_path, "check", "--deploy")
    assert done.returncode != 0
    assert "sessions_app.E001" in done.stderr and "SECRET_KEY is the development key" in done.stderr
    assert "sessions_app.E001" not in manage(tmp_path, "check", "--deploy", SECRET_KEY=PRODUCTION["SECRET_KEY"]).stderr


def test_production_mode_sets_secure_cookies_hsts_and_trusts_the_tls_proxy(tmp_path):
    names = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT",
             "SECURE_PROXY_SSL_HEADER", "PRODUCTION")
    assert settings_of(tmp_path, *names, **PRODUCTION) == {
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_SSL_REDIRECT": True, "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"], "PRODUCTION": True}
    assert settings_of(tmp_path, "SECURE_PROXY_SSL_HEADER", **PRODUCTION, BEHIND_TLS_PROXY="0") == {
        "SECURE_PROXY_SSL_HEADER": None}


def test_outside_production_the_proxy_header_is_trusted_only_when_asked(tmp_path):
    assert settings_of(tmp_path, "SECURE_PROXY_SSL_HEADER", "PRODUCTION", "SESSION_COOKIE_SECURE") == {
        "SECURE_PROXY_SSL_HEADER": None, "PRODUCTION": False, "SESSION_COOKIE_SECURE": False}
    assert settings_of(tmp_path, "SECURE_PROXY_SSL_HEADER", BEHIND_TLS_PROXY="1") == {
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"]}


# Commands

def test_seed_demo_refuses_to_run_in_production_mode(workdir):
    done = manage(workdir, "seed_demo", **PRODUCTION)
    assert done.returncode != 0
    assert "does not run with DJANGO_ENV=production" in done.stderr


def test_sdk_token_prints_an_https_sdk_url_in_production_and_needs_public_url(workdir):
    done = manage(workdir, "sdk_token", "agent1@demo", **PRODUCTION)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["SdkURL"] == f"https://{HOST}/sdk/tccc.js"
    without = manage(workdir, "sdk_token", "agent1@demo", **{**PRODUCTION, "PUBLIC_URL": ""})
    assert without.returncode != 0 and "set PUBLIC_URL" in without.stderr


def test_rotate_api_key_gives_the_tenant_a_new_key_and_refuses_an_unknown_tenant(workdir, tmp_path):
    for part in workdir.glob("db.sqlite3*"):  # a copy: the module's database keeps the demo key for the test below
        shutil.copy(part, tmp_path)
    workdir = tmp_path
    rotated = manage(workdir, "rotate_api_key", "1400000001")
    assert rotated.returncode == 0, rotated.stderr
    answer = json.loads(rotated.stdout)
    assert answer["SdkAppId"] == "1400000001" and len(answer["apiKey"]) >= 40
    assert answer["apiKey"] != json.loads(manage(workdir, "rotate_api_key", "1400000001").stdout)["apiKey"]
    unknown = manage(workdir, "rotate_api_key", "999")
    assert unknown.returncode != 0 and "no tenant with SdkAppId '999'" in unknown.stderr


# daphne

class Daphne:
    def __init__(self, workdir: Path, **variables):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"daphne-{self.port}.log"
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "workbench.asgi:application"],
                cwd=ROOT, env=environment(workdir, **variables), stdout=log, stderr=subprocess.STDOUT)

    def serving(self, timeout: float = 30) -> bool:
        """True once it answers through the proxy's headers; False if it exited first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                httpx.get(self.url + "/", headers=THROUGH_PROXY, timeout=1)
                return True
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"daphne neither served nor exited within {timeout} s")

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def test_daphne_refuses_to_serve_the_demo_key_and_passwords_then_serves_https_behind_the_proxy(workdir):
    refused = Daphne(workdir, **PRODUCTION)
    try:
        assert not refused.serving()
        assert refused.process.returncode != 0
        log = refused.log
        assert "DJANGO_ENV=production refuses to start" in log
        assert ("tenant 1400000001 still has the demo API key 'demo-api-key-change-me': "
                "manage.py rotate_api_key 1400000001") in log
        assert ("tenant 1400000001 still has the demo cloud API key 'AKIDdemoSecretIdChangeMe000000000000': "
                "manage.py cloud_key revoke AKIDdemoSecretIdChangeMe000000000000") in log
        for user in ("admin", "supervisor@demo", "agent1@demo", "agent2@demo", "agent3@demo"):
            assert f"user {user!r} still has the demo password 'demo-password': manage.py changepassword {user}" in log
    finally:
        refused.stop()

    revoked = manage(workdir, "cloud_key", "revoke", "AKIDdemoSecretIdChangeMe000000000000", **PRODUCTION)
    assert revoked.returncode == 0, revoked.stderr
    assert manage(workdir, "cloud_key", "revoke", "AKIDdemoSecretIdChangeMe000000000000").returncode != 0

    rotated = manage(workdir, "rotate_api_key", "1400000001", **PRODUCTION)
    assert rotated.returncode == 0, rotated.stderr
    key = json.loads(rotated.stdout)["apiKey"]
    changed = manage(workdir, "shell", "-c", (
        "from django.contrib.auth import get_user_model\n"
        "for user in get_user_model().objects.all():\n"
        "    user.set_password('a real password 4711'); user.save()\n"))
    assert changed.returncode == 0, changed.stderr

    server = Daphne(workdir, **PRODUCTION)
    try:
        assert server.serving(), server.log
        headers = {**THROUGH_PROXY, "Authorization": f"Bearer {key}"}
        answer = httpx.post(server.url + "/api/sdk-login-token", headers=headers, timeout=10,
                            json={"SdkAppId": "1400000001", "SeatUserId": "agent1@demo"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["SdkURL"] == f"https://{HOST}/sdk/tccc.js"
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"

        login_page = httpx.get(server.url + "/workbench/login/", headers=THROUGH_PROXY, timeout=10)
        assert login_page.status_code == 200
        assert "secure" in login_page.headers["Set-Cookie"].lower()

        plain = httpx.get(server.url + "/workbench/login/", headers={"Host": HOST}, timeout=10)
        assert plain.status_code == 301 and plain.headers["Location"] == f"https://{HOST}/workbench/login/"
        spoofed_host = httpx.get(server.url + "/", headers={**THROUGH_PROXY, "Host": "evil.example"}, timeout=10)
        assert spoofed_host.status_code == 400
    finally:
        server.stop()


@pytest.mark.service
async def test_sdk_url_is_https_when_the_request_came_through_the_tls_proxy(demo, settings):
    """Through the API's own handler (as daphne serves it), with the proxy header trusted (BEHIND_TLS_PROXY=1):
    the proxy's X-Forwarded-Proto makes SdkURL https; without the header it stays http; untrusted, it is ignored."""
    from workbench.asgi import application

    async def sdk_url(**headers) -> str:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver",
                                     headers={"Authorization": f"Bearer {demo['apiKey']}", **headers}) as client:
            answer = await client.post("/api/sdk-login-token", json={"SdkAppId": demo["SdkAppId"],
                                                                      "SeatUserId": "agent1@demo"})
        assert answer.status_code == 200, answer.text
        return answer.json()["SdkURL"]

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert await sdk_url(**{"X-Forwarded-Proto": "https"}) == "https://testserver/sdk/tccc.js"
    assert await sdk_url() == "http://testserver/sdk/tccc.js"
    settings.SECURE_PROXY_SSL_HEADER = None
    assert await sdk_url(**{"X-Forwarded-Proto": "https"}) == "http://testserver/sdk/tccc.js"
