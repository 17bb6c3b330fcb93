# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start type and state of services over svcctl: the service manager opened to connect and enumerate only."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import failed, fix_for
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.classify import (
    Unfinished,
    classify,
    is_timeout,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import CheckResult, FailureClass, passed
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import Session

try:
    from impacket.dcerpc.v5 import scmr
except ImportError:  # reported by the module through missing_required_lib
    scmr = None

START_TYPES: Final[dict[int, str]] = {0: "Boot", 1: "System", 2: "Automatic", 3: "Manual", 4: "Disabled"}
STATES: Final[dict[int, str]] = {
    1: "Stopped", 2: "Starting", 3: "Stopping", 4: "Running", 5: "Continuing", 6: "Pausing", 7: "Paused",
}
SERVICE_AUTO_START: Final = 2
SERVICE_DISABLED: Final = 4
SERVICE_RUNNING: Final = 4


def service_check(name: str, start_type: int, state: int) -> CheckResult:
    """Judge a service by start type and state. Disabled is a definitive failure (it decides
    readiness); Manual or stopped are reported with their fix but leave readiness alone."""
    start, now = START_TYPES.get(start_type, str(start_type)), STATES.get(state, str(state))
    seen = f"{name}: start type {start}, {now}"
    if start_type == SERVICE_DISABLED:
        return failed("service", FailureClass.SERVICE_NOT_AUTOMATIC, seen, True, name)
    if start_type > SERVICE_AUTO_START:
        return failed("service", FailureClass.SERVICE_NOT_AUTOMATIC, seen, False, name)
    if start_type == SERVICE_AUTO_START and state != SERVICE_RUNNING:
        return failed("service", FailureClass.SERVICE_NOT_RUNNING, seen, False, name)
    return passed(seen, False)


def probe_services(session: Session, services: Sequence[str], results: dict[str, CheckResult]) -> None:
    """Start type and state of each service, from the service manager opened for reading only."""
    if not services:
        return
    try:
        session.arm()
        dce = session.rpc("svcctl", scmr.MSRPC_UUID_SCMR)
        manager = scmr.hROpenSCManagerW(
            dce, dwDesiredAccess=scmr.SC_MANAGER_CONNECT | scmr.SC_MANAGER_ENUMERATE_SERVICE)["lpScHandle"]
    except Exception as exc:
        cls, seen = classify(exc)
        for service in services:
            no_pipe = cls == FailureClass.REGISTRY_UNAVAILABLE
            results[f"service:{service}"] = CheckResult(None if no_pipe else False,
                                                        FailureClass.ERROR if no_pipe else cls, False,
                                                        f"the service manager did not open ({seen})",
                                                        fix_for("service", cls, service))
        if is_timeout(exc):
            raise Unfinished(f"service manager: {seen}") from None
        return
    for service in services:
        name = f"service:{service}"
        try:
            session.arm()
            handle = scmr.hROpenServiceW(dce, manager, service + "\x00",
                                         scmr.SERVICE_QUERY_CONFIG | scmr.SERVICE_QUERY_STATUS)["lpServiceHandle"]
            query = scmr.RQueryServiceConfigW()
            query["hService"] = handle
            query["cbBufSize"] = 8192  # one call: impacket's helper asks for the size first
            config = dce.request(query)["lpServiceConfig"]
            status = scmr.hRQueryServiceStatus(dce, handle)["lpServiceStatus"]
            results[name] = service_check(service, int(config["dwStartType"]), int(status["dwCurrentState"]))
        except Exception as exc:
            cls, seen = classify(exc)
            ok = None if cls == FailureClass.SERVICE_UNKNOWN else False
            results[name] = CheckResult(ok, cls, False, f"{service}: {seen}", fix_for("service", cls, service))
            if is_timeout(exc):
                raise Unfinished(f"{service}: {seen}") from None
