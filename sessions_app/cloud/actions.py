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
OWN_TRANSACTIONS: set[str] = set()
SLOW: set[str] = set()
APP_ID_LISTS: set[str] = set()  # actions naming their applications in SdkAppIdList instead of SdkAppId


def action(name: str, *, own_transactions: bool = False, slow: bool = False,
           app_id_list: bool = False) -> Callable[[Handler], Handler]:
    """Register `name`. `own_transactions`: the handler calls services that run their own transactions and must
    not run inside the call's (supervision's audited actions keep a refusal's audit entry after their rollback,
    which a rollback of an enclosing transaction would lose). `slow`: it waits on other servers (fetching a URL),
    so it must not run on the process's one database thread, where every websocket's work would wait behind it
    (views/cloud_api.py). `app_id_list`: it names its applications in `SdkAppIdList`, not `SdkAppId`."""
    def register(handler: Handler) -> Handler:
        if name in ACTIONS:
            raise ValueError(f"{name} is registered twice")
        ACTIONS[name] = handler
        if own_transactions:
            OWN_TRANSACTIONS.add(name)
        if slow:
            SLOW.add(name)
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
        if name in OWN_TRANSACTIONS:
            return handler(call)
        with transaction.atomic():
            return handler(call)
    except NotFound as missing:
        raise CloudError(RESOURCE_NOT_FOUND, str(missing)) from None
    except LimitReached as limited:
        raise CloudError(LIMIT_EXCEEDED, str(limited)) from None
    except ServiceError as refused:
        raise CloudError(FAILED_OPERATION, str(refused)) from None
