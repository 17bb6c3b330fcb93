# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""userAccountControl arithmetic: the flags the module manages, and the ones adopting clears."""
from __future__ import annotations

from typing import Final

UF_ACCOUNTDISABLE: Final = 0x0002
UF_NORMAL_ACCOUNT: Final = 0x0200
UF_DONT_EXPIRE_PASSWD: Final = 0x10000
UF_NOT_DELEGATED: Final = 0x100000  # "Account is sensitive and cannot be delegated": set on every run
# userAccountControl flags that weaken or delegate the account's credentials; adopting clears them.
RISKY_FLAGS: Final[dict[str, int]] = {
    "PASSWD_NOTREQD": 0x20,
    "ENCRYPTED_TEXT_PWD_ALLOWED": 0x80,
    "TRUSTED_FOR_DELEGATION": 0x80000,
    "USE_DES_KEY_ONLY": 0x200000,
    "DONT_REQ_PREAUTH": 0x400000,
    "TRUSTED_TO_AUTH_FOR_DELEGATION": 0x1000000,
}


def uac_for(current: int, *, enabled: bool, password_never_expires: bool) -> int:
    """current userAccountControl with the managed flags set as asked, and NOT_DELEGATED always (the scanner's
    credentials are never to be delegated); every other flag kept."""
    value = current | UF_NORMAL_ACCOUNT | UF_NOT_DELEGATED
    value = value & ~UF_ACCOUNTDISABLE if enabled else value | UF_ACCOUNTDISABLE
    return value | UF_DONT_EXPIRE_PASSWD if password_never_expires else value & ~UF_DONT_EXPIRE_PASSWD
