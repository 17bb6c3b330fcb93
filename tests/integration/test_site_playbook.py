"""site.yml and rollback.yml end to end on a fresh lab domain of their own, the DC read by Samba itself.

check mode changes nothing -> site.yml does the job -> again: changed=0 for the domain stages ->
rollback in check mode changes nothing -> rollback disables the account and removes the GPO ->
again: changed=0 -> rollback with removal deletes the account. The lab instance is taken down after.
"""
from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_support import BIN, LAB, REPO, LabInfo, ansible_env, ldb_search, load_lab, run_playbook

INSTANCE = "siteplay"
EXAMPLE_INVENTORY = REPO / "docs" / "examples" / "inventory"
EXAMPLE_VAULT_PASSWORD = "scanready-example"  # documented in docs/quickstart.md
UF_ACCOUNTDISABLE = 0x2


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInfo]:
    """A domain nobody has touched: the instance is made afresh and removed afterwards."""
    subprocess.run([str(LAB), "--instance", INSTANCE, "down"], check=True, capture_output=True)
    try:
        yield load_lab(INSTANCE)
    finally:
        subprocess.run([str(LAB), "--instance", INSTANCE, "down"], check=True, capture_output=True)


def playbook(lab: LabInfo, name: str, tmp_path: Path, *args: str, inventory: Path | None = None,
             env: dict[str, str] | None = None) -> str:
    extra = {"scanready_report_dir": str(tmp_path / "reports"), "scanready_verify_fail_on_not_ready": False}
    proc = run_playbook(REPO / "playbooks" / name, inventory or lab.inventory, "-e", json.dumps(extra), *args,
                        env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    for secret in (lab.vars["scanready_admin_password"], lab.vars["scanready_account_password"]):
        assert secret not in output
    return output


def changed(output: str, host: str) -> int:
    """`changed=` of the play recap for a host."""
    match = re.search(rf"^{re.escape(host)}\s+:\s+ok=\d+\s+changed=(\d+)", output, re.M)
    assert match, f"no recap line for {host}"
    return int(match.group(1))


def account(lab: LabInfo) -> list[dict[str, list[str]]]:
    return ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={lab.vars['scanready_account_name']})",
                      "userAccountControl", "memberOf")


def gpos(lab: LabInfo) -> list[dict[str, list[str]]]:
    name = "".join(f"\\{ord(c):02x}" if c in "()*\\\0" else c for c in lab.vars["scanready_gpo_name"])
    return ldb_search(lab, lab.vars["lab_base_dn"], f"(&(objectClass=groupPolicyContainer)(displayName={name}))", "cn")


def root_links(lab: LabInfo) -> str:
    return "".join(ldb_search(lab, lab.vars["lab_base_dn"], "(objectClass=*)", "gPLink", scope="base")[0]
                   .get("gPLink", []))


def test_example_inventory_decrypts_and_fits_the_playbooks(tmp_path: Path) -> None:
    """docs/examples/inventory: its vault opens, its groups are the playbooks', every playbook parses with it."""
    vault_password = tmp_path / "vault-password"
    vault_password.write_text(EXAMPLE_VAULT_PASSWORD)
    env = ansible_env()
    listing = json.loads(subprocess.run(
        [str(BIN / "ansible-inventory"), "-i", str(EXAMPLE_INVENTORY), "--vault-password-file", str(vault_password),
         "--list", "--export"], check=True, capture_output=True, text=True, env=env).stdout)
    assert set(listing["scan_targets"]["children"]) == {"domain_controllers", "windows_winrm", "windows_smb_only"}
    # group_vars/all reaches the controller's localhost (where the domain stages run), vaulted values decrypted.
    probe = json.dumps({"msg": "{{ scanready_admin_password is match('Example-Operator-') }} "
                               "{{ scanready_ldap_ca_cert }}"})
    shown = subprocess.run(
        [str(BIN / "ansible"), "-i", str(EXAMPLE_INVENTORY), "--vault-password-file", str(vault_password), "localhost",
         "-m", "ansible.builtin.debug", "-a", probe], check=True, capture_output=True, text=True, env=env).stdout
    assert "True /etc/scanready/corp-ldaps-ca.pem" in shown
    for name in ("site.yml", "verify.yml", "rollback.yml", "scan_window.yml"):
        subprocess.run([str(BIN / "ansible-playbook"), "-i", str(EXAMPLE_INVENTORY), "--vault-password-file",
                        str(vault_password), "--syntax-check", str(REPO / "playbooks" / name)],
                       check=True, capture_output=True, text=True, env=env)


@pytest.mark.lab
def test_site_then_rollback(lab: LabInfo, tmp_path: Path) -> None:
    links_before = root_links(lab)

    out = playbook(lab, "site.yml", tmp_path, "--check", "--diff", "--tags", "domain")
    assert changed(out, "localhost") >= 2  # the account and the GPO would be made
    assert account(lab) == [] and gpos(lab) == [] and root_links(lab) == links_before

    out = playbook(lab, "site.yml", tmp_path)
    [user] = account(lab)
    assert not int(user["userAccountControl"][0]) & UF_ACCOUNTDISABLE
    assert any(dn.startswith("CN=Domain Admins,") for dn in user["memberOf"])
    [gpo] = gpos(lab)
    assert gpo["cn"][0] in root_links(lab)
    report = json.loads((tmp_path / "reports" / "readiness.json").read_text())
    # Every target is in the report, and none the lab made not ready passes (exact classes: tests of verify).
    assert sorted(h["name"] for h in report["hosts"]) == sorted(t.name for t in lab.targets)
    made_ready = {t.name for t in lab.by_class("ready")}
    assert not [h["name"] for h in report["hosts"] if h["ready"] and h["name"] not in made_ready]
    assert "IP addresses to scan" in out  # the ticket text is part of the hand-over

    out = playbook(lab, "site.yml", tmp_path)
    assert changed(out, "localhost") == 0

    out = playbook(lab, "rollback.yml", tmp_path, "--check", "--diff")
    assert changed(out, "localhost") == 2
    assert gpos(lab) == [gpo] and account(lab) == [user]

    out = playbook(lab, "rollback.yml", tmp_path)
    assert gpos(lab) == [] and root_links(lab) == links_before
    [disabled] = account(lab)
    assert int(disabled["userAccountControl"][0]) & UF_ACCOUNTDISABLE

    out = playbook(lab, "rollback.yml", tmp_path)
    assert changed(out, "localhost") == 0

    playbook(lab, "rollback.yml", tmp_path, "--tags", "account", "-e", "scanready_rollback_remove_account=true")
    assert account(lab) == []

    # A rollback never creates: disabling an account that does not exist leaves it not existing.
    out = playbook(lab, "rollback.yml", tmp_path, "--tags", "account")
    assert account(lab) == [] and changed(out, "localhost") == 0
