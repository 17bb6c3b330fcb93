"""site.yml in local_admins mode, end to end, on a fresh lab domain whose member server stands in for
Windows hosts that applied the GPO's Restricted Groups entry (lab/lab up --local-admins-group).

site.yml converges -> again: changed=0 -> the account is in the scanner group and not in Domain Admins
(read with Samba itself) -> verify reports the member's targets ready as the group's member, and C$ on
the domain controller denied with its named cause and fix. The instance is taken down after.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._gpo.store import LOCAL_ADMINS_SUFFIX
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import DEFAULT_GPO_NAME

from tests.integration.test_scan_gpo import samba_gpo_state
from tests.lab_support import LAB, REPO, LabInfo, ldb_search, read_lab, run_playbook

pytestmark = pytest.mark.lab

INSTANCE = os.environ.get("SCANREADY_TEST_LOCAL_ADMINS_INSTANCE", "ladmins")
GROUP = "Vulnerability Scanners"
NAME = DEFAULT_GPO_NAME
LOCAL_ADMINS = NAME + LOCAL_ADMINS_SUFFIX


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInfo]:
    """A domain nobody has touched, its targets' admin shares open to the scanner group as well."""
    subprocess.run([str(LAB), "--instance", INSTANCE, "down"], check=True, capture_output=True)
    try:
        subprocess.run([str(LAB), "--instance", INSTANCE, "up", "--local-admins-group", GROUP], check=True,
                       capture_output=True, text=True)
        yield read_lab(INSTANCE)
    finally:
        subprocess.run([str(LAB), "--instance", INSTANCE, "down"], check=True, capture_output=True)


def site(lab: LabInfo, tmp_path: Path) -> str:
    extra = {"scanready_report_dir": str(tmp_path / "reports"), "scanready_verify_fail_on_not_ready": False,
             "scanready_account_privilege": "local_admins", "scanready_scanner_group": GROUP}
    proc = run_playbook(REPO / "playbooks" / "site.yml", lab.inventory, "-e", json.dumps(extra))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    for secret in (lab.vars["scanready_admin_password"], lab.vars["scanready_account_password"]):
        assert secret not in output
    return output


def changed(output: str, host: str) -> int:
    match = re.search(rf"^{re.escape(host)}\s+:\s+ok=\d+\s+changed=(\d+)", output, re.M)
    assert match, f"no recap line for {host}"
    return int(match.group(1))


def test_site_in_local_admins_mode_converges_and_verify_names_the_dc_cause(lab: LabInfo, tmp_path: Path) -> None:
    assert lab.vars["lab_local_admins_group"] == GROUP
    first = site(lab, tmp_path)
    assert changed(first, "localhost") > 0
    again = site(lab, tmp_path)
    assert changed(again, "localhost") == 0, again[-3000:]

    found = ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={lab.vars['scanready_account_name']})",
                       "memberOf")
    assert len(found) == 1
    groups = [dn.split(",", 1)[0].lower() for dn in found[0].get("memberOf", [])]
    assert f"cn={GROUP.lower()}" in groups
    assert "cn=domain admins" not in groups

    # The entry is in a GPO of its own, linked at the root with the scan policy, that no DC applies (issue 21, item 2).
    main, local_admins = (samba_gpo_state(lab, name)["gpos"] for name in (NAME, LOCAL_ADMINS))
    assert len(main) == 1 == len(local_admins)
    assert main[0]["denied_apply"] == [] and "Group Membership" not in main[0]["inf"]
    assert "Group Membership" in local_admins[0]["inf"]
    domain_sid = next(sid for sid in local_admins[0]["denied_apply"] if sid.endswith("-516"))[:-4]
    assert sorted(local_admins[0]["denied_apply"]) == sorted(
        [f"{domain_sid}-516", f"{domain_sid}-521", "S-1-5-9", f"{domain_sid}-498"])

    doc = json.loads((tmp_path / "reports" / "readiness.json").read_text())
    hosts = {h["name"]: h for h in doc["hosts"]}
    members = [t for t in lab.by_class("ready") if t.address != lab.vars["lab_dc_address"]]
    assert members
    for target in members:
        host = hosts[target.name]
        assert host["ready"], host  # the account is an administrator there only through the scanner group
        assert host["checks"]["share:C$"]["class"] == "ok"
        assert host["checks"]["share:ADMIN$"]["class"] == "ok"
    assert hosts[lab.by_class("share_denied")[0].name]["class"] == "access_denied", "the generic cause elsewhere"

    dc = hosts[lab.vars["scanready_dc"]]
    assert not dc["ready"]
    assert dc["class"] == "dc_needs_domain_admin", dc
    c_share = dc["checks"]["share:C$"]
    assert c_share["ok"] is False and c_share["class"] == "dc_needs_domain_admin"
    assert "Domain controllers are kept out of the scanner group's reach" in c_share["fix"]
    assert "a second scanner account" in c_share["fix"] and "domain_admins" in c_share["fix"]
    assert dc["checks"]["share:ADMIN$"]["class"] == "dc_needs_domain_admin"

    html = (tmp_path / "reports" / "readiness.html").read_text()
    assert "Domain controller needs a Domain Admin" in html
    junit = (tmp_path / "reports" / "junit.xml").read_text()
    assert 'type="dc_needs_domain_admin"' in junit
