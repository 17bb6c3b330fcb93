"""The member server that answers for every target: joined to the domain (retried while the DC starts) and started."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from .credentials import admin_logon
from .instance import Lab
from .settings import MEMBER_NETBIOS
from .shell import log, port_open, run, wait_until

# What `net ads join` says when the DC is not serving yet (its RPC server, smbd or netlogon still
# starting): retried, within JOIN_RETRY_S. Anything else (a wrong password) fails at once.
TRANSIENT_JOIN_FAILURES = ("refused", "failed to lookup dc info", "nt_status_io_timeout", "nt_status_no_logon_servers",
                           "connection reset", "nt_status_connection_", "unable to find a suitable server",
                           "no logon servers", "timed out")
# What a client gets where NTLM is off (an NTLM logon, not Kerberos): never worth another try.
NTLM_REFUSED = ("nt_status_ntlm_blocked", "ntlm was blocked")
JOIN_RETRY_S = 120.0


def transient_join_failure(said: str) -> bool:
    """Whether `net ads join` failed because the DC was not serving yet (worth another try)."""
    text = said.lower()
    return not ntlm_refused(text) and any(needle in text for needle in TRANSIENT_JOIN_FAILURES)


def ntlm_refused(said: str) -> bool:
    text = said.lower()
    return any(needle in text for needle in NTLM_REFUSED)


def last_words(said: str) -> str:
    return next((ln.strip() for ln in reversed(said.splitlines()) if ln.strip()), "no message")


def dc_rpc_answers(lab: Lab, ntlm: str = "enabled") -> str:
    """'' when the DC answers what the join asks, from the member's namespace: lsarpc over SMB (the
    join's DC lookup), and netlogon over TCP through the endpoint mapper; else what failed."""
    conf = str(lab.member / "etc" / "smb.conf")
    options, env = admin_logon(lab, ntlm)
    for binding, commands in ((f"ncacn_np:{lab.dc_fqdn}", "lsaquery"),
                              (f"ncacn_ip_tcp:{lab.dc_fqdn}", f"dsr_getdcname {lab.realm}")):
        try:
            proc = subprocess.run(["ip", "netns", "exec", lab.netns, "rpcclient", "-s", conf, "-U", "Administrator",
                                   *options, "-c", commands, binding], env={**os.environ, **env},
                                  capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired:
            return f"rpcclient {binding} ({commands}): no answer within 15 s"
        if proc.returncode != 0 or "NT_STATUS" in proc.stdout:
            return f"rpcclient {binding} ({commands}): {last_words(proc.stdout + proc.stderr)}"
    return ""


def wait_dc_rpc(lab: Lab, ntlm: str = "enabled", timeout: float = 90.0) -> float:
    """Wait until the DC's RPC services answer (open ports are not enough: the endpoint mapper and
    netlogon come up after them); the seconds that took. An NTLM logon the DC refused is not waited out."""
    started = time.monotonic()
    while (problem := dc_rpc_answers(lab, ntlm)) and not ntlm_refused(problem) \
            and time.monotonic() - started < timeout:
        log(f"waiting for the DC's RPC services: {problem}")
        time.sleep(1)
    if problem:
        if ntlm_refused(problem):
            raise SystemExit(f"lab: the DC refused the RPC probe's NTLM logon: {problem}")
        raise SystemExit(f"lab: the DC's RPC services did not answer within {timeout:.0f}s: {problem}; "
                         f"see {lab.state}/log")
    return time.monotonic() - started


def join_domain(lab: Lab, conf: Path, ntlm: str = "enabled", retry_s: float = JOIN_RETRY_S) -> None:
    """`net ads join`, retried while the DC is not serving yet (its reason logged), for at most `retry_s`.
    With --ntlm disabled it logs on with Kerberos only (its DC lookup over RPC would otherwise use NTLM)."""
    started = time.monotonic()
    attempt = 1
    options, env = admin_logon(lab, ntlm)
    while True:
        proc = run("net", "ads", "join", "-s", str(conf), "-U", "Administrator", *options, "-S", lab.dc_fqdn,
                   "--no-dns-updates", ns=lab, env=env, check=False)
        said = proc.stdout + proc.stderr
        if proc.returncode == 0:
            if attempt > 1:
                log(f"the member joined the domain at attempt {attempt}")
            return
        if not transient_join_failure(said) or time.monotonic() - started > retry_s:
            raise SystemExit(f"lab: net ads join failed at attempt {attempt} ({proc.returncode}):\n{said}")
        log(f"net ads join attempt {attempt} failed ({last_words(said)}); the DC is not serving yet, retrying")
        attempt += 1
        time.sleep(2)


def start_member(lab: Lab, names: dict[str, str], ntlm: str = "enabled") -> None:
    """Join the member server to the domain, give its account every target's host/ SPN (service
    tickets for cifs/<target> and host/<target> are then encrypted with its key: the KDC maps cifs
    to host, as Windows' sPNMappings do) and start its winbindd and smbd. One SPN per target, not
    two: the KDC reads the account's every SPN for each ticket it issues (10,000 targets: +12 ms a
    ticket with 20,000 SPNs, half that with 10,000)."""
    m = lab.member
    conf = m / "etc" / "smb.conf"
    rpc_waited = wait_dc_rpc(lab, ntlm)
    log(f"the DC's RPC services answered {rpc_waited:.1f}s after its ports")
    join_domain(lab, conf, ntlm)
    spns = [f"host/{n}" for n in names.values()]
    ldif = f"dn: CN={MEMBER_NETBIOS},CN=Computers,{lab.base_dn}\nchangetype: modify\nadd: servicePrincipalName\n"
    run("ldbmodify", "-H", str(lab.state / "private" / "sam.ldb"),
        input_text=ldif + "".join(f"servicePrincipalName: {s}\n" for s in spns))
    # smbd needs each domain user as a Unix account (getpwuid): through winbind, but only in the member's
    # own mount namespace, so that the host's name service is left as it is.
    (m / "etc" / "nsswitch.conf").write_text("passwd: files winbind\ngroup: files winbind\nhosts: files dns\n")
    run("unshare", "--mount", "sh", "-c",
        f"mount --bind '{m}/run-samba' /run/samba && mount --bind '{m}/etc/nsswitch.conf' /etc/nsswitch.conf && "
        f"winbindd -D -s '{conf}' && exec smbd -D -s '{conf}'", ns=lab)
    first = next(iter(names))
    wait_until(lambda: port_open(first, 445), 30, f"lab: the member server did not answer on {first}:445; see {m}/log")
