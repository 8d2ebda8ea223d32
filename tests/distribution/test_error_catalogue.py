"""One error catalogue (api/errors.py): every domain error has one code and one status on both planes."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest

import cargohold.core.import_source  # defines SourceError
import cargohold.core.usage  # noqa: F401  (defines StorageQuotaExceeded)
from cargohold.api.distribution.errors import registry_error_response
from cargohold.api.errors import STATUS
from cargohold.api.management.errors import _registry_error
from cargohold.core import errors as e


def _every_subclass(cls: type[e.RegistryError]) -> list[type[e.RegistryError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_every_subclass(sub))
    return found


def _instance(cls: type[e.RegistryError]) -> e.RegistryError:
    params = inspect.signature(cls).parameters
    if "size" in params:
        return cls(10)  # type: ignore[call-arg]
    if "retry_after" in params:
        return cls(3)  # type: ignore[call-arg]
    return cls("why")


def test_every_error_of_core_errors_is_catalogued() -> None:
    declared = [v for v in vars(e).values() if isinstance(v, type) and issubclass(v, e.RegistryError)]
    missing = [cls.__name__ for cls in declared if cls not in STATUS]
    assert not missing, f"add these to api/errors.py's table: {missing}"


@pytest.mark.parametrize("cls", _every_subclass(e.RegistryError), ids=lambda c: c.__name__)
def test_both_planes_give_the_same_code_and_status(cls: type[e.RegistryError]) -> None:
    error = _instance(cls)
    v2 = registry_error_response(error)
    api = asyncio.run(_registry_error(None, error))  # type: ignore[arg-type]
    v2_body, api_body = json.loads(bytes(v2.body)), json.loads(bytes(api.body))
    assert (v2.status_code, v2_body["errors"][0]["code"]) == (api.status_code, api_body["errors"][0]["code"])
    assert v2.status_code != 500 and v2_body["errors"][0]["code"] == error.code


def test_too_large_is_413_on_both_planes() -> None:
    error = e.TooLarge("manifest is larger than the limit")
    assert registry_error_response(error).status_code == 413
    assert asyncio.run(_registry_error(None, error)).status_code == 413  # type: ignore[arg-type]
