# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the scanner needs on a target, probed read-only over one session, each failure with its fix.

Shares (the article's `net use \\\\host\\C$`), registry keys over the winreg pipe (`reg query
\\\\host\\HKLM\\Software`), services over svcctl (the service manager opened for connect and
enumerate only; configuration and status are queried, nothing is started or changed) and WMI over
DCOM at Packet Privacy. Nothing here writes to a target.
"""
from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._smb import (
    SCHEME_NAMES,
    Credentials,
    Session,
    TicketSource,
    status_name,
)

try:
    from impacket import nmb, smb3
    from impacket import smb3structs as s3
    from impacket.dcerpc.v5 import rrp, scmr
    from impacket.dcerpc.v5.rpcrt import DCERPCException
except ImportError:  # reported by the module through missing_required_lib
    nmb = smb3 = s3 = rrp = scmr = None
    DCERPCException = Exception

WMI_PORT: Final = 135
DRIVE_SHARE: Final = re.compile(r"[A-Za-z]\$")

# ---------------------------------------------------------------- results


@dataclass
class Check:
    """One line of the result contract: ok is True, False or None (not tested / not testable)."""

    ok: bool | None
    cls: str
    required: bool
    detail: str
    fix: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "class": self.cls, "required": self.required, "detail": self.detail, "fix": self.fix}


def passed(detail: str, required: bool) -> Check:
    return Check(True, "ok", required, detail, None)


def not_tested(detail: str, required: bool) -> Check:
    return Check(None, "not_tested", required, detail, None)


# ---------------------------------------------------------------- fixes

FIREWALL_445: Final = ("Allow File and Printer Sharing (TCP 445) from the scanner addresses through the host's "
                       "firewall (the scan policy GPO's file and printer sharing exception does this) and check the "
                       "route from the scanner to the host.")
RPC_FIREWALL: Final = ("Allow Remote Administration (TCP 135 and the RPC dynamic ports) from the scanner addresses "
                       "through the host's firewall (the scan policy GPO's remote administration exception does "
                       "this).")
LOCAL_ADMIN: Final = ("Make the scanner account a local administrator of the host: a member of Domain Admins, or "
                      "of a group in the host's Administrators group (e.g. by a Restricted Groups GPO). A local "
                      "account also needs HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\"
                      "LocalAccountTokenFilterPolicy = 1 (DWORD).")
SLOW: Final = ("The host answers too slowly: check its load and the network path to it; if the link is known to "
               "be slow, raise target_timeout.")
GPO_SERVICE: Final = ("the scan policy GPO (Computer Configuration > Windows Settings > Security Settings > System "
                      "Services > {display}: Automatic) sets this at the next policy refresh; "
                      "`gpupdate /target:computer /force` on the host applies it now.")
SERVICE_DISPLAY: Final[dict[str, str]] = {
    "remoteregistry": "Remote Registry",
    "lanmanserver": "Server",
    "mpssvc": "Windows Defender Firewall",
}

FIXES: Final[dict[tuple[str, str], str]] = {
    ("logon", "unreachable"): FIREWALL_445,
    ("logon", "refused"): ("Start the Server service (LanmanServer) and allow File and Printer Sharing (TCP 445) from "
                           "the scanner addresses through the host's firewall."),
    ("logon", "timeout"): SLOW,
    ("logon", "logon_failure"): ("Check the password the scanner and this run use for the account against the "
                                 "domain, and that the host trusts the account's domain. The run stopped at this "
                                 "refusal so that the account is not locked out."),
    ("logon", "account_locked"): ("Unlock the account (Active Directory Users and Computers > the account > Account "
                                  "> Unlock account, or Unlock-ADAccount) and find what still uses an old password."),
    ("logon", "account_disabled"): "Enable the account (scanready.windows.scan_account with state=present).",
    ("logon", "account_expired"): "Clear or extend the account's expiry date (Account expires: Never).",
    ("logon", "password_expired"): ("Set a new password for the account and make it never expire (Password never "
                                    "expires), as a scanner account needs; then update it in the scanner."),
    ("logon", "access_denied"): ("Let the account log on over the network: remove it and its groups from the user "
                                 "right 'Deny access to this computer from the network', and lift logon-hour or "
                                 "workstation restrictions on the account."),
    ("logon", "spn_hardening"): ("The host validates the SMB service name the client names "
                                 "(SmbServerNameHardeningLevel) and refused this one: scan the host by a name it "
                                 "knows itself by (its FQDN), register the alias (netdom computername <host> "
                                 "/add:<alias>), or set the level to 1."),
    ("logon", "error"): ("The host could not complete the logon (see the detail), e.g. it cannot reach a domain "
                         "controller or its trust with the domain is broken (Test-ComputerSecureChannel -Repair)."),
    ("share", "access_denied"): LOCAL_ADMIN,
    ("share", "share_missing"): ("Restore the administrative shares: set AutoShareServer (servers) or AutoShareWks "
                                 "(workstations) under HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\"
                                 "Parameters to 1 (or remove the value) and restart the Server service."),
    ("share", "timeout"): SLOW,
    ("share", "error"): "See the detail; the share answered in a way a scan does not expect.",
    ("registry", "registry_unavailable"): ("Start the Remote Registry service and set it to Automatic: "
                                           + GPO_SERVICE.format(display="Remote Registry")),
    ("registry", "access_denied"): (LOCAL_ADMIN + " Administrators also need Full Control on HKLM\\SYSTEM\\"
                                    "CurrentControlSet\\Control\\SecurePipeServers\\winreg (the default)."),
    ("registry", "timeout"): SLOW,
    ("registry", "error"): "See the detail; check that the key exists on this host.",
    ("service", "service_not_automatic"): "Set {name} to start automatically and start it: " + GPO_SERVICE,
    ("service", "service_not_running"): ("Start {name} (sc \\\\<host> start {name}) and find why it stopped; it is "
                                         "set to start automatically (services with trigger start stop when idle and "
                                         "start on demand)."),
    ("service", "service_unknown"): ("The host's service manager does not know {name}: expected on a host that is "
                                     "not Windows (Samba); on Windows check the service name."),
    ("service", "access_denied"): LOCAL_ADMIN,
    ("service", "registry_unavailable"): "See the detail; the service manager's pipe did not open.",
    ("service", "timeout"): SLOW,
    ("service", "error"): "See the detail.",
    ("wmi", "wmi_access_denied"): ("Run `winmgmt /standalonehost 6` and restart the Windows Management "
                                   "Instrumentation service (the scanready.windows.wmi_privacy role does both), and "
                                   "give the account Remote Enable on the namespace (WMI Control > Security; local "
                                   "administrators have it by default)."),
    ("wmi", "wmi_unavailable"): ("On Windows, start the Windows Management Instrumentation service and allow "
                                 "Remote Administration (TCP 135 and the RPC dynamic ports) from the scanner "
                                 "addresses; a host without WMI (e.g. Samba) cannot answer WMI checks."),
    ("wmi", "refused"): RPC_FIREWALL,
    ("wmi", "unreachable"): RPC_FIREWALL,
    ("wmi", "timeout"): SLOW,
    ("wmi", "error"): "See the detail.",
    ("smb_signing", "signing_not_required"): (
        "Advisory (not needed for scanning): require SMB signing on the host, so that a relay of the scanner "
        "account's logon to it is refused: Computer Configuration > Windows Settings > Security Settings > Local "
        "Policies > Security Options > 'Microsoft network server: Digitally sign communications (always)': "
        "Enabled."),
}


def fix_for(kind: str, cls: str, subject: str = "") -> str | None:
    """The admin's next step for a failure of a `kind` check (logon, share, registry, service, wmi)."""
    if cls in ("ok", "not_tested"):
        return None
    text = FIXES.get((kind, cls)) or FIXES.get(("logon", cls)) or FIXES.get((kind, "error"))
    if text is None:
        return None
    return text.replace("{name}", subject).replace("{display}", SERVICE_DISPLAY.get(subject.lower(), subject))


def failed(kind: str, cls: str, detail: str, required: bool, subject: str = "") -> Check:
    return Check(False, cls, required, detail, fix_for(kind, cls, subject))


def signing_check(required: bool | None) -> Check:
    """Advisory: does the host require SMB signing (its negotiate answer's SecurityMode)? Never decides
    readiness; a host that does not require it accepts a relayed logon of the scanner account."""
    if required is None:
        return not_tested("not tested: the negotiate answer was not seen", False)
    if required:
        return passed("the host requires SMB signing (SMB2_NEGOTIATE_SIGNING_REQUIRED)", False)
    return failed("smb_signing", "signing_not_required", "the host allows unsigned SMB sessions (signing is not "
                  "required in its negotiate answer)", False)


# ---------------------------------------------------------------- errors

STATUS_CLASSES: Final[dict[int, str]] = {
    0xC0000022: "access_denied",         # STATUS_ACCESS_DENIED
    0xC00000CA: "access_denied",         # STATUS_NETWORK_ACCESS_DENIED
    0xC00000CC: "share_missing",         # STATUS_BAD_NETWORK_NAME
    0xC0000034: "registry_unavailable",  # STATUS_OBJECT_NAME_NOT_FOUND (no such pipe: the service is stopped)
    0xC00000AC: "registry_unavailable",  # STATUS_PIPE_NOT_AVAILABLE
    0xC00000AD: "registry_unavailable",  # STATUS_INVALID_PIPE_STATE
    0xC00000B0: "registry_unavailable",  # STATUS_PIPE_DISCONNECTED
    0xC000014B: "registry_unavailable",  # STATUS_PIPE_BROKEN
}
WIN32_CLASSES: Final[dict[int, str]] = {
    5: "access_denied",       # ERROR_ACCESS_DENIED
    1060: "service_unknown",  # ERROR_SERVICE_DOES_NOT_EXIST
}
WIN32_NAMES: Final[dict[int, str]] = {
    2: "ERROR_FILE_NOT_FOUND: no such key",
    5: "ERROR_ACCESS_DENIED",
    1060: "ERROR_SERVICE_DOES_NOT_EXIST",
}


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError | socket.timeout) or (nmb is not None and isinstance(exc, nmb.NetBIOSTimeout))


def classify(exc: BaseException) -> tuple[str, str]:
    """(class, what was seen) for anything a probe raised."""
    if is_timeout(exc):
        return "timeout", "no answer in time"
    if smb3 is not None and isinstance(exc, smb3.SessionError):
        code = exc.get_error_code()
        return STATUS_CLASSES.get(code, "error"), status_name(code)
    if isinstance(exc, DCERPCException):
        code = exc.get_error_code()
        if isinstance(code, int):
            return WIN32_CLASSES.get(code, "error"), WIN32_NAMES.get(code, f"error 0x{code:x}")
        return "error", _short(exc)
    if isinstance(exc, ConnectionError | OSError):
        return "error", f"the connection broke ({_short(exc)})"
    return "error", f"{type(exc).__name__}: {_short(exc)}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


class Unfinished(Exception):
    """The session broke or ran out of time; later checks on this target are not reached."""


# ---------------------------------------------------------------- shares

def probe_shares(session: Session, shares: Sequence[str], results: dict[str, Check]) -> None:
    """Open each share (`net use`); list the root of drive shares (C$, D$, ...) as `dir` would."""
    for share in shares:
        name = f"share:{share}"
        try:
            session.arm()
            tid = session.tree(share)
            if DRIVE_SHARE.fullmatch(share):
                entries = _list_root(session, tid)
                results[name] = passed(f"opened {share} and listed its root ({entries} entries)", True)
            else:
                results[name] = passed(f"opened {share}", True)
        except Exception as exc:
            cls, seen = classify(exc)
            results[name] = failed("share", cls, f"{share}: {seen}", True)
            if cls in ("timeout", "error") and not isinstance(exc, smb3.SessionError):
                raise Unfinished(results[name].detail) from None


def _list_root(session: Session, tid: int) -> int:
    """`dir \\\\host\\C$`: one directory query on the share's root, read-only access."""
    conn = session.conn
    fid = conn.create(tid, "", s3.FILE_READ_ATTRIBUTES | s3.FILE_LIST_DIRECTORY,
                      s3.FILE_SHARE_READ | s3.FILE_SHARE_WRITE | s3.FILE_SHARE_DELETE,
                      s3.FILE_DIRECTORY_FILE, s3.FILE_OPEN, 0)
    try:
        data = conn.queryDirectory(tid, fid, "*", maxBufferSize=65536)
    finally:
        conn.close(tid, fid)
    return _count_entries(bytes(data or b""))


def _count_entries(data: bytes) -> int:
    """Entries in a FILE_NAMES_INFORMATION buffer: each starts with NextEntryOffset (0 = last)."""
    count, offset = 0, 0
    while offset + 4 <= len(data):
        count += 1
        step = int.from_bytes(data[offset:offset + 4], "little")
        if step == 0:
            break
        offset += step
    return count


# ---------------------------------------------------------------- registry

HIVES: Final[dict[str, str]] = {
    "HKLM": "HKLM", "HKEY_LOCAL_MACHINE": "HKLM",
    "HKU": "HKU", "HKEY_USERS": "HKU",
}


def split_key(key: str) -> tuple[str, str]:
    """'HKLM\\Software\\X' -> ('HKLM', 'Software\\X'); ValueError for a hive winreg cannot open remotely."""
    hive, _sep, path = key.replace("/", "\\").strip("\\").partition("\\")
    if hive.upper() not in HIVES:
        raise ValueError(f"registry key {key!r} must start with HKLM\\ or HKU\\ (HKEY_LOCAL_MACHINE, HKEY_USERS)")
    return HIVES[hive.upper()], path


def probe_registry(session: Session, keys: Sequence[str], results: dict[str, Check]) -> None:
    """`reg query \\\\host\\<key>`: open each key for reading over winreg."""
    if not keys:
        return
    try:
        session.arm()
        dce = session.rpc("winreg", rrp.MSRPC_UUID_RRP)
    except Exception as exc:
        cls, seen = classify(exc)
        detail = f"the winreg pipe did not open ({seen})"
        if cls == "registry_unavailable":
            detail += ": the Remote Registry service is not running"
        for key in keys:
            results[f"registry:{key}"] = failed("registry", cls, detail, True)
        if is_timeout(exc):
            raise Unfinished(detail) from None
        return
    hives: dict[str, Any] = {}
    for key in keys:
        name = f"registry:{key}"
        try:
            session.arm()
            hive, path = split_key(key)
            if hive not in hives:
                opener = rrp.hOpenLocalMachine if hive == "HKLM" else rrp.hOpenUsers
                hives[hive] = opener(dce, samDesired=rrp.KEY_READ)["phKey"]
            # The server checks KEY_READ (query, enumerate, notify) when the key is opened.
            rrp.hBaseRegOpenKey(dce, hives[hive], path + "\x00", samDesired=rrp.KEY_READ)
            results[name] = passed(f"opened {key} for reading (KEY_READ)", True)
        except Exception as exc:
            cls, seen = classify(exc)
            results[name] = failed("registry", cls, f"{key}: {seen}", True)
            if is_timeout(exc):
                raise Unfinished(results[name].detail) from None


# ---------------------------------------------------------------- services

START_TYPES: Final[dict[int, str]] = {0: "Boot", 1: "System", 2: "Automatic", 3: "Manual", 4: "Disabled"}
STATES: Final[dict[int, str]] = {
    1: "Stopped", 2: "Starting", 3: "Stopping", 4: "Running", 5: "Continuing", 6: "Pausing", 7: "Paused",
}
SERVICE_AUTO_START: Final = 2
SERVICE_DISABLED: Final = 4
SERVICE_RUNNING: Final = 4


def service_check(name: str, start_type: int, state: int) -> Check:
    """Judge a service by start type and state. Disabled is a definitive failure (it decides
    readiness); Manual or stopped are reported with their fix but leave readiness alone."""
    start, now = START_TYPES.get(start_type, str(start_type)), STATES.get(state, str(state))
    seen = f"{name}: start type {start}, {now}"
    if start_type == SERVICE_DISABLED:
        return failed("service", "service_not_automatic", seen, True, name)
    if start_type > SERVICE_AUTO_START:
        return failed("service", "service_not_automatic", seen, False, name)
    if start_type == SERVICE_AUTO_START and state != SERVICE_RUNNING:
        return failed("service", "service_not_running", seen, False, name)
    return passed(seen, False)


def probe_services(session: Session, services: Sequence[str], results: dict[str, Check]) -> None:
    """Start type and state of each service, from the service manager opened for reading only."""
    if not services:
        return
    try:
        session.arm()
        dce = session.rpc("svcctl", scmr.MSRPC_UUID_SCMR)
        manager = scmr.hROpenSCManagerW(
            dce, dwDesiredAccess=scmr.SC_MANAGER_CONNECT | scmr.SC_MANAGER_ENUMERATE_SERVICE)["lpScHandle"]
    except Exception as exc:
        cls, seen = classify(exc)
        for service in services:
            results[f"service:{service}"] = Check(None if cls == "registry_unavailable" else False,
                                                  "error" if cls == "registry_unavailable" else cls, False,
                                                  f"the service manager did not open ({seen})",
                                                  fix_for("service", cls, service))
        if is_timeout(exc):
            raise Unfinished(f"service manager: {seen}") from None
        return
    for service in services:
        name = f"service:{service}"
        try:
            session.arm()
            handle = scmr.hROpenServiceW(dce, manager, service + "\x00",
                                         scmr.SERVICE_QUERY_CONFIG | scmr.SERVICE_QUERY_STATUS)["lpServiceHandle"]
            query = scmr.RQueryServiceConfigW()
            query["hService"] = handle
            query["cbBufSize"] = 8192  # one call: impacket's helper asks for the size first
            config = dce.request(query)["lpServiceConfig"]
            status = scmr.hRQueryServiceStatus(dce, handle)["lpServiceStatus"]
            results[name] = service_check(service, int(config["dwStartType"]), int(status["dwCurrentState"]))
        except Exception as exc:
            cls, seen = classify(exc)
            ok = None if cls == "service_unknown" else False
            results[name] = Check(ok, cls, False, f"{service}: {seen}", fix_for("service", cls, service))
            if is_timeout(exc):
                raise Unfinished(f"{service}: {seen}") from None


# ---------------------------------------------------------------- WMI

WBEM_ACCESS_DENIED: Final = 0x80041003
E_ACCESSDENIED: Final = 0x80070005
WBEM_INVALID_NAMESPACE: Final = 0x8004100E
RPC_ACCESS_DENIED: Final = 5
# Bind refusals that mean "no such interface here": no DCOM activator, i.e. no WMI to ask.
UNAVAILABLE_MARKS: Final = ("abstract_syntax_not_supported", "nca_s_unk_if", "proposed_transfer_syntaxes",
                            "rpc_s_unknown_if", "ept_s_not_registered", "class not registered", "0x80040154")


def classify_wmi(exc: BaseException) -> tuple[bool | None, str, str, bool]:
    """(ok, class, detail, definitive) for an exception from a DCOM/WMI attempt."""
    if is_timeout(exc):
        return False, "timeout", "WMI did not answer in time", False
    text = _short(exc)
    code = exc.get_error_code() if isinstance(exc, DCERPCException) else None
    if code in (WBEM_ACCESS_DENIED, E_ACCESSDENIED, RPC_ACCESS_DENIED) or "access_denied" in text.lower():
        return False, "wmi_access_denied", f"access denied at Packet Privacy ({text})", True
    if code == WBEM_INVALID_NAMESPACE:
        return None, "wmi_unavailable", "the namespace does not exist on this host", False
    if any(mark in text.lower() for mark in UNAVAILABLE_MARKS):
        return None, "wmi_unavailable", f"no DCOM/WMI service answers ({text})", False
    if isinstance(exc, ConnectionRefusedError) or "connection refused" in text.lower():
        return False, "refused", "TCP 135 (RPC endpoint mapper) refused the connection", False
    if isinstance(exc, OSError) or "could not connect" in text.lower():
        return False, "unreachable", f"TCP 135 (RPC endpoint mapper) did not answer ({text})", False
    return False, "error", f"WMI failed: {text}", False


def wmi_check(ok: bool | None, cls: str, detail: str, definitive: bool) -> Check:
    return Check(ok, cls, definitive, detail, None if ok else fix_for("wmi", cls))


def namespace_path(namespace: str) -> str:
    """'root\\cimv2' -> '//./root/cimv2', the form IWbemLevel1Login::NTLMLogin takes."""
    return "//./" + namespace.replace("\\", "/").strip("/")


DcomConnect = Callable[[str, str, Credentials, Any, float], Any]
ActivatorProbe = Callable[[str, float], None]


def dcom_activator(address: str, timeout: float) -> None:
    """Is there a DCOM activator on TCP 135? An unauthenticated bind costs no logon and no ticket,
    and a host without DCOM (e.g. Samba) refuses the interface right here. Raises what it saw."""
    from impacket.dcerpc.v5 import transport
    from impacket.dcerpc.v5.dcomrt import IID_IRemoteSCMActivator

    rpc = transport.DCERPCTransportFactory(f"ncacn_ip_tcp:{address}[{WMI_PORT}]")
    rpc.set_connect_timeout(timeout)
    dce = rpc.get_dce_rpc()
    dce.connect()
    try:
        dce.bind(IID_IRemoteSCMActivator)
    except DCERPCException as exc:
        if any(mark in str(exc).lower() for mark in UNAVAILABLE_MARKS):
            raise
        # Any other refusal (a host that wants authentication already for the bind): the logged-on
        # attempt decides.
    finally:
        with contextlib.suppress(Exception):
            dce.disconnect()


_dcom_deadline = threading.local()


def _install_connect_bound() -> None:
    """Bound every DCE/RPC TCP connection this thread opens by its target's deadline.

    impacket's DCOM opens further connections inside its calls (the object's binding, with a fixed
    300 s connect timeout) and offers no way to pass a timeout; the wrapper clamps whatever timeout it
    sets to the time the thread's target has left. Threads without a deadline are untouched.
    """
    from impacket.dcerpc.v5 import transport

    current = transport.TCPTransport.set_connect_timeout
    if getattr(current, "scanready_bound", False):
        return

    def bounded(self: Any, timeout: float) -> None:
        deadline = getattr(_dcom_deadline, "at", None)
        if deadline is not None:
            timeout = max(0.1, min(timeout, deadline - time.monotonic()))
        current(self, timeout)

    bounded.scanready_bound = True  # type: ignore[attr-defined]
    transport.TCPTransport.set_connect_timeout = bounded


@contextlib.contextmanager
def dcom_deadline(deadline: float) -> Iterator[None]:
    """Within the block, no DCE/RPC connection of this thread waits past `deadline` (time.monotonic)."""
    _install_connect_bound()
    _dcom_deadline.at = deadline
    try:
        yield
    finally:
        _dcom_deadline.at = None


def dcom_connect(address: str, dns_name: str, creds: Credentials, ticket: Any, timeout: float) -> Any:
    """A DCOM connection to the host's activator at Packet Privacy, authenticated as the session was."""
    from impacket.dcerpc.v5.dcomrt import DCOMConnection
    from impacket.dcerpc.v5.rpcrt import RPC_C_AUTHN_LEVEL_PKT_PRIVACY

    if ticket is not None:
        dcom = DCOMConnection(dns_name, creds.username, "", creds.realm, TGS=ticket.tgs, doKerberos=True,
                              authLevel=RPC_C_AUTHN_LEVEL_PKT_PRIVACY, oxidResolver=False, remoteHost=address)
    else:
        dcom = DCOMConnection(address, creds.username, creds.password, creds.domain,
                              authLevel=RPC_C_AUTHN_LEVEL_PKT_PRIVACY, oxidResolver=False)
    dcom.get_dce_rpc().get_rpc_transport().get_socket().settimeout(timeout)
    return dcom


def probe_wmi(session: Session, creds: Credentials, tickets: TicketSource | None, namespaces: Sequence[str],
              results: dict[str, Check], connect: DcomConnect = dcom_connect,
              activator: ActivatorProbe = dcom_activator) -> None:
    """Log on to each namespace through IWbemLevel1Login at Packet Privacy, as the scanner does,
    with the scheme the session used (Kerberos needs a host/<fqdn> ticket). No connection waits past
    the target's deadline."""
    names = [f"wmi:{ns}" for ns in namespaces]
    if not names:
        return
    with dcom_deadline(session.deadline):
        _wmi_logons(session, creds, tickets, namespaces, names, results, connect, activator)


def _wmi_logons(session: Session, creds: Credentials, tickets: TicketSource | None, namespaces: Sequence[str],
                names: Sequence[str], results: dict[str, Check], connect: DcomConnect,
                activator: ActivatorProbe) -> None:
    from impacket.dcerpc.v5.dcom import wmi
    from impacket.dcerpc.v5.dtypes import NULL

    endpoint = session.endpoint
    dcom = None
    try:
        left = session.remaining()
        if left <= 0:
            raise TimeoutError("the target's time ran out")
        activator(endpoint.address, min(left, 30.0))
        ticket = None
        if session.scheme.startswith("kerberos"):
            found = tickets.ticket(session.scheme, f"host/{endpoint.dns_name}") if tickets else "no Kerberos"
            if isinstance(found, str):
                for name in names:
                    results[name] = not_tested(f"not tested: the session used {SCHEME_NAMES[session.scheme]}, "
                                               f"and there is no ticket for host/{endpoint.dns_name} ({found})", False)
                return
            ticket = found
        dcom = connect(endpoint.address, endpoint.dns_name or endpoint.address, creds, ticket,
                       min(max(session.remaining(), 1.0), 30.0))
        login = wmi.IWbemLevel1Login(dcom.CoCreateInstanceEx(wmi.CLSID_WbemLevel1Login, wmi.IID_IWbemLevel1Login))
        for namespace, name in zip(namespaces, names, strict=True):
            started = time.monotonic()
            try:
                services = login.NTLMLogin(namespace_path(namespace), NULL, NULL)
                services.RemRelease()
                results[name] = passed(f"logged on to {namespace} at Packet Privacy "
                                       f"({time.monotonic() - started:.2f} s)", False)
            except Exception as exc:
                results[name] = wmi_check(*classify_wmi(exc))
        login.RemRelease()
    except Exception as exc:
        verdict = wmi_check(*classify_wmi(exc))
        for name in names:
            results.setdefault(name, verdict)
    finally:
        if dcom is not None:
            with contextlib.suppress(Exception):  # the connection may be gone already; nothing is left to free
                dcom.disconnect()
