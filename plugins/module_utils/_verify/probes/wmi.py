# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A logon to WMI namespaces over DCOM at Packet Privacy, as the scanner's WMI checks do; no connection
waits past the target's deadline."""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._compat import close_quietly
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import SCHEME_NAMES, Credentials
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

try:
    from impacket.dcerpc.v5.rpcrt import DCERPCException
except ImportError:  # reported by the module through require_library
    DCERPCException = Exception

WMI_PORT: Final = 135
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
        return False, FailureClass.TIMEOUT, "WMI did not answer in time", False
    text = first_line(exc)
    code = exc.get_error_code() if isinstance(exc, DCERPCException) else None
    if code in (WBEM_ACCESS_DENIED, E_ACCESSDENIED, RPC_ACCESS_DENIED) or FailureClass.ACCESS_DENIED in text.lower():
        return False, FailureClass.WMI_ACCESS_DENIED, f"access denied at Packet Privacy ({text})", True
    if code == WBEM_INVALID_NAMESPACE:
        return None, FailureClass.WMI_UNAVAILABLE, "the namespace does not exist on this host", False
    if any(mark in text.lower() for mark in UNAVAILABLE_MARKS):
        return None, FailureClass.WMI_UNAVAILABLE, f"no DCOM/WMI service answers ({text})", False
    if isinstance(exc, ConnectionRefusedError) or "connection refused" in text.lower():
        return False, FailureClass.REFUSED, "TCP 135 (RPC endpoint mapper) refused the connection", False
    if isinstance(exc, OSError) or "could not connect" in text.lower():
        return False, FailureClass.UNREACHABLE, f"TCP 135 (RPC endpoint mapper) did not answer ({text})", False
    return False, FailureClass.ERROR, f"WMI failed: {text}", False


def wmi_check(ok: bool | None, cls: str, detail: str, definitive: bool) -> CheckResult:
    return CheckResult(ok, cls, definitive, detail, None if ok else fix_for("wmi", cls))


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
              results: dict[str, CheckResult], connect: DcomConnect = dcom_connect,
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
                names: Sequence[str], results: dict[str, CheckResult], connect: DcomConnect,
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
        close_quietly(dcom, "disconnect")  # the connection may be gone already; nothing is left to free
