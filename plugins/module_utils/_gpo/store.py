# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan policy GPO in a domain: its LDAP object, its SYSVOL folder and its links, kept consistent.

A run reads everything first (directory, folder), judges trust, plans the writes as steps, then
(unless in check mode) applies them. Order of writes (present), chosen so that a run killed at any
point leaves a state the next run repairs, and so that clients never apply a half-written policy:
  1. the groupPolicyContainer (displayName set in the same add, so the next run finds it), CN=User/Machine;
  2. the SYSVOL folder, its ACL (before anything is created inside, so children inherit it);
  3. a pending record holding the version this change will publish, then the settings files
     (each replaced atomically), then gPCMachineExtensionNames;
  4. the version: GPT.INI, then LDAP versionNumber; then the pending record is removed;
  5. links, each container's gPLink replaced by compare-and-swap so other GPOs' links stay as they were.
The pending record is how a later run knows files were written whose version was never published.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._gpo.directory import Found, GpoDirectory
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import (
    GpoFormatError,
    GpoInputError,
    GpoStoreError,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.executor import execute
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder import (
    FolderState,
    check_guid,
    read_folder,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gpt_ini import parse_gpt_ini_version
from ansible_collections.scanready.windows.plugins.module_utils._gpo.planner import (
    GpoPlan,
    Reading,
    plan_absent,
    plan_present,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import (
    GpoContent,
    ScanPolicy,
    policy_settings,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.principals import resolve
from ansible_collections.scanready.windows.plugins.module_utils._gpo.trust import Verdict, folder_of, judge
from ansible_collections.scanready.windows.plugins.module_utils._ldap import RIGHTS, DomainConnection, DomainError
from ansible_collections.scanready.windows.plugins.module_utils._ldap.names import check_dn, normalize_dn
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import TEMP_SUFFIX, Sysvol

DEFAULT_NAME: Final = "Authenticated scanning (scanready)"
DEFAULT_GROUP: Final = "Vulnerability Scanners"
DEFAULT_ACCOUNT: Final = "qualys_scanner"
SYSVOL_SHARE: Final = "sysvol"
COMPUTER_DISABLED: Final = 2
# The domain's own GPOs (MS-GPOL 2.3): never written or removed, whatever their display name says.
DEFAULT_GPOS: Final = {"{31B2F340-016D-11D2-945F-00C04FB984F9}": "Default Domain Policy",
                       "{6AC1786C-016F-11D2-945F-00C04FB984F9}": "Default Domain Controllers Policy"}


@dataclass(frozen=True)
class Request:
    name: str
    state: str  # present | absent
    policy: ScanPolicy
    links: tuple[str, ...] | None  # None: the domain root
    enforced: bool
    adopt: bool = False  # take over a GPO this collection did not make: reset its ACL to the default
    guid: str | None = None  # this exact GPO is the scan policy (counts as adopting it)
    scanner_group: str = DEFAULT_GROUP  # its Restricted Groups entry (policy.local_admins), by sAMAccountName
    account_name: str = DEFAULT_ACCOUNT  # denied interactive logons (policy.deny_interactive_logon)

    @property
    def adopting(self) -> bool:
        return self.adopt or self.guid is not None

    def validate(self) -> None:
        """GpoInputError for what no domain could make right; checked before any connection."""
        if not self.name.strip():
            raise GpoInputError("name must not be empty")
        if self.guid is not None:
            check_guid(self.guid)
        if not self.scanner_group.strip():
            raise GpoInputError("scanner_group must not be empty")
        if not self.account_name.strip():
            raise GpoInputError("account_name must not be empty")
        if self.state == "present":
            policy_settings(self.policy)  # the scanner addresses
            for dn in self.links or ():
                check_dn(dn)

    def link_dns(self, base_dn: str) -> list[str]:
        """The containers to link to, each once (base_dn when links is None); GpoInputError for a malformed DN."""
        if self.links is None:
            return [base_dn]
        wanted: list[str] = []
        for dn in self.links:
            checked = check_dn(dn)
            if normalize_dn(checked) not in {normalize_dn(d) for d in wanted}:
                wanted.append(checked)
        return wanted


@dataclass
class Outcome:
    changed: bool = False
    guid: str | None = None
    dn: str | None = None
    version: int | None = None
    links: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # settings and links, as an administrator reads them
    actions: list[str] = field(default_factory=list)  # what was (or in check mode would be) done
    warnings: list[str] = field(default_factory=list)
    before: str = ""
    after: str = ""
    security: dict[str, Any] = field(default_factory=dict)  # owner and trust state of the GPO found


def sysvol_of(ldap: DomainConnection) -> Callable[[str], Sysvol]:
    """How a run opens SYSVOL: on the DC the LDAP connection reached, under its name, with the operator's
    Kerberos ticket for cifs/<dc>, or with NTLM only where the connection says NTLM is to be used."""
    settings = ldap.settings

    def open_share(share: str) -> Sysvol:
        return Sysvol.connect(settings.host, ldap.peer_address, str(settings.bind_user), settings.password,
                              settings.timeout, share, ticket=ldap.kerberos_ticket("cifs"))
    return open_share


def run(ldap: DomainConnection, open_sysvol: Callable[[str], Sysvol], request: Request, domain: str,
        check_mode: bool) -> Outcome:
    """Make the domain's scan policy GPO match request; DomainError, SysvolError or GpoStoreError on failure."""
    directory = GpoDirectory(ldap)
    try:
        request.validate()
        if request.state == "absent":
            return _absent(directory, open_sysvol, request, domain, check_mode)
        return _present(directory, open_sysvol, request, domain, check_mode)
    except GpoInputError as exc:
        raise GpoStoreError(exc.message) from None
    except DomainError as exc:
        if exc.cause == RIGHTS:
            raise DomainError(f"{exc.message}; managing GPOs needs Domain Admins or delegated GPO rights",
                              exc.cause, exc.result_code) from None
        raise


def _present(directory: GpoDirectory, open_sysvol: Callable[[str], Sysvol], request: Request, domain: str,
             check_mode: bool) -> Outcome:
    policy, warnings = resolve(directory.ldap, request.policy, request.scanner_group.strip(),
                               request.account_name.strip(), check_mode)
    settings = policy_settings(policy)
    targets = directory.link_targets(request.link_dns(directory.base_dn))
    found = directory.locate(request.name, request.guid)
    creating = found is None
    if found is None:
        if request.guid:
            raise GpoStoreError(f"guid {request.guid}: no such GPO in {directory.policies_dn}. Nothing was changed; "
                                "leave guid unset to create the GPO, or name an existing one")
        found = _new_gpo(directory, request.name, domain)
    _refuse_default(found)
    folder = folder_of(found, domain)
    with open_sysvol(SYSVOL_SHARE) as sysvol:
        state = FolderState.missing() if creating else read_folder(sysvol, folder)
        children = frozenset() if creating else frozenset(directory.children(found.dn))
        linked = () if creating else tuple(directory.containers_linking(found.dn, found.guid))
        reading = Reading(found, creating, folder, state, _parse_content(found, state), children, linked,
                          tuple(targets), rewrite=request.adopting and not creating)
        verdict = Verdict({"trusted": True, "created": True, "adopted": False}) if creating else judge(
            found, state, directory.principals(), request.adopting, TEMP_SUFFIX)  # the last check that can refuse
        plan = plan_present(reading, request.name, settings, request.enforced, verdict.reset)
        if not check_mode:
            execute(plan.steps, directory, sysvol)
    outcome = _outcome(found, plan)
    outcome.security = verdict.security
    outcome.warnings += warnings + verdict.warnings
    if plan.removed:
        outcome.warnings.append(f"{found.names()} adopted: its settings files now hold exactly this collection's "
                                f"settings; removed {len(plan.removed)}: " + "; ".join(plan.removed))
    if found.flags & COMPUTER_DISABLED:
        outcome.warnings.append(f"GPO {found.guid} has its computer settings disabled (flags={found.flags}); "
                                "clients ignore them until they are enabled again")
    return outcome


def _absent(directory: GpoDirectory, open_sysvol: Callable[[str], Sysvol], request: Request, domain: str,
            check_mode: bool) -> Outcome:
    found = directory.locate(request.name, request.guid)
    if found is None:
        return Outcome()
    _refuse_default(found)
    folder = folder_of(found, domain)  # before anything is planned: a foreign path deletes nothing
    linked = directory.containers_linking(found.dn, found.guid)
    subtree = directory.subtree(found.dn)
    with open_sysvol(SYSVOL_SHARE) as sysvol:
        state = read_folder(sysvol, folder)
        # What present would refuse to write into, absent refuses to remove: someone else's GPO, or one that holds
        # settings this collection does not write, is removed only when adopted.
        judge(found, state, directory.principals(), request.adopting, TEMP_SUFFIX)
        plan = plan_absent(found, folder if state.has_dir("") else None, linked, subtree)
        if not check_mode:
            execute(plan.steps, directory, sysvol)
    return _outcome(found, plan)


def _refuse_default(found: Found) -> None:
    default = DEFAULT_GPOS.get(found.guid.upper())
    if default is not None:
        raise GpoStoreError(f"{found.names()} is the domain's {default}: this collection never writes or removes it, "
                            "whatever its display name. Nothing was changed; name the scan policy GPO itself "
                            "(scanready_gpo_name)")


def _new_gpo(directory: GpoDirectory, name: str, domain: str) -> Found:
    guid = "{" + str(uuid.uuid4()).upper() + "}"
    path = f"\\\\{domain.lower()}\\{SYSVOL_SHARE}\\{domain.lower()}\\Policies\\{guid}"
    return Found(directory.gpo_dn(guid), guid, name, path, 0, 0, "", None)


def _parse_content(found: Found, state: FolderState) -> GpoContent:
    try:
        if state.gpt is not None:
            parse_gpt_ini_version(state.gpt)
        return GpoContent.parse(state.inf, state.pol)
    except GpoFormatError as exc:
        raise GpoStoreError(f"{found.names()}: {exc.message}. Nothing was changed; restore or remove that file, "
                            "then run again") from None


def _outcome(found: Found, plan: GpoPlan) -> Outcome:
    return Outcome(changed=bool(plan.steps), guid=found.guid, dn=found.dn, version=plan.version, links=plan.links,
                   changes=plan.changes, actions=[step.action for step in plan.steps], before=plan.before,
                   after=plan.after)
