# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SYSVOL over SMB 3 with signing: read and write a GPO's files, make and remove folders, set their ACL.

Everything goes to the one DC the module talks LDAP to, so a freshly created GPO's folder and its
LDAP object live on the same server until replication spreads both. Files are replaced atomically
(written beside the target, then renamed over it) so a run killed mid-write never leaves a torn file.
Every failure is a SysvolError whose message names the cause and never contains the password.

The session is client.py's client behind impacket's SMBConnection (for its file calls), and every
message the DC sends after the logon is authenticated before impacket reads it (signing.ReplyGuard).
"""
from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

from ansible_collections.scanready.windows.plugins.module_utils._compat import ClosingContext, close_quietly
from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError
from ansible_collections.scanready.windows.plugins.module_utils._ntstatus import (
    NOT_FOUND,
    STATUS_ACCESS_DENIED,
    STATUS_BAD_NETWORK_NAME,
    STATUS_OBJECT_NAME_COLLISION,
    refusal_reason,
    status_name,
)
from ansible_collections.scanready.windows.plugins.module_utils._smb.client import negotiate
from ansible_collections.scanready.windows.plugins.module_utils._smb.signing import ReplyGuard, ReplyKeys

try:
    from impacket.nmb import NetBIOSError, NetBIOSTimeout
    from impacket.smb3 import SessionError as Smb3SessionError
    from impacket.smb3structs import (
        FILE_ATTRIBUTE_REPARSE_POINT,
        FILE_DIRECTORY_FILE,
        FILE_OPEN,
        FILE_SHARE_DELETE,
        FILE_SHARE_READ,
        FILE_SHARE_WRITE,
        READ_CONTROL,
        SMB2_0_INFO_SECURITY,
        SMB2_DIALECT_30,
        WRITE_DAC,
        WRITE_OWNER,
    )
    from impacket.smbconnection import SessionError, SMBConnection
    NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, NetBIOSError, NetBIOSTimeout)
    # SMBConnection's calls raise its SessionError; calls on the SMB3 object itself (the negotiation,
    # getSMBServer() for security descriptors) raise smb3's, which has the same meaning under another name.
    SESSION_ERRORS: tuple[type[BaseException], ...] = (SessionError, Smb3SessionError)
except ImportError:  # reported by the module through missing_required_lib
    SMBConnection = None
    SessionError = None
    NETWORK_ERRORS = (OSError,)
    SESSION_ERRORS = ()

# OWNER | GROUP | DACL: what the folder ACL consists of (the SACL is the DC's business).
SECURITY_INFORMATION: Final = 0x7
TEMP_SUFFIX: Final = ".scanready-tmp"
T = TypeVar("T")


class SysvolError(ScanreadyError):
    """SYSVOL could not be read or written, phrased for the administrator."""


def smb_credentials(bind_user: str) -> tuple[str, str]:
    """(user, domain) for NTLM from 'user@realm' (sent whole, as Windows does) or 'DOMAIN\\user'."""
    if "\\" in bind_user:
        domain, _sep, user = bind_user.partition("\\")
        return user, domain
    return bind_user, ""


def split_unc(path: str) -> tuple[str, str]:
    """'\\\\dom\\sysvol\\dom\\Policies\\{G}' -> ('sysvol', 'dom\\Policies\\{G}')."""
    parts = [part for part in path.replace("/", "\\").split("\\") if part]
    if not path.startswith("\\\\") or len(parts) < 3:
        raise SysvolError(f"gPCFileSysPath {path!r} is not a \\\\server\\share\\path UNC path")
    return parts[1], "\\".join(parts[2:])


def _connection(host: str, address: str, timeout: int) -> Any:
    """impacket's SMBConnection (for its file calls) around client.py's negotiated client."""
    return SMBConnection(host, address, sess_port=445, timeout=timeout,
                         existingConnection=negotiate(host, address, timeout))


def _signed_session(host: str, address: str, bind_user: str, password: str | None, timeout: int,
                    ticket: Any) -> Any:
    """Negotiate, log on (Kerberos with ticket, else NTLM), insist on signed SMB 3 and arm the reply checks."""
    if SMBConnection is None:
        raise SysvolError("the impacket Python library is required on the controller")
    if ticket is None and password is None:
        raise SysvolError(f"SMB logon to {host}: no Kerberos ticket, and no password for NTLM")
    try:
        conn = _connection(host, address, timeout)
    except NETWORK_ERRORS as exc:
        raise SysvolError(f"DC {host} unreachable on SMB (445): {_os_reason(exc)}") from None
    except SESSION_ERRORS as exc:
        raise SysvolError(f"DC {host} refused SMB negotiation: {status_name(_error_code(exc))}") from None
    server = conn.getSMBServer()
    guard = ReplyGuard(server._NetBIOSSession, host, SysvolError)
    try:
        if ticket is not None:
            user, _at, realm = ticket.client.rpartition("@")
            conn.kerberosLogin(user, "", realm, TGS=ticket.tgs)
        else:
            user, domain = smb_credentials(bind_user)
            conn.login(user, password, domain)
    except SessionError as exc:
        close_quietly(conn)
        reason = refusal_reason(_error_code(exc))
        raise SysvolError(f"SMB logon to {host} as {bind_user} refused: {reason}") from None
    except NETWORK_ERRORS as exc:
        close_quietly(conn)
        raise SysvolError(f"DC {host} stopped answering during SMB logon: {_os_reason(exc)}") from None
    # Policy that clients execute must not travel over a session an attacker could alter.
    if conn.getDialect() < SMB2_DIALECT_30 or not conn.isSigningRequired():
        close_quietly(conn)
        raise SysvolError(f"DC {host} offers no signed SMB 3 session (dialect {conn.getDialect():#x}); "
                          "refusing to write group policy over it")
    session = server._Session
    try:
        guard.arm(ReplyKeys(bytes(session["SigningKey"]), bytes(session["DecryptionKey"] or b"") or None))
    except SysvolError:
        close_quietly(conn)
        raise
    return conn


class Sysvol(ClosingContext):
    """One signed SMB 3 session to a DC's share (normally `sysvol`)."""

    def __init__(self, conn: Any, host: str, share: str) -> None:
        self._conn = conn
        self.host = host
        self.share = share

    @classmethod
    def connect(cls, host: str, address: str, bind_user: str, password: str | None, timeout: int,
                share: str = "sysvol", *, ticket: Any = None) -> Sysvol:
        """A session to the DC `host` at `address` (the one the LDAP connection reached): the name is
        what NTLM, Kerberos and signing name as the server, the address is where the packets go. With
        `ticket` (a _ccache.ServiceTicket for cifs/<host>) the logon is Kerberos, else NTLM with password."""
        return cls(_signed_session(host, address, bind_user, password, timeout, ticket), host, share)

    def close(self) -> None:
        close_quietly(self._conn)

    def _call(self, action: str, path: str, call: Callable[[], T], *, tolerate: tuple[int, ...] = ()) -> T | None:
        """call(), with SMB failures as SysvolError; None when the NT status is one of tolerate."""
        try:
            return call()
        except SESSION_ERRORS as exc:
            code = _error_code(exc)
            if code in tolerate:
                return None
            where = f"\\\\{self.host}\\{self.share}\\{path}"
            if code == STATUS_ACCESS_DENIED:
                raise SysvolError(f"access denied: cannot {action} {where}") from None
            if code == STATUS_BAD_NETWORK_NAME:
                raise SysvolError(f"DC {self.host} has no share {self.share!r}") from None
            raise SysvolError(f"cannot {action} {where}: {status_name(_error_code(exc))}") from None
        except NETWORK_ERRORS as exc:
            raise SysvolError(f"DC {self.host} stopped answering during {action} {path}: {_os_reason(exc)}") from None

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        buffer = io.BytesIO()
        found = self._call("read", path, lambda: self._conn.getFile(self.share, path, buffer.write) or True,
                           tolerate=NOT_FOUND)
        return buffer.getvalue() if found else None

    def write(self, path: str, data: bytes) -> None:
        """Replace path with data atomically: a reader sees the old or the new file, never part of one."""
        temp = path + TEMP_SUFFIX
        self._call("write", temp, lambda: self._conn.putFile(self.share, temp, io.BytesIO(data).read))
        self._call("replace", path, lambda: self._conn.rename(self.share, temp, path))

    def remove(self, path: str) -> bool:
        """Delete a file; False when it was not there."""
        return bool(self._call("delete", path, lambda: self._conn.deleteFile(self.share, path) or True,
                               tolerate=NOT_FOUND))

    def listdir(self, path: str) -> list[tuple[str, bool]] | None:
        """(name, is_directory) of each entry in path, or None when path does not exist."""
        listing = self._entries(path)
        return None if listing is None else [(name, is_directory) for name, is_directory, _link in listing]

    def _entries(self, path: str) -> list[tuple[str, bool, bool]] | None:
        """(name, is_directory, is_reparse_point) of each entry in path, or None when path does not exist."""
        listing = self._call("list", path, lambda: list(self._conn.listPath(self.share, path + "\\*")),
                             tolerate=NOT_FOUND)
        if listing is None:
            return None
        return [(entry.get_longname(), bool(entry.is_directory()),
                 bool(entry.get_attributes() & FILE_ATTRIBUTE_REPARSE_POINT))
                for entry in listing if entry.get_longname() not in (".", "..")]

    def mkdir(self, path: str) -> bool:
        """Create a folder; False when it already existed."""
        return bool(self._call("create folder", path, lambda: self._conn.createDirectory(self.share, path) or True,
                               tolerate=(STATUS_OBJECT_NAME_COLLISION,)))

    def delete_tree(self, path: str) -> bool:
        """Remove a folder and everything in it; False when it was not there. The whole tree is listed first, and
        a junction or link anywhere in it (a reparse point, which could lead outside the folder) refuses the
        deletion before anything is deleted."""
        doomed = self._tree(path)
        if doomed is None:
            return False
        for child, is_directory in doomed:
            if is_directory:
                self._call("delete folder", child, functools.partial(self._conn.deleteDirectory, self.share, child),
                           tolerate=NOT_FOUND)
            else:
                self.remove(child)
        return True

    def _tree(self, path: str) -> list[tuple[str, bool]] | None:
        """path and everything under it, children before their folder; None when path does not exist."""
        entries = self._entries(path)
        if entries is None:
            return None
        found: list[tuple[str, bool]] = []
        for name, is_directory, is_link in entries:
            child = f"{path}\\{name}"
            if is_link:
                raise SysvolError(f"\\\\{self.host}\\{self.share}\\{child} is a junction or link (a reparse point): "
                                  "refusing to delete through it; nothing was deleted")
            found += (self._tree(child) or []) if is_directory else [(child, False)]
        return [*found, (path, True)]

    def _with_directory(self, action: str, path: str, access: int, use: Callable[[Any, int, Any], T]) -> T:
        server = self._conn.getSMBServer()

        def run() -> T:
            tree = server.connectTree(self.share)
            try:
                handle = server.create(tree, path, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                       FILE_DIRECTORY_FILE, FILE_OPEN, 0)
                try:
                    return use(server, tree, handle)
                finally:
                    server.close(tree, handle)
            finally:
                with contextlib.suppress(Exception):
                    server.disconnectTree(tree)
        return cast(T, self._call(action, path, run))  # nothing is tolerated: a failure has raised

    def get_security(self, path: str) -> bytes:
        """The folder's security descriptor (owner, group, DACL), self-relative."""
        return bytes(self._with_directory(
            "read the ACL of", path, READ_CONTROL,
            lambda server, tree, handle: server.queryInfo(tree, handle, infoType=SMB2_0_INFO_SECURITY,
                                                          fileInfoClass=0,
                                                          additionalInformation=SECURITY_INFORMATION)))

    def set_security(self, path: str, descriptor: bytes) -> None:
        self._with_directory(
            "set the ACL of", path, READ_CONTROL | WRITE_DAC | WRITE_OWNER,
            lambda server, tree, handle: server.setInfo(tree, handle, descriptor, infoType=SMB2_0_INFO_SECURITY,
                                                        fileInfoClass=0,
                                                        additionalInformation=SECURITY_INFORMATION))


def _error_code(exc: Any) -> int:
    getter = getattr(exc, "getErrorCode", None) or exc.get_error_code
    return int(getter())


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "NetBIOSTimeout" or "timed out" in str(exc):
        return "no answer in time"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
