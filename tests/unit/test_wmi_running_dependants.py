"""Which services the Winmgmt restart starts again (filter scanready.windows.wmi_running_dependants)."""
from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.scanready.windows.plugins.filter.wmi_running_dependants import (
    FilterModule,
    running_dependants,
)


def service(name: str, state: str = "started", dependencies: list[str] | None = None,
            dependency_of: list[str] | None = None) -> dict[str, Any]:
    """One entry of ansible.windows.win_service_info's services list (the fields the filter reads)."""
    return {"name": name, "state": state, "dependencies": dependencies or [], "dependency_of": dependency_of or [],
            "start_mode": "auto", "path": r"C:\Windows\system32\svchost.exe -k netsvcs -p"}


def host(*services: dict[str, Any]) -> dict[str, Any]:
    return {"changed": False, "exists": True, "services": list(services)}


# Shaped like a Windows Server host: IP Helper depends on Winmgmt, the Network Connectivity Assistant on
# IP Helper (so it stops with Winmgmt too), a stopped dependant, and services unrelated to WMI.
SERVER = host(
    service("RpcSs"),
    service("Winmgmt", dependencies=["RPCSS"], dependency_of=["NcaSvc", "iphlpsvc", "SharedAccess"]),
    service("iphlpsvc", dependencies=["RasMan", "nsi", "winmgmt", "tcpip"]),
    service("NcaSvc", dependencies=["BFE", "dnscache", "NSI", "iphlpsvc", "WinHttpAutoProxySvc"]),
    service("SharedAccess", state="stopped", dependencies=["Netman", "WinMgmt"]),
    service("nsi"),
    service("LanmanServer", dependencies=["SamSS", "Srv2"]),
)


def test_running_dependants_direct_and_indirect_dependencies_first() -> None:
    assert running_dependants(SERVER) == ["iphlpsvc", "NcaSvc"]


def test_stopped_dependants_are_left_stopped() -> None:
    assert "SharedAccess" not in running_dependants(SERVER)


@pytest.mark.parametrize("state", ["start_pending", "continue_pending"])
def test_services_on_their_way_up_count_as_running(state: str) -> None:
    data = host(service("Winmgmt"), service("iphlpsvc", state=state, dependencies=["Winmgmt"]))
    assert running_dependants(data) == ["iphlpsvc"]


@pytest.mark.parametrize("state", ["stopped", "stop_pending", "paused", "pause_pending"])
def test_services_not_running_are_not_started(state: str) -> None:
    data = host(service("Winmgmt"), service("iphlpsvc", state=state, dependencies=["Winmgmt"]))
    assert running_dependants(data) == []


def test_dependants_named_only_by_the_hosts_own_list_count() -> None:
    # EnumDependentServices (dependency_of) may name a service whose dependencies were not readable
    data = host(service("Winmgmt", dependency_of=["vmwTools"]), service("vmwTools"))
    assert running_dependants(data) == ["vmwTools"]


def test_names_from_dependency_of_without_a_service_entry_are_ignored() -> None:
    # win_service_info skips (with a warning) services it may not open: their state is unknown
    data = host(service("Winmgmt", dependency_of=["Hidden"]))
    assert running_dependants(data) == []


def test_load_order_groups_are_not_services() -> None:
    data = host(service("Winmgmt"), service("+Winmgmt"), service("a", dependencies=["+Winmgmt"]))
    assert running_dependants(data) == []


def test_order_is_by_dependency_then_name() -> None:
    data = host(
        service("Winmgmt"),
        service("zeta", dependencies=["Winmgmt"]),
        service("alpha", dependencies=["zeta", "beta"]),
        service("beta", dependencies=["Winmgmt"]),
        service("Gamma", dependencies=["winmgmt"]),
    )
    assert running_dependants(data) == ["beta", "Gamma", "zeta", "alpha"]


def test_a_dependency_cycle_still_ends() -> None:
    data = host(service("Winmgmt"), service("a", dependencies=["Winmgmt", "b"]), service("b", dependencies=["a"]))
    assert running_dependants(data) == ["a", "b"]


def test_root_is_never_its_own_dependant() -> None:
    data = host(service("Winmgmt", dependencies=["x"]), service("x", dependencies=["Winmgmt"]))
    assert running_dependants(data) == ["x"]


def test_none_running_gives_an_empty_list() -> None:
    assert running_dependants(host(service("Winmgmt"), service("RpcSs"))) == []


def test_the_services_list_alone_is_accepted() -> None:
    assert running_dependants(SERVER["services"]) == ["iphlpsvc", "NcaSvc"]


def test_another_root_can_be_asked_for() -> None:
    assert running_dependants(SERVER, root="iphlpsvc") == ["NcaSvc"]


def test_missing_fields_are_tolerated() -> None:
    data = host({"name": "Winmgmt"}, {"name": "x", "state": "started", "dependencies": None})
    assert running_dependants(data) == []


@pytest.mark.parametrize("bad", [None, "Winmgmt", {"services": "x"}, [{"state": "started"}], {"exists": True}])
def test_input_that_is_not_service_info_is_refused(bad: Any) -> None:
    with pytest.raises(AnsibleFilterError, match=r"ansible\.windows\.win_service_info"):
        running_dependants(bad)


def test_filter_is_published_under_its_file_name() -> None:
    assert FilterModule().filters() == {"wmi_running_dependants": running_dependants}
