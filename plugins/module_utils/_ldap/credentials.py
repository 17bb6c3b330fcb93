# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The operator's Kerberos credentials for one DC, and a password checked at the KDC, phrased as DomainErrors.

With a password the collection gets its own TGT (kinit, the password on stdin, a private krb5.conf naming
the DC the connection reached); without one it uses the ticket the operator got with kinit (KRB5CCNAME,
else the default cache), which it only reads. Service tickets (ldap/<dc>, cifs/<dc>) come from kvno.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._ccache import ServiceTicket
from ansible_collections.scanready.windows.plugins.module_utils._kerberos import KerberosClient, KerberosError
from ansible_collections.scanready.windows.plugins.module_utils._ldap.errors import (
    BIND,
    CONFIG,
    UNREACHABLE,
    DomainError,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.settings import Settings

# kinit's refusals as the codes a refused simple bind carries (see errors.BIND_REASONS).
REFUSAL_CODES: Final[dict[str, str]] = {
    "logon_failure": "52e",
    "password_expired": "532",
    "account_expired": "701",
    "account_locked": "775",
}


@dataclass(frozen=True)
class BindCheck:
    """How the DC answered a logon: accepted, or refused with its code (e.g. '52e', '533') and reason."""

    accepted: bool
    code: str | None
    reason: str


def kerberos_problem(settings: Settings) -> str | None:
    """Why Kerberos cannot name this DC (a ticket is for one DC's DNS name), or None when it can."""
    host = settings.host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return (f"dc {host} is an address, and a Kerberos ticket names the DC: set dc to the DC's DNS name "
                f"(for example dc1.{settings.domain})")
    if host.lower() == settings.domain.lower():
        return (f"dc is not set, and a Kerberos ticket names one DC, not the domain: set dc to the DC's DNS name "
                f"(for example dc1.{settings.domain})")
    return None


def principal_name(bind_user: str) -> str:
    """The account part of 'user@realm' or 'DOMAIN\\user', for a principal of the domain's realm."""
    return bind_user.rpartition("\\")[2].rpartition("@")[0] or bind_user.rpartition("\\")[2]


def operator_client(settings: Settings, address: str) -> KerberosClient:
    """A client holding the operator's TGT for the KDC at address (the DC the connection reached)."""
    if settings.password is None:
        try:
            client = KerberosClient.from_cache(None, settings.realm, address, settings.timeout)
        except KerberosError as exc:
            if exc.cls == "unavailable":
                raise _refusal(exc, "the operator", address) from None
            raise DomainError(exc.message, BIND) from None
        named = principal_name(settings.bind_user).lower() if settings.bind_user else None
        if named is not None and named != client.principal.rpartition("@")[0].lower():
            client.close()
            raise DomainError(f"the Kerberos ticket is of {client.principal}, not of admin_username "
                              f"{settings.bind_user}: kinit as that account, or leave admin_username out", BIND)
        return client
    if settings.bind_user is None:  # settings_from_params refuses a password without a name
        raise DomainError("admin_username is required with admin_password", CONFIG)
    client = KerberosClient(settings.realm, address, principal_name(settings.bind_user), "kerberos-aes",
                            settings.timeout)
    try:
        client.login(settings.password)
    except KerberosError as exc:
        client.close()
        raise _refusal(exc, client.principal, address) from None
    return client


def service_ticket(client: KerberosClient, service: str, host: str) -> ServiceTicket:
    """The ticket for service/host, or a DomainError with the KDC's reason."""
    found = client.ticket(f"{service}/{host}")
    if isinstance(found, str):
        hint = ("; dc must be the DC's own DNS name, as its computer account has it (dNSHostName)"
                if "not found" in found.lower() else "")
        raise DomainError(f"no Kerberos ticket for {service}/{host}: {found}{hint}", BIND)
    return found


def check_password(settings: Settings, address: str, account: str, password: str) -> BindCheck:
    """Whether the KDC accepts account's password (one AS-REQ: one bad logon when wrong)."""
    with KerberosClient(settings.realm, address, account, "kerberos-aes", settings.timeout) as client:
        try:
            client.login(password)
        except KerberosError as exc:
            if exc.cls in REFUSAL_CODES:
                return BindCheck(False, REFUSAL_CODES[exc.cls], exc.message)
            raise _refusal(exc, client.principal, address) from None
    return BindCheck(True, None, "")


def _refusal(exc: KerberosError, who: str, address: str) -> DomainError:
    if exc.cls in ("unreachable", "timeout"):
        return DomainError(f"Kerberos KDC at {address} (port 88) unreachable for {who}: {exc.message}", UNREACHABLE)
    if exc.cls == "unavailable":
        return DomainError(f"{exc.message}: install it (Debian and Ubuntu: apt-get install krb5-user; RHEL: dnf "
                           "install krb5-workstation)", CONFIG)
    return DomainError(f"Kerberos logon of {who} at {address} refused: {exc.message}", BIND)
