"""The cloud API's actions by name, and how one is run: the request's SdkAppId checked against the key's tenant,
the action's handler called in one transaction, the services' refusals turned into Tencent's codes.

An action is a function of a `Call` returning the response's fields (without RequestId), registered with
`@action("Name")` in the module of its kind (tokens, staff, skill_groups, records, figures, control); each
module reads its parameters with `protocol.Params` and answers every field of the client's response model,
with Tencent's empty value for what we have no data for.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from ..models import CloudKey, Tenant
from ..services.errors import LimitReached, NotFound, ServiceError
from .protocol import (FAILED_OPERATION, LIMIT_EXCEEDED, MISSING_PARAMETER, RESOURCE_NOT_FOUND, UNAUTHORIZED_OPERATION,
                       UNSUPPORTED_OPERATION, CloudError, Params)


@dataclass(frozen=True)
class Call:
    tenant: Tenant
    key: CloudKey
    params: Params
    base_url: str  # the request's scheme and host: links answered (SdkURL, CreateAdminURL's URL) point back here


Handler = Callable[[Call], dict]
ACTIONS: dict[str, Handler] = {}
APP_ID_LISTS: set[str] = set()  # actions naming their applications in SdkAppIdList instead of SdkAppId


def action(name: str, *, app_id_list: bool = False) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        if name in ACTIONS:
            raise ValueError(f"{name} is registered twice")
        ACTIONS[name] = handler
        if app_id_list:
            APP_ID_LISTS.add(name)
        return handler
    return register


def run(name: str, call: Call) -> dict:
    handler = ACTIONS.get(name)
    if handler is None:
        raise CloudError(UNSUPPORTED_OPERATION, f"The action {name} is not supported by this server.")
    if name in APP_ID_LISTS:
        sdk_app_ids = call.params.integers("SdkAppIdList", required=True)
        if not sdk_app_ids:
            raise CloudError(MISSING_PARAMETER, "The request is missing the required parameter `SdkAppIdList`.")
    else:
        sdk_app_ids = [call.params.integer("SdkAppId", required=True)]
    for sdk_app_id in sdk_app_ids:
        if str(sdk_app_id) != call.tenant.sdk_app_id:
            raise CloudError(UNAUTHORIZED_OPERATION,
                             f"This SecretId may not act on SdkAppId {sdk_app_id}: it belongs to another application.")
    try:
        with transaction.atomic():
            return handler(call)
    except NotFound as missing:
        raise CloudError(RESOURCE_NOT_FOUND, str(missing)) from None
    except LimitReached as limited:
        raise CloudError(LIMIT_EXCEEDED, str(limited)) from None
    except ServiceError as refused:
        raise CloudError(FAILED_OPERATION, str(refused)) from None
