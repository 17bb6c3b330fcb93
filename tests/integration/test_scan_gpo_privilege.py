"""scan_gpo's least-privilege entries against the real Samba DC (default lab instance), a GPO of its own linked nowhere.

Samba is the oracle: its GptTmpl.inf parser (gp_inf) and PReg reader on the files as they lie in SYSVOL, the DC's
own database, and `samba-tool gpo aclcheck`. The group and the account are made with samba-tool, not our code.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import (
    GpoContent,
    ScanPolicy,
    apply_policy,
    policy_settings,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.privilege import Principal
from ansible_collections.scanready.windows.plugins.module_utils._gpo.registry_pol import render_registry_pol

from tests.integration.test_scan_gpo import (
    ARTICLE_INF,
    FIREWALL,
    base_dn,
    gpos_named,
    module_args,
    remove_gpos,
    samba_gpo_state,
    samba_reads,
    samba_tool,
    samba_tool_local,
)
from tests.lab_support import LabInfo, run_module

pytestmark = pytest.mark.lab

NAME = "Least privilege test policy (scanready)"
GROUP = "ScanReady Test Scanners"
ACCOUNT = "srtest_gposcanner"
MISSING = "ScanReady No Such Group"
DENY_RIGHTS = ["SeDenyInteractiveLogonRight", "SeDenyRemoteInteractiveLogonRight", "SeDenyBatchLogonRight",
               "SeDenyServiceLogonRight"]
EXTENSIONS = ("[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F72-3407-48AE-BA88-E8213C6761F1}]"
              "[{827D319E-6EAC-11D2-A4EA-00C04F79F83A}{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}]")


def test_samba_reads_both_sections_back_as_written() -> None:
    group, account = "S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1106"
    policy = ScanPolicy(scanner_addresses=("*",), local_admins=True, deny_interactive_logon=True,
                        scanner_group=Principal("g", group), scanner_account=Principal("a", account))
    content = apply_policy(GpoContent.parse(None, None), policy_settings(policy))
    seen = samba_reads(content.inf.render(), render_registry_pol(content.pol))
    assert seen["inf"] == {**ARTICLE_INF,
                           "Privilege Rights": [[right, [f"*{account}"]] for right in DENY_RIGHTS],
                           "Group Membership": [[[f"*{group}", "Memberof"], ["*S-1-5-32-544"]],
                                                [[f"*{group}", "Members"], [""]]]}
    assert list(seen["inf"])[-2:] == ["Service General Setting", "Group Membership"]  # Samba's (MS-GPSB) order
    assert seen["inf_rewritten_identical"] is True
    # Taken back out: what is left is read by Samba exactly as before, byte for byte.
    off = apply_policy(content, policy_settings(ScanPolicy(scanner_addresses=("*",), scanner_group=Principal(
        "g", group), scanner_account=Principal("a", account))))
    again = samba_reads(off.inf.render(), b"")
    assert again["inf"] == ARTICLE_INF and again["inf_rewritten_identical"] is True


def object_sid(lab: LabInfo, kind: str, name: str) -> str:
    shown = samba_tool_local(lab, kind, "show", name, "--attributes=objectSid")
    match = re.search(r"^objectSid: (S-1-5-21-[0-9-]+)$", shown, re.MULTILINE)
    assert match, shown
    return match.group(1)


def delete_principals(lab: LabInfo) -> None:
    samba_tool_local(lab, "group", "delete", GROUP, check=False)
    samba_tool_local(lab, "user", "delete", ACCOUNT, check=False)


@pytest.fixture(scope="module")
def sids(lab: LabInfo) -> Iterator[dict[str, str]]:
    """The scanner group and account, made by samba-tool; removed afterwards with the test GPO."""
    remove_gpos(lab, NAME)  # what an aborted session may have left
    delete_principals(lab)
    try:
        samba_tool_local(lab, "group", "add", GROUP)
        samba_tool_local(lab, "user", "create", ACCOUNT, "Aa1-" + secrets.token_urlsafe(18))
        yield {"group": object_sid(lab, "group", GROUP), "account": object_sid(lab, "user", ACCOUNT)}
    finally:
        remove_gpos(lab, NAME)
        delete_principals(lab)


def args_for(lab: LabInfo, **overrides: Any) -> dict[str, Any]:
    return module_args(lab, name=NAME, links=[], **overrides)


def the_gpo(lab: LabInfo) -> dict[str, Any]:
    state = samba_gpo_state(lab, NAME)
    assert len(state["gpos"]) == 1, state["gpos"]
    gpo: dict[str, Any] = state["gpos"][0]
    assert gpo["gPCMachineExtensionNames"] == EXTENSIONS
    assert gpo["acl_ok"] is True
    assert gpo["inf_rewritten_identical"] is True  # Samba writes back exactly our bytes
    assert gpo["pol_repacked_identical"] is True
    assert not state["gplinks"] or not any(gpo["cn"].lower() in v.lower() for v in state["gplinks"].values())
    return gpo


def converges(lab: LabInfo, args: dict[str, Any]) -> dict[str, Any]:
    """Run, read back through Samba, run again: changed=0."""
    applied = run_module("scan_gpo", args, diff=True)
    assert applied.changed and not applied.failed, applied.result
    gpo = the_gpo(lab)
    again = run_module("scan_gpo", args)
    assert not again.changed and not again.failed and again.result["actions"] == [], again.result
    return {"result": applied.result, "gpo": gpo}


LOCAL_ADMINS = NAME + " - local Administrators"


def test_local_admins_is_a_gpo_domain_controllers_never_apply(lab: LabInfo, sids: dict[str, str]) -> None:
    """Issue 21, item 2, with the default links (the domain root, where the DCs are): the Restricted Groups entry
    is only in the local Administrators GPO, whose descriptor (read by Samba's NDR parser) denies Apply Group Policy
    to every kind of DC; the scan policy GPO, without the entry, is not denied to them. (Samba's libgpo, which would
    evaluate the filter, builds a token only for accounts the host's NSS resolves, which the lab's are not.)"""
    group, label = sids["group"], f"Restricted Groups: {GROUP} -> BUILTIN\\Administrators (member of)"
    args = module_args(lab, name=NAME, privilege="local_admins", scanner_group=GROUP)
    domain_sid = group.rsplit("-", 1)[0]
    try:
        check = run_module("scan_gpo", args, check=True, diff=True)
        assert check.changed and not check.failed, check.result
        assert f"{LOCAL_ADMINS}: {label}: not configured → {group} ({GROUP})" in check.result["changes"]
        assert gpos_named(lab, NAME) == [] == gpos_named(lab, LOCAL_ADMINS)  # check mode made nothing

        done = run_module("scan_gpo", args, diff=True)
        assert done.changed and not done.failed, done.result
        assert done.result["local_admins"]["present"] and done.result["local_admins"]["links"] == done.result["links"]
        assert not run_module("scan_gpo", args).changed
        main, local_admins = (samba_gpo_state(lab, name)["gpos"] for name in (NAME, LOCAL_ADMINS))
        assert len(main) == 1 == len(local_admins)
        assert "Group Membership" not in main[0]["inf"] and main[0]["denied_apply"] == []
        assert local_admins[0]["inf"] == {"Group Membership": [[[f"*{group}", "Memberof"], ["*S-1-5-32-544"]],
                                                               [[f"*{group}", "Members"], [""]]]}
        assert local_admins[0]["inf_rewritten_identical"] and local_admins[0]["acl_ok"]
        assert set(local_admins[0]["denied_apply"]) == {f"{domain_sid}-516", f"{domain_sid}-521", "S-1-5-9",
                                                        f"{domain_sid}-498"}
        samba_tool(lab, "gpo", "aclcheck")
        linked = [dn for dn, value in samba_gpo_state(lab, NAME)["gplinks"].items()
                  if local_admins[0]["cn"].lower() in value.lower()]
        assert linked == [base_dn(lab)]  # the domain root, above OU=Domain Controllers

        back = run_module("scan_gpo", args | {"privilege": "none"}, diff=True)
        assert back.changed and not back.result["local_admins"]["present"], back.result
        assert gpos_named(lab, LOCAL_ADMINS) == [] and len(gpos_named(lab, NAME)) == 1
        assert not run_module("scan_gpo", args | {"privilege": "domain_admins"}).changed
    finally:
        remove_gpos(lab, LOCAL_ADMINS)
        remove_gpos(lab, NAME)


def test_deny_interactive_logon_on_and_off(lab: LabInfo, sids: dict[str, str]) -> None:
    account = sids["account"]
    try:
        done = converges(lab, args_for(lab, deny_interactive_logon=True, account_name=ACCOUNT))
        rights = done["gpo"]["inf"]["Privilege Rights"]
        assert rights == [[right, [f"*{account}"]] for right in DENY_RIGHTS]
        assert "SeDenyNetworkLogonRight" not in str(rights)
        off = run_module("scan_gpo", args_for(lab, deny_interactive_logon=False, account_name=ACCOUNT))
        assert off.changed and not off.failed, off.result
        assert "Privilege Rights" not in the_gpo(lab)["inf"]
        samba_tool(lab, "gpo", "aclcheck")
    finally:
        remove_gpos(lab, NAME)


def test_firewall_unmanaged_by_default_and_removes_what_was_written(lab: LabInfo, sids: dict[str, str]) -> None:
    def enable_firewall() -> list[Any]:
        return [entry for entry in the_gpo(lab)["pol"] if entry[:2] == [FIREWALL, "EnableFirewall"]]

    try:
        converges(lab, args_for(lab))
        assert enable_firewall() == []
        converges(lab, args_for(lab, firewall_enabled=True))
        assert enable_firewall() == [[FIREWALL, "EnableFirewall", 4, 1]]
        back = run_module("scan_gpo", args_for(lab, firewall_enabled="unmanaged"))
        assert back.result["changes"] == ["DomainProfile\\EnableFirewall: 1 → not configured"], back.result
        assert enable_firewall() == []
    finally:
        remove_gpos(lab, NAME)


def test_a_missing_group_is_a_placeholder_in_check_mode_and_an_error_otherwise(lab: LabInfo,
                                                                               sids: dict[str, str]) -> None:
    args = args_for(lab, privilege="local_admins", scanner_group=MISSING)
    try:
        check = run_module("scan_gpo", args, check=True)
        assert check.changed and not check.failed, check.result
        assert any("placeholder" in warning for warning in check.result.get("warnings", [])), check.result
        assert any(f"<SID of {MISSING} once created>" in change for change in check.result["changes"])
        real = run_module("scan_gpo", args)
        assert real.failed and "create it first: the scanner_account role (privilege local_admins) does" in \
            real.result["msg"], real.result
        assert gpos_named(lab, NAME) == []  # nothing half-written
        refused = run_module("scan_gpo", args_for(lab, privilege="local_admins", scanner_group="Domain Users"))
        assert refused.failed and "built-in groups" in refused.result["msg"], refused.result
    finally:
        remove_gpos(lab, NAME)
