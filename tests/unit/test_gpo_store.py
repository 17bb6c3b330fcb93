"""The GPO orchestration against in-memory stand-ins for the DC: what it reads, what it writes, in which order."""
from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._acl import sid_to_bytes
from ansible_collections.scanready.windows.plugins.module_utils._errors import ScanreadyError
from ansible_collections.scanready.windows.plugins.module_utils._gpo import store as _gpo_store
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoStoreError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gplink import GpLink, parse_gplink
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import (
    GpoContent,
    ScanPolicy,
    apply_policy,
    machine_extensions,
    policy_settings,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.registry_pol import render_registry_pol
from ansible_collections.scanready.windows.plugins.module_utils._gpo.store import Request
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    EXISTS,
    MODIFY_DELETE,
    MODIFY_REPLACE,
    NO_SUCH_OBJECT,
    DomainError,
    Entry,
)
from ansible_collections.scanready.windows.plugins.module_utils._smb.sysvol import smb_credentials, split_unc
from ansible_collections.scanready.windows.plugins.module_utils._vocabulary import DEFAULT_GPO_NAME

from tests.unit.test_gpo import DS_SD, SAMBA_FOLDER_SD

BASE = "DC=ex,DC=test"
POLICIES = f"CN=Policies,CN=System,{BASE}"
OU = f"OU=Servers,{BASE}"
DEFAULT_GPO = f"CN={{31B2F340-016D-11D2-945F-00C04FB984F9}},{POLICIES}"
NAME = DEFAULT_GPO_NAME
DOMAIN_SID = "S-1-5-21-1093374826-3033921822-2649689171"  # the domain DS_SD was captured in
POLICY = ScanPolicy(scanner_addresses=("192.0.2.10",))


class FakeLdap:
    """Just enough of a DC's directory for the searches _gpo_store makes; records every write."""

    def __init__(self) -> None:
        self.base_dn = BASE
        self.settings = SimpleNamespace(bind_user="admin@EX.TEST", domain="ex.test")
        self.objects: dict[str, tuple[str, dict[str, list[Any]]]] = {}
        self.writes: list[tuple[str, str]] = []
        self.add(BASE, "domainDNS", {"gPLink": f"[LDAP://{DEFAULT_GPO};0]", "objectSid": [sid_to_bytes(DOMAIN_SID)]},
                 log=False)
        self.add(f"CN=System,{BASE}", "container", {}, log=False)
        self.add(POLICIES, "container", {}, log=False)
        self.add(OU, "organizationalUnit", {}, log=False)
        self.add(f"CN=Users,{BASE}", "container", {}, log=False)
        self.add(DEFAULT_GPO, "groupPolicyContainer", {"displayName": "Default Domain Policy"}, log=False)

    def add(self, dn: str, object_class: str, attributes: dict[str, Any], controls: Any = None, *,
            log: bool = True) -> None:
        if dn.lower() in self.objects:
            raise DomainError(f"cannot create {dn}: it already exists", EXISTS, 68)
        attrs = {"objectClass": ["top", object_class], "cn": [dn.split(",")[0].split("=", 1)[1]]}
        attrs.update({k: v if isinstance(v, list) else [v] for k, v in attributes.items()})
        if object_class == "groupPolicyContainer":
            attrs["nTSecurityDescriptor"] = [DS_SD]
        self.objects[dn.lower()] = (dn, attrs)
        if log:
            self.writes.append(("add", dn))

    def modify(self, dn: str, changes: dict[str, list[tuple[str, list[Any]]]], *, sd_flags: int | None = None) -> None:
        _dn, attrs = self.objects[dn.lower()]
        for name, operations in changes.items():
            for operation, values in operations:
                current = attrs.get(name, [])
                if operation == MODIFY_REPLACE:
                    attrs[name] = list(values)
                elif operation == MODIFY_DELETE:
                    if any(v not in current for v in values):
                        raise DomainError(f"modify {dn} failed: noSuchAttribute", "failed", 16)
                    attrs[name] = [v for v in current if v not in values]
                else:
                    if any(v in current for v in values):
                        raise DomainError(f"modify {dn} failed: attributeOrValueExists", "failed", 20)
                    attrs[name] = current + list(values)
                if not attrs[name]:
                    del attrs[name]
        self.writes.append(("modify", f"{dn} {sorted(changes)}"))

    def delete(self, dn: str, controls: Any = None) -> None:
        if any(key.endswith("," + dn.lower()) for key in self.objects):
            raise DomainError(f"delete {dn}: it has children", "rejected", 66)
        del self.objects[dn.lower()]
        self.writes.append(("delete", dn))

    def search(self, base: str, ldap_filter: str, attributes: Any, *, scope: str = "subtree",
               sd_flags: int | None = None) -> list[Entry]:
        if base == "":
            return [Entry("", {"configurationNamingContext": [f"CN=Configuration,{BASE}"]})]
        if base.lower() not in self.objects and not base.lower().startswith("cn=sites"):
            raise DomainError(f"no such object: {base}", NO_SUCH_OBJECT, 32)
        found = []
        for key, (dn, attrs) in self.objects.items():
            depth = key.count(",") - base.lower().count(",")
            within = key == base.lower() or key.endswith("," + base.lower())
            if not within or (scope == "base" and depth) or (scope == "one" and depth != 1):
                continue
            if self._matches(ldap_filter, attrs):
                found.append(Entry(dn, {k: list(v) for k, v in attrs.items()}))
        return found

    @staticmethod
    def _matches(ldap_filter: str, attrs: dict[str, list[Any]]) -> bool:
        ldap_filter = re.sub(r"\(!\([^()]*\)\)", "", ldap_filter)  # negations are left out: no fake needs them
        for name, value in re.findall(r"\(([A-Za-z]+)=([^()]*)\)", ldap_filter):
            values = [str(v) for v in attrs.get(name, [])]
            if value == "*":
                ok = bool(values) or name == "objectClass"
            elif "*" in value:
                inner = value.strip("*").replace("\\2a", "*").replace("\\28", "(").replace("\\29", ")")
                ok = any(inner.lower() in v.lower() for v in values)
            else:
                wanted = value.replace("\\28", "(").replace("\\29", ")").replace("\\2a", "*")
                ok = any(wanted.lower() == v.lower() for v in values)
            if not ok:
                return False
        return True

    def gpo(self, name: str = NAME) -> tuple[str, dict[str, list[Any]]]:
        matches = [(dn, attrs) for dn, attrs in self.objects.values() if attrs.get("displayName") == [name]]
        assert len(matches) == 1
        return matches[0]


class FakeSysvol:
    """A share as a dict of paths; directories hold None."""

    def __init__(self) -> None:
        self.tree: dict[str, bytes | None] = {"ex.test": None, r"ex.test\Policies": None}
        self.acls: dict[str, bytes] = {}
        self.writes: list[tuple[str, str]] = []

    def __enter__(self) -> FakeSysvol:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        pass

    def _key(self, path: str) -> str | None:
        return next((key for key in self.tree if key.lower() == path.lower()), None)

    def listdir(self, path: str) -> list[tuple[str, bool]] | None:
        key = self._key(path)
        if key is None or self.tree[key] is not None:
            return None
        prefix = key.lower() + "\\"
        return [(k[len(prefix):], v is None) for k, v in self.tree.items()
                if k.lower().startswith(prefix) and "\\" not in k[len(prefix):]]

    def read(self, path: str) -> bytes | None:
        key = self._key(path)
        return self.tree[key] if key is not None else None

    def write(self, path: str, data: bytes) -> None:
        assert self._key(path.rpartition("\\")[0]) is not None, f"no folder for {path}"
        self.tree[self._key(path) or path] = data
        self.writes.append(("write", path))

    def remove(self, path: str) -> bool:
        key = self._key(path)
        if key is not None:
            del self.tree[key]
            self.writes.append(("remove", path))
        return key is not None

    def mkdir(self, path: str) -> bool:
        assert self._key(path.rpartition("\\")[0]) is not None, f"no parent for {path}"
        self.tree[path] = None
        self.writes.append(("mkdir", path))
        return True

    def delete_tree(self, path: str) -> bool:
        for key in [k for k in self.tree if k.lower() == path.lower() or k.lower().startswith(path.lower() + "\\")]:
            del self.tree[key]
        self.writes.append(("delete_tree", path))
        return True

    def get_security(self, path: str) -> bytes:
        return self.acls.get(path.lower(), bytes.fromhex("0100048000000000000000000000000014000000") +
                             bytes.fromhex("020008000000000000"))

    def set_security(self, path: str, descriptor: bytes) -> None:
        self.acls[path.lower()] = descriptor
        self.writes.append(("set_security", path))


def run(ldap: FakeLdap, sysvol: FakeSysvol, *, state: str = "present", policy: ScanPolicy = POLICY,
        links: tuple[str, ...] | None = None, enforced: bool = False, check: bool = False,
        name: str = NAME, adopt: bool = False, guid: str | None = None) -> _gpo_store.Outcome:
    request = Request(name, state, policy, links, enforced, adopt=adopt, guid=guid)
    return _gpo_store.run(ldap, lambda share: sysvol, request, "ex.test", check)  # type: ignore[arg-type]


def folder_of(ldap: FakeLdap, name: str = NAME) -> str:
    _dn, attrs = ldap.gpo(name)
    return split_unc(attrs["gPCFileSysPath"][0])[1]


def test_check_mode_writes_nothing_and_says_what_it_would_do() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    outcome = run(ldap, sysvol, check=True)
    assert outcome.changed and outcome.version == 1
    assert ldap.writes == [] and sysvol.writes == []
    assert outcome.actions[0].startswith("create GPO {")
    assert outcome.actions[-1] == f"link {BASE} (linked)"
    assert "ForceGuest: not configured → 0" in outcome.changes


def test_create_in_order_then_idempotent() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    outcome = run(ldap, sysvol)
    dn, attrs = ldap.gpo()
    folder = folder_of(ldap)
    assert outcome.dn == dn and attrs["versionNumber"] == ["1"]
    assert attrs["gPCMachineExtensionNames"] == [machine_extensions("", apply_policy(
        GpoContent.parse(None, None), policy_settings(POLICY)))]
    assert sysvol.acls[folder.lower()] == SAMBA_FOLDER_SD  # what dsacl2fsacl makes of the object's descriptor
    assert sysvol.read(folder + r"\GPT.INI") == b"[General]\r\nVersion=1\r\n"
    assert sysvol.read(folder + r"\scanready.pending") is None
    # The folder's ACL before anything inside; the pending record before the files; versions last; links after.
    order = sysvol.writes
    assert order[:2] == [("mkdir", folder), ("set_security", folder)]
    pending, pol = ("write", folder + r"\scanready.pending"), ("write", folder + r"\Machine\Registry.pol")
    assert order.index(pending) < order.index(pol)
    assert order[-2:] == [("write", folder + r"\GPT.INI"), ("remove", folder + r"\scanready.pending")]
    assert [w[0] for w in ldap.writes][:3] == ["add", "add", "add"]
    assert ldap.writes[-2][1].endswith("['versionNumber']") and ldap.writes[-1][1].startswith(BASE)
    assert parse_gplink(ldap.objects[BASE.lower()][1]["gPLink"][0]) == [
        GpLink(dn, 0), GpLink(DEFAULT_GPO, 0)]

    ldap.writes.clear()
    sysvol.writes.clear()
    again = run(ldap, sysvol)
    assert not again.changed and again.actions == [] and again.version == 1
    assert ldap.writes == [] and sysvol.writes == []


def test_one_setting_changes_one_file_and_the_version_by_one() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    run(ldap, sysvol)
    folder = folder_of(ldap)
    inf = sysvol.read(folder + r"\Machine\Microsoft\Windows NT\SecEdit\GptTmpl.inf")
    sysvol.writes.clear()
    outcome = run(ldap, sysvol, policy=ScanPolicy(scanner_addresses=("192.0.2.10",), firewall_enabled=False))
    assert outcome.changes == ["DomainProfile\\EnableFirewall: not configured → 0"]
    assert outcome.version == 2 and ldap.gpo()[1]["versionNumber"] == ["2"]
    written = [path for op, path in sysvol.writes if op == "write"]
    assert written == [folder + r"\scanready.pending", folder + r"\Machine\Registry.pol", folder + r"\GPT.INI"]
    assert sysvol.read(folder + r"\Machine\Microsoft\Windows NT\SecEdit\GptTmpl.inf") == inf
    assert "version: 1\n" in outcome.before and "version: 2\n" in outcome.after


def test_an_interrupted_run_is_finished_without_a_second_bump() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    run(ldap, sysvol)
    folder = folder_of(ldap)
    # What a run killed after writing the files (version 2 reserved) and a temporary file leaves.
    off = ScanPolicy(scanner_addresses=("192.0.2.10",), firewall_enabled=False)
    content = apply_policy(GpoContent.parse(
        sysvol.read(folder + r"\Machine\Microsoft\Windows NT\SecEdit\GptTmpl.inf"),
        sysvol.read(folder + r"\Machine\Registry.pol")), policy_settings(off))
    sysvol.tree[folder + r"\scanready.pending"] = b"2"
    sysvol.tree[folder + r"\Machine\Registry.pol"] = render_registry_pol(content.pol)
    sysvol.tree[folder + r"\Machine\Registry.pol.scanready-tmp"] = b"PRe"
    outcome = run(ldap, sysvol, policy=off)
    assert outcome.changed and outcome.changes == [] and outcome.version == 2
    assert outcome.actions == [r"remove leftover Machine\Registry.pol.scanready-tmp", "set GPT.INI Version=2",
                               "set versionNumber 2", "clear the pending version record"]
    assert sorted(sysvol.listdir(folder + r"\Machine") or []) == [("Microsoft", True), ("Registry.pol", False)]
    assert not run(ldap, sysvol, policy=off).changed


def test_links_follow_the_request_and_leave_other_links_alone() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    ldap.objects[OU.lower()][1]["gPLink"] = [f"[LDAP://{DEFAULT_GPO};2]"]
    run(ldap, sysvol)
    dn = ldap.gpo()[0]
    outcome = run(ldap, sysvol, links=(OU.lower(), OU), enforced=True)
    assert outcome.links == [OU]  # as the directory spells it; the duplicate is dropped
    assert outcome.changes == [f"link {BASE}: linked → not linked", f"link {OU}: not linked → enforced"]
    assert ldap.objects[BASE.lower()][1]["gPLink"] == [f"[LDAP://{DEFAULT_GPO};0]"]
    assert ldap.objects[OU.lower()][1]["gPLink"] == [f"[LDAP://{dn};2][LDAP://{DEFAULT_GPO};2]"]
    assert outcome.version == 1  # links are not settings
    nowhere = run(ldap, sysvol, links=())
    assert nowhere.links == []
    assert ldap.objects[OU.lower()][1]["gPLink"] == [f"[LDAP://{DEFAULT_GPO};2]"]


def test_a_gplink_changed_meanwhile_is_not_overwritten() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    real_search = ldap.search

    def racing_search(base: str, ldap_filter: str, attributes: Any, **kw: Any) -> list[Entry]:
        found = real_search(base, ldap_filter, attributes, **kw)
        if base == BASE and kw.get("scope") == "base":  # someone links another GPO right after we read
            ldap.objects[BASE.lower()][1]["gPLink"] = [f"[LDAP://cn=other,{POLICIES};0][LDAP://{DEFAULT_GPO};0]"]
        return found
    ldap.search = racing_search  # type: ignore[method-assign]
    with pytest.raises(GpoStoreError, match="changed while this run updated it"):
        run(ldap, sysvol)
    assert ldap.objects[BASE.lower()][1]["gPLink"] == [f"[LDAP://cn=other,{POLICIES};0][LDAP://{DEFAULT_GPO};0]"]


@pytest.mark.parametrize(("links", "message"), [
    (("OU=Nope," + BASE,), "does not exist"),
    ((f"CN=Users,{BASE}",), "is a container, not a domain, organizational unit or site"),
    (("nonsense",), "is not a distinguished name"),
])
def test_bad_links_write_nothing(links: tuple[str, ...], message: str) -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with pytest.raises(ScanreadyError, match=message):  # the store's, the policy's or the directory's
        run(ldap, sysvol, links=links)
    assert ldap.writes == [] and sysvol.writes == []


def test_duplicates_are_refused_whatever_the_state() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    for guid in ("{00000000-0000-0000-0000-00000000000A}", "{00000000-0000-0000-0000-00000000000B}"):
        ldap.add(f"CN={guid},{POLICIES}", "groupPolicyContainer", {"displayName": NAME}, log=False)
    for state in ("present", "absent"):
        with pytest.raises(GpoStoreError, match=r"2 GPOs are named .*000A\}, \{.*000B\}. Nothing was changed"):
            run(ldap, sysvol, state=state)
    assert ldap.writes == [] and sysvol.writes == []


def test_unreadable_settings_file_stops_before_any_write() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    run(ldap, sysvol)
    folder = folder_of(ldap)
    sysvol.tree[folder + r"\Machine\Registry.pol"] = b"garbage"
    ldap.writes.clear()
    sysvol.writes.clear()
    with pytest.raises(GpoStoreError, match=r"PReg signature\. Nothing was changed"):
        run(ldap, sysvol, policy=ScanPolicy(scanner_addresses=("*",)))
    assert ldap.writes == [] and sysvol.writes == []


def test_absent_unlinks_then_deletes_folder_then_objects_children_first() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    run(ldap, sysvol, links=(BASE, OU))
    dn = ldap.gpo()[0]
    folder = folder_of(ldap)
    ldap.writes.clear()
    outcome = run(ldap, sysvol, state="absent")
    assert outcome.changed
    assert [w[0] for w in ldap.writes] == ["modify", "modify", "delete", "delete", "delete"]
    assert ldap.writes[-1] == ("delete", dn)
    assert sysvol.listdir(folder) is None
    assert ldap.objects[BASE.lower()][1]["gPLink"] == [f"[LDAP://{DEFAULT_GPO};0]"]
    assert "gPLink" not in ldap.objects[OU.lower()][1]
    assert not run(ldap, sysvol, state="absent").changed


def test_addresses_are_checked_before_anything() -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    with pytest.raises(GpoStoreError, match="scanner_addresses is required"):
        run(ldap, sysvol, policy=ScanPolicy())
    assert ldap.writes == [] and sysvol.writes == []


def test_smb_names() -> None:
    assert smb_credentials("admin@CORP.EXAMPLE.COM") == ("admin@CORP.EXAMPLE.COM", "")
    assert smb_credentials("CORP\\admin") == ("admin", "CORP")
    assert split_unc(r"\\corp.example.com\SysVol\corp.example.com\Policies\{X}") == (
        "SysVol", r"corp.example.com\Policies\{X}")
    with pytest.raises(Exception, match="not a"):
        split_unc(r"corp\sysvol")


def test_firewall_enabled_choices() -> None:
    from ansible_collections.scanready.windows.plugins.module_utils._gpo.options import firewall_choice
    assert firewall_choice(True) is True and firewall_choice("false") is False and firewall_choice("no") is False
    assert firewall_choice("Unmanaged") is None
    with pytest.raises(ValueError, match="true, false or unmanaged, not 'maybe'"):
        firewall_choice("maybe")


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("name", ["Default Domain Policy", NAME])
def test_the_default_domain_policy_is_never_written_or_removed_whatever_its_name(state: str, name: str) -> None:
    ldap, sysvol = FakeLdap(), FakeSysvol()
    ldap.objects[DEFAULT_GPO.lower()][1]["displayName"] = [name]  # renamed to the scan policy's name, or not
    for adopt in (False, True):
        request = Request(name, state, POLICY, None, False, adopt=adopt)
        with pytest.raises(GpoStoreError, match=r"is the domain's Default Domain Policy: .*Nothing was changed"):
            _gpo_store.run(ldap, lambda share: sysvol, request, "ex.test", False)  # type: ignore[arg-type]
    assert ldap.writes == [] and sysvol.writes == []


def test_absent_removes_only_what_present_would_write_into() -> None:
    """A GPO holding settings this collection does not write (a planted file) is refused, changed in nothing,
    unless adopted; the one it made is removed (test_absent_unlinks_then_deletes_folder_then_objects...)."""
    ldap, sysvol = FakeLdap(), FakeSysvol()
    run(ldap, sysvol)
    folder = folder_of(ldap)
    sysvol.tree[folder + r"\Machine\Scripts"] = None
    sysvol.tree[folder + r"\Machine\Scripts\startup.cmd"] = b"net user helpdesk /add"
    ldap.writes.clear()
    sysvol.writes.clear()
    with pytest.raises(GpoStoreError, match=r"not under the domain administrators' control: .*Scripts.*adopt it"):
        run(ldap, sysvol, state="absent")
    assert ldap.writes == [] and sysvol.writes == []
    adopted = Request(NAME, "absent", POLICY, None, False, adopt=True)
    assert _gpo_store.run(ldap, lambda share: sysvol, adopted, "ex.test", False).changed  # type: ignore[arg-type]
    assert sysvol.listdir(folder) is None and not [dn for dn in ldap.objects if "{" in dn and "31b2f340" not in dn]


def test_adoption_leaves_only_this_collections_lines_and_lists_what_it_removed() -> None:
    """Issue 21, item 5: a privilege right and another Restricted Groups line someone wrote into the GPO do not
    survive adoption silently: the files hold exactly this collection's settings, and each removal is named."""
    from ansible_collections.scanready.windows.plugins.module_utils._gpo.inf import InfDocument

    ldap, sysvol = FakeLdap(), FakeSysvol()
    run(ldap, sysvol)
    inf_path = folder_of(ldap) + r"\Machine\Microsoft\Windows NT\SecEdit\GptTmpl.inf"
    doc = InfDocument.parse(sysvol.tree[inf_path])
    doc.set("Privilege Rights", "SeDebugPrivilege", f"*{DOMAIN_SID}-1300")
    doc.set("Group Membership", f"*{DOMAIN_SID}-1300__Memberof", "*S-1-5-32-544")
    sysvol.tree[inf_path] = doc.render()
    adopted = Request(NAME, "present", POLICY, None, False, adopt=True)
    outcome = _gpo_store.run(ldap, lambda share: sysvol, adopted, "ex.test", False)  # type: ignore[arg-type]
    [removed] = [w for w in outcome.warnings if "removed 2:" in w]
    assert f"[Privilege Rights] SeDebugPrivilege = *{DOMAIN_SID}-1300" in removed
    assert f"[Group Membership] *{DOMAIN_SID}-1300__Memberof = *S-1-5-32-544" in removed
    text = sysvol.tree[inf_path][2:].decode("utf-16-le")
    assert "SeDebugPrivilege" not in text and "-1300__Memberof" not in text
    again = _gpo_store.run(ldap, lambda share: sysvol, adopted, "ex.test", False)  # type: ignore[arg-type]
    assert not again.changed and not [w for w in again.warnings if "removed" in w]
