# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The account's current password checked through the lockout guard (_lockout) the verify modules use, so
that a wrong password costs at most one bad logon per run whichever module meets it.

update_password: always binds once as the account to learn whether its password differs. That bind is a
logon like the verify modules' pre-flight: it is not made when the account's record holds a refusal (the
password is then set again, which costs no logon and clears the record), it is recorded when the DC
refuses it or gives no verdict, and it is never made in check mode.
"""
from __future__ import annotations

import time
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._account.directory import (
    PASSWORD_RIGHT_CODES,
    Directory,
    bind_verdict,
)
from ansible_collections.scanready.windows.plugins.module_utils._account.plan import Account
from ansible_collections.scanready.windows.plugins.module_utils._ldap import CONFIG, DomainError
from ansible_collections.scanready.windows.plugins.module_utils._lockout import (
    LockoutRecord,
    RecordError,
    Refusal,
    usable_dir,
)

# A refused bind with these codes added no bad logon: the DC found the password right (disabled, expired,
# logon hours, workstation, password expired or to be changed), or refused a locked account before checking it.
NO_BAD_LOGON: Final = PASSWORD_RIGHT_CODES | {"532", "773", "775"}
WHERE: Final = "the domain controller (scan_account's check of the current password)"


def check_password(conn: Directory, account: Account, name: str, password: str, domain: str, *,
                   check_mode: bool) -> tuple[bool | None, str | None]:
    """Whether `password` is account's (None: not known, so it is set again), and a warning. `name` is the
    sAMAccountName and `domain` the DNS name the record is kept for (as the verify modules key it)."""
    if check_mode:
        return None, (f"check mode: the current password of {account.dn} is not checked, because the check is a "
                      "logon that counts towards a lockout when the password differs; a real run checks it with one "
                      "logon and sets it when it differs (reported here as a change)")
    try:
        record = LockoutRecord(usable_dir(), name, domain)
        with record.exclusive():
            return _checked(conn, record, account, name, password)
    except RecordError as exc:
        raise DomainError(f"the lockout guard cannot keep its record: {exc}; the current password of {account.dn} "
                          "was not checked", CONFIG) from None


def _checked(conn: Directory, record: LockoutRecord, account: Account, name: str,
             password: str) -> tuple[bool | None, str | None]:
    refused = record.read()
    if refused is not None:
        return None, (f"the current password of {account.dn} is not checked: {_recorded(refused)}, and the check "
                      "would be one more logon that could count towards a lockout; it is set again, which clears "
                      f"that record ({record.path})")
    try:
        check = conn.try_bind(account.dn, password, account=name)
    except DomainError as exc:
        if exc.cause == CONFIG:  # nothing was sent (a missing program or library)
            raise
        failed = _keep(record, record.refusal(WHERE, "error", f"the bind got no verdict ({exc.message}): it may have "
                                                              "counted", unknown=True))
        kept = (f"it could not be recorded for the verify modules ({failed})" if failed else
                "the verify modules treat it as a refusal until the password is set")
        return None, (f"could not verify the current password of {account.dn} ({exc.message}); the logon may have "
                      f"counted as a bad one, and {kept}; it is set again")
    matches, warning = bind_verdict(account, check)
    if not check.accepted and check.code not in NO_BAD_LOGON:
        failed = _keep(record, record.refusal(WHERE, "logon_failure", f"refused the current password ({check.reason})"))
        if failed:
            warning = (f"{warning}; " if warning else "") + (
                f"the DC refused the current password of {account.dn}, and that refusal could not be recorded for "
                f"the verify modules ({failed})")
    return matches, warning


def _recorded(refusal: Refusal) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(refusal.at))
    said = "gave no verdict on" if refusal.unknown else "refused"
    return f"{refusal.where} {said} {refusal.account} at {when} ({refusal.cls}: {refusal.reason})"


def _keep(record: LockoutRecord, refusal: Refusal) -> str | None:
    """Record `refusal` for the verify modules (until the password is set: scan_account then clears it);
    why it could not be, or None."""
    try:
        record.write(refusal)
    except RecordError as exc:
        return exc.message
    return None
