"""The targets: their classes, and the member server's configuration that gives each its behaviour."""
from __future__ import annotations

from .credentials import USER_NAME, USER_PASSWORD
from .domain_controller import admin_shares
from .instance import Lab
from .settings import MEMBER_NETBIOS, NOT_READY, NTLM_AUTH
from .shell import run


def target_classes(count: int) -> list[str]:
    """Target i gets a not-ready class for i in 1..5, 'ready' otherwise."""
    return [NOT_READY[i - 1] if 1 <= i <= len(NOT_READY) else "ready" for i in range(count)]


def ptr_target(classes: dict[str, str]) -> str:
    """The one target the DC's DNS has a PTR record for (the last ready one): the others have no
    reverse DNS anywhere, as in a domain without reverse zones."""
    return [a for a, c in classes.items() if c == "ready"][-1]


def configure_targets(lab: Lab, classes: dict[str, str], local_admins_group: str = "", ntlm: str = "enabled") -> None:
    """The member server that answers for every target address, each target's behaviour, and a
    plain domain user (written offline, before anything starts). `local_admins_group`: a domain group
    whose members the admin shares admit as well, as on hosts that applied the scan policy GPO.
    `ntlm`: the member's `ntlm auth`, as the DC's (see NTLM_AUTH)."""
    m = lab.member
    for sub in ("etc/per-address", "private", "lock", "state", "cache", "run", "run-samba", "ncalrpc", "log"):
        (m / sub).mkdir(parents=True, exist_ok=True)
    (m / "etc" / "smb.conf").write_text(
        "[global]\n"
        f"\tnetbios name = {MEMBER_NETBIOS}\n\tworkgroup = {lab.netbios}\n\trealm = {lab.realm.upper()}\n"
        f"\tsecurity = ads\n\tpassword server = {lab.dc_fqdn}\n\tkerberos method = secrets only\n"
        f"\tsmb ports = 445\n\tdisable netbios = yes\n\tinterfaces = {lab.ns_if} lo\n\tbind interfaces only = no\n"
        f"\tserver signing = mandatory\n\tntlm auth = {NTLM_AUTH[ntlm]}\n\tlog level = 1\n"
        f"\tlog file = {m}/log/log.%m\n\tprivate dir = {m}/private\n\tlock directory = {m}/lock\n"
        f"\tstate directory = {m}/state\n\tcache directory = {m}/cache\n\tpid directory = {m}/run\n"
        f"\tncalrpc dir = {m}/ncalrpc\n"
        "\tidmap config * : backend = tdb\n\tidmap config * : range = 3000-7999\n"
        f"\tidmap config {lab.netbios} : backend = rid\n\tidmap config {lab.netbios} : range = 10000-999999\n"
        "\tload printers = no\n\tprinting = bsd\n\tprintcap name = /dev/null\n\tdisable spoolss = yes\n"
        # Windows runs Remote Registry and the service manager as services. Samba starts their RPC
        # workers on demand and stops them after 60 s idle; starting one under load stalls its
        # queued clients for seconds (svcctl asks winreg for an idle worker per client), so keep them.
        "\trpcd_winreg:idle_seconds = 86400\n\trpcd_classic:idle_seconds = 86400\n"
        + admin_shares(lab, local_admins_group)
        # Last, so a per-address file may reopen [C$] or [global] and override them.
        + f"\n[global]\n\tinclude = {m}/etc/per-address/%i.conf\n")
    # registry_off: an ncalrpc dir that has every named-pipe socket but winreg.
    off = m / "ncalrpc-registry-off"
    (off / "np").mkdir(parents=True, exist_ok=True)
    for entry in ("DEFAULT", "EPMAPPER"):
        (off / entry).symlink_to(m / "ncalrpc" / entry)
    pipes = ["epmapper", "eventlog", "initshutdown", "lsarpc", "lsass", "mdssvc", "netdfs", "netlogon", "ntsvcs",
             "samr", "spoolss", "srvsvc", "svcctl", "wkssvc"]
    for pipe in pipes:
        (off / "np" / pipe).symlink_to(m / "ncalrpc" / "np" / pipe)
    for addr, cls in classes.items():
        if cls == "share_denied":
            text = "[C$]\n\tvalid users = nobody-may-use-this-share\n"
        elif cls == "registry_off":
            text = f"[global]\n\tncalrpc dir = {off}\n"
        else:
            continue
        (m / "etc" / "per-address" / f"{addr}.conf").write_text(text)
    run("samba-tool", "user", "create", USER_NAME, USER_PASSWORD, "-H", str(lab.state / "private" / "sam.ldb"),
        "--description=Plain domain user of the scanready lab")
