"""The decision the wmi_privacy role takes from what the host reports (filter scanready.windows.wmi_plan)."""
from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.scanready.windows.plugins.filter.wmi_plan import FilterModule, plan, svchost_group

SHARED = r"C:\Windows\system32\svchost.exe -k netsvcs -p"
STANDALONE = r"C:\Windows\system32\svchost.exe -k winmgmt"


def winmgmt(path: str, name: str = "Winmgmt", state: str = "started", pid: int = 1234) -> dict[str, Any]:
    """What ansible.windows.win_service_info registers for name=Winmgmt (the fields the filter reads)."""
    return {"changed": False, "exists": True, "services": [
        {"name": name, "path": path, "state": state, "start_mode": "auto", "process_id": pid}]}


def record(value: str | None) -> dict[str, Any]:
    """What ansible.windows.win_reg_stat registers for HKLM:\\SOFTWARE\\scanready\\windows WmiPriorHostMode."""
    if value is None:
        return {"changed": False, "exists": False}
    return {"changed": False, "exists": True, "type": "REG_SZ", "value": value, "raw_value": value}


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
    assert result["restart"] is True and result["record"] == "shared"  # recorded before the command runs


def test_own_svchost_at_packet_privacy_needs_nothing() -> None:
    result = plan(winmgmt(STANDALONE), level(6), running=STANDALONE)
    assert result["argv"] == [] and result["command"] == "" and result["restart"] is False
    assert result["standalone"] is True and result["level"] == 6 and result["record"] is None
    assert (result["configured_mode"], result["running_mode"]) == ("standalone", "standalone")
    assert result["process_id"] == 1234
    assert result["summary"] == ("WMI is configured to run in its own svchost at authentication level 6; "
                                 "runs standalone (process 1234, svchost group 'winmgmt')")


def test_own_svchost_case_and_quotes_do_not_matter() -> None:
    assert plan(winmgmt(r'"C:\Windows\System32\svchost.exe" -k WinMgmt', name="winmgmt"), level(6))["argv"] == []


def test_own_svchost_at_a_lower_level_runs_again() -> None:
    # `winmgmt /standalonehost` without a level gives 4 (RPC_C_AUTHN_LEVEL_PKT)
    result = plan(winmgmt(STANDALONE), level(4))
    assert result["argv"] == ["winmgmt", "/standalonehost", "6"]
    assert "level 4, not 6" in result["summary"]
    assert result["record"] == "standalone"  # what it was: the rollback leaves such a host in its own svchost


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


def test_revert_of_a_host_this_collection_moved_runs_sharedhost() -> None:
    result = plan(winmgmt(STANDALONE), level(6), revert=True, running=STANDALONE, prior=record("shared"))
    assert result["argv"] == ["winmgmt", "/sharedhost"] and result["restart"] is True
    assert result["forget"] is True and result["left_alone"] is False
    assert "rollback needs `winmgmt /sharedhost`" in result["summary"]


def test_revert_on_a_shared_host_needs_nothing() -> None:
    result = plan(winmgmt(SHARED), level(), revert=True, running=SHARED)
    assert result["argv"] == [] and result["restart"] is False
    assert result["summary"] == ("WMI left alone by the rollback (no record says this collection moved it; "
                                 "configured for the svchost group 'netsvcs', runs shared (process 1234, svchost "
                                 "group 'netsvcs'))")


@pytest.mark.parametrize("revert", ["true", "yes", 1])
def test_revert_from_extra_vars_strings_counts_as_true(revert: Any) -> None:
    result = plan(winmgmt(STANDALONE), level(), revert=revert, prior=record("shared"))
    assert result["argv"] == ["winmgmt", "/sharedhost"]


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


# --- running mode, read from the command line of the process hosting Winmgmt -----------------------------------

@pytest.mark.parametrize(("service", "running", "mode", "group"), [
    (winmgmt(STANDALONE), r"C:\Windows\system32\svchost.exe -k winmgmt -p", "standalone", "winmgmt"),
    (winmgmt(STANDALONE), r"C:\Windows\system32\svchost.exe -k netsvcs -p -s Winmgmt", "shared", "netsvcs"),
    (winmgmt(STANDALONE, state="stopped", pid=0), "", "stopped", None),
    (winmgmt(STANDALONE), "", "unknown", None),      # the command line could not be read
    (winmgmt(STANDALONE), None, "unknown", None),    # not read at all
    (winmgmt(STANDALONE, pid=0), SHARED, "unknown", None),  # no process to have read it from
])
def test_running_mode(service: dict[str, Any], running: str | None, mode: str, group: str | None) -> None:
    result = plan(service, level(6), running=running)
    assert (result["running_mode"], result["running_group"]) == (mode, group)


def test_configured_standalone_running_shared_is_restarted_not_reconfigured() -> None:
    # The command ran and the restart failed (a dependant that refused to stop): finish it.
    result = plan(winmgmt(STANDALONE), level(6), running=SHARED, prior=record("shared"))
    assert result["argv"] == [] and result["restart"] is True and result["record"] is None
    assert (result["configured_mode"], result["running_mode"]) == ("standalone", "shared")
    assert "the configuration has not taken effect (a restart failed or never happened): restart Winmgmt" \
        in result["summary"]


def test_a_stopped_winmgmt_configured_standalone_is_started() -> None:
    assert plan(winmgmt(STANDALONE, state="stopped", pid=0), level(6), running="")["restart"] is True


def test_an_unknown_running_mode_restarts_nothing() -> None:
    result = plan(winmgmt(STANDALONE), level(6), running="")
    assert result["restart"] is False and "was not read" in result["summary"]


def test_an_existing_record_is_kept() -> None:
    # The earliest record tells what the host was before this collection came.
    assert plan(winmgmt(SHARED), level(), prior=record("shared"))["record"] is None
    assert plan(winmgmt(SHARED), level(), prior=record("standalone"))["record"] is None


# --- rollback: only what this collection did --------------------------------------------------------------------

@pytest.mark.parametrize(("prior", "why"), [
    (None, "no record says this collection moved it"),
    ("standalone", "the record says it was standalone before this collection changed it"),
    ("elsewhere", "the record says it was elsewhere before this collection changed it"),
])
def test_revert_leaves_a_host_it_did_not_move_alone(prior: str | None, why: str) -> None:
    result = plan(winmgmt(STANDALONE), level(6), revert=True, running=STANDALONE, prior=record(prior))
    assert result["argv"] == [] and result["restart"] is False and result["left_alone"] is True
    assert result["forget"] is (prior is not None)
    assert result["summary"].startswith(f"WMI left alone by the rollback ({why}; configured for the svchost group")


def test_revert_finishes_a_rollback_whose_restart_failed() -> None:
    result = plan(winmgmt(SHARED), level(6), revert=True, running=STANDALONE, prior=record("shared"))
    assert result["argv"] == [] and result["restart"] is True and result["forget"] is True
    assert "the rollback's restart has not taken effect; restart Winmgmt" in result["summary"]


def test_revert_done_forgets_the_record() -> None:
    result = plan(winmgmt(SHARED), level(), revert=True, running=SHARED, prior=record("Shared"))
    assert (result["argv"], result["restart"], result["forget"], result["left_alone"]) == ([], False, True, False)
    assert result["prior"] == "shared"
    assert "nothing to roll back" in result["summary"]
