# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shares (`net use \\\\host\\C$`), and the advisory SMB signing check from the session's negotiate."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import failed
from ansible_collections.scanready.windows.plugins.module_utils._verify.probes.classify import Unfinished, classify
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import (
    CheckResult,
    FailureClass,
    not_tested,
    passed,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import Session

try:
    from impacket import smb3
    from impacket import smb3structs as s3
except ImportError:  # reported by the module through missing_required_lib
    smb3 = s3 = None

DRIVE_SHARE: Final = re.compile(r"[A-Za-z]\$")


def signing_check(required: bool | None) -> CheckResult:
    """Advisory: does the host require SMB signing (its negotiate answer's SecurityMode)? Never decides
    readiness; a host that does not require it accepts a relayed logon of the scanner account."""
    if required is None:
        return not_tested("not tested: the negotiate answer was not seen", False)
    if required:
        return passed("the host requires SMB signing (SMB2_NEGOTIATE_SIGNING_REQUIRED)", False)
    return failed("smb_signing", FailureClass.SIGNING_NOT_REQUIRED,
                  "the host allows unsigned SMB sessions (signing is not required in its negotiate answer)", False)


def probe_shares(session: Session, shares: Sequence[str], results: dict[str, CheckResult]) -> None:
    """Open each share (`net use`); list the root of drive shares (C$, D$, ...) as `dir` would."""
    for share in shares:
        name = f"share:{share}"
        try:
            session.arm()
            tid = session.tree(share)
            if DRIVE_SHARE.fullmatch(share):
                entries = _list_root(session, tid)
                results[name] = passed(f"opened {share} and listed its root ({entries} entries)", True)
            else:
                results[name] = passed(f"opened {share}", True)
        except Exception as exc:
            cls, seen = classify(exc)
            results[name] = failed("share", cls, f"{share}: {seen}", True)
            if cls in (FailureClass.TIMEOUT, FailureClass.ERROR) and not isinstance(exc, smb3.SessionError):
                raise Unfinished(results[name].detail) from None


def _list_root(session: Session, tid: int) -> int:
    """`dir \\\\host\\C$`: one directory query on the share's root, read-only access."""
    conn = session.conn
    fid = conn.create(tid, "", s3.FILE_READ_ATTRIBUTES | s3.FILE_LIST_DIRECTORY,
                      s3.FILE_SHARE_READ | s3.FILE_SHARE_WRITE | s3.FILE_SHARE_DELETE,
                      s3.FILE_DIRECTORY_FILE, s3.FILE_OPEN, 0)
    try:
        data = conn.queryDirectory(tid, fid, "*", maxBufferSize=65536)
    finally:
        conn.close(tid, fid)
    return _count_entries(bytes(data or b""))


def _count_entries(data: bytes) -> int:
    """Entries in a FILE_NAMES_INFORMATION buffer: each starts with NextEntryOffset (0 = last)."""
    count, offset = 0, 0
    while offset + 4 <= len(data):
        count += 1
        step = int.from_bytes(data[offset:offset + 4], "little")
        if step == 0:
            break
        offset += step
    return count
