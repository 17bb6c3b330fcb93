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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils._gpo.directory import Container, Found, GpoDirectory
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
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder_acl import domain_controller_sids
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gplink import parse_gplink
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
    Setting,
    apply_policy,
    policy_settings,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.principals import resolve
from ansible_collections.scanready.windows.plugins.module_utils._gpo.privilege import MemberOf
from ansible_collections.scanready.windows.plugins.module_utils._gpo.steps import Kind, Step
from ansible_collections.scanready.windows.plugins.module_utils._gpo.trust import Verdict, folder_of, judge
from ansible_collections.scanready.windows.plugins.module_utils._ldap import RIGHTS, DomainConnection, DomainError
from ansible_collections.scanready.windows.plugins.module_utils._ldap.names import check_dn, normalize_dn
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import TEMP_SUFFIX, Sysvol
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import DEFAULT_ACCOUNT, DEFAULT_GROUP

LOCAL_ADMINS_SUFFIX: Final = " - local Administrators"  # the local Administrators GPO's default name: name + this
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
    local_admins_name: str | None = None  # the GPO of the Restricted Groups entry; None: name + LOCAL_ADMINS_SUFFIX

    @property
    def adopting(self) -> bool:
        return self.adopt or self.guid is not None

    @property
    def local_admins_gpo(self) -> str:
        return self.name + LOCAL_ADMINS_SUFFIX if self.local_admins_name is None else self.local_admins_name

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
        if not self.local_admins_gpo.strip():
            raise GpoInputError("local_admins_name must not be empty")
        if self.local_admins_gpo.strip().lower() == self.name.strip().lower():
            raise GpoInputError("local_admins_name must differ from name: the scanner group's Restricted Groups "
                                "entry has a GPO of its own, which domain controllers do not apply")
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
    name: str = ""
    present: bool = False  # the GPO is there after the run (or, in check mode, would be)
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
    local_admins: dict[str, Any] | None = None  # the local Administrators GPO, when there is (or was) one
    steps: list[Step] = field(default_factory=list, repr=False)  # the writes, applied unless in check mode


@dataclass(frozen=True)
class _Target:
    """A GPO the run writes: found by name (or guid), the settings it manages, the SIDs denied applying it."""

    name: str
    guid: str | None
    settings: Sequence[Setting]
    denied: tuple[str, ...] = ()


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
    """Make the domain's scan policy GPOs match request; DomainError, SysvolError or GpoStoreError on failure.
    Both GPOs are read, judged and planned before either is written, so a refusal changes nothing."""
    directory = GpoDirectory(ldap)
    try:
        request.validate()
        # absent needs no principal: a scanner group found only tells which entry the removal may find
        wanted = request.policy if request.state == "present" else replace(
            request.policy, local_admins=False, deny_interactive_logon=False)
        policy, warnings = resolve(directory.ldap, wanted, request.scanner_group.strip(),
                                   request.account_name.strip(), check_mode)
        with open_sysvol(SYSVOL_SHARE) as sysvol:
            main, local_admins = _prepare(directory, sysvol, request, policy, domain)
            if main is not None and local_admins is not None and main.guid == local_admins.guid:
                raise GpoStoreError(f"GPO {main.guid} is named {request.local_admins_gpo!r}, the local "
                                    "Administrators GPO's name. Nothing was changed; pin the scan policy GPO itself "
                                    "with guid, or choose another local_admins_name")
            # The entry is written before the main GPO loses one an earlier version kept there, removed after.
            first = local_admins if request.state == "present" and policy.local_admins else main
            ordered = [run for run in (first, local_admins if first is main else main) if run is not None]
            if not check_mode:
                for outcome in ordered:
                    execute(outcome.steps, directory, sysvol)
    except GpoInputError as exc:
        raise GpoStoreError(exc.message) from None
    except DomainError as exc:
        if exc.cause == RIGHTS:
            raise DomainError(f"{exc.message}; managing GPOs needs Domain Admins or delegated GPO rights",
                              exc.cause, exc.result_code) from None
        raise
    return _merged(main or Outcome(), local_admins, ordered, warnings)


def _prepare(directory: GpoDirectory, sysvol: Sysvol, request: Request, policy: ScanPolicy,
             domain: str) -> tuple[Outcome | None, Outcome | None]:
    """The scan policy GPO's outcome and the local Administrators GPO's, each with its steps; None: no GPO.

    The Restricted Groups entry lives in a GPO of its own that domain controllers are denied applying: on a DC,
    BUILTIN\\Administrators is the domain's own group, not a host's. Each GPO is planned on the links the other's
    steps, applied before it, leave."""
    group = policy.scanner_group
    removal = [MemberOf(group, False)] if group is not None else []
    if request.state == "absent":
        main = _prepare_absent(directory, sysvol, request.name, request.guid, request.adopting, domain, ())
        return main, _prepare_absent(directory, sysvol, request.local_admins_gpo, None, request.adopting, domain,
                                     main.steps if main else (), only=removal)
    targets = tuple(directory.link_targets(request.link_dns(directory.base_dn)))
    main_target = _Target(request.name, request.guid, policy_settings(replace(policy, local_admins=False)))
    if not policy.local_admins or group is None:
        main = _prepare_present(directory, sysvol, request, main_target, targets, domain, ())
        return main, _prepare_absent(directory, sysvol, request.local_admins_gpo, None, request.adopting, domain,
                                     main.steps, only=removal)
    principals = directory.principals()
    target = _Target(request.local_admins_gpo, None, [MemberOf(group, True)],
                     domain_controller_sids(principals.domain_sid, principals.root_domain_sid))
    local_admins = _prepare_present(directory, sysvol, request, target, targets, domain, ())
    main = _prepare_present(directory, sysvol, request, main_target, targets, domain, local_admins.steps)
    return main, local_admins


def _relinked(containers: Sequence[Container], done: Sequence[Step]) -> tuple[Container, ...]:
    """containers as they are once the gPLink swaps among done are made."""
    swapped = {normalize_dn(step.target): step.value for step in done if step.kind is Kind.SWAP_GPLINK}
    return tuple(Container(c.dn, swapped[key] or None, tuple(parse_gplink(swapped[key])))
                 if (key := normalize_dn(c.dn)) in swapped else c for c in containers)


def _prepare_present(directory: GpoDirectory, sysvol: Sysvol, request: Request, target: _Target,
                     containers: tuple[Container, ...], domain: str, done: Sequence[Step]) -> Outcome:
    found = directory.locate(target.name, target.guid)
    creating = found is None
    if found is None:
        if target.guid:
            raise GpoStoreError(f"guid {target.guid}: no such GPO in {directory.policies_dn}. Nothing was changed; "
                                "leave guid unset to create the GPO, or name an existing one")
        found = _new_gpo(directory, target.name, domain)
    _refuse_default(found)
    folder = folder_of(found, domain)
    state = FolderState.missing() if creating else read_folder(sysvol, folder)
    children = frozenset() if creating else frozenset(directory.children(found.dn))
    linked = () if creating else _relinked(directory.containers_linking(found.dn, found.guid), done)
    content = _parse_content(found, state)
    if target.denied and not creating and not request.adopting:
        _refuse_more_than(found, content, [setting for setting in target.settings if isinstance(setting, MemberOf)],
                          removing=False)
    reading = Reading(found, creating, folder, state, content, children, linked, _relinked(containers, done),
                      rewrite=request.adopting and not creating)
    verdict = Verdict({"trusted": True, "created": True, "adopted": False}) if creating else judge(
        found, state, directory.principals(), request.adopting, TEMP_SUFFIX, target.denied)
    plan = plan_present(reading, target.name, target.settings, request.enforced, verdict.reset, target.denied)
    outcome = _outcome(found, plan, present=True)
    outcome.security = verdict.security
    outcome.warnings += verdict.warnings
    if plan.removed:
        outcome.warnings.append(f"{found.names()} adopted: its settings files now hold exactly this collection's "
                                f"settings; removed {len(plan.removed)}: " + "; ".join(plan.removed))
    if found.flags & COMPUTER_DISABLED:
        outcome.warnings.append(f"GPO {found.guid} has its computer settings disabled (flags={found.flags}); "
                                "clients ignore them until they are enabled again")
    return outcome


def _prepare_absent(directory: GpoDirectory, sysvol: Sysvol, name: str, guid: str | None, adopting: bool,
                    domain: str, done: Sequence[Step], *, only: Sequence[MemberOf] | None = None) -> Outcome | None:
    """What present would refuse to write into, absent refuses to remove: someone else's GPO, or one that holds
    settings this collection does not write, is removed only when adopted. With only, the GPO must hold nothing
    but those settings' entries (the local Administrators GPO: the scanner group's)."""
    found = directory.locate(name, guid)
    if found is None:
        return None
    _refuse_default(found)
    folder = folder_of(found, domain)  # before anything is planned: a foreign path deletes nothing
    state = read_folder(sysvol, folder)
    judge(found, state, directory.principals(), adopting, TEMP_SUFFIX)
    if only is not None:
        _refuse_more_than(found, _parse_content(found, state), only, removing=True)
    plan = plan_absent(found, folder if state.has_dir("") else None,
                       _relinked(directory.containers_linking(found.dn, found.guid), done), directory.subtree(found.dn))
    return _outcome(found, plan, present=False)


def _refuse_more_than(found: Found, content: GpoContent, only: Sequence[MemberOf], *, removing: bool) -> None:
    """The local Administrators GPO holds the scanner group's entry and nothing else: one found holding more is
    someone else's (or their settings would stop reaching the domain controllers), and is left alone."""
    left = apply_policy(content, [replace(setting, wanted=False) for setting in only])
    if left.inf.settings() or left.pol:
        held = ", ".join(f"[{section}]" for section in left.inf.settings()) or "Registry.pol values"
        raise GpoStoreError(f"{found.names()} holds settings other than the scanner group's Restricted Groups "
                            f"entry ({held}), so it is not the local Administrators GPO this collection makes. "
                            "Nothing was changed; rename or remove that GPO, "
                            + ("" if removing else "adopt it (its settings files are then rewritten to that entry "
                               "alone), ")
                            + "or set local_admins_name (scanready_gpo_local_admins_name) to another name")


def _merged(main: Outcome, local_admins: Outcome | None, ordered: Sequence[Outcome],
            warnings: list[str]) -> Outcome:
    """The scan policy GPO's outcome, with the local Administrators GPO's changes and actions (named) in the
    order they are made, and its own summary under local_admins."""
    merged = replace(main, changes=[], actions=[], warnings=warnings + main.warnings, steps=[])
    for outcome in ordered:
        prefix = "" if outcome is main else f"{outcome.name}: "
        merged.changed |= outcome.changed
        merged.changes += [prefix + change for change in outcome.changes]
        merged.actions += [prefix + action for action in outcome.actions]
    if local_admins is not None:
        merged.warnings += local_admins.warnings
        merged.before += f"\n[{local_admins.name}]\n{local_admins.before}"
        merged.after += f"\n[{local_admins.name}]\n{local_admins.after}" if local_admins.present else ""
        merged.local_admins = {"name": local_admins.name, "guid": local_admins.guid, "dn": local_admins.dn,
                               "present": local_admins.present, "version": local_admins.version,
                               "links": local_admins.links, "security": local_admins.security}
    return merged


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


def _outcome(found: Found, plan: GpoPlan, *, present: bool) -> Outcome:
    return Outcome(changed=bool(plan.steps), name=found.display_name, present=present, guid=found.guid, dn=found.dn,
                   version=plan.version, links=plan.links, changes=plan.changes,
                   actions=[step.action for step in plan.steps], before=plan.before, after=plan.after,
                   steps=plan.steps)
