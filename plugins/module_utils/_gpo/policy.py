# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan policy: the operator's choices, the settings they stand for in GptTmpl.inf and Registry.pol, and the
settings-level view of a GPO's content (apply, show, changes).
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Union

from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoInputError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.extensions import (
    REGISTRY_CSE,
    SECURITY_CSE,
    parse_extension_names,
    render_extension_names,
    with_extension,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.inf import (
    REGISTRY_VALUES,
    SERVICES,
    SYSTEM_ACCESS,
    InfDocument,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.privilege import (
    NOT_CONFIGURED,
    MemberOf,
    Principal,
    RightMember,
    privilege_settings,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.registry_pol import (
    REG_DWORD,
    REG_SZ,
    PolEntry,
    dword,
    parse_registry_pol,
    pol_get,
    pol_set,
    reg_sz,
)


def remote_addresses(addresses: Sequence[str]) -> str:
    """The firewall exceptions' RemoteAddresses: '*' or a comma-separated list of addresses/CIDRs."""
    cleaned = [str(address).strip() for address in addresses]
    if not cleaned:
        raise GpoInputError("scanner_addresses is empty; list the scanner appliances' addresses, or ['*']")
    if "*" in cleaned:
        if len(cleaned) > 1:
            raise GpoInputError("scanner_addresses mixes '*' with addresses; use ['*'] alone or only addresses")
        return "*"
    out: list[str] = []
    for address in cleaned:
        # The value is one comma-separated list, and a zone index means nothing to another host's firewall.
        if "," in address or "%" in address:
            raise GpoInputError(f"scanner_addresses: {address!r} is not one IP address or CIDR network (no commas, "
                                "no %zone index); list each address as its own item")
        try:
            if "/" in address:
                text = str(ipaddress.ip_network(address, strict=True))
            else:
                text = str(ipaddress.ip_address(address))
        except ValueError as exc:
            if "host bits set" in str(exc):
                network = ipaddress.ip_network(address, strict=False)
                raise GpoInputError(f"scanner_addresses: {address!r} has host bits set; "
                                    f"did you mean {network}?") from None
            raise GpoInputError(f"scanner_addresses: {address!r} is not an IP address or CIDR network") from None
        if text not in out:
            out.append(text)
    return ",".join(out)


FIREWALL_KEY: Final = r"SOFTWARE\Policies\Microsoft\WindowsFirewall\DomainProfile"
REMOTE_ADMIN_KEY: Final = FIREWALL_KEY + r"\RemoteAdminSettings"
FILE_PRINT_KEY: Final = FIREWALL_KEY + r"\Services\FileAndPrint"
ICMP_KEY: Final = FIREWALL_KEY + r"\IcmpSettings"
LSA: Final = r"MACHINE\System\CurrentControlSet\Control\Lsa"
SERVICE_MODES: Final = {"2": "Automatic", "3": "Manual", "4": "Disabled"}


@dataclass(frozen=True)
class ScanPolicy:
    """The operator's choices; each setting True = configure it, False = leave it out of the GPO."""

    sharing_model_classic: bool = True
    guest_account_disabled: bool = True
    everyone_includes_anonymous_disabled: bool = True
    remote_registry_automatic: bool = True
    server_automatic: bool = True
    windows_firewall_automatic: bool = True
    firewall_enabled: bool | None = None  # None (unmanaged): no EnableFirewall in the GPO; another GPO decides
    remote_admin_exception: bool = True
    file_print_exception: bool = True
    icmp_echo_exception: bool = True
    scanner_addresses: tuple[str, ...] | None = None
    scanner_group: Principal | None = None  # resolved; None: not found, so there is no entry of it to manage
    local_admins: bool = False  # the scanner group is a member of each host's BUILTIN\Administrators
    scanner_account: Principal | None = None  # resolved; None: not found
    deny_interactive_logon: bool = False  # the account is denied local, RDP, batch and service logon

    def needs_addresses(self) -> bool:
        return self.remote_admin_exception or self.file_print_exception

    def remote_addresses(self) -> str | None:
        """Validated RemoteAddresses, or None when no exception needs it."""
        validated = None if self.scanner_addresses is None else remote_addresses(self.scanner_addresses)
        if not self.needs_addresses():
            return None
        if validated is None:
            raise GpoInputError("scanner_addresses is required for the remote administration and file and "
                                "printer sharing exceptions: list the scanner appliances' addresses, or pass "
                                "['*'] to allow every address")
        return validated


@dataclass(frozen=True)
class InfSetting:
    label: str
    section: str
    key: str
    value: str | None  # None: removed from the GPO

    def current(self, doc: InfDocument) -> str | None:
        return doc.get(self.section, self.key)

    def show(self, value: str | None) -> str:
        if value is None:
            return NOT_CONFIGURED
        if self.section == SERVICES:
            return f"{value} ({SERVICE_MODES.get(value, 'unknown')})"
        if self.section == REGISTRY_VALUES:
            return value.partition(",")[2] or value
        return value


@dataclass(frozen=True)
class PolSetting:
    label: str
    key: str
    value_name: str
    type: int
    data: bytes | None  # None: removed from the GPO

    def current(self, entries: Sequence[PolEntry]) -> PolEntry | None:
        return pol_get(entries, self.key, self.value_name)

    def show(self, entry: PolEntry | None) -> str:
        return NOT_CONFIGURED if entry is None else entry.display()


Setting = Union[InfSetting, PolSetting, MemberOf, RightMember]  # noqa: UP007 (a runtime alias: pylint, Python 3.9)


def policy_settings(policy: ScanPolicy) -> list[Setting]:
    """Every setting the policy manages, with its wanted value (None = not configured)."""
    def when(flag: bool, value: str) -> str | None:
        return value if flag else None

    def pol(flag: bool, label: str, key: str, name: str, reg_type: int, data: bytes) -> PolSetting:
        return PolSetting(label, key, name, reg_type, data if flag else None)

    addresses = policy.remote_addresses() or ""
    settings: list[Setting] = [
        InfSetting("EnableGuestAccount", SYSTEM_ACCESS, "EnableGuestAccount", when(policy.guest_account_disabled, "0")),
        InfSetting("ForceGuest", REGISTRY_VALUES, LSA + r"\ForceGuest", when(policy.sharing_model_classic, "4,0")),
        InfSetting("EveryoneIncludesAnonymous", REGISTRY_VALUES, LSA + r"\EveryoneIncludesAnonymous",
                   when(policy.everyone_includes_anonymous_disabled, "4,0")),
        InfSetting("RemoteRegistry start mode", SERVICES, "RemoteRegistry",
                   when(policy.remote_registry_automatic, "2")),
        InfSetting("LanmanServer start mode", SERVICES, "LanmanServer", when(policy.server_automatic, "2")),
        InfSetting("MpsSvc start mode", SERVICES, "MpsSvc", when(policy.windows_firewall_automatic, "2")),
    ]
    settings += privilege_settings(policy.scanner_group, policy.local_admins, policy.scanner_account,
                                   policy.deny_interactive_logon)
    # unmanaged removes an EnableFirewall an earlier run wrote: the choice goes back to whatever else sets it
    settings += [
        pol(policy.firewall_enabled is not None, r"DomainProfile\EnableFirewall", FIREWALL_KEY, "EnableFirewall",
            REG_DWORD, dword(1 if policy.firewall_enabled else 0)),
        pol(policy.remote_admin_exception, r"RemoteAdminSettings\Enabled", REMOTE_ADMIN_KEY, "Enabled",
            REG_DWORD, dword(1)),
        pol(policy.remote_admin_exception, r"RemoteAdminSettings\RemoteAddresses", REMOTE_ADMIN_KEY,
            "RemoteAddresses", REG_SZ, reg_sz(addresses)),
        pol(policy.file_print_exception, r"FileAndPrint\Enabled", FILE_PRINT_KEY, "Enabled", REG_DWORD, dword(1)),
        pol(policy.file_print_exception, r"FileAndPrint\RemoteAddresses", FILE_PRINT_KEY, "RemoteAddresses",
            REG_SZ, reg_sz(addresses)),
        pol(policy.icmp_echo_exception, r"IcmpSettings\AllowInboundEchoRequest", ICMP_KEY,
            "AllowInboundEchoRequest", REG_DWORD, dword(1)),
    ]
    return settings


@dataclass
class GpoContent:
    """The two settings files of the GPO's machine half."""

    inf: InfDocument
    pol: list[PolEntry]

    @classmethod
    def parse(cls, inf: bytes | None, pol: bytes | None) -> GpoContent:
        return cls(InfDocument.parse(inf) if inf else InfDocument(), parse_registry_pol(pol) if pol else [])

    def not_in(self, other: GpoContent) -> list[str]:
        """What self holds that other does not: GptTmpl.inf entries and Registry.pol values, as an administrator
        reads them."""
        kept = {(entry.key.lower(), entry.value.lower(), entry.type, entry.data) for entry in other.pol}
        return [f"GptTmpl.inf {line}" for line in self.inf.lines_not_in(other.inf)] + [
            f"Registry.pol {entry.key}\\{entry.value}" for entry in self.pol
            if (entry.key.lower(), entry.value.lower(), entry.type, entry.data) not in kept]

    def same_settings(self, other: GpoContent) -> bool:
        return self.inf.settings() == other.inf.settings() and self.pol == other.pol

    def show(self, settings: Sequence[Setting]) -> dict[str, str]:
        """label -> value as an administrator reads it, for each managed setting."""
        return {s.label: self._shown(s) for s in settings}

    def _shown(self, setting: Setting) -> str:
        if isinstance(setting, InfSetting):
            return setting.show(setting.current(self.inf))
        if isinstance(setting, PolSetting):
            return setting.show(setting.current(self.pol))
        return setting.show(self.inf)


def apply_policy(content: GpoContent, settings: Sequence[Setting]) -> GpoContent:
    """A copy of content with every managed setting at its wanted value; everything else untouched."""
    inf = InfDocument({name: list(lines) for name, lines in content.inf.sections.items()})
    pol = list(content.pol)
    pol_order = [(s.key, s.value_name) for s in settings if isinstance(s, PolSetting)]
    for setting in settings:
        if isinstance(setting, InfSetting):
            inf.set(setting.section, setting.key, setting.value)
        elif isinstance(setting, (MemberOf, RightMember)):
            setting.apply(inf)
        else:
            followers = pol_order[pol_order.index((setting.key, setting.value_name)) + 1:]
            pol = pol_set(pol, setting.key, setting.value_name, setting.type, setting.data, followers)
    return GpoContent(inf, pol)


def setting_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """'ForceGuest: 1 → 0' for each setting whose shown value differs."""
    return [f"{label}: {before.get(label, NOT_CONFIGURED)} → {value}"
            for label, value in after.items() if before.get(label, NOT_CONFIGURED) != value]


def settings_text(shown: Mapping[str, str]) -> str:
    """The managed settings as lines, for Ansible's before/after diff."""
    return "".join(f"{label}: {value}\n" for label, value in shown.items())


def machine_extensions(current: str, content: GpoContent) -> str:
    """gPCMachineExtensionNames listing the CSEs whose file holds settings; other CSEs kept."""
    extensions = parse_extension_names(current)
    extensions = with_extension(extensions, REGISTRY_CSE, bool(content.pol))
    extensions = with_extension(extensions, SECURITY_CSE, bool(content.inf.settings()))
    return render_extension_names(extensions)
