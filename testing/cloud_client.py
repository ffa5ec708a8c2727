"""Tencent's own client of its cloud API (`tencentcloud-sdk-python-ccc`) pointed at a live server: what tests and
benchmarks call the cloud API (sessions_app/cloud/) with."""
from __future__ import annotations

from tencentcloud.ccc.v20200210 import ccc_client
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile


def client(live, secret_id: str | None = None, secret_key: str | None = None) -> ccc_client.CccClient:
    """A client of `live`'s cloud API, signing with the demo key pair unless given another."""
    profile = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=f"127.0.0.1:{live.port}", reqTimeout=30))
    return ccc_client.CccClient(credential.Credential(secret_id or live.demo["secretId"],
                                                      secret_key or live.demo["secretKey"]), "ap-guangzhou", profile)
