"""share_access against the lab: the source article's `net use \\\\host\\C$` for one target, as a per-host task."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_scan_readiness import SCANNER_PASSWORD, Scanner, member_target, scanner_account
from tests.lab_support import run_module

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def scanner() -> Iterator[Scanner]:
    yield from scanner_account()


def share_args(scanner: Scanner, expected: str, **extra: Any) -> dict[str, Any]:
    target = member_target(scanner.lab) if expected == "ready" else scanner.lab.by_class(expected)[0]
    return scanner.args(target=target.address, name=target.name, **extra)


def test_a_ready_target_opens_every_share_and_check_mode_is_the_same(scanner: Scanner) -> None:
    for check in (True, False):
        run = run_module("share_access", share_args(scanner, "ready"), check=check)
        assert not run.failed and not run.changed, run.output
        assert run.result["accessible"] is True
        assert run.result["auth_scheme"] == "kerberos-aes"
        assert set(run.result["checks"]) == {"logon", "smb_signing", "share:C$", "share:ADMIN$", "share:IPC$"}
        assert run.result["checks"]["smb_signing"]["required"] is False  # advisory
        assert "listed its root" in run.result["checks"]["share:C$"]["detail"]


def test_a_denied_share_fails_with_its_fix(scanner: Scanner) -> None:
    run = run_module("share_access", share_args(scanner, "share_denied"))
    assert run.failed
    assert run.result["accessible"] is False
    assert run.result["checks"]["share:C$"]["class"] == "access_denied"
    assert run.result["checks"]["share:ADMIN$"]["ok"] is True
    assert "share:C$: access_denied" in run.result["msg"]
    assert "local administrator" in run.result["msg"]


def test_a_filtered_target_is_unreachable_within_the_connect_timeout(scanner: Scanner) -> None:
    run = run_module("share_access", share_args(scanner, "firewall_blocked", connect_timeout=2))
    assert run.failed
    assert run.result["checks"]["logon"]["class"] == "unreachable"
    assert run.result["duration_s"] < 5
    assert "TCP 445" in run.result["msg"]


def test_only_the_shares_asked_for(scanner: Scanner) -> None:
    run = run_module("share_access", share_args(scanner, "share_denied", shares=["ADMIN$", "IPC$"]))
    assert not run.failed, run.output
    assert set(run.result["checks"]) == {"logon", "smb_signing", "share:ADMIN$", "share:IPC$"}


@pytest.mark.parametrize(("extra", "message"), [
    ({"shares": []}, "shares is empty"),
    ({"target": " "}, "target must not be empty"),
    ({"connect_timeout": 0}, "connect_timeout must be between 1 and 3600 seconds, not 0"),
])
def test_bad_input_fails_with_one_message(scanner: Scanner, extra: dict[str, Any], message: str) -> None:
    run = run_module("share_access", {**share_args(scanner, "ready"), **extra})
    assert run.failed
    assert message in run.result["msg"]
    assert "checks" not in run.result, "nothing was attempted"


def test_no_secret_at_any_verbosity(scanner: Scanner) -> None:
    run = run_module("share_access", share_args(scanner, "share_denied"), verbosity=4)
    assert run.failed
    assert SCANNER_PASSWORD not in run.output
