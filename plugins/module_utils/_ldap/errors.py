# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DomainError, its causes, and how a DC's refusal or a failed connection is explained to the administrator."""
from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError
from ansible_collections.scanready.windows.plugins.module_utils._ldap.library import ldap3_exceptions

if TYPE_CHECKING:
    from ansible_collections.scanready.windows.plugins.module_utils._ldap.settings import Settings

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
    "418": "NTLM is blocked by the domain (STATUS_NTLM_BLOCKED): give dc as its DNS name, for Kerberos",
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


def tls_reason(exc: BaseException) -> str:
    """The ssl module's reason ('unable to get local issuer certificate') without ldap3's wrapping."""
    text = strip_ldap3_prefix(re.sub(r"\s*\(_ssl\.c:\d+\)", "", str(exc))).replace("\\'", "'")
    match = re.search(r"certificate verify failed: (.*)", text) or re.search(r"\[SSL[^\]]*\] (.*)", text)
    return (match.group(1) if match else text).rstrip(".")


def strip_ldap3_prefix(text: str) -> str:
    text = text.strip("()[],'\" ")
    for prefix in ("socket ssl wrapping error: ", "socket connection error while opening: ", "wrap socket error: "):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def classify_open_error(exc: BaseException, settings: Settings) -> DomainError:
    """An exception raised while connecting or starting TLS -> the administrator's explanation."""
    where = f"{settings.host}:{settings.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        trust = f"the CA in {settings.ca_cert}" if settings.ca_cert else "the system's trusted CAs"
        reason = tls_reason(exc)
        hint = ("; name the DC (dc) as its certificate does, by its DNS name"
                if "mismatch" in reason.lower() else "")
        return DomainError(f"TLS failure with DC {where}: its certificate could not be verified against "
                           f"{trust}: {reason}{hint}", TLS)
    if isinstance(exc, ssl.SSLError) or (ldap3_exceptions is not None
                                         and isinstance(exc, ldap3_exceptions.LDAPStartTLSError)):
        return DomainError(f"TLS failure with DC {where}: {tls_reason(exc)}", TLS)
    if isinstance(exc, TimeoutError):
        return DomainError(f"DC {where} unreachable: no answer within {settings.timeout} s", UNREACHABLE)
    text = strip_ldap3_prefix(str(exc))
    if "invalid server address" in text:
        return DomainError(f"DC {settings.host!r} unreachable: the name does not resolve", UNREACHABLE)
    if isinstance(exc, ConnectionRefusedError):
        protocol = "LDAPS" if settings.transport == "ldaps" else "LDAP"
        return DomainError(f"DC {where} unreachable: connection refused (is {protocol} enabled on that port?)",
                           UNREACHABLE)
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
