"""A GPO someone else made under the scanner GPO's name is refused, adopted only when asked, and never followed
outside its own folder. Samba is the oracle: the DC's database, samba-tool gpo aclcheck, SYSVOL on disk."""
from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.test_scan_gpo import base_dn, gplinks, policies_dir, samba_tool, samba_tool_local, snapshot
from tests.lab_support import LAB, REPO, SAMDB_OPEN, LabInfo, load_lab, run_module, run_playbook, samba_python

NAME = "Authenticated scanning (scanready)"
SQUATTER = "gpo_squatter"
SQUATTER_PASSWORD = "Squat-Only-Throwaway-1"
# What Windows grants Group Policy Creator Owners on CN=Policies (create groupPolicyContainer); Samba's
# provision leaves it out, so a delegated GPO creator has to be given it as a Windows domain gives it.
GPCO_CREATE_GPO = "(OA;;CC;f30e3bc2-9ff0-11d1-b603-0000f80367c1;;PA)"

# The squatter makes the GPO over the network with their own credentials, as samba-tool gpo create does
# (which a non-admin cannot finish on Samba: it sets the folder's owner to Domain Admins).
SQUAT = r"""
import json, sys, uuid
from samba.param import LoadParm
from samba.credentials import Credentials
from samba.samdb import SamDB
from samba.netcmd.gpo import smb_connection
conf, dc, realm, user, password, name = sys.argv[1:7]
lp = LoadParm(); lp.load(conf)
creds = Credentials(); creds.guess(lp); creds.set_username(user); creds.set_password(password)
creds.set_domain(""); creds.set_realm(realm.upper())
db = SamDB(url="ldap://" + dc, credentials=creds, lp=lp)
guid = "{%s}" % str(uuid.uuid4()).upper()
dn = "CN=%s,CN=Policies,CN=System,%s" % (guid, db.get_default_basedn())
db.add({"dn": dn, "objectClass": "groupPolicyContainer", "displayName": name, "versionNumber": "0", "flags": "0",
        "gPCFileSysPath": "\\\\%s\\sysvol\\%s\\Policies\\%s" % (realm, realm, guid), "gPCFunctionalityVersion": "2"})
for child in ("User", "Machine"):
    db.add({"dn": "CN=%s,%s" % (child, dn), "objectClass": "container"})
conn = smb_connection(dc, "sysvol", lp=lp, creds=creds)
folder = "%s\\Policies\\%s" % (realm, guid)
for sub in ("", "\\Machine", "\\User"):
    conn.mkdir(folder + sub)
conn.savefile(folder + "\\GPT.INI", b"[General]\r\nVersion=0\r\n")
print(json.dumps(guid))
"""

SECURITY = SAMDB_OPEN + r"""
from samba.dcerpc import security
from samba.ndr import ndr_unpack
sid = security.dom_sid(db.get_domain_sid())
m = db.search(base=sys.argv[3], scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"], controls=["sd_flags:1:7"])[0]
print(json.dumps(ndr_unpack(security.descriptor, m["nTSecurityDescriptor"][0]).as_sddl(sid)))
"""


@pytest.fixture(scope="module")
def lab() -> Iterator[LabInfo]:
    subprocess.run([str(LAB), "--instance", "gpo", "down"], check=False, capture_output=True)
    info = load_lab("gpo")
    try:
        samba_tool_local(info, "user", "create", SQUATTER, SQUATTER_PASSWORD)
        samba_tool_local(info, "group", "addmembers", "Group Policy Creator Owners", SQUATTER)
        samba_tool_local(info, "dsacl", "set", f"--objectdn=CN=Policies,CN=System,{base_dn(info)}",
                         f"--sddl={GPCO_CREATE_GPO}")
        yield info
    finally:
        subprocess.run([str(LAB), "--instance", "gpo", "down"], check=False, capture_output=True)


def squat(lab: LabInfo, name: str = NAME) -> str:
    guid: str = samba_python(SQUAT, str(lab.state / "etc" / "smb.conf"), lab.vars["scanready_dc"],
                             lab.vars["scanready_domain"], SQUATTER, SQUATTER_PASSWORD, name)
    return guid


def gpo_dn(lab: LabInfo, guid: str) -> str:
    return f"CN={guid},CN=Policies,CN=System,{base_dn(lab)}"


def sddl(lab: LabInfo, guid: str) -> str:
    text: str = samba_python(SECURITY, str(lab.state / "etc" / "smb.conf"), lab.sam_ldb, gpo_dn(lab, guid))
    return text


def squatter_sid(lab: LabInfo) -> str:
    code = SAMDB_OPEN + (
        "from samba.dcerpc import security\nfrom samba.ndr import ndr_unpack\n"
        "m = db.search(expression='(sAMAccountName=%s)' % sys.argv[3], attrs=['objectSid'])[0]\n"
        "print(json.dumps(str(ndr_unpack(security.dom_sid, m['objectSid'][0]))))\n")
    sid: str = samba_python(code, str(lab.state / "etc" / "smb.conf"), lab.sam_ldb, SQUATTER)
    return sid


def args(lab: LabInfo, **extra: Any) -> dict[str, Any]:
    return {**lab.connection_args(), "name": NAME, "scanner_addresses": ["10.204.0.1"], **extra}


def test_squatted_gpo_is_refused_then_adopted(lab: LabInfo) -> None:
    guid = squat(lab)
    creator = squatter_sid(lab)
    assert f"O:{creator}" in sddl(lab, guid) and creator in sddl(lab, guid).partition("D:")[2]
    before = snapshot(lab)

    for check in (True, False):
        run = run_module("scan_gpo", args(lab), check=check)
        assert run.failed, run.result
        msg = run.result["msg"]
        assert guid in msg and gpo_dn(lab, guid) in msg and NAME in msg, msg
        assert creator in msg and "adopt: true" in msg and "scanready_gpo_guid" in msg, msg
        assert "\n" not in msg and "Traceback" not in run.output
        assert snapshot(lab) == before  # nothing written, nothing linked
    assert guid.lower() not in gplinks(lab).get(base_dn(lab), "").lower()

    adopted = run_module("scan_gpo", args(lab, adopt=True), check=True)
    assert adopted.changed and adopted.result["security"]["acl_reset"] and not adopted.result["security"]["trusted"]
    assert snapshot(lab) == before

    adopted = run_module("scan_gpo", args(lab, adopt=True))
    assert adopted.changed and not adopted.failed, (adopted.result.get("msg"), adopted.result.get("module_stderr"))
    assert adopted.result["guid"] == guid
    now = sddl(lab, guid)
    assert now.startswith("O:DAG:DAD:P") and creator not in now, now
    samba_tool(lab, "gpo", "aclcheck")
    assert guid.lower() in gplinks(lab)[base_dn(lab)].lower()

    again = run_module("scan_gpo", args(lab, adopt=True))
    assert not again.changed, again.result["actions"]
    # Once reset, the GPO is the administrators' own: no adopt needed any more.
    plain = run_module("scan_gpo", args(lab))
    assert not plain.changed and plain.result["security"]["trusted"], plain.result
    pinned = run_module("scan_gpo", args(lab, guid=guid.lower()))
    assert not pinned.changed and pinned.result["guid"] == guid


def test_file_sys_path_elsewhere_is_refused(lab: LabInfo) -> None:
    guid = squat(lab, "Points elsewhere")
    run_module("scan_gpo", args(lab, name="Points elsewhere", guid=guid))  # adopted: only the path is wrong now
    other = policies_dir(lab) / "{31B2F340-016D-11D2-945F-00C04FB984F9}"  # the Default Domain Policy
    elsewhere = f"\\\\{lab.vars['scanready_domain']}\\sysvol\\{lab.vars['scanready_domain']}\\Policies\\" \
                "{31B2F340-016D-11D2-945F-00C04FB984F9}"
    samba_python(SAMDB_OPEN + (
        "m = ldb.Message(ldb.Dn(db, sys.argv[3]))\n"
        "m['gPCFileSysPath'] = ldb.MessageElement(sys.argv[4], ldb.FLAG_MOD_REPLACE, 'gPCFileSysPath')\n"
        "db.modify(m)\nprint(json.dumps(True))\n"), str(lab.state / "etc" / "smb.conf"), lab.sam_ldb,
        gpo_dn(lab, guid), elsewhere)
    before = snapshot(lab)
    for state in ("present", "absent"):
        run = run_module("scan_gpo", args(lab, name="Points elsewhere", guid=guid, state=state))
        assert run.failed and "gPCFileSysPath" in run.result["msg"] and guid in run.result["msg"], run.result
        assert snapshot(lab) == before
    assert (other / "GPT.INI").is_file()
    samba_tool(lab, "gpo", "show", "{31B2F340-016D-11D2-945F-00C04FB984F9}")


def rollback(lab: LabInfo, name: str) -> str:
    """rollback.yml's policy stage for the GPO of that name; its output, with the exit status checked by the caller."""
    proc = run_playbook(REPO / "playbooks" / "rollback.yml", lab.inventory, "--tags", "policy",
                        "-e", json.dumps({"scanready_gpo_name": name}))
    return f"rc={proc.returncode}\n{proc.stdout}{proc.stderr}"


def test_rollback_removes_only_a_gpo_the_collection_made(lab: LabInfo) -> None:
    """Issue 21, item 1: with the Default Domain Policy's name (a copy-paste slip) and with a squatted GPO's name
    rollback refuses in one line and changes nothing; the GPO this collection made is still removed."""
    squat(lab, "Squatted for rollback")
    before = snapshot(lab)
    for name, says in (("Default Domain Policy", "is the domain's Default Domain Policy"),
                       ("Squatted for rollback", "is not under the domain administrators' control")):
        output = rollback(lab, name)
        assert output.startswith("rc=2") and says in output and "Traceback" not in output, output[-3000:]
        msg = next(line for line in output.splitlines() if says in line)
        assert "Nothing was changed" in msg
        assert snapshot(lab) == before
    samba_tool(lab, "gpo", "show", "{31B2F340-016D-11D2-945F-00C04FB984F9}")

    made = run_module("scan_gpo", args(lab, name="Made for rollback", links=[]))
    assert made.changed and not made.failed, made.result
    output = rollback(lab, "Made for rollback")
    assert output.startswith("rc=0"), output[-3000:]
    assert "Made for rollback" not in json.dumps(snapshot(lab)["ldap"])
