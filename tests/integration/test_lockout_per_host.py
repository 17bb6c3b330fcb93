"""The lockout guard across module calls: share_access used per host (its own EXAMPLES) over 18 hosts at --forks 5,
through a real ansible-playbook run with a wrong password, in a domain that locks an account after 3 bad passwords,
once on the default lab and once on one with no LDAPS and NTLM disabled. Samba's own database is the oracle: at
most one bad logon, and the account is not locked."""
from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_lockout import UF_LOCKOUT, scanner_locked_after_three
from tests.integration.test_scan_readiness import Scanner
from tests.lab_support import LAB, LabInfo, ldb_search, load_lab, run_playbook

pytestmark = pytest.mark.lab

INSTANCE = "verify"
HARDENED = "perhostk"
MIN_HOSTS = 10
ACCOUNT = "perhost_scanner"
PASSWORD = "Per-Host-Lab-Scanner-5"

PLAYBOOK = textwrap.dedent("""\
    - name: The scanner account opens the admin shares, one task per host
      hosts: scan_targets
      gather_facts: false
      tasks:
        - name: Shares, as share_access's EXAMPLES do it
          scanready.windows.share_access:
            target: "{{ ansible_host | default(inventory_hostname) }}"
            name: "{{ inventory_hostname }}"
            domain: "{{ scanready_domain }}"
            dc: "{{ scanready_dc }}"
            username: "{{ perhost_username }}"
            password: "{{ perhost_password }}"
          delegate_to: localhost
    """)


def per_host_inventory(lab: LabInfo, path: Path) -> Path:
    """The lab's targets, each listed twice (a second inventory name for the same address): more hosts than
    the lab's default, without re-creating the instance the other verify tests share."""
    hosts: dict[str, dict[str, str]] = {}
    for target in lab.targets:
        hosts[target.name] = {"ansible_host": target.address}
        hosts["again-" + target.name] = {"ansible_host": target.address}
    path.write_text(yaml.safe_dump({"all": {"vars": lab.vars, "children": {"scan_targets": {"hosts": hosts}}}}))
    return path


@pytest.fixture(scope="module", params=["default", "hardened"])
def guarded(request: pytest.FixtureRequest) -> Iterator[Scanner]:
    """The verify tests' instance, and a domain with no LDAPS and NTLM disabled (the DC's first logon is then
    Kerberos only), of its own and removed after."""
    if request.param == "default":
        with scanner_locked_after_three(load_lab(INSTANCE), ACCOUNT, PASSWORD) as account:
            yield account
        return
    try:
        lab = load_lab(HARDENED, "--tls", "none", "--ntlm", "disabled")
        with scanner_locked_after_three(lab, ACCOUNT, PASSWORD) as account:
            yield account
    finally:
        subprocess.run([str(LAB), "--instance", HARDENED, "down"], capture_output=True, check=False, timeout=300)


def account_state(lab: LabInfo) -> tuple[int, int, bool]:
    """(badPwdCount, lockoutTime, locked out) as the DC's own database has them."""
    entry = ldb_search(lab, lab.vars["lab_base_dn"], f"(sAMAccountName={ACCOUNT})", "badPwdCount", "lockoutTime",
                       "msDS-User-Account-Control-Computed")[0]
    computed = int(entry.get("msDS-User-Account-Control-Computed", ["0"])[0])
    return (int(entry.get("badPwdCount", ["0"])[0]), int(entry.get("lockoutTime", ["0"])[0]),
            bool(computed & UF_LOCKOUT))


@dataclass
class PlayRun:
    output: str
    results: dict[str, dict[str, Any]]  # host -> the share_access result

    def messages(self) -> list[str]:
        return [r.get("msg", "") for r in self.results.values()]


def per_host_run(lab: LabInfo, work: Path, password: str, *extra: str) -> PlayRun:
    playbook = work / "per_host.yml"
    playbook.write_text(PLAYBOOK)
    inventory = per_host_inventory(lab, work / "inventory.yml")
    proc = run_playbook(playbook, inventory, "--forks", "5", "-e", f"perhost_username={ACCOUNT}",
                        "-e", f"perhost_password={password}", *extra, timeout=600,
                        env={"XDG_RUNTIME_DIR": str(work), "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
                             "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    data = json.loads(proc.stdout[proc.stdout.find("{"):])
    return PlayRun(proc.stdout + proc.stderr, data["plays"][0]["tasks"][0]["hosts"])


def test_per_host_calls_at_forks_5_cost_one_bad_logon_between_them(guarded: Scanner, tmp_path: Path) -> None:
    lab = guarded.lab
    hosts = 2 * len(lab.targets)
    assert hosts >= MIN_HOSTS, "many more hosts than the lockout threshold"
    assert account_state(lab) == (0, 0, False)
    run = per_host_run(lab, tmp_path, "Wrong-" + PASSWORD)
    assert PASSWORD not in run.output
    assert len(run.results) == hosts and all(r.get("failed") for r in run.results.values())
    asked = [m for m in run.messages() if "Later verify runs for the account stop before trying" in m]
    assert len(asked) == 1 and "refused the password" in asked[0], "one call asked the DC"
    others = [m for m in run.messages() if m not in asked]
    assert all(m.startswith("Not tried: the domain controller") for m in others), "the others read its verdict"
    bad, lockout_time, locked = account_state(lab)
    assert bad <= 1, f"the DC counted {bad} bad logons"
    assert (lockout_time, locked) == (0, False)

    # A second run within the record's lifetime makes no logon at all.
    again = per_host_run(lab, tmp_path, "Wrong-" + PASSWORD)
    assert all(m.startswith("Not tried: the domain controller") for m in again.messages())
    assert account_state(lab)[0] == bad

    # Cleared as the message says (the file it names), the right password works on a ready host.
    records = list((tmp_path / "scanready-lockout").glob("*.json"))
    assert len(records) == 1 and records[0].stat().st_mode & 0o777 == 0o600
    assert str(records[0]) in others[0]
    assert PASSWORD not in records[0].read_text()
    records[0].unlink()
    ready = next(t for t in lab.targets if t.expected == "ready")
    fixed = per_host_run(lab, tmp_path, PASSWORD, "--limit", ready.name)
    assert not fixed.results[ready.name].get("failed"), fixed.output[-3000:]
    assert fixed.results[ready.name]["checks"]["smb_signing"]["required"] is False
    assert account_state(lab) == (0, 0, False), "a good logon resets the count"
