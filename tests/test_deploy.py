"""The deployment files in deploy/ as docs/deploy.md installs them: nginx accepts the shipped configuration,
systemd accepts the units and their ExecStart lines run the product, the example environment is a valid
EnvironmentFile, and BEHIND_TLS_PROXY makes requests the proxy marks https secure.

The units are run with /opt/tccc replaced by this checkout (the guide's checkout path) and the test's own
environment instead of /etc/tccc/tccc.env; the full path through nginx is tests/test_scale_out_browser.py.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sessions_app.services.origins import matches, same_origin

from testing.liveserver import ROOT, LiveServer, free_port
from testing.nginx import NGINX, SHIPPED, Certificate, Nginx, main_config, render
from testing.serving import running

pytestmark = pytest.mark.peer

DEPLOY = ROOT / "deploy"
CHECKOUT = "/opt/tccc"


def service_settings(*files: Path) -> dict[str, list[str]]:
    """The [Service] section's settings of a unit and its drop-ins, in order (a later Environment= wins)."""
    settings: dict[str, list[str]] = {}
    for path in files:
        section = ""
        for line in path.read_text().splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and "=" in line and not line.startswith("#"):
                key, _, value = line.partition("=")
                settings.setdefault(key, []).append(value)
    return settings


def exec_start(unit: str, instance: str, *dropins: str) -> list[str]:
    """The unit's ExecStart as systemd runs it for `instance`: %i filled in, $VARIABLES from Environment= split
    into words (an empty one is no word), the checkout at this repository."""
    settings = service_settings(DEPLOY / unit, *(DEPLOY / dropin for dropin in dropins))
    environment = dict(value.split("=", 1) for value in settings.get("Environment", []))
    words = []
    for word in shlex.split(settings["ExecStart"][-1].replace("%i", instance).replace(CHECKOUT, str(ROOT))):
        words += environment[word[1:]].split() if word.startswith("$") else [word]
    return words


@pytest.mark.parametrize("main", ["tests", "debian"])
def test_nginx_accepts_the_shipped_configuration(tmp_path, main):
    """Inside the tests' main configuration, and inside Debian's /etc/nginx/nginx.conf where docs/deploy.md puts it
    (conf.d, the default site removed), with only the paths moved into a temporary folder."""
    site = tmp_path / "tccc.conf"
    site.write_text(render(SHIPPED.read_text(), http_port=free_port(), https_port=free_port(), backends=[8001, 8002],
                           certificate=Certificate(tmp_path), logs=tmp_path))
    if main == "tests":
        config = main_config(tmp_path, site)
    else:
        debian = Path("/etc/nginx/nginx.conf")
        if not debian.exists():
            pytest.skip("Debian's nginx is not installed")
        config = (debian.read_text().replace("include /etc/nginx/conf.d/*.conf;", f"include {site};")
                  .replace("include /etc/nginx/sites-enabled/*;", "")
                  .replace("/run/nginx.pid", f"{tmp_path}/nginx.pid").replace("/var/log/nginx/", f"{tmp_path}/"))
    (tmp_path / "nginx.conf").write_text(config)
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                             capture_output=True, text=True)
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr


@pytest.mark.unit
def test_the_shipped_access_log_format_has_no_query_strings():
    log_format = re.search(r"log_format tccc (.*?);", SHIPPED.read_text(), re.S).group(1)
    assert not re.search(r"\$(request|request_uri|args|query_string|arg_\w+)\b", log_format)
    assert all("access_log /var/log/nginx/tccc.access.log tccc;" in server
               for server in SHIPPED.read_text().split("server {")[1:])


def test_systemd_accepts_the_units(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    units = []
    for template, instance in (("tccc-web@.service", "8001"), ("tccc-media@.service", "1"),
                               ("tccc-report-days.service", ""), ("tccc-report-days.timer", "")):
        unit = tmp_path / template.replace("@.", f"@{instance}.")
        unit.write_text((DEPLOY / template).read_text().replace(CHECKOUT, str(ROOT)))
        units.append(str(unit))
    verified = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert verified.returncode == 0, verified.stderr


def test_the_web_unit_serves_behind_a_proxy_with_the_clients_address_and_https(tmp_path):
    server = LiveServer(env={"SQLITE_PATH": str(tmp_path / "db.sqlite3"), "BEHIND_TLS_PROXY": "1"})
    server.manage("migrate", "--noinput", "-v0")
    server.manage("seed_demo")
    command = exec_start("tccc-web@.service", str(server.port))
    assert command[:2] == [str(ROOT / ".venv/bin/daphne"), "--proxy-headers"]
    with open(tmp_path / "daphne.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline, answer = time.monotonic() + 30, None
        while answer is None:
            try:
                answer = httpx.post(
                    f"{server.url}/api/sdk-login-token", timeout=2,
                    json={"SdkAppId": "1400000001", "SeatUserId": "agent1@demo"},
                    headers={"Authorization": "Bearer demo-api-key-change-me", "X-Forwarded-Proto": "https",
                             "X-Forwarded-For": "203.0.113.5"})
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "daphne.log").read_text()
                time.sleep(0.1)
        assert answer.json()["SdkURL"] == f"https://127.0.0.1:{server.port}/sdk/tccc.js"
    finally:
        process.terminate()
        process.wait(10)
        server.stop()
    assert re.search(r'^203\.0\.113\.5:\d+ .*"POST /api/sdk-login-token', (tmp_path / "daphne.log").read_text(), re.M)


@pytest.mark.unit
def test_every_proxied_location_passes_the_host_with_its_port():
    """Tencent's signature (TC3) covers the Host header as the client sent it, port included: nginx must pass it
    on unchanged ($http_host), never rebuilt ($host drops the port, $proxy_host names the backend)."""
    config = SHIPPED.read_text()
    assert config.count("proxy_pass ") == len(re.findall(r"proxy_set_header Host \$http_host;", config)) >= 2
    assert not re.search(r"proxy_set_header Host \$(host|proxy_host)\b", config)


def test_tencents_client_signs_its_requests_through_nginx(tmp_path):
    from tencentcloud.ccc.v20200210 import ccc_client
    from tencentcloud.common import credential
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    from .cloud_client import call

    with running(LiveServer(behind_proxy=True)) as server, running(Nginx([server], Certificate(tmp_path))) as nginx:
        profile = ClientProfile(httpProfile=HttpProfile(
            protocol="https", endpoint=f"127.0.0.1:{nginx.https_port}", reqTimeout=30,
            certification=str(nginx.certificate.cert)))
        cloud = ccc_client.CccClient(credential.Credential(server.demo["secretId"], server.demo["secretKey"]),
                                     "ap-guangzhou", profile)
        answer = call(cloud, "CreateSDKLoginToken", {"SdkAppId": int(server.demo["SdkAppId"]),
                                                     "SeatUserId": "agent1@demo"})
        assert answer["SdkURL"] == f"{nginx.url}/sdk/tccc.js"  # the https address nginx answered at


def test_the_first_media_unit_runs_a_worker_with_the_sip_gateway(tmp_path, redis):
    command = exec_start("tccc-media@.service", "1", "tccc-media@1.service.d/sip.conf")
    assert command[:4] == [str(ROOT / ".venv/bin/python"), "manage.py", "media_worker", "--sip"]
    assert exec_start("tccc-media@.service", "2")[2:] == ["media_worker"]
    server = LiveServer(env={"SQLITE_PATH": str(tmp_path / "db.sqlite3"), "REDIS_URL": redis.url,
                             "SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1"})
    server.manage("migrate", "--noinput", "-v0")
    with open(tmp_path / "worker.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=server.env, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = process.stdout.readline()  # "media worker {id} on {channel}", once it serves
        assert line.startswith("media worker"), (tmp_path / "worker.log").read_text()
        carries_sip = server.manage("shell", "-v0", "-c", "from sessions_app.models import MediaWorker\n"
                                    "print(list(MediaWorker.objects.values_list('carries_sip', flat=True)))")
        assert carries_sip.strip() == "[True]"
    finally:
        process.terminate()
        process.wait(10)
        server.stop()


def test_the_example_environment_is_a_valid_environment_file_with_every_deployment_variable():
    lines = [line for line in (DEPLOY / "tccc.env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*=[^\"' ]*", line) for line in lines), lines
    names = {line.split("=", 1)[0] for line in lines}
    assert {"DJANGO_ENV", "SECRET_KEY", "ALLOWED_HOSTS", "BEHIND_TLS_PROXY", "DATABASE_URL", "REDIS_URL", "PUBLIC_URL",
            "MEDIA_HOST_ADDRESSES", "SIP_PORT", "SIP_PUBLIC_HOST", "RTP_PORTS", "TURN_URLS", "TURN_SECRET"} <= names
    # docs/deploy.md runs manage.py by hand with `set -a; . /etc/tccc/tccc.env`: sh must read the same values.
    shell = subprocess.run(["sh", "-c", 'set -a; . "$0"; set +a; env', str(DEPLOY / "tccc.env.example")],
                           capture_output=True, text=True, check=True, env={})
    assert set(lines) <= set(shell.stdout.splitlines())


def example_environment() -> dict:
    lines = [line for line in (DEPLOY / "tccc.env.example").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def check_deploy(environment: dict, tmp_path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_", "SIP_", "TURN_", "ICE_"))}
    # Its PostgreSQL and Redis are not here: check --deploy reads no database, SQLite stands in for migrations' sake.
    env = {**env, **environment, "SQLITE_PATH": str(tmp_path / "db.sqlite3"), "DATABASE_URL": "", "REDIS_URL": ""}
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def test_the_example_environment_as_shipped_is_refused_until_its_secrets_are_changed(tmp_path):
    refused = check_deploy(example_environment(), tmp_path)
    assert refused.returncode != 0 and "SECRET_KEY is too weak" in refused.stderr
    filled = {**example_environment(), "SECRET_KEY": "k3y-" + "x7Qz" * 15, "TURN_SECRET": "t" * 40}
    clean = check_deploy(filled, tmp_path)
    assert clean.returncode == 0, clean.stderr
    assert "System check identified no issues" in clean.stdout


@pytest.mark.parametrize("behind, secure, url", [("1", "True", "https://127.0.0.1:8443/sdk/tccc.js"),
                                                  ("0", "False", "http://127.0.0.1:8443/sdk/tccc.js")])
def test_behind_tls_proxy_trusts_the_proxys_forwarded_proto_and_nothing_else_does(behind, secure, url):
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v0", "-c",
         "from django.test import RequestFactory\n"
         "request = RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https', HTTP_HOST='127.0.0.1:8443')\n"
         "print(request.is_secure(), request.build_absolute_uri('/sdk/tccc.js'))"],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "workbench.settings", "BEHIND_TLS_PROXY": behind},
        capture_output=True, text=True, check=True)
    assert shown.stdout.split() == [secure, url]


@pytest.mark.unit
@pytest.mark.parametrize("origin, host, own", [
    ("https://cc.example.com", "cc.example.com", True),  # port 443: the browser sends neither port
    ("https://127.0.0.1:8443", "127.0.0.1:8443", True),  # nginx passes Host with its port ($http_host)
    ("https://127.0.0.1:8443", "127.0.0.1", False),  # what Host would be with nginx's $host: not our page
    ("https://evil.example", "cc.example.com", False),
])
def test_the_own_origin_check_knows_an_https_page_behind_nginx(origin, host, own):
    """The workbench's and the SDK panel's websockets need no allow-list entry on their own https origin."""
    assert same_origin(origin, host) is own


@pytest.mark.unit
@pytest.mark.parametrize("origin, allowed", [
    ("https://crm.example.com", True), ("https://crm.example.com:443", True),
    ("http://crm.example.com", False), ("https://crm.example.com:8443", False),
])
def test_an_https_crm_origin_matches_its_allow_list_entry(origin, allowed):
    assert matches(origin, "https://crm.example.com") is allowed


@pytest.mark.unit
def test_every_file_the_guide_installs_is_in_the_repository():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"(?:/opt/tccc/)?\b((?:deploy|scripts)/[\w@.\-/]*\w)", guide))
    assert {"deploy/nginx.conf", "deploy/tccc-web@.service", "deploy/tccc.env.example"} <= named
    assert [path for path in sorted(named) if not (ROOT / path).exists()] == []


def test_the_nightly_unit_keeps_every_tenants_settled_report_days(tmp_path):
    server = LiveServer(env={"SQLITE_PATH": str(tmp_path / "db.sqlite3")})
    server.manage("migrate", "--noinput", "-v0")
    server.manage("seed_demo")
    command = exec_start("tccc-report-days.service", "")
    assert command[1:] == ["manage.py", "keep_report_days"]
    run = subprocess.run(command, cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("1400000001: "), run.stdout + run.stderr
