"""lab/lab's pure logic: which join failures are worth another try, and room for 10,000 targets."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import ipaddress
import sys
from types import ModuleType

import pytest

from tests.lab_support import LAB


@pytest.fixture(scope="module")
def lab_script() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("scanready_lab_script", str(LAB))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up while the class is built
    loader.exec_module(module)
    return module


@pytest.mark.parametrize("said", [
    "Failed to join domain: failed to lookup DC info for domain 'LAB1.EXAMPLE.TEST' over rpc: The transport-connection "
    "attempt was refused by the remote system.",
    "Failed to join domain: failed to connect to AD: NT_STATUS_IO_TIMEOUT",
    "failed to lookup DC info: NT_STATUS_NO_LOGON_SERVERS",
])
def test_a_dc_that_is_not_serving_yet_is_retried(lab_script: ModuleType, said: str) -> None:
    assert lab_script.transient_join_failure(said)


def test_a_wrong_password_is_not_retried(lab_script: ModuleType) -> None:
    assert not lab_script.transient_join_failure("Failed to join domain: failed to connect to AD: "
                                                 "Invalid credentials (NT_STATUS_LOGON_FAILURE)")


def test_ten_thousand_targets_have_distinct_addresses_in_the_instances_network(lab_script: ModuleType) -> None:
    lab = lab_script.Lab("t", 3)
    addresses = [ipaddress.IPv4Address(lab.target_addr(i)) for i in range(12000)]
    assert len(set(addresses)) == len(addresses)
    assert all(a in lab.net and a not in (lab.net.network_address, lab.net.broadcast_address) for a in addresses)
    assert str(lab.dc_addr) not in {str(a) for a in addresses} and lab.host_addr not in {str(a) for a in addresses}
