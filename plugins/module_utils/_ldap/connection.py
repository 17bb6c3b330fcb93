# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bound connection to one DC and the few operations the modules need; connect() opens it.

Whatever else talks to "the DC" in the same run goes to the address the connection reached
(DomainConnection.peer_address).
"""
from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._ccache import ServiceTicket
from ansible_collections.scanready.windows.plugins.module_utils._compat import ClosingContext, close_quietly
from ansible_collections.scanready.windows.plugins.module_utils._kerberos import KerberosClient
from ansible_collections.scanready.windows.plugins.module_utils._ldap.credentials import (
    BindCheck,
    check_password,
    kerberos_problem,
    operator_client,
    service_ticket,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.errors import (
    CONFIG,
    FAILED,
    TLS,
    UNREACHABLE,
    WRONG_DOMAIN,
    DomainError,
    bind_refusal_code,
    bind_refusal_reason,
    classify_open_error,
    classify_result,
    strip_ldap3_prefix,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.library import ldap3, ldap3_exceptions
from ansible_collections.scanready.windows.plugins.module_utils._ldap.names import base_dn_for
from ansible_collections.scanready.windows.plugins.module_utils._ldap.sasl import (
    SealedSocket,
    ntlm_bind,
    sasl_bind,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.settings import (
    LDAP_PORT,
    Settings,
    settings_from_params,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.tls import (
    NO_VALIDATION_WARNING,
    HandshakeVerifiedTls,
    tls_context,
)

# ldap3's modify operations, so callers need not import ldap3 themselves.
MODIFY_ADD: Final = "MODIFY_ADD"
MODIFY_REPLACE: Final = "MODIFY_REPLACE"
MODIFY_DELETE: Final = "MODIFY_DELETE"

# nTSecurityDescriptor parts for sd_flags: owner, group and DACL (reading the SACL would need more than an
# operator has); owner and DACL for writing what an account's control needs.
SD_FLAGS_OID: Final = "1.2.840.113556.1.4.801"
SD_OWNER_GROUP_DACL: Final = 0x7
SD_OWNER_DACL: Final = 0x5
# Binary attributes, taken from ldap3's raw values: without the schema (get_info=NONE) ldap3 decodes every value
# that happens to be valid UTF-8 to str, so a SID or descriptor would be str in some domains and bytes in others.
BINARY_ATTRIBUTES: Final = frozenset({"objectsid", "objectguid", "ntsecuritydescriptor"})


NTLM_WARNING: Final = ("LDAP to DC {host} is sealed with NTLM, which does not authenticate the DC (any domain "
                       "member can answer as it); give dc as the DC's DNS name for Kerberos, or allow_ntlm=false to "
                       "refuse")


@dataclass(frozen=True)
class Entry:
    """One search result; attribute names compare without case, as LDAP's do (the DC answers 'objectSid'
    to a request for 'objectsid')."""

    dn: str
    attributes: dict[str, list[Any]]

    def values(self, name: str) -> list[Any]:
        if name in self.attributes:
            return self.attributes[name]
        wanted = name.lower()
        return next((values for key, values in self.attributes.items() if key.lower() == wanted), [])

    def first(self, name: str) -> Any:
        values = self.values(name)
        return values[0] if values else None


def sd_flags_control(flags: int) -> tuple[str, bool, bytes]:
    """The LDAP control choosing which parts of nTSecurityDescriptor a search reads or a modify writes
    (as ldap3's security_descriptor_control builds it)."""
    return SD_FLAGS_OID, True, bytes([0x30, 0x03, 0x02, 0x01, flags])  # BER: SEQUENCE { INTEGER flags }


class DomainConnection(ClosingContext):
    """A bound connection to one DC, with the few operations the modules need.

    `peer_address` is the address the connection reached; whatever else talks to "the DC" in the
    same run (SMB to SYSVOL, a bind check) goes there, so that a name resolving to several DCs
    cannot split one change across two of them before replication.
    """

    def __init__(self, settings: Settings, connection: Any, base_dn: str, peer_address: str, *,
                 authentication: str = "simple", kerberos: KerberosClient | None = None,
                 sealed: SealedSocket | None = None) -> None:
        self.settings = settings
        self.base_dn = base_dn
        self.peer_address = peer_address
        self.authentication = authentication  # simple, kerberos or ntlm
        self._conn = connection
        self._kerberos = kerberos
        self._sealed = sealed
        # For the module to pass on with module.warn: how this connection is weaker than it should be.
        self.warnings = [] if settings.validate_certs or settings.transport == "sealed" else [NO_VALIDATION_WARNING]
        if authentication == "ntlm":
            self.warnings.append(NTLM_WARNING.format(host=settings.host))
        self.notes: list[str] = []  # warnings of later steps (kerberos_ticket's fallback), for the module to pass on

    @property
    def transport(self) -> str:
        """ldaps, starttls or sealed: what auto chose, or what was asked for."""
        return self.settings.transport

    def close(self) -> None:
        close_quietly(self._conn, "unbind")
        if self._kerberos is not None:
            self._kerberos.close()

    def kerberos_ticket(self, service: str) -> ServiceTicket | None:
        """A ticket of the operator for service/<dc> (cifs for SYSVOL), or None where NTLM is to be used instead:
        Kerberos cannot name this DC, or no KDC or no kinit is there, NTLM is allowed and a password was given
        (then `notes` says why). A refusal by the KDC is never a reason for NTLM: it raises, as does a DC
        Kerberos cannot name when NTLM may not be used."""
        ntlm_possible = self.settings.allow_ntlm and self.settings.password is not None
        problem = kerberos_problem(self.settings)
        if problem is not None:
            if ntlm_possible:
                return None
            raise DomainError(f"{problem}; NTLM is not allowed (allow_ntlm)" if self.settings.password else problem,
                              CONFIG)
        try:
            if self._kerberos is None:
                self._kerberos = operator_client(self.settings, self.peer_address)
        except DomainError as exc:
            if exc.cause not in (UNREACHABLE, CONFIG) or not ntlm_possible:
                raise
            self.notes.append(f"{service} on DC {self.settings.host} with NTLM, not Kerberos: {exc.message}")
            return None
        return service_ticket(self._kerberos, service, self.settings.host)

    def _run(self, operation: str, target: str, call: Any, *args: Any, **kwargs: Any) -> bool:
        try:
            ok = bool(call(*args, **kwargs))
        except ldap3_exceptions.LDAPException as exc:
            raise self._communication_error(operation, target, exc) from None
        if not ok:
            raise classify_result(operation, target, self._conn.result, self.settings)
        return True

    def _communication_error(self, operation: str, target: str, exc: BaseException) -> DomainError:
        """ldap3 raised instead of answering: the DC went away, or the request itself was malformed."""
        if self._sealed is not None and self._sealed.failure is not None:
            return DomainError(f"{operation} {target} stopped: {self._sealed.failure.message}", TLS)
        reason = _redact(strip_ldap3_prefix(str(exc)), [self.settings.password or ""])
        if isinstance(exc, TimeoutError | ldap3_exceptions.LDAPResponseTimeoutError):
            reason = f"no answer within {self.settings.timeout} s"
        elif not isinstance(exc, ldap3_exceptions.LDAPCommunicationError | OSError):
            return DomainError(f"{operation} {target} failed: {reason}", FAILED)
        return DomainError(f"DC {self.settings.host} stopped answering during {operation} {target}: {reason}",
                           UNREACHABLE)

    def search(self, base: str, ldap_filter: str, attributes: Sequence[str], *, scope: str = "subtree",
               sd_flags: int | None = None) -> list[Entry]:
        """Entries under base matching ldap_filter; a missing base is DomainError(NO_SUCH_OBJECT).

        sd_flags (SD_OWNER_GROUP_DACL ...) names the parts of nTSecurityDescriptor to read."""
        scopes = {"base": ldap3.BASE, "one": ldap3.LEVEL, "subtree": ldap3.SUBTREE}
        try:
            self._conn.search(base, ldap_filter, search_scope=scopes[scope], attributes=list(attributes),
                              controls=_sd_flags_controls(sd_flags))
        except ldap3_exceptions.LDAPException as exc:
            raise self._communication_error("search", base, exc) from None
        result = self._conn.result
        if result.get("result") not in (0, None):
            raise classify_result("search", base, result, self.settings)
        # Without the schema loaded ldap3 hands back text as str, and binary values as bytes only when they are
        # not valid UTF-8: those are read raw.
        return [Entry(item["dn"], {name: _values(item, name, value) for name, value in item["attributes"].items()})
                for item in self._conn.response or [] if item.get("type") == "searchResEntry"]

    def add(self, dn: str, object_class: str | Sequence[str], attributes: Mapping[str, Any]) -> None:
        self._run("create", dn, self._conn.add, dn, object_class, dict(attributes))

    def modify(self, dn: str, changes: Mapping[str, Sequence[tuple[str, Sequence[Any]]]], *,
               sd_flags: int | None = None) -> None:
        """changes: {attribute: [(MODIFY_ADD|MODIFY_REPLACE|MODIFY_DELETE, [values])]} as in ldap3;
        sd_flags names the parts of nTSecurityDescriptor written."""
        self._run("modify", dn, self._conn.modify, dn, {k: list(v) for k, v in changes.items()},
                  controls=_sd_flags_controls(sd_flags))

    def delete(self, dn: str) -> None:
        self._run("delete", dn, self._conn.delete, dn)

    def try_bind(self, user: str, password: str, *, account: str) -> BindCheck:
        """Try one logon as user (a DN or UPN; `account` its sAMAccountName) at the same DC: a simple bind on a
        fresh TLS connection, or, on a sealed transport, a Kerberos logon (kinit) or an NTLM bind as the
        operator's was. A refusal counts as one bad logon attempt on that account, as any wrong password does.
        """
        if self.transport == "sealed" and self.authentication == "kerberos":
            return check_password(self.settings, self.peer_address, account, password)
        conn = _open(self.settings, self.peer_address, user, password)
        try:
            try:
                if self.transport == "sealed":
                    result, _sealed = ntlm_bind(conn, f"{account}@{self.settings.domain}", "", password)
                    accepted, message = result.get("result") == 0, str(result.get("message") or "")
                else:
                    accepted, message = bool(conn.bind()), str(conn.result.get("message") or "")
            except ldap3_exceptions.LDAPException as exc:
                raise self._communication_error("bind", user, exc) from None
            if accepted:
                return BindCheck(True, None, "")
            return BindCheck(False, bind_refusal_code(message), bind_refusal_reason(message))
        finally:
            close_quietly(conn, "unbind")


def _values(item: Mapping[str, Any], name: str, value: Any) -> list[Any]:
    """An attribute's values: binary ones as the bytes the DC sent, the others as ldap3 formatted them."""
    raw = item.get("raw_attributes", {}).get(name) if name.lower() in BINARY_ATTRIBUTES else None
    if raw is not None:
        return [bytes(v) for v in raw]
    return value if isinstance(value, list) else [value]


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def _sd_flags_controls(sd_flags: int | None) -> list[Any] | None:
    return None if sd_flags is None else [sd_flags_control(sd_flags)]


def resolve_dc(settings: Settings) -> list[str]:
    """The DC's addresses, in the resolver's order, each once."""
    try:
        infos = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise DomainError(f"DC {settings.host!r} unreachable: the name does not resolve", UNREACHABLE) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _open(settings: Settings, address: str, user: str | None = None, password: str | None = None) -> Any:
    """An opened, not yet bound, ldap3 connection to address: with TLS established (LDAPS or StartTLS) and the
    certificate checked against the DC's name (settings.host), not the address; plain for a sealed bind."""
    if ldap3 is None:
        raise DomainError("the ldap3 Python library is required on the controller", CONFIG)
    sealed = settings.transport == "sealed"
    tls = None if sealed else HandshakeVerifiedTls(tls_context(settings), settings.host)
    server = ldap3.Server(address, port=settings.port, use_ssl=settings.transport == "ldaps", tls=tls,
                          connect_timeout=settings.timeout, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=user, password=password, authentication=ldap3.SIMPLE if password else None,
                            raise_exceptions=False, receive_timeout=settings.timeout,
                            auto_referrals=False, read_only=False)
    try:
        conn.open(read_server_info=False)
        if settings.starttls and not conn.start_tls(read_server_info=False):
            refusal = str(conn.result.get("message") or conn.result.get("description") or "no reason given")
            raise DomainError(f"TLS failure with DC {settings.host}:{settings.port}: StartTLS refused ({refusal})", TLS)
    except (ldap3_exceptions.LDAPException, OSError) as exc:
        close_quietly(conn, "unbind")
        raise classify_open_error(_socket_cause(exc), settings) from None
    except DomainError:
        close_quietly(conn, "unbind")
        raise
    return conn


def _socket_cause(exc: BaseException) -> BaseException:
    """ldap3 wraps socket and TLS errors of each address tried in a list inside its own exception."""
    for item in getattr(exc, "args", ())[1:2]:
        for entry in item if isinstance(item, list) else []:
            if isinstance(entry, tuple) and entry and isinstance(entry[0], BaseException):
                return _socket_cause(entry[0])
    return exc


def _open_first(settings: Settings) -> tuple[Any, str]:
    """A connection to the first of the DC's addresses that answers; a certificate it presents that fails
    the checks stops there (another address would not make it the DC asked for)."""
    addresses = resolve_dc(settings)
    unreachable: DomainError | None = None
    for address in addresses:
        try:
            return _open(settings, address), address
        except DomainError as exc:
            if exc.cause != UNREACHABLE:
                raise
            unreachable = unreachable or exc
    if unreachable is None:
        raise DomainError(f"DC {settings.host!r} unreachable: the name resolves to no address", UNREACHABLE)
    if len(addresses) > 1:
        raise DomainError(f"{unreachable.message} (and at its {len(addresses) - 1} other addresses)", UNREACHABLE)
    raise unreachable


def _default_naming_context(conn: Any, settings: Settings) -> str | None:
    try:
        conn.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=["defaultNamingContext"])
    except ldap3_exceptions.LDAPException as exc:
        raise classify_open_error(exc, settings) from None
    for item in conn.response or []:
        values = item.get("attributes", {}).get("defaultNamingContext")
        if values:
            return str(values[0] if isinstance(values, list) else values)
    return None


def connect(params: Mapping[str, Any]) -> DomainConnection:
    """Connect to the DC as `transport` asks, bind as the operator, check the DC serves `domain`.

    auto: LDAPS when the DC answers on its port with a certificate that validates; else, when the DC refuses that
    port or (with no ca_cert given) the certificate is not one the controller trusts, sealed LDAP on 389. A
    certificate that fails against the ca_cert given is an error, and a refused logon is never tried again.
    Without a password the operator's Kerberos ticket binds, always over sealed LDAP.
    """
    settings = settings_from_params(params)
    if settings.password is None:  # a ticket of the operator's own binds over Kerberos, sealed
        if settings.transport in ("ldaps", "starttls"):
            raise DomainError(f"transport {settings.transport} binds with admin_password; with a Kerberos ticket "
                              "(no password) use transport auto or sealed", CONFIG)
        return _connect(replace(settings, transport="sealed", port=settings.port if settings.port_given
                                else LDAP_PORT))
    if settings.transport != "auto":
        return _connect(settings)
    try:
        return _connect(replace(settings, transport="ldaps"))
    except DomainError as exc:
        untrusted = exc.cause == TLS and settings.ca_cert is None and settings.validate_certs
        # Nothing listening on 636 (refused) is a DC without LDAPS; no answer at all (filtered) is no DC to try
        # again on 389 after as long a wait.
        silent = exc.cause == UNREACHABLE and "connection refused" in exc.message and not settings.port_given
        if not (untrusted or silent):
            raise
        skipped = exc
    conn = _connect(replace(settings, transport="sealed", port=LDAP_PORT))
    if skipped.cause == TLS:  # a DC with no LDAPS is the common case; one whose certificate fails is worth a word
        conn.warnings.insert(0, f"LDAPS not used ({skipped.message}); LDAP on {LDAP_PORT} sealed with "
                                f"{conn.authentication} instead")
    return conn


def _connect(settings: Settings) -> DomainConnection:
    conn, address = _open_first(settings)
    kerberos: KerberosClient | None = None
    sealed: SealedSocket | None = None
    try:
        if settings.password is not None and settings.transport != "sealed":
            authentication = "simple"
            _simple_bind(conn, settings)
        else:
            authentication, kerberos, sealed, settings = sasl_bind(conn, settings, address)
        expected = base_dn_for(settings.domain)
        served = _default_naming_context(conn, settings)
        if served is not None and served.lower() != expected.lower():
            raise DomainError(f"DC {settings.host} serves {served}, not the domain {settings.domain} ({expected})",
                              WRONG_DOMAIN)
    except BaseException:
        close_quietly(conn, "unbind")
        if kerberos is not None:
            kerberos.close()
        raise
    return DomainConnection(settings, conn, served or expected, address, authentication=authentication,
                            kerberos=kerberos, sealed=sealed)


def _simple_bind(conn: Any, settings: Settings) -> None:
    try:
        conn.authentication, conn.user, conn.password = ldap3.SIMPLE, settings.bind_user, settings.password
        bound = conn.bind()
    except ldap3_exceptions.LDAPException as exc:
        raise classify_open_error(exc, settings) from None
    if not bound:
        raise classify_result("bind", str(settings.bind_user), conn.result, settings)


def connect_module(module: Any) -> DomainConnection:
    """connect(module.params) for a module (an AnsibleModule), which is warned of any weakness of the connection."""
    conn = connect(module.params)
    for warning in conn.warnings:
        module.warn(warning)
    return conn
