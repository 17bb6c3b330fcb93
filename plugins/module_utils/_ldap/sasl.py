# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GSS-SPNEGO binds on an ldap3 connection, and the SASL security layer that seals what follows.

ldap3 speaks LDAP; after a sealing bind its socket is replaced by a SealedSocket, which sends each
message as one SASL buffer (a 4-byte length, then the context's wrap token) and hands ldap3 only
what it unwrapped. A reply that fails its check closes the socket and is kept as `failure`, so the
connection reports why instead of a bare socket error, and nothing more is sent.
"""
from __future__ import annotations

import struct
from dataclasses import replace
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._compat import close_quietly
from ansible_collections.scanready.windows.plugins.module_utils._kerberos import KerberosClient
from ansible_collections.scanready.windows.plugins.module_utils._ldap.credentials import (
    kerberos_problem,
    operator_client,
    service_ticket,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.errors import (
    CONFIG,
    TLS,
    DomainError,
    classify_open_error,
    classify_result,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.library import ldap3_exceptions
from ansible_collections.scanready.windows.plugins.module_utils._ldap.sealing import (
    KerberosSecurity,
    NtlmSecurity,
    SealingError,
    Security,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.settings import Settings
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import smb_credentials

MECHANISM: Final = "GSS-SPNEGO"
SASL_IN_PROGRESS: Final = 14
# Larger buffers than the DC's own limit would be a broken or hostile peer (AD's default maximum is 10 MB).
MAX_BUFFER: Final = 16 * 1024 * 1024
LENGTH: Final = struct.Struct(">I")


class SealedSocket:
    """The socket of a sealed connection, as ldap3 uses one: sendall, recv, and the rest passed through."""

    def __init__(self, sock: Any, security: Security) -> None:
        self._sock = sock
        self._security = security
        self._received = bytearray()
        self._plain = bytearray()
        self.failure: SealingError | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        if self.failure is not None:
            raise OSError(self.failure.message)
        token = self._security.wrap(bytes(data))
        self._sock.sendall(LENGTH.pack(len(token)) + token)

    def recv(self, size: int) -> bytes:
        if self.failure is not None:
            raise OSError(self.failure.message)
        while not self._plain:
            buffer = self._next_buffer()
            if buffer is None:
                return b""  # the DC closed the connection: ldap3 reports it
            try:
                self._plain += self._security.unwrap(buffer)
            except SealingError as exc:
                self.failure = exc
                close_quietly(self._sock)
                raise OSError(exc.message) from None
        chunk = bytes(self._plain[:size])
        del self._plain[:size]
        return chunk

    def _next_buffer(self) -> bytes | None:
        while True:
            if len(self._received) >= LENGTH.size:
                length = LENGTH.unpack_from(self._received)[0]
                if length > MAX_BUFFER:
                    self.failure = SealingError(f"the DC sent a SASL buffer of {length} bytes, more than any DC sends")
                    close_quietly(self._sock)
                    raise OSError(self.failure.message)
                if len(self._received) >= LENGTH.size + length:
                    buffer = bytes(self._received[LENGTH.size:LENGTH.size + length])
                    del self._received[:LENGTH.size + length]
                    return buffer
            data = self._sock.recv(65536)
            if not data:
                return None
            self._received += data


def _bind_step(conn: Any, token: bytes) -> dict[str, Any]:
    from ldap3.operation.bind import bind_operation

    request = bind_operation(conn.version, "SASL", None, None, MECHANISM, token)
    conn.post_send_single_response(conn.send("bindRequest", request, None))
    return dict(conn.result)


def kerberos_bind(conn: Any, ticket: Any, *, seal: bool) -> tuple[dict[str, Any], SealedSocket | None]:
    """Bind with the service ticket for ldap/<dc>; the DC's AP-REP is verified. Returns the bind result and,
    when it succeeded with seal, the socket now sealing the connection (already in place)."""
    security = KerberosSecurity(ticket)
    result = _bind_step(conn, security.initial_token(seal=seal))
    if result.get("result") != 0:
        return result, None
    security.complete(result.get("saslCreds"))
    conn.bound = True
    return result, _seal(conn, security) if seal else None


def ntlm_bind(conn: Any, user: str, domain: str, password: str) -> tuple[dict[str, Any], SealedSocket | None]:
    """Bind with NTLMv2, signed and sealed (two round trips); (user, domain) as smb_credentials gives them."""
    security = NtlmSecurity(user, password, domain)
    result = _bind_step(conn, security.initial_token())
    if result.get("result") != SASL_IN_PROGRESS or not result.get("saslCreds"):
        return result, None
    result = _bind_step(conn, security.answer(bytes(result["saslCreds"])))
    if result.get("result") != 0:
        return result, None
    return result, _seal(conn, security)


def _seal(conn: Any, security: Security) -> SealedSocket:
    sealed = SealedSocket(conn.socket, security)
    conn.socket = sealed
    conn.bound = True
    return sealed


def sasl_bind(conn: Any, settings: Settings,
              address: str) -> tuple[str, KerberosClient | None, SealedSocket | None, Settings]:
    """Kerberos (sealed on a plain connection, plain inside TLS), or, where Kerberos cannot name the DC and
    NTLM is allowed, NTLM sealed. Returns the mechanism, the operator's Kerberos client, the sealed socket and
    the settings with the operator's name (from the ticket when no password was given)."""
    seal = settings.transport == "sealed"
    problem = kerberos_problem(settings)
    try:
        if problem is None:
            client = operator_client(settings, address)
            settings = replace(settings, bind_user=settings.bind_user or client.principal)
            try:
                result, sealed = kerberos_bind(conn, service_ticket(client, "ldap", settings.host), seal=seal)
            except BaseException:
                client.close()
                raise
            if result.get("result") != 0:
                client.close()
                raise classify_result("bind", str(settings.bind_user), result, settings)
            return "kerberos", client, sealed, settings
        if not (seal and settings.allow_ntlm and settings.password is not None and settings.bind_user):
            why = "NTLM is not allowed (allow_ntlm)" if not settings.allow_ntlm else \
                "without admin_password only Kerberos can bind"
            raise DomainError(f"cannot bind to DC {settings.host}: {problem}; {why}", CONFIG)
        result, sealed = ntlm_bind(conn, *smb_credentials(settings.bind_user), settings.password)
    except SealingError as exc:
        raise DomainError(f"DC {settings.host}: {exc.message}", TLS) from None
    except ldap3_exceptions.LDAPException as exc:
        raise classify_open_error(exc, settings) from None
    if result.get("result") != 0:
        raise classify_result("bind", settings.bind_user, result, settings)
    return "ntlm", None, sealed, settings
