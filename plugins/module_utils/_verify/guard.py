# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lockout guard: the account is asked for once, at the DC, before any target is touched.

One Kerberos AS-REQ (kinit); when the KDC cannot be reached (so the password was not checked), one
NTLM session at the DC instead, unless NTLM is not allowed. A refused password, a locked, disabled or
expired account ends the run there with one message, and is recorded on the controller (_lockout) so
that every later verify module call for the account refuses to try: at most one bad logon per run,
however many module calls the run makes, in parallel or not. A logon without a verdict (the KDC or the
DC was sent the password and did not answer in time, or answered in a way kinit does not explain) may
have counted, so it ends the run and is recorded the same way.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._kerberos import KerberosClient, KerberosError
from ansible_collections.scanready.windows.plugins.module_utils._lockout import (
    LockoutRecord,
    RecordError,
    Refusal,
    usable_dir,
)
from ansible_collections.scanready.windows.plugins.module_utils._ntstatus import CREDENTIAL_STATUSES
from ansible_collections.scanready.windows.plugins.module_utils._verify.credentials import Credentials, Endpoint
from ansible_collections.scanready.windows.plugins.module_utils._verify.fixes import fix_for
from ansible_collections.scanready.windows.plugins.module_utils._verify.names import ipv4_address
from ansible_collections.scanready.windows.plugins.module_utils._verify.results import (
    ACCOUNT_CLASSES,
    ClassifiedError,
    FailureClass,
)
from ansible_collections.scanready.windows.plugins.module_utils._verify.smb import SessionFailure, connect

# kinit failures after which the KDC cannot have checked the password: only these may fall back to
# NTLM at the DC. A timeout is not one of them (the KDC may have counted a bad logon and not answered);
# nor is "no KDC answered" once the request that carries the password went out (KerberosClient.login
# reports that as a timeout, from kinit's trace), so `unreachable` here means the password never left.
KDC_NOT_ASKED: Final = frozenset({FailureClass.UNREACHABLE, FailureClass.REFUSED, FailureClass.UNAVAILABLE})


class GuardStop(ClassifiedError):
    """The guard refused to start: nothing was attempted on any target. The message says why."""


class UnknownOutcome(GuardStop):
    """The DC was sent the password and gave no verdict: the logon may have counted as a bad one, so it is
    recorded as a refusal is. `reason` says so, for the record."""

    def __init__(self, cls: str, message: str, reason: str) -> None:
        super().__init__(cls, message)
        self.reason = reason


def preflight(creds: Credentials, dc: str, timeout: float) -> tuple[KerberosClient | None, str, list[str]]:
    """Authenticate once at the DC before any target. Returns (Kerberos client or None, why
    Kerberos is unavailable, warnings). Raises GuardStop when the account itself is refused or the
    DC cannot be asked at all."""
    client = KerberosClient(creds.realm, dc, creds.username, "kerberos-aes", timeout)
    try:
        note = client.login(creds.password)
    except KerberosError as exc:
        client.close()
        if exc.cls in ACCOUNT_CLASSES:
            cls = _refine_revoked(creds, dc, timeout) if exc.cls == FailureClass.ACCOUNT_LOCKED else exc.cls
            raise GuardStop(cls, _guard_message(creds, dc, cls, f"Kerberos: {exc.message}")) from None
        if exc.unknown:
            raise UnknownOutcome(exc.cls, f"The Kerberos AS-REQ for {creds.username}@{creds.realm} to {dc} got no "
                                          f"verdict ({exc.message}); the KDC may have counted it as a bad logon, so "
                                          "NTLM is not tried after it. No target was contacted.",
                                 exc.message) from None
        if exc.cls not in KDC_NOT_ASKED:
            raise GuardStop(exc.cls, f"The Kerberos AS-REQ for {creds.username}@{creds.realm} to {dc} failed "
                                     f"({exc.message}); the KDC may have checked the password, so NTLM is not tried "
                                     "after it. No target was contacted.") from None
        if not creds.allow_ntlm:
            raise GuardStop(exc.cls, f"Kerberos to {dc} failed ({exc.message}) and allow_ntlm is false, so the "
                                     "account is not checked with NTLM either. No target was contacted.") from None
        # The KDC was not reached (or knows no AES): one NTLM logon at the DC instead.
        _ntlm_at_dc(creds, dc, timeout, f"Kerberos AS-REQ to {dc} failed: {exc.message}")
        return None, f"Kerberos is not available: {exc.message}", [
            f"Kerberos to {dc} failed ({exc.message}); the account was checked with NTLM at the DC instead, "
            "and targets are tried without Kerberos."]
    warnings = [f"The KDC warns for {creds.username}@{creds.realm}: {note}. A scanner account's password should "
                "never expire (scan_account sets that)."] if "expire" in note.lower() else []
    return client, "", warnings


def _ntlm_at_dc(creds: Credentials, dc: str, timeout: float, why: str) -> None:
    try:
        conn = connect(Endpoint(ipv4_address(dc, 445), None), timeout)
    except (OSError, SessionFailure) as exc:
        detail = exc.message if isinstance(exc, SessionFailure) else str(exc)
        raise GuardStop(FailureClass.UNREACHABLE,
                        f"Cannot check the account at the domain controller before touching the targets: {why}; "
                        f"SMB to {dc} failed too ({detail}). No target was contacted.") from None
    try:
        conn.setTimeout(timeout)
        conn.login(creds.username, creds.password, creds.domain)
    except Exception as exc:
        code = exc.get_error_code() if hasattr(exc, "get_error_code") else None
        if not code:  # no NT status: the session broke or timed out, maybe after the DC was sent the password
            timed_out = "timed out" in str(exc).lower() or isinstance(exc, TimeoutError)
            reason = f"the NTLM logon at the DC got no answer ({exc}): it may have counted"
            raise UnknownOutcome(FailureClass.TIMEOUT if timed_out else FailureClass.ERROR,
                                 f"Cannot check the account at the domain controller before touching the targets: "
                                 f"{why}; {reason}. No target was contacted.", reason) from None
        cls = CREDENTIAL_STATUSES.get(code, FailureClass.ERROR)
        raise GuardStop(cls, _guard_message(creds, dc, cls, f"{why}; NTLM at the DC: {exc}")) from None
    finally:
        conn.close_session()


def _refine_revoked(creds: Credentials, dc: str, timeout: float) -> str:
    """The KDC says only "revoked" for locked and disabled accounts; the DC's NTLM answer tells
    which. A locked account's logon is refused before its password is checked, so it adds no bad
    logon; a disabled one's adds one only if the password is wrong too. Without NTLM: "locked"."""
    if not creds.allow_ntlm:
        return FailureClass.ACCOUNT_LOCKED
    try:
        _ntlm_at_dc(creds, dc, timeout, "revoked")
    except GuardStop as stop:
        told = (FailureClass.ACCOUNT_LOCKED, FailureClass.ACCOUNT_DISABLED, FailureClass.ACCOUNT_EXPIRED)
        return stop.cls if stop.cls in told else FailureClass.ACCOUNT_LOCKED
    return FailureClass.ACCOUNT_LOCKED


GUARD_REASONS: Final[dict[str, str]] = {
    FailureClass.LOGON_FAILURE: "refused the password (or knows no such account)",
    FailureClass.ACCOUNT_LOCKED: "says the account is locked out (or disabled)",
    FailureClass.ACCOUNT_DISABLED: "says the account is disabled",
    FailureClass.ACCOUNT_EXPIRED: "says the account has expired",
    FailureClass.PASSWORD_EXPIRED: "says the account's password has expired",
}


def _guard_message(creds: Credentials, dc: str, cls: str, seen: str) -> str:
    reason = GUARD_REASONS.get(cls, "refused the account")
    fix = fix_for("logon", cls)
    return (f"The domain controller {dc} {reason} for {creds.username}@{creds.realm} ({seen}). No target was "
            "contacted, so that no further failed logon counts towards a lockout." + (f" Fix: {fix}" if fix else ""))


def keep(record: LockoutRecord, refusal: Refusal) -> str:
    """Write `refusal`; what to add to the message: when later runs stop, or that the record failed."""
    try:
        record.write(refusal)
    except RecordError as exc:
        return f" The refusal could not be recorded ({exc}): later verify runs may ask the DC again."
    return (f" Later verify runs for the account stop before trying, until {record.path} is deleted or expires "
            "(not before this run ends).")


@contextlib.contextmanager
def recorded_guard(creds: Credentials, dc: str) -> Iterator[LockoutRecord]:
    """The account's record, held exclusively: refuses at once when a refusal is recorded; records
    the refusal when the block raises GuardStop for the account (a wrong password, locked, ...) or
    UnknownOutcome. A record directory that cannot be used stops the run before anything is sent."""
    with contextlib.ExitStack() as held:
        try:
            record = LockoutRecord(usable_dir(), creds.username, creds.realm)
            held.enter_context(record.exclusive())
        except RecordError as exc:
            raise GuardStop(FailureClass.ERROR, f"The lockout guard cannot keep its record: {exc}. Nothing was sent "
                                                "to the domain controller or any target.") from None
        refused = record.read()
        if refused is not None:
            raise GuardStop(refused.cls, record.message(refused))
        try:
            yield record
        except GuardStop as stop:
            where = f"the domain controller {dc}"
            if stop.cls in ACCOUNT_CLASSES:
                stop.message += keep(record, record.refusal(where, stop.cls,
                                                            GUARD_REASONS.get(stop.cls, "refused the account")))
            elif isinstance(stop, UnknownOutcome):
                stop.message += keep(record, record.refusal(where, stop.cls, stop.reason, unknown=True))
            raise
