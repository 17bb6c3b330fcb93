"""Bad input, table-driven (issue 11, item 7): every module, run through ansible itself against the lab (instance
`badin`), fails with one line naming the offending input -- no traceback, no "MODULE FAILURE" -- and leaves LDAP
and SYSVOL byte-identical as Samba reads them. Where a "bad" input is in fact acceptable, the row (its id says
`accepted`) asserts the correct behaviour instead.

The snapshot is one Samba python call per run: every record of the domain partition read straight from its ldb
file (no modules, so a descriptor Samba cannot parse still reads) minus the attributes a logon or bind updates,
and a hash of every file and folder (contents and NT ACL) under the DC's sysvol folder. badPwdCount and
badPasswordTime stay in: a bad input must never cost the account a bad logon.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.lab_support import (
    BIN,
    LAB,
    REPO,
    SAMDB_OPEN,
    LabInfo,
    ModuleRun,
    ansible_env,
    load_lab,
    run_module,
    samba_python,
)

pytestmark = pytest.mark.lab

INSTANCE = "badin"
SCANNER = "badin_scanner"
SCANNER_PASSWORD = "Lab-Only-Badin-Scanner-1"  # the lab's throwaway
GPO_PREFIX = "badin "
# GPOs the collection makes, then planted with a malformed or hostile part each.
CORRUPT = ("gptini", "regpol", "sd", "open")
TEN_THOUSAND = 10_000
ROW_TIMEOUT = 90  # seconds one module run may take before the row fails

SNAPSHOT = r"""
import hashlib, json, os, sys, ldb
VOLATILE = {"lastlogon", "lastlogontimestamp", "logoncount", "usnchanged", "whenchanged", "replpropertymetadata"}
raw = ldb.Ldb(sys.argv[1], flags=ldb.FLG_RDONLY, options=["modules:"])
out = {"ldap": {}, "files": {}}
for m in raw.search(expression="(objectClass=*)"):
    h = hashlib.sha256()
    for k in sorted(m.keys(), key=str.lower):
        if k == "dn" or k.lower() in VOLATILE:
            continue
        for v in sorted(bytes(x) for x in m[k]):
            h.update(k.lower().encode() + b"\0" + v + b"\0")
    out["ldap"][str(m.dn).lower()] = h.hexdigest()
root = sys.argv[2]
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        try:
            acl = os.getxattr(p, "security.NTACL", follow_symlinks=False)
        except OSError:
            acl = b"-"
        h = hashlib.sha256(acl)
        if os.path.isfile(p) and not os.path.islink(p):
            with open(p, "rb") as f:
                h.update(f.read())
        out["files"][os.path.relpath(p, root)] = h.hexdigest()
print(json.dumps(out))
"""

# Plant bytes Samba's descriptor module would refuse (a DACL offset far past the end) into a GPO object's
# nTSecurityDescriptor: SamDB refuses the modify ("operations error at descriptor.c"), so it is written through
# ldb on the partition file itself, without modules.
PLANT_SD = r"""
import json, sys, ldb
raw = ldb.Ldb(sys.argv[1], options=["modules:"])
m = ldb.Message(ldb.Dn(raw, sys.argv[2]))
m["nTSecurityDescriptor"] = ldb.MessageElement(bytes.fromhex(sys.argv[3]), ldb.FLAG_MOD_REPLACE,
                                               "nTSecurityDescriptor")
raw.modify(m)
print(json.dumps(True))
"""
BOGUS_SD = bytes.fromhex("01000480") + b"\xff" * 12  # revision 1, self-relative, owner/group/sacl/dacl offsets ~4 GiB
# A descriptor Samba does store (through its own modules): Everyone may do anything to the GPO.
PLANT_OPEN_SD = SAMDB_OPEN + r"""
from samba.dcerpc import security
from samba.ndr import ndr_pack
sd = security.descriptor.from_sddl("O:DAG:DAD:P(A;;GA;;;WD)(A;;GA;;;DA)", security.dom_sid(db.get_domain_sid()))
m = ldb.Message(ldb.Dn(db, sys.argv[3]))
m["nTSecurityDescriptor"] = ldb.MessageElement(ndr_pack(sd), ldb.FLAG_MOD_REPLACE, "nTSecurityDescriptor")
db.modify(m, controls=["sd_flags:1:7"])
print(json.dumps(True))
"""
BOGUS_GPT_INI = b"\xff\xfe[General\x00\r\nVersion=twelve\r\n\x00\x00garbage"
BOGUS_REGISTRY_POL = b"PReg\x01\x00\x00\x00[\x00S\x00O\x00F\x00\x00\x00;\x00" + b"\xff" * 7  # cut off mid-entry


@dataclass
class Ctx:
    lab: LabInfo
    garbage_port: int
    gpo_guids: dict[str, str]
    tmp: Path

    @property
    def base(self) -> str:
        return str(self.lab.vars["lab_base_dn"])

    @property
    def dc_name(self) -> str:
        return str(self.lab.vars["scanready_dc"])

    @property
    def dc_address(self) -> str:
        return str(self.lab.vars["lab_dc_address"])

    @property
    def scanner_address(self) -> str:
        return str(self.lab.vars["scanready_scanner_addresses"][0])


def snapshot(lab: LabInfo) -> dict[str, dict[str, str]]:
    partition = f"{lab.sam_ldb}.d/{lab.vars['lab_base_dn'].upper()}.ldb"
    result: dict[str, dict[str, str]] = samba_python(SNAPSHOT, partition, str(lab.state / "state" / "sysvol"))
    return result


def differences(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[str]:
    out = []
    for part in ("ldap", "files"):
        for key in sorted(set(before[part]) | set(after[part])):
            if before[part].get(key) != after[part].get(key):
                state = "added" if key not in before[part] else "removed" if key not in after[part] else "changed"
                out.append(f"{part} {state}: {key}")
    return out


# ---------------------------------------------------------------- a garbage "LDAPS" server

@contextlib.contextmanager
def garbage_server(lifetime: float = 170.0, max_connections: int = 200) -> Iterator[int]:
    """127.0.0.1:<free port> answering every connection with bytes that are neither TLS nor LDAP. It stops by
    itself after `lifetime` seconds or `max_connections` connections, whichever comes first."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.5)
    stop = threading.Event()
    deadline = time.monotonic() + lifetime

    def serve() -> None:
        served = 0
        while not stop.is_set() and time.monotonic() < deadline and served < max_connections:
            try:
                conn, _peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            served += 1
            with conn:
                conn.settimeout(1.0)
                with contextlib.suppress(OSError):
                    conn.recv(4096)
                    conn.sendall(b"\x16\x03\x01\x00\x05HELLO garbage \x00\xff" * 64 + b"\r\n-ERR not ldap\r\n")
        listener.close()

    thread = threading.Thread(target=serve, name="garbage-ldaps", daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)


# ---------------------------------------------------------------- fixtures

def samba_tool(lab: LabInfo, *args: str) -> None:
    subprocess.run(["samba-tool", *args, "-H", lab.sam_ldb], capture_output=True, text=True, check=True, timeout=60)


def sysvol_policy(lab: LabInfo, guid: str) -> Path:
    return lab.state / "state" / "sysvol" / lab.vars["scanready_domain"] / "Policies" / guid


def plant(lab: LabInfo, kind: str, guid: str) -> None:
    """Corrupt one part of a GPO the collection made, writing through Samba's own storage (never our code)."""
    folder = sysvol_policy(lab, guid)
    if kind == "gptini":
        (folder / "GPT.INI").write_bytes(BOGUS_GPT_INI)  # in place: the file keeps its NT ACL
    elif kind == "regpol":
        (folder / "Machine" / "Registry.pol").write_bytes(BOGUS_REGISTRY_POL)
    elif kind == "open":
        samba_python(PLANT_OPEN_SD, str(lab.state / "etc" / "smb.conf"), lab.sam_ldb,
                     f"CN={guid},CN=Policies,CN=System,{lab.vars['lab_base_dn']}")
    else:
        partition = f"{lab.sam_ldb}.d/{lab.vars['lab_base_dn'].upper()}.ldb"
        samba_python(PLANT_SD, partition, f"CN={guid},CN=Policies,CN=System,{lab.vars['lab_base_dn']}",
                     BOGUS_SD.hex())


@pytest.fixture(scope="module")
def ctx() -> Iterator[Ctx]:
    lab = load_lab(INSTANCE)
    try:
        subprocess.run(["samba-tool", "user", "delete", SCANNER, "-H", lab.sam_ldb], capture_output=True, check=False)
        samba_tool(lab, "user", "create", SCANNER, SCANNER_PASSWORD)
        samba_tool(lab, "group", "addmembers", "Domain Admins", SCANNER)
        guids = {}
        for kind in CORRUPT:
            run = run_module("scan_gpo", {**lab.connection_args(), "name": GPO_PREFIX + kind, "links": [],
                                          "scanner_addresses": [lab.vars["scanready_scanner_addresses"][0]]},
                             timeout=ROW_TIMEOUT)
            assert not run.failed and run.result["guid"], run.output
            guids[kind] = run.result["guid"]
            plant(lab, kind, guids[kind])
        with garbage_server() as port, tempfile.TemporaryDirectory(prefix="badin-") as tmp:
            expired_ticket(lab, Path(tmp) / "expired.ccache")
            yield Ctx(lab, port, guids, Path(tmp))
    finally:
        subprocess.run([str(LAB), "--instance", INSTANCE, "down"], capture_output=True, check=False, timeout=120)


def expired_ticket(lab: LabInfo, cache: Path) -> None:
    """The operator's ticket with a lifetime of two seconds, once it has run out (at most ten seconds)."""
    env = {**os.environ, "KRB5_CONFIG": f"{lab.vars['lab_state_dir']}/krb5.conf", "KRB5CCNAME": f"FILE:{cache}"}
    subprocess.run(["kinit", "-l", "2s", "--", lab.vars["scanready_admin_username"]], check=True, text=True,
                   input=lab.vars["scanready_admin_password"] + "\n", env=env, capture_output=True, timeout=30)
    deadline = time.monotonic() + 10
    while subprocess.run(["klist", "-s"], env=env, check=False, timeout=10).returncode == 0:
        assert time.monotonic() < deadline, "the two-second ticket did not expire"
        time.sleep(0.5)


# ---------------------------------------------------------------- argument builders

def account(c: Ctx, **extra: Any) -> dict[str, Any]:
    return {**c.lab.connection_args(), "name": "badin_acct", "password": "Lab-Only-Badin-Acct-1",
            "privilege": "none", **extra}


def gpo(c: Ctx, **extra: Any) -> dict[str, Any]:
    return {**c.lab.connection_args(), "name": GPO_PREFIX + "plain", "links": [c.base],
            "scanner_addresses": [c.scanner_address], **extra}


def verify(c: Ctx, **extra: Any) -> dict[str, Any]:
    return {"domain": c.lab.vars["scanready_domain"], "dc": c.dc_name, "username": SCANNER,
            "password": SCANNER_PASSWORD, **extra}


def single(c: Ctx, **extra: Any) -> dict[str, Any]:
    """share_access / registry_access against the DC (a ready target) unless the row says otherwise."""
    return verify(c, **{"target": c.dc_address, "name": c.dc_name, **extra})


def readiness(c: Ctx, **extra: Any) -> dict[str, Any]:
    return verify(c, **{"targets": [{"name": c.dc_name, "address": c.dc_address}], "wmi_namespaces": [], **extra})


# ---------------------------------------------------------------- expectations

Check = Callable[[Ctx, dict[str, Any]], None]


@dataclass(frozen=True)
class Fails:
    """failed, one line, naming the input (each substring, formatted with the context)."""

    names: tuple[str, ...]
    # Also acceptable: the module accepts the input and does the right thing (checked by `accepted`).
    accepted: Check | None = None


@dataclass(frozen=True)
class Accepted:
    check: Check


def fails(*names: str, accepted: Check | None = None) -> Fails:
    return Fails(names, accepted)


def created_dn(cn: str) -> Check:
    def check(c: Ctx, result: dict[str, Any]) -> None:
        assert result["changed"] is True and result["dn"] == f"CN={cn},CN=Users,{c.base}", result
    return check


def gpo_would_be_created(name: str) -> Check:
    def check(c: Ctx, result: dict[str, Any]) -> None:
        assert result["changed"] is True, result
        assert any(name in action or repr(name) in action for action in result["actions"]), result["actions"]
    return check


def one_remote_address(c: Ctx, result: dict[str, Any]) -> None:
    after = str(result["diff"]["after"])
    assert after.count(c.scanner_address) >= 1, after
    assert f"{c.scanner_address},{c.scanner_address}" not in after, "the duplicates reached the policy"


def linked_once(c: Ctx, result: dict[str, Any]) -> None:
    links = [str(link).lower() for link in result["links"]]
    assert links.count(c.base.lower()) == 1, result["links"]


def ran_once_per_target(c: Ctx, result: dict[str, Any]) -> None:
    assert len(result["hosts"]) == 1, f"{len(result['hosts'])} hosts reported"
    assert result["hosts"][0]["address"] == c.dc_address


def one_share_check(c: Ctx, result: dict[str, Any]) -> None:
    assert result["accessible"] is True, result.get("msg", result)
    assert [name for name in result["checks"] if name.startswith("share:")] == ["share:IPC$"], result["checks"]


def bad_targets_reported_per_host(c: Ctx, result: dict[str, Any]) -> None:
    hosts = {host["name"]: host for host in result["hosts"]}
    assert set(hosts) == {"v6", "cidr", "web01..corp"}, hosts
    for name, shown in (("v6", "::1"), ("cidr", "10.203.1.0/24"), ("web01..corp", "web01..corp")):
        logon = hosts[name]["checks"]["logon"]
        assert hosts[name]["ready"] is False and logon["ok"] is False, hosts[name]
        assert shown in logon["detail"], logon


# A GPO every domain has (the Default Domain Controllers Policy; not the GUID the refusal gives as its example),
# pinned by its GUID: with a trailing newline it must not be found, let alone adopted.
DEFAULT_DC_POLICY = "{6AC1786C-016F-11D2-945F-00C04FB984F9}"
# Text a host's name or answer may carry, each shaped to become markup in the ticket or the page if unescaped.
MARKUP = {
    "<script>alert(1)</script>": "[x](javascript:alert(1)) <img src=x onerror=alert(1)> `code` *em* | pipe",
    "| pipe": '" onmouseover="alert(1) <b>bold</b> &amp;',
    "[x](javascript:alert(1))": "![i](http://evil.invalid/x.png) <https://evil.invalid> <!-- comment",
}


def markup_result(c: Ctx) -> dict[str, Any]:
    """A scan_readiness result (its contract) with one ready host and the MARKUP hosts, not ready."""
    def host(name: str, address: str, ok: bool, cls: str, detail: str) -> dict[str, Any]:
        fix = None if ok else "<iframe src=//evil.invalid></iframe> [fix](javascript:x)"
        return {"name": name, "address": address, "ready": ok, "auth_scheme": "kerberos-aes" if ok else None,
                "checks": {"logon": {"ok": ok, "class": cls, "required": True, "detail": detail, "fix": fix}}}
    hosts = [host(c.dc_name, c.dc_address, True, "ok", "Kerberos AES session")]
    hosts += [host(name, f"10.203.9.{i}", False, "access_denied", detail)
              for i, (name, detail) in enumerate(MARKUP.items(), start=1)]
    return {"domain": c.lab.vars["scanready_domain"], "account": SCANNER, "hosts": hosts}


def report(c: Ctx, result: dict[str, Any], folder: str) -> dict[str, Any]:
    """readiness_report writing into its own folder (each check removes it), never the table's "report"."""
    return {"result": result, "dest": str(c.tmp / folder)}


def markdown_html(text: str) -> str:
    """text as a ticket system shows it: CommonMark with tables and raw HTML on (markdown-it-py, which
    comes with molecule's rich)."""
    from markdown_it import MarkdownIt
    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(text))


def no_markup(html: str, where: str) -> None:
    lowered = html.lower()
    for element in ("<script", "<img", "<iframe", "<a ", "<b>", "<code", "<em", "<!--", "onmouseover=\""):
        assert element not in lowered, f"{element!r} in {where}"


def markup_shown_as_text(c: Ctx, result: dict[str, Any]) -> None:
    """ticket.md: each hostile name and answer is one cell of its own row, text once rendered (the ready part
    as ever); readiness.html: text, never an element or attribute; readiness.json and junit.xml: as given."""
    try:
        assert result["changed"] is True, result
        files = {name: Path(path).read_text(encoding="utf-8") for name, path in result["files"].items()}
        ticket = files["ticket.md"]
        assert c.dc_address in ticket.split("```")[1], ticket
        rows = [line for line in ticket.splitlines() if line.startswith("| ") and "10.203.9." in line]
        assert len(rows) == len(MARKUP), rows
        for row in rows:
            assert len(re.split(r"(?<!\\)\|", row)) == 5, f"not three cells: {row}"  # "" | host | ip | why | ""
        shown = markdown_html(ticket)
        # Only the ticket's own code (the account, the domain, the addresses block) is code.
        assert shown.count("<code>") == 3, shown
        no_markup(shown.split("</pre>", 1)[1], "ticket.md as rendered")
        for name in MARKUP:
            cell = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            assert f"<td>{cell}</td>" in shown, f"{name!r} is not its own cell of text: {shown}"
        page = files["readiness.html"].lower()
        # The page's own links are to its own anchors; its own <b> are marks, check names and "Fix:".
        assert re.findall(r"href=\"(?!#)", page) == [], "a link off the page"
        no_markup(re.sub(r'<a class="cls" href="#|<b class="|<b>(logon</b>|fix:)', "", page), "readiness.html")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;iframe" in page, page
        doc = json.loads(files["readiness.json"])
        assert {h["name"] for h in doc["hosts"]} == {c.dc_name, *MARKUP}, doc["hosts"]
        junit = ET.fromstring(files["junit.xml"].encode())  # noqa: S314 (the module's own output)
        assert {case.get("classname") for case in junit.iter("testcase")} == {c.dc_name, *MARKUP}
    finally:
        shutil.rmtree(Path(result.get("dest") or c.tmp / "report-markup"), ignore_errors=True)


def operator_text_shown_as_text(c: Ctx, result: dict[str, Any]) -> None:
    """The account, the domain and a ready host's address in the shipped ticket stay inside their code."""
    try:
        assert result["changed"] is True, result
        shown = markdown_html(Path(result["files"]["ticket.md"]).read_text(encoding="utf-8"))
        # Only the ticket's own code (the account, the domain, the addresses block) is code; inside it, text.
        assert shown.count("<code>") == 3, shown
        no_markup(shown.replace("<code>", "").replace("</code>", ""), "ticket.md as rendered")
    finally:
        shutil.rmtree(Path(result.get("dest") or c.tmp / "report-operator"), ignore_errors=True)


def operator_markup_result(c: Ctx) -> dict[str, Any]:
    result = markup_result(c)
    result["account"] = "badin`<script>alert(1)</script>`"
    result["domain"] = "lab.example.test`<img src=x onerror=alert(1)>`"
    result["hosts"][0]["address"] += "\n```\n<script>alert(2)</script>"
    return result


ROWS = [
    # ---- scan_account
    pytest.param("scan_account", lambda c: account(c, name="scan,ner"), fails("scan,ner"), False,
                 id="account-name-comma"),
    pytest.param("scan_account", lambda c: account(c, name='scan"ner'), fails('scan"ner'), False,
                 id="account-name-double-quote"),
    pytest.param("scan_account", lambda c: account(c, name="-x"), fails("-x", accepted=created_dn("-x")), True,
                 id="account-name-leading-dash-accepted-or-refused"),
    pytest.param("scan_account", lambda c: account(c, name="o'brien"), Accepted(created_dn("o'brien")), True,
                 id="account-name-single-quote-accepted"),
    pytest.param("scan_account", lambda c: account(c, name="scännér"), Accepted(created_dn("scännér")), True,
                 id="account-name-non-ascii-accepted"),
    pytest.param("scan_account", lambda c: account(c, path=f"OU=No Such OU,{c.base}"), fails("OU=No Such OU"),
                 False, id="account-path-missing-ou"),
    pytest.param("scan_account", lambda c: account(c, path="not a dn"), fails("not a dn"), False,
                 id="account-path-not-a-dn"),
    pytest.param("scan_account", lambda c: account(c, domain="not a domain!"), fails("not a domain!"), False,
                 id="account-domain-not-dns"),
    pytest.param("scan_account", lambda c: account(c, domain="web01..corp"), fails("web01..corp"), False,
                 id="account-domain-empty-label"),
    pytest.param("scan_account", lambda c: account(c, dc="web01..corp"), fails("web01..corp"), False,
                 id="account-dc-empty-label"),
    pytest.param("scan_account", lambda c: account(c, dc="nosuch-dc.lab3.example.test"),
                 fails("nosuch-dc.lab3.example.test"), False, id="account-dc-unknown"),
    pytest.param("scan_account", lambda c: account(c, dc="127.0.0.1", port=c.garbage_port),
                 fails("127.0.0.1", "{port}"), False, id="account-dc-garbage-ldaps-server"),
    pytest.param("scan_account", lambda c: account(c, port=63636), fails("63636"), False,
                 id="account-port-closed"),
    pytest.param("scan_account", lambda c: account(c, port=70000), fails("70000"), False,
                 id="account-port-out-of-range"),
    pytest.param("scan_account", lambda c: account(c, connect_timeout=0), fails("connect_timeout"), False,
                 id="account-connect-timeout-zero"),
    pytest.param("scan_account", lambda c: account(c, connect_timeout=-5), fails("connect_timeout"), False,
                 id="account-connect-timeout-negative"),
    pytest.param("scan_account", lambda c: account(c, connect_timeout=10**9),
                 fails("connect_timeout", accepted=created_dn("badin_acct")), True,
                 id="account-connect-timeout-huge-accepted-or-refused"),
    pytest.param("scan_account", lambda c: account(c, admin_username="-x"), fails("-x"), False,
                 id="account-admin-username-leading-dash"),
    pytest.param("scan_account", lambda c: account(c, transport="plaintext"), fails("plaintext", "transport"), False,
                 id="account-transport-unknown"),
    pytest.param("scan_account", lambda c: account(c, transport="ldaps", admin_username=None, admin_password=None),
                 fails("transport ldaps", "kerberos"), False, id="account-ldaps-with-a-ticket-instead-of-a-password"),
    pytest.param("scan_account", lambda c: account(c, transport="sealed", dc=c.dc_address, allow_ntlm=False),
                 fails("{dc_address}", "allow_ntlm"), False, id="account-sealed-dc-by-address-ntlm-not-allowed"),
    pytest.param("scan_account", lambda c: account(c, admin_password=None, krb5ccname="missing"),
                 fails("{tmp}/missing.ccache", "kinit"), False, id="account-no-admin-password-and-no-ticket"),
    pytest.param("scan_account", lambda c: account(c, admin_password=None, krb5ccname="expired"),
                 fails("{tmp}/expired.ccache", "expired", "kinit"), False, id="account-expired-ticket"),
    # ---- scan_gpo
    pytest.param("scan_gpo", lambda c: gpo(c, name='Scan, "GPO" \'x\''),
                 Accepted(gpo_would_be_created('Scan, "GPO" \'x\'')), True, id="gpo-name-comma-quotes-accepted"),
    pytest.param("scan_gpo", lambda c: gpo(c, name="-x"), Accepted(gpo_would_be_created("-x")), True,
                 id="gpo-name-leading-dash-accepted"),
    pytest.param("scan_gpo", lambda c: gpo(c, name="Prüfrichtlinie ✓"),
                 Accepted(gpo_would_be_created("Prüfrichtlinie ✓")), True, id="gpo-name-non-ascii-accepted"),
    pytest.param("scan_gpo", lambda c: gpo(c, name="   "), fails("name"), False, id="gpo-name-blank"),
    pytest.param("scan_gpo", lambda c: gpo(c, scanner_addresses=["10.0.0.1/24"]), fails("10.0.0.1/24"), False,
                 id="gpo-scanner-cidr-host-bits"),
    pytest.param("scan_gpo", lambda c: gpo(c, scanner_addresses=["2001:db8::1/64"]), fails("2001:db8::1/64"),
                 False, id="gpo-scanner-ipv6-cidr-host-bits"),
    pytest.param("scan_gpo", lambda c: gpo(c, scanner_addresses=[]), fails("scanner_addresses"), False,
                 id="gpo-scanner-empty"),
    pytest.param("scan_gpo", lambda c: gpo(c, scanner_addresses=["web01..corp"]), fails("web01..corp"), False,
                 id="gpo-scanner-not-an-address"),
    pytest.param("scan_gpo", lambda c: gpo(c, scanner_addresses=[c.scanner_address] * TEN_THOUSAND),
                 Accepted(one_remote_address), True, id="gpo-scanner-10000-duplicates-accepted-deduplicated"),
    pytest.param("scan_gpo", lambda c: gpo(c, scanner_addresses=["fe80::1%x,*"]), fails("fe80::1%x,*"), False,
                 id="gpo-scanner-zone-index-comma-star"),
    pytest.param("scan_gpo", lambda c: gpo(c, scanner_addresses=["10.0.0.1,10.0.0.2"]), fails("10.0.0.1,10.0.0.2"),
                 False, id="gpo-scanner-comma-separated-in-one-item"),
    # A zone index means nothing to another host's firewall (and RemoteAddresses has no syntax for it).
    pytest.param("scan_gpo", lambda c: gpo(c, scanner_addresses=["fe80::1%eth0"]), fails("fe80::1%eth0"), False,
                 id="gpo-scanner-ipv6-zone-index"),
    pytest.param("scan_gpo", lambda c: gpo(c, scanner_addresses=["fe80::%2/64"]), fails("fe80::%2/64"), False,
                 id="gpo-scanner-ipv6-cidr-zone-index"),
    # The module strips the guid option's whitespace (a YAML block scalar's newline) before it checks it (the GUID
    # check itself, fullmatch, refuses the newline): the GPO judged is the one of that GUID, no newline in a filter
    # or path, and the default policies' guard still holds. "{{...}} (" is the GUID with nothing after it.
    pytest.param("scan_gpo", lambda c: gpo(c, guid=DEFAULT_DC_POLICY + "\n", links=[]),
                 fails("{" + DEFAULT_DC_POLICY + "} (CN=", "Default Domain Controllers Policy", "Nothing was changed"),
                 True, id="gpo-guid-trailing-newline-stripped-default-dc-policy-still-refused"),
    pytest.param("scan_gpo", lambda c: gpo(c, links=["not a dn"]), fails("not a dn"), False,
                 id="gpo-link-not-a-dn"),
    pytest.param("scan_gpo", lambda c: gpo(c, links=[f"OU=No Such OU,{c.base}"]), fails("OU=No Such OU"), False,
                 id="gpo-link-missing-ou"),
    pytest.param("scan_gpo", lambda c: gpo(c, links=[f"CN=Users,{c.base}"]), fails("CN=Users"), False,
                 id="gpo-link-container-not-ou"),
    pytest.param("scan_gpo", lambda c: gpo(c, links=[c.base] * TEN_THOUSAND), Accepted(linked_once), True,
                 id="gpo-links-10000-duplicates-accepted-deduplicated"),
    pytest.param("scan_gpo", lambda c: gpo(c, domain="web01..corp"), fails("web01..corp"), False,
                 id="gpo-domain-empty-label"),
    pytest.param("scan_gpo", lambda c: gpo(c, dc="127.0.0.1", port=c.garbage_port), fails("127.0.0.1", "{port}"),
                 False, id="gpo-dc-garbage-ldaps-server"),
    pytest.param("scan_gpo", lambda c: gpo(c, connect_timeout=-5), fails("connect_timeout"), False,
                 id="gpo-connect-timeout-negative"),
    pytest.param("scan_gpo", lambda c: gpo(c, name=GPO_PREFIX + "gptini", links=[]), fails("GPT.INI", "{gptini}"),
                 False, id="gpo-planted-malformed-gpt-ini"),
    pytest.param("scan_gpo", lambda c: gpo(c, name=GPO_PREFIX + "regpol", links=[]),
                 fails("Registry.pol", "{regpol}"), False, id="gpo-planted-malformed-registry-pol"),
    # Samba leaves an object whose descriptor it cannot parse out of every search (clients cannot read it
    # either): pinned by its GUID, it is a GPO that does not exist, and nothing is made in its place.
    pytest.param("scan_gpo", lambda c: gpo(c, name=GPO_PREFIX + "sd", guid=c.gpo_guids["sd"], links=[]),
                 fails("{sd}", "no such GPO"), False, id="gpo-planted-malformed-ntsecuritydescriptor"),
    pytest.param("scan_gpo", lambda c: gpo(c, name=GPO_PREFIX + "open", links=[]),
                 fails("{open}", "Everyone"), False, id="gpo-planted-descriptor-granting-everyone-control"),
    # ---- share_access
    pytest.param("share_access", lambda c: single(c, username="-x"), fails("-x"), False,
                 id="share-username-leading-dash"),
    pytest.param("share_access", lambda c: single(c, username="scännér"), fails("scännér"), False,
                 id="share-username-non-ascii"),
    pytest.param("share_access", lambda c: single(c, target="web01..corp", name=None), fails("web01..corp"), False,
                 id="share-target-empty-label"),
    pytest.param("share_access", lambda c: single(c, target="::1", name=None), fails("::1"), False,
                 id="share-target-ipv6"),
    pytest.param("share_access", lambda c: single(c, target="10.203.1.1/24", name=None), fails("10.203.1.1/24"),
                 False, id="share-target-cidr"),
    pytest.param("share_access", lambda c: single(c, dc="web01..corp"), fails("web01..corp"), False,
                 id="share-dc-empty-label"),
    pytest.param("share_access", lambda c: single(c, shares=["IPC$"] * TEN_THOUSAND), Accepted(one_share_check),
                 False, id="share-shares-10000-duplicates-accepted-deduplicated"),
    pytest.param("share_access", lambda c: single(c, connect_timeout=-5), fails("connect_timeout"), False,
                 id="share-connect-timeout-negative"),
    # ---- registry_access
    pytest.param("registry_access", lambda c: single(c, dc="nosuch-dc.lab3.example.test"),
                 fails("nosuch-dc.lab3.example.test"), False, id="registry-dc-unknown"),
    pytest.param("registry_access", lambda c: single(c, domain="not a domain!"), fails("not a domain!"), False,
                 id="registry-domain-not-dns"),
    pytest.param("registry_access", lambda c: single(c, keys=["HKCR\\Software"]), fails("HKCR"), False,
                 id="registry-key-other-hive"),
    pytest.param("registry_access", lambda c: single(c, keys=[]), fails("keys"), False, id="registry-keys-empty"),
    pytest.param("registry_access", lambda c: single(c, connect_timeout=0), fails("connect_timeout"), False,
                 id="registry-connect-timeout-zero"),
    pytest.param("registry_access", lambda c: single(c, target_timeout=10**9), fails("target_timeout"), False,
                 id="registry-target-timeout-huge"),
    # ---- scan_readiness
    pytest.param("scan_readiness", lambda c: readiness(c, targets=[]), fails("targets"), False,
                 id="readiness-targets-empty"),
    pytest.param("scan_readiness", lambda c: readiness(c, targets=[{"name": c.dc_name, "address": c.dc_address}]
                                                       * TEN_THOUSAND),
                 Accepted(ran_once_per_target), False, id="readiness-targets-10000-duplicates-accepted-deduplicated"),
    pytest.param("scan_readiness", lambda c: readiness(c, targets=[{"name": "v6", "address": "::1"},
                                                                   {"name": "cidr", "address": "10.203.1.0/24"},
                                                                   {"name": "web01..corp"}]),
                 Accepted(bad_targets_reported_per_host), False,
                 id="readiness-ipv6-cidr-bad-name-targets-accepted-reported-per-host"),
    pytest.param("scan_readiness", lambda c: readiness(c, workers=0), fails("workers"), False,
                 id="readiness-workers-zero"),
    pytest.param("scan_readiness", lambda c: readiness(c, workers=-1), fails("workers"), False,
                 id="readiness-workers-negative"),
    pytest.param("scan_readiness", lambda c: readiness(c, workers=10**9),
                 fails("workers", accepted=ran_once_per_target), False, id="readiness-workers-huge-refused-or-bounded"),
    pytest.param("scan_readiness", lambda c: readiness(c, target_timeout=-5), fails("target_timeout"), False,
                 id="readiness-target-timeout-negative"),
    pytest.param("scan_readiness", lambda c: readiness(c, target_timeout=10**9), fails("target_timeout"), False,
                 id="readiness-target-timeout-huge"),
    pytest.param("scan_readiness", lambda c: readiness(c, username="-x"), fails("-x"), False,
                 id="readiness-username-leading-dash"),
    # ---- readiness_report
    pytest.param("readiness_report", lambda c: {"result": {}, "dest": str(c.tmp / "report")}, fails("hosts"), False,
                 id="report-result-without-hosts"),
    pytest.param("readiness_report", lambda c: {"result": {"domain": "x", "account": "y", "hosts": "nope"},
                                                "dest": str(c.tmp / "report")}, fails("hosts"), False,
                 id="report-hosts-not-a-list"),
    pytest.param("readiness_report", lambda c: report(c, markup_result(c), "report-markup"),
                 Accepted(markup_shown_as_text), False, id="report-markup-in-names-and-answers-accepted-escaped"),
    pytest.param("readiness_report", lambda c: report(c, operator_markup_result(c), "report-operator"),
                 Accepted(operator_text_shown_as_text), False,
                 id="report-backticks-in-account-domain-address-accepted-escaped"),
]


def run_any(module: str, args: dict[str, Any], *, check: bool, tmp: Path) -> ModuleRun:
    """run_module, or for arguments too long for a command line (the 10,000-entry lists) the same module
    as the one task of a playbook written to a file, read back from the same JSON callback."""
    text = json.dumps(args)
    if len(text) < 64_000:
        return run_module(module, args, check=check, diff=check, timeout=ROW_TIMEOUT)
    playbook = tmp / "big.yml"
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                     "tasks": [{f"scanready.windows.{module}": args}]}]))
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook)]
    cmd += ["--check", "--diff"] if check else []
    env = ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=ROW_TIMEOUT, cwd=REPO)
    playbook.unlink()
    start = proc.stdout.find("{")
    assert start >= 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout[start:])
    return ModuleRun(data["plays"][0]["tasks"][0]["hosts"]["localhost"], proc.stdout + proc.stderr)


def formatted(c: Ctx, text: str) -> str:
    return text.format(port=c.garbage_port, dc_address=c.dc_address, tmp=c.tmp, **c.gpo_guids)


@pytest.mark.parametrize(("module", "build", "expect", "check"), ROWS)
def test_bad_input(ctx: Ctx, module: str, build: Callable[[Ctx], dict[str, Any]], expect: Fails | Accepted,
                   check: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Each row its own lockout guard records (the verify modules keep them under XDG_RUNTIME_DIR): a logon refused
    # in one row must not stop the next, nor be left in the operator's own runtime directory.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    args = {key: value for key, value in build(ctx).items() if value is not None}
    # The operator's credentials cache, for the rows about a Kerberos ticket (no admin_password).
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{ctx.tmp}/{args.pop('krb5ccname', 'none')}.ccache")
    before = snapshot(ctx.lab)
    run = run_any(module, args, check=check, tmp=ctx.tmp)
    changed_on_dc = differences(before, snapshot(ctx.lab))
    result = run.result
    msg = str(result.get("msg", ""))
    # "Module failed: <exception>" is how ansible reports an exception the module did not catch.
    for crash in ("Traceback", "MODULE FAILURE", "Module failed:"):
        assert crash not in msg and crash not in run.output, msg or run.output[-2000:]
    if isinstance(expect, Accepted) or (expect.accepted is not None and not run.failed):
        check_result = expect.check if isinstance(expect, Accepted) else expect.accepted
        assert check_result is not None
        assert not run.failed, f"an acceptable input was refused: {msg}"
        check_result(ctx, result)
    else:
        assert run.failed, f"the module accepted it: {str(result)[:1500]}"
        assert "\n" not in msg.strip() and "Traceback" not in msg, msg
        for name in expect.names:
            shown = formatted(ctx, name)
            assert shown.lower() in msg.lower(), f"{shown!r} not named in: {msg}"
    assert not changed_on_dc, f"Samba's LDAP or SYSVOL changed: {changed_on_dc[:20]}"
    assert not os.path.exists(ctx.tmp / "report"), "a report was written for bad input"


def test_the_snapshot_sees_one_changed_attribute_and_one_changed_byte(ctx: Ctx, monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    """The oracle itself: a change the table must catch does show (and a logon alone does not)."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    before = snapshot(ctx.lab)
    run = run_module("share_access", single(ctx, shares=["IPC$"]), timeout=ROW_TIMEOUT)
    assert not run.failed, run.result.get("msg")
    assert differences(before, snapshot(ctx.lab)) == [], "a plain logon shows in the snapshot"
    samba_tool(ctx.lab, "user", "setexpiry", SCANNER, "--noexpiry")  # rewrites accountExpires
    ini = sysvol_policy(ctx.lab, ctx.gpo_guids["gptini"]) / "GPT.INI"
    ini.write_bytes(ini.read_bytes() + b" ")
    changed = differences(before, snapshot(ctx.lab))
    assert any(SCANNER in line and line.startswith("ldap") for line in changed), changed
    assert any(line.startswith("files changed:") and line.endswith("GPT.INI") for line in changed), changed
