"""registry_access against the lab: the source article's `reg query \\\\host\\HKLM\\Software` for one target."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_scan_readiness import (
    SCANNER_PASSWORD,
    Scanner,
    member_target,
    scanner_account,
    winreg_pipe_opens,
)
from tests.lab_support import run_module

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def scanner() -> Iterator[Scanner]:
    yield from scanner_account()


def registry_args(scanner: Scanner, expected: str, **extra: Any) -> dict[str, Any]:
    target = member_target(scanner.lab) if expected == "ready" else scanner.lab.by_class(expected)[0]
    return scanner.args(target=target.address, name=target.name, **extra)


def test_a_ready_target_reads_hklm_software_and_check_mode_is_the_same(scanner: Scanner) -> None:
    for check in (True, False):
        run = run_module("registry_access", registry_args(scanner, "ready"), check=check)
        assert not run.failed and not run.changed, run.output
        assert run.result["readable"] is True
        assert run.result["auth_scheme"] == "kerberos-aes"
        found = run.result["checks"]["registry:HKLM\\Software"]
        assert found["detail"] == "opened HKLM\\Software for reading (KEY_READ)"


def test_remote_registry_stopped_fails_with_its_fix_and_stays_stopped(scanner: Scanner) -> None:
    target = scanner.lab.by_class("registry_off")[0]
    assert not winreg_pipe_opens(scanner.lab, target.address)
    run = run_module("registry_access", registry_args(scanner, "registry_off"))
    assert run.failed
    assert run.result["readable"] is False
    found = run.result["checks"]["registry:HKLM\\Software"]
    assert found["class"] == "registry_unavailable"
    assert "set it to Automatic" in found["fix"]
    assert "registry_unavailable" in run.result["msg"]
    assert not winreg_pipe_opens(scanner.lab, target.address), "the verifier must not start Remote Registry"


def test_a_missing_key_is_an_error_naming_the_key(scanner: Scanner) -> None:
    keys = ["HKLM\\Software", "HKLM\\Software\\NoSuchKeyOfScanready"]
    run = run_module("registry_access", registry_args(scanner, "ready", keys=keys))
    assert run.failed
    assert run.result["checks"]["registry:HKLM\\Software"]["ok"] is True
    missing = run.result["checks"]["registry:HKLM\\Software\\NoSuchKeyOfScanready"]
    assert (missing["ok"], missing["class"]) == (False, "error")
    assert "no such key" in missing["detail"]


@pytest.mark.parametrize(("extra", "message"), [
    ({"keys": ["HKCU\\Software"]}, "must start with HKLM"),
    ({"keys": []}, "keys is empty"),
    ({"target_timeout": 0}, "target_timeout must be between 1 and 3600 seconds, not 0"),
])
def test_bad_input_fails_with_one_message(scanner: Scanner, extra: dict[str, Any], message: str) -> None:
    run = run_module("registry_access", {**registry_args(scanner, "ready"), **extra})
    assert run.failed
    assert message in run.result["msg"]
    assert "checks" not in run.result


def test_no_secret_at_any_verbosity(scanner: Scanner) -> None:
    run = run_module("registry_access", registry_args(scanner, "registry_off"), verbosity=4)
    assert SCANNER_PASSWORD not in run.output
