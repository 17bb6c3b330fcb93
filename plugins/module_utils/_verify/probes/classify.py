# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a probe's exception means: its failure class and what was seen."""
from __future__ import annotations

import socket
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils import _ntstatus as ntstatus
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import FailureClass
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import first_line

try:
    from impacket import nmb, smb3
    from impacket.dcerpc.v5.rpcrt import DCERPCException
except ImportError:  # reported by the module through missing_required_lib
    nmb = smb3 = None
    DCERPCException = Exception

STATUS_CLASSES: Final[dict[int, str]] = {
    ntstatus.STATUS_ACCESS_DENIED: FailureClass.ACCESS_DENIED,
    ntstatus.STATUS_NETWORK_ACCESS_DENIED: FailureClass.ACCESS_DENIED,
    ntstatus.STATUS_BAD_NETWORK_NAME: FailureClass.SHARE_MISSING,
    # No such pipe: the service behind it is stopped.
    ntstatus.STATUS_OBJECT_NAME_NOT_FOUND: FailureClass.REGISTRY_UNAVAILABLE,
    ntstatus.STATUS_PIPE_NOT_AVAILABLE: FailureClass.REGISTRY_UNAVAILABLE,
    ntstatus.STATUS_INVALID_PIPE_STATE: FailureClass.REGISTRY_UNAVAILABLE,
    ntstatus.STATUS_PIPE_DISCONNECTED: FailureClass.REGISTRY_UNAVAILABLE,
    ntstatus.STATUS_PIPE_BROKEN: FailureClass.REGISTRY_UNAVAILABLE,
}
WIN32_CLASSES: Final[dict[int, str]] = {
    5: FailureClass.ACCESS_DENIED,  # ERROR_ACCESS_DENIED
    1060: FailureClass.SERVICE_UNKNOWN,  # ERROR_SERVICE_DOES_NOT_EXIST
}
WIN32_NAMES: Final[dict[int, str]] = {
    2: "ERROR_FILE_NOT_FOUND: no such key",
    5: "ERROR_ACCESS_DENIED",
    1060: "ERROR_SERVICE_DOES_NOT_EXIST",
}


def is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError | socket.timeout) or (nmb is not None and isinstance(exc, nmb.NetBIOSTimeout))


def classify(exc: BaseException) -> tuple[str, str]:
    """(class, what was seen) for anything a probe raised."""
    if is_timeout(exc):
        return FailureClass.TIMEOUT, "no answer in time"
    if smb3 is not None and isinstance(exc, smb3.SessionError):
        code = exc.get_error_code()
        return STATUS_CLASSES.get(code, FailureClass.ERROR), ntstatus.status_name(code)
    if isinstance(exc, DCERPCException):
        code = exc.get_error_code()
        if isinstance(code, int):
            return WIN32_CLASSES.get(code, FailureClass.ERROR), WIN32_NAMES.get(code, f"error 0x{code:x}")
        return FailureClass.ERROR, first_line(exc)
    if isinstance(exc, ConnectionError | OSError):
        return FailureClass.ERROR, f"the connection broke ({first_line(exc)})"
    return FailureClass.ERROR, f"{type(exc).__name__}: {first_line(exc)}"


class Unfinished(Exception):
    """The session broke or ran out of time; later checks on this target are not reached."""
