# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan policy GPO in a domain: its LDAP object, its SYSVOL folder and its links, kept consistent.

Order of writes (present), chosen so that a run killed at any point leaves a state the next run
repairs, and so that clients never apply a half-written policy:
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
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Final

from ansible_collections.scanready.windows.plugins.module_utils import _acl, _gpo
from ansible_collections.scanready.windows.plugins.module_utils._gpo import (
    GpLink,
    GpoContent,
    GpoFormatError,
    GpoInputError,
    InfSetting,
    PolSetting,
    ScanPolicy,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    NO_SUCH_OBJECT,
    RIGHTS,
    DomainConnection,
    DomainError,
)
from ansible_collections.scanready.windows.plugins.module_utils._sysvol import TEMP_SUFFIX, Sysvol

try:
    import ldap3
    from ldap3.protocol.microsoft import security_descriptor_control
    from ldap3.utils.conv import escape_filter_chars
except ImportError:  # reported by the module through missing_required_lib
    ldap3 = None

DEFAULT_NAME: Final = "Authenticated scanning (scanready)"
GPT_INI: Final = "GPT.INI"
REGISTRY_POL: Final = r"Machine\Registry.pol"
SECEDIT_DIR: Final = r"Machine\Microsoft\Windows NT\SecEdit"
GPTTMPL_INF: Final = SECEDIT_DIR + r"\GptTmpl.inf"
PENDING: Final = "scanready.pending"
# Without nTSecurityDescriptor: a DC leaves out of a search every entry whose descriptor it cannot
# read, so asking for it while finding the GPO would hide a GPO with a damaged descriptor (and the
# module would create a second one). It is read on its own, naming the GPO when that fails.
GPO_ATTRIBUTES: Final = ("cn", "displayName", "gPCFileSysPath", "versionNumber", "flags",
                         "gPCMachineExtensionNames", "gPCUserExtensionNames")
SYSVOL_SHARE: Final = "sysvol"
LINKABLE_CLASSES: Final = ("domaindns", "organizationalunit", "site")
COMPUTER_DISABLED: Final = 2


class GpoStoreError(Exception):
    """A state of the domain the module will not act on (duplicates, unreadable files, bad links)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Request:
    name: str
    state: str  # present | absent
    policy: ScanPolicy
    links: tuple[str, ...] | None  # None: the domain root
    enforced: bool
    adopt: bool = False  # take over a GPO this collection did not make: reset its ACL to the default
    guid: str | None = None  # this exact GPO is the scan policy (counts as adopting it)

    @property
    def adopting(self) -> bool:
        return self.adopt or self.guid is not None


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


@dataclass
class Found:
    """A groupPolicyContainer as read from LDAP."""

    dn: str
    guid: str
    display_name: str
    file_sys_path: str
    version: int
    flags: int
    extensions: str
    security_descriptor: bytes | None
    user_extensions: str = ""

    def names(self) -> str:
        return f"GPO {self.guid} ({self.dn}, display name {self.display_name!r})"


@dataclass(frozen=True)
class Container:
    dn: str
    raw_gplink: str | None  # exactly as stored, for the compare-and-swap
    links: tuple[GpLink, ...]


def _first(entry: Any, name: str) -> Any:
    for key, values in entry.attributes.items():
        if key.lower() == name.lower():
            return values[0] if values else None
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@dataclass
class FolderState:
    """What SYSVOL holds for the GPO, read before anything is written."""

    listings: dict[str, list[tuple[str, bool]] | None]  # relative dir ('' = the GPO folder) -> entries
    security_descriptor: bytes | None
    parent_security_descriptor: bytes | None  # the Policies folder's: what every GPO folder inherits
    inf: bytes | None
    pol: bytes | None
    gpt: bytes | None
    pending: bytes | None

    def has_dir(self, relative: str) -> bool:
        return self.listings.get(relative) is not None

    @classmethod
    def missing(cls) -> FolderState:
        """A GPO being created has no folder yet."""
        return cls({}, None, None, None, None, None, None)


FOLDERS: Final = ("", "Machine", r"Machine\Microsoft", r"Machine\Microsoft\Windows NT", SECEDIT_DIR, "User")


class GpoStore:
    """Reads everything first, then plans the writes, then (unless in check mode) makes them in order."""

    def __init__(self, ldap: DomainConnection, open_sysvol: Callable[[str], Sysvol], check_mode: bool) -> None:
        self.ldap = ldap
        self.open_sysvol = open_sysvol  # share name -> session
        self.check_mode = check_mode
        self.base_dn = ldap.base_dn
        self.policies_dn = f"CN=Policies,CN=System,{self.base_dn}"
        self.outcome = Outcome()
        self._steps: list[tuple[str, Callable[[], object]]] = []

    # --- reading -----------------------------------------------------------------------------

    def find(self, name: str) -> Found | None:
        """The one GPO with this display name; GpoStoreError when there are several."""
        entries = self.ldap.search(
            self.policies_dn, f"(&(objectClass=groupPolicyContainer)(displayName={escape_filter_chars(name)}))",
            GPO_ATTRIBUTES, scope="one")
        if len(entries) > 1:
            guids = ", ".join(sorted(_text(_first(e, "cn")) or e.dn for e in entries))
            raise GpoStoreError(f"{len(entries)} GPOs are named {name!r}: {guids}. Nothing was changed; delete or "
                                "rename all but one (samba-tool gpo del, or the Group Policy Management console), "
                                "or pin the one to use with guid (scanready_gpo_guid), then run again")
        return self._found(entries[0]) if entries else None

    def find_guid(self, guid: str) -> Found | None:
        """The GPO whose cn is guid, whatever its display name."""
        if not _gpo.confined_guid(guid):
            raise GpoStoreError(f"guid {guid[:60]!r} is not a GPO GUID such as "
                                "{31B2F340-016D-11D2-945F-00C04FB984F9}")
        entries = self.ldap.search(self.policies_dn, f"(&(objectClass=groupPolicyContainer)(cn={guid}))",
                                   GPO_ATTRIBUTES, scope="one")
        return self._found(entries[0]) if entries else None

    def _found(self, entry: Any) -> Found:
        guid = _text(_first(entry, "cn")).upper()
        try:
            version = int(_text(_first(entry, "versionNumber")) or 0)
            flags = int(_text(_first(entry, "flags")) or 0)
        except ValueError:
            raise GpoStoreError(f"GPO {guid} has a versionNumber or flags that is not a number") from None
        name = _text(_first(entry, "displayName"))
        try:
            descriptor = self._security_descriptor(entry.dn)
        except GpoStoreError:
            raise GpoStoreError(f"GPO {guid} ({name!r}, {entry.dn}): its nTSecurityDescriptor cannot be read (missing, "
                                "damaged, or not readable by the operator, who needs to be a Domain Admin). Nothing "
                                "was changed; repair or delete that GPO, then run again") from None
        return Found(entry.dn, guid, name, _text(_first(entry, "gPCFileSysPath")),
                     version, flags, _text(_first(entry, "gPCMachineExtensionNames")),
                     descriptor, _text(_first(entry, "gPCUserExtensionNames")))

    def _locate(self, request: Request) -> Found | None:
        return self.find_guid(request.guid) if request.guid else self.find(request.name)

    def _folder(self, found: Found, domain: str) -> str:
        """The GPO's folder on SYSVOL, only where its gPCFileSysPath is exactly where a GPO's folder belongs."""
        try:
            return _gpo.confined_folder(found.file_sys_path, domain, found.guid)
        except GpoFormatError as exc:
            raise GpoStoreError(f"{found.names()}: {exc}. Nothing was changed; this module reads and writes a "
                                "GPO's files only in its own folder on the domain's SYSVOL share. Fix gPCFileSysPath "
                                "(or delete the GPO with samba-tool gpo del / the Group Policy Management console) "
                                "and run again") from None

    def _principals(self) -> tuple[str, set[str]]:
        """The domain SID and the privileged principals: Domain Admins, Enterprise Admins, Administrators,
        SYSTEM and the operator this module binds as."""
        domain_sid = self._object_sid(self.base_dn)
        root = self.ldap.search("", "(objectClass=*)", ["rootDomainNamingContext"], scope="base")
        root_dn = _text(_first(root[0], "rootDomainNamingContext")) if root else ""
        root_sid = self._object_sid(root_dn) if root_dn and root_dn.lower() != self.base_dn.lower() else domain_sid
        user = self.ldap.settings.bind_user
        name = user.rpartition("\\")[2].partition("@")[0]
        operator = self.ldap.search(self.base_dn, "(&(objectClass=user)(|(userPrincipalName="
                                    f"{escape_filter_chars(user)})(sAMAccountName={escape_filter_chars(name)})))",
                                    ["objectSid"])
        operator_sid = _acl.sid_from_bytes(bytes(_first(operator[0], "objectSid")))[0] \
            if len(operator) == 1 and _first(operator[0], "objectSid") else None
        return domain_sid, _acl.privileged_sids(domain_sid, root_sid, operator_sid)

    def _object_sid(self, dn: str) -> str:
        entries = self.ldap.search(dn, "(objectClass=*)", ["objectSid"], scope="base")
        raw = _first(entries[0], "objectSid") if entries else None
        try:
            return _acl.sid_from_bytes(bytes(raw))[0] if raw else _acl.sid_from_bytes(b"")[0]
        except _acl.AclFormatError:
            raise GpoStoreError(f"cannot read the objectSid of {dn}; the operator needs to be a Domain Admin") from None

    def _security_descriptor(self, dn: str) -> bytes:
        entries = self.ldap.search(dn, "(objectClass=*)", ["nTSecurityDescriptor"], scope="base",
                                   controls=security_descriptor_control(sdflags=0x7))
        sd = _bytes(_first(entries[0], "nTSecurityDescriptor")) if entries else None
        if sd is None:
            raise GpoStoreError(f"cannot read the nTSecurityDescriptor of {dn}, which the SYSVOL folder's ACL "
                                "derives from (the operator needs to be a Domain Admin)")
        return sd

    def containers_linking(self, gpo_dn: str, guid: str) -> list[Container]:
        """Every domain, OU and site whose gPLink names the GPO."""
        pattern = f"(gPLink=*{escape_filter_chars(guid)}*)"
        entries = self.ldap.search(self.base_dn, pattern, ["gPLink"])
        root = self.ldap.search("", "(objectClass=*)", ["configurationNamingContext"], scope="base")
        config = _text(_first(root[0], "configurationNamingContext")) if root else ""
        if config:
            entries += self.ldap.search(f"CN=Sites,{config}", f"(&(objectClass=site){pattern})", ["gPLink"],
                                        scope="one")
        containers = [self._container(entry.dn, _first(entry, "gPLink")) for entry in entries]
        return [c for c in containers if any(link.points_to(gpo_dn) for link in c.links)]

    def _container(self, dn: str, raw: Any) -> Container:
        text = _text(raw) if raw is not None else None
        try:
            links = tuple(_gpo.parse_gplink(text or ""))
        except GpoFormatError as exc:
            raise GpoStoreError(f"{dn}: {exc}; fix its gPLink before linking policies there") from None
        return Container(dn, text, links)

    def read_link_targets(self, links: Sequence[str]) -> list[Container]:
        """The containers to link to: each must exist and be a domain, OU or site."""
        containers = []
        for dn in links:
            try:
                entries = self.ldap.search(dn, "(objectClass=*)", ["objectClass", "gPLink"], scope="base")
            except DomainError as exc:
                if exc.cause == NO_SUCH_OBJECT:
                    raise GpoStoreError(f"links: {dn} does not exist") from None
                raise
            if not entries:
                raise GpoStoreError(f"links: {dn} does not exist")
            classes = {_text(value).lower() for key, values in entries[0].attributes.items()
                       if key.lower() == "objectclass" for value in values}
            if not classes & set(LINKABLE_CLASSES):
                kind = "/".join(sorted(classes - {"top"})) or "object"
                raise GpoStoreError(f"links: {dn} is a {kind}, not a domain, organizational unit or site; "
                                    "a GPO cannot be linked there")
            containers.append(self._container(entries[0].dn, _first(entries[0], "gPLink")))
        return containers

    def _read_folder(self, sysvol: Sysvol, folder: str) -> FolderState:
        listings: dict[str, list[tuple[str, bool]] | None] = {}

        def listed(relative: str, directory: bool) -> bool:
            parent, _sep, name = relative.rpartition("\\")
            return any(entry.lower() == name.lower() and is_dir == directory for entry, is_dir in
                       listings.get(parent) or [])

        for relative in FOLDERS:  # parents first, so a missing parent spares the look inside it
            listings[relative] = sysvol.listdir(_join(folder, relative)) if not relative or listed(relative, True) \
                else None

        def read(relative: str) -> bytes | None:
            return sysvol.read(_join(folder, relative)) if listed(relative, False) else None

        exists = listings[""] is not None
        return FolderState(listings, sysvol.get_security(folder) if exists else None,
                           sysvol.get_security(folder.rpartition("\\")[0]) if exists else None,
                           read(GPTTMPL_INF), read(REGISTRY_POL), read(GPT_INI), read(PENDING))

    # --- planning and writing ----------------------------------------------------------------

    def _step(self, action: str, write: Callable[[], object]) -> None:
        self._steps.append((action, write))

    def _execute(self) -> None:
        self.outcome.actions = [action for action, _write in self._steps]
        self.outcome.changed = bool(self._steps)
        if not self.check_mode:
            for _action, write in self._steps:
                write()

    def _gplink_step(self, container: Container, links: Sequence[GpLink], action: str) -> None:
        new = _gpo.render_gplink(links)
        changes: list[tuple[str, list[str]]] = []
        if container.raw_gplink is not None:
            changes.append((ldap3.MODIFY_DELETE, [container.raw_gplink]))
        if new:
            changes.append((ldap3.MODIFY_ADD, [new]))

        def write() -> None:
            try:
                self.ldap.modify(container.dn, {"gPLink": changes})
            except DomainError as exc:
                if exc.result_code in (16, 20):  # noSuchAttribute / attributeOrValueExists: changed meanwhile
                    raise GpoStoreError(f"the gPLink of {container.dn} changed while this run updated it; no "
                                        "other link was touched, run again") from None
                raise
        self._step(action, write)

    # --- present -----------------------------------------------------------------------------

    def ensure_present(self, request: Request, domain: str) -> Outcome:
        settings = _gpo.policy_settings(request.policy)  # validates the addresses before anything else
        targets = self.read_link_targets(self._wanted_links(request.links))
        found = self._locate(request)
        creating = found is None
        if found is None:
            if request.guid:
                raise GpoStoreError(f"guid {request.guid}: no such GPO in {self.policies_dn}. Nothing was changed; "
                                    "leave guid unset to create the GPO, or name an existing one")
            guid = "{" + str(uuid.uuid4()).upper() + "}"
            path = f"\\\\{domain.lower()}\\{SYSVOL_SHARE}\\{domain.lower()}\\Policies\\{guid}"
            found = Found(self._gpo_dn(guid), guid, request.name, path, 0, 0, "", None)
        folder = self._folder(found, domain)
        outcome = self.outcome
        outcome.guid, outcome.dn = found.guid, found.dn
        with self.open_sysvol(SYSVOL_SHARE) as sysvol:
            state = FolderState.missing() if creating else self._read_folder(sysvol, folder)
            children = set() if creating else {
                _text(_first(e, "cn")).lower()
                for e in self.ldap.search(found.dn, "(objectClass=container)", ["cn"], scope="one")}
            linked = [] if creating else self.containers_linking(found.dn, found.guid)
            content = self._parse_content(found, state)
            reset = None if creating else self._trust(found, state, request)  # the last check that can refuse

            self._plan_object(found, request.name, creating, children)
            if reset is not None:
                self._plan_reset(found, reset)
            self._plan_folder(sysvol, folder, found, state)
            if reset is not None:
                self._plan_inside(sysvol, folder, found, state)
            self._plan_content(sysvol, folder, found, state, content, settings)
            self._plan_links(found, linked, targets, request.enforced)
            self._execute()
        if creating:
            outcome.security = {"trusted": True, "created": True, "adopted": False}
        if found.flags & COMPUTER_DISABLED:
            outcome.warnings.append(f"GPO {found.guid} has its computer settings disabled (flags={found.flags}); "
                                    "clients ignore them until they are enabled again")
        return outcome

    def _trust(self, found: Found, state: FolderState, request: Request) -> _acl.SecurityDescriptor | None:
        """Refuse a GPO someone else controls or filled, unless adopting; the default ACL to reset to, if any.

        Trusted: the object and its folder are owned by a privileged principal, no explicit ACE gives
        anyone else write, ACL or owner rights, and it holds no settings this collection does not write.
        """
        domain_sid, privileged = self._principals()
        sd = self._parse_sd(found, found.security_descriptor or b"", "its nTSecurityDescriptor")
        folder_sd = self._parse_sd(found, state.security_descriptor, "its SYSVOL folder's ACL") \
            if state.security_descriptor else None
        policies_sd = self._parse_sd(found, state.parent_security_descriptor, "the Policies folder's ACL") \
            if state.parent_security_descriptor else None
        problems: list[str] = []
        offending: list[str] = []
        for what, descriptor, mask, parent in (("object", sd, _acl.DS_DANGEROUS_MASK, None),
                                               ("folder", folder_sd, _acl.FILE_DANGEROUS_MASK, policies_sd)):
            if descriptor is None:
                continue
            if descriptor.owner not in privileged:
                problems.append(f"{what} owner {_acl.sid_name(descriptor.owner or 'none', domain_sid)}")
            aces = [f"{what}: {ace.describe(domain_sid)}"
                    for ace in _acl.offending_aces(descriptor, privileged, mask, parent=parent)]
            offending += aces
        foreign = _gpo.foreign_content(found.extensions, found.user_extensions, state.listings, TEMP_SUFFIX)
        problems += offending + [f"holds {item}" for item in foreign]
        default = _gpo.default_gpo_security_descriptor(domain_sid, _root_sid(privileged, domain_sid))
        resetting = request.adopting and not _gpo.same_acl(sd, default)
        self.outcome.security = {
            "owner": _acl.sid_name(sd.owner or "", domain_sid), "owner_sid": sd.owner,
            "folder_owner": _acl.sid_name(folder_sd.owner or "", domain_sid) if folder_sd else None,
            "offending_aces": offending, "foreign_content": foreign, "trusted": not problems,
            "adopted": request.adopting, "acl_reset": resetting,
        }
        if problems and not request.adopting:
            raise GpoStoreError(
                f"{found.names()} is not under the domain administrators' control: " + "; ".join(problems)
                + f". Nothing was changed and nothing was linked. If this GPO is yours, adopt it with adopt: true or "
                f"guid: '{found.guid}' (roles: scanready_gpo_adopt / scanready_gpo_guid): its object and folder ACL "
                "are then reset to the default GPO ACL (owner Domain Admins) and its other settings kept; otherwise "
                "delete it (samba-tool gpo del) or choose another name")
        if foreign and request.adopting:
            self.outcome.warnings.append(f"{found.names()} is adopted with settings this collection does not "
                                         "write, which it keeps: " + "; ".join(foreign))
        return default if resetting else None

    def _parse_sd(self, found: Found, data: bytes, what: str) -> _acl.SecurityDescriptor:
        try:
            return _acl.parse_sd(data)
        except _acl.AclFormatError as exc:
            raise GpoStoreError(f"{found.names()}: {what} is malformed ({exc}). Nothing was changed") from None

    def _plan_reset(self, found: Found, default: _acl.SecurityDescriptor) -> None:
        """Adopting: the object gets the default GPO ACL; _plan_folder then gives its folder the ACL derived
        from it, and _plan_inside what the folder already holds, so no earlier owner keeps a file."""
        raw = default.render()
        found.security_descriptor = raw
        self._step(f"reset the nTSecurityDescriptor of {found.dn} to the default GPO ACL (owner Domain Admins)",
                   lambda: self.ldap.modify(found.dn, {"nTSecurityDescriptor": [(ldap3.MODIFY_REPLACE, [raw])]},
                                            controls=security_descriptor_control(sdflags=0x7)))

    def _plan_inside(self, sysvol: Sysvol, folder: str, found: Found, state: FolderState) -> None:
        """Folders inside get the folder's ACL; files are rewritten with their own bytes, so each is a new file
        owned by the operator that inherits the folder's ACL (SMB keeps a renamed file's descriptor)."""
        inherited = _gpo.folder_security_descriptor(found.security_descriptor or b"").render()
        for relative, entries in state.listings.items():
            for name, is_dir in entries or []:
                path = f"{relative}\\{name}" if relative else name
                if is_dir:
                    self._step(f"set the ACL of {path}", partial(sysvol.set_security, _join(folder, path), inherited))
                elif not name.endswith(TEMP_SUFFIX):
                    self._step(f"rewrite {path} under the new ACL", partial(_rewrite, sysvol, _join(folder, path)))

    def _wanted_links(self, links: Sequence[str] | None) -> list[str]:
        if links is None:
            return [self.base_dn]
        wanted: list[str] = []
        for dn in links:
            checked = _gpo.check_dn(dn)
            if _gpo.normalize_dn(checked) not in {_gpo.normalize_dn(d) for d in wanted}:
                wanted.append(checked)
        return wanted

    def _gpo_dn(self, guid: str) -> str:
        return f"CN={guid},{self.policies_dn}"

    def _parse_content(self, found: Found, state: FolderState) -> GpoContent:
        try:
            if state.gpt is not None:
                _gpo.parse_gpt_ini_version(state.gpt)
            return GpoContent.parse(state.inf, state.pol)
        except GpoFormatError as exc:
            raise GpoStoreError(f"{found.names()}: {exc}. Nothing was changed; restore or remove that file, "
                                "then run again") from None

    def _plan_object(self, found: Found, name: str, creating: bool, children: set[str]) -> None:
        if creating:
            attributes = {"displayName": name, "gPCFileSysPath": found.file_sys_path, "versionNumber": "0",
                          "flags": "0", "gPCFunctionalityVersion": "2"}
            self._step(f"create GPO {found.guid} ({name!r})",
                       lambda: self.ldap.add(found.dn, "groupPolicyContainer", attributes))
        elif found.display_name != name:  # LDAP matched it case-insensitively
            self._step(f"rename {found.guid} from {found.display_name!r} to {name!r}",
                       lambda: self.ldap.modify(found.dn, {"displayName": [(ldap3.MODIFY_REPLACE, [name])]}))
        for child in ("User", "Machine"):
            if child.lower() not in children:
                child_dn = f"CN={child},{found.dn}"
                self._step(f"create {child_dn}", partial(self.ldap.add, child_dn, "container", {}))

    def _plan_folder(self, sysvol: Sysvol, folder: str, found: Found, state: FolderState) -> None:
        if not state.has_dir(""):
            self._step(f"create folder {folder}", lambda: sysvol.mkdir(folder))
        current = _gpo.parse_security_descriptor(state.security_descriptor, f"the ACL of {folder}") \
            if state.security_descriptor else None
        wanted = _gpo.folder_security_descriptor(found.security_descriptor) if found.security_descriptor else None
        if current is None or wanted is None or current.comparable() != wanted.comparable():
            # A new GPO's descriptor exists only once the DC has created the object.
            self._step(f"set the ACL of {folder} from the GPO's nTSecurityDescriptor",
                       lambda: sysvol.set_security(folder, _gpo.folder_security_descriptor(
                           found.security_descriptor or self._security_descriptor(found.dn)).render()))

    def _plan_content(self, sysvol: Sysvol, folder: str, found: Found, state: FolderState, current: GpoContent,
                      settings: Sequence[InfSetting | PolSetting]) -> None:
        outcome = self.outcome
        for relative, entries in state.listings.items():
            for name, is_dir in entries or []:
                if not is_dir and name.endswith(TEMP_SUFFIX):
                    leftover = _join(relative, name)
                    self._step(f"remove leftover {leftover}", partial(sysvol.remove, _join(folder, leftover)))
        wanted = _gpo.apply_policy(current, settings)
        before, after = current.show(settings), wanted.show(settings)
        outcome.changes += _gpo.setting_changes(before, after)
        try:
            extensions = _gpo.machine_extensions(found.extensions, wanted)
        except GpoFormatError as exc:
            raise GpoStoreError(f"GPO {found.guid}: {exc}") from None
        content_changes = not current.same_settings(wanted) or extensions != found.extensions
        gpt_version = _gpt_version(state.gpt)
        pending = _pending_version(state.pending)
        target = _gpo.plan_version(found.version, gpt_version, pending, content_changes)
        outcome.version = target
        outcome.before += f"version: {found.version}\n" + _gpo.settings_text(before)
        outcome.after += f"version: {target}\n" + _gpo.settings_text(after)

        if content_changes and pending != target:
            self._step(f"record pending version {target}",
                       lambda: sysvol.write(_join(folder, PENDING), str(target).encode("ascii")))
        made: set[str] = set()

        def ensure_dirs(*relatives: str) -> None:
            for relative in relatives:
                if not state.has_dir(relative) and relative not in made:
                    made.add(relative)
                    self._step(f"create folder {relative}", partial(sysvol.mkdir, _join(folder, relative)))

        if wanted.pol != current.pol:
            ensure_dirs("Machine")
            self._step(f"write {REGISTRY_POL}",
                       lambda: sysvol.write(_join(folder, REGISTRY_POL), _gpo.render_registry_pol(wanted.pol)))
        if wanted.inf.settings() != current.inf.settings():
            ensure_dirs("Machine", r"Machine\Microsoft", r"Machine\Microsoft\Windows NT", SECEDIT_DIR)
            self._step(f"write {GPTTMPL_INF}", lambda: sysvol.write(_join(folder, GPTTMPL_INF), wanted.inf.render()))
        ensure_dirs("Machine", "User")
        if extensions != found.extensions:
            replace = {"gPCMachineExtensionNames": [(ldap3.MODIFY_REPLACE, [extensions])]}
            self._step(f"set gPCMachineExtensionNames {extensions}", lambda: self.ldap.modify(found.dn, replace))
        if gpt_version != target:
            self._step(f"set {GPT_INI} Version={target}",
                       lambda: sysvol.write(_join(folder, GPT_INI), _render_gpt(target, state.gpt)))
        if found.version != target:
            self._step(f"set versionNumber {target}",
                       lambda: self.ldap.modify(found.dn, {"versionNumber": [(ldap3.MODIFY_REPLACE, [str(target)])]}))
        if state.pending is not None or content_changes:
            self._step("clear the pending version record", lambda: sysvol.remove(_join(folder, PENDING)))

    def _plan_links(self, found: Found, linked: Sequence[Container], targets: Sequence[Container],
                    enforced: bool) -> None:
        options = _gpo.GPLINK_ENFORCED if enforced else 0
        state = "enforced" if enforced else "linked"
        target_keys = {_gpo.normalize_dn(c.dn) for c in targets}
        for container in linked:
            if _gpo.normalize_dn(container.dn) not in target_keys:
                self.outcome.changes.append(f"link {container.dn}: linked → not linked")
                self._gplink_step(container, _gpo.without_link(container.links, found.dn), f"unlink {container.dn}")
        for container in targets:
            current = next((link for link in container.links if link.points_to(found.dn)), None)
            if current is None or current.options != options:
                was = "not linked" if current is None else ("enforced" if current.options & 2 else "linked") + (
                    ", disabled" if current.options & 1 else "")
                self.outcome.changes.append(f"link {container.dn}: {was} → {state}")
                self._gplink_step(container, _gpo.with_link(container.links, found.dn, options),
                                  f"link {container.dn} ({state})")
        self.outcome.links = [c.dn for c in targets]
        self.outcome.before += "".join(f"link: {c.dn}\n" for c in linked)
        self.outcome.after += "".join(f"link: {c.dn} ({state})\n" for c in targets)

    # --- absent ------------------------------------------------------------------------------

    def ensure_absent(self, request: Request, domain: str) -> Outcome:
        found = self._locate(request)
        outcome = self.outcome
        if found is None:
            return outcome
        folder = self._folder(found, domain)  # before anything is planned: a foreign path deletes nothing
        outcome.guid, outcome.dn, outcome.version = found.guid, found.dn, found.version
        outcome.before = f"GPO: {found.guid} ({found.display_name})\nversion: {found.version}\n"
        for container in self.containers_linking(found.dn, found.guid):
            outcome.before += f"link: {container.dn}\n"
            outcome.changes.append(f"link {container.dn}: linked → not linked")
            self._gplink_step(container, _gpo.without_link(container.links, found.dn), f"unlink {container.dn}")
        subtree = self.ldap.search(found.dn, "(objectClass=*)", ["cn"])
        with self.open_sysvol(SYSVOL_SHARE) as sysvol:
            if sysvol.listdir(folder) is not None:
                self._step(f"delete folder {folder}", lambda: sysvol.delete_tree(folder))
            self._plan_delete(subtree)
            self._execute()
        outcome.changes.append(f"GPO {found.guid}: deleted")
        return outcome

    def _plan_delete(self, subtree: Sequence[Any]) -> None:
        # Children before their parent; the GPO object itself goes last, so a killed run finds it again.
        for entry in sorted(subtree, key=lambda e: -e.dn.count(",")):
            self._step(f"delete {entry.dn}", partial(self.ldap.delete, entry.dn))


def _rewrite(sysvol: Sysvol, path: str) -> None:
    data = sysvol.read(path)
    if data is not None:
        sysvol.write(path, data)


def _root_sid(privileged: set[str], domain_sid: str) -> str:
    """The forest root domain's SID, from Enterprise Admins (root-519) in the privileged set."""
    return next((sid[:-4] for sid in privileged if sid.endswith("-519")), domain_sid)


def _join(folder: str, relative: str) -> str:
    return f"{folder}\\{relative}" if relative else folder


def _bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


def _gpt_version(data: bytes | None) -> int | None:
    """GPT.INI's version; None when missing or unreadable (it is rewritten then)."""
    if data is None:
        return None
    try:
        return _gpo.parse_gpt_ini_version(data)
    except GpoFormatError:
        return None


def _render_gpt(version: int, current: bytes | None) -> bytes:
    if current is not None and _gpt_version(current) is not None:
        return _gpo.render_gpt_ini(version, current)
    return _gpo.render_gpt_ini(version)


def _pending_version(data: bytes | None) -> int | None:
    """The version an interrupted run meant to publish; -1 when its record is unreadable."""
    if data is None:
        return None
    try:
        return int(data.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return -1


def run(ldap: DomainConnection, open_sysvol: Callable[[str], Sysvol], request: Request, domain: str,
        check_mode: bool) -> Outcome:
    """Make the domain's scan policy GPO match request; DomainError, SysvolError or GpoStoreError on failure."""
    store = GpoStore(ldap, open_sysvol, check_mode)
    try:
        if request.state == "absent":
            return store.ensure_absent(request, domain)
        return store.ensure_present(request, domain)
    except GpoInputError as exc:
        raise GpoStoreError(str(exc)) from None
    except DomainError as exc:
        if exc.cause == RIGHTS:
            raise DomainError(f"{exc.message}; managing GPOs needs Domain Admins or delegated GPO rights",
                              exc.cause, exc.result_code) from None
        raise
