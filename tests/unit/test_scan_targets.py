"""The targets the verify role hands to scan_readiness (filter scanready.windows.scan_targets)."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.scanready.windows.plugins.filter.scan_targets import FilterModule, scan_targets

HOSTVARS = {
    "web01.corp.example.com": {"ansible_host": "10.0.1.21", "ansible_connection": "winrm"},
    "db01.corp.example.com": {},
    "dc1.corp.example.com": {"ansible_host": "10.0.0.10"},
}


def test_name_is_the_inventory_name_and_address_is_ansible_host() -> None:
    assert scan_targets(["web01.corp.example.com"], HOSTVARS) == [
        {"name": "web01.corp.example.com", "address": "10.0.1.21"}]


def test_a_host_without_ansible_host_is_reached_at_its_name() -> None:
    assert scan_targets(["db01.corp.example.com"], HOSTVARS) == [
        {"name": "db01.corp.example.com", "address": "db01.corp.example.com"}]


def test_a_host_the_inventory_does_not_know_is_reached_at_its_name() -> None:
    assert scan_targets(["new01"], HOSTVARS) == [{"name": "new01", "address": "new01"}]


def test_every_host_in_the_order_given_the_dc_like_any_other() -> None:
    hosts = ["dc1.corp.example.com", "web01.corp.example.com", "db01.corp.example.com"]
    assert [t["name"] for t in scan_targets(hosts, HOSTVARS)] == hosts
    assert scan_targets(hosts, HOSTVARS)[0] == {"name": "dc1.corp.example.com", "address": "10.0.0.10"}


def test_a_host_listed_twice_gives_two_targets_as_the_role_did() -> None:
    """scan_readiness, not the filter, warns about repeats and checks each target once."""
    assert scan_targets(["db01.corp.example.com"] * 2, HOSTVARS) == [
        {"name": "db01.corp.example.com", "address": "db01.corp.example.com"}] * 2


def test_no_hosts_no_targets() -> None:
    assert scan_targets([], HOSTVARS) == []


@pytest.mark.parametrize("hosts", ["web01.corp.example.com", {"web01": {}}, [1], None])
def test_anything_but_a_list_of_host_names_is_refused(hosts: object) -> None:
    with pytest.raises(AnsibleFilterError, match="list of inventory host names"):
        scan_targets(hosts, HOSTVARS)


def test_registered_under_its_documented_name() -> None:
    assert FilterModule().filters() == {"scan_targets": scan_targets}


def test_with_the_domain_controllers_every_target_says_whether_it_is_one() -> None:
    hosts = ["dc1.corp.example.com", "web01.corp.example.com"]
    assert scan_targets(hosts, HOSTVARS, ["DC1.corp.example.com"]) == [
        {"name": "dc1.corp.example.com", "address": "10.0.0.10", "domain_controller": True},
        {"name": "web01.corp.example.com", "address": "10.0.1.21", "domain_controller": False}]


def test_an_empty_list_of_domain_controllers_marks_none() -> None:
    assert scan_targets(["db01.corp.example.com"], HOSTVARS, []) == [
        {"name": "db01.corp.example.com", "address": "db01.corp.example.com", "domain_controller": False}]


@pytest.mark.parametrize("dcs", ["dc1.corp.example.com", [1], {"dc1": {}}])
def test_domain_controllers_must_be_a_list_of_host_names(dcs: object) -> None:
    with pytest.raises(AnsibleFilterError, match="domain_controllers must be a list"):
        scan_targets(["db01.corp.example.com"], HOSTVARS, dcs)
