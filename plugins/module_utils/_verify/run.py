# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A fleet verified at once: the guard, names and tickets, the fleet, the result in the contract's
shape (see scan_readiness' RETURN); and the glue of the single-target modules."""
from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from ansible_collections.scanready.windows.plugins.module_utils._lockout import RecordError
from ansible_collections.scanready.windows.plugins.module_utils._verify.fleet import run_fleet
from ansible_collections.scanready.windows.plugins.module_utils._verify.guard import (
    GuardStop,
    preflight,
    recorded_guard,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.kerberos import Tickets
from ansible_collections.scanready.windows.plugins.module_utils._verify.names import (
    Job,
    TargetSpec,
    dc_reverse_lookup,
    resolve,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import (
    ACCOUNT_CLASSES,
    CheckResult,
    HostResult,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.specs import VerifyRequest, single_request
from ansible_collections.scanready.windows.plugins.module_utils._verify.target import (
    CheckSet,
    Progress,
    StopFlag,
    Verifier,
    host_result,
    verify_target,
)

NOT_ATTEMPTED_FIX = ("Nothing was sent to this host: the domain controller stopped the run before any target. "
                     "Do what the detail says, then verify again.")


@dataclass
class Verification:
    """What a run found: every target's result, and the warnings for the play."""

    domain: str
    account: str
    hosts: list[HostResult]
    elapsed_s: float
    warnings: list[str] = field(default_factory=list)

    def as_result(self) -> dict[str, Any]:
        """scan_readiness' result (its RETURN)."""
        ready = sum(1 for host in self.hosts if host.ready)
        return {
            "changed": False,
            "domain": self.domain,
            "account": self.account,
            "summary": {"total": len(self.hosts), "ready": ready, "not_ready": len(self.hosts) - ready},
            "elapsed_s": self.elapsed_s,
            "hosts": [host.as_dict() for host in self.hosts],
        }


def verify(request: VerifyRequest) -> Verification:
    """The whole run; raises GuardStop before touching any target when the account is refused."""
    started = time.monotonic()
    with _terminated_as_exit():
        return _verify(request, started)


@contextlib.contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """SIGTERM as SystemExit while the run lasts, so that a terminated run still removes its
    private Kerberos directories (its finally blocks run); the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _verify(request: VerifyRequest, started: float) -> Verification:
    creds, dc, options = request.creds, request.dc, request.options
    with recorded_guard(creds, dc) as record:
        client, unavailable, warnings = preflight(creds, dc, max(options.connect_timeout, 10.0))
    tickets = Tickets(creds, dc, max(options.connect_timeout, 10.0), client, unavailable)
    try:
        jobs = resolve(request.targets, dc_reverse_lookup(dc, min(options.connect_timeout, 5.0)))
        verifier = Verifier(creds, request.checks, options, tickets, request.privilege)
        stop = multiprocessing.get_context("fork").Event()

        def work(job: Job, flag: StopFlag, progress: Progress) -> None:
            verify_target(job, verifier, flag, progress)

        hosts = run_fleet(jobs, work, options, request.checks.names(), stop, cleanup=tickets.close)
    finally:
        tickets.close()
    if stop.is_set():
        refused = next((h for h in hosts if h.checks["logon"].cls in ACCOUNT_CLASSES), None)
        where = f" at {refused.name}" if refused else ""
        if refused:
            logon = refused.checks["logon"]
            try:
                record.write(record.refusal(f"the target {refused.name}", logon.cls, logon.detail))
            except RecordError as exc:
                warnings.append(f"The target's refusal could not be recorded ({exc}): later verify runs may try the "
                                "account again.")
        warnings.append(f"A target refused the account{where}; every further logon attempt was stopped so that "
                        "the account is not locked out. Targets not tried are reported as not_tested.")
    return Verification(creds.domain, creds.username, hosts, round(time.monotonic() - started, 2), warnings)


def stopped_at_dc(request: VerifyRequest, stop: GuardStop) -> Verification:
    """The run the guard stopped, in the contract's shape, so that the reports of this run say so instead
    of an earlier run's standing: each target not ready, its logon failed with the stop's class and
    message (nothing was sent to it), every other check not tested. Names are not looked up."""
    refusal = CheckResult(False, stop.cls, True, stop.message, NOT_ATTEMPTED_FIX)
    names = request.checks.names()

    def not_attempted(index: int, spec: TargetSpec) -> HostResult:
        host = host_result(Job(index, spec.name, None), Progress(checks={"logon": refusal}), names, 0.0, False,
                           request.options.target_timeout, False)
        return replace(host, address=spec.address or "")

    hosts = [not_attempted(index, spec) for index, spec in enumerate(request.targets)]
    return Verification(request.creds.domain, request.creds.username, hosts, 0.0)


def run_single(module: Any, checks: CheckSet, verdict: str) -> None:
    """share_access / registry_access: one target (O(target), O(name)); fail_json unless every
    check worked, exit_json otherwise. `verdict` names the result's overall boolean."""
    try:
        request = single_request(module.params, checks)
    except ValueError as exc:
        module.fail_json(msg=f"{module._name}: {exc}", **{verdict: False})
    try:
        verification = verify(request)
    except GuardStop as stop:
        module.fail_json(msg=stop.message, failure_class=stop.cls, **{verdict: False})
    for warning in verification.warnings:
        module.warn(warning)
    host = verification.hosts[0]
    result = {"changed": False, "name": host.name, "address": host.address, verdict: host.ready,
              "auth_scheme": host.auth_scheme, "duration_s": host.duration_s,
              "checks": {name: check.as_dict() for name, check in host.checks.items()}}
    if not host.ready:
        failures = [f"{name}: {check.cls} ({check.detail})" + (f". Fix: {check.fix}" if check.fix else "")
                    for name, check in host.checks.items() if check.required and check.ok is not True]
        module.fail_json(msg=f"{host.name}: " + "; ".join(failures), **result)
    module.exit_json(**result)
