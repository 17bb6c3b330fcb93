# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A logon to WMI namespaces over DCOM at Packet Integrity, as a scanner's WMI checks connect, with a second
logon at Packet Privacy where the first is refused; no connection waits past the target's deadline."""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._compat import close_quietly
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials
from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import fix_for
from ansible_collections.scanready.windows.plugins.module_utils._verify.kerberos import TicketSource
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.classify import is_timeout
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import (
    CheckResult,
    FailureClass,
    not_tested,
    passed,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import Session, first_line
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import SCHEME_NAMES

try:
    from impacket.dcerpc.v5.rpcrt import DCERPCException
except ImportError:  # reported by the module through require_library
    DCERPCException = Exception

WMI_PORT: Final = 135
# RPC_C_AUTHN_LEVEL_*: scanners connect at Packet Integrity; a host whose WMI runs in its own svchost at
# level 6 raises the connection to Packet Privacy (DCOM uses the higher of the client's and the host's level).
PKT_INTEGRITY: Final = 5
PKT_PRIVACY: Final = 6
LEVEL_NAMES: Final = {PKT_INTEGRITY: "Packet Integrity", PKT_PRIVACY: "Packet Privacy"}
WBEM_ACCESS_DENIED: Final = 0x80041003
E_ACCESSDENIED: Final = 0x80070005
WBEM_INVALID_NAMESPACE: Final = 0x8004100E
WBEM_ENCRYPTED_CONNECTION_REQUIRED: Final = 0x80041087
RPC_ACCESS_DENIED: Final = 5
ACCESS_DENIED_CODES: Final = (WBEM_ACCESS_DENIED, E_ACCESSDENIED, RPC_ACCESS_DENIED)
# Bind refusals that mean "no such interface here": no DCOM activator, i.e. no WMI to ask.
UNAVAILABLE_MARKS: Final = ("abstract_syntax_not_supported", "nca_s_unk_if", "proposed_transfer_syntaxes",
                            "rpc_s_unknown_if", "ept_s_not_registered", "class not registered", "0x80040154")


def error_code(exc: BaseException) -> int | None:
    code = exc.get_error_code() if isinstance(exc, DCERPCException) else None
    return code if isinstance(code, int) else None


def is_access_denied(exc: BaseException) -> bool:
    return error_code(exc) in ACCESS_DENIED_CODES or FailureClass.ACCESS_DENIED in first_line(exc).lower()


def is_refusal(exc: BaseException) -> bool:
    """Did the namespace refuse this logon (rather than the network or the host failing)?"""
    return error_code(exc) == WBEM_ENCRYPTED_CONNECTION_REQUIRED or is_access_denied(exc)


def classify_wmi(exc: BaseException, level: int = PKT_INTEGRITY) -> tuple[bool | None, str, str, bool]:
    """(ok, class, detail, definitive) for an exception from a DCOM/WMI attempt at `level`."""
    if is_timeout(exc):
        return False, FailureClass.TIMEOUT, "WMI did not answer in time", False
    text = first_line(exc)
    code = error_code(exc)
    if code == WBEM_ENCRYPTED_CONNECTION_REQUIRED:
        return (False, FailureClass.WMI_PRIVACY_NOT_ENFORCED,
                f"the namespace requires an encrypted connection and WMI did not raise this one from "
                f"{LEVEL_NAMES[level]} to Packet Privacy (WBEM_E_ENCRYPTED_CONNECTION_REQUIRED, 0x80041087)", True)
    if is_access_denied(exc):
        return False, FailureClass.WMI_ACCESS_DENIED, f"access denied at {LEVEL_NAMES[level]} ({text})", True
    if code == WBEM_INVALID_NAMESPACE:
        return None, FailureClass.WMI_UNAVAILABLE, "the namespace does not exist on this host", False
    if any(mark in text.lower() for mark in UNAVAILABLE_MARKS):
        return None, FailureClass.WMI_UNAVAILABLE, f"no DCOM/WMI service answers ({text})", False
    if isinstance(exc, ConnectionRefusedError) or "connection refused" in text.lower():
        return False, FailureClass.REFUSED, "TCP 135 (RPC endpoint mapper) refused the connection", False
    if isinstance(exc, OSError) or "could not connect" in text.lower():
        return False, FailureClass.UNREACHABLE, f"TCP 135 (RPC endpoint mapper) did not answer ({text})", False
    return False, FailureClass.ERROR, f"WMI failed: {text}", False


def refusal_verdict(refused: BaseException, at_privacy: BaseException | None) -> tuple[bool | None, str, str, bool]:
    """A namespace refused a scanner's logon (Packet Integrity): what the same logon at Packet Privacy
    (None: it opened) tells of why. Opened there: WMI does not raise connections to Packet Privacy.
    Denied there too: the account has no access at all."""
    first = classify_wmi(refused)
    if at_privacy is None:
        return (False, FailureClass.WMI_PRIVACY_NOT_ENFORCED,
                f"refused at Packet Integrity, as a scanner connects ({first[2]}), and opened at Packet Privacy: "
                "WMI does not raise connections to Packet Privacy", True)
    second = classify_wmi(at_privacy, PKT_PRIVACY)
    if second[1] == FailureClass.WMI_ACCESS_DENIED:
        return (False, FailureClass.WMI_ACCESS_DENIED,
                f"refused at Packet Integrity ({first[2]}) and access denied at Packet Privacy too: "
                "the account has no WMI access here", True)
    return first[0], first[1], f"{first[2]}; the logon at Packet Privacy did not settle it ({second[2]})", first[3]


def wmi_check(ok: bool | None, cls: str, detail: str, definitive: bool) -> CheckResult:
    return CheckResult(ok, cls, definitive, detail, None if ok else fix_for("wmi", cls))


def namespace_verdict(namespace: str, level_used: int, outcome: float | BaseException,
                      at_privacy: float | BaseException | None) -> CheckResult:
    """One namespace's check from a scanner-like logon (`outcome`: seconds it took, or what refused it)
    and, when that was refused, the logon at Packet Privacy."""
    if not isinstance(outcome, BaseException):
        raised = "; the host raised the connection to Packet Privacy" if level_used == PKT_PRIVACY else ""
        return passed(f"opened {namespace} connecting at Packet Integrity, as a scanner does{raised} "
                      f"({outcome:.2f} s)", False)
    if at_privacy is None or not is_refusal(outcome):
        return wmi_check(*classify_wmi(outcome))
    return wmi_check(*refusal_verdict(outcome, at_privacy if isinstance(at_privacy, BaseException) else None))


def namespace_path(namespace: str) -> str:
    """'root\\cimv2' -> '//./root/cimv2', the form IWbemLevel1Login::NTLMLogin takes."""
    return "//./" + namespace.replace("\\", "/").strip("/")


DcomConnect = Callable[[str, str, Credentials, Any, float, int], Any]
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
        close_quietly(dce, "disconnect")


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


def dcom_connect(address: str, dns_name: str, creds: Credentials, ticket: Any, timeout: float, level: int) -> Any:
    """A DCOM connection to the host's activator at `level`, authenticated as the session was."""
    from impacket.dcerpc.v5.dcomrt import DCOMConnection

    if ticket is not None:
        dcom = DCOMConnection(dns_name, creds.username, "", creds.realm, TGS=ticket.tgs, doKerberos=True,
                              authLevel=level, oxidResolver=False, remoteHost=address)
    else:
        dcom = DCOMConnection(address, creds.username, creds.password, creds.domain, authLevel=level,
                              oxidResolver=False)
    dcom.get_dce_rpc().get_rpc_transport().get_socket().settimeout(timeout)
    return dcom


def pin_object_level(interface: Any, level: int) -> int:
    """Make the activated object's connection use the higher of `level` and the level the host named in
    its activation answer (authnHint), as Windows' DCOM client does, and return that level.

    Left alone, impacket uses the host's hint raised to Packet Integrity (NTLM) or to Packet Privacy
    (Kerberos), whatever level the caller asked for; it keeps the hint, unraised, in a private attribute.
    """
    cinstance = interface.get_cinstance()
    hint = vars(cinstance).get("_CLASS_INSTANCE__authLevel")
    used = max(level, hint if isinstance(hint, int) and hint <= PKT_PRIVACY else 0)
    cinstance.get_auth_level = lambda: used
    return used


def logons_at(session: Session, creds: Credentials, ticket: Any, namespaces: Sequence[str], connect: DcomConnect,
              level: int) -> tuple[int, dict[str, float | BaseException]]:
    """Log on to each namespace through IWbemLevel1Login on one connection made at `level`: the level
    the connection used and each namespace's outcome. A failure of the connection itself raises."""
    from impacket.dcerpc.v5.dcom import wmi
    from impacket.dcerpc.v5.dtypes import NULL

    endpoint = session.endpoint
    dcom = connect(endpoint.address, endpoint.dns_name or endpoint.address, creds, ticket,
                   min(max(session.remaining(), 1.0), 30.0), level)
    try:
        interface = dcom.CoCreateInstanceEx(wmi.CLSID_WbemLevel1Login, wmi.IID_IWbemLevel1Login)
        used = pin_object_level(interface, level)
        login = wmi.IWbemLevel1Login(interface)
        outcomes: dict[str, float | BaseException] = {}
        for namespace in namespaces:
            started = time.monotonic()
            try:
                login.NTLMLogin(namespace_path(namespace), NULL, NULL).RemRelease()
                outcomes[namespace] = time.monotonic() - started
            except Exception as exc:
                outcomes[namespace] = exc
        login.RemRelease()
        return used, outcomes
    finally:
        close_quietly(dcom, "disconnect")  # the connection may be gone already; nothing is left to free


def probe_wmi(session: Session, creds: Credentials, tickets: TicketSource | None, namespaces: Sequence[str],
              results: dict[str, CheckResult], connect: DcomConnect = dcom_connect,
              activator: ActivatorProbe = dcom_activator) -> None:
    """Log on to each namespace through IWbemLevel1Login at Packet Integrity, as a scanner does, with the
    scheme the session used (Kerberos needs a host/<fqdn> ticket); the namespaces that refuse are tried
    once more at Packet Privacy, to tell WMI that does not raise the level from an account without
    access. No connection waits past the target's deadline."""
    names = [f"wmi:{ns}" for ns in namespaces]
    if not names:
        return
    with dcom_deadline(session.deadline):
        _wmi_logons(session, creds, tickets, namespaces, names, results, connect, activator)


def _wmi_logons(session: Session, creds: Credentials, tickets: TicketSource | None, namespaces: Sequence[str],
                names: Sequence[str], results: dict[str, CheckResult], connect: DcomConnect,
                activator: ActivatorProbe) -> None:
    endpoint = session.endpoint
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
        used, outcomes = logons_at(session, creds, ticket, namespaces, connect, PKT_INTEGRITY)
        refused = [ns for ns, out in outcomes.items() if isinstance(out, BaseException) and is_refusal(out)]
        at_privacy: dict[str, float | BaseException] = {}
        if refused:
            try:
                at_privacy = logons_at(session, creds, ticket, refused, connect, PKT_PRIVACY)[1]
            except Exception as exc:
                at_privacy = dict.fromkeys(refused, exc)
        for namespace, name in zip(namespaces, names, strict=True):
            results[name] = namespace_verdict(namespace, used, outcomes[namespace], at_privacy.get(namespace))
    except Exception as exc:
        verdict = wmi_check(*classify_wmi(exc))
        for name in names:
            results.setdefault(name, verdict)
