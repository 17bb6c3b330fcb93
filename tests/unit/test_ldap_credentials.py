"""The choice of transport (auto), the operator's Kerberos credentials, and the ticket cache's facts, as plain logic.

The DC is a stand-in here (_connect replaced, klist's answers scripted); tests/integration/test_hardened_domain.py
and test_bad_input.py run the same against the lab's Samba.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _kerberos
from ansible_collections.scanready.windows.plugins.module_utils._kerberos import KerberosClient, KerberosError
from ansible_collections.scanready.windows.plugins.module_utils._ldap import DomainError, connection
from ansible_collections.scanready.windows.plugins.module_utils._ldap.credentials import (
    kerberos_problem,
    principal_name,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.errors import BIND, CONFIG, TLS, UNREACHABLE
from ansible_collections.scanready.windows.plugins.module_utils._ldap.settings import settings_from_params

from tests.unit.test_ldap import params


@dataclass
class Chosen:
    transport: str
    authentication: str = "kerberos"
    warnings: list[str] = field(default_factory=list)


def scripted(monkeypatch: pytest.MonkeyPatch, ldaps: DomainError | None) -> list[tuple[str, int]]:
    """connection._connect as a DC whose LDAPS fails with `ldaps` (or works); returns what was tried."""
    tried: list[tuple[str, int]] = []

    def fake(settings: Any) -> Chosen:
        tried.append((settings.transport, settings.port))
        if settings.transport == "ldaps" and ldaps is not None:
            raise ldaps
        return Chosen(settings.transport)
    monkeypatch.setattr(connection, "_connect", fake)
    return tried


def test_auto_takes_ldaps_when_it_works(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = scripted(monkeypatch, None)
    assert connection.connect(params(dc="dc1.corp.example.com")).transport == "ldaps"
    assert tried == [("ldaps", 636)]


def test_auto_seals_on_389_when_nothing_answers_on_636(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = scripted(monkeypatch, DomainError("DC dc1:636 unreachable: connection refused", UNREACHABLE))
    chosen = connection.connect(params(dc="dc1.corp.example.com"))
    assert tried == [("ldaps", 636), ("sealed", 389)]
    assert chosen.warnings == []  # a DC without LDAPS is the common case, not a warning


def test_auto_seals_with_a_warning_when_the_system_does_not_trust_the_certificate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, DomainError("TLS failure with DC dc1:636: unable to get local issuer certificate", TLS))
    chosen = connection.connect(params(dc="dc1.corp.example.com"))
    assert chosen.transport == "sealed" and "LDAPS not used (TLS failure" in chosen.warnings[0]


@pytest.mark.parametrize(("failure", "overrides"), [
    (DomainError("TLS failure with DC dc1:636: self-signed certificate", TLS), {"ca_cert": "/etc/corp-ca.pem"}),
    (DomainError("bind as admin refused by dc1: wrong user name or password", BIND), {}),
    (DomainError("DC dc1:6360 unreachable: connection refused", UNREACHABLE), {"port": 6360}),
    (DomainError("DC 'nosuch' unreachable: the name does not resolve", UNREACHABLE), {}),
    (DomainError("DC dc1:636 unreachable: no answer within 10 s", UNREACHABLE), {}),
], ids=["certificate-fails-the-given-ca", "bind-refused-never-retried", "the-port-given", "name-does-not-resolve",
        "filtered-no-second-wait"])
def test_auto_does_not_go_around(monkeypatch: pytest.MonkeyPatch, failure: DomainError,
                                 overrides: dict[str, Any]) -> None:
    tried = scripted(monkeypatch, failure)
    with pytest.raises(DomainError) as raised:
        connection.connect(params(dc="dc1.corp.example.com", **overrides))
    assert raised.value is failure and len(tried) == 1


def test_a_ticket_binds_sealed_and_ldaps_needs_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    tried = scripted(monkeypatch, None)
    assert connection.connect(params(admin_password=None)).transport == "sealed"
    assert tried == [("sealed", 389)]
    with pytest.raises(DomainError, match="transport ldaps binds with admin_password") as raised:
        connection.connect(params(admin_password=None, transport="ldaps"))
    assert raised.value.cause == CONFIG


@pytest.mark.parametrize(("dc", "problem"), [
    ("dc1.corp.example.com", None),
    ("192.0.2.10", "dc 192.0.2.10 is an address"),
    ("2001:db8::10", "dc 2001:db8::10 is an address"),
    (None, "dc is not set"),
])
def test_kerberos_needs_the_dcs_name(dc: str | None, problem: str | None) -> None:
    found = kerberos_problem(settings_from_params(params(dc=dc)))
    assert found == problem if problem is None else problem in str(found) and "dc1.corp.example.com" in str(found)


@pytest.mark.parametrize(("bind_user", "name"), [
    ("admin@CORP.EXAMPLE.COM", "admin"), ("CORP\\admin", "admin"), ("admin", "admin")])
def test_principal_names(bind_user: str, name: str) -> None:
    assert principal_name(bind_user) == name


# ---------------------------------------------------------------- the operator's cache

def klist(monkeypatch: pytest.MonkeyPatch, listing: str, *, listed: int = 0, valid: int = 0) -> list[dict[str, str]]:
    envs: list[dict[str, str]] = []

    def run(argv: list[str], *, env: dict[str, str], timeout: float, stdin: str | None = None) -> Any:
        envs.append(env)
        code = valid if argv == ["klist", "-s"] else listed
        return _kerberos._Finished(code, listing if argv == ["klist"] else "", "")
    monkeypatch.setattr(_kerberos, "_run_bounded", run)
    return envs


LISTING = ("Ticket cache: FILE:/tmp/krb5cc_1000\nDefault principal: admin@CORP.EXAMPLE.COM\n\n"
           "Valid starting     Expires            Service principal\n")


def test_the_cache_names_the_principal_and_is_only_read(monkeypatch: pytest.MonkeyPatch) -> None:
    envs = klist(monkeypatch, LISTING)
    with KerberosClient.from_cache("FILE:/tmp/krb5cc_1000", "corp.example.com", "192.0.2.10", 5) as client:
        assert client.principal == "admin@CORP.EXAMPLE.COM"
        assert client._cache == "FILE:/tmp/krb5cc_1000"  # kvno -c reads it, --out-cache writes the private one
    assert all(env["KRB5CCNAME"] == "FILE:/tmp/krb5cc_1000" for env in envs)


@pytest.mark.parametrize(("listing", "listed", "valid", "message"), [
    ("", 1, 1, "no Kerberos ticket in FILE:/tmp/none: run `kinit <admin>@CORP.EXAMPLE.COM` first"),
    (LISTING, 0, 1, "has expired: run `kinit admin@CORP.EXAMPLE.COM` again"),
    (LISTING.replace("CORP.EXAMPLE.COM", "OTHER.TEST"), 0, 0, "of the realm OTHER.TEST, not of the domain's realm"),
], ids=["no-ticket", "expired", "another-realm"])
def test_the_cache_facts_say_the_fix(monkeypatch: pytest.MonkeyPatch, listing: str, listed: int, valid: int,
                                     message: str) -> None:
    klist(monkeypatch, listing, listed=listed, valid=valid)
    with pytest.raises(KerberosError) as raised:
        KerberosClient.from_cache("FILE:/tmp/none", "corp.example.com", "192.0.2.10", 5)
    assert message in raised.value.message
    assert "\n" not in raised.value.message
