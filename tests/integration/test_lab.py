"""The lab is real: LDAPS, Kerberos, SMB 3, admin shares, winreg, and every not-ready class as named."""
from __future__ import annotations

import os
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import ldap3
import pytest
from impacket.dcerpc.v5 import rrp, transport
from impacket.smbconnection import SessionError, SMBConnection

from tests.lab_support import LAB, REPO, LabInfo, Target

pytestmark = pytest.mark.lab


def smb_login(lab: LabInfo, address: str, user: str, password: str, timeout: int = 5) -> SMBConnection:
    conn = SMBConnection(address, address, sess_port=445, timeout=timeout)
    conn.login(user, password, lab.vars["lab_netbios"])
    return conn


def admin(lab: LabInfo) -> tuple[str, str]:
    return "Administrator", lab.vars["scanready_admin_password"]


def test_ldaps_bind_validates_the_lab_ca(lab: LabInfo) -> None:
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=lab.vars["scanready_ldap_ca_cert"])
    server = ldap3.Server(lab.vars["scanready_dc"], port=636, use_ssl=True, tls=tls, connect_timeout=5)
    conn = ldap3.Connection(server, user=lab.vars["scanready_admin_username"],
                            password=lab.vars["scanready_admin_password"], auto_bind=True)
    assert conn.bound
    assert conn.search(lab.vars["lab_base_dn"], "(sAMAccountName=Administrator)", attributes=["objectSid"])
    assert len(conn.entries) == 1
    conn.unbind()


def test_ldaps_refuses_a_wrong_ca(lab: LabInfo) -> None:
    wrong_ca = "/etc/ssl/certs/ca-certificates.crt"
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=wrong_ca)
    server = ldap3.Server(lab.vars["scanready_dc"], port=636, use_ssl=True, tls=tls, connect_timeout=5)
    with pytest.raises(ldap3.core.exceptions.LDAPSocketOpenError):
        ldap3.Connection(server, user=lab.vars["scanready_admin_username"],
                         password=lab.vars["scanready_admin_password"], auto_bind=True)


def test_kerberos_tgt_for_the_lab_admin(lab: LabInfo, tmp_path: Path) -> None:
    realm = lab.vars["scanready_domain"].upper()
    conf = tmp_path / "krb5.conf"
    conf.write_text(f"[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n"
                    f"[realms]\n {realm} = {{\n  kdc = {lab.vars['lab_dc_address']}\n }}\n")
    env = dict(os.environ, KRB5_CONFIG=str(conf), KRB5CCNAME=str(tmp_path / "ccache"))
    subprocess.run(["kinit", f"Administrator@{realm}"], input=lab.vars["scanready_admin_password"] + "\n",
                   env=env, check=True, capture_output=True, text=True, timeout=15)
    klist = subprocess.run(["klist", "-e"], env=env, check=True, capture_output=True, text=True).stdout
    assert f"krbtgt/{realm}@{realm}" in klist
    assert "aes256-cts" in klist


@pytest.mark.parametrize("which", ["dc", "ready"])
def test_smb3_session_and_admin_share(lab: LabInfo, which: str) -> None:
    address = lab.vars["lab_dc_address"] if which == "dc" else lab.by_class("ready")[1].address
    conn = smb_login(lab, address, *admin(lab))
    assert conn.getDialect() >= 0x300, hex(conn.getDialect())
    assert conn.isSigningRequired()
    tid = conn.connectTree("C$")
    conn.disconnectTree(tid)
    conn.logoff()


def test_admin_share_denies_a_plain_user(lab: LabInfo) -> None:
    target = lab.by_class("ready")[1]
    conn = smb_login(lab, target.address, lab.vars["lab_plain_username"], lab.vars["lab_plain_password"])
    with pytest.raises(SessionError) as err:
        conn.connectTree("C$")
    assert "STATUS_ACCESS_DENIED" in str(err.value)


def open_hklm_software(lab: LabInfo, target: Target) -> None:
    rpc = transport.DCERPCTransportFactory(f"ncacn_np:{target.address}[\\pipe\\winreg]")
    rpc.set_credentials("Administrator", lab.vars["scanready_admin_password"], lab.vars["lab_netbios"])
    rpc.set_connect_timeout(5)
    dce = rpc.get_dce_rpc()
    dce.connect()
    dce.bind(rrp.MSRPC_UUID_RRP)
    hklm = rrp.hOpenLocalMachine(dce)["phKey"]
    rrp.hBaseRegOpenKey(dce, hklm, "Software\x00", samDesired=rrp.KEY_READ)
    dce.disconnect()


def test_winreg_opens_hklm_software(lab: LabInfo) -> None:
    open_hklm_software(lab, lab.by_class("ready")[1])


def test_firewall_blocked_times_out(lab: LabInfo) -> None:
    target = lab.by_class("firewall_blocked")[0]
    start = time.monotonic()
    with pytest.raises(socket.timeout):
        socket.create_connection((target.address, 445), timeout=2).close()
    assert time.monotonic() - start >= 1.9


def test_port_closed_is_refused(lab: LabInfo) -> None:
    target = lab.by_class("port_closed")[0]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((target.address, 445), timeout=2).close()


def test_share_denied_refuses_the_admin(lab: LabInfo) -> None:
    target = lab.by_class("share_denied")[0]
    conn = smb_login(lab, target.address, *admin(lab))
    with pytest.raises(SessionError) as err:
        conn.connectTree("C$")
    assert "STATUS_ACCESS_DENIED" in str(err.value)


def test_registry_off_has_no_winreg_pipe_but_shares_work(lab: LabInfo) -> None:
    target = lab.by_class("registry_off")[0]
    conn = smb_login(lab, target.address, *admin(lab))
    conn.disconnectTree(conn.connectTree("C$"))
    with pytest.raises(Exception, match="STATUS_OBJECT_NAME_NOT_FOUND"):
        open_hklm_software(lab, target)


def test_slow_target_answers_late(lab: LabInfo) -> None:
    slow, ready = lab.by_class("slow")[0], lab.by_class("ready")[1]

    def negotiate_seconds(address: str) -> float:
        start = time.monotonic()
        SMBConnection(address, address, timeout=20).close()
        return time.monotonic() - start

    assert negotiate_seconds(slow.address) >= 1.0 > negotiate_seconds(ready.address)


def netns_names() -> set[str]:
    return set(subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True).stdout.split())


def test_down_leaves_nothing_behind() -> None:
    subprocess.run([str(LAB), "--instance", "downtest", "up", "--targets", "2", "--rtt-ms", "5"],
                   check=True, capture_output=True, text=True)
    state = Path("/var/tmp/scanready-lab/downtest")
    index = int((state / "index").read_text())
    assert "srlab-downtest" in netns_names()
    subprocess.run([str(LAB), "--instance", "downtest", "down"], check=True, capture_output=True, text=True)
    assert "srlab-downtest" not in netns_names()
    links = subprocess.run(["ip", "-o", "link"], check=True, capture_output=True, text=True).stdout
    assert f"srl{index}h" not in links
    assert not state.exists()
    assert "scanready-lab:downtest" not in Path("/etc/hosts").read_text()
    procs = subprocess.run(["pgrep", "-af", str(state)], check=False, capture_output=True, text=True).stdout
    assert procs == ""


def test_up_refuses_without_root() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "/usr/bin/python3", str(LAB), "--instance", "notroot", "up"],
                              check=False, capture_output=True, text=True, cwd=tmp)
    assert proc.returncode != 0
    assert "must run as root" in proc.stderr
    assert "srlab-notroot" not in netns_names()


def test_repo_inventory_has_every_class(lab: LabInfo) -> None:
    classes = {t.expected for t in lab.targets}
    assert classes == {"ready", "firewall_blocked", "port_closed", "share_denied", "registry_off", "slow"}
    assert lab.inventory == REPO / "lab" / "inventory.yml"
