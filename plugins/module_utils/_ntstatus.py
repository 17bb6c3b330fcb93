# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NTSTATUS codes (MS-ERREF 2.3) the collection acts on, their names, and how a logon refusal reads.

One table for the SMB session to a target, the SMB session to SYSVOL and the probes: the same code
means the same thing to each of them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

try:
    from impacket import nt_errors
except ImportError:  # names then fall back to the code in hex; the module reports the missing library
    nt_errors = None

STATUS_PENDING: Final = 0x00000103
STATUS_INVALID_PARAMETER: Final = 0xC000000D
STATUS_NO_SUCH_FILE: Final = 0xC000000F
STATUS_ACCESS_DENIED: Final = 0xC0000022
STATUS_OBJECT_NAME_NOT_FOUND: Final = 0xC0000034
STATUS_OBJECT_NAME_COLLISION: Final = 0xC0000035
STATUS_OBJECT_PATH_NOT_FOUND: Final = 0xC000003A
STATUS_NO_LOGON_SERVERS: Final = 0xC000005E
STATUS_NO_SUCH_USER: Final = 0xC0000064
STATUS_WRONG_PASSWORD: Final = 0xC000006A
STATUS_LOGON_FAILURE: Final = 0xC000006D
STATUS_ACCOUNT_RESTRICTION: Final = 0xC000006E
STATUS_INVALID_LOGON_HOURS: Final = 0xC000006F
STATUS_INVALID_WORKSTATION: Final = 0xC0000070
STATUS_PASSWORD_EXPIRED: Final = 0xC0000071
STATUS_ACCOUNT_DISABLED: Final = 0xC0000072
STATUS_PIPE_NOT_AVAILABLE: Final = 0xC00000AC
STATUS_INVALID_PIPE_STATE: Final = 0xC00000AD
STATUS_PIPE_DISCONNECTED: Final = 0xC00000B0
STATUS_NOT_SUPPORTED: Final = 0xC00000BB
STATUS_NETWORK_ACCESS_DENIED: Final = 0xC00000CA
STATUS_BAD_NETWORK_NAME: Final = 0xC00000CC
STATUS_PIPE_BROKEN: Final = 0xC000014B
STATUS_LOGON_TYPE_NOT_GRANTED: Final = 0xC000015B
STATUS_NO_TRUST_SAM_ACCOUNT: Final = 0xC000018B
STATUS_TRUSTED_RELATIONSHIP_FAILURE: Final = 0xC000018D
STATUS_ACCOUNT_EXPIRED: Final = 0xC0000193
STATUS_PASSWORD_MUST_CHANGE: Final = 0xC0000224
STATUS_ACCOUNT_LOCKED_OUT: Final = 0xC0000234
STATUS_NTLM_BLOCKED: Final = 0xC0000418

# A file operation that found nothing there: tolerated where "already gone" is the goal.
NOT_FOUND: Final = (STATUS_OBJECT_NAME_NOT_FOUND, STATUS_OBJECT_PATH_NOT_FOUND, STATUS_NO_SUCH_FILE)


@dataclass(frozen=True)
class Refusal:
    """How a refused logon reads: `reason` in words, `failure_class` for the readiness result.

    `bad_credential` marks refusals of the account itself: under NTLM each may have counted as a bad
    password on the DC, so the verifier stops at the first (the lockout guard). The others mean the
    password was right and the host still said no.
    """

    reason: str
    failure_class: str
    bad_credential: bool


REFUSALS: Final[dict[int, Refusal]] = {
    STATUS_LOGON_FAILURE: Refusal("wrong user name or password", "logon_failure", True),
    STATUS_WRONG_PASSWORD: Refusal("wrong user name or password", "logon_failure", True),
    STATUS_NO_SUCH_USER: Refusal("no such user", "logon_failure", True),
    STATUS_ACCOUNT_LOCKED_OUT: Refusal("account locked out", "account_locked", True),
    STATUS_ACCOUNT_DISABLED: Refusal("account disabled", "account_disabled", True),
    STATUS_ACCOUNT_EXPIRED: Refusal("account expired", "account_expired", True),
    STATUS_PASSWORD_EXPIRED: Refusal("password expired", "password_expired", True),
    STATUS_PASSWORD_MUST_CHANGE: Refusal("password must be changed", "password_expired", True),
    STATUS_ACCOUNT_RESTRICTION: Refusal("account restriction (logon hours, workstations or Protected Users)",
                                        "access_denied", False),
    # Refused before any password was checked (Restrict NTLM, Samba's "ntlm auth = disabled").
    STATUS_NTLM_BLOCKED: Refusal("NTLM is blocked by the domain: use Kerberos (the host's DNS name)", "refused",
                                 False),
}
# The readiness class of each refusal of the account itself (what stops a verify run).
CREDENTIAL_STATUSES: Final[dict[int, str]] = {
    code: refusal.failure_class for code, refusal in REFUSALS.items() if refusal.bad_credential}


def status_name(code: int) -> str:
    """`STATUS_X` for an NTSTATUS impacket knows, else `NT status 0x........`."""
    known = nt_errors.ERROR_MESSAGES.get(code) if nt_errors is not None else None
    return str(known[0]) if known else f"NT status {code:#010x}"


def refusal_reason(code: int) -> str:
    """A refused logon in words ('account locked out'), or the status name when it is no known refusal."""
    refusal = REFUSALS.get(code)
    return refusal.reason if refusal else status_name(code)
