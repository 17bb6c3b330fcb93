"""scan_gpo against the lab, with Samba as the oracle for every file and LDAP attribute it writes."""
from __future__ import annotations

import struct
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _gpo
from ansible_collections.scanready.windows.plugins.module_utils._gpo import (
    GpoContent,
    InfDocument,
    PolEntry,
    ScanPolicy,
)

from tests.lab_support import samba_python

pytestmark = pytest.mark.lab

# Samba's own readers: GptTmplInfParser and the PReg NDR. Each also writes the file back, which
# must give our bytes again (Samba writes exactly what Windows writes).
SAMBA_READ_FILES = r"""
import json, sys, tempfile, os
from samba.dcerpc import preg
from samba.ndr import ndr_unpack, ndr_pack
from samba.gp_parse.gp_inf import GptTmplInfParser
inf, pol = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2])
out = {}
if inf:
    parser = GptTmplInfParser()
    parser.parse(inf)
    out["inf"] = {name: section.param_list for name, section in parser.sections.items() if section.param_list}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "GptTmpl.inf")
        parser.write_binary(path)
        out["inf_rewritten_identical"] = open(path, "rb").read() == inf
if pol:
    parsed = ndr_unpack(preg.file, pol)
    out["pol"] = [[e.keyname, e.valuename, e.type, e.data if isinstance(e.data, (int, str)) else list(e.data)]
                  for e in parsed.entries]
    out["pol_header"] = [parsed.header.signature, parsed.header.version, parsed.num_entries]
    out["pol_repacked_identical"] = ndr_pack(parsed) == pol
print(json.dumps(out))
"""
FIREWALL = r"SOFTWARE\Policies\Microsoft\WindowsFirewall\DomainProfile"
LSA = r"MACHINE\System\CurrentControlSet\Control\Lsa"


def samba_reads(inf: bytes, pol: bytes) -> dict[str, Any]:
    result: dict[str, Any] = samba_python(SAMBA_READ_FILES, inf.hex(), pol.hex())
    return result


def expected_pol(addresses: str, firewall: int | None) -> list[list[object]]:
    entries: list[list[object]] = [] if firewall is None else [[FIREWALL, "EnableFirewall", 4, firewall]]
    return [
        *entries,
        [FIREWALL + r"\RemoteAdminSettings", "Enabled", 4, 1],
        [FIREWALL + r"\RemoteAdminSettings", "RemoteAddresses", 1, addresses],
        [FIREWALL + r"\Services\FileAndPrint", "Enabled", 4, 1],
        [FIREWALL + r"\Services\FileAndPrint", "RemoteAddresses", 1, addresses],
        [FIREWALL + r"\IcmpSettings", "AllowInboundEchoRequest", 4, 1],
    ]


ARTICLE_INF = {
    "System Access": [["EnableGuestAccount", "0"]],
    "Registry Values": [LSA + r"\ForceGuest=4,0", LSA + r"\EveryoneIncludesAnonymous=4,0"],
    "Service General Setting": [["RemoteRegistry", "2", ""], ["LanmanServer", "2", ""], ["MpsSvc", "2", ""]],
}


@pytest.mark.parametrize(("policy", "addresses", "firewall"), [
    (ScanPolicy(scanner_addresses=("10.202.0.1", "192.0.2.0/24")), "10.202.0.1,192.0.2.0/24", 1),
    (ScanPolicy(scanner_addresses=("*",), firewall_enabled=False), "*", 0),
    (ScanPolicy(scanner_addresses=("2001:db8::5",), firewall_enabled=None), "2001:db8::5", None),
])
def test_samba_reads_the_rendered_files(policy: ScanPolicy, addresses: str, firewall: int | None) -> None:
    content = _gpo.apply_policy(GpoContent.parse(None, None), _gpo.policy_settings(policy))
    seen = samba_reads(content.inf.render(), _gpo.render_registry_pol(content.pol))
    assert seen["inf"] == ARTICLE_INF
    assert seen["inf_rewritten_identical"] is True
    assert seen["pol"] == expected_pol(addresses, firewall)
    assert seen["pol_header"] == ["PReg", 1, len(content.pol)]
    assert seen["pol_repacked_identical"] is True


def test_samba_reads_merged_files_with_unmanaged_settings() -> None:
    text = ("[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordLength = 14\r\n"
            '[Version]\r\nsignature="$CHICAGO$"\r\nRevision=1\r\n'
            "[Privilege Rights]\r\nSeDenyNetworkLogonRight = *S-1-5-32-546\r\n")
    foreign = PolEntry(r"Software\Policies\Vendor", "Note", 1, "kept\0".encode("utf-16-le"))
    start = GpoContent(InfDocument.parse(b"\xff\xfe" + text.encode("utf-16-le")),
                       [foreign, PolEntry(r"Software\Policies\Vendor", "Level", 4, struct.pack("<I", 3))])
    content = _gpo.apply_policy(start, _gpo.policy_settings(ScanPolicy(scanner_addresses=("*",))))
    seen = samba_reads(content.inf.render(), _gpo.render_registry_pol(content.pol))
    assert seen["inf"]["System Access"] == [["MinimumPasswordLength", "14"], ["EnableGuestAccount", "0"]]
    assert seen["inf"]["Privilege Rights"] == [["SeDenyNetworkLogonRight", ["*S-1-5-32-546"]]]
    assert seen["inf_rewritten_identical"] is True
    assert seen["pol"][:2] == [[r"Software\Policies\Vendor", "Note", 1, "kept"], [r"Software\Policies\Vendor",
                                                                                    "Level", 4, 3]]
    assert seen["pol_repacked_identical"] is True
