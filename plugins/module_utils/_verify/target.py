# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One target: log on up the ladder, then probe in order (shares, registry, services, WMI), and the
contract's host result from what was found, also for a target given up on."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials
from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import failed
from ansible_collections.scanready.windows.plugins.module_utils._verify.kerberos import Tickets
from ansible_collections.scanready.windows.plugins.module_utils._verify.names import Job
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.classify import Unfinished
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.registry import probe_registry
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.services import probe_services
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.shares import probe_shares, signing_check
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.wmi import probe_wmi
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import (
    CheckResult,
    FailureClass,
    HostResult,
    not_tested,
    passed,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import SessionFailure, logon
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import (
    DEFAULT_SHARES,
    DOMAIN_ADMINS,
    LOCAL_ADMINS,
)

DEFAULT_KEYS: Final = ("HKLM\\Software",)
DEFAULT_SERVICES: Final = ("RemoteRegistry", "LanmanServer", "MpsSvc")
DEFAULT_NAMESPACES: Final = ("root\\cimv2\\security\\microsofttpm", "root\\CIMV2\\TerminalServices")


@dataclass(frozen=True)
class CheckSet:
    """What to check on every target; empty tuples leave a kind out."""

    shares: tuple[str, ...] = DEFAULT_SHARES
    registry_keys: tuple[str, ...] = DEFAULT_KEYS
    services: tuple[str, ...] = DEFAULT_SERVICES
    wmi_namespaces: tuple[str, ...] = DEFAULT_NAMESPACES

    def names(self) -> list[str]:
        return (["logon", "smb_signing"] + [f"share:{s}" for s in self.shares]
                + [f"registry:{k}" for k in self.registry_keys] + [f"service:{s}" for s in self.services]
                + [f"wmi:{n}" for n in self.wmi_namespaces])


def required_check(name: str) -> bool:
    """Logon, shares and registry keys always decide readiness; services and WMI only when they
    fail definitively (their probes then say so)."""
    return name.split(":", 1)[0] in ("logon", "share", "registry")


@dataclass(frozen=True)
class RunOptions:
    connect_timeout: float = 5.0
    target_timeout: float = 15.0
    workers: int = 32
    processes: int | None = None  # None: one per core, when there are enough targets


class StopFlag(Protocol):
    def is_set(self) -> bool: ...

    def set(self) -> None: ...


@dataclass
class Progress:
    """What a target's thread has found so far; read when the target is given up on."""

    started: float = 0.0
    scheme: str | None = None
    checks: dict[str, CheckResult] = field(default_factory=dict)
    unfinished: str = ""  # why the session ended before every check was reached


@dataclass(frozen=True)
class Verifier:
    """What every target's check needs: the account, what to check, the times, the tickets, and how the
    account is made an administrator of the targets (scan_account's privilege)."""

    creds: Credentials
    checks: CheckSet
    options: RunOptions
    tickets: Tickets | None
    privilege: str = DOMAIN_ADMINS


def verify_target(job: Job, verifier: Verifier, stop: StopFlag, progress: Progress) -> None:
    """Log on, then probe in order (shares, registry, services, WMI), recording into `progress`."""
    progress.started = time.monotonic()
    deadline = progress.started + verifier.options.target_timeout
    found = progress.checks
    if job.endpoint is None:
        found["logon"] = failed("logon", FailureClass.UNREACHABLE, job.unresolved, True)
        return
    try:
        session = logon(job.endpoint, verifier.creds, verifier.tickets, verifier.options.connect_timeout, deadline,
                        stop.is_set)
    except SessionFailure as exc:
        if exc.stops_run:
            stop.set()
        if exc.cls == FailureClass.NOT_TESTED:
            found["logon"] = not_tested(exc.message, True)
        else:
            found["logon"] = failed("logon", exc.cls, exc.message, True)
        return
    found["logon"] = passed(session.detail, True)
    found["smb_signing"] = signing_check(session.signing_required)
    progress.scheme = session.scheme
    try:
        probe_shares(session, verifier.checks.shares, found)
        probe_registry(session, verifier.checks.registry_keys, found)
        probe_services(session, verifier.checks.services, found)
        if not stop.is_set():  # WMI authenticates again: not after the guard stopped the run
            probe_wmi(session, verifier.creds, verifier.tickets, verifier.checks.wmi_namespaces, found)
    except Unfinished as exc:
        progress.unfinished = str(exc)
    finally:
        session.close()
        if job.domain_controller and verifier.privilege == LOCAL_ADMINS:
            name_dc_cause(found)


# The checks a local administrator passes: on a domain controller only a Domain Admin (or a member of
# the domain's own Administrators) does.
ADMIN_KINDS: Final = ("share", "registry", "service")


def name_dc_cause(found: dict[str, CheckResult]) -> None:
    """local_admins mode, on a domain controller: an admin check denied is the mode's known limit (a
    DC's Administrators is the domain's own group, which the scanner group is kept out of), named as such with
    its fix."""
    for name, check in list(found.items()):
        kind = name.split(":", 1)[0]
        if kind in ADMIN_KINDS and check.cls == FailureClass.ACCESS_DENIED:
            found[name] = failed(kind, FailureClass.DC_NEEDS_DOMAIN_ADMIN,
                                 check.detail + " (a domain controller, and the account is a local administrator "
                                 "only through the scanner group, which domain controllers do not get)",
                                 check.required)


def host_result(job: Job, progress: Progress, names: Sequence[str], now: float, gave_up: bool,
                target_timeout: float, stopped: bool) -> HostResult:
    """The contract's host entry; checks never reached are not_tested with the reason."""
    checks = dict(progress.checks)
    under_way = next((name for name in names if name not in checks), None) if gave_up else None
    if under_way is not None:  # the first check without a result is the one that was under way
        checks[under_way] = failed(under_way.split(":", 1)[0], FailureClass.TIMEOUT,
                                   f"no answer within the target's {target_timeout:.0f} s", required_check(under_way))
    if "logon" not in checks:
        why = ("not attempted: the run stopped after a logon failure, so that the account is not locked out"
               if stopped else "not attempted")
        checks["logon"] = not_tested(why, True)
    if checks["logon"].ok is not True:
        why = "not tested: no session (see logon)"
    elif gave_up:
        why = f"not reached: the target did not finish within its {target_timeout:.0f} s"
    elif stopped:
        why = "not tested: the run stopped after a logon failure elsewhere"
    else:
        why = f"not reached: the session ended early ({progress.unfinished or 'see the check before'})"
    ordered = {name: checks.get(name) or not_tested(why, required_check(name)) for name in names}
    return HostResult(
        name=job.name,
        address=job.endpoint.address if job.endpoint else "",
        ready=all(check.ok is True for check in ordered.values() if check.required),
        auth_scheme=progress.scheme,
        duration_s=round(max(0.0, now - progress.started) if progress.started else 0.0, 2),
        checks=ordered,
    )
