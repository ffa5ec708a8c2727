"""Tencent's cloud API on our server, through Tencent's own client against a live daphne: CreateCallOutSession
(the agent's SDK socket rings first; once the agent accepts, sipp, the trunk's far end, is dialled and the call
carries audio), and UploadIvrAudio / DescribeIvrAudioList (WAV files served by a local http.server, fetched by
the server under its SSRF rules)."""
from __future__ import annotations

import asyncio
import http.server
import io
import math
import struct
import subprocess
import threading
import time
import wave

import pytest

from testing.liveserver import free_port
from testing.serving import running
from .browser import live_shell, reset_center
from .cloud_client import app, call, client, cloud_server, refused
from .real_peers import needs
from .trunk_checks import hear_the_echo_and_hang_up
from .ws_clients import open_agent

pytestmark = [needs("sipp"), pytest.mark.peer]

AGENT_HZ = 1000
DEMO_NUMBER = "008675586013388"  # seed_demo's hotline, the demo skill groups' caller number
DEMO_TENANT = "Tenant.objects.get(sdk_app_id='1400000001')"


@pytest.fixture(scope="module")
def live():
    with running(cloud_server(**{"IVR_AUDIO_FETCH_ALLOW": "127.0.0.1",
                                 "SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1",
                                 "MEDIA_HOST_ADDRESSES": "127.0.0.1", "OUTBOUND_RING_SECONDS": "2"})) as server:
        live_shell(server, "from sessions_app.models import IvrAudio\nfrom tests import factories\n"
                           "other = factories.tenant(sdk_app_id='1400000002')\n"
                           "factories.agent(other, user_id='agent@other', status='free')\n"
                           "IvrAudio.objects.create(tenant=other, custom_file_name='theirs', audio='ivr/theirs.wav', "
                           "source_url='http://example.com/theirs.wav')")
        yield server


@pytest.fixture(scope="module")
def cloud(live):
    return client(live)



# CreateCallOutSession

def make_trunk(live, port: int | None) -> None:
    """The demo tenant's one trunk at `port` on this machine (None: no trunk at all)."""
    code = "from sessions_app.models import Tenant, Trunk\nTrunk.objects.all().delete()\n"
    if port:
        code += f"Trunk.objects.create(tenant={DEMO_TENANT}, name='sipp', host='127.0.0.1', port={port})\n"
    live_shell(live, code)


def open_sessions(live) -> str:
    return live_shell(live, "from sessions_app.models import Session\n"
                            "print(Session.objects.exclude(state='ended').count())").strip()


def test_a_call_out_rings_the_agent_and_once_accepted_dials_the_customer_through_the_trunk(live, cloud, tmp_path):
    reset_center(live)
    port = free_port()
    make_trunk(live, port)
    sipp = subprocess.Popen(
        ["sipp", "-sn", "uas", "-rtp_echo", "-p", str(port), "-i", "127.0.0.1", "-mi", "127.0.0.1",
         "-mp", str(free_port()), "-m", "1", "-nostdin", "-trace_err", "-timeout", "30s", "-timeout_error"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    async def scenario():
        agent = await open_agent(live, "agent1@demo")
        answer = await asyncio.to_thread(call, cloud, "CreateCallOutSession", {
            "SdkAppId": app(live), "UserId": "agent1@demo", "Callee": "008613800138000",
            "Callers": [DEMO_NUMBER], "IsForceUseMobile": True, "UUI": "order-42"})
        session_id = answer["SessionId"]
        ringing = await agent.event("callIn")
        assert (ringing["sessionId"], ringing["type"]) == (session_id, "phone")
        assert (ringing["calleePhoneNumber"], ringing["callerPhoneNumber"]) == ("008613800138000", DEMO_NUMBER)
        assert not [e for e in agent.events if e.get("event") == "callOuted"], "nobody is dialled before the accept"
        accepted = await agent.request(method="Call.accept", params={"sessionId": session_id})
        assert accepted["status"] == "success", accepted
        outed = await agent.event("callOuted")
        assert (outed["sessionId"], outed["calleePhoneNumber"]) == (session_id, "008613800138000")
        await hear_the_echo_and_hang_up(agent, session_id, AGENT_HZ)
        return session_id

    session_id = asyncio.run(scenario())
    assert sipp.wait(15) == 0, sipp.stderr.read().decode(errors="replace")
    described = live.api("GET", f"/api/sessions/{session_id}")
    assert (described["endStatus"], described["closeBy"], described["direction"]) == ("ok", "seat", "out")
    assert described["uui"] == "order-42"
    assert [(p["userId"], p["outcome"]) for p in described["participants"]] == [("agent1@demo", "ended")]


def test_a_call_out_ringing_the_agent_is_offered_to_each_page_and_their_hang_up_dials_nobody(live, cloud):
    reset_center(live)
    make_trunk(live, free_port())  # nothing listens there: a dial would end as unconnected

    async def scenario():
        agent = await open_agent(live, "agent1@demo")
        answer = await asyncio.to_thread(call, cloud, "CreateCallOutSession", {
            "SdkAppId": app(live), "UserId": "agent1@demo", "Callee": "13800138001"})
        session_id = answer["SessionId"]
        assert (await agent.event("callIn"))["sessionId"] == session_id
        page_reloaded = await open_agent(live, "agent1@demo")  # a page opened meanwhile is offered it too
        assert [offer["sessionId"] for offer in page_reloaded.welcome["sessions"]] == [session_id]
        await page_reloaded.ws.close()
        workbench = live_shell(live, "from sessions_app.models import Agent\nfrom sessions_app.services import workbench\n"
                                     "agent = Agent.objects.get(user_id='agent1@demo')\n"
                                     "print([o['id'] for o in workbench.offers(agent.pk)], "
                                     "[v.id for v in workbench.open_sessions(agent.pk)])")
        assert workbench.strip().splitlines()[-1] == f"['{session_id}'] []", "the workbench offers it, once"
        hung_up = await agent.request(method="Call.hungUp", params={"sessionId": session_id})
        assert hung_up["status"] == "success", hung_up
        assert (await agent.event("sessionEnded"))["sessionId"] == session_id
        assert not [e for e in agent.events if e.get("event") == "callOuted"]
        await agent.ws.close()
        return session_id

    session_id = asyncio.run(scenario())
    described = live.api("GET", f"/api/sessions/{session_id}")
    assert (described["endStatus"], described["closeBy"]) == ("callerCancel", "seat")
    assert [(p["userId"], p["outcome"]) for p in described["participants"]] == [("agent1@demo", "cancelled")]


def test_a_call_out_that_cannot_be_placed_is_refused_with_tencents_code_and_nothing_is_created(live, cloud):
    reset_center(live)
    make_trunk(live, free_port())
    good = {"SdkAppId": app(live), "UserId": "agent1@demo", "Callee": "008613800138002"}

    def code(**changes) -> str:
        return refused(cloud, "CreateCallOutSession", {**good, **changes}).code

    assert code(UserId="agent1@demo") == "FailedOperation"  # offline: nobody to ring
    assert code(UserId="nobody@demo") == "ResourceNotFound"
    assert code(UserId="agent@other") == "ResourceNotFound"  # another tenant's agent is nobody here
    assert code(UserId=None) == "MissingParameter"
    assert code(Callee=None) == "MissingParameter"
    assert code(Callee="call me") == "InvalidParameterValue"
    assert code(Callers=DEMO_NUMBER) == "InvalidParameter"
    assert code(UUI=7) == "InvalidParameter"

    async def online_then_refused():
        agent = await open_agent(live, "agent1@demo")
        codes = {"stranger": code(Callers=["008610000000000"]),
                 "malformed caller": code(Callers=["x"]),
                 "deprecated Caller, stranger": code(Caller="008610000000000")}
        make_trunk(live, None)
        codes["no trunk"] = code()
        make_trunk(live, free_port())
        live_shell(live, "import datetime\nfrom django.utils import timezone\nfrom sessions_app.models import Tenant\n"
                         "soon = (timezone.localtime() + datetime.timedelta(hours=2)).time().replace(microsecond=0)\n"
                         "later = (timezone.localtime() + datetime.timedelta(hours=3)).time().replace(microsecond=0)\n"
                         f"{DEMO_TENANT.replace('.get(', '.filter(')}.update(calling_hours_start=soon, "
                         "calling_hours_end=later)")
        codes["calling hours"] = code()
        live_shell(live, f"from sessions_app.models import Tenant\n{DEMO_TENANT.replace('.get(', '.filter(')}"
                         ".update(calling_hours_start='00:00', calling_hours_end='00:00')")
        assert open_sessions(live) == "0", "no refusal left a session behind"
        first = await asyncio.to_thread(call, cloud, "CreateCallOutSession", good)
        assert (await agent.event("callIn"))["sessionId"] == first["SessionId"]
        codes["busy"] = code(Callee="008613800138003")
        went = await agent.request(method="Agent.offline", params={})
        assert went["status"] == "success", went
        assert (await agent.event("sessionEnded"))["sessionId"] == first["SessionId"]  # nobody left to take it
        await agent.ws.close()
        return codes

    assert asyncio.run(online_then_refused()) == {
        "stranger": "InvalidParameterValue", "malformed caller": "InvalidParameterValue",
        "deprecated Caller, stranger": "InvalidParameterValue", "no trunk": "FailedOperation",
        "calling hours": "FailedOperation", "busy": "FailedOperation"}
    assert open_sessions(live) == "0"  # the one that rang the agent ended when they went offline; no other was made


# UploadIvrAudio and DescribeIvrAudioList

def tone_wav(seconds: float = 0.5, hz: int = 440, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * hz * n / rate)))
                                    for n in range(int(seconds * rate))))
    return out.getvalue()


FILES = {"/hello.wav": tone_wav(), "/huge.wav": tone_wav() + b"\0" * (5 * 1024 * 1024),
         "/page.html": b"<html><body>not audio</body></html>", "/fake.wav": b"RIFF\x24\0\0\0WAVEjunk" * 10}


class Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow.wav":  # a server that takes its time: the upload waits for it
            time.sleep(3)
            self.path = "/hello.wav"
        if self.path == "/moved.wav":  # to a file it may fetch, but redirects are not followed
            self.send_response(302)
            self.send_header("Location", "/hello.wav")
            self.end_headers()
            return
        body = FILES.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.end_headers()  # no Content-Length: the size limit must hold while reading
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def files():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def listed(live, cloud, **filters) -> dict:
    return call(cloud, "DescribeIvrAudioList", {"SdkAppId": app(live), "PageSize": 50, "PageNumber": 0,
                                                **filters})


def test_ivr_audio_is_fetched_stored_as_a_prompt_can_play_it_and_listed(live, cloud, files):
    before = listed(live, cloud)["TotalCount"]
    answer = call(cloud, "UploadIvrAudio", {"SdkAppId": app(live), "AudioList": [
        {"CustomFileName": "welcome", "AudioUrl": f"{files}/hello.wav"},
        {"CustomFileName": "closed", "AudioUrl": f"{files}/hello.wav"}]})
    assert answer["FailedFileList"] == []
    welcome, closed = answer["SuccessFileList"]
    assert (welcome["CustomFileName"], closed["CustomFileName"]) == ("welcome", "closed")
    assert welcome["FileId"] != closed["FileId"] and welcome["AudioFileName"].endswith(".wav")
    assert welcome["Status"] == 1

    # A menu given the file as its prompt plays it: the gateway is handed its path, and the media code reads
    # half a second of audio there.
    printed = live_shell(live, "from sessions_app.media.prompts import samples\n"
                               "from sessions_app.models import IvrMenu\n"
                               "from sessions_app.services import telephony\n"
                               "menu = IvrMenu.objects.filter(tenant__sdk_app_id='1400000001').first()\n"
                               f"menu.prompt_upload_id = {welcome['FileId']}\n"
                               "menu.full_clean()\nmenu.save()\n"
                               "print(len(samples(telephony.ivr_menus(menu.tenant_id)[1][menu.pk], 8000)))\n"
                               "menu.prompt_upload = None\nmenu.save()")
    assert 3900 <= int(printed.strip().splitlines()[-1]) <= 4100

    everything = listed(live, cloud)
    assert everything["TotalCount"] == before + 2
    assert [f["CustomFileName"] for f in everything["FileInfo"]][-2:] == ["welcome", "closed"]
    assert "theirs" not in [f["CustomFileName"] for f in everything["FileInfo"]]
    assert listed(live, cloud, FileId=[closed["FileId"]])["FileInfo"] == [closed]
    assert listed(live, cloud, CustomFileName=["welcome"])["FileInfo"] == [welcome]
    assert listed(live, cloud, AudioFileName=[closed["AudioFileName"]])["FileInfo"] == [closed]
    second_page = listed(live, cloud, PageSize=1, PageNumber=before + 1)
    assert (second_page["TotalCount"], second_page["FileInfo"]) == (before + 2, [closed])


def test_an_upload_waiting_on_a_slow_server_holds_up_no_other_request(live, cloud, files):
    """The fetch runs on a thread of its own, not on the process's one database thread."""
    upload = threading.Thread(target=call, args=(cloud, "UploadIvrAudio", {"SdkAppId": app(live), "AudioList": [
        {"CustomFileName": "slow", "AudioUrl": f"{files}/slow.wav"}]}))
    upload.start()
    time.sleep(0.5)  # the upload is waiting on the slow server now
    listed(live, cloud)
    assert upload.is_alive()  # answered while the upload still waits
    upload.join(30)
    assert listed(live, cloud, CustomFileName=["slow"])["TotalCount"] == 1


def theirs_id(live) -> int:
    return int(live_shell(live, "from sessions_app.models import IvrAudio\n"
                                "print(IvrAudio.objects.get(custom_file_name='theirs').pk)").strip().splitlines()[-1])


def test_another_tenants_ivr_audio_is_not_listed(live, cloud):
    theirs = listed(live, cloud, FileId=[theirs_id(live)])
    assert (theirs["TotalCount"], theirs["FileInfo"]) == (0, [])


@pytest.mark.parametrize("url, expected", [
    ("http://10.0.0.1/a.wav", "InvalidParameterValue"),  # private
    ("http://169.254.169.254/latest/meta-data", "InvalidParameterValue"),  # link-local: a cloud's metadata
    ("http://127.0.0.2/a.wav", "InvalidParameterValue"),  # loopback, though 127.0.0.1 is allowed in this test
    ("http://[::1]/a.wav", "InvalidParameterValue"),
    ("ftp://example.com/a.wav", "InvalidParameterValue"),
    ("file:///etc/passwd", "InvalidParameterValue"),
    ("{files}/huge.wav", "InvalidParameterValue"),
    ("{files}/page.html", "InvalidParameterValue"),
    ("{files}/fake.wav", "InvalidParameterValue"),
    ("{files}/missing.wav", "FailedOperation"),
    ("{files}/moved.wav", "FailedOperation"),
    ("http://127.0.0.1:{closed}/a.wav", "FailedOperation"),  # unreachable
])
def test_an_audio_url_that_is_not_allowed_or_not_audio_is_refused_and_nothing_is_stored(live, cloud, files, url,
                                                                                         expected):
    before = listed(live, cloud)["TotalCount"]
    url = url.format(files=files, closed=free_port())
    error = refused(cloud, "UploadIvrAudio", {"SdkAppId": app(live), "AudioList": [
        {"CustomFileName": "good", "AudioUrl": f"{files}/hello.wav"}, {"CustomFileName": "bad", "AudioUrl": url}]})
    assert error.code == expected, error.message
    assert listed(live, cloud)["TotalCount"] == before


@pytest.mark.parametrize("action, params, expected", [
    ("UploadIvrAudio", {}, "MissingParameter"),
    ("UploadIvrAudio", {"AudioList": [{"CustomFileName": 5, "AudioUrl": "http://example.com/a.wav"}]},
     "InvalidParameter"),
    ("UploadIvrAudio", {"AudioList": [{"CustomFileName": "x"}]}, "MissingParameter"),
    ("UploadIvrAudio", {"AudioList": [{"CustomFileName": "x", "AudioUrl": 5}]}, "InvalidParameter"),
    ("UploadIvrAudio", {"AudioList": []}, "InvalidParameterValue"),
    ("DescribeIvrAudioList", {"PageSize": 51}, "InvalidParameterValue"),
    ("DescribeIvrAudioList", {"PageSize": "10"}, "InvalidParameter"),
    ("DescribeIvrAudioList", {"PageNumber": -1}, "InvalidParameterValue"),
    ("DescribeIvrAudioList", {"FileId": ["1"]}, "InvalidParameter"),
])
def test_bad_ivr_audio_parameters_get_tencents_codes(live, cloud, action, params, expected):
    assert refused(cloud, action, {"SdkAppId": app(live), **params}).code == expected
