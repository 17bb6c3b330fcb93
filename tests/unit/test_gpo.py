"""The pure GPO layer: file formats byte for byte, round trips, malformed input, versions, links, ACLs, settings."""
from __future__ import annotations

import struct

import pytest
from ansible_collections.scanready.windows.plugins.module_utils._acl import parse_sd
from ansible_collections.scanready.windows.plugins.module_utils._gpo.errors import GpoFormatError, GpoInputError
from ansible_collections.scanready.windows.plugins.module_utils._gpo.extensions import parse_extension_names
from ansible_collections.scanready.windows.plugins.module_utils._gpo.folder_acl import folder_security_descriptor
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gplink import (
    GPLINK_ENFORCED,
    GpLink,
    parse_gplink,
    render_gplink,
    with_link,
    without_link,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.gpt_ini import (
    join_version,
    parse_gpt_ini_version,
    plan_version,
    render_gpt_ini,
    split_version,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.inf import InfDocument
from ansible_collections.scanready.windows.plugins.module_utils._gpo.policy import (
    GpoContent,
    ScanPolicy,
    apply_policy,
    machine_extensions,
    policy_settings,
    remote_addresses,
    setting_changes,
    settings_text,
)
from ansible_collections.scanready.windows.plugins.module_utils._gpo.registry_pol import (
    REG_DWORD,
    PolEntry,
    parse_registry_pol,
    pol_get,
    pol_set,
    render_registry_pol,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap import DomainError
from ansible_collections.scanready.windows.plugins.module_utils._ldap.names import check_dn, dn_is_within, normalize_dn

# GptTmpl.inf as the Group Policy editor writes these settings, verbatim.
EXPECTED_INF_TEXT = (
    "[Unicode]\r\nUnicode=yes\r\n"
    '[Version]\r\nsignature="$CHICAGO$"\r\nRevision=1\r\n'
    "[System Access]\r\nEnableGuestAccount = 0\r\n"
    "[Registry Values]\r\n"
    "MACHINE\\System\\CurrentControlSet\\Control\\Lsa\\ForceGuest=4,0\r\n"
    "MACHINE\\System\\CurrentControlSet\\Control\\Lsa\\EveryoneIncludesAnonymous=4,0\r\n"
    "[Service General Setting]\r\n"
    '"RemoteRegistry",2,""\r\n"LanmanServer",2,""\r\n"MpsSvc",2,""\r\n'
)
EXPECTED_INF = b"\xff\xfe" + EXPECTED_INF_TEXT.encode("utf-16-le")
FIREWALL = r"SOFTWARE\Policies\Microsoft\WindowsFirewall\DomainProfile"

# The Default Domain Policy's nTSecurityDescriptor on a Samba 4.17 DC, and what Samba's own
# dsacl2fsacl makes of it (ndr_pack of the result): captured from the lab, the oracle for our translation.
DS_SD = bytes.fromhex(
    "010007901400000030000000000000004c0000000105000000000005150000006a932b411ef9d5b4530cef9d0002"
    "00000105000000000005150000006a932b411ef9d5b4530cef9d000200000400ec000800000000022400ff000f00"
    "0105000000000005150000006a932b411ef9d5b4530cef9d0002000000022400ff000f000105000000000005150000"
    "006a932b411ef9d5b4530cef9d07020000000a1400ff000f0001010000000000030000000000002400ff000f000105"
    "000000000005150000006a932b411ef9d5b4530cef9d0002000000021400ff000f0001010000000000051200000000"
    "0214009400020001010000000000050b0000000502280000010000010000008ffdacedb3ffd111b41d00a0c968f939"
    "01010000000000050b0000000002140094000200010100000000000509000000")
SAMBA_FOLDER_SD = bytes.fromhex(
    "010004901400000030000000000000004c0000000105000000000005150000006a932b411ef9d5b4530cef9d0002"
    "00000105000000000005150000006a932b411ef9d5b4530cef9d000200000400ec000800000000032400ff011f00"
    "0105000000000005150000006a932b411ef9d5b4530cef9d0002000000032400ff011f000105000000000005150000"
    "006a932b411ef9d5b4530cef9d07020000000b1400ff011f0001010000000000030000000000032400ff011f000105"
    "000000000005150000006a932b411ef9d5b4530cef9d0002000000031400ff011f0001010000000000051200000000"
    "031400a900120001010000000000050b0000000503280000000000010000008ffdacedb3ffd111b41d00a0c968f939"
    "01010000000000050b00000000031400a9001200010100000000000509000000")


def full_policy(**overrides: object) -> ScanPolicy:
    values: dict[str, object] = {"scanner_addresses": ("10.0.0.5", "192.0.2.0/24")}
    values.update(overrides)
    return ScanPolicy(**values)  # type: ignore[arg-type]


def applied(policy: ScanPolicy, content: GpoContent | None = None) -> GpoContent:
    return apply_policy(content or GpoContent.parse(None, None), policy_settings(policy))


def pol_entry_bytes(key: str, value: str, reg_type: int, data: bytes) -> bytes:
    """One PReg entry built by hand from MS-GPREG 2.2.1, independently of the code under test."""
    def u(text: str) -> bytes:
        return text.encode("utf-16-le")
    return (u("[") + u(key + "\0") + u(";") + u(value + "\0") + u(";") + struct.pack("<I", reg_type) + u(";")
            + struct.pack("<I", len(data)) + u(";") + data + u("]"))


# --- GptTmpl.inf ---------------------------------------------------------------------------------

def test_inf_for_the_article_is_byte_exact() -> None:
    assert applied(full_policy()).inf.render() == EXPECTED_INF


def test_inf_round_trip_is_identity() -> None:
    doc = InfDocument.parse(EXPECTED_INF)
    assert doc.render() == EXPECTED_INF
    assert InfDocument.parse(doc.render()).settings() == doc.settings()


def test_inf_keeps_unmanaged_sections_and_lines_in_windows_order() -> None:
    text = ("[Unicode]\r\nUnicode=yes\r\n[Registry Values]\r\nMACHINE\\Software\\X\\Y=4,1\r\n"
            "[Privilege Rights]\r\nSeNetworkLogonRight = *S-1-5-11\r\n[Kerberos Policy]\r\nMaxTicketAge = 10\r\n"
            '[Version]\r\nsignature="$CHICAGO$"\r\nRevision=1\r\n[Profile Description]\r\nDescription=x\r\n')
    doc = InfDocument.parse(b"\xff\xfe" + text.encode("utf-16-le"))
    out = applied(full_policy(), GpoContent(doc, [])).inf.render()[2:].decode("utf-16-le")
    assert out.index("[Kerberos Policy]") < out.index("[Registry Values]") < out.index("[Privilege Rights]")
    assert out.index("[Service General Setting]") < out.index("[Profile Description]")
    for kept in ("MACHINE\\Software\\X\\Y=4,1", "SeNetworkLogonRight = *S-1-5-11", "MaxTicketAge = 10",
                 "Description=x"):
        assert kept + "\r\n" in out
    assert out.index("MACHINE\\Software\\X\\Y=4,1") < out.index("ForceGuest=4,0")


def test_inf_changes_a_value_in_place_and_keeps_a_service_sddl() -> None:
    text = ('[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordAge = 1\r\nEnableGuestAccount = 1\r\n'
            'LockoutBadCount = 5\r\n[Service General Setting]\r\n"RemoteRegistry",4,"D:AR(A;;RP;;;AU)"\r\n')
    doc = InfDocument.parse(b"\xff\xfe" + text.encode("utf-16-le"))
    out = applied(full_policy(), GpoContent(doc, [])).inf
    assert out.sections["System Access"] == ["MinimumPasswordAge = 1", "EnableGuestAccount = 0", "LockoutBadCount = 5"]
    assert out.sections["Service General Setting"][0] == '"RemoteRegistry",2,"D:AR(A;;RP;;;AU)"'


def test_inf_tolerates_blank_lines_and_repeated_sections() -> None:
    text = "[Unicode]\r\nUnicode=yes\r\n\r\n[System Access]\r\nA = 1\r\n\r\n[System Access]\r\nB = 2\r\n"
    doc = InfDocument.parse(b"\xff\xfe" + text.encode("utf-16-le"))
    assert doc.sections["System Access"] == ["A = 1", "B = 2"]
    assert b"\r\x00\n\x00\r\x00\n\x00" not in doc.render()


@pytest.mark.parametrize(("data", "message"), [
    (EXPECTED_INF_TEXT.encode("utf-8"), "UTF-16LE with a byte-order mark"),
    (b"\xfe\xff" + EXPECTED_INF_TEXT.encode("utf-16-be"), "UTF-16LE with a byte-order mark"),
    (b"\xff\xfe" + "[Unicode]\r\n".encode("utf-16-le") + b"\x00\xd8", "not valid UTF-16LE"),
    (b"\xff\xfe" + "Unicode=yes\r\n[Unicode]\r\n".encode("utf-16-le"), "outside any [section]"),
    (b"\xff\xfe" + "[System Access]\r\nA = 1\r\n".encode("utf-16-le"), "no [Unicode] section"),
])
def test_inf_malformed(data: bytes, message: str) -> None:
    with pytest.raises(GpoFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        InfDocument.parse(data)


# --- Registry.pol --------------------------------------------------------------------------------

def test_registry_pol_is_byte_exact() -> None:
    entries = [PolEntry(FIREWALL, "EnableFirewall", 4, struct.pack("<I", 1)),
               PolEntry(FIREWALL + r"\RemoteAdminSettings", "RemoteAddresses", 1, "*\0".encode("utf-16-le"))]
    expected = (b"PReg" + struct.pack("<I", 1)
                + pol_entry_bytes(FIREWALL, "EnableFirewall", 4, b"\x01\x00\x00\x00")
                + pol_entry_bytes(FIREWALL + r"\RemoteAdminSettings", "RemoteAddresses", 1, b"*\x00\x00\x00"))
    assert render_registry_pol(entries) == expected
    assert parse_registry_pol(expected) == entries


def test_registry_pol_round_trip_with_odd_binary_data_and_empty_value() -> None:
    entries = [PolEntry(r"Software\A", "Bin", 3, b"\x01\x02\x03"), PolEntry(r"Software\B", "", 1, b"x\x00\x00\x00"),
               PolEntry(r"Software\C", "**del.Old", 1, b" \x00\x00\x00")]
    data = render_registry_pol(entries)
    assert parse_registry_pol(data) == entries
    assert render_registry_pol(parse_registry_pol(data)) == data
    assert parse_registry_pol(render_registry_pol([])) == []


@pytest.mark.parametrize(("data", "message"), [
    (b"", "PReg signature"),
    (b"REGP\x01\x00\x00\x00", "PReg signature"),
    (b"PReg\x02\x00\x00\x00", "version 2"),
    (b"PReg\x01\x00\x00\x00" + pol_entry_bytes("K", "V", 4, b"\x01\x00\x00\x00")[:-2], "malformed"),
    (b"PReg\x01\x00\x00\x00" + pol_entry_bytes("K", "V", 4, b"\x01\x00\x00\x00")[:-6], "past the end|malformed"),
    (b"PReg\x01\x00\x00\x00" + "[K".encode("utf-16-le"), "unterminated"),
    (b"PReg\x01\x00\x00\x00" + "[K\0;V\0;".encode("utf-16-le") + b"\x04\x00", "truncated"),
    (b"PReg\x01\x00\x00\x00" + pol_entry_bytes("K", "V", 4, b"\x01\x00\x00\x00").replace(b";\x00", b":\x00", 1),
     "malformed"),
    (b"PReg\x01\x00\x00\x00" + b"[\x00\x00\xdc\x00\x00;\x00", "not UTF-16LE"),
])
def test_registry_pol_malformed(data: bytes, message: str) -> None:
    with pytest.raises(GpoFormatError, match=message):
        parse_registry_pol(data)


def test_registry_pol_claimed_size_past_the_end() -> None:
    entry = bytearray(pol_entry_bytes("K", "V", 4, b"\x01\x00\x00\x00"))
    size_at = len("[K\0;V\0;".encode("utf-16-le")) + 6
    entry[size_at:size_at + 4] = struct.pack("<I", 999)
    with pytest.raises(GpoFormatError, match="past the end"):
        parse_registry_pol(b"PReg\x01\x00\x00\x00" + bytes(entry))


# --- GPT.INI and versions ------------------------------------------------------------------------

def test_gpt_ini() -> None:
    assert render_gpt_ini(65537) == b"[General]\r\nVersion=65537\r\n"
    assert parse_gpt_ini_version(b"[General]\r\nVersion=65537\r\n") == 65537
    windows = b"[General]\r\nversion=3\r\ndisplayName=New Group Policy Object\r\n"
    updated = render_gpt_ini(4, windows)
    assert updated == b"[General]\r\nVersion=4\r\ndisplayName=New Group Policy Object\r\n"
    assert parse_gpt_ini_version(updated) == 4


@pytest.mark.parametrize("data", [b"", b"[General]\r\n", b"[Other]\r\nVersion=1\r\n", b"[General]\r\nVersion=x\r\n",
                                  b"[General]\r\nVersion=-1\r\n", b"[General]\r\nVersion=4294967296\r\n"])
def test_gpt_ini_malformed(data: bytes) -> None:
    with pytest.raises(GpoFormatError):
        parse_gpt_ini_version(data)
    if b"Version" not in data:
        with pytest.raises(GpoFormatError):
            render_gpt_ini(1, data)


def test_version_halves() -> None:
    assert split_version(0x00030005) == (3, 5)
    assert join_version(3, 5) == 0x00030005
    with pytest.raises(GpoInputError):
        join_version(0, 0x10000)


@pytest.mark.parametrize(("ldap", "gpt", "pending", "changes", "expected"), [
    (0, None, None, True, 1),                  # new GPO
    (7, 7, None, False, 7),                    # nothing to do
    (7, 7, None, True, 8),                     # one change, one step
    (0x20007, 0x20007, None, True, 0x20008),   # the user half is kept
    (7, 7, 8, True, 8),                        # killed while writing files: the reserved 8 is reused
    (7, 7, 8, False, 8),                       # killed after the files, before the bump
    (7, 8, 8, False, 8),                       # killed between GPT.INI and LDAP
    (8, 8, 8, False, 8),                       # killed before the record was cleared: no extra bump
    (7, 8, 8, True, 9),                        # 8 may have been seen with other files: move past it
    (7, 7, -1, False, 8),                      # unreadable record: bump to be safe
    (7, 9, None, False, 9),                    # versions disagree: both go to the higher
])
def test_plan_version(ldap: int, gpt: int | None, pending: int | None, changes: bool, expected: int) -> None:
    assert plan_version(ldap, gpt, pending, changes) == expected


def test_plan_version_at_the_limit() -> None:
    with pytest.raises(GpoInputError, match="maximum"):
        plan_version(0xFFFF, 0xFFFF, None, True)


# --- gPLink, DNs and extension names -------------------------------------------------------------

GPO_DN = "CN={AAAAAAAA-0000-0000-0000-000000000001},CN=Policies,CN=System,DC=ex,DC=test"
DEFAULT_DN = "CN={31B2F340-016D-11D2-945F-00C04FB984F9},CN=Policies,CN=System,DC=ex,DC=test"


def test_gplink_round_trip_and_other_links_untouched() -> None:
    value = f"[LDAP://{DEFAULT_DN};0][LDAP://cn=other,cn=policies,cn=system,DC=ex,DC=test;3]"
    links = parse_gplink(value)
    assert links == [GpLink(DEFAULT_DN, 0), GpLink("cn=other,cn=policies,cn=system,DC=ex,DC=test", 3)]
    assert render_gplink(links) == value
    added = with_link(links, GPO_DN, GPLINK_ENFORCED)
    assert added == [GpLink(GPO_DN, 2), *links]
    assert with_link(added, GPO_DN.lower(), 0) == [GpLink(GPO_DN, 0), *links]
    assert without_link(added, GPO_DN.replace(",", ", ")) == links
    assert parse_gplink("") == [] and parse_gplink(" ") == []


@pytest.mark.parametrize("value", ["[LDAP://x;0", "LDAP://x;0]", "[LDAP://x;z]", "[LDAP://x;0]junk", "[ldap//x;0]"])
def test_gplink_malformed(value: str) -> None:
    with pytest.raises(GpoFormatError):
        parse_gplink(value)


def test_dn_checks() -> None:
    assert check_dn(" OU=Servers,DC=ex,DC=test ") == "OU=Servers,DC=ex,DC=test"
    assert normalize_dn("OU=A\\,B, DC=Ex") == "ou=a\\,b,dc=ex"
    assert dn_is_within("OU=Servers,DC=ex,DC=test", "dc=EX,dc=test")
    assert dn_is_within("DC=ex,DC=test", "DC=ex,DC=test")
    assert not dn_is_within("DC=other,DC=test", "DC=ex,DC=test")
    assert not dn_is_within("OU=x,DC=notex,DC=test", "DC=ex,DC=test")
    for bad in ("", "Servers", "OU=,DC=ex", "OU=a,,DC=ex", "1OU=a,DC=ex"):
        with pytest.raises(DomainError, match="not a distinguished name"):
            check_dn(bad)


def test_extension_names() -> None:
    ours = ("[{35378EAC-683F-11D2-A89A-00C04FBBCFA2}{D02B1F72-3407-48AE-BA88-E8213C6761F1}]"
            "[{827D319E-6EAC-11D2-A4EA-00C04F79F83A}{803E14A0-B4FB-11D0-A0D0-00A0C90F574B}]")
    content = applied(full_policy())
    assert machine_extensions("", content) == ours  # as Windows writes it, verbatim
    other = "[{00000000-0000-0000-0000-000000000000}{0f6b957e-509e-11d1-a7cc-0000f87571e3}]"
    merged = machine_extensions(other, content)
    assert merged == other.upper() + ours
    no_pol = applied(full_policy(firewall_enabled=None, remote_admin_exception=False, file_print_exception=False,
                                 icmp_echo_exception=False))
    assert machine_extensions(ours, no_pol) == ours[ours.index("][") + 1:]
    with pytest.raises(GpoFormatError):
        parse_extension_names("[{nope}]")


# --- Security descriptors ------------------------------------------------------------------------

def test_folder_sd_matches_samba_dsacl2fsacl_byte_for_byte() -> None:
    folder = folder_security_descriptor(DS_SD)
    assert folder.render() == SAMBA_FOLDER_SD
    assert parse_sd(SAMBA_FOLDER_SD).comparable() == folder.comparable()
    assert parse_sd(DS_SD).comparable() != folder.comparable()


def _ace(ace_type: int, flags: int, mask: int, sid: bytes) -> bytes:
    return struct.pack("<BBHI", ace_type, flags, 8 + len(sid), mask) + sid


def test_folder_sd_drops_deny_and_pre_windows_2000_aces() -> None:
    owner = bytes([1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0])  # SYSTEM
    aces = [_ace(1, 0, 0x10, owner),  # deny
            _ace(0, 0x12, 0x14, bytes([1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x2A, 0x02, 0, 0])),
            _ace(0, 0x10, 0x34, owner)]  # inherited read+list+write
    acl = b"".join(aces)
    sd = (struct.pack("<BBHIIII", 1, 0, 0x8004, 20, 20, 0, 32) + owner
          + struct.pack("<BBHHH", 2, 0, 8 + len(acl), len(aces), 0) + acl)
    folder = folder_security_descriptor(sd)
    assert len(folder.dacl) == 1
    assert folder.dacl[0].flags == 0x10 | 0x03
    assert folder.dacl[0].mask == 0x001001BF  # SYNCHRONIZE + file read and write rights
    assert parse_sd(folder.render()) == folder


@pytest.mark.parametrize("data", [b"\x01\x00", DS_SD[:40], DS_SD[:0x60]])
def test_security_descriptor_truncated(data: bytes) -> None:
    with pytest.raises(GpoFormatError, match="nTSecurityDescriptor is malformed"):
        folder_security_descriptor(data)


def test_folder_sd_needs_a_dacl() -> None:
    no_dacl = struct.pack("<BBHIIII", 1, 0, 0x8000, 0, 0, 0, 0)
    with pytest.raises(GpoFormatError, match="DACL"):
        folder_security_descriptor(no_dacl)


# --- Addresses -----------------------------------------------------------------------------------

def test_remote_addresses() -> None:
    assert remote_addresses(["*"]) == "*"
    assert remote_addresses([" 10.0.0.5", "192.0.2.0/24", "10.0.0.5", "2001:db8::/64"]) == \
        "10.0.0.5,192.0.2.0/24,2001:db8::/64"


@pytest.mark.parametrize(("addresses", "message"), [
    ([], "empty"),
    (["*", "10.0.0.1"], "mixes"),
    (["10.0.0.256"], "not an IP address"),
    (["scanner.example.com"], "not an IP address"),
    (["10.0.0.1/33"], "not an IP address"),
    (["10.0.0.1/24"], "host bits set; did you mean 10.0.0.0/24"),
    (["10.0.0.1,10.0.0.2"], "no commas"),
    (["fe80::1%x,*"], "no commas"),  # '*' smuggled into RemoteAddresses (issue 21, item 7)
    (["fe80::1%eth0"], "no %zone index"),
])
def test_remote_addresses_rejected(addresses: list[str], message: str) -> None:
    with pytest.raises(GpoInputError, match=message):
        remote_addresses(addresses)


# --- The scan policy as settings -----------------------------------------------------------------

def test_addresses_required_unless_star_or_not_needed() -> None:
    with pytest.raises(GpoInputError, match="scanner_addresses is required"):
        policy_settings(ScanPolicy())
    assert policy_settings(ScanPolicy(scanner_addresses=("*",)))
    assert policy_settings(ScanPolicy(remote_admin_exception=False, file_print_exception=False))
    with pytest.raises(GpoInputError, match="not an IP address"):  # validated even when unused
        policy_settings(ScanPolicy(remote_admin_exception=False, file_print_exception=False,
                                   scanner_addresses=("x",)))


def test_registry_pol_for_the_article() -> None:
    pol = applied(full_policy(firewall_enabled=True)).pol
    sz = ("10.0.0.5,192.0.2.0/24\0").encode("utf-16-le")
    one = struct.pack("<I", 1)
    assert pol == [PolEntry(FIREWALL, "EnableFirewall", 4, one),
                   PolEntry(FIREWALL + r"\RemoteAdminSettings", "Enabled", 4, one),
                   PolEntry(FIREWALL + r"\RemoteAdminSettings", "RemoteAddresses", 1, sz),
                   PolEntry(FIREWALL + r"\Services\FileAndPrint", "Enabled", 4, one),
                   PolEntry(FIREWALL + r"\Services\FileAndPrint", "RemoteAddresses", 1, sz),
                   PolEntry(FIREWALL + r"\IcmpSettings", "AllowInboundEchoRequest", 4, one)]


def test_firewall_enabled_true_false_unmanaged() -> None:
    on = applied(full_policy(firewall_enabled=True))
    off = applied(full_policy(firewall_enabled=False), on)
    assert pol_get(off.pol, FIREWALL, "EnableFirewall") == PolEntry(FIREWALL, "EnableFirewall", 4, b"\0\0\0\0")
    assert off.pol.index(pol_get(off.pol, FIREWALL, "EnableFirewall")) == 0  # changed in place
    # unmanaged (the default) removes the value an earlier run wrote: the choice goes back to whatever else sets it
    unmanaged = applied(full_policy(), off)
    assert pol_get(unmanaged.pol, FIREWALL, "EnableFirewall") is None and unmanaged.pol == off.pol[1:]
    assert unmanaged.show(policy_settings(full_policy()))["DomainProfile\\EnableFirewall"] == "not configured"
    fresh = applied(full_policy(firewall_enabled=None))
    assert pol_get(fresh.pol, FIREWALL, "EnableFirewall") is None


def test_switching_a_setting_off_removes_only_it() -> None:
    before = applied(full_policy())
    after = applied(full_policy(sharing_model_classic=False, icmp_echo_exception=False, server_automatic=False),
                    before)
    shown = after.show(policy_settings(full_policy()))
    assert shown["ForceGuest"] == shown["IcmpSettings\\AllowInboundEchoRequest"] == "not configured"
    assert shown["LanmanServer start mode"] == "not configured"
    assert shown["EveryoneIncludesAnonymous"] == "0"
    assert len(after.pol) == len(before.pol) - 1


def test_unmanaged_settings_are_preserved_and_apply_is_idempotent() -> None:
    foreign_pol = [PolEntry(r"Software\Policies\Vendor", "Keep", 4, struct.pack("<I", 9))]
    text = "[Unicode]\r\nUnicode=yes\r\n[Privilege Rights]\r\nSeDenyNetworkLogonRight = *S-1-5-32-546\r\n"
    start = GpoContent(InfDocument.parse(b"\xff\xfe" + text.encode("utf-16-le")), foreign_pol)
    once = applied(full_policy(), start)
    twice = applied(full_policy(), once)
    assert once.same_settings(twice)
    assert once.pol[0] == foreign_pol[0]
    assert once.inf.sections["Privilege Rights"] == ["SeDenyNetworkLogonRight = *S-1-5-32-546"]
    reparsed = GpoContent.parse(once.inf.render(), render_registry_pol(once.pol))
    assert reparsed.same_settings(once)
    assert not start.same_settings(once)


def test_settings_level_diff() -> None:
    settings = policy_settings(full_policy(firewall_enabled=True))
    text = ("[Unicode]\r\nUnicode=yes\r\n[Registry Values]\r\nMACHINE\\System\\CurrentControlSet\\Control\\Lsa\\"
            'ForceGuest=4,1\r\n[Service General Setting]\r\n"RemoteRegistry",3,""\r\n')
    current = GpoContent(InfDocument.parse(b"\xff\xfe" + text.encode("utf-16-le")), [])
    before = current.show(settings)
    after = applied(full_policy(firewall_enabled=True), current).show(settings)
    changes = setting_changes(before, after)
    assert "ForceGuest: 1 → 0" in changes
    assert "RemoteRegistry start mode: 3 (Manual) → 2 (Automatic)" in changes
    assert "RemoteAdminSettings\\RemoteAddresses: not configured → 10.0.0.5,192.0.2.0/24" in changes
    assert len(changes) == len(settings)
    assert setting_changes(after, after) == []
    assert "ForceGuest: 0\n" in settings_text(after)


def test_a_new_managed_value_goes_before_the_managed_values_that_follow_it() -> None:
    """The firewall switch turned on later lands where a first run would have written it."""
    foreign = PolEntry("Software\\Policies\\Vendor", "Kept", REG_DWORD, struct.pack("<I", 7))
    later = PolEntry("SOFTWARE\\Policies\\B", "Enabled", REG_DWORD, struct.pack("<I", 1))
    entries = pol_set([foreign, later], "SOFTWARE\\Policies\\A", "On", REG_DWORD, struct.pack("<I", 0),
                      followers=[("software\\policies\\b", "enabled")])
    assert [(e.key, e.value) for e in entries] == [(foreign.key, "Kept"), ("SOFTWARE\\Policies\\A", "On"),
                                                   (later.key, "Enabled")]
    assert pol_set(entries, "SOFTWARE\\Policies\\A", "On", REG_DWORD, None, followers=[("x", "y")]) == [foreign, later]
