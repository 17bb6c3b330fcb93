# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify modules' options, checked into a request before anything is contacted."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials
from ansible_collections.scanready.windows.plugins.module_utils._verify.names import (
    TargetSpec,
    domain_problem,
    is_address,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.registry import split_key
from ansible_collections.scanready.windows.plugins.module_utils._verify.target import CheckSet, RunOptions
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import DOMAIN_ADMINS, PRIVILEGES

# How the account is made an administrator of the targets (scan_account's privilege option).

# Bounds for the run options: beyond them a value is a typo, not a wish.
MAX_TIMEOUT_S: Final = 3600
MAX_WORKERS: Final = 1024

# The options of the scanner_credentials doc fragment, merged into each verify module's spec.
SCANNER_CREDENTIALS_SPEC: Final[dict[str, dict[str, Any]]] = {
    "username": {"type": "str", "required": True, "aliases": ["account_name"]},
    "password": {"type": "str", "required": True, "no_log": True, "aliases": ["account_password"]},
    "domain": {"type": "str", "required": True},
    "dc": {"type": "str"},
    "allow_ntlmv1": {"type": "bool", "default": False},
    "allow_ntlm": {"type": "bool", "default": True},
    "connect_timeout": {"type": "int", "default": 5},
    "target_timeout": {"type": "int", "default": 15},
}


# The options of the single_target doc fragment (share_access, registry_access).
SINGLE_TARGET_SPEC: Final[dict[str, dict[str, Any]]] = {
    "target": {"type": "str", "required": True},
    "name": {"type": "str"},
}


def settings_from(params: dict[str, Any], workers: int = 1) -> tuple[Credentials, str, RunOptions]:
    """Credentials, DC and run options from module parameters; ValueError names a bad one."""
    for option in ("connect_timeout", "target_timeout"):
        if not 1 <= params[option] <= MAX_TIMEOUT_S:
            raise ValueError(f"{option} must be between 1 and {MAX_TIMEOUT_S} seconds, not {params[option]}")
    if params["connect_timeout"] > params["target_timeout"]:
        raise ValueError("connect_timeout must not be longer than target_timeout")
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"workers must be between 1 and {MAX_WORKERS}, not {workers}")
    creds = Credentials.parse(params["username"], params["password"], params["domain"], params["allow_ntlmv1"],
                              params.get("allow_ntlm", True))
    problem = domain_problem(creds.domain)
    if problem:
        raise ValueError(f"domain: {problem}")
    dc = (params.get("dc") or creds.domain).strip()
    problem = None if is_address(dc) and ":" not in dc else domain_problem(dc)
    if problem:
        raise ValueError(f"dc: {problem}")
    options = RunOptions(float(params["connect_timeout"]), float(params["target_timeout"]), workers)
    return creds, dc, options


def targets_from(items: Sequence[dict[str, Any]]) -> tuple[list[TargetSpec], int]:
    """The targets with exact repeats (same name and address) dropped, and how many were; ValueError
    for an empty list, an empty name, or one name with two addresses."""
    if not items:
        raise ValueError("targets is empty: there is nothing to verify")
    unique: dict[str, TargetSpec] = {}
    conflicts: list[str] = []
    for item in items:
        spec = TargetSpec(item["name"].strip(), (item.get("address") or "").strip() or None,
                          bool(item.get("domain_controller")))
        if not spec.name:
            raise ValueError("every target needs a non-empty name")
        seen = unique.setdefault(spec.name.lower(), spec)
        if seen.address != spec.address and spec.name.lower() not in conflicts:
            conflicts.append(spec.name.lower())
    if conflicts:
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise ValueError(f"targets names {len(conflicts)} target(s) with different addresses: "
                         f"{', '.join(conflicts[:5])}{more}")
    return list(unique.values()), len(items) - len(unique)


def checked_names(kind: str, values: Sequence[str]) -> tuple[str, ...]:
    """Strip and de-duplicate a list option; ValueError for an empty entry or a bad registry key."""
    cleaned: list[str] = []
    for value in values:
        item = value.strip()
        if not item:
            raise ValueError(f"{kind} has an empty entry")
        if kind == "registry_keys":
            split_key(item)
        if item.lower() not in (c.lower() for c in cleaned):
            cleaned.append(item)
    return tuple(cleaned)


@dataclass(frozen=True)
class VerifyRequest:
    """One verification, every option checked; nothing has been contacted yet."""

    creds: Credentials
    dc: str
    targets: tuple[TargetSpec, ...]
    checks: CheckSet
    options: RunOptions
    repeats: int = 0  # exact repeats dropped from the targets
    privilege: str = DOMAIN_ADMINS  # how the account is made an administrator of the targets


def scan_request(params: dict[str, Any]) -> VerifyRequest:
    """scan_readiness' parameters as a request; ValueError names a bad one."""
    creds, dc, options = settings_from(params, params["workers"])
    targets, repeats = targets_from(params["targets"])
    checks = CheckSet(checked_names("shares", params["shares"]),
                      checked_names("registry_keys", params["registry_keys"]),
                      checked_names("services", params["services"]),
                      checked_names("wmi_namespaces", params["wmi_namespaces"]))
    privilege = params.get("privilege") or DOMAIN_ADMINS
    if privilege not in PRIVILEGES:
        raise ValueError(f"privilege must be one of {', '.join(PRIVILEGES)}, not {privilege!r}")
    return VerifyRequest(creds, dc, tuple(targets), checks, options, repeats, privilege)


def single_request(params: dict[str, Any], checks: CheckSet) -> VerifyRequest:
    """One target (O(target), O(name)) of share_access or registry_access; ValueError names a bad option."""
    creds, dc, options = settings_from(params)
    address = params["target"].strip()
    if not address:
        raise ValueError("target must not be empty")
    spec = TargetSpec((params.get("name") or address).strip(), address)
    # One target: one worker, one process.
    return VerifyRequest(creds, dc, (spec,), checks, RunOptions(options.connect_timeout, options.target_timeout, 1, 1))
