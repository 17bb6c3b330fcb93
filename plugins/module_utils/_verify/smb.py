# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SMB sessions as the scanner account, and the ladder of authentication schemes a scanner tries.

Kerberos AES, then Kerberos RC4, then NTLMv2, then NTLMv1 (only when allowed): the first scheme the
target accepts is the session's, and the ones that did not work are said with their reason. A
refusal of the account itself under NTLM (wrong password, locked, disabled, expired) is the lockout
guard's business: it stops the whole run, so it is raised with `stops_run` and never retried.
The client, its signing and the NTLMv1 switch are the SMB package's (_smb.client).
"""
from __future__ import annotations

import errno
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils import _ntstatus as ntstatus
from ansible_collections.scanready.windows.plugins.module_utils._compat import close_quietly
from ansible_collections.scanready.windows.plugins.module_utils._smb.client import negotiate, ntlmv1
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials, Endpoint
from ansible_collections.scanready.windows.plugins.module_utils._verify.kerberos import ServiceTicket, TicketSource
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import ClassifiedError, FailureClass
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import SCHEME_NAMES

try:
    from impacket import nmb, smb3
    from impacket import smb3structs as s3
    from impacket.dcerpc.v5.transport import DCERPCTransport
except ImportError:  # reported by the module through missing_required_lib
    nmb = smb3 = s3 = None
    DCERPCTransport = object

# Other session-setup statuses: the password was right, the host still said no. (The refusals of the
# account itself are _ntstatus.CREDENTIAL_STATUSES: under NTLM each may have counted as a bad password.)
SESSION_STATUSES: Final[dict[int, str]] = {
    ntstatus.STATUS_ACCESS_DENIED: FailureClass.SPN_HARDENING,  # on session setup: SPN target name validation
    ntstatus.STATUS_LOGON_TYPE_NOT_GRANTED: FailureClass.ACCESS_DENIED,  # "deny access from the network"
    ntstatus.STATUS_ACCOUNT_RESTRICTION: FailureClass.ACCESS_DENIED,
    ntstatus.STATUS_INVALID_LOGON_HOURS: FailureClass.ACCESS_DENIED,
    ntstatus.STATUS_INVALID_WORKSTATION: FailureClass.ACCESS_DENIED,
    ntstatus.STATUS_NOT_SUPPORTED: FailureClass.REFUSED,
    ntstatus.STATUS_INVALID_PARAMETER: FailureClass.REFUSED,
    ntstatus.STATUS_NO_LOGON_SERVERS: FailureClass.ERROR,  # the host cannot reach a DC
    ntstatus.STATUS_TRUSTED_RELATIONSHIP_FAILURE: FailureClass.ERROR,
    ntstatus.STATUS_NO_TRUST_SAM_ACCOUNT: FailureClass.ERROR,
}


class SessionFailure(ClassifiedError):
    """No session: `cls` is the readiness class, the message what was seen; never contains a secret."""

    def __init__(self, cls: str, message: str, stops_run: bool = False, attempts: tuple[str, ...] = ()) -> None:
        super().__init__(cls, message)
        self.stops_run = stops_run
        self.attempts = attempts

    @property
    def detail(self) -> str:
        """What was seen: the message."""
        return self.message


def connect(endpoint: Endpoint, connect_timeout: float) -> Any:
    """TCP 445 and an SMB 2/3 negotiate; failures are classified (unreachable, refused, timeout)."""
    name = endpoint.dns_name or endpoint.address
    try:
        return negotiate(name, endpoint.address, connect_timeout)
    except OSError as exc:
        raise SessionFailure(*classify_connect_error(exc, endpoint.address, connect_timeout)) from None
    except nmb.NetBIOSTimeout:
        raise SessionFailure(FailureClass.TIMEOUT, f"{endpoint.address} accepted TCP 445 but did not answer the "
                                                   f"SMB negotiation within {connect_timeout:.0f} s") from None
    except (nmb.NetBIOSError, smb3.SessionError) as exc:
        raise SessionFailure(FailureClass.REFUSED, f"{endpoint.address} did not negotiate SMB 2 or 3 ({exc})") from None


def classify_connect_error(exc: OSError, address: str, connect_timeout: float) -> tuple[str, str]:
    """impacket wraps socket errors as OSError('Connection error (...)', cause)."""
    cause = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], BaseException) else exc
    if isinstance(cause, ConnectionRefusedError):
        return FailureClass.REFUSED, (f"{address} refused the connection to TCP 445 (nothing listens, or a firewall "
                                      "rejects it)")
    if isinstance(cause, TimeoutError):
        return FailureClass.UNREACHABLE, (f"no answer from {address} on TCP 445 within {connect_timeout:.0f} s "
                                          "(filtered)")
    if isinstance(cause, ConnectionResetError):
        return FailureClass.REFUSED, f"{address} reset the connection on TCP 445"
    code = getattr(cause, "errno", None)
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return FailureClass.UNREACHABLE, f"no route to {address} ({errno.errorcode.get(code or 0, code)})"
    return FailureClass.UNREACHABLE, f"cannot connect to {address} on TCP 445 ({cause})"


class _Pipe(DCERPCTransport):  # type: ignore[misc]
    """DCE/RPC over a named pipe of an existing session, one FSCTL_PIPE_TRANSCEIVE per call.

    impacket's SMBTransport writes then reads (two SMB round trips per call) and opens its own IPC$
    tree; this reuses the session's IPC$ tree and halves the round trips.
    """

    def __init__(self, session: Session, pipe: str) -> None:
        super().__init__(session.endpoint.address, 445)
        self._session = session
        self._pipe = pipe
        self._fid: Any = None
        self._reply: bytes | None = None

    def connect(self) -> int:
        conn, tid = self._session.conn, self._session.tree("IPC$")
        self._fid = conn.create(tid, self._pipe, s3.FILE_READ_DATA | s3.FILE_WRITE_DATA,
                                s3.FILE_SHARE_READ | s3.FILE_SHARE_WRITE, s3.FILE_NON_DIRECTORY_FILE,
                                s3.FILE_OPEN, 0)
        return 1

    def send(self, data: bytes, forceWriteAndx: int = 0, forceRecv: int = 0) -> None:
        self._reply = self._session.conn.TransactNamedPipe(self._session.tree("IPC$"), self._fid, data)

    def recv(self, forceRecv: int = 0, count: int = 0) -> bytes:
        reply, self._reply = self._reply, None
        if reply is None:  # a further fragment of a long answer
            reply = self._session.conn.read(self._session.tree("IPC$"), self._fid, 0, self._max_recv_frag or 4280)
        return bytes(reply)

    def disconnect(self) -> int:
        if self._fid is not None:
            self._session.conn.close(self._session.tree("IPC$"), self._fid)
            self._fid = None
        return 1


@dataclass
class Session:
    """A logged-on SMB session and what it took to get it."""

    conn: Any  # impacket.smb3.SMB3
    endpoint: Endpoint
    scheme: str
    detail: str
    deadline: float
    ticket: ServiceTicket | None = None
    signing_required: bool | None = None  # the host's negotiate answer; None when not seen
    _trees: dict[str, int] = field(default_factory=dict)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def arm(self) -> None:
        """Give the next requests what is left of the target's time; none left is a timeout."""
        left = self.remaining()
        if left <= 0:
            raise TimeoutError("the target's time ran out")
        self.conn.setTimeout(left)

    def tree(self, share: str) -> int:
        if share not in self._trees:
            self._trees[share] = self.conn.connectTree(share)
        return self._trees[share]

    def rpc(self, pipe: str, interface: bytes) -> Any:
        """A DCE/RPC binding to `interface` over \\pipe\\`pipe`."""
        dce = _Pipe(self, pipe).get_dce_rpc()
        dce.connect()
        dce.bind(interface)
        return dce

    def close(self) -> None:
        # Closing the socket ends the session; the host frees its trees and handles with it.
        close_quietly(self.conn, "close_session")


def logon(endpoint: Endpoint, creds: Credentials, tickets: TicketSource | None, connect_timeout: float,
          deadline: float, stopped: Callable[[], bool]) -> Session:
    """Climb the ladder; the first scheme the host accepts gives the session.

    Raises SessionFailure: connection failures at once; refusals after every scheme was tried,
    with the class of the most telling refusal; an NTLM refusal of the account at once with
    stops_run, after `stopped` says nothing may be attempted any more.
    """
    attempts: list[str] = []
    failures: list[str] = []
    conn: Any = None
    for scheme in creds.schemes():
        if stopped():
            raise SessionFailure(FailureClass.NOT_TESTED, "not attempted: the run stopped after a logon failure, so "
                                                          "that the account is not locked out",
                                 attempts=tuple(attempts))
        ticket: ServiceTicket | None = None
        if scheme.startswith("kerberos"):
            found = _kerberos_ticket(endpoint, scheme, tickets)
            if isinstance(found, str):
                attempts.append(f"{SCHEME_NAMES[scheme]} not tried: {found}")
                continue
            ticket = found
        if time.monotonic() >= deadline:
            raise SessionFailure(FailureClass.TIMEOUT, "the target's time ran out before a logon succeeded",
                                 attempts=tuple(attempts))
        conn = conn or connect(endpoint, connect_timeout)
        conn.setTimeout(max(0.1, deadline - time.monotonic()))
        try:
            _session_setup(conn, scheme, creds, ticket)
        except smb3.SessionError as exc:
            code = exc.get_error_code()
            cls = _session_class(code, scheme)
            attempts.append(f"{SCHEME_NAMES[scheme]} refused by the host ({ntstatus.status_name(code)})")
            close_quietly(conn, "close_session")
            conn = None
            if not scheme.startswith("kerberos") and code in ntstatus.CREDENTIAL_STATUSES:
                raise SessionFailure(cls, f"the host refused the account ({ntstatus.status_name(code)}) under "
                                          f"{SCHEME_NAMES[scheme]}", stops_run=True, attempts=tuple(attempts)) from None
            failures.append(cls)
            continue
        except (nmb.NetBIOSTimeout, TimeoutError):
            raise SessionFailure(FailureClass.TIMEOUT, f"no answer to the {SCHEME_NAMES[scheme]} session setup in time",
                                 attempts=tuple(attempts)) from None
        except Exception as exc:  # impacket raises many kinds on a malformed or unexpected answer
            attempts.append(f"{SCHEME_NAMES[scheme]} failed ({type(exc).__name__}: {first_line(exc)})")
            close_quietly(conn, "close_session")
            conn = None
            failures.append(FailureClass.ERROR)
            continue
        detail = f"logged on with {SCHEME_NAMES[scheme]}"
        if ticket is not None:
            detail += f" (session key {ticket.session_etype}, ticket {ticket.ticket_etype})"
        if attempts:
            detail += "; " + "; ".join(attempts)
        return Session(conn, endpoint, scheme, detail, deadline, ticket, getattr(conn, "server_requires_signing", None))
    close_quietly(conn, "close_session")
    cls = next((c for c in reversed(failures) if c != FailureClass.ERROR),
               failures[-1] if failures else FailureClass.REFUSED)
    raise SessionFailure(cls, "no authentication scheme worked: " + "; ".join(attempts), attempts=tuple(attempts))


def _kerberos_ticket(endpoint: Endpoint, scheme: str, tickets: TicketSource | None) -> ServiceTicket | str:
    if endpoint.dns_name is None:
        return endpoint.no_name_reason or "the target has no DNS name for its SPN"
    if tickets is None:
        return "Kerberos is not available on the controller"
    found = tickets.ticket(scheme, f"cifs/{endpoint.dns_name}")
    if isinstance(found, str):
        return f"no ticket for cifs/{endpoint.dns_name} ({found})"
    return found


def _session_setup(conn: Any, scheme: str, creds: Credentials, ticket: ServiceTicket | None) -> None:
    if ticket is not None:
        conn.kerberosLogin(creds.username, "", creds.realm, TGS=ticket.tgs)
    elif scheme == "ntlmv1":
        with ntlmv1():
            conn.login(creds.username, creds.password, creds.domain)
    else:
        conn.login(creds.username, creds.password, creds.domain)


def _session_class(code: int, scheme: str) -> str:
    if scheme.startswith("kerberos") and code == ntstatus.STATUS_ACCESS_DENIED:
        return FailureClass.ACCESS_DENIED
    return FailureClass(ntstatus.CREDENTIAL_STATUSES.get(code) or SESSION_STATUSES.get(code, FailureClass.ERROR))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
