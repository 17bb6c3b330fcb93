# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry keys over the winreg pipe (`reg query \\\\host\\HKLM\\Software`), read-only."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import failed
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.classify import (
    Unfinished,
    classify,
    is_timeout,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import CheckResult, FailureClass, passed
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import Session

try:
    from impacket.dcerpc.v5 import rrp
except ImportError:  # reported by the module through missing_required_lib
    rrp = None

HIVES: Final[dict[str, str]] = {
    "HKLM": "HKLM", "HKEY_LOCAL_MACHINE": "HKLM",
    "HKU": "HKU", "HKEY_USERS": "HKU",
}


def split_key(key: str) -> tuple[str, str]:
    """'HKLM\\Software\\X' -> ('HKLM', 'Software\\X'); ValueError for a hive winreg cannot open remotely."""
    hive, _sep, path = key.replace("/", "\\").strip("\\").partition("\\")
    if hive.upper() not in HIVES:
        raise ValueError(f"registry key {key!r} must start with HKLM\\ or HKU\\ (HKEY_LOCAL_MACHINE, HKEY_USERS)")
    return HIVES[hive.upper()], path


def probe_registry(session: Session, keys: Sequence[str], results: dict[str, CheckResult]) -> None:
    """`reg query \\\\host\\<key>`: open each key for reading over winreg."""
    if not keys:
        return
    try:
        session.arm()
        dce = session.rpc("winreg", rrp.MSRPC_UUID_RRP)
    except Exception as exc:
        cls, seen = classify(exc)
        detail = f"the winreg pipe did not open ({seen})"
        if cls == FailureClass.REGISTRY_UNAVAILABLE:
            detail += ": the Remote Registry service is not running"
        for key in keys:
            results[f"registry:{key}"] = failed("registry", cls, detail, True)
        if is_timeout(exc):
            raise Unfinished(detail) from None
        return
    hives: dict[str, Any] = {}
    for key in keys:
        name = f"registry:{key}"
        try:
            session.arm()
            hive, path = split_key(key)
            if hive not in hives:
                opener = rrp.hOpenLocalMachine if hive == "HKLM" else rrp.hOpenUsers
                hives[hive] = opener(dce, samDesired=rrp.KEY_READ)["phKey"]
            # The server checks KEY_READ (query, enumerate, notify) when the key is opened.
            rrp.hBaseRegOpenKey(dce, hives[hive], path + "\x00", samDesired=rrp.KEY_READ)
            results[name] = passed(f"opened {key} for reading (KEY_READ)", True)
        except Exception as exc:
            cls, seen = classify(exc)
            results[name] = failed("registry", cls, f"{key}: {seen}", True)
            if is_timeout(exc):
                raise Unfinished(results[name].detail) from None
