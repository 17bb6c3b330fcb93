# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""From what was read to the writes that make the GPO match the request, as a list of steps. No I/O.

The steps come out in the crash-consistent order the store promises (see _gpo.store): object, folder
and its ACL, pending record, settings files, extensions, version, pending record cleared, links.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ansible_collections.scanready.windows.plugins.module_utils._acl import SecurityDescriptor
from ansible_collections.scanready.windows.plugins.module_utils._gpo.directory import Container, Found
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError, GpoStoreError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder import (
    GPT_INI,
    GPTTMPL_INF,
    PENDING,
    REGISTRY_POL,
    SECEDIT_DIR,
    FolderState,
    join,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder_acl import (
    folder_security_descriptor,
    parse_security_descriptor,
    with_apply_denied,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gplink import (
    GPLINK_ENFORCED,
    GpLink,
    render_gplink,
    with_link,
    without_link,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gpt_ini import (
    pending_version,
    plan_version,
    readable_version,
    render_gpt_ini_over,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.inf import InfDocument
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import (
    GpoContent,
    Setting,
    apply_policy,
    machine_extensions,
    setting_changes,
    settings_text,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.registry_pol import render_registry_pol
from ansible_collections.scanready.windows.plugins.module_utils._gpo.steps import Kind, Step
from ansible_collections.scanready.windows.plugins.module_utils._ldap.names import normalize_dn
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import TEMP_SUFFIX


@dataclass
class GpoPlan:
    """The steps, and what they change as an administrator reads it."""

    steps: list[Step] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # settings and links
    version: int | None = None
    links: list[str] = field(default_factory=list)
    before: str = ""
    after: str = ""
    removed: list[str] = field(default_factory=list)  # what an adoption took out of the settings files

    def add(self, action: str, kind: Kind, target: str, *, value: str = "", data: bytes = b"", attribute: str = "",
            attributes: tuple[tuple[str, str], ...] = ()) -> None:
        self.steps.append(Step(action, kind, target, value, data, attribute, attributes=attributes))


@dataclass(frozen=True)
class Reading:
    """Everything read before planning: the GPO (None = to be created), its folder and its links."""

    found: Found
    creating: bool
    folder: str  # the GPO's folder on the SYSVOL share
    state: FolderState
    content: GpoContent
    children: frozenset[str]  # cn (lower case) of the containers under the GPO object
    linked: tuple[Container, ...]  # the containers linking it now
    targets: tuple[Container, ...]  # the containers to link it to
    rewrite: bool = False  # adopting: the settings files become exactly this collection's content


def plan_present(reading: Reading, name: str, settings: Sequence[Setting], enforced: bool,
                 reset: SecurityDescriptor | None, denied: Sequence[str] = ()) -> GpoPlan:
    """The writes that make the GPO hold settings, named name, linked exactly at the targets, and denied
    Apply Group Policy to the SIDs of denied."""
    plan = GpoPlan()
    found = reading.found
    _plan_object(plan, found, name, reading.creating, reading.children)
    object_sd = found.security_descriptor
    if reset is not None:
        object_sd = reset.render()
        plan.add(f"reset the nTSecurityDescriptor of {found.dn} to the default GPO ACL (owner Domain Admins)",
                 Kind.REPLACE_DESCRIPTOR, found.dn, data=object_sd)
    if denied:
        _plan_denied(plan, found.dn, object_sd, denied)
    _plan_folder(plan, reading.folder, found.dn, object_sd, reading.state)
    if reset is not None:
        _plan_inside(plan, reading.folder, folder_security_descriptor(object_sd or b"").render(), reading.state)
    _plan_content(plan, reading, settings)
    _plan_links(plan, found.dn, reading.linked, reading.targets, enforced)
    return plan


def plan_absent(found: Found, folder: str | None, linked: Sequence[Container], subtree: Sequence[str]) -> GpoPlan:
    """Unlink everywhere, delete the folder (None: there is none), then the objects, children first: the GPO
    object itself goes last, so a killed run finds it again."""
    plan = GpoPlan(version=found.version, before=f"GPO: {found.guid} ({found.display_name})\n"
                                                 f"version: {found.version}\n")
    for container in linked:
        plan.before += f"link: {container.dn}\n"
        plan.changes.append(f"link {container.dn}: linked → not linked")
        _plan_gplink(plan, container, without_link(container.links, found.dn), f"unlink {container.dn}")
    if folder is not None:
        plan.add(f"delete folder {folder}", Kind.DELETE_FOLDER, folder)
    for dn in sorted(subtree, key=lambda dn: -dn.count(",")):
        plan.add(f"delete {dn}", Kind.DELETE_OBJECT, dn)
    plan.changes.append(f"GPO {found.guid}: deleted")
    return plan


def _plan_object(plan: GpoPlan, found: Found, name: str, creating: bool, children: frozenset[str]) -> None:
    if creating:
        attributes = (("displayName", name), ("gPCFileSysPath", found.file_sys_path), ("versionNumber", "0"),
                      ("flags", "0"), ("gPCFunctionalityVersion", "2"))
        plan.add(f"create GPO {found.guid} ({name!r})", Kind.ADD_OBJECT, found.dn, value="groupPolicyContainer",
                 attributes=attributes)
    elif found.display_name != name:  # LDAP matched it case-insensitively
        plan.add(f"rename {found.guid} from {found.display_name!r} to {name!r}", Kind.REPLACE_ATTRIBUTE, found.dn,
                 attribute="displayName", value=name)
    for child in ("User", "Machine"):
        if child.lower() not in children:
            child_dn = f"CN={child},{found.dn}"
            plan.add(f"create {child_dn}", Kind.ADD_OBJECT, child_dn, value="container")


def _plan_denied(plan: GpoPlan, gpo_dn: str, object_sd: bytes | None, denied: Sequence[str]) -> None:
    """Security filtering: the deny ACEs, added to the descriptor the DC holds when the step runs."""
    current = parse_security_descriptor(object_sd, f"the nTSecurityDescriptor of {gpo_dn}") if object_sd else None
    done = current is not None and with_apply_denied(current, denied) is current
    shown = "denied" if done else "not denied"
    plan.before += f"Apply Group Policy, domain controllers: {shown}\n"
    plan.after += "Apply Group Policy, domain controllers: denied\n"
    if not done:
        plan.changes.append(f"Apply Group Policy, domain controllers: {shown} → denied")
        plan.add(f"deny Apply Group Policy on {gpo_dn} to {', '.join(denied)}", Kind.DENY_APPLY, gpo_dn,
                 value=",".join(denied))


def _plan_folder(plan: GpoPlan, folder: str, gpo_dn: str, object_sd: bytes | None, state: FolderState) -> None:
    if not state.has_dir(""):
        plan.add(f"create folder {folder}", Kind.MAKE_FOLDER, folder)
    current = parse_security_descriptor(state.security_descriptor, f"the ACL of {folder}") \
        if state.security_descriptor else None
    wanted = folder_security_descriptor(object_sd) if object_sd else None
    action = f"set the ACL of {folder} from the GPO's nTSecurityDescriptor"
    if wanted is None:  # a new GPO's descriptor exists only once the DC has created the object
        plan.add(action, Kind.DERIVE_FOLDER_ACL, folder, value=gpo_dn)
    elif current is None or current.comparable() != wanted.comparable():
        plan.add(action, Kind.SET_FOLDER_ACL, folder, data=wanted.render())


def _plan_inside(plan: GpoPlan, folder: str, inherited: bytes, state: FolderState) -> None:
    """Adopting: folders inside get the folder's ACL; files are rewritten with their own bytes, so each is a new
    file owned by the operator that inherits the folder's ACL (SMB keeps a renamed file's descriptor)."""
    for relative, entries in state.listings.items():
        for name, is_dir in entries or []:
            path = join(relative, name)
            if is_dir:
                plan.add(f"set the ACL of {path}", Kind.SET_FOLDER_ACL, join(folder, path), data=inherited)
            elif not name.endswith(TEMP_SUFFIX):
                plan.add(f"rewrite {path} under the new ACL", Kind.REWRITE_FILE, join(folder, path))


def _plan_content(plan: GpoPlan, reading: Reading, settings: Sequence[Setting]) -> None:
    found, folder, state, current = reading.found, reading.folder, reading.state, reading.content
    for relative, entries in state.listings.items():
        for name, is_dir in entries or []:
            if not is_dir and name.endswith(TEMP_SUFFIX):
                leftover = join(relative, name)
                plan.add(f"remove leftover {leftover}", Kind.REMOVE_FILE, join(folder, leftover))
    wanted = apply_policy(GpoContent(InfDocument(), []) if reading.rewrite else current, settings)
    plan.removed = current.not_in(wanted) if reading.rewrite else []
    before, after = current.show(settings), wanted.show(settings)
    plan.changes += setting_changes(before, after)
    try:
        extensions = machine_extensions(found.extensions, wanted)
    except GpoFormatError as exc:
        raise GpoStoreError(f"GPO {found.guid}: {exc}") from None
    content_changes = not current.same_settings(wanted) or extensions != found.extensions
    gpt_version = readable_version(state.gpt)
    pending = pending_version(state.pending)
    target = plan_version(found.version, gpt_version, pending, content_changes)
    plan.version = target
    plan.before += f"version: {found.version}\n" + settings_text(before)
    plan.after += f"version: {target}\n" + settings_text(after)
    if content_changes and pending != target:
        plan.add(f"record pending version {target}", Kind.WRITE_FILE, join(folder, PENDING),
                 data=str(target).encode("ascii"))
    try:
        _plan_files(plan, folder, state, current, wanted)
    except GpoFormatError as exc:
        raise GpoStoreError(f"{found.names()}: {exc}. Nothing was changed") from None
    if extensions != found.extensions:
        plan.add(f"set gPCMachineExtensionNames {extensions}", Kind.REPLACE_ATTRIBUTE, found.dn,
                 attribute="gPCMachineExtensionNames", value=extensions)
    if gpt_version != target:
        plan.add(f"set {GPT_INI} Version={target}", Kind.WRITE_FILE, join(folder, GPT_INI),
                 data=render_gpt_ini_over(target, state.gpt))
    if found.version != target:
        plan.add(f"set versionNumber {target}", Kind.REPLACE_ATTRIBUTE, found.dn, attribute="versionNumber",
                 value=str(target))
    if state.pending is not None or content_changes:
        plan.add("clear the pending version record", Kind.REMOVE_FILE, join(folder, PENDING))


def _plan_files(plan: GpoPlan, folder: str, state: FolderState, current: GpoContent, wanted: GpoContent) -> None:
    """The settings files that change, each after the folders it goes in; Machine and User always exist."""
    made: set[str] = set()

    def ensure_dirs(*relatives: str) -> None:
        for relative in relatives:
            if not state.has_dir(relative) and relative not in made:
                made.add(relative)
                plan.add(f"create folder {relative}", Kind.MAKE_FOLDER, join(folder, relative))

    if wanted.pol != current.pol:
        ensure_dirs("Machine")
        plan.add(f"write {REGISTRY_POL}", Kind.WRITE_FILE, join(folder, REGISTRY_POL),
                 data=render_registry_pol(wanted.pol))
    if wanted.inf.settings() != current.inf.settings():
        ensure_dirs("Machine", r"Machine\Microsoft", r"Machine\Microsoft\Windows NT", SECEDIT_DIR)
        plan.add(f"write {GPTTMPL_INF}", Kind.WRITE_FILE, join(folder, GPTTMPL_INF), data=wanted.inf.render())
    ensure_dirs("Machine", "User")


def _plan_links(plan: GpoPlan, gpo_dn: str, linked: Sequence[Container], targets: Sequence[Container],
                enforced: bool) -> None:
    options = GPLINK_ENFORCED if enforced else 0
    state = "enforced" if enforced else "linked"
    target_keys = {normalize_dn(c.dn) for c in targets}
    for container in linked:
        if normalize_dn(container.dn) not in target_keys:
            plan.changes.append(f"link {container.dn}: linked → not linked")
            _plan_gplink(plan, container, without_link(container.links, gpo_dn), f"unlink {container.dn}")
    for container in targets:
        current = next((link for link in container.links if link.points_to(gpo_dn)), None)
        if current is None or current.options != options:
            was = "not linked" if current is None else ("enforced" if current.options & 2 else "linked") + (
                ", disabled" if current.options & 1 else "")
            plan.changes.append(f"link {container.dn}: {was} → {state}")
            _plan_gplink(plan, container, with_link(container.links, gpo_dn, options),
                         f"link {container.dn} ({state})")
    plan.links = [c.dn for c in targets]
    plan.before += "".join(f"link: {c.dn}\n" for c in linked)
    plan.after += "".join(f"link: {c.dn} ({state})\n" for c in targets)


def _plan_gplink(plan: GpoPlan, container: Container, links: Sequence[GpLink], action: str) -> None:
    """gPLink replaced by compare-and-swap: the value read is deleted and the new one added in one modify."""
    plan.steps.append(Step(action, Kind.SWAP_GPLINK, container.dn, value=render_gplink(links),
                           previous=container.raw_gplink))
