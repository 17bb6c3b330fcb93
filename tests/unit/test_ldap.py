"""The pure parts of the domain connection: names, base DN, SIDs, and how failures are explained."""
from __future__ import annotations

import ssl
from typing import Any

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _ldap
from ansible_collections.scanready.windows.plugins.module_utils._ldap import (
    DOMAIN_CONNECTION_SPEC,
    DomainError,
    base_dn_for,
    bind_user_for,
    settings_from_params,
    sid_to_str,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap import connection as connection_module
from ansible_collections.scanready.windows.plugins.module_utils._ldap.connection import sd_flags_control
from ansible_collections.scanready.windows.plugins.module_utils._ldap.errors import (
    bind_refusal_reason,
    classify_open_error,
    classify_result,
)
from ansible_collections.scanready.windows.plugins.module_utils._ldap.tls import tls_context
from ldap3.core.exceptions import (
    LDAPInvalidFilterError,
    LDAPResponseTimeoutError,
    LDAPSocketOpenError,
    LDAPSocketReceiveError,
    LDAPStartTLSError,
)
from ldap3.protocol.formatters.standard import format_attribute_values
from ldap3.protocol.microsoft import security_descriptor_control
from ldap3.utils.conv import escape_filter_chars

SECRET = "S3cret-Operator-Pass"


def params(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {name: spec.get("default") for name, spec in DOMAIN_CONNECTION_SPEC.items()}
    values.update(domain="corp.example.com", admin_username="admin@CORP.EXAMPLE.COM", admin_password=SECRET)
    values.update(overrides)
    return values


def test_spec_matches_the_contract() -> None:
    assert set(DOMAIN_CONNECTION_SPEC) == {"domain", "dc", "port", "transport", "ca_cert", "validate_certs",
                                           "allow_ntlm", "admin_username", "admin_password", "connect_timeout"}
    assert DOMAIN_CONNECTION_SPEC["admin_password"]["no_log"] is True
    assert DOMAIN_CONNECTION_SPEC["validate_certs"]["default"] is True
    assert DOMAIN_CONNECTION_SPEC["transport"]["default"] == "auto"
    assert DOMAIN_CONNECTION_SPEC["transport"]["aliases"] == ["tls"]  # 0.3's name: ldaps and starttls still work
    assert DOMAIN_CONNECTION_SPEC["connect_timeout"]["default"] == 10


@pytest.mark.parametrize(("domain", "dn"), [
    ("corp.example.com", "DC=corp,DC=example,DC=com"),
    ("lab1.example.test.", "DC=lab1,DC=example,DC=test"),
    ("single", "DC=single"),
])
def test_base_dn_from_domain(domain: str, dn: str) -> None:
    assert base_dn_for(domain) == dn


@pytest.mark.parametrize("domain", ["", ".", "  "])
def test_base_dn_refuses_an_empty_domain(domain: str) -> None:
    with pytest.raises(DomainError) as err:
        base_dn_for(domain)
    assert err.value.cause == _ldap.CONFIG


@pytest.mark.parametrize(("username", "bind_user"), [
    ("admin@CORP.EXAMPLE.COM", "admin@CORP.EXAMPLE.COM"),
    ("CORP\\admin", "CORP\\admin"),
    ("admin", "admin@corp.example.com"),
    ("  admin  ", "admin@corp.example.com"),
])
def test_bind_user_forms(username: str, bind_user: str) -> None:
    assert bind_user_for(username, "corp.example.com") == bind_user


@pytest.mark.parametrize("username", ["", "\\admin", "CORP\\", "@corp", "admin@"])
def test_bind_user_refuses_half_names(username: str) -> None:
    with pytest.raises(DomainError):
        bind_user_for(username, "corp.example.com")


def test_settings_defaults_and_port_per_transport() -> None:
    auto = settings_from_params(params())
    assert (auto.host, auto.port, auto.transport, auto.timeout) == ("corp.example.com", 636, "auto", 10)
    starttls = settings_from_params(params(transport="starttls", dc="dc1.corp.example.com"))
    assert (starttls.host, starttls.port, starttls.starttls) == ("dc1.corp.example.com", 389, True)
    assert settings_from_params(params(transport="sealed")).port == 389
    assert settings_from_params(params(port=3269)).port == 3269
    assert SECRET not in repr(auto)


def test_settings_without_a_password_wait_for_the_ticket() -> None:
    settings = settings_from_params(params(admin_username=None, admin_password=None))
    assert (settings.bind_user, settings.password) == (None, None)
    with pytest.raises(DomainError, match="without admin_username"):
        settings_from_params(params(admin_username=None))
    with pytest.raises(DomainError, match="admin_password is empty"):
        settings_from_params(params(admin_password=""))


def test_settings_refuse_a_non_positive_timeout() -> None:
    with pytest.raises(DomainError, match="connect_timeout"):
        settings_from_params(params(connect_timeout=0))


def test_sid_to_string() -> None:
    raw = bytes.fromhex("010500000000000515000000") + (1).to_bytes(4, "little") + (2).to_bytes(4, "little") \
        + (3).to_bytes(4, "little") + (1104).to_bytes(4, "little")
    assert sid_to_str(raw) == "S-1-5-21-1-2-3-1104"
    with pytest.raises(ValueError):
        sid_to_str(raw[:-1])


@pytest.mark.parametrize(("message", "reason"), [
    ("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1",
     "wrong user name or password"),
    ("80090308: LdapErr: DSID-0C09030B, comment: AcceptSecurityContext error, data 533, v893", "account disabled"),
    ("... data 775, v1db1", "account locked out"),
    ("... data 9999, v1", "DC code 9999"),
    ("", "invalid credentials"),
])
def test_bind_refusal_reasons(message: str, reason: str) -> None:
    assert bind_refusal_reason(message) == reason


def ldap3_style(cls: type[Exception], original: Exception, text: str) -> Exception:
    """ldap3 re-raises socket errors as a class deriving from both its own type and the original one."""
    combined = type(cls.__name__, (cls, type(original)), {})
    return combined(text)


def test_wrong_ca_names_the_ca_file() -> None:
    settings = settings_from_params(params(ca_cert="/etc/ca.pem", dc="dc1"))
    exc = ldap3_style(LDAPSocketOpenError, ssl.SSLCertVerificationError(),
                      "('socket ssl wrapping error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                      "unable to get local issuer certificate (_ssl.c:1020)',)")
    error = classify_open_error(exc, settings)
    assert error.cause == _ldap.TLS
    assert error.message == ("TLS failure with DC dc1:636: its certificate could not be verified against "
                             "the CA in /etc/ca.pem: unable to get local issuer certificate")


def test_host_name_mismatch_is_a_tls_failure() -> None:
    settings = settings_from_params(params(dc="10.0.0.9"))
    exc = ldap3_style(LDAPSocketOpenError, ssl.SSLCertVerificationError(),
                      "socket ssl wrapping error: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                      "Hostname mismatch, certificate is not valid for '10.0.0.9'. (_ssl.c:1020)")
    error = classify_open_error(exc, settings)
    assert error.cause == _ldap.TLS
    assert "system's trusted CAs: Hostname mismatch, certificate is not valid for '10.0.0.9'" in error.message


def test_starttls_failure_is_a_tls_failure() -> None:
    settings = settings_from_params(params(transport="starttls"))
    error = classify_open_error(LDAPStartTLSError("startTLS failed - protocolError"), settings)
    assert error.cause == _ldap.TLS


@pytest.mark.parametrize(("original", "text", "expected"), [
    (TimeoutError("timed out"), "socket connection error while opening: timed out", "no answer within 10 s"),
    (ConnectionRefusedError(111, "Connection refused"), "socket connection error while opening: refused",
     "connection refused"),
    (OSError(113, "No route to host"), "socket connection error while opening: [Errno 113] No route to host",
     "No route to host"),
])
def test_unreachable_dc(original: Exception, text: str, expected: str) -> None:
    error = classify_open_error(ldap3_style(LDAPSocketOpenError, original, text), settings_from_params(params()))
    assert error.cause == _ldap.UNREACHABLE
    assert expected in error.message
    assert error.message.startswith("DC corp.example.com:636 unreachable")


def test_unresolvable_dc() -> None:
    error = classify_open_error(LDAPSocketOpenError("invalid server address"), settings_from_params(params()))
    assert error.message == "DC 'corp.example.com' unreachable: the name does not resolve"


def test_the_cause_inside_ldap3s_list_of_addresses_tried_is_classified() -> None:
    inner = ssl.SSLCertVerificationError("certificate verify failed: Hostname mismatch")
    wrapped = LDAPSocketOpenError("unable to open socket", [(inner, ("192.0.2.1", 636))])
    assert connection_module._socket_cause(wrapped) is inner


def test_the_first_address_that_answers_is_the_dc_for_the_whole_run(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_params(params(dc="dc.corp.example.com"))
    tried: list[str] = []

    def fake_open(settings: Any, address: str) -> str:
        tried.append(address)
        if address != "192.0.2.2":
            raise DomainError(f"DC {address} unreachable: connection refused", _ldap.UNREACHABLE)
        return "connection"

    monkeypatch.setattr(connection_module, "resolve_dc", lambda settings: ["192.0.2.1", "192.0.2.2", "192.0.2.3"])
    monkeypatch.setattr(connection_module, "_open", fake_open)
    assert connection_module._open_first(settings) == ("connection", "192.0.2.2")
    assert tried == ["192.0.2.1", "192.0.2.2"]


def test_a_certificate_refused_at_one_address_is_not_tried_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[str] = []

    def fake_open(settings: Any, address: str) -> str:
        tried.append(address)
        raise DomainError("TLS failure", _ldap.TLS)

    monkeypatch.setattr(connection_module, "resolve_dc", lambda settings: ["192.0.2.1", "192.0.2.2"])
    monkeypatch.setattr(connection_module, "_open", fake_open)
    with pytest.raises(DomainError, match="TLS failure"):
        connection_module._open_first(settings_from_params(params()))
    assert tried == ["192.0.2.1"]


def test_every_address_unreachable_says_how_many_were_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_open(settings: Any, address: str) -> str:
        raise DomainError(f"DC {address} unreachable: no answer within 10 s", _ldap.UNREACHABLE)

    monkeypatch.setattr(connection_module, "resolve_dc", lambda settings: ["192.0.2.1", "192.0.2.2"])
    monkeypatch.setattr(connection_module, "_open", fake_open)
    with pytest.raises(DomainError, match=r"192\.0\.2\.1 unreachable: no answer within 10 s \(and at its 1 other"):
        connection_module._open_first(settings_from_params(params()))


def result(code: int, description: str, message: str = "", dn: str = "") -> dict[str, Any]:
    return {"result": code, "description": description, "message": message, "dn": dn}


def test_bind_refused_names_the_user_and_reason_not_the_password() -> None:
    settings = settings_from_params(params())
    error = classify_result("bind", settings.bind_user, result(
        49, "invalidCredentials", "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, "
        "data 52e, v1db1"), settings)
    assert error.cause == _ldap.BIND
    assert error.result_code == 49
    assert error.message == ("bind as admin@CORP.EXAMPLE.COM refused by corp.example.com: "
                             "wrong user name or password")
    assert SECRET not in error.message


def test_plain_ldap_refusal_explains_the_transport() -> None:
    settings = settings_from_params(params())
    error = classify_result("bind", settings.bind_user, result(
        8, "strongerAuthRequired", "BindSimple: Transport encryption required."), settings)
    assert "stronger transport" in error.message


@pytest.mark.parametrize(("code", "description", "cause", "fragment"), [
    (50, "insufficientAccessRights", _ldap.RIGHTS, "insufficient rights: admin@CORP.EXAMPLE.COM may not create"),
    (32, "noSuchObject", _ldap.NO_SUCH_OBJECT, "no such object: CN=x,OU=Missing,DC=corp"),
    (68, "entryAlreadyExists", _ldap.EXISTS, "already exists"),
    (19, "constraintViolation", _ldap.REJECTED, "the DC refused to create CN=x,OU=Missing,DC=corp: 0000052D"),
    (53, "unwillingToPerform", _ldap.REJECTED, "the DC refused to create"),
    (1, "operationsError", _ldap.FAILED, "create CN=x,OU=Missing,DC=corp failed: operationsError"),
])
def test_operation_results(code: int, description: str, cause: str, fragment: str) -> None:
    settings = settings_from_params(params())
    error = classify_result("create", "CN=x,OU=Missing,DC=corp",
                            result(code, description, "0000052D: Constraint violation - password too short",
                                   dn="DC=corp"), settings)
    assert error.cause == cause
    assert error.result_code == code
    assert fragment in error.message


def test_missing_ca_file_is_a_configuration_error() -> None:
    with pytest.raises(DomainError, match=r"ca_cert /nonexistent/ca\.pem: no such file"):
        tls_context(settings_from_params(params(ca_cert="/nonexistent/ca.pem")))


def test_validate_certs_false_turns_off_checks() -> None:
    context = tls_context(settings_from_params(params(validate_certs=False)))
    assert context.verify_mode == ssl.CERT_NONE
    assert not context.check_hostname


class ScriptedLdap3:
    """Stands in for an ldap3.Connection: raises, or answers with a result and a response."""

    def __init__(self, raises: Exception | None = None, result: dict[str, Any] | None = None,
                 response: list[dict[str, Any]] | None = None) -> None:
        self.raises = raises
        self.result = result or {"result": 0, "description": "success"}
        self.response = response or []
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def _answer(self, *args: Any, **kwargs: Any) -> bool:
        self.calls.append((args, kwargs))
        if self.raises is not None:
            raise self.raises
        return self.result["result"] == 0

    search = modify = add = delete = _answer


def connection(fake: ScriptedLdap3) -> _ldap.DomainConnection:
    return _ldap.DomainConnection(settings_from_params(params(dc="dc1")), fake, "DC=corp,DC=example,DC=com",
                                  "192.0.2.1")


def test_a_dc_that_stops_answering() -> None:
    fake = ScriptedLdap3(raises=LDAPSocketReceiveError("error receiving data: [Errno 104] Connection reset"))
    with pytest.raises(DomainError) as err:
        connection(fake).modify("CN=x", {"description": [(_ldap.MODIFY_REPLACE, ["y"])]})
    assert err.value.cause == _ldap.UNREACHABLE
    assert err.value.message.startswith("DC dc1 stopped answering during modify CN=x: ")


def test_a_dc_that_answers_too_slowly() -> None:
    with pytest.raises(DomainError, match="no answer within 10 s"):
        connection(ScriptedLdap3(raises=LDAPResponseTimeoutError("no response from server"))).delete("CN=x")


def test_a_malformed_request_is_not_called_unreachable() -> None:
    with pytest.raises(DomainError) as err:
        connection(ScriptedLdap3(raises=LDAPInvalidFilterError("malformed filter"))).search("DC=corp", "(x", [])
    assert err.value.cause == _ldap.FAILED
    assert err.value.message == "search DC=corp failed: malformed filter"


def test_a_refused_operation_is_classified() -> None:
    fake = ScriptedLdap3(result={"result": 50, "description": "insufficientAccessRights", "message": "denied"})
    with pytest.raises(DomainError) as err:
        connection(fake).add("CN=x,DC=corp", "user", {})
    assert err.value.cause == _ldap.RIGHTS


def test_search_entries_keep_text_and_binary_values() -> None:
    fake = ScriptedLdap3(response=[
        {"type": "searchResEntry", "dn": "CN=x,DC=corp",
         "attributes": {"objectSid": b"\x01\x00", "memberOf": ["CN=g"], "description": "text"}},
        {"type": "searchResRef", "uri": ["ldap://ForestDnsZones.corp/DC=ForestDnsZones"]},
    ])
    [entry] = connection(fake).search("DC=corp", "(cn=x)", ["objectSid", "memberOf", "description"])
    assert entry.dn == "CN=x,DC=corp"
    assert entry.attributes == {"objectSid": [b"\x01\x00"], "memberOf": ["CN=g"], "description": ["text"]}
    assert entry.first("description") == "text"
    assert entry.first("missing") is None


def test_a_domain_sid_that_happens_to_be_utf8_is_still_bytes() -> None:
    """About one domain SID in a thousand is valid UTF-8, and ldap3 without the schema decodes such a value to
    str: binary attributes are taken from the raw values, so the SID reads the same in every domain."""
    raw = (b"\x01\x04\x00\x00\x00\x00\x00\x05"
           + b"".join(n.to_bytes(4, "little") for n in (21, 340676381, 2329690748, 1333135634)))
    [formatted] = format_attribute_values(None, "objectSid", [raw], None)
    assert isinstance(formatted, str)  # what ldap3 hands back in "attributes"
    fake = ScriptedLdap3(response=[{"type": "searchResEntry", "dn": "DC=corp",
                                    "attributes": {"objectSid": formatted, "name": "corp"},
                                    "raw_attributes": {"objectSid": [raw], "name": [b"corp"]}}])
    [entry] = connection(fake).search("DC=corp", "(objectClass=*)", ["objectSid", "name"], scope="base")
    assert entry.first("objectSid") == raw
    assert entry.first("name") == "corp"
    assert _ldap.sid_to_str(entry.first("objectSid")) == "S-1-5-21-340676381-2329690748-1333135634"


def test_entry_attribute_names_ignore_case_as_ldap_does() -> None:
    entry = _ldap.Entry("CN=x", {"objectSid": [b"\x01"], "gPLink": []})
    assert entry.first("objectsid") == entry.first("OBJECTSID") == b"\x01"
    assert entry.values("gplink") == []
    assert entry.first("gplink") is None


@pytest.mark.parametrize("value", ["Scan (prod)*", "a\\b", "nul\0", "plain", "ünï"])
def test_filter_escaping_matches_ldap3(value: str) -> None:
    assert _ldap.escape_filter(value) == escape_filter_chars(value)


@pytest.mark.parametrize("flags", [_ldap.SD_OWNER_GROUP_DACL, _ldap.SD_OWNER_DACL])
def test_sd_flags_control_encodes_as_ldap3_does(flags: int) -> None:
    [theirs] = security_descriptor_control(sdflags=flags)
    oid, critical, value = sd_flags_control(flags)
    assert (oid, value) == (str(theirs["controlType"]), bytes(theirs["controlValue"]))
    assert critical  # unlike ldap3: a DC that does not know it refuses, instead of reading or writing the SACL too


def test_sd_flags_reach_the_search_as_a_control() -> None:
    fake = ScriptedLdap3()
    connection(fake).search("CN=x", "(objectClass=*)", ["nTSecurityDescriptor"], scope="base",
                            sd_flags=_ldap.SD_OWNER_GROUP_DACL)
    assert fake.calls[-1][1]["controls"] == [sd_flags_control(_ldap.SD_OWNER_GROUP_DACL)]


def test_only_a_connection_without_certificate_checks_carries_a_warning() -> None:
    checked = _ldap.DomainConnection(settings_from_params(params()), ScriptedLdap3(), "DC=corp", "192.0.2.1")
    unchecked = _ldap.DomainConnection(settings_from_params(params(validate_certs=False)), ScriptedLdap3(), "DC=corp",
                                       "192.0.2.1")
    assert checked.warnings == []
    assert unchecked.warnings == [_ldap.NO_VALIDATION_WARNING]


@pytest.mark.parametrize("port", [0, -1, 65536, 70000])
def test_a_port_outside_tcps_range_is_a_configuration_error(port: int) -> None:
    with pytest.raises(DomainError, match=f"port must be between 1 and 65535, not {port}"):
        settings_from_params(params(port=port))
