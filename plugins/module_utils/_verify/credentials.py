# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scanner account, the ladder's schemes, and where a target is."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._account.names import SAM_FORBIDDEN, SAM_MAX_LENGTH
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import SCHEME_NAMES

SCHEMES: Final = tuple(SCHEME_NAMES)


@dataclass(frozen=True)
class Credentials:
    """The scanner account. `domain` is the DNS name; the password never shows in repr()."""

    username: str
    password: str = field(repr=False)
    domain: str
    allow_ntlmv1: bool = False
    allow_ntlm: bool = True  # false: the Kerberos rungs only, no NTLM response of the account on the wire

    @classmethod
    def parse(cls, username: str, password: str, domain: str, allow_ntlmv1: bool = False,
              allow_ntlm: bool = True) -> Credentials:
        """Accept `name`, `DOMAIN\\name` or `name@domain`; keep the bare logon name. ValueError names a
        bad one."""
        name = username.strip()
        if "\\" in name:
            name = name.split("\\", 1)[1]
        elif "@" in name:
            name = name.split("@", 1)[0]
        if not name or not domain.strip():
            raise ValueError("username and domain must not be empty")
        problem = logon_name_problem(name)
        if problem:
            raise ValueError(problem)
        if allow_ntlmv1 and not allow_ntlm:
            raise ValueError("allow_ntlmv1 needs allow_ntlm: NTLMv1 is a kind of NTLM")
        return cls(name, password, domain.strip().rstrip(".").lower(), allow_ntlmv1, allow_ntlm)

    @property
    def realm(self) -> str:
        return self.domain.upper()

    def schemes(self) -> tuple[str, ...]:
        if not self.allow_ntlm:
            return SCHEMES[:2]
        return SCHEMES if self.allow_ntlmv1 else SCHEMES[:-1]


def logon_name_problem(name: str) -> str | None:
    """Why `name` cannot be a user's logon name (sAMAccountName), or None. Non-ASCII letters are
    allowed (AD allows them); a leading "-" is refused, so that no program reads the name as an option."""
    bad = sorted({c for c in name if c in SAM_FORBIDDEN or not c.isprintable()})
    if bad:
        return f"username {name!r} contains characters a logon name cannot hold: {' '.join(repr(c) for c in bad)}"
    if name.startswith("-"):
        return f"username {name!r} begins with '-'"
    if len(name) > SAM_MAX_LENGTH:
        return f"username {name!r} is {len(name)} characters; a logon name (sAMAccountName) holds at most " \
               f"{SAM_MAX_LENGTH}"
    return None


@dataclass(frozen=True)
class Endpoint:
    """Where a target is: its address, and its DNS name for Kerberos (None with the reason)."""

    address: str
    dns_name: str | None
    no_name_reason: str = ""
