"""scan_gpo and the scan_policy role against a real Samba AD DC (lab instance `gpo`).

Samba is the oracle, never our code: its GPO parsers (gp_inf, preg), samba-tool gpo
listall/show/getlink/aclcheck/list/backup, the DC's own database (ldb) and SYSVOL as it lies on disk.
"""
from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _gpo, _gpo_store
from ansible_collections.scanready.windows.plugins.module_utils._gpo import (
    GpoContent,
    InfDocument,
    PolEntry,
    ScanPolicy,
)

from tests.lab_support import (
    LabInfo,
    ldb_search,
    load_lab,
    run_module,
    samba_python,
)

pytestmark = pytest.mark.lab

# Samba's own readers: GptTmplInfParser and the PReg NDR. Each also writes the file back, which
# must give our bytes again (Samba writes exactly what Windows writes).
SAMBA_READ_FILES = r"""
import json, sys, tempfile, os
from samba.dcerpc import preg
from samba.ndr import ndr_unpack, ndr_pack
from samba.gp_parse.gp_inf import GptTmplInfParser
inf, pol = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
out = {}
if inf:
    parser = GptTmplInfParser()
    parser.parse(inf)
    out["inf"] = {name: section.param_list for name, section in parser.sections.items() if section.param_list}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "GptTmpl.inf")
        parser.write_binary(path)
        out["inf_rewritten_identical"] = open(path, "rb").read() == inf
if pol:
    parsed = ndr_unpack(preg.file, pol)
    out["pol"] = [[e.keyname, e.valuename, e.type, e.data if isinstance(e.data, (int, str)) else list(e.data)]
                  for e in parsed.entries]
    out["pol_header"] = [parsed.header.signature, parsed.header.version, parsed.num_entries]
    out["pol_repacked_identical"] = ndr_pack(parsed) == pol
print(json.dumps(out))
"""
FIREWALL = r"SOFTWARE\Policies\Microsoft\WindowsFirewall\DomainProfile"
LSA = r"MACHINE\System\CurrentControlSet\Control\Lsa"


def samba_reads(inf: bytes, pol: bytes) -> dict[str, Any]:
    result: dict[str, Any] = samba_python(SAMBA_READ_FILES, inf.hex(), pol.hex())
    return result


def expected_pol(addresses: str, firewall: int | None) -> list[list[object]]:
    entries: list[list[object]] = [] if firewall is None else [[FIREWALL, "EnableFirewall", 4, firewall]]
    return [
        *entries,
        [FIREWALL + r"\RemoteAdminSettings", "Enabled", 4, 1],
        [FIREWALL + r"\RemoteAdminSettings", "RemoteAddresses", 1, addresses],
        [FIREWALL + r"\Services\FileAndPrint", "Enabled", 4, 1],
        [FIREWALL + r"\Services\FileAndPrint", "RemoteAddresses", 1, addresses],
        [FIREWALL + r"\IcmpSettings", "AllowInboundEchoRequest", 4, 1],
    ]


ARTICLE_INF = {
    "System Access": [["EnableGuestAccount", "0"]],
    "Registry Values": [LSA + r"\ForceGuest=4,0", LSA + r"\EveryoneIncludesAnonymous=4,0"],
    "Service General Setting": [["RemoteRegistry", "2", ""], ["LanmanServer", "2", ""], ["MpsSvc", "2", ""]],
}


@pytest.mark.parametrize(("policy", "addresses", "firewall"), [
    (ScanPolicy(scanner_addresses=("10.202.0.1", "192.0.2.0/24")), "10.202.0.1,192.0.2.0/24", 1),
    (ScanPolicy(scanner_addresses=("*",), firewall_enabled=False), "*", 0),
    (ScanPolicy(scanner_addresses=("2001:db8::5",), firewall_enabled=None), "2001:db8::5", None),
])
def test_samba_reads_the_rendered_files(policy: ScanPolicy, addresses: str, firewall: int | None) -> None:
    content = _gpo.apply_policy(GpoContent.parse(None, None), _gpo.policy_settings(policy))
    seen = samba_reads(content.inf.render(), _gpo.render_registry_pol(content.pol))
    assert seen["inf"] == ARTICLE_INF
    assert seen["inf_rewritten_identical"] is True
    assert seen["pol"] == expected_pol(addresses, firewall)
    assert seen["pol_header"] == ["PReg", 1, len(content.pol)]
    assert seen["pol_repacked_identical"] is True


def test_samba_reads_merged_files_with_unmanaged_settings() -> None:
    text = ("[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordLength = 14\r\n"
            '[Version]\r\nsignature="$CHICAGO$"\r\nRevision=1\r\n'
            "[Privilege Rights]\r\nSeDenyNetworkLogonRight = *S-1-5-32-546\r\n")
    foreign = PolEntry(r"Software\Policies\Vendor", "Note", 1, "kept\0".encode("utf-16-le"))
    start = GpoContent(InfDocument.parse(b"\xff\xfe" + text.encode("utf-16-le")),
                       [foreign, PolEntry(r"Software\Policies\Vendor", "Level", 4, struct.pack("<I", 3))])
    content = _gpo.apply_policy(start, _gpo.policy_settings(ScanPolicy(scanner_addresses=("*",))))
    seen = samba_reads(content.inf.render(), _gpo.render_registry_pol(content.pol))
    assert seen["inf"]["System Access"] == [["MinimumPasswordLength", "14"], ["EnableGuestAccount", "0"]]
    assert seen["inf"]["Privilege Rights"] == [["SeDenyNetworkLogonRight", ["*S-1-5-32-546"]]]
    assert seen["inf_rewritten_identical"] is True
    assert seen["pol"][:2] == [[r"Software\Policies\Vendor", "Note", 1, "kept"], [r"Software\Policies\Vendor",
                                                                                    "Level", 4, 3]]
    assert seen["pol_repacked_identical"] is True


# --- The module against the lab ------------------------------------------------------------------

NAME = _gpo_store.DEFAULT_NAME
FOREIGN = "Foreign test policy (scanready)"
TEST_OU = "OU=ScanReady GPO Test"
COMPUTER = "gpotest01"
EXTENSIONS = ("[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F72-3407-48AE-BA88-E8213C6761F1}]"
              "[{827D319E-6EAC-11D2-A4EA-00C04F79F83A}{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}]")
ARTICLE_INF_BYTES = b"\xff\xfe" + (  # WINDOWS-FACTS.md §2, verbatim
    "[Unicode]\r\nUnicode=yes\r\n"
    '[Version]\r\nsignature="$CHICAGO$"\r\nRevision=1\r\n'
    "[System Access]\r\nEnableGuestAccount = 0\r\n"
    "[Registry Values]\r\n"
    "MACHINE\\System\\CurrentControlSet\\Control\\Lsa\\ForceGuest=4,0\r\n"
    "MACHINE\\System\\CurrentControlSet\\Control\\Lsa\\EveryoneIncludesAnonymous=4,0\r\n"
    "[Service General Setting]\r\n"
    '"RemoteRegistry",2,""\r\n"LanmanServer",2,""\r\n"MpsSvc",2,""\r\n').encode("utf-16-le")


@pytest.fixture(scope="module")
def lab() -> LabInfo:
    return load_lab("gpo")


def base_dn(lab: LabInfo) -> str:
    return str(lab.vars["lab_base_dn"])


def ou_dn(lab: LabInfo) -> str:
    return f"{TEST_OU},{base_dn(lab)}"


def policies_dir(lab: LabInfo) -> Path:
    return lab.state / "state" / "sysvol" / lab.vars["scanready_domain"] / "Policies"


def module_args(lab: LabInfo, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(lab.connection_args(), scanner_addresses=["10.202.0.1", "192.0.2.0/28"])
    args.update(overrides)
    return {key: value for key, value in args.items() if value is not None}


def samba_tool(lab: LabInfo, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """samba-tool against the DC over LDAP and SMB as the lab admin (password in the environment, not argv)."""
    env = dict(os.environ, PASSWD=lab.vars["scanready_admin_password"])
    proc = subprocess.run(["samba-tool", *args, "-H", f"ldap://{lab.vars['scanready_dc']}", "-U", "Administrator"],
                          env=env, capture_output=True, text=True, timeout=120)
    if check and proc.returncode:
        raise AssertionError(f"samba-tool {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def samba_tool_local(lab: LabInfo, *args: str) -> str:
    """samba-tool on the DC's own database (no network, no credentials)."""
    proc = subprocess.run(["samba-tool", *args, "-H", lab.sam_ldb, "-s", str(lab.state / "etc" / "smb.conf")],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode:
        raise AssertionError(f"samba-tool {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def ldap_escape(value: str) -> str:
    return "".join(f"\\{ord(c):02x}" if c in "()*\\\0" else c for c in value)


def gpos_named(lab: LabInfo, name: str) -> list[dict[str, list[str]]]:
    return ldb_search(lab, f"CN=Policies,CN=System,{base_dn(lab)}",
                      f"(&(objectClass=groupPolicyContainer)(displayName={ldap_escape(name)}))", scope="one")


def gplinks(lab: LabInfo) -> dict[str, str]:
    """Every container's gPLink, as the DC's database has it."""
    return {entry["dn"][0]: entry["gPLink"][0] for entry in ldb_search(lab, base_dn(lab), "(gPLink=*)", "gPLink")}


def remove_gpos(lab: LabInfo, name: str) -> None:
    """Clean-up through samba-tool, independent of the code under test."""
    for entry in gpos_named(lab, name):
        samba_tool(lab, "gpo", "del", entry["cn"][0])


def snapshot(lab: LabInfo) -> dict[str, Any]:
    """Everything a GPO change could touch: LDAP (with uSNChanged, so any write shows) and SYSVOL on disk
    (contents, modification times, NT ACLs)."""
    files: dict[str, Any] = {}
    root = policies_dir(lab)
    for path in sorted([root, *root.rglob("*")]):
        stat = path.stat()
        acl = os.getxattr(path, "security.NTACL").hex() if "security.NTACL" in os.listxattr(path) else None
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        files[str(path.relative_to(root))] = (digest, stat.st_mtime_ns, acl)
    ldap = ldb_search(lab, f"CN=Policies,CN=System,{base_dn(lab)}", "(objectClass=*)")
    return {"ldap": sorted(ldap, key=lambda e: e["dn"][0]), "links": gplinks(lab), "files": files}


def links_without(value: str, guid: str) -> list[tuple[str, int]]:
    return [(link.dn.lower(), link.options) for link in _gpo.parse_gplink(value) if guid.lower() not in link.dn.lower()]


def assert_converged(lab: LabInfo, *, version: int, links: list[str], addresses: str = "10.202.0.1,192.0.2.0/28",
                     firewall: int | None = 1, enforced: bool = False, inf: bytes | None = ARTICLE_INF_BYTES,
                     extra_pol: list[list[object]] | None = None) -> str:
    """Exactly one GPO of that name, complete and consistent by Samba's reading; returns its GUID."""
    found = gpos_named(lab, NAME)
    assert len(found) == 1, [e["dn"] for e in found]
    gpo = found[0]
    guid = gpo["cn"][0]
    assert gpo["versionNumber"] == [str(version)]
    assert gpo["flags"] == ["0"]
    assert gpo["gPCFunctionalityVersion"] == ["2"]
    assert gpo["gPCMachineExtensionNames"] == [EXTENSIONS]
    domain = lab.vars["scanready_domain"]
    assert gpo["gPCFileSysPath"] == [f"\\\\{domain}\\sysvol\\{domain}\\Policies\\{guid}"]
    children = ldb_search(lab, gpo["dn"][0], "(objectClass=container)", "cn", scope="one")
    assert sorted(c["cn"][0] for c in children) == ["Machine", "User"]

    folder = policies_dir(lab) / guid
    assert (folder / "GPT.INI").read_bytes() == f"[General]\r\nVersion={version}\r\n".encode()
    assert (folder / "User").is_dir()
    assert [p.name for p in folder.rglob("*") if p.name.endswith(".scanready-tmp") or p.name == "scanready.pending"] \
        == []
    inf_bytes = (folder / "Machine/Microsoft/Windows NT/SecEdit/GptTmpl.inf").read_bytes()
    seen = samba_reads(inf_bytes, (folder / "Machine/Registry.pol").read_bytes())
    if inf is not None:  # None: the file holds more than the module wrote, in someone else's order
        assert inf_bytes == inf
        assert seen["inf_rewritten_identical"]
    assert seen["pol"] == (extra_pol or []) + expected_pol(addresses, firewall)
    assert seen["pol_repacked_identical"]

    samba_tool(lab, "gpo", "aclcheck")  # the folder ACL is what Samba derives from the object's
    linked = {dn.lower(): [link.options for link in _gpo.parse_gplink(value) if guid.lower() in link.dn.lower()]
              for dn, value in gplinks(lab).items()}
    assert {dn for dn, options in linked.items() if options} == {dn.lower() for dn in links}
    for dn in links:
        assert linked[dn.lower()] == [2 if enforced else 0]
    return str(guid)


@pytest.fixture(scope="module")
def domain(lab: LabInfo) -> Iterator[dict[str, Any]]:
    """An OU holding a computer, and a foreign GPO linked at the root and (enforced) at the OU."""
    remove_gpos(lab, NAME)  # what an earlier, aborted session may have left
    remove_gpos(lab, FOREIGN)
    samba_tool_local(lab, "ou", "create", ou_dn(lab))
    try:
        samba_tool_local(lab, "computer", "create", COMPUTER, f"--computerou={TEST_OU}")
        created = samba_tool(lab, "gpo", "create", FOREIGN).stdout
        foreign = re.search(r"\{[0-9A-F-]{36}\}", created, re.IGNORECASE)
        assert foreign, created
        samba_tool(lab, "gpo", "setlink", base_dn(lab), foreign.group(0))
        samba_tool(lab, "gpo", "setlink", ou_dn(lab), foreign.group(0), "--enforce")
        yield {"foreign": foreign.group(0), "links": gplinks(lab)}
    finally:
        remove_gpos(lab, NAME)
        remove_gpos(lab, FOREIGN)
        samba_tool_local(lab, "computer", "delete", COMPUTER)
        samba_tool_local(lab, "ou", "delete", ou_dn(lab))


def test_check_apply_idempotent_change_absent(lab: LabInfo, domain: dict[str, Any]) -> None:
    links = [base_dn(lab), ou_dn(lab)]
    args = module_args(lab, links=links)
    try:
        start = snapshot(lab)
        check = run_module("scan_gpo", args, check=True, diff=True)
        assert check.changed and not check.failed, check.result
        assert "ForceGuest: not configured → 0" in check.result["changes"]
        assert snapshot(lab) == start  # check mode wrote nothing, anywhere

        applied = run_module("scan_gpo", args, diff=True)
        assert applied.changed and not applied.failed, applied.result
        guid = assert_converged(lab, version=1, links=links)
        assert applied.result["guid"] == guid and applied.result["version"] == 1
        assert "ForceGuest: not configured" in applied.result["diff"]["before"]
        assert "ForceGuest: 0" in applied.result["diff"]["after"]

        # Samba's tools see one complete GPO, applied to a computer in the linked OU.
        assert guid in samba_tool(lab, "gpo", "listall").stdout
        assert re.search(r"version\s*:\s*1\b", samba_tool(lab, "gpo", "show", guid).stdout)
        getlink = samba_tool(lab, "gpo", "getlink", ou_dn(lab)).stdout
        assert guid in getlink and domain["foreign"] in getlink
        listed = samba_tool(lab, "gpo", "list", f"{COMPUTER}$").stdout
        assert NAME in listed and guid in listed, listed
        with tempfile.TemporaryDirectory() as backup:
            samba_tool(lab, "gpo", "backup", guid, "--tmpdir", backup)
            parsed = {p.name for p in Path(backup).rglob("*.xml")}
            assert parsed == {"GPT.INI.xml", "Registry.pol.xml", "GptTmpl.inf.xml"}
            inf_xml = next(Path(backup).rglob("GptTmpl.inf.xml")).read_bytes().decode("utf-16")
            assert "ForceGuest=4,0" in inf_xml and "RemoteRegistry" in inf_xml
        for dn, value in domain["links"].items():  # the foreign GPO's links exactly as they were
            assert links_without(gplinks(lab)[dn], guid) == links_without(value, guid)

        steady = snapshot(lab)
        again = run_module("scan_gpo", args)
        assert not again.changed and again.result["version"] == 1 and again.result["actions"] == []
        assert snapshot(lab) == steady

        # Settings someone added with the Group Policy editor survive the module's next change.
        folder = policies_dir(lab) / guid
        inf_path = folder / "Machine/Microsoft/Windows NT/SecEdit/GptTmpl.inf"
        inf_path.write_bytes(inf_path.read_bytes() + "[Privilege Rights]\r\nSeDenyNetworkLogonRight = *S-1-5-32-546\r\n"
                             .encode("utf-16-le"))
        pol_path = folder / "Machine/Registry.pol"
        foreign_entry = PolEntry(r"Software\Policies\Vendor", "Kept", 4, struct.pack("<I", 7))
        pol_path.write_bytes(pol_path.read_bytes()[:8] + _gpo.render_registry_pol([foreign_entry])[8:]
                             + pol_path.read_bytes()[8:])
        changed = run_module("scan_gpo", dict(args, firewall_enabled=False), diff=True)
        assert changed.changed, changed.result
        assert changed.result["changes"] == ["DomainProfile\\EnableFirewall: 1 → 0"]
        assert "DomainProfile\\EnableFirewall: 1" in changed.result["diff"]["before"]
        assert "DomainProfile\\EnableFirewall: 0" in changed.result["diff"]["after"]
        assert_converged(lab, version=2, links=links, firewall=0, inf=None,
                         extra_pol=[[r"Software\Policies\Vendor", "Kept", 4, 7]])
        inf_seen = samba_reads(inf_path.read_bytes(), b"")["inf"]
        assert inf_seen["Privilege Rights"] == [["SeDenyNetworkLogonRight", ["*S-1-5-32-546"]]]
        assert inf_seen["Registry Values"] == ARTICLE_INF["Registry Values"]
        assert not run_module("scan_gpo", dict(args, firewall_enabled=False)).changed

        # Links move without a version change: now only the OU, enforced.
        moved = run_module("scan_gpo", dict(args, firewall_enabled=False, links=[ou_dn(lab)], enforced=True))
        assert moved.changed and moved.result["version"] == 2, moved.result
        assert_converged(lab, version=2, links=[ou_dn(lab)], enforced=True, firewall=0, inf=None,
                         extra_pol=[[r"Software\Policies\Vendor", "Kept", 4, 7]])

        before_absent = snapshot(lab)
        check_absent = run_module("scan_gpo", dict(args, state="absent"), check=True)
        assert check_absent.changed and snapshot(lab) == before_absent
        absent = run_module("scan_gpo", dict(args, state="absent"), diff=True)
        assert absent.changed and absent.result["guid"] == guid, absent.result
        assert gpos_named(lab, NAME) == []
        assert not (policies_dir(lab) / guid).exists()
        assert gplinks(lab) == domain["links"]  # every other GPO's links as they were before
        assert not run_module("scan_gpo", dict(args, state="absent")).changed
    finally:
        remove_gpos(lab, NAME)
