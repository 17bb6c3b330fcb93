"""As a new user would: the built collection, installed with ansible-galaxy, run as scanready.windows.site
against a domain the default lab never made — another realm, account name, OU layout and lockout policy —
through the documented interfaces only (inventory variables, the installed playbooks, the reports)."""
from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.lab_support import BIN, LAB, LabInfo, ansible_env, build_and_install, ldb_search, load_lab

pytestmark = pytest.mark.lab
INSTANCE = "outside"


def samba_tool(lab: LabInfo, *args: str) -> None:
    subprocess.run(["samba-tool", *args, "-H", lab.sam_ldb], check=True, capture_output=True, text=True)


@pytest.fixture(scope="module")
def foreign_domain() -> Iterator[LabInfo]:
    subprocess.run([str(LAB), "--instance", INSTANCE, "down"], check=False, capture_output=True)
    lab = load_lab(INSTANCE)  # a fresh domain: the changes below must not meet last run's
    try:
        base = lab.vars["lab_base_dn"]
        for ou in ("OU=Corp", "OU=Servers,OU=Corp", "OU=Service Accounts,OU=Corp"):
            samba_tool(lab, "ou", "create", f"{ou},{base}")
        samba_tool(lab, "domain", "passwordsettings", "set", "--account-lockout-threshold=3",
                   "--min-pwd-length=14")
        yield lab
    finally:
        subprocess.run([str(LAB), "--instance", INSTANCE, "down"], check=False, capture_output=True)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_and_install(tmp_path_factory.mktemp("galaxy"))


def write_inventory(lab: LabInfo, path: Path, report_dir: Path, scanner_password: str) -> dict[str, str]:
    base = lab.vars["lab_base_dn"]
    names = {
        "account": "svc_vulnscan",
        "account_ou": f"OU=Service Accounts,OU=Corp,{base}",
        "gpo": "Trusted scanning baseline",
        "link": f"OU=Servers,OU=Corp,{base}",
    }
    ready = [t for t in lab.targets if t.expected == "ready"]
    inventory = {"all": {
        "vars": {
            "scanready_domain": lab.vars["scanready_domain"],
            "scanready_dc": lab.vars["scanready_dc"],
            "scanready_ldap_ca_cert": lab.vars["scanready_ldap_ca_cert"],
            "scanready_admin_username": f"{lab.vars['lab_netbios']}\\Administrator",
            "scanready_admin_password": lab.vars["scanready_admin_password"],
            "scanready_account_name": names["account"],
            "scanready_account_password": scanner_password,
            "scanready_account_path": names["account_ou"],
            "scanready_scanner_addresses": ["192.0.2.10", "198.51.100.0/24"],
            "scanready_gpo_name": names["gpo"],
            "scanready_gpo_links": [names["link"]],
            "scanready_report_dir": str(report_dir),
        },
        "children": {"scan_targets": {"hosts": {t.name: {"ansible_host": t.address} for t in ready}}},
    }}
    path.write_text(yaml.safe_dump(inventory))
    return names


def run_site(installed: Path, inventory: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    cfg = cwd / "ansible.cfg"
    cfg.write_text("[defaults]\nhost_key_checking = false\n")
    env = ansible_env(ANSIBLE_CONFIG=str(cfg), ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_NOCOLOR="1")
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(inventory), "scanready.windows.site"],
                          check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=900)


def recap_changed(output: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", output, re.M)}


def test_site_on_a_foreign_domain_from_the_installed_collection(
        foreign_domain: LabInfo, installed: Path, tmp_path: Path) -> None:
    lab = foreign_domain
    scanner_password = "Sv-" + secrets.token_urlsafe(18)  # longer than this domain's 14-character minimum
    inventory = tmp_path / "inventory.yml"
    reports = tmp_path / "reports"
    names = write_inventory(lab, inventory, reports, scanner_password)

    first = run_site(installed, inventory, tmp_path)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    base = lab.vars["lab_base_dn"]

    account = ldb_search(lab, names["account_ou"], f"(sAMAccountName={names['account']})", "memberOf")
    assert len(account) == 1
    assert any(g.startswith("CN=Domain Admins,") for g in account[0]["memberOf"])

    gpo = ldb_search(lab, f"CN=Policies,CN=System,{base}", f"(displayName={names['gpo']})", "cn")
    assert len(gpo) == 1
    ou_link = ldb_search(lab, names["link"], "(objectClass=organizationalUnit)", "gPLink", scope="base")
    assert gpo[0]["cn"][0].lower() in ou_link[0]["gPLink"][0].lower()
    root_link = ldb_search(lab, base, "(objectClass=domain)", "gPLink", scope="base")
    assert gpo[0]["cn"][0].lower() not in root_link[0].get("gPLink", [""])[0].lower()

    report = json.loads((reports / "readiness.json").read_text())
    assert report["summary"]["not_ready"] == 0 and report["summary"]["total"] >= 2
    assert report["account"].lower().endswith(names["account"])
    ticket = (reports / "ticket.md").read_text()
    assert names["account"] in ticket and lab.vars["scanready_domain"] in ticket.lower()

    for path in [*reports.iterdir()]:
        assert scanner_password not in path.read_text()
    assert scanner_password not in first.stdout + first.stderr

    second = run_site(installed, inventory, tmp_path)
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap_changed(second.stdout).get("localhost") == 0, second.stdout[-4000:]
