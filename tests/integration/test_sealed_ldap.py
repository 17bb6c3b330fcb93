"""Sealed LDAP against the default lab's Samba DC, in-process: Kerberos with the operator's password, NTLM where
the DC is given by address (allowed, with its warning), and auto keeping LDAPS where the certificate validates.
The hardened domain (no LDAPS, no NTLM) is test_hardened_domain.py's."""
from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _ldap

from tests.lab_support import LabInfo, load_lab

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def lab() -> LabInfo:
    return load_lab()


def params(lab: LabInfo, **overrides: Any) -> dict[str, Any]:
    defaults = {name: spec.get("default") for name, spec in _ldap.DOMAIN_CONNECTION_SPEC.items()}
    return {**defaults, **lab.connection_args(), **overrides}


@pytest.mark.parametrize(("overrides", "transport", "authentication"), [
    ({}, "ldaps", "simple"),
    ({"transport": "sealed"}, "sealed", "kerberos"),
    ({"transport": "sealed", "dc": "address"}, "sealed", "ntlm"),
], ids=["auto-keeps-ldaps", "kerberos-sealed", "ntlm-sealed-by-address"])
def test_each_transport_reads_the_domain(lab: LabInfo, overrides: dict[str, Any], transport: str,
                                         authentication: str) -> None:
    if overrides.get("dc") == "address":
        overrides = {**overrides, "dc": lab.vars["lab_dc_address"]}
    with _ldap.connect(params(lab, **overrides)) as conn:
        assert (conn.transport, conn.authentication) == (transport, authentication)
        users = conn.search(conn.base_dn, "(sAMAccountName=Administrator)", ["objectSid"])
        assert len(users) == 1 and users[0].first("objectSid")
        assert any("does not authenticate the DC" in w for w in conn.warnings) == (authentication == "ntlm")
