# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The result contract: failure classes, one check's result, one host's result.

The verifier makes these; the reports read them (from the JSON a module returned, through the same
types). ``as_dict`` gives the shape scan_readiness returns (its RETURN documents it).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError


class FailureClass(StrEnum):
    """What a check found: ``ok`` or why not. The values are the contract's ``class`` strings."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    LOGON_FAILURE = "logon_failure"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_DISABLED = "account_disabled"
    ACCOUNT_EXPIRED = "account_expired"
    PASSWORD_EXPIRED = "password_expired"  # noqa: S105 (a class name, not a password)
    ACCESS_DENIED = "access_denied"
    SHARE_MISSING = "share_missing"
    # local_admins mode: an admin share denied on a domain controller, which the local Administrators GPO skips.
    DC_NEEDS_DOMAIN_ADMIN = "dc_needs_domain_admin"
    REGISTRY_UNAVAILABLE = "registry_unavailable"
    SPN_HARDENING = "spn_hardening"
    SERVICE_NOT_RUNNING = "service_not_running"
    SERVICE_NOT_AUTOMATIC = "service_not_automatic"
    SERVICE_UNKNOWN = "service_unknown"
    WMI_ACCESS_DENIED = "wmi_access_denied"
    WMI_UNAVAILABLE = "wmi_unavailable"
    # A namespace that requires encryption refused a scanner's Packet Integrity logon (0x80041087).
    WMI_PRIVACY_NOT_ENFORCED = "wmi_privacy_not_enforced"
    SIGNING_NOT_REQUIRED = "signing_not_required"
    NOT_TESTED = "not_tested"
    ERROR = "error"
    # Kerberos only: kinit is not installed on the controller (the guard then tries NTLM at the DC).
    UNAVAILABLE = "unavailable"

    @property
    def label(self) -> str:
        """The class as the reports name it."""
        return LABELS.get(self, self.value)


LABELS: Final[dict[str, str]] = {
    FailureClass.OK: "Ready",
    FailureClass.UNREACHABLE: "Unreachable (filtered)",
    FailureClass.REFUSED: "Connection refused",
    FailureClass.TIMEOUT: "Timed out",
    FailureClass.LOGON_FAILURE: "Logon failure",
    FailureClass.ACCOUNT_LOCKED: "Account locked out",
    FailureClass.ACCOUNT_DISABLED: "Account disabled",
    FailureClass.ACCOUNT_EXPIRED: "Account expired",
    FailureClass.PASSWORD_EXPIRED: "Password expired",
    FailureClass.ACCESS_DENIED: "Access denied",
    FailureClass.SHARE_MISSING: "Share missing",
    FailureClass.DC_NEEDS_DOMAIN_ADMIN: "Domain controller needs a Domain Admin",
    FailureClass.REGISTRY_UNAVAILABLE: "Remote registry unavailable",
    FailureClass.SPN_HARDENING: "SPN target-name hardening",
    FailureClass.SERVICE_NOT_RUNNING: "Service not running",
    FailureClass.SERVICE_NOT_AUTOMATIC: "Service not set to Automatic",
    FailureClass.SERVICE_UNKNOWN: "Service state unknown",
    FailureClass.WMI_ACCESS_DENIED: "WMI access denied",
    FailureClass.WMI_UNAVAILABLE: "WMI unavailable",
    FailureClass.WMI_PRIVACY_NOT_ENFORCED: "WMI does not raise connections to Packet Privacy",
    FailureClass.SIGNING_NOT_REQUIRED: "SMB signing not required (advisory)",
    FailureClass.NOT_TESTED: "Not tested",
    FailureClass.ERROR: "Unexpected error",
}

# The account itself is refused: the guard stops the run on these, and records them.
ACCOUNT_CLASSES: Final = frozenset({FailureClass.LOGON_FAILURE, FailureClass.ACCOUNT_LOCKED,
                                    FailureClass.ACCOUNT_DISABLED, FailureClass.ACCOUNT_EXPIRED,
                                    FailureClass.PASSWORD_EXPIRED})


class ClassifiedError(ScanreadyError):
    """A failure of the verify stack with its failure class (``cls``); the message never holds a secret."""

    def __init__(self, cls: str, message: str) -> None:
        super().__init__(message)
        self.cls = cls


def class_label(cls: str) -> str:
    """A class's label; a class this collection does not know (a report of a newer one) as it is."""
    return LABELS.get(cls, cls)


@dataclass(frozen=True)
class CheckResult:
    """One check: ok is True, False or None (not tested / not testable). ``cls`` is a FailureClass
    when the verifier made it; a report reads any text there."""

    ok: bool | None
    cls: str
    required: bool
    detail: str
    fix: str | None = None

    @property
    def blocking(self) -> bool:
        """A failure that keeps the host from being ready (a service or WMI failure that is not
        definitive comes with ``required: false``: a recommended fix that does not block scanning)."""
        return self.ok is False and self.required

    @property
    def mark(self) -> str:
        if self.ok is None:
            return "untested"
        return "ok" if self.ok else ("fail" if self.required else "advisory")

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "class": str(self.cls), "required": self.required, "detail": self.detail,
                "fix": self.fix}


def passed(detail: str, required: bool) -> CheckResult:
    return CheckResult(True, FailureClass.OK, required, detail, None)


def not_tested(detail: str, required: bool) -> CheckResult:
    return CheckResult(None, FailureClass.NOT_TESTED, required, detail, None)


NamedCheck = tuple[str, CheckResult]


@dataclass(frozen=True)
class HostResult:
    """One target: ``checks`` maps each check's name (logon, share:C$, ...) to its result, in order."""

    name: str
    address: str  # empty when the name did not resolve
    ready: bool
    auth_scheme: str | None
    duration_s: float
    checks: Mapping[str, CheckResult]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "ready": self.ready, "auth_scheme": self.auth_scheme,
                "duration_s": self.duration_s, "checks": {n: c.as_dict() for n, c in self.checks.items()}}

    @property
    def shown_address(self) -> str:
        """The address, or why there is none (a name that did not resolve)."""
        return self.address or "no address"

    @property
    def failures(self) -> tuple[NamedCheck, ...]:
        return tuple((n, c) for n, c in self.checks.items() if c.ok is False)

    @property
    def why(self) -> NamedCheck | None:
        """The check that stands for a not-ready host: its first blocking failure, else its first
        required check left untested, else its first failure of any kind."""
        if self.ready:
            return None
        found = self.checks.items()
        return (next(((n, c) for n, c in found if c.blocking), None)
                or next(((n, c) for n, c in found if c.ok is None and c.required), None)
                or next(iter(self.failures), None))

    @property
    def cls(self) -> str:
        """``ok`` for a ready host, else the class of the check that stands for it."""
        if self.ready:
            return FailureClass.OK
        why = self.why
        return why[1].cls if why else FailureClass.NOT_TESTED
