# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SMB sessions as the scanner account, and the ladder of authentication schemes a scanner tries.

Kerberos AES, then Kerberos RC4, then NTLMv2, then NTLMv1 (only when allowed): the first scheme the
target accepts is the session's, and the ones that did not work are said with their reason. A
refusal of the account itself under NTLM (wrong password, locked, disabled, expired) is the lockout
guard's business: it stops the whole run, so it is raised with `stops_run` and never retried.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from ansible_collections.scanready.windows.plugins.module_utils._account import SAM_FORBIDDEN, SAM_MAX_LENGTH
from ansible_collections.scanready.windows.plugins.module_utils._kerberos import ServiceTicket

try:
    from impacket import nmb, nt_errors, ntlm, smb3
    from impacket import smb3structs as s3
    from impacket.dcerpc.v5.transport import DCERPCTransport
except ImportError:  # reported by the module through missing_required_lib
    nmb = nt_errors = ntlm = smb3 = s3 = None
    DCERPCTransport = object

SCHEMES: Final = ("kerberos-aes", "kerberos-rc4", "ntlmv2", "ntlmv1")
SCHEME_NAMES: Final = {"kerberos-aes": "Kerberos AES", "kerberos-rc4": "Kerberos RC4",
                       "ntlmv2": "NTLMv2", "ntlmv1": "NTLMv1"}

# Session-setup statuses that refuse the account itself. Under NTLM each one may have counted as a
# bad password on the DC, so the first one stops the run (the lockout guard).
CREDENTIAL_STATUSES: Final[dict[int, str]] = {
    0xC000006D: "logon_failure",     # STATUS_LOGON_FAILURE
    0xC000006A: "logon_failure",     # STATUS_WRONG_PASSWORD
    0xC0000064: "logon_failure",     # STATUS_NO_SUCH_USER
    0xC0000234: "account_locked",    # STATUS_ACCOUNT_LOCKED_OUT
    0xC0000072: "account_disabled",  # STATUS_ACCOUNT_DISABLED
    0xC0000193: "account_expired",   # STATUS_ACCOUNT_EXPIRED
    0xC0000071: "password_expired",  # STATUS_PASSWORD_EXPIRED
    0xC0000224: "password_expired",  # STATUS_PASSWORD_MUST_CHANGE
}
# Other session-setup statuses: the password was right, the host still said no.
SESSION_STATUSES: Final[dict[int, str]] = {
    0xC0000022: "spn_hardening",     # STATUS_ACCESS_DENIED on session setup: SPN target name validation
    0xC000015B: "access_denied",     # STATUS_LOGON_TYPE_NOT_GRANTED: "deny access from the network"
    0xC000006E: "access_denied",     # STATUS_ACCOUNT_RESTRICTION
    0xC000006F: "access_denied",     # STATUS_INVALID_LOGON_HOURS
    0xC0000070: "access_denied",     # STATUS_INVALID_WORKSTATION
    0xC00000BB: "refused",           # STATUS_NOT_SUPPORTED
    0xC000000D: "refused",           # STATUS_INVALID_PARAMETER
    0xC000005E: "error",             # STATUS_NO_LOGON_SERVERS: the host cannot reach a DC
    0xC000018D: "error",             # STATUS_TRUSTED_RELATIONSHIP_FAILURE
    0xC000018B: "error",             # STATUS_NO_TRUST_SAM_ACCOUNT
}
STATUS_ACCESS_DENIED: Final = 0xC0000022
STATUS_LOGON_FAILURE: Final = 0xC000006D


def status_name(code: int) -> str:
    """`STATUS_X` for an NTSTATUS, or its hex when impacket does not know it."""
    known = nt_errors.ERROR_MESSAGES.get(code) if nt_errors is not None else None
    return known[0] if known else f"0x{code:08x}"


class SessionFailure(Exception):
    """No session: `cls` is the readiness class, `detail` what was seen; never contains a secret."""

    def __init__(self, cls: str, detail: str, stops_run: bool = False, attempts: tuple[str, ...] = ()) -> None:
        super().__init__(detail)
        self.cls = cls
        self.detail = detail
        self.stops_run = stops_run
        self.attempts = attempts


@dataclass(frozen=True)
class Credentials:
    """The scanner account. `domain` is the DNS name; the password never shows in repr()."""

    username: str
    password: str = field(repr=False)
    domain: str
    allow_ntlmv1: bool = False
    allow_ntlm: bool = True  # false: the Kerberos rungs only, no NTLM response of the account on the wire

    @classmethod
    def parse(cls, username: str, password: str, domain: str, allow_ntlmv1: bool = False,
              allow_ntlm: bool = True) -> Credentials:
        """Accept `name`, `DOMAIN\\name` or `name@domain`; keep the bare logon name. ValueError names a
        bad one."""
        name = username.strip()
        if "\\" in name:
            name = name.split("\\", 1)[1]
        elif "@" in name:
            name = name.split("@", 1)[0]
        if not name or not domain.strip():
            raise ValueError("username and domain must not be empty")
        problem = logon_name_problem(name)
        if problem:
            raise ValueError(problem)
        if allow_ntlmv1 and not allow_ntlm:
            raise ValueError("allow_ntlmv1 needs allow_ntlm: NTLMv1 is a kind of NTLM")
        return cls(name, password, domain.strip().rstrip(".").lower(), allow_ntlmv1, allow_ntlm)

    @property
    def realm(self) -> str:
        return self.domain.upper()

    def schemes(self) -> tuple[str, ...]:
        if not self.allow_ntlm:
            return SCHEMES[:2]
        return SCHEMES if self.allow_ntlmv1 else SCHEMES[:-1]


def logon_name_problem(name: str) -> str | None:
    """Why `name` cannot be a user's logon name (sAMAccountName), or None. Non-ASCII letters are
    allowed (AD allows them); a leading "-" is refused, so that no program reads the name as an option."""
    bad = sorted({c for c in name if c in SAM_FORBIDDEN or not c.isprintable()})
    if bad:
        return f"username {name!r} contains characters a logon name cannot hold: {' '.join(repr(c) for c in bad)}"
    if name.startswith("-"):
        return f"username {name!r} begins with '-'"
    if len(name) > SAM_MAX_LENGTH:
        return f"username {name!r} is {len(name)} characters; a logon name (sAMAccountName) holds at most " \
               f"{SAM_MAX_LENGTH}"
    return None


class TicketSource(Protocol):
    """Service tickets per Kerberos rung, or the reason there is none."""

    def ticket(self, scheme: str, spn: str) -> ServiceTicket | str: ...


@dataclass(frozen=True)
class Endpoint:
    """Where a target is: its address, and its DNS name for Kerberos (None with the reason)."""

    address: str
    dns_name: str | None
    no_name_reason: str = ""


# ---------------------------------------------------------------- NTLMv1

_ntlm_version = threading.local()


def _install_ntlmv1_switch() -> None:
    """Let one thread's session setup answer with NTLMv1.

    impacket's SMB2/3 login always calls ntlm.getNTLMSSPType3 with its import-time default
    (NTLMv2). The replacement switches to NTLMv1 only in a thread that asked for it, so sessions in
    other threads are untouched. It is installed only when NTLMv1 is allowed.
    """
    current = ntlm.getNTLMSSPType3
    if getattr(current, "scanready_switch", False):
        return

    def type3(*args: Any, **kwargs: Any) -> Any:
        if getattr(_ntlm_version, "v1", False):
            kwargs["use_ntlmv2"] = False
        return current(*args, **kwargs)

    type3.scanready_switch = True  # type: ignore[attr-defined]
    ntlm.getNTLMSSPType3 = type3


@contextmanager
def _ntlmv1() -> Iterator[None]:
    _install_ntlmv1_switch()
    _ntlm_version.v1 = True
    try:
        yield
    finally:
        _ntlm_version.v1 = False


# ---------------------------------------------------------------- connections

@functools.cache
def _negotiating_client() -> Any:
    """impacket's SMB3 client that also keeps whether the server requires signing: impacket folds the
    server's SecurityMode into one flag with dialect 3.1.1 (where the client always signs)."""
    class Client(smb3.SMB3):  # type: ignore[misc]
        server_requires_signing: bool | None = None

        def recvSMB(self, packetID: Any = None) -> Any:
            packet = super().recvSMB(packetID)
            if packet["Command"] == s3.SMB2_NEGOTIATE and packet["Status"] == 0:
                mode = s3.SMB2Negotiate_Response(packet["Data"])["SecurityMode"]
                self.server_requires_signing = bool(mode & s3.SMB2_NEGOTIATE_SIGNING_REQUIRED)
            return packet
    return Client


def connect(endpoint: Endpoint, connect_timeout: float) -> Any:
    """TCP 445 and an SMB 2/3 negotiate; failures are classified (unreachable, refused, timeout)."""
    name = endpoint.dns_name or endpoint.address
    try:
        return _negotiating_client()(name, endpoint.address, timeout=connect_timeout)
    except OSError as exc:
        raise SessionFailure(*classify_connect_error(exc, endpoint.address, connect_timeout)) from None
    except nmb.NetBIOSTimeout:
        raise SessionFailure("timeout", f"{endpoint.address} accepted TCP 445 but did not answer the SMB "
                                        f"negotiation within {connect_timeout:.0f} s") from None
    except (nmb.NetBIOSError, smb3.SessionError) as exc:
        raise SessionFailure("refused", f"{endpoint.address} did not negotiate SMB 2 or 3 ({exc})") from None


def classify_connect_error(exc: OSError, address: str, connect_timeout: float) -> tuple[str, str]:
    """impacket wraps socket errors as OSError('Connection error (...)', cause)."""
    cause = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], BaseException) else exc
    if isinstance(cause, ConnectionRefusedError):
        return "refused", f"{address} refused the connection to TCP 445 (nothing listens, or a firewall rejects it)"
    if isinstance(cause, TimeoutError):
        return "unreachable", f"no answer from {address} on TCP 445 within {connect_timeout:.0f} s (filtered)"
    if isinstance(cause, ConnectionResetError):
        return "refused", f"{address} reset the connection on TCP 445"
    code = getattr(cause, "errno", None)
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN):
        return "unreachable", f"no route to {address} ({errno.errorcode.get(code or 0, code)})"
    return "unreachable", f"cannot connect to {address} on TCP 445 ({cause})"


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
        _drop(self.conn)


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
            raise SessionFailure("not_tested", "not attempted: the run stopped after a logon failure, "
                                               "so that the account is not locked out", attempts=tuple(attempts))
        ticket: ServiceTicket | None = None
        if scheme.startswith("kerberos"):
            found = _kerberos_ticket(endpoint, scheme, tickets)
            if isinstance(found, str):
                attempts.append(f"{SCHEME_NAMES[scheme]} not tried: {found}")
                continue
            ticket = found
        if time.monotonic() >= deadline:
            raise SessionFailure("timeout", "the target's time ran out before a logon succeeded",
                                 attempts=tuple(attempts))
        conn = conn or connect(endpoint, connect_timeout)
        conn.setTimeout(max(0.1, deadline - time.monotonic()))
        try:
            _session_setup(conn, scheme, creds, ticket)
        except smb3.SessionError as exc:
            code = exc.get_error_code()
            cls = _session_class(code, scheme)
            attempts.append(f"{SCHEME_NAMES[scheme]} refused by the host ({status_name(code)})")
            _drop(conn)
            conn = None
            if not scheme.startswith("kerberos") and code in CREDENTIAL_STATUSES:
                raise SessionFailure(cls, f"the host refused the account ({status_name(code)}) under "
                                          f"{SCHEME_NAMES[scheme]}", stops_run=True, attempts=tuple(attempts)) from None
            failures.append(cls)
            continue
        except (nmb.NetBIOSTimeout, TimeoutError):
            raise SessionFailure("timeout", f"no answer to the {SCHEME_NAMES[scheme]} session setup in time",
                                 attempts=tuple(attempts)) from None
        except Exception as exc:  # impacket raises many kinds on a malformed or unexpected answer
            attempts.append(f"{SCHEME_NAMES[scheme]} failed ({type(exc).__name__}: {_first_line(exc)})")
            _drop(conn)
            conn = None
            failures.append("error")
            continue
        detail = f"logged on with {SCHEME_NAMES[scheme]}"
        if ticket is not None:
            detail += f" (session key {ticket.session_etype}, ticket {ticket.ticket_etype})"
        if attempts:
            detail += "; " + "; ".join(attempts)
        return Session(conn, endpoint, scheme, detail, deadline, ticket, getattr(conn, "server_requires_signing", None))
    _drop(conn)
    cls = next((c for c in reversed(failures) if c != "error"), failures[-1] if failures else "refused")
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
        with _ntlmv1():
            conn.login(creds.username, creds.password, creds.domain)
    else:
        conn.login(creds.username, creds.password, creds.domain)


def _session_class(code: int, scheme: str) -> str:
    if scheme.startswith("kerberos") and code == STATUS_ACCESS_DENIED:
        return "access_denied"
    return CREDENTIAL_STATUSES.get(code) or SESSION_STATUSES.get(code, "error")


def _drop(conn: Any) -> None:
    if conn is not None:
        with contextlib.suppress(Exception):  # a broken connection may fail to close; it is gone either way
            conn.close_session()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
