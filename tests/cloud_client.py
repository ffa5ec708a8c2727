"""Tencent's own client (`tencentcloud-sdk-python-ccc`) pointed at a live daphne, and a check that an answer has
exactly the fields and types of the client's response model (`tencentcloud.ccc.v20200210.models`, the contract
of the cloud API: sessions_app/cloud/)."""
from __future__ import annotations

import json
import re

from tencentcloud.ccc.v20200210 import ccc_client, models
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from testing.cloud_client import client
from testing.liveserver import LiveServer

__all__ = ["TencentCloudSDKException", "app", "call", "client", "cloud_server", "matches_model", "refused"]

_TYPE = re.compile(r":type (\w+): (.+)")
_SCALARS = {"int": int, "str": str, "bool": bool, "float": (int, float)}


def cloud_server(**env: str) -> LiveServer:
    """A live server for a module's cloud API tests: its request rate per key high, as tests send bursts."""
    return LiveServer(env={"CLOUD_API_RATE": "1000", **env})


def app(live) -> int:
    """The demo tenant's SdkAppId, as the client's models type it."""
    return int(live.demo["SdkAppId"])


def call(cloud: ccc_client.CccClient, action: str, params: dict) -> dict:
    """`action` through the client's own method and models; the answer as the JSON the client read, checked
    against its response model."""
    request = getattr(models, f"{action}Request")()
    request.from_json_string(json.dumps(params))
    answer = json.loads(getattr(cloud, action)(request).to_json_string())
    problems = matches_model(answer, f"{action}Response")
    assert not problems, problems
    return answer


def refused(cloud: ccc_client.CccClient, action: str, params: dict) -> TencentCloudSDKException:
    """The exception the client raised for `action` (the test fails if it raised none)."""
    try:
        call(cloud, action, params)
    except TencentCloudSDKException as error:
        assert error.requestId, "every error carries a RequestId"
        return error
    raise AssertionError(f"{action} {params} was not refused")


def fields(model: str) -> dict[str, str]:
    """A model's fields and their types, as its docstring declares them."""
    return dict(_TYPE.findall(getattr(models, model).__init__.__doc__ or ""))


def matches_model(value: dict, model: str, path: str = "") -> list[str]:
    """What in `value` differs from `model`: fields missing or extra, values of another type (null is allowed:
    the client's own empty value for a field with nothing in it)."""
    declared = fields(model)
    problems = [f"{path}{name}: missing" for name in declared if name not in value]
    problems += [f"{path}{name}: not in {model}" for name in value if name not in declared]
    for name, kind in declared.items():
        if value.get(name) is not None:
            problems += _type_problems(value[name], kind, f"{path}{name}")
    return problems


def _type_problems(value, kind: str, path: str) -> list[str]:
    kind = kind.strip()
    if kind.startswith("list of "):
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        item = kind[len("list of "):].split(" ")[0]
        return [problem for n, each in enumerate(value) for problem in _type_problems(each, item, f"{path}.{n}")]
    nested = re.fullmatch(r":class:`tencentcloud\.ccc\.v20200210\.models\.(\w+)`", kind)
    name = nested.group(1) if nested else kind
    if name in _SCALARS:
        expected = _SCALARS[name]
        wrong = not isinstance(value, expected) or (name in ("int", "float") and isinstance(value, bool))
        return [f"{path}: {value!r} is not {name}"] if wrong else []
    if hasattr(models, name):
        return [f"{path}: {value!r} is not an object"] if not isinstance(value, dict) else \
            matches_model(value, name, f"{path}.")
    return [f"{path}: unknown type {kind!r}"]
