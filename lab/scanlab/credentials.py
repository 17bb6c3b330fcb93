"""The lab's throwaway accounts, and how the lab's own client commands log on as its admin."""
from __future__ import annotations

from pathlib import Path

from .instance import Lab

# Throwaway credentials: they exist only inside this lab's namespaces.
ADMIN_PASSWORD = "Lab-Only-Throwaway-Admin-1"
USER_NAME = "lab_plain_user"
USER_PASSWORD = "Lab-Only-Throwaway-User-1"
SCANNER_PASSWORD = "Lab-Only-Throwaway-Scanner-1"


def write_krb5_conf(lab: Lab) -> Path:
    """A krb5.conf that names the DC's address as the realm's KDC: the host's DNS knows nothing of the lab."""
    realm = lab.realm.upper()
    conf = lab.state / "krb5.conf"
    conf.write_text(f"[libdefaults]\n\tdefault_realm = {realm}\n\tdns_lookup_kdc = false\n\tdns_lookup_realm = false\n"
                    f"[realms]\n\t{realm} = {{\n\t\tkdc = {lab.dc_addr}\n\t}}\n"
                    f"[domain_realm]\n\t.{lab.realm} = {realm}\n\t{lab.realm} = {realm}\n")
    return conf


def admin_logon(lab: Lab, ntlm: str) -> tuple[list[str], dict[str, str]]:
    """The options and environment of the lab's own client commands (rpcclient, net ads join, samba-tool)
    that log on as the admin, the password in PASSWD: as before where the DC takes NTLM; with --ntlm
    disabled, Kerberos required, the lab's krb5.conf, and a ticket cache in memory, their own."""
    env = {"PASSWD": ADMIN_PASSWORD}
    if ntlm == "enabled":
        return [], env
    return ["--use-kerberos=required"], {**env, "KRB5_CONFIG": str(lab.state / "krb5.conf"),
                                         "KRB5CCNAME": "MEMORY:scanready-lab"}
