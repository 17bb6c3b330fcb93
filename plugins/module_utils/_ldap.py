# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The domain connection: LDAP over TLS to a DC, bound as the operator, with one exception type.

Both domain modules (scan_account, scan_gpo) merge DOMAIN_CONNECTION_SPEC into their argument spec
and call connect(module.params). Every failure surfaces as DomainError, whose message names the
cause for an administrator and never contains a password.
"""
from __future__ import annotations

import re
import socket
import ssl
import struct
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._compat import close_quietly
from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError

try:
    import ldap3
    from ldap3.core import exceptions as ldap3_exceptions
except ImportError:  # reported by the module: require_library(module, "ldap3", LDAP3_IMPORT_ERROR)
    ldap3 = None
    ldap3_exceptions = None
    LDAP3_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    LDAP3_IMPORT_ERROR = None
HAS_LDAP3: Final = LDAP3_IMPORT_ERROR is None

# ldap3's modify operations, so callers need not import ldap3 themselves.
MODIFY_ADD: Final = "MODIFY_ADD"
MODIFY_REPLACE: Final = "MODIFY_REPLACE"
MODIFY_DELETE: Final = "MODIFY_DELETE"

# nTSecurityDescriptor parts for sd_flags: owner, group and DACL (reading the SACL would need more than an
# operator has); owner and DACL for writing what an account's control needs.
SD_FLAGS_OID: Final = "1.2.840.113556.1.4.801"
SD_OWNER_GROUP_DACL: Final = 0x7
SD_OWNER_DACL: Final = 0x5

LDAPS_PORT: Final = 636
LDAP_PORT: Final = 389

DOMAIN_CONNECTION_SPEC: Final[dict[str, dict[str, Any]]] = {
    "domain": {"type": "str", "required": True},
    "dc": {"type": "str"},
    "port": {"type": "int"},
    "tls": {"type": "str", "default": "ldaps", "choices": ["ldaps", "starttls"]},
    "ca_cert": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "admin_username": {"type": "str", "required": True},
    "admin_password": {"type": "str", "required": True, "no_log": True},
    "connect_timeout": {"type": "int", "default": 10},
}

# What the DC puts after "data" in a refused bind (AD's and Samba's AcceptSecurityContext codes).
BIND_REASONS: Final[dict[str, str]] = {
    "525": "no such user",
    "52e": "wrong user name or password",
    "530": "logon not permitted at this time",
    "531": "logon not permitted from this workstation",
    "532": "password expired",
    "533": "account disabled",
    "701": "account expired",
    "773": "password must be changed at next logon",
    "775": "account locked out",
}

# Causes, so callers can react to some (e.g. a missing OU) without parsing messages.
UNREACHABLE: Final = "unreachable"
TLS: Final = "tls"
BIND: Final = "bind"
RIGHTS: Final = "rights"
NO_SUCH_OBJECT: Final = "no_such_object"
EXISTS: Final = "exists"
REJECTED: Final = "rejected"
WRONG_DOMAIN: Final = "wrong_domain"
CONFIG: Final = "config"
FAILED: Final = "failed"


class DomainError(ScanreadyError):
    """Anything that went wrong talking to the domain, phrased for the administrator."""

    def __init__(self, message: str, cause: str = FAILED, result_code: int | None = None, detail: str = "") -> None:
        super().__init__(message)
        self.cause = cause
        self.result_code = result_code
        self.detail = detail  # the DC's own diagnostic text, when it gave one


@dataclass(frozen=True)
class Settings:
    """Where and how to connect; built from module params by settings_from_params."""

    domain: str
    host: str
    port: int
    starttls: bool
    ca_cert: str | None
    validate_certs: bool
    bind_user: str
    password: str = field(repr=False)
    timeout: int


@dataclass(frozen=True)
class BindCheck:
    """How the DC answered a bind: accepted, or refused with its code (e.g. '52e', '533') and reason."""

    accepted: bool
    code: str | None
    reason: str


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


def escape_filter(value: str) -> str:
    """Escape a value inside an LDAP filter (RFC 4515)."""
    return "".join(f"\\{ord(char):02x}" if char in "\\*()\0" else char for char in value)


def escape_rdn(value: str) -> str:
    """Escape an RDN value (RFC 4514)."""
    out = "".join(f"\\{char}" if char in ',+"\\<>;=' else char for char in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


def sd_flags_control(flags: int) -> tuple[str, bool, bytes]:
    """The LDAP control choosing which parts of nTSecurityDescriptor a search reads or a modify writes
    (as ldap3's security_descriptor_control builds it)."""
    return SD_FLAGS_OID, True, bytes([0x30, 0x03, 0x02, 0x01, flags])  # BER: SEQUENCE { INTEGER flags }


def base_dn_for(domain: str) -> str:
    """lab1.example.test -> DC=lab1,DC=example,DC=test"""
    labels = [label for label in domain.strip().rstrip(".").split(".") if label]
    if not labels:
        raise DomainError(f"domain {domain!r} is not a DNS domain name", CONFIG)
    return ",".join(f"DC={label}" for label in labels)


def bind_user_for(username: str, domain: str) -> str:
    """The name for a simple bind: a UPN or DOMAIN\\user as given; a bare name becomes name@domain."""
    name = username.strip()
    if not name:
        raise DomainError("admin_username is empty", CONFIG)
    separator = "\\" if "\\" in name else "@" if "@" in name else None
    if separator is None:
        return f"{name}@{domain}"
    left, right = name.split(separator, 1)
    if not left or not right:
        raise DomainError(f"admin_username {username!r} is neither DOMAIN\\user nor user@domain", CONFIG)
    return name


def settings_from_params(params: Mapping[str, Any]) -> Settings:
    domain = str(params["domain"]).strip().rstrip(".")
    base_dn_for(domain)  # validates the name early
    starttls = params.get("tls", "ldaps") == "starttls"
    timeout = params.get("connect_timeout")
    timeout = 10 if timeout is None else int(timeout)
    if timeout <= 0:
        raise DomainError("connect_timeout must be a positive number of seconds", CONFIG)
    port = params.get("port")
    if port is not None and not 1 <= port <= 65535:
        raise DomainError(f"port must be between 1 and 65535, not {port}", CONFIG)
    return Settings(
        domain=domain,
        host=params.get("dc") or domain,
        port=port or (LDAP_PORT if starttls else LDAPS_PORT),
        starttls=starttls,
        ca_cert=params.get("ca_cert"),
        validate_certs=params.get("validate_certs", True),
        bind_user=bind_user_for(params["admin_username"], domain),
        password=params["admin_password"],
        timeout=timeout,
    )


def sid_to_str(raw: bytes) -> str:
    """Binary objectSid -> S-1-5-21-..."""
    if len(raw) < 8:
        raise ValueError("objectSid too short")
    revision, count = raw[0], raw[1]
    if len(raw) != 8 + 4 * count:
        raise ValueError("objectSid length does not match its sub-authority count")
    authority = int.from_bytes(raw[2:8], "big")
    subs = struct.unpack(f"<{count}I", raw[8:])
    return "-".join(["S", str(revision), str(authority), *map(str, subs)])


def bind_refusal_code(message: str) -> str | None:
    """The code after 'data' in the DC's diagnostic ('... AcceptSecurityContext error, data 52e, v1db1')."""
    match = re.search(r"\bdata ([0-9a-f]{3,8})\b", message, re.IGNORECASE)
    return match.group(1).lower() if match else None


def bind_refusal_reason(message: str) -> str:
    """The DC's diagnostic for a refused bind, in words."""
    code = bind_refusal_code(message)
    if code is not None:
        return BIND_REASONS.get(code, f"DC code {code}")
    return message.strip() or "invalid credentials"


def _tls_reason(exc: BaseException) -> str:
    """The ssl module's reason ('unable to get local issuer certificate') without ldap3's wrapping."""
    text = _strip_ldap3_prefix(re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(exc))).replace("\\'", "'")
    match = re.search(r"certificate verify failed: (.*)", text) or re.search(r"\[SSL[^\]]*\] (.*)", text)
    return (match.group(1) if match else text).rstrip(".")


def _strip_ldap3_prefix(text: str) -> str:
    text = text.strip("()[],'\" ")
    for prefix in ("socket ssl wrapping error: ", "socket connection error while opening: ", "wrap socket error: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return text


def classify_open_error(exc: BaseException, settings: Settings) -> DomainError:
    """An exception raised while connecting or starting TLS -> the administrator's explanation."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        trust = f"the CA in {settings.ca_cert}" if settings.ca_cert else "the system's trusted CAs"
        reason = _tls_reason(exc)
        hint = ("; name the DC (dc) as its certificate does, by its DNS name"
                if "mismatch" in reason.lower() else "")
        return DomainError(f"TLS failure with DC {where}: its certificate could not be verified against "
                           f"{trust}: {reason}{hint}", TLS)
    if isinstance(exc, ssl.SSLError) or (ldap3_exceptions is not None
                                         and isinstance(exc, ldap3_exceptions.LDAPStartTLSError)):
        return DomainError(f"TLS failure with DC {where}: {_tls_reason(exc)}", TLS)
    if isinstance(exc, TimeoutError):
        return DomainError(f"DC {where} unreachable: no answer within {settings.timeout} s", UNREACHABLE)
    text = _strip_ldap3_prefix(str(exc))
    if "invalid server address" in text:
        return DomainError(f"DC {settings.host!r} unreachable: the name does not resolve", UNREACHABLE)
    if isinstance(exc, ConnectionRefusedError):
        return DomainError(f"DC {where} unreachable: connection refused (is LDAP{'' if settings.starttls else 'S'} "
                           "enabled on that port?)", UNREACHABLE)
    return DomainError(f"DC {where} unreachable: {text}", UNREACHABLE)


def classify_result(operation: str, target: str, result: Mapping[str, Any], settings: Settings) -> DomainError:
    """A non-success LDAP result -> the administrator's explanation."""
    code = int(result.get("result", -1))
    message = str(result.get("message") or "").strip()
    description = str(result.get("description") or "error")
    detail = f" ({message})" if message else ""
    if operation == "bind":
        if code == 8:
            return DomainError(f"bind as {settings.bind_user} refused: the DC requires a stronger transport{detail}",
                               BIND, code)
        return DomainError(f"bind as {settings.bind_user} refused by {settings.host}: "
                           f"{bind_refusal_reason(message)}", BIND, code)
    if code == 50:
        return DomainError(f"insufficient rights: {settings.bind_user} may not {operation} {target}{detail}",
                           RIGHTS, code)
    if code == 32:
        matched = result.get("dn") or ""
        known = f"; the nearest existing entry is {matched}" if matched else ""
        return DomainError(f"no such object: {target}{known}", NO_SUCH_OBJECT, code)
    if code == 68:
        return DomainError(f"cannot {operation} {target}: it already exists", EXISTS, code)
    if code in (19, 53):
        return DomainError(f"the DC refused to {operation} {target}: {message or description}", REJECTED, code,
                           message or description)
    return DomainError(f"{operation} {target} failed: {description}{detail}", FAILED, code)


class _HandshakeVerifiedTls(ldap3.Tls if ldap3 is not None else object):  # type: ignore[misc]
    """TLS whose host name check is done by the ssl module during the handshake.

    ldap3's own check relies on ssl.match_hostname (removed in Python 3.12) and its fallback cannot
    match IP addresses, so a DC addressed by IP would fail even with a matching certificate.
    """

    def __init__(self, context: ssl.SSLContext, server_hostname: str) -> None:
        super().__init__(validate=context.verify_mode)
        self._context = context
        self._server_hostname = server_hostname

    def wrap_socket(self, connection: Any, do_handshake: bool = False) -> None:
        connection.socket = self._context.wrap_socket(
            connection.socket, server_side=False, server_hostname=self._server_hostname,
            do_handshake_on_connect=do_handshake)


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """Chain and host name checked (CN when the certificate has no subjectAltName, as Samba's own has);
    not the RFC 5280 strict profile that Python 3.13 turns on, which refuses such certificates for
    lacking an Authority Key Identifier though Windows clients accept them and nothing is forged."""
    try:
        context = ssl.create_default_context(cafile=settings.ca_cert)
    except FileNotFoundError:
        raise DomainError(f"ca_cert {settings.ca_cert}: no such file", CONFIG) from None
    except (ssl.SSLError, OSError) as exc:
        raise DomainError(f"ca_cert {settings.ca_cert} is not a PEM CA certificate: {_tls_reason(exc)}",
                          CONFIG) from None
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    context.hostname_checks_common_name = True
    if not settings.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


NO_VALIDATION_WARNING: Final = ("validate_certs is false: the DC's certificate is not checked, so anyone on the path "
                                "to it can read the operator's password and change what is written")


class DomainConnection:
    """A bound connection to one DC, with the few operations the modules need.

    `peer_address` is the address the connection reached; whatever else talks to "the DC" in the
    same run (SMB to SYSVOL, a bind check) goes there, so that a name resolving to several DCs
    cannot split one change across two of them before replication.
    """

    def __init__(self, settings: Settings, connection: Any, base_dn: str, peer_address: str) -> None:
        self.settings = settings
        self.base_dn = base_dn
        self.peer_address = peer_address
        self._conn = connection
        # For the module to pass on with module.warn: how this connection is weaker than it should be.
        self.warnings = [] if settings.validate_certs else [NO_VALIDATION_WARNING]

    def __enter__(self) -> DomainConnection:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        close_quietly(self._conn, "unbind")

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
        reason = _redact(_strip_ldap3_prefix(str(exc)), [self.settings.password])
        if isinstance(exc, TimeoutError | ldap3_exceptions.LDAPResponseTimeoutError):
            reason = f"no answer within {self.settings.timeout} s"
        elif not isinstance(exc, ldap3_exceptions.LDAPCommunicationError | OSError):
            return DomainError(f"{operation} {target} failed: {reason}", FAILED)
        return DomainError(f"DC {self.settings.host} stopped answering during {operation} {target}: {reason}",
                           UNREACHABLE)

    def search(self, base: str, ldap_filter: str, attributes: Sequence[str], *, scope: str = "subtree",
               sd_flags: int | None = None, controls: Sequence[Any] | None = None) -> list[Entry]:
        """Entries under base matching ldap_filter; a missing base is DomainError(NO_SUCH_OBJECT).

        sd_flags (SD_OWNER_GROUP_DACL ...) names the parts of nTSecurityDescriptor to read."""
        scopes = {"base": ldap3.BASE, "one": ldap3.LEVEL, "subtree": ldap3.SUBTREE}
        try:
            self._conn.search(base, ldap_filter, search_scope=scopes[scope], attributes=list(attributes),
                              controls=_with_sd_flags(controls, sd_flags))
        except ldap3_exceptions.LDAPException as exc:
            raise self._communication_error("search", base, exc) from None
        result = self._conn.result
        if result.get("result") not in (0, None):
            raise classify_result("search", base, result, self.settings)
        # Without the schema loaded ldap3 hands back text as str and binary values (SIDs, GUIDs) as bytes.
        return [Entry(item["dn"], {name: value if isinstance(value, list) else [value]
                                   for name, value in item["attributes"].items()})
                for item in self._conn.response or [] if item.get("type") == "searchResEntry"]

    def add(self, dn: str, object_class: str | Sequence[str], attributes: Mapping[str, Any]) -> None:
        self._run("create", dn, self._conn.add, dn, object_class, dict(attributes))

    def modify(self, dn: str, changes: Mapping[str, Sequence[tuple[str, Sequence[Any]]]], *,
               sd_flags: int | None = None, controls: Sequence[Any] | None = None) -> None:
        """changes: {attribute: [(MODIFY_ADD|MODIFY_REPLACE|MODIFY_DELETE, [values])]} as in ldap3;
        sd_flags names the parts of nTSecurityDescriptor written."""
        self._run("modify", dn, self._conn.modify, dn, {k: list(v) for k, v in changes.items()},
                  controls=_with_sd_flags(controls, sd_flags))

    def delete(self, dn: str) -> None:
        self._run("delete", dn, self._conn.delete, dn)

    def try_bind(self, user: str, password: str) -> BindCheck:
        """Try one simple bind as user (a DN or UPN) on a fresh connection to the same DC.

        A refused bind counts as one bad logon attempt on that account, as any wrong password does.
        """
        conn = _open(self.settings, self.peer_address, user, password)
        try:
            try:
                if conn.bind():
                    return BindCheck(True, None, "")
            except ldap3_exceptions.LDAPException as exc:
                raise self._communication_error("bind", user, exc) from None
            message = str(conn.result.get("message") or "")
            return BindCheck(False, bind_refusal_code(message), bind_refusal_reason(message))
        finally:
            close_quietly(conn, "unbind")


def _with_sd_flags(controls: Sequence[Any] | None, sd_flags: int | None) -> list[Any] | None:
    if sd_flags is None:
        return list(controls) if controls is not None else None
    return [*(controls or ()), sd_flags_control(sd_flags)]


def resolve_dc(settings: Settings) -> list[str]:
    """The DC's addresses, in the resolver's order, each once."""
    try:
        infos = socket.getaddrinfo(settings.host, settings.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise DomainError(f"DC {settings.host!r} unreachable: the name does not resolve", UNREACHABLE) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _open(settings: Settings, address: str, user: str, password: str) -> Any:
    """An opened, not yet bound, ldap3 connection to address, with TLS established (LDAPS or StartTLS)
    and the certificate checked against the DC's name (settings.host), not the address."""
    if ldap3 is None:
        raise DomainError("the ldap3 Python library is required on the controller", CONFIG)
    tls = _HandshakeVerifiedTls(_tls_context(settings), settings.host)
    server = ldap3.Server(address, port=settings.port, use_ssl=not settings.starttls, tls=tls,
                          connect_timeout=settings.timeout, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=user, password=password, authentication=ldap3.SIMPLE,
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
    """TLS to the first of the DC's addresses that answers; a certificate it presents that fails the
    checks stops there (another address would not make it the DC asked for)."""
    addresses = resolve_dc(settings)
    unreachable: DomainError | None = None
    for address in addresses:
        try:
            return _open(settings, address, settings.bind_user, settings.password), address
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
    """Open LDAPS (or StartTLS) to the DC, bind as the operator, check the DC serves `domain`."""
    settings = settings_from_params(params)
    conn, address = _open_first(settings)
    try:
        try:
            bound = conn.bind()
        except ldap3_exceptions.LDAPException as exc:
            raise classify_open_error(exc, settings) from None
        if not bound:
            raise classify_result("bind", settings.bind_user, conn.result, settings)
        expected = base_dn_for(settings.domain)
        served = _default_naming_context(conn, settings)
        if served is not None and served.lower() != expected.lower():
            raise DomainError(f"DC {settings.host} serves {served}, not the domain {settings.domain} ({expected})",
                              WRONG_DOMAIN)
    except BaseException:
        close_quietly(conn, "unbind")
        raise
    return DomainConnection(settings, conn, served or expected, address)
