"""The cloud API's request and answer shapes: Tencent's error codes, and a request's parameters read with the
types of the client's models (`tencentcloud.ccc.v20200210.models`), each bad one answered with the code
Tencent's own server gives it. Pure: no Django.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Tencent's codes (its common errors and the ccc service's), which the client raises as
# TencentCloudSDKException(code, message, requestId).
SIGNATURE_FAILURE = "AuthFailure.SignatureFailure"
SECRET_ID_NOT_FOUND = "AuthFailure.SecretIdNotFound"
SIGNATURE_EXPIRE = "AuthFailure.SignatureExpire"
INVALID_AUTHORIZATION = "AuthFailure.InvalidAuthorization"
MISSING_PARAMETER = "MissingParameter"
INVALID_PARAMETER = "InvalidParameter"
INVALID_PARAMETER_VALUE = "InvalidParameterValue"
RESOURCE_NOT_FOUND = "ResourceNotFound"
UNAUTHORIZED_OPERATION = "UnauthorizedOperation"
UNSUPPORTED_OPERATION = "UnsupportedOperation"
FAILED_OPERATION = "FailedOperation"
LIMIT_EXCEEDED = "LimitExceeded"
INTERNAL_ERROR = "InternalError"
NO_SUCH_VERSION = "NoSuchVersion"
UNSUPPORTED_PROTOCOL = "UnsupportedProtocol"
LARGEST_INT = 2**63 - 1


class CloudError(Exception):
    """A request refused with Tencent's `code`; `message` says what to fix."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def missing(name: str) -> CloudError:
    return CloudError(MISSING_PARAMETER, f"The request is missing the required parameter `{name}`.")


def invalid(name: str, expected: str) -> CloudError:
    return CloudError(INVALID_PARAMETER, f"The parameter `{name}` must be {expected}.")


def invalid_value(name: str, why: str) -> CloudError:
    return CloudError(INVALID_PARAMETER_VALUE, f"The value of `{name}` {why}.")


_ABSENT = object()


@dataclass(frozen=True)
class Params:
    """A request's parameters (its JSON object), read by name and type. Each reader raises the CloudError the
    client would get from Tencent: a missing required parameter is MissingParameter, a value of the wrong JSON
    type InvalidParameter, a value of the right type out of range InvalidParameterValue. `name` in messages is
    the path as sent (`StaffList.0.Email`)."""

    values: Mapping
    prefix: str = ""

    def _get(self, name: str, required: bool):
        value = self.values.get(name, _ABSENT)
        if value is None:
            value = _ABSENT  # the client sends unset fields as absent; null is taken as absent too
        if value is _ABSENT and required:
            raise missing(self.prefix + name)
        return value

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def integer(self, name: str, default: int | None = None, *, required: bool = False, minimum: int | None = None,
                maximum: int | None = None) -> int | None:
        value = self._get(name, required)
        if value is _ABSENT:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(self.prefix + name, "an integer")
        if not -LARGEST_INT <= value <= LARGEST_INT:
            raise invalid_value(self.prefix + name, "is out of range")
        if minimum is not None and value < minimum:
            raise invalid_value(self.prefix + name, f"must be at least {minimum}")
        if maximum is not None and value > maximum:
            raise invalid_value(self.prefix + name, f"must be at most {maximum}")
        return value

    def string(self, name: str, default: str | None = None, *, required: bool = False, max_length: int = 1024,
               choices: tuple[str, ...] | None = None) -> str | None:
        value = self._get(name, required)
        if value is _ABSENT:
            return default
        if not isinstance(value, str):
            raise invalid(self.prefix + name, "a string")
        if required and not value.strip():
            raise missing(self.prefix + name)
        if len(value) > max_length:
            raise invalid_value(self.prefix + name, f"is longer than {max_length} characters")
        if "\x00" in value:
            raise invalid_value(self.prefix + name, "contains a NUL character")
        if choices is not None and value not in choices:
            raise invalid_value(self.prefix + name, f"must be one of {', '.join(choices)}")
        return value

    def boolean(self, name: str, default: bool | None = None, *, required: bool = False) -> bool | None:
        value = self._get(name, required)
        if value is _ABSENT:
            return default
        if not isinstance(value, bool):
            raise invalid(self.prefix + name, "a boolean")
        return value

    def float(self, name: str, default: float | None = None, *, required: bool = False) -> float | None:
        value = self._get(name, required)
        if value is _ABSENT:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid(self.prefix + name, "a number")
        return float(value)

    def _list(self, name: str, required: bool, max_items: int) -> list | None:
        value = self._get(name, required)
        if value is _ABSENT:
            return None
        if not isinstance(value, list):
            raise invalid(self.prefix + name, "an array")
        if len(value) > max_items:
            raise invalid_value(self.prefix + name, f"has more than {max_items} items")
        return value

    def integers(self, name: str, *, required: bool = False, max_items: int = 100) -> list[int] | None:
        items = self._list(name, required, max_items)
        if items is None:
            return None
        item_reader = Params({str(n): item for n, item in enumerate(items)}, f"{self.prefix}{name}.")
        return [item_reader.integer(str(n), required=True) for n in range(len(items))]

    def strings(self, name: str, *, required: bool = False, max_items: int = 100,
                max_length: int = 1024) -> list[str] | None:
        items = self._list(name, required, max_items)
        if items is None:
            return None
        item_reader = Params({str(n): item for n, item in enumerate(items)}, f"{self.prefix}{name}.")
        return [item_reader.string(str(n), required=True, max_length=max_length) for n in range(len(items))]

    def objects(self, name: str, *, required: bool = False, max_items: int = 100) -> list[Params] | None:
        """An array of objects, each read with its own Params (messages name `Name.<n>.<Field>`)."""
        items = self._list(name, required, max_items)
        if items is None:
            return None
        readers = []
        for n, item in enumerate(items):
            if not isinstance(item, dict):
                raise invalid(f"{self.prefix}{name}.{n}", "an object")
            readers.append(Params(item, f"{self.prefix}{name}.{n}."))
        return readers

    def object(self, name: str, *, required: bool = False) -> Params | None:
        value = self._get(name, required)
        if value is _ABSENT:
            return None
        if not isinstance(value, dict):
            raise invalid(self.prefix + name, "an object")
        return Params(value, f"{self.prefix}{name}.")


def error_body(code: str, message: str, request_id: str) -> dict:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}


def answer_body(fields: dict, request_id: str) -> dict:
    return {"Response": {**fields, "RequestId": request_id}}
