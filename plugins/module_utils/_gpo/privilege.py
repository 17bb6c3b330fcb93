# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scanner's least-privilege settings in GptTmpl.inf: Restricted Groups and user rights. No I/O.

- [Group Membership] ("This group is a member of", MS-GPSB 2.2.6): ``*<group SID>__Memberof = *S-1-5-32-544``
  with ``*<group SID>__Members =`` puts the scanner group into each linked host's BUILTIN\\Administrators and
  leaves its other members alone. ``*S-1-5-32-544__Members = ...`` would replace them on every host: nothing
  here writes it, and InfDocument.render refuses to (see _gpo.inf).
- [Privilege Rights] (MS-GPSB 2.2.5): the SeDeny*LogonRight lists, never SeDenyNetworkLogonRight (a scan
  is a network logon). A right a GPO sets replaces the value of GPOs of lower precedence; it does not merge.
Each setting adds or removes one SID in a list and keeps the list's other SIDs as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoInputError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.inf import InfDocument

GROUP_MEMBERSHIP: Final = "Group Membership"
PRIVILEGE_RIGHTS: Final = "Privilege Rights"
ADMINISTRATORS_SID: Final = "S-1-5-32-544"
NOT_CONFIGURED: Final = "not configured"
# The logon rights a scanner never needs; the network logon right is left alone on purpose.
DENY_RIGHTS: Final = (
    ("SeDenyInteractiveLogonRight", "Deny log on locally"),
    ("SeDenyRemoteInteractiveLogonRight", "Deny log on through Remote Desktop Services"),
    ("SeDenyBatchLogonRight", "Deny log on as a batch job"),
    ("SeDenyServiceLogonRight", "Deny log on as a service"),
)
FIRST_ACCOUNT_RID: Final = 1000  # below: the domain's own groups (Domain Users 513, Domain Admins 512, ...)


@dataclass(frozen=True)
class Principal:
    """A group or account by name, with its SID; sid None: not created yet (check mode shows a placeholder)."""

    name: str
    sid: str | None

    @property
    def token(self) -> str:
        """As GptTmpl.inf names it: '*S-1-5-21-...'."""
        return f"*{self.sid}" if self.sid else f"*<SID of {self.name} once created>"

    def shown(self) -> str:
        return f"{self.sid or self.token[1:]} ({self.name})"


def check_scanner_group(name: str, sid: str, domain_sid: str) -> None:
    """GpoInputError unless sid is a group of the domain's own (not builtin, not Domain Users and the like)."""
    domain, _sep, rid = sid.rpartition("-")
    if domain.upper() != domain_sid.upper() or not rid.isdigit():
        raise GpoInputError(f"scanner_group {name!r} is {sid}, not a group of this domain; name the scanner group "
                            "(the scanner_account role with privilege local_admins creates it)")
    if int(rid) < FIRST_ACCOUNT_RID:
        raise GpoInputError(f"scanner_group {name!r} ({sid}) is one of the domain's built-in groups; making it a "
                            "member of every host's Administrators would give all its members admin rights. Use a "
                            "group of its own (default 'Vulnerability Scanners')")


def sid_list(value: str | None) -> list[str]:
    """The SIDs of a list value ('*S-1-1,*S-1-2'); [] for none or empty."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _with_member(doc: InfDocument, section: str, key: str, member: str, wanted: bool) -> list[str]:
    """Add member to (or remove it from) the list at key, keeping the others; the line goes when empty."""
    current = sid_list(doc.get(section, key))
    members = [item for item in current if item.lower() != member.lower()]
    if wanted:
        members = current if len(members) < len(current) else [*current, member]
    doc.set(section, key, ",".join(members) if members else None)
    return members


@dataclass(frozen=True)
class MemberOf:
    """Restricted Groups: the scanner group is (or is no longer) a member of BUILTIN\\Administrators."""

    group: Principal
    wanted: bool

    @property
    def label(self) -> str:
        return f"Restricted Groups: {self.group.name} -> BUILTIN\\Administrators (member of)"

    @property
    def keys(self) -> tuple[str, str]:
        return f"{self.group.token}__Memberof", f"{self.group.token}__Members"

    def show(self, doc: InfDocument) -> str:
        listed = sid_list(doc.get(GROUP_MEMBERSHIP, self.keys[0]))
        member = f"*{ADMINISTRATORS_SID}".lower() in {sid.lower() for sid in listed}
        return self.group.shown() if member else NOT_CONFIGURED

    def apply(self, doc: InfDocument) -> None:
        member_of, members = self.keys
        remaining = _with_member(doc, GROUP_MEMBERSHIP, member_of, f"*{ADMINISTRATORS_SID}", self.wanted)
        if remaining and doc.get(GROUP_MEMBERSHIP, members) is None:
            doc.set(GROUP_MEMBERSHIP, members, "")  # GPMC writes both lines; empty Members sets no members
        elif not remaining and doc.get(GROUP_MEMBERSHIP, members) == "":
            doc.set(GROUP_MEMBERSHIP, members, None)


@dataclass(frozen=True)
class RightMember:
    """User rights: the scanner account is (or is no longer) in the list of one SeDeny*LogonRight."""

    right: str
    title: str
    account: Principal
    wanted: bool

    @property
    def label(self) -> str:
        return f"{self.right} ({self.title})"

    def show(self, doc: InfDocument) -> str:
        value = doc.get(PRIVILEGE_RIGHTS, self.right)
        return value if value else NOT_CONFIGURED

    def apply(self, doc: InfDocument) -> None:
        _with_member(doc, PRIVILEGE_RIGHTS, self.right, self.account.token, self.wanted)


def privilege_settings(group: Principal | None, local_admins: bool, account: Principal | None,
                       deny_logon: bool) -> list[MemberOf | RightMember]:
    """The entries for the scanner's principals; a principal that is None (not found) has none to manage."""
    settings: list[MemberOf | RightMember] = []
    if group is not None:
        settings.append(MemberOf(group, local_admins))
    if account is not None:
        settings += [RightMember(right, title, account, deny_logon) for right, title in DENY_RIGHTS]
    return settings
