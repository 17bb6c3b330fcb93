# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options every domain module takes, and the Settings checked from them before connecting."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._ldap.errors import CONFIG, DomainError
from ansible_collections.scanready.windows.plugins.module_utils._ldap.names import base_dn_for

LDAPS_PORT: Final = 636
LDAP_PORT: Final = 389

TRANSPORTS: Final = ("auto", "ldaps", "starttls", "sealed")

DOMAIN_CONNECTION_SPEC: Final[dict[str, dict[str, Any]]] = {
    "domain": {"type": "str", "required": True},
    "dc": {"type": "str"},
    "port": {"type": "int"},
    "transport": {"type": "str", "default": "auto", "choices": list(TRANSPORTS), "aliases": ["tls"]},
    "ca_cert": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "allow_ntlm": {"type": "bool", "default": True},
    "admin_username": {"type": "str"},
    "admin_password": {"type": "str", "no_log": True},
    "connect_timeout": {"type": "int", "default": 10},
}


@dataclass(frozen=True)
class Settings:
    """Where and how to connect; built from module params by settings_from_params.

    `transport` is what was asked for (auto, ldaps, starttls, sealed) until connect() chose; `port` is the one
    given, or the chosen transport's. Without a password, `bind_user` is None until the operator's Kerberos
    ticket names the principal."""

    domain: str
    host: str
    port: int
    transport: str
    ca_cert: str | None
    validate_certs: bool
    allow_ntlm: bool
    bind_user: str | None
    password: str | None = field(repr=False)
    timeout: int
    port_given: bool = False

    @property
    def starttls(self) -> bool:
        return self.transport == "starttls"

    @property
    def realm(self) -> str:
        return self.domain.upper()


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
    transport = params.get("transport") or params.get("tls") or "auto"
    if transport not in TRANSPORTS:
        raise DomainError(f"transport must be one of {', '.join(TRANSPORTS)}, not {transport!r}", CONFIG)
    timeout = params.get("connect_timeout")
    timeout = 10 if timeout is None else int(timeout)
    if timeout <= 0:
        raise DomainError("connect_timeout must be a positive number of seconds", CONFIG)
    port = params.get("port")
    if port is not None and not 1 <= port <= 65535:
        raise DomainError(f"port must be between 1 and 65535, not {port}", CONFIG)
    password = params.get("admin_password")
    username = params.get("admin_username")
    if password is not None and not username:
        raise DomainError("admin_password is given without admin_username; name the account it belongs to, or "
                          "give neither to use the Kerberos ticket in KRB5CCNAME (kinit)", CONFIG)
    if password == "":
        raise DomainError("admin_password is empty; give the password, or leave it unset to use the Kerberos "
                          "ticket in KRB5CCNAME (kinit)", CONFIG)
    return Settings(
        domain=domain,
        host=params.get("dc") or domain,
        port=port or (LDAPS_PORT if transport in ("auto", "ldaps") else LDAP_PORT),
        transport=transport,
        ca_cert=params.get("ca_cert"),
        validate_certs=params.get("validate_certs", True),
        allow_ntlm=params.get("allow_ntlm", True),
        bind_user=bind_user_for(username, domain) if username else None,
        password=password,
        timeout=timeout,
        port_given=port is not None,
    )
