"""The decision the wmi_privacy role takes from what the host reports (filter scanready.windows.wmi_plan)."""
from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.scanready.windows.plugins.filter.wmi_plan import FilterModule, plan, svchost_group

SHARED = r"C:\Windows\system32\svchost.exe -k netsvcs -p"
STANDALONE = r"C:\Windows\system32\svchost.exe -k winmgmt"


def winmgmt(path: str, name: str = "Winmgmt") -> dict[str, Any]:
    """What ansible.windows.win_service_info registers for name=Winmgmt (the fields the filter reads)."""
    return {"changed": False, "exists": True,
            "services": [{"name": name, "path": path, "state": "started", "start_mode": "auto"}]}


def level(value: Any = None) -> dict[str, Any]:
    """What ansible.windows.win_reg_stat registers for a value: absent, or a REG_DWORD."""
    if value is None:
        return {"changed": False, "exists": False}
    return {"changed": False, "exists": True, "type": "REG_DWORD", "value": value, "raw_value": value}


@pytest.mark.parametrize(("path", "group"), [
    (SHARED, "netsvcs"),
    (STANDALONE, "winmgmt"),
    (r"%systemroot%\system32\svchost.exe -k Winmgmt", "Winmgmt"),
    (r'"C:\Windows\System32\svchost.exe" -k winmgmt -p', "winmgmt"),
    (r'"C:\Windows\System32\svchost.exe"-k netsvcs', "netsvcs"),
    (r"C:\WINDOWS\system32\svchost.exe /k winmgmt", "winmgmt"),
    (r"C:\Windows\system32\svchost.exe -k LocalSystemNetworkRestricted -p -s Winmgmt", "LocalSystemNetworkRestricted"),
    (r"C:\Windows\system32\wbem\winmgmt.exe", None),
    (r"C:\kits\svchost.exe", None),
    ("", None),
])
def test_svchost_group_is_read_from_the_image_path(path: str, group: str | None) -> None:
    assert svchost_group(path) == group


def test_shared_host_needs_standalonehost_6() -> None:
    result = plan(winmgmt(SHARED), level())
    assert result["argv"] == ["winmgmt", "/standalonehost", "6"]
    assert result["command"] == "winmgmt /standalonehost 6"
    assert result["standalone"] is False
    assert result["svchost_group"] == "netsvcs"
    assert "'netsvcs'" in result["summary"] and "restart of Winmgmt" in result["summary"]


def test_own_svchost_at_packet_privacy_needs_nothing() -> None:
    result = plan(winmgmt(STANDALONE), level(6))
    assert result["argv"] == [] and result["command"] == ""
    assert result["standalone"] is True and result["level"] == 6
    assert result["summary"] == "WMI already runs in its own svchost at authentication level 6"


def test_own_svchost_case_and_quotes_do_not_matter() -> None:
    assert plan(winmgmt(r'"C:\Windows\System32\svchost.exe" -k WinMgmt', name="winmgmt"), level(6))["argv"] == []


def test_own_svchost_at_a_lower_level_runs_again() -> None:
    # `winmgmt /standalonehost` without a level gives 4 (RPC_C_AUTHN_LEVEL_PKT)
    result = plan(winmgmt(STANDALONE), level(4))
    assert result["argv"] == ["winmgmt", "/standalonehost", "6"]
    assert "level 4, not 6" in result["summary"]


def test_own_svchost_without_a_stored_level_counts_as_done() -> None:
    # Where the level is stored is unverified (docs/windows-host-testing.md); the own svchost is the signal
    result = plan(winmgmt(STANDALONE), level())
    assert result["argv"] == [] and result["level"] is None
    where = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Svchost\winmgmt\AuthenticationLevel"
    assert f"no level is stored at {where}" in result["summary"]


@pytest.mark.parametrize(("raw", "expected"), [(6, 6), ("6", 6), (" 4 ", 4), ("high", None), (True, None), ([6], None)])
def test_level_value_is_read_only_when_it_is_a_number(raw: Any, expected: int | None) -> None:
    assert plan(winmgmt(STANDALONE), level(raw))["level"] == expected


def test_image_path_naming_no_group_is_treated_as_not_standalone() -> None:
    result = plan(winmgmt(r"C:\Windows\system32\wbem\winmgmt.exe"), level())
    assert result["argv"] == ["winmgmt", "/standalonehost", "6"]
    assert "naming no svchost group" in result["summary"]
    assert plan(winmgmt(r"C:\Windows\system32\wbem\winmgmt.exe"), level(), revert=True)["argv"] == []


def test_revert_from_own_svchost_runs_sharedhost() -> None:
    result = plan(winmgmt(STANDALONE), level(6), revert=True)
    assert result["argv"] == ["winmgmt", "/sharedhost"]
    assert "rollback needs `winmgmt /sharedhost`" in result["summary"]


def test_revert_on_a_shared_host_needs_nothing() -> None:
    result = plan(winmgmt(SHARED), level(), revert=True)
    assert result["argv"] == []
    assert result["summary"] == "WMI runs in the svchost group 'netsvcs', not its own; nothing to roll back"


@pytest.mark.parametrize("revert", ["true", "yes", 1])
def test_revert_from_extra_vars_strings_counts_as_true(revert: Any) -> None:
    assert plan(winmgmt(STANDALONE), level(), revert=revert)["argv"] == ["winmgmt", "/sharedhost"]


@pytest.mark.parametrize("revert", ["false", "no", 0])
def test_revert_false_from_extra_vars_strings_counts_as_false(revert: Any) -> None:
    assert plan(winmgmt(SHARED), level(), revert=revert)["argv"] == ["winmgmt", "/standalonehost", "6"]


@pytest.mark.parametrize(("revert", "level_asked"), [("maybe", 6), (False, "high")])
def test_revert_and_level_of_the_wrong_type_are_refused(revert: Any, level_asked: Any) -> None:
    with pytest.raises(AnsibleFilterError, match="revert must be a boolean and level a number"):
        plan(winmgmt(SHARED), level(), revert=revert, level=level_asked)


def test_other_level_can_be_asked_for() -> None:
    assert plan(winmgmt(STANDALONE), level(6), level=5)["argv"] == ["winmgmt", "/standalonehost", "5"]


def test_missing_service_is_one_clear_error() -> None:
    with pytest.raises(AnsibleFilterError, match="the Winmgmt service does not exist on this host"):
        plan({"exists": False, "services": []}, level())


@pytest.mark.parametrize("bad", [None, "Winmgmt", [], {"exists": True}])
def test_input_that_is_not_a_service_info_result_is_refused(bad: Any) -> None:
    with pytest.raises(AnsibleFilterError, match=r"registered result of ansible\.windows\.win_service_info"):
        plan(bad, level())


def test_level_input_that_is_not_a_reg_stat_result_is_refused() -> None:
    with pytest.raises(AnsibleFilterError, match=r"ansible\.windows\.win_reg_stat"):
        plan(winmgmt(SHARED), "6")


def test_filter_is_published_under_its_file_name() -> None:
    assert FilterModule().filters() == {"wmi_plan": plan}
