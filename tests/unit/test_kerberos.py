"""MIT Kerberos plumbing: private config and ccache, password on stdin only, kinit/kvno messages classified."""
from __future__ import annotations

import json
import os
import stat
import struct
import time
from pathlib import Path

import pytest
from ansible_collections.scanready.windows.plugins.module_utils import _kerberos
from ansible_collections.scanready.windows.plugins.module_utils._ccache import CachedCredential, parse_ccache
from ansible_collections.scanready.windows.plugins.module_utils._kerberos import (
    KerberosClient,
    KerberosError,
    classify_kinit,
    kinit_failure,
    krb5_conf,
    kvno_reason,
)

PASSWORD = "Unit-Test-Secret-9"


@pytest.mark.parametrize(("stderr", "cls"), [
    ("kinit: Password incorrect while getting initial credentials", "logon_failure"),
    ("kinit: Preauthentication failed while getting initial credentials", "logon_failure"),
    ("kinit: Client 'nobody@EX.TEST' not found in Kerberos database while getting initial credentials",
     "logon_failure"),  # MIT quotes the name in newer releases
    ("kinit: Client not found in Kerberos database while getting initial credentials", "logon_failure"),
    ("kinit: Client's credentials have been revoked while getting initial credentials", "account_locked"),
    ("kinit: Client's entry in database has expired while getting initial credentials", "account_expired"),
    ("kinit: Password has expired while getting initial credentials", "password_expired"),
    ("kinit: Cannot contact any KDC for realm 'EX.TEST' while getting initial credentials", "unreachable"),
    ("kinit: KDC has no support for encryption type while getting initial credentials", "refused"),
    ("kinit: Clock skew too great while getting initial credentials", "error"),
])
def test_kinit_messages_map_to_classes(stderr: str, cls: str) -> None:
    assert classify_kinit(stderr)[0] == cls


def test_an_unknown_kinit_message_is_quoted() -> None:
    cls, detail = classify_kinit("Password for x@EX.TEST:\nkinit: Something new happened\n")
    assert cls == "error"
    assert "Something new happened" in detail


# MIT kinit 1.20's trace (KRB5_TRACE=/dev/stderr), as it reads against a KDC that asks for pre-authentication.
TRACE_ASKED = """\
[29070] 1796691018.649555: Sending unauthenticated request
[29070] 1796691018.649556: Sending request (179 bytes) to EX.TEST
[29070] 1796691018.649558: Initiating TCP connection to stream 192.0.2.2:88
[29070] 1796691018.649559: Sending TCP request to stream 192.0.2.2:88
[29070] 1796691018.649560: Received answer (312 bytes) from stream 192.0.2.2:88
[29070] 1796691018.649563: Received error from KDC: -1765328359/Additional pre-authentication required
[29070] 1796691018.649569: AS key obtained for encrypted timestamp: aes256-cts/C062
[29070] 1796691018.649571: Encrypted timestamp (for 1796691018.655900): plain 301AA0, encrypted 9F00DEAD
[29070] 1796691018.649573: Produced preauth for next request: PA-ENC-TIMESTAMP (2)
[29070] 1796691018.649574: Sending request (257 bytes) to EX.TEST
[29070] 1796691018.649576: Initiating TCP connection to stream 192.0.2.2:88
"""
SENT_NO_ANSWER = TRACE_ASKED + """\
[29070] 1796691018.649577: Sending TCP request to stream 192.0.2.2:88
[29070] 1796691028.700000: Sending initial UDP request to dgram 192.0.2.2:88
[29070] 1796691045.700000: Terminating TCP connection to stream 192.0.2.2:88
"""
NEVER_ASKED = """\
[26906] 1796690849.731354: Sending unauthenticated request
[26906] 1796690849.731355: Sending request (169 bytes) to EX.TEST
[26906] 1796690849.731357: Initiating TCP connection to stream 192.0.2.2:88
[26906] 1796690849.731358: Sending TCP request to stream 192.0.2.2:88
[26906] 1796690859.739225: Sending initial UDP request to dgram 192.0.2.2:88
[26906] 1796690876.756376: Terminating TCP connection to stream 192.0.2.2:88
"""
NO_KDC = "kinit: Cannot contact any KDC for realm 'EX.TEST' while getting initial credentials\n"


def test_no_kdc_answer_after_the_password_went_out_is_an_unknown_outcome() -> None:
    """The request that carried the encrypted timestamp got no answer: the KDC may have counted it."""
    err = kinit_failure(SENT_NO_ANSWER + NO_KDC)
    assert (err.cls, err.unknown) == ("timeout", True)
    assert "did not answer the request that carried the password" in err.message
    assert "may have counted" in err.message
    assert "9F00DEAD" not in err.message and "C062" not in err.message, "the trace is never shown"


def test_no_kdc_answer_before_the_password_went_out_is_unreachable() -> None:
    """Only the first AS-REQ (no password in it) went unanswered, or the password's never left: the KDC
    cannot have checked it, so NTLM at the DC may follow."""
    for trace in (NEVER_ASKED, TRACE_ASKED, ""):
        err = kinit_failure(trace + NO_KDC)
        assert (err.cls, err.unknown) == ("unreachable", False), trace


def test_an_unexplained_kinit_failure_is_unknown_unless_no_password_went_out() -> None:
    said = "kinit: KDC policy rejects request while getting initial credentials\n"
    for trace in (SENT_NO_ANSWER, ""):  # after the password, or without a trace to tell
        err = kinit_failure(trace + said)
        assert (err.cls, err.unknown) == ("error", True)
        assert "KDC policy rejects request" in err.message and "may have counted" in err.message
    err = kinit_failure(NEVER_ASKED + said)
    assert (err.cls, err.unknown) == ("error", False)


def test_an_explained_kinit_failure_is_a_verdict() -> None:
    for said, cls in (("kinit: Password incorrect while getting initial credentials", "logon_failure"),
                      ("kinit: Clock skew too great while getting initial credentials", "error"),
                      ("kinit: Client's credentials have been revoked while getting initial credentials",
                       "account_locked")):
        err = kinit_failure(SENT_NO_ANSWER + said + "\n")
        assert (err.cls, err.unknown) == (cls, False)


def test_kvno_reason() -> None:
    stderr = ("kvno: Server not found in Kerberos database while getting credentials for "
              "cifs/nosuch.ex.test@EX.TEST\n")
    assert kvno_reason(stderr) == "Server not found in Kerberos database"
    assert kvno_reason("something else\n") == "something else"


def counted(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def principal(name_type: int, realm: str, *parts: str) -> bytes:
    components = b"".join(counted(p.encode()) for p in parts)
    return struct.pack(">II", name_type, len(parts)) + counted(realm.encode()) + components


def credential(server: tuple[str, ...], key: bytes, ticket: bytes, addresses: int = 0) -> bytes:
    return (principal(1, "EX.TEST", "scanner") + principal(2, "EX.TEST", *server)
            + struct.pack(">H", 18) + counted(key) + struct.pack(">IIII", 1, 2, 3, 4) + b"\0" + struct.pack(">I", 0)
            + struct.pack(">I", addresses) + b"".join(struct.pack(">H", 2) + counted(b"\x0a\0\0\1")
                                                      for _address in range(addresses))
            + struct.pack(">I", 0) + counted(ticket) + counted(b""))


def test_a_ccache_is_read_field_by_field() -> None:
    """The MIT ccache v4 layout (header, default principal, credentials with u32-counted fields)."""
    header = struct.pack(">HH", 0x0504, 12) + struct.pack(">HHII", 1, 8, 0, 0)
    data = (header + principal(1, "EX.TEST", "scanner")
            + credential(("krbtgt", "EX.TEST"), b"k" * 32, b"tgt")
            + credential(("cifs", "t1.ex.test"), b"s" * 32, b"ticket", addresses=2))
    creds = parse_ccache(data)
    assert [c.server_name for c in creds] == ["krbtgt/EX.TEST@EX.TEST", "cifs/t1.ex.test@EX.TEST"]
    assert creds[1] == CachedCredential((1, "EX.TEST", ("scanner",)), (2, "EX.TEST", ("cifs", "t1.ex.test")), 18,
                                        b"s" * 32, b"ticket")
    with pytest.raises(ValueError, match="truncated"):
        parse_ccache(data[:-3])
    with pytest.raises(ValueError, match="version 4"):
        parse_ccache(b"\x05\x03" + data[2:])


def test_krb5_conf_names_one_kdc_and_trusts_no_dns() -> None:
    text = krb5_conf("EX.TEST", "10.0.0.2", "rc4-hmac")
    assert "kdc = 10.0.0.2" in text
    for line in ("dns_lookup_kdc = false", "rdns = false", "dns_canonicalize_hostname = false",
                 "default_tgs_enctypes = rc4-hmac", "permitted_enctypes = rc4-hmac"):
        assert line in text


FAKE_KINIT = """#!/usr/bin/env python3
import json, os, sys
secret = sys.stdin.readline().rstrip("\\n")
record = {"argv": sys.argv[1:], "conf": os.environ["KRB5_CONFIG"], "ccache": os.environ["KRB5CCNAME"],
          "conf_text": open(os.environ["KRB5_CONFIG"]).read(), "stdin_ok": secret == os.environ["EXPECTED"],
          "dir_mode": oct(os.stat(os.path.dirname(os.environ["KRB5_CONFIG"])).st_mode & 0o777)}
open(os.environ["RECORD"], "w").write(json.dumps(record))
if not record["stdin_ok"]:
    print("kinit: Password incorrect while getting initial credentials", file=sys.stderr)
    sys.exit(1)
print("Warning: Your password will expire in 3 days on Mon Jan  1 00:00:00 2030")
open(os.environ["KRB5CCNAME"].removeprefix("FILE:"), "wb").write(b"")
"""

FAKE_KVNO = """#!/usr/bin/env python3
import sys
for principal in sys.argv[1:]:
    print(f"kvno: Server not found in Kerberos database while getting credentials for {principal}@EX.TEST",
          file=sys.stderr)
sys.exit(1)
"""


@pytest.fixture
def fake_mit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("kinit", FAKE_KINIT), ("kvno", FAKE_KVNO)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    record = tmp_path / "record.json"
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("EXPECTED", PASSWORD)
    monkeypatch.setenv("RECORD", str(record))
    monkeypatch.setenv("KRB5CCNAME", "/should/not/be/used")
    return record


def test_kinit_gets_the_password_on_stdin_in_a_private_directory(fake_mit: Path) -> None:
    client = KerberosClient("ex.test", "dc1.ex.test", "scanner", "kerberos-aes", 5)
    with client:
        note = client.login(PASSWORD)
        record = json.loads(fake_mit.read_text())
        private = Path(record["conf"]).parent
        assert private.exists()
    assert record["stdin_ok"]
    assert record["argv"] == ["--", "scanner@EX.TEST"]  # "--": a name that begins with "-" is no option
    assert PASSWORD not in json.dumps(record["argv"])
    assert record["dir_mode"] == "0o700"
    assert record["ccache"].startswith(f"FILE:{private}/")
    assert "kdc = dc1.ex.test" in record["conf_text"]
    assert "aes256-cts-hmac-sha1-96" in record["conf_text"]
    assert "expire in 3 days" in note
    assert not private.exists(), "the private directory must be removed"


def test_a_refused_password_is_a_logon_failure_without_the_password(fake_mit: Path) -> None:
    with KerberosClient("ex.test", "dc1.ex.test", "scanner", "kerberos-aes", 5) as client, \
            pytest.raises(KerberosError) as err:
        client.login("wrong-" + PASSWORD)
    assert err.value.cls == "logon_failure"
    assert PASSWORD not in str(err.value)


def test_a_kvno_refusal_is_the_reason_and_leaves_no_cache(fake_mit: Path) -> None:
    with KerberosClient("ex.test", "dc1.ex.test", "scanner", "kerberos-aes", 5) as client:
        client.login(PASSWORD)
        assert client.ticket("cifs/a.ex.test") == "Server not found in Kerberos database"
        private = Path(json.loads(fake_mit.read_text())["conf"]).parent
        assert sorted(p.name for p in private.iterdir()) == ["krb5.conf", "tgt.ccache"]


def test_a_kinit_that_does_not_answer_in_time_is_an_unknown_outcome(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    slow = tmp_path / "kinit"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    with KerberosClient("ex.test", "dc1.ex.test", "scanner", "kerberos-aes", 0.5) as client, \
            pytest.raises(KerberosError) as err:
        client.login(PASSWORD)
    assert (err.value.cls, err.value.unknown) == ("timeout", True)
    assert "may have counted" in err.value.message


def test_kinit_traces_to_its_stderr_only(fake_mit: Path) -> None:
    """The trace goes to the pipe read here (never a file: it holds the encrypted timestamp)."""
    traced = fake_mit.parent / "bin" / "kinit"
    traced.write_text(FAKE_KINIT.replace('secret = sys.stdin', 'assert os.environ["KRB5_TRACE"] == "/dev/stderr"\n'
                                                               'print("[1] 2.3: Sending TCP request to stream x", '
                                                               'file=sys.stderr)\nsecret = sys.stdin'))
    with KerberosClient("ex.test", "dc1.ex.test", "scanner", "kerberos-aes", 5) as client:
        assert "expire in 3 days" in client.login(PASSWORD)
        with pytest.raises(KerberosError) as err:
            client.login("wrong-" + PASSWORD)
    assert err.value.cls == "logon_failure" and "Sending TCP" not in err.value.message


def test_no_kinit_on_the_controller(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with KerberosClient("ex.test", "dc1.ex.test", "scanner", "kerberos-aes", 5) as client, \
            pytest.raises(KerberosError) as err:
        client.login(PASSWORD)
    assert "not installed" in err.value.message


def test_a_program_that_does_not_finish_in_time_is_killed() -> None:
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        _kerberos._run_bounded(["sleep", "30"], env={"PATH": "/usr/bin:/bin"}, timeout=0.5)
    assert time.monotonic() - start < 5


def test_a_program_gets_its_stdin_and_environment() -> None:
    done = _kerberos._run_bounded(["sh", "-c", 'read line; echo "$line-$WHO"; echo err >&2; exit 3'],
                                  env={"PATH": "/usr/bin:/bin", "WHO": "kdc"}, timeout=10, stdin="ticket\n")
    assert (done.returncode, done.stdout, done.stderr) == (3, "ticket-kdc\n", "err\n")
