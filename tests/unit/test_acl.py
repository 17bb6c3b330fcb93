"""Security descriptors: parsing bounds-checked, rendering byte for byte, and the rule for who controls an object."""
from __future__ import annotations

import struct

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _acl
from ansible_collections.scanready.windows.plugins.module_utils._acl import AclFormatError, parse_sd

from tests.unit.test_gpo import DS_SD

DOMAIN = "S-1-5-21-1093374826-3033921822-2649689171"
USER = DOMAIN + "-1105"


def test_parse_samba_default_domain_policy() -> None:
    sd = parse_sd(DS_SD)
    assert sd.owner == sd.group == DOMAIN + "-512"
    assert [ace.sid for ace in sd.dacl][:3] == [DOMAIN + "-512", DOMAIN + "-519", _acl.CREATOR_OWNER]
    apply = sd.dacl[6]
    assert (apply.sid, apply.mask, apply.object_type) == (
        _acl.AUTHENTICATED_USERS, 0x100, "edacfd8f-ffb3-11d1-b41d-00a0c968f939")
    assert parse_sd(sd.render()) == sd


def test_default_gpo_acl_offends_nobody() -> None:
    privileged = _acl.privileged_sids(DOMAIN, DOMAIN, None)
    assert _acl.offending_aces(parse_sd(DS_SD), privileged, _acl.DS_DANGEROUS_MASK) == []


def with_aces(*aces: _acl.Ace, owner: str = DOMAIN + "-512") -> _acl.SecurityDescriptor:
    return _acl.SecurityDescriptor(_acl.SE_DACL_PRESENT | _acl.SE_SELF_RELATIVE, owner, owner, tuple(aces))


@pytest.mark.parametrize(("flags", "mask", "offends"), [
    (0, 0x000F01FF, True),  # full control
    (0, _acl.WRITE_DAC, True),
    (0, _acl.DS_WRITE_PROP, True),
    (0, _acl.DS_CREATE_CHILD, True),
    (_acl.CONTAINER_INHERIT | _acl.INHERIT_ONLY, _acl.GENERIC_ALL, True),  # children are part of the GPO
    (0, 0x00020094, False),  # read
    (_acl.INHERITED, 0x000F01FF, False),  # from the parent: the domain's administrators' business
])
def test_offending_aces(flags: int, mask: int, offends: bool) -> None:
    ace = _acl.make_ace(_acl.ACCESS_ALLOWED, flags, mask, USER)
    sd = parse_sd(with_aces(ace).render())
    found = _acl.offending_aces(sd, _acl.privileged_sids(DOMAIN, DOMAIN, None), _acl.DS_DANGEROUS_MASK)
    assert found == ([ace] if offends else [])
    assert _acl.offending_aces(sd, _acl.privileged_sids(DOMAIN, DOMAIN, USER), _acl.DS_DANGEROUS_MASK) == []


def test_deny_and_creator_owner_inherit_only_are_fine() -> None:
    sd = with_aces(_acl.make_ace(_acl.ACCESS_DENIED, 0, 0x000F01FF, USER),
                   _acl.make_ace(_acl.ACCESS_ALLOWED, _acl.CONTAINER_INHERIT | _acl.INHERIT_ONLY, 0x000F01FF,
                                 _acl.CREATOR_OWNER))
    assert _acl.offending_aces(sd, set(), _acl.FILE_DANGEROUS_MASK) == []


def test_what_the_parent_folder_grants_every_subfolder_counts_as_inherited() -> None:
    """Samba's SYSVOL copies the Policies folder's ACEs into a new GPO folder without the inherited flag."""
    creators = DOMAIN + "-520"  # Group Policy Creator Owners: modify on Policies, inherited by every GPO folder
    modify = 0x001301BF
    copied = _acl.make_ace(_acl.ACCESS_ALLOWED, _acl.OBJECT_INHERIT | _acl.CONTAINER_INHERIT, modify, creators)
    parent = with_aces(copied)
    more = _acl.make_ace(_acl.ACCESS_ALLOWED, 0, modify | _acl.WRITE_DAC, creators)
    other = _acl.make_ace(_acl.ACCESS_ALLOWED, 0, modify, USER)
    folder = with_aces(copied, more, other)
    assert _acl.offending_aces(folder, set(), _acl.FILE_DANGEROUS_MASK, parent=parent) == [more, other]
    assert _acl.offending_aces(folder, set(), _acl.FILE_DANGEROUS_MASK) == [copied, more, other]
    files_only = with_aces(_acl.make_ace(_acl.ACCESS_ALLOWED, _acl.OBJECT_INHERIT, modify, creators))
    assert _acl.offending_aces(folder, set(), _acl.FILE_DANGEROUS_MASK, parent=files_only) == [copied, more, other]


def test_extended_rights_only_when_asked() -> None:
    reset = "00299570-246d-11d0-a768-00aa006e0529"
    ace = _acl.make_ace(_acl.ACCESS_ALLOWED, 0, _acl.DS_CONTROL_ACCESS, USER)
    sd = with_aces(ace)
    assert _acl.offending_aces(sd, set(), _acl.DS_DANGEROUS_MASK) == []
    assert _acl.offending_aces(sd, set(), _acl.DS_DANGEROUS_MASK, dangerous_rights={reset}) == [ace]
    assert "allow " + USER in ace.describe()
    assert "Domain Admins" in _acl.make_ace(0, 0, 1, DOMAIN + "-512").describe(DOMAIN)


def test_every_truncation_is_an_acl_format_error() -> None:
    for end in range(len(DS_SD)):
        try:
            parse_sd(DS_SD[:end])
        except AclFormatError:
            continue


@pytest.mark.parametrize("data", [
    struct.pack("<BBHIIII", 1, 0, 0x8004, 0xFFFFFFF0, 0, 0, 0),  # owner offset past the end
    struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 20) + struct.pack("<BBHHH", 2, 0, 8, 5, 0),  # 5 ACEs, no room
    struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 20) + struct.pack("<BBHHH", 2, 0, 0xFFFF, 0, 0),
    struct.pack("<BBHIIII", 1, 0, 0x8004, 20, 0, 0, 0) + bytes([1, 200, 0, 0, 0, 0, 0, 5]),  # 200 sub-authorities
    struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 20) + struct.pack("<BBHHH", 2, 0, 24, 1, 0)
    + struct.pack("<BBHI", 5, 0, 16, 1) + struct.pack("<I", 3) + b"\0" * 4,  # object ACE claiming GUIDs
    b"\x02" + b"\0" * 19,
])
def test_malformed(data: bytes) -> None:
    with pytest.raises(AclFormatError):
        parse_sd(data)


def test_sid_round_trip_and_bad_sids() -> None:
    assert _acl.sid_from_bytes(_acl.sid_to_bytes(USER))[0] == USER
    for bad in ("S-1", "X-1-5", "S-1-5-x", "S-1-5-" + "-".join(["1"] * 16), "S-1-5-4294967296"):
        with pytest.raises(AclFormatError):
            _acl.sid_to_bytes(bad)
