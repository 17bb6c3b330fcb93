"""The collection-wide helpers: the exception base, the NTSTATUS table, quiet closing, missing libraries."""
from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _ntstatus
from ansible_collections.scanready.windows.plugins.module_utils._compat import (
    ClosingContext,
    close_quietly,
    require_library,
)
from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError, fail_on_error
from ansible_collections.scanready.windows.plugins.module_utils._ldap import DomainError


class Exited(Exception):
    pass


class FakeModule:
    def __init__(self) -> None:
        self.failed: dict[str, Any] = {}

    def fail_json(self, **kwargs: Any) -> None:
        self.failed = kwargs
        raise Exited


def test_every_domain_error_is_a_scanready_error_with_its_message() -> None:
    error = DomainError("bind refused", "bind")
    assert isinstance(error, ScanreadyError)
    assert error.message == str(error) == "bind refused"


def test_fail_on_error_fails_the_module_with_the_message_only() -> None:
    module = FakeModule()
    with pytest.raises(Exited), fail_on_error(module):
        raise DomainError("DC unreachable", "unreachable")
    assert module.failed == {"msg": "DC unreachable"}
    with fail_on_error(module), pytest.raises(ValueError):
        raise ValueError("not ours: a bug shows as one")


def test_status_names_and_refusals() -> None:
    assert _ntstatus.status_name(_ntstatus.STATUS_ACCESS_DENIED) == "STATUS_ACCESS_DENIED"
    assert _ntstatus.status_name(0xC0FFEE00) == "NT status 0xc0ffee00"
    assert _ntstatus.refusal_reason(_ntstatus.STATUS_ACCOUNT_LOCKED_OUT) == "account locked out"
    assert _ntstatus.refusal_reason(0xC000007F) == "STATUS_DISK_FULL"  # no refusal: its name
    assert _ntstatus.CREDENTIAL_STATUSES[_ntstatus.STATUS_PASSWORD_MUST_CHANGE] == "password_expired"
    assert _ntstatus.STATUS_ACCOUNT_RESTRICTION not in _ntstatus.CREDENTIAL_STATUSES


class Breaks:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def unbind(self) -> None:
        self.calls.append("unbind")
        raise OSError("connection reset")


def test_close_quietly_calls_the_named_method_and_swallows_its_failure() -> None:
    resource = Breaks()
    close_quietly(resource, "unbind")
    close_quietly(None)
    assert resource.calls == ["unbind"]


def test_closing_context_closes_on_the_way_out() -> None:
    closed: list[bool] = []

    class Resource(ClosingContext):
        def close(self) -> None:
            closed.append(True)

    with pytest.raises(RuntimeError), Resource():
        raise RuntimeError("inside")
    assert closed == [True]


def test_require_library_reports_the_missing_library_with_its_traceback() -> None:
    module = FakeModule()
    require_library(module, "impacket", None)
    assert module.failed == {}
    with pytest.raises(Exited):
        require_library(module, "impacket", "Traceback ...")
    assert "impacket" in module.failed["msg"] and module.failed["exception"] == "Traceback ..."
