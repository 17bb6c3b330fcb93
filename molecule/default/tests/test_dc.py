"""What site.yml left in the molecule lab's domain, read by Samba itself and not through the collection.

The account and its groups come from the DC's own database (ldbsearch, samba-tool); the GPO's files
from SYSVOL through Samba's parsers (GptTmplInfParser, the PReg NDR), which read them as Windows
would. Last, verify.yml runs on its own and its reports must classify every lab target as expected.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import testinfra
import yaml

REPO = Path(__file__).resolve().parents[3]
# Where lab/lab keeps its instances: SCANREADY_LAB_STATE, as lab/lab reads it.
INVENTORY = (Path(os.environ.get("SCANREADY_LAB_STATE", "/var/tmp/scanready-lab"))
             / os.environ.get("SCANREADY_LAB_INSTANCE", "molecule") / "inventory.yml")
UF_ACCOUNTDISABLE = 0x2
UF_DONT_EXPIRE_PASSWD = 0x10000
FIREWALL = r"SOFTWARE\Policies\Microsoft\WindowsFirewall\DomainProfile"
LSA = r"MACHINE\System\CurrentControlSet\Control\Lsa"
# Samba's readers of the two policy files, under Debian's python3 (where the bindings import).
SAMBA_READ_GPO = r"""
import json, sys
from samba.dcerpc import preg
from samba.ndr import ndr_unpack
from samba.gp_parse.gp_inf import GptTmplInfParser
inf = GptTmplInfParser()
inf.parse(open(sys.argv[1], "rb").read())
pol = ndr_unpack(preg.file, open(sys.argv[2], "rb").read())
print(json.dumps({
    "inf": {name: section.param_list for name, section in inf.sections.items() if section.param_list},
    "pol": [[e.keyname, e.valuename, e.type, e.data if isinstance(e.data, (int, str)) else list(e.data)]
            for e in pol.entries],
}))
"""


@pytest.fixture(scope="module")
def dc() -> testinfra.host.Host:
    """The DC's files and Samba's tools are on this machine (the lab runs Samba in a namespace here)."""
    return testinfra.get_host("local://")


@pytest.fixture(scope="module")
def lab() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(INVENTORY.read_text())["all"]
    return data


def samba_args(lab: dict[str, Any]) -> list[str]:
    state = Path(lab["vars"]["lab_state_dir"])
    return ["-H", str(state / "private" / "sam.ldb"), "-s", str(state / "etc" / "smb.conf")]


def ldap_escape(value: str) -> str:
    return "".join(f"\\{ord(c):02x}" if c in "()*\\\0" else c for c in value)


def ldif(text: str) -> list[dict[str, list[str]]]:
    """Entries of ldbsearch's LDIF output (no base64 values among the attributes read here)."""
    entries: list[dict[str, list[str]]] = []
    for line in text.replace("\n ", "").splitlines():  # unfold continuation lines first
        if line.startswith("dn: "):
            entries.append({})
        if entries and ": " in line and not line.startswith("#"):
            key, value = line.split(": ", 1)
            entries[-1].setdefault(key, []).append(value)
    return entries


def ldbsearch(dc: testinfra.host.Host, lab: dict[str, Any], expression: str, *attrs: str) -> list[dict[str, list[str]]]:
    state = Path(lab["vars"]["lab_state_dir"])
    out = dc.check_output("ldbsearch -H %s -b %s %s " + " ".join(["%s"] * len(attrs)),
                          str(state / "private" / "sam.ldb"), lab["vars"]["lab_base_dn"], expression, *attrs)
    return ldif(out)


@pytest.fixture(scope="module")
def gpo(dc: testinfra.host.Host, lab: dict[str, Any]) -> dict[str, Any]:
    name = lab["vars"]["scanready_gpo_name"]
    found = ldbsearch(dc, lab, f"(&(objectClass=groupPolicyContainer)(displayName={ldap_escape(name)}))",
                      "cn", "versionNumber", "flags", "gPCMachineExtensionNames")
    assert len(found) == 1, f"expected exactly one GPO named {name!r}, found {found}"
    guid = found[0]["cn"][0]
    realm = lab["vars"]["scanready_domain"].lower()
    folder = Path(lab["vars"]["lab_state_dir"]) / "state" / "sysvol" / realm / "Policies" / guid
    return {"guid": guid, "ldap": found[0], "folder": folder}


def test_scanner_account_is_enabled_and_its_password_does_not_expire(
        dc: testinfra.host.Host, lab: dict[str, Any]) -> None:
    found = ldbsearch(dc, lab, f"(sAMAccountName={lab['vars']['scanready_account_name']})",
                      "userAccountControl", "memberOf")
    assert len(found) == 1
    uac = int(found[0]["userAccountControl"][0])
    assert not uac & UF_ACCOUNTDISABLE
    assert uac & UF_DONT_EXPIRE_PASSWD
    assert any(dn.startswith("CN=Domain Admins,") for dn in found[0]["memberOf"])


def test_samba_tool_lists_the_scanner_account_among_domain_admins(dc: testinfra.host.Host, lab: dict[str, Any]) -> None:
    members = dc.check_output("samba-tool group listmembers %s %s %s %s %s", "Domain Admins", *samba_args(lab))
    assert lab["vars"]["scanready_account_name"] in members.split()


def test_samba_tool_sees_one_gpo_linked_to_the_domain_root(dc: testinfra.host.Host, lab: dict[str, Any],
                                                           gpo: dict[str, Any]) -> None:
    listing = dc.check_output("samba-tool gpo listall %s %s %s %s", *samba_args(lab))
    assert listing.count(f"display name : {lab['vars']['scanready_gpo_name']}\n") == 1
    links = dc.check_output("samba-tool gpo getlink %s %s %s %s %s", lab["vars"]["lab_base_dn"], *samba_args(lab))
    assert gpo["guid"] in links


def test_gpo_folder_acl_matches_the_gpo_object(dc: testinfra.host.Host, lab: dict[str, Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # aclcheck reads SYSVOL over SMB: as the lab admin, the password in the environment, not argv.
    monkeypatch.setenv("PASSWD", lab["vars"]["scanready_admin_password"])
    check = dc.run("samba-tool gpo aclcheck -H %s -U Administrator", f"ldap://{lab['vars']['scanready_dc']}")
    assert check.rc == 0, check.stdout + check.stderr
    assert "ERROR" not in check.stdout + check.stderr


def test_gpt_ini_version_equals_the_ldap_version(dc: testinfra.host.Host, gpo: dict[str, Any]) -> None:
    gpt_ini = dc.file(str(gpo["folder"] / "GPT.INI"))
    assert gpt_ini.exists
    version = next(line.split("=", 1)[1] for line in gpt_ini.content_string.splitlines() if line.startswith("Version="))
    assert int(version) == int(gpo["ldap"]["versionNumber"][0]) > 0
    assert gpo["ldap"]["flags"] == ["0"]
    cses = gpo["ldap"]["gPCMachineExtensionNames"][0]
    assert "{35378EAC-683F-11D2-A89A-00C04FBBCFA2}" in cses and "{827D319E-6EAC-11D2-A4EA-00C04F79F83A}" in cses


def test_samba_reads_every_setting_of_the_article_from_sysvol(dc: testinfra.host.Host, lab: dict[str, Any],
                                                              gpo: dict[str, Any]) -> None:
    inf = gpo["folder"] / "Machine" / "Microsoft" / "Windows NT" / "SecEdit" / "GptTmpl.inf"
    pol = gpo["folder"] / "Machine" / "Registry.pol"
    seen = json.loads(dc.check_output("/usr/bin/python3 -c %s %s %s", SAMBA_READ_GPO, str(inf), str(pol)))
    assert ["EnableGuestAccount", "0"] in seen["inf"]["System Access"]
    assert LSA + r"\ForceGuest=4,0" in seen["inf"]["Registry Values"]
    assert LSA + r"\EveryoneIncludesAnonymous=4,0" in seen["inf"]["Registry Values"]
    for service in ("RemoteRegistry", "LanmanServer", "MpsSvc"):
        assert [service, "2", ""] in seen["inf"]["Service General Setting"]
    addresses = ",".join(lab["vars"]["scanready_scanner_addresses"])
    # scanready_firewall_enabled defaults to unmanaged: the exceptions, but no EnableFirewall
    assert not [entry for entry in seen["pol"] if entry[:2] == [FIREWALL, "EnableFirewall"]]
    for entry in ([FIREWALL + r"\RemoteAdminSettings", "Enabled", 4, 1],
                  [FIREWALL + r"\RemoteAdminSettings", "RemoteAddresses", 1, addresses],
                  [FIREWALL + r"\Services\FileAndPrint", "Enabled", 4, 1],
                  [FIREWALL + r"\Services\FileAndPrint", "RemoteAddresses", 1, addresses],
                  [FIREWALL + r"\IcmpSettings", "AllowInboundEchoRequest", 4, 1]):
        assert entry in seen["pol"]


def test_verify_playbook_alone_classifies_every_lab_target(lab: dict[str, Any], tmp_path: Path) -> None:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '')}")
    extra = json.dumps({"scanready_report_dir": str(tmp_path), "scanready_verify_fail_on_not_ready": False})
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(INVENTORY),
                           str(REPO / "playbooks" / "verify.yml"), "-e", extra],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((tmp_path / "readiness.json").read_text())
    expected = {name: host["lab_expected"] for name, host in lab["children"]["scan_targets"]["hosts"].items()}
    assert {h["name"]: h["ready"] for h in report["hosts"]} == {n: e == "ready" for n, e in expected.items()}
    ticket = (tmp_path / "ticket.md").read_text()
    assert lab["vars"]["scanready_account_name"] in ticket and lab["vars"]["scanready_domain"] in ticket
    assert f"IP addresses to scan ({list(expected.values()).count('ready')})" in ticket
    for secret in (lab["vars"]["scanready_admin_password"], lab["vars"]["scanready_account_password"]):
        assert secret not in proc.stdout + proc.stderr
