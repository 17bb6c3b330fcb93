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
