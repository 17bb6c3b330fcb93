"""scan_gpo and the scan_policy role against a real Samba AD DC (lab instance `gpo`).

Samba is the oracle, never our code: its GPO parsers (gp_inf, preg), samba-tool gpo
listall/show/getlink/aclcheck/list/backup, the DC's own database (ldb) and SYSVOL as it lies on disk.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _ldap
from ansible_collections.scanready.windows.plugins.module_utils._gpo import store as _gpo_store
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gplink import parse_gplink
from ansible_collections.scanready.windows.plugins.module_utils._gpo.inf import InfDocument
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import (
    GpoContent,
    ScanPolicy,
    apply_policy,
    policy_settings,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.registry_pol import PolEntry, render_registry_pol
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import Sysvol
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import DEFAULT_GPO_NAME

from tests.lab_support import (
    BIN,
    REPO,
    SAMDB_OPEN,
    LabInfo,
    ldb_search,
    load_lab,
    run_module,
    run_playbook,
    samba_python,
)
from tests.unit.test_gpo import EXPECTED_INF  # GptTmpl.inf as the Group Policy editor writes it

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
    (ScanPolicy(scanner_addresses=("10.202.0.1", "192.0.2.0/24"), firewall_enabled=True),
     "10.202.0.1,192.0.2.0/24", 1),
    (ScanPolicy(scanner_addresses=("*",), firewall_enabled=False), "*", 0),
    (ScanPolicy(scanner_addresses=("2001:db8::5",), firewall_enabled=None), "2001:db8::5", None),
])
def test_samba_reads_the_rendered_files(policy: ScanPolicy, addresses: str, firewall: int | None) -> None:
    content = apply_policy(GpoContent.parse(None, None), policy_settings(policy))
    seen = samba_reads(content.inf.render(), render_registry_pol(content.pol))
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
    content = apply_policy(start, policy_settings(ScanPolicy(scanner_addresses=("*",))))
    seen = samba_reads(content.inf.render(), render_registry_pol(content.pol))
    assert seen["inf"]["System Access"] == [["MinimumPasswordLength", "14"], ["EnableGuestAccount", "0"]]
    assert seen["inf"]["Privilege Rights"] == [["SeDenyNetworkLogonRight", ["*S-1-5-32-546"]]]
    assert seen["inf_rewritten_identical"] is True
    assert seen["pol"][:2] == [[r"Software\Policies\Vendor", "Note", 1, "kept"],
                               [r"Software\Policies\Vendor", "Level", 4, 3]]
    assert seen["pol_repacked_identical"] is True


# --- The module against the lab ------------------------------------------------------------------

NAME = DEFAULT_GPO_NAME
FOREIGN = "Foreign test policy (scanready)"
TEST_OU = "OU=ScanReady GPO Test"
COMPUTER = "gpotest01"
EXTENSIONS = ("[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F72-3407-48AE-BA88-E8213C6761F1}]"
              "[{827D319E-6EAC-11D2-A4EA-00C04F79F83A}{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}]")


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
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode:
        raise AssertionError(f"samba-tool {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def samba_tool_local(lab: LabInfo, *args: str, check: bool = True) -> str:
    """samba-tool on the DC's own database (no network, no credentials)."""
    proc = subprocess.run(["samba-tool", *args, "-H", lab.sam_ldb, "-s", str(lab.state / "etc" / "smb.conf")],
                          capture_output=True, text=True, timeout=120, check=False)
    if check and proc.returncode:
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


def set_display_name(lab: LabInfo, guid: str, name: str) -> None:
    code = SAMDB_OPEN + (
        "m = ldb.Message(ldb.Dn(db, sys.argv[3]))\n"
        "m['displayName'] = ldb.MessageElement(sys.argv[4], ldb.FLAG_MOD_REPLACE, 'displayName')\n"
        "db.modify(m)\n"
        "print(json.dumps(True))\n"
    )
    samba_python(code, str(lab.state / "etc" / "smb.conf"), lab.sam_ldb,
                 f"CN={guid},CN=Policies,CN=System,{base_dn(lab)}", name)


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
    return [(link.dn.lower(), link.options) for link in parse_gplink(value) if guid.lower() not in link.dn.lower()]


# One look through Samba at everything about the GPOs of a name: the DC's database, SYSVOL parsed by
# Samba's GPO parsers, and the folder's NT ACL against Samba's dsacl2fsacl of the object's descriptor
# (what `samba-tool gpo aclcheck` compares, read locally so a loop of crashes stays quick).
SAMBA_GPO_STATE = r"""
import json, os, sys, tempfile, ldb
from samba.param import LoadParm
from samba.auth import system_session
from samba.samdb import SamDB
from samba.dcerpc import security, preg
from samba.ndr import ndr_unpack, ndr_pack
from samba.ntacls import getntacl, dsacl2fsacl
from samba.gp_parse.gp_inf import GptTmplInfParser
conf, url, sysvol, name = sys.argv[1:5]
lp = LoadParm(); lp.load(conf)
db = SamDB(url=url, session_info=system_session(), lp=lp)
base = db.get_default_basedn()
sid = security.dom_sid(db.get_domain_sid())
text = lambda v: v.decode() if isinstance(v, bytes) else str(v)
out = {"gpos": [], "gplinks": {}}
for m in db.search(base="CN=Policies,CN=System,%s" % base, scope=ldb.SCOPE_ONELEVEL,
                   expression="(&(objectClass=groupPolicyContainer)(displayName=%s))" % ldb.binary_encode(name),
                   attrs=["*", "nTSecurityDescriptor"], controls=["sd_flags:1:7"]):
    gpo = {k: text(m[k][0]) for k in ("cn", "versionNumber", "flags", "gPCFunctionalityVersion",
                                      "gPCMachineExtensionNames", "gPCFileSysPath") if k in m}
    gpo["children"] = sorted(text(c["cn"][0]) for c in db.search(base=m.dn, scope=ldb.SCOPE_ONELEVEL, attrs=["cn"]))
    folder = os.path.join(sysvol, gpo["cn"])
    gpo["paths"] = sorted(os.path.relpath(os.path.join(r, n), folder) for r, ds, fs in os.walk(folder) for n in ds + fs)
    descriptor = ndr_unpack(security.descriptor, m["nTSecurityDescriptor"][0])
    gpo["denied_apply"] = sorted(str(a.trustee) for a in descriptor.dacl.aces
                                 if a.type == security.SEC_ACE_TYPE_ACCESS_DENIED_OBJECT
                                 and str(a.object.type).lower() == "edacfd8f-ffb3-11d1-b41d-00a0c968f939")
    if os.path.isdir(folder):
        want = dsacl2fsacl(descriptor.as_sddl(sid), sid)
        gpo["acl_ok"] = getntacl(lp, folder, system_session(), direct_db_access=True).as_sddl(sid) == want
    inf_path = os.path.join(folder, "Machine", "Microsoft", "Windows NT", "SecEdit", "GptTmpl.inf")
    if os.path.exists(inf_path):
        parser = GptTmplInfParser()
        parser.parse(open(inf_path, "rb").read())
        gpo["inf"] = {n: s.param_list for n, s in parser.sections.items() if s.param_list}
        with tempfile.TemporaryDirectory() as tmp:
            parser.write_binary(os.path.join(tmp, "x"))
            gpo["inf_rewritten_identical"] = open(os.path.join(tmp, "x"), "rb").read() == open(inf_path, "rb").read()
    pol_path = os.path.join(folder, "Machine", "Registry.pol")
    if os.path.exists(pol_path):
        raw = open(pol_path, "rb").read()
        parsed = ndr_unpack(preg.file, raw)
        gpo["pol"] = [[e.keyname, e.valuename, e.type, e.data if isinstance(e.data, (int, str)) else list(e.data)]
                      for e in parsed.entries]
        gpo["pol_repacked_identical"] = ndr_pack(parsed) == raw
    out["gpos"].append(gpo)
for m in db.search(base=base, expression="(gPLink=*)", attrs=["gPLink"]):
    out["gplinks"][str(m.dn)] = text(m["gPLink"][0])
print(json.dumps(out))
"""
GPO_PATHS = ["GPT.INI", "Machine", "Machine/Microsoft", "Machine/Microsoft/Windows NT",
             "Machine/Microsoft/Windows NT/SecEdit", "Machine/Microsoft/Windows NT/SecEdit/GptTmpl.inf",
             "Machine/Registry.pol", "User"]


def samba_gpo_state(lab: LabInfo, name: str) -> dict[str, Any]:
    state: dict[str, Any] = samba_python(SAMBA_GPO_STATE, str(lab.state / "etc" / "smb.conf"), lab.sam_ldb,
                                         str(policies_dir(lab)), name)
    return state


def assert_converged(lab: LabInfo, *, version: int, links: list[str], addresses: str = "10.202.0.1,192.0.2.0/28",
                     firewall: int | None = None, enforced: bool = False, inf: bytes | None = EXPECTED_INF,
                     extra_pol: list[list[object]] | None = None, with_samba_tool: bool = True) -> str:
    """Exactly one GPO of that name, complete and consistent by Samba's reading; returns its GUID."""
    state = samba_gpo_state(lab, NAME)
    assert len(state["gpos"]) == 1, [g["cn"] for g in state["gpos"]]
    gpo = state["gpos"][0]
    guid = str(gpo["cn"])
    domain = lab.vars["scanready_domain"]
    assert gpo["versionNumber"] == str(version)
    assert gpo["flags"] == "0" and gpo["gPCFunctionalityVersion"] == "2"
    assert gpo["gPCMachineExtensionNames"] == EXTENSIONS
    assert gpo["gPCFileSysPath"] == f"\\\\{domain}\\sysvol\\{domain}\\Policies\\{guid}"
    assert gpo["children"] == ["Machine", "User"]
    assert gpo["paths"] == GPO_PATHS  # nothing left over: no pending record, no temporary file
    assert gpo["acl_ok"] is True

    folder = policies_dir(lab) / guid
    assert (folder / "GPT.INI").read_bytes() == f"[General]\r\nVersion={version}\r\n".encode()
    if inf is not None:  # None: the file holds more than the module wrote, in someone else's order
        assert (folder / GPO_PATHS[5]).read_bytes() == inf
        assert gpo["inf"] == ARTICLE_INF and gpo["inf_rewritten_identical"]
    assert gpo["pol"] == (extra_pol or []) + expected_pol(addresses, firewall)
    assert gpo["pol_repacked_identical"]

    linked = {dn.lower(): [link.options for link in parse_gplink(value) if guid.lower() in link.dn.lower()]
              for dn, value in state["gplinks"].items()}
    assert {dn for dn, options in linked.items() if options} == {dn.lower() for dn in links}
    for dn in links:
        assert linked[dn.lower()] == [2 if enforced else 0]
    if with_samba_tool:
        samba_tool(lab, "gpo", "aclcheck")
    return guid


@pytest.fixture(scope="module")
def domain(lab: LabInfo) -> Iterator[dict[str, Any]]:
    """An OU holding a computer, and a foreign GPO linked at the root and (enforced) at the OU."""
    remove_gpos(lab, NAME)  # what an earlier, aborted session may have left
    remove_gpos(lab, FOREIGN)
    samba_tool_local(lab, "ou", "delete", ou_dn(lab), "--force-subtree-delete", check=False)
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
        pol_path.write_bytes(pol_path.read_bytes()[:8] + render_registry_pol([foreign_entry])[8:]
                             + pol_path.read_bytes()[8:])
        edited = snapshot(lab)
        would = run_module("scan_gpo", dict(args, firewall_enabled=False), check=True, diff=True)
        assert would.changed and would.result["changes"] == ["DomainProfile\\EnableFirewall: not configured → 0"]
        assert would.result["version"] == 2 and snapshot(lab) == edited
        changed = run_module("scan_gpo", dict(args, firewall_enabled=False), diff=True)
        assert changed.changed, changed.result
        assert changed.result["changes"] == ["DomainProfile\\EnableFirewall: not configured → 0"]
        assert "DomainProfile\\EnableFirewall: not configured" in changed.result["diff"]["before"]
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


def run_direct(lab: LabInfo, args: dict[str, Any], tmp: Path, *, kill_after: float | None = None,
               check: bool = False) -> dict[str, Any] | None:
    """The module file run as Ansible runs it on the target (AnsibleModule, its argument spec), minus
    Ansible's own start-up; None when kill_after seconds killed it first (SIGKILL, no clean-up)."""
    args_file = tmp / "args.json"
    args_file.touch(mode=0o600)
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check)}))
    cmd = [str(BIN / "python"), str(REPO / "plugins" / "modules" / "scan_gpo.py"), str(args_file)]
    if kill_after is not None:
        cmd = ["timeout", "-s", "KILL", f"{kill_after:.2f}", *cmd]
    env = dict(os.environ, PYTHONPATH=str(REPO / ".cache" / "collections"))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, check=False)
    args_file.unlink()
    if kill_after is not None and proc.returncode in (-9, 124, 137):  # timeout, or timeout killed with its group
        return None
    start = proc.stdout.find("{")
    assert start >= 0, proc.stdout + proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout[start:])
    return result


BAD_INPUTS = [
    ({"links": ["not a dn"]}, "is not a distinguished name"),
    ({"links": ["OU=Missing,{base}"]}, "OU=Missing,{base} does not exist"),
    ({"links": ["CN=Users,{base}"]}, "not a domain, organizational unit or site"),
    ({"scanner_addresses": ["10.0.0.300"]}, "'10.0.0.300' is not an IP address or CIDR network"),
    ({"scanner_addresses": ["10.0.0.1/24"]}, "has host bits set; did you mean 10.0.0.0/24?"),
    ({"scanner_addresses": ["*", "10.0.0.1"]}, "mixes '*' with addresses"),
    ({"scanner_addresses": None}, "scanner_addresses is required"),
    ({"firewall_enabled": "maybe"}, "firewall_enabled must be true, false or unmanaged"),
]


def test_bad_input_leaves_ldap_and_sysvol_byte_identical(lab: LabInfo, domain: dict[str, Any],
                                                         tmp_path: Path) -> None:
    base = base_dn(lab)
    try:
        first = run_direct(lab, module_args(lab), tmp_path)
        assert first and first["changed"], first
        before = snapshot(lab)
        for overrides, message in BAD_INPUTS:
            args = module_args(lab, **{key: [v.format(base=base) for v in value] if isinstance(value, list) else value
                                       for key, value in overrides.items()})  # a None drops the option
            result = run_direct(lab, args, tmp_path)
            assert result and result.get("failed"), (overrides, result)
            assert message.format(base=base) in result["msg"], result["msg"]
            assert snapshot(lab) == before, overrides

        # Two GPOs with the display name: clear error naming both, nothing changed, whatever the state asked.
        # samba-tool refuses a second GPO of a name, so make one under another name and rename it in the database.
        duplicate = re.search(r"\{[0-9A-F-]{36}\}", samba_tool(lab, "gpo", "create", NAME + " 2").stdout)
        assert duplicate
        set_display_name(lab, duplicate.group(0), NAME)
        before = snapshot(lab)
        for state in ("present", "absent"):
            result = run_direct(lab, module_args(lab, firewall_enabled=False, state=state), tmp_path)
            assert result and result.get("failed"), result
            assert first["guid"] in result["msg"] and duplicate.group(0) in result["msg"]
            assert "2 GPOs are named" in result["msg"]
            assert snapshot(lab) == before
    finally:
        remove_gpos(lab, NAME)


def test_secrets_never_in_output(lab: LabInfo, domain: dict[str, Any]) -> None:
    password = lab.vars["scanready_admin_password"]
    wrong = "Wrong-" + password
    runs = [run_module("scan_gpo", module_args(lab), check=True, diff=True, verbosity=4),
            run_module("scan_gpo", module_args(lab, scanner_addresses=["bad"]), verbosity=4),
            run_module("scan_gpo", module_args(lab, admin_password=wrong), check=True, verbosity=4)]
    assert runs[0].changed and not runs[0].failed
    assert runs[2].failed and "refused" in runs[2].result["msg"]
    for run in runs:
        assert password not in run.output and wrong not in run.output
    assert gpos_named(lab, NAME) == []


# --- Crashes -------------------------------------------------------------------------------------

class Crash(BaseException):
    """Stands for the process dying at this point: nothing after it runs."""


class WriteBudget:
    """Lets `writes` writes through (LDAP add/modify/delete, SMB create/write/rename/delete/set ACL), then crashes."""

    def __init__(self, writes: int) -> None:
        self.left = writes

    def spend(self, what: str) -> None:
        if self.left == 0:
            raise Crash(what)
        self.left -= 1

    def wrap(self, call: Callable[..., Any], what: str) -> Callable[..., Any]:
        def spending(*args: Any, **kwargs: Any) -> Any:
            self.spend(what)
            return call(*args, **kwargs)
        return spending


class CrashingLdap:
    def __init__(self, conn: _ldap.DomainConnection, budget: WriteBudget) -> None:
        self.base_dn, self.settings = conn.base_dn, conn.settings
        self.search = conn.search
        self.add = budget.wrap(conn.add, "ldap add")
        self.modify = budget.wrap(conn.modify, "ldap modify")
        self.delete = budget.wrap(conn.delete, "ldap delete")


def run_store(lab: LabInfo, request: _gpo_store.Request, budget: WriteBudget | None = None) -> _gpo_store.Outcome:
    """The module's logic in-process against the lab; with a budget it dies before write number budget+1."""
    conn = _ldap.connect(dict(lab.connection_args(), tls="ldaps", validate_certs=True, connect_timeout=10))
    settings = conn.settings
    try:
        def open_sysvol(share: str) -> Sysvol:
            sysvol = Sysvol.connect(settings.host, conn.peer_address, settings.bind_user, settings.password,
                                    settings.timeout, share)
            if budget is not None:
                smb: Any = sysvol._conn
                for name in ("putFile", "rename", "createDirectory", "deleteFile", "deleteDirectory"):
                    setattr(smb, name, budget.wrap(getattr(smb, name), name))
                sysvol.set_security = budget.wrap(sysvol.set_security, "set ACL")  # type: ignore[method-assign]
            return sysvol
        ldap: Any = conn if budget is None else CrashingLdap(conn, budget)
        return _gpo_store.run(ldap, open_sysvol, request, settings.domain, False)
    finally:
        conn.close()


def crash_at_every_write(reset: Callable[[], Any], crash_run: Callable[[WriteBudget], Any],
                         repair: Callable[[Any], None]) -> int:
    """For k = 0, 1, ...: reset, run dying before write k+1, then repair and check; until a run gets through.
    Returns the number of write points crashed at."""
    deadline = time.monotonic() + 400
    for k in range(60):
        assert time.monotonic() < deadline, f"crash test over time at write point {k}"
        token = reset()
        try:
            crash_run(WriteBudget(k))
        except Crash:
            repair(token)
            continue
        return k
    raise AssertionError("a run made more than 60 writes")


def request_for(lab: LabInfo, state: str = "present", firewall: bool | None = True) -> _gpo_store.Request:
    policy = ScanPolicy(firewall_enabled=firewall, scanner_addresses=("10.202.0.1", "192.0.2.0/28"))
    return _gpo_store.Request(NAME, state, policy, (base_dn(lab),), False)


def test_crash_at_every_write_is_repaired_by_the_next_run(lab: LabInfo, domain: dict[str, Any]) -> None:
    present, changed, absent = request_for(lab), request_for(lab, firewall=False), request_for(lab, "absent")
    root = [base_dn(lab)]
    other_folders = {p.name for p in policies_dir(lab).iterdir()}

    def repaired(request: _gpo_store.Request, check: Callable[[], None]) -> None:
        assert run_store(lab, request).changed
        check()  # exact enough (versions, every path, ACL, links) that the next run has nothing left to do

    def gone() -> None:
        state = samba_gpo_state(lab, NAME)
        assert state["gpos"] == [] and state["gplinks"] == domain["links"]
        assert {p.name for p in policies_dir(lab).iterdir()} == other_folders

    def at_present() -> int:
        run_store(lab, present)
        return int(gpos_named(lab, NAME)[0]["versionNumber"][0])

    try:
        # Creating: killed anywhere, the next run ends at exactly one complete GPO at version 1.
        creates = crash_at_every_write(
            lambda: run_store(lab, absent), lambda budget: run_store(lab, present, budget),
            lambda _: repaired(present, lambda: assert_converged(
                lab, version=1, links=root, firewall=1, with_samba_tool=False)))
        assert creates >= 15
        assert not run_store(lab, present).changed

        # Changing one setting: killed anywhere, the version still moves by exactly one.
        changes = crash_at_every_write(
            at_present, lambda budget: run_store(lab, changed, budget),
            lambda version: repaired(changed, lambda: assert_converged(lab, version=version + 1, links=root,
                                                                       firewall=0, with_samba_tool=False)))
        assert changes >= 4
        assert not run_store(lab, changed).changed
        assert_converged(lab, version=int(gpos_named(lab, NAME)[0]["versionNumber"][0]), links=root, firewall=0)

        # Removing: killed anywhere, the next run removes the rest; other GPOs' links are untouched.
        removes = crash_at_every_write(at_present, lambda budget: run_store(lab, absent, budget),
                                       lambda _: repaired(absent, gone))
        assert removes >= 4
        assert not run_store(lab, absent).changed
    finally:
        remove_gpos(lab, NAME)


def test_killed_runs_then_one_clean_run_converges(lab: LabInfo, domain: dict[str, Any], tmp_path: Path) -> None:
    """The real thing: the module process SIGKILLed at points spread over a run, bounded in count and time."""
    def variant(attempt: int) -> dict[str, Any]:
        if attempt % 3 == 2:
            return module_args(lab, state="absent")
        return module_args(lab, firewall_enabled=attempt % 2 == 0, scanner_addresses=["10.202.0.1"] if attempt % 4
                           else ["*"])

    outcomes: list[str] = []
    try:
        started = time.monotonic()
        timed = run_direct(lab, variant(0), tmp_path)
        assert timed and timed["changed"], timed
        # The kill point adapts to the machine's load: later when a run died before writing anything,
        # earlier when it finished, so the kills land among the writes.
        delay = 0.6 * (time.monotonic() - started)
        deadline = time.monotonic() + 240
        for attempt in range(1, 17):
            if time.monotonic() > deadline:
                break
            before = snapshot(lab)
            result = run_direct(lab, variant(attempt), tmp_path, kill_after=delay)
            if result is None and snapshot(lab) == before:
                outcomes.append("killed before writing")
                delay *= 1.2
            elif result is None:
                outcomes.append("killed mid-run")
                delay *= 1.05
            else:
                outcomes.append(f"failed: {result['msg']}" if result.get("failed") else "finished")
                delay *= 0.8
        assert not [o for o in outcomes if o.startswith("failed")], outcomes
        assert outcomes.count("killed mid-run") >= 2, outcomes

        final = module_args(lab, firewall_enabled=False)
        clean = run_direct(lab, final, tmp_path)
        assert clean and not clean.get("failed"), clean
        version = int(gpos_named(lab, NAME)[0]["versionNumber"][0])
        assert version == clean["version"] and version & 0xFFFF >= 1
        assert_converged(lab, version=version, links=[base_dn(lab)], firewall=0)
        again = run_direct(lab, final, tmp_path)
        assert again and not again["changed"], again
    finally:
        remove_gpos(lab, NAME)


# --- The role ------------------------------------------------------------------------------------

PLAY = """\
- name: Scan policy
  hosts: domain_controllers
  gather_facts: false
  roles:
    - role: scanready.windows.scan_policy
"""


def recap_changed(output: str) -> int:
    match = re.search(r"changed=(\d+)", output)
    assert match, output
    return int(match.group(1))


def test_scan_policy_role(lab: LabInfo, domain: dict[str, Any], tmp_path: Path) -> None:
    playbook = tmp_path / "scan_policy.yml"
    playbook.write_text(PLAY)
    links = json.dumps({"scanready_gpo_links": [ou_dn(lab)]})
    password = lab.vars["scanready_admin_password"]
    try:
        first = run_playbook(playbook, lab.inventory, "-e", links)
        assert first.returncode == 0, first.stdout + first.stderr
        assert recap_changed(first.stdout) == 1
        inventory_addresses = ",".join(lab.vars["scanready_scanner_addresses"])
        assert_converged(lab, version=1, links=[ou_dn(lab)], addresses=inventory_addresses)
        second = run_playbook(playbook, lab.inventory, "-e", links)
        assert second.returncode == 0 and recap_changed(second.stdout) == 0, second.stdout
        bad = run_playbook(playbook, lab.inventory, "-e", json.dumps({"scanready_gpo_state": "gone"}))
        assert bad.returncode != 0 and "scanready_gpo_state" in bad.stdout
        removed = run_playbook(playbook, lab.inventory, "-e", json.dumps({"scanready_gpo_state": "absent"}))
        assert removed.returncode == 0 and recap_changed(removed.stdout) == 1, removed.stdout
        assert gpos_named(lab, NAME) == []
        for run in (first, second, bad, removed):
            assert password not in run.stdout + run.stderr
    finally:
        remove_gpos(lab, NAME)
